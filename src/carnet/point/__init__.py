"""The offline point agent: its own store, offline verification and redemption, and the sync client."""
