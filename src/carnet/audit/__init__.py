"""Access records: who read or wrote whose data, when and why (the Merkle log builds on them)."""
