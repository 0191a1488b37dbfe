"""Text helpers shared by the pure registry modules: folding for matching, dates as people write them."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from functools import lru_cache

SPACES = re.compile(r"\s+")
DMY_PATTERN = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$", re.ASCII)


@lru_cache(maxsize=1 << 16)
def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced text for matching and search keys."""
    # Cached: names repeat (a few thousand given names and surnames cover most of a population).
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return SPACES.sub(" ", stripped.casefold()).strip()


def parse_date(raw: str) -> date:
    """A date from YYYY-MM-DD or DD/MM/YYYY (the Venezuelan order), or ValueError."""
    text = raw.strip()
    match = DMY_PATTERN.match(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
        return date(year, month, day)
    if "T" in text or " " in text:
        return datetime.fromisoformat(text).date()
    return date.fromisoformat(text)
