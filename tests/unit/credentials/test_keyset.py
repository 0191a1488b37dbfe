"""Issuer key sets: COSE_KeySet and JWKS round trips, and a verifier built from a published set alone."""

from __future__ import annotations

import json

import cbor2
import pytest

from carnet.credentials.cose import CoseError, VerifierKey, kid_text
from carnet.credentials.keyset import cose_key_set, jwks, parse_cose_key_set, parse_jwks

from .support import ISSUER, KID, LISTS, NOW, OTHER_ISSUER, card
from .test_verify import verdict

PUBLISHED = [VerifierKey.from_public(ISSUER.public_raw), VerifierKey.from_public(OTHER_ISSUER.public_raw)]


def test_cose_key_set_layout_and_round_trip():
    data = cose_key_set(PUBLISHED)
    first = cbor2.loads(data)[0]
    assert first == {1: 1, 2: KID, 3: -8, -1: 6, -2: ISSUER.public_raw}
    assert list(first) == [1, 2, 3, -1, -2]
    assert parse_cose_key_set(data) == {key.kid: key for key in PUBLISHED}


def test_jwks_layout_and_round_trip():
    document = json.loads(json.dumps(jwks(PUBLISHED)))
    first = document["keys"][0]
    assert first == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": first["x"],
        "kid": ISSUER.kid,
        "alg": "EdDSA",
        "use": "sig",
    }
    assert len(first["x"]) == 43 and "=" not in first["x"]
    assert parse_jwks(document) == {key.kid: key for key in PUBLISHED}


def test_a_verifier_needs_only_the_published_set():
    for keys in (parse_cose_key_set(cose_key_set(PUBLISHED)), parse_jwks(jwks(PUBLISHED))):
        assert verdict(card(), keys=keys, lists=LISTS, now=NOW).code == "valid"
        # The list is signed by ISSUER: it vouches for OTHER_ISSUER's cards only where the issuer says so.
        signers = {kid: frozenset(keys) for kid in keys}
        assert verdict(card(OTHER_ISSUER), keys=keys, lists=LISTS, now=NOW, signers=signers).code == "valid"
        assert verdict(card(OTHER_ISSUER), keys=keys, lists=LISTS, now=NOW).code == "status_list_stale"


def test_other_key_types_are_skipped():
    p256 = {1: 2, 2: b"ec", 3: -7, -1: 1, -2: bytes(32), -3: bytes(32)}
    data = cbor2.dumps([p256, *cbor2.loads(cose_key_set(PUBLISHED[:1]))])
    assert list(parse_cose_key_set(data)) == [KID]
    document = {"keys": [{"kty": "EC", "crv": "P-256", "kid": "ec"}, *jwks(PUBLISHED[:1])["keys"]]}
    assert list(parse_jwks(document)) == [KID]


@pytest.mark.parametrize(
    "data",
    [
        cbor2.dumps({1: 1}),
        cbor2.dumps([1]),
        cbor2.dumps([{1: 1, 3: -8, -1: 6, -2: bytes(32)}]),
        cbor2.dumps([{1: 1, 2: KID, 3: -8, -1: 6, -2: bytes(31)}]),
        cbor2.dumps([{1: 1, 2: "text", 3: -8, -1: 6, -2: ISSUER.public_raw}]),
        cose_key_set(PUBLISHED[:1] * 2),
        b"\x9f\xff",
    ],
)
def test_broken_cose_key_sets(data):
    with pytest.raises(CoseError) as caught:
        parse_cose_key_set(data)
    assert caught.value.code == "malformed"


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"keys": "none"},
        {"keys": ["x"]},
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": kid_text(KID)}]},
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": kid_text(KID), "x": "not base64!"}]},
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": kid_text(KID), "x": "AAAA"}]},
        {"keys": [{**jwks(PUBLISHED[:1])["keys"][0], "x": jwks(PUBLISHED[:1])["keys"][0]["x"] + "="}]},
        {"keys": jwks(PUBLISHED[:1])["keys"] * 2},
    ],
)
def test_broken_jwks(document):
    with pytest.raises(CoseError):
        parse_jwks(document)
