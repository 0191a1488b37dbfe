"""Building blocks with no domain knowledge: errors, ids, clock, canonical encoding."""
