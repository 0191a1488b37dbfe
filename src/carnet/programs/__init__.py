"""Programmes: eligibility rules, runs, cycles and entitlements."""
