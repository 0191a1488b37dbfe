"""RFC 9285 base45: bytes as text in the QR alphanumeric alphabet, two bytes per three characters."""

from __future__ import annotations

import struct
from functools import cache

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

_ALPHABET_BYTES = ALPHABET.encode("ascii")
# Maps each alphabet character to its value 0..44 so that bytes.translate does the per-character lookup in C.
_TO_VALUES = bytes(_ALPHABET_BYTES.index(b) if b in _ALPHABET_BYTES else 0 for b in range(256))


_VALUES = {character: value for value, character in enumerate(ALPHABET)}


class Base45Error(ValueError):
    """Text that is not valid base45."""


@cache
def _triplets() -> tuple[list[str], dict[str, bytes]]:
    # Every two-byte value's three characters, and back: a card is encoded or decoded with one lookup per
    # pair of bytes instead of two divisions. About 8 MB, built once (some 50 ms) on first use.
    texts = [ALPHABET[v % 45] + ALPHABET[v // 45 % 45] + ALPHABET[v // 2025] for v in range(0x10000)]
    return texts, {text: value.to_bytes(2, "big") for value, text in enumerate(texts)}


def encode(data: bytes) -> str:
    """The base45 text of `data`."""
    whole = len(data) - len(data) % 2
    texts = _triplets()[0]
    out = "".join([texts[v] for v in struct.unpack(f">{whole // 2}H", data[:whole])])
    if whole != len(data):
        middle, low = divmod(data[-1], 45)
        out += ALPHABET[low] + ALPHABET[middle]
    return out


def decode(text: str) -> bytes:
    """The bytes of base45 `text`; Base45Error for anything RFC 9285 does not allow."""
    whole = len(text) - len(text) % 3
    if len(text) % 3 != 1:
        pairs = _triplets()[1]
        try:
            out = b"".join([pairs[text[i : i + 3]] for i in range(0, whole, 3)])
            if whole == len(text):
                return out
            last = _VALUES[text[whole]] + 45 * _VALUES[text[whole + 1]]
            if last <= 0xFF:
                return out + bytes((last,))
        except KeyError:
            pass  # not a valid triplet or character somewhere: the careful path below says where and why
    return _decode_checked(text)


def _decode_checked(text: str) -> bytes:
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise Base45Error(f"character {exc.start} is not in the base45 alphabet") from None
    if raw.translate(None, _ALPHABET_BYTES):
        position = next(i for i, b in enumerate(raw) if b not in _ALPHABET_BYTES)
        raise Base45Error(f"character {position} ({text[position]!r}) is not in the base45 alphabet")
    if len(raw) % 3 == 1:
        raise Base45Error("base45 text cannot end with a single character")
    digits = raw.translate(_TO_VALUES)
    whole = len(digits) - len(digits) % 3
    # Slices and a comprehension keep the per-triplet work in C: a card verifier decodes one per scan.
    values = [
        low + middle * 45 + high * 2025
        for low, middle, high in zip(digits[0:whole:3], digits[1:whole:3], digits[2:whole:3], strict=True)
    ]
    if values and max(values) > 0xFFFF:
        i = 3 * next(n for n, value in enumerate(values) if value > 0xFFFF)
        raise Base45Error(f"characters {i}-{i + 2} encode {values[i // 3]}, more than two bytes can hold")
    out = struct.pack(f">{len(values)}H", *values)
    if whole != len(digits):
        value = digits[whole] + digits[whole + 1] * 45
        if value > 0xFF:
            raise Base45Error(f"the last two characters encode {value}, more than one byte can hold")
        out += bytes((value,))
    return out
