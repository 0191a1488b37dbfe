"""A card's credential as QR text: "CN1:" + base45(COSE_Sign1(CWT claims)).

No zlib layer, unlike the EU Digital COVID Certificate: of a card's 140 or so bytes, 89 are a signature,
a random card id and a key id, which do not compress, and zlib's own six bytes of header and checksum
made the measured card 151 bytes instead of 140. Without it the decoder also has no decompression to bound.
"""

from __future__ import annotations

from collections.abc import Callable

from carnet.credentials import base45
from carnet.credentials.cose import CoseError, sign1
from carnet.credentials.cwt import CardClaims, encode_claims

PREFIX = "CN1:"
# A version 10 QR code holds at most 395 alphanumeric characters; anything past 1 KB is not a card,
# and refusing it before decoding bounds the work a hostile string can cause.
MAX_TEXT_SIZE = 1024


def issue_credential(claims: CardClaims, *, kid: bytes, sign: Callable[[bytes], bytes]) -> str:
    """The QR text of a card: the claims signed as COSE_Sign1, base45-encoded behind the prefix."""
    return PREFIX + base45.encode(sign1(encode_claims(claims), kid=kid, sign=sign))


def credential_bytes(text: str) -> bytes:
    """The COSE_Sign1 bytes inside a card's QR text; CoseError `malformed` for a wrong size, prefix or base45."""
    if len(text) > MAX_TEXT_SIZE:
        raise CoseError(f"{len(text)} characters is more than a card holds ({MAX_TEXT_SIZE} at most)")
    if not text.startswith(PREFIX):
        raise CoseError(f"not a Carnet card: the text does not start with {PREFIX}")
    try:
        return base45.decode(text[len(PREFIX) :])
    except base45.Base45Error as exc:
        raise CoseError(f"not base45: {exc}") from None
