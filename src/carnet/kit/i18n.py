"""User-facing text in Spanish and English: messages are looked up by their English text."""

from __future__ import annotations

import json
from contextvars import ContextVar
from functools import lru_cache
from importlib import resources

SUPPORTED = ("en", "es")
_current: ContextVar[str] = ContextVar("carnet_language", default="en")


@lru_cache(maxsize=8)
def _catalogue(language: str, kind: str = "") -> dict[str, str]:
    if language == "en":
        return {}
    text = resources.files("carnet").joinpath(f"locale/{language}{kind}.json").read_text(encoding="utf-8")
    return json.loads(text)


def set_language(language: str) -> None:
    """Choose the language of this context (a request, a CLI run)."""
    _current.set(language if language in SUPPORTED else "en")


def current_language() -> str:
    """The language of this context."""
    return _current.get()


def negotiate(accept_language: str | None) -> str:
    """The supported language a client prefers, from an Accept-Language header."""
    if not accept_language:
        return "en"
    ranked = []
    for part in accept_language.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        if weight > 0:  # q=0 means "not acceptable" (RFC 9110 §12.4.2)
            ranked.append((weight, tag.split("-")[0].lower()))
    for _, tag in sorted(ranked, reverse=True):
        if tag in SUPPORTED:
            return tag
    return "en"


def t(message: str, /, language: str | None = None, **params: object) -> str:
    """`message` in the current language, with {placeholders} filled from `params`."""
    text = _catalogue(language or _current.get()).get(message, message)
    return text.format(**params) if params else text


def describe(code: str, message: str, /, language: str | None = None) -> str:
    """What an error code means, in the current language; English keeps the detailed message."""
    return _catalogue(language or _current.get(), ".codes").get(code, message)
