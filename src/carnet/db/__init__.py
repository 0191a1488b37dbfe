"""Database plumbing: declarative base, column types, engines and the unit of work."""
