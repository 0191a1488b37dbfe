"""Users, roles, permissions, purposes, API tokens and web sessions."""
