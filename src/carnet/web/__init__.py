"""The HTTP boundary: app factory, per-request unit of work, error rendering, API routes."""
