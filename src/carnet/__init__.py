"""Carnet: social protection through one card, without becoming an instrument of control."""

__version__ = "0.1.0"
