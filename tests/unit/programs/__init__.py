"""Unit tests of the programmes domain."""
