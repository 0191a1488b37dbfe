"""The wallet ledger: double-entry accounts and immutable transfers with TigerBeetle's semantics.

`rules.py` holds the pure posting rules (which balance a transfer moves, which flag or field refuses it);
the tables, queries and use cases that store what the rules decide live beside it. This domain is a sink:
every other domain may call it, it calls none of them.
"""
