"""docs/formats/card.md: its worked example is exactly what the code produces."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from carnet.credentials.cose import VerifierKey, cose_kid, dumps_deterministic, sig_structure, sign1
from carnet.credentials.credential import issue_credential
from carnet.credentials.cwt import CardClaims, encode_claims
from carnet.credentials.keyset import cose_key_set, jwks
from carnet.credentials.statuslist import decode_status_list, expand_status_list, is_set
from carnet.credentials.verify import verify_credential
from carnet.kit.signing import SigningKey

DOC = Path(__file__).resolve().parents[3] / "docs/formats/card.md"
BLOCK = re.compile(r"<!-- example:(\w+) -->\n```\w*\n(.*?)\n```", re.DOTALL)

KEY = SigningKey(
    Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    )
)
KID = cose_kid(KEY.public_raw)
CLAIMS = CardClaims(
    issuer="carnet",
    card_id=bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
    not_before=1_767_225_600,
    expires=1_924_992_000,
    status_list_id="s1",
    status_index=123_456,
)


@pytest.fixture(scope="module")
def example() -> dict[str, str]:
    return dict(BLOCK.findall(DOC.read_text(encoding="utf-8")))


def hex_block(example: dict[str, str], name: str) -> bytes:
    return bytes.fromhex("".join(example[name].split()))


def test_every_layer_of_the_card(example):
    claims = encode_claims(CLAIMS)
    protected = dumps_deterministic({1: -8, 4: KID})
    to_sign = sig_structure(protected, claims)
    assert hex_block(example, "private_key") == KEY.private.private_bytes_raw()
    assert hex_block(example, "public_key") == KEY.public_raw
    assert hex_block(example, "kid") == KID
    assert hex_block(example, "claims") == claims
    assert hex_block(example, "protected") == protected
    assert hex_block(example, "sig_structure") == to_sign
    assert hex_block(example, "signature") == KEY.sign(to_sign)
    assert hex_block(example, "cose_sign1") == sign1(claims, kid=KID, sign=KEY.sign)
    assert example["credential"] == issue_credential(CLAIMS, kid=KID, sign=KEY.sign)


def test_key_sets(example):
    key = VerifierKey.from_public(KEY.public_raw)
    assert hex_block(example, "cose_key_set") == cose_key_set([key])
    assert json.loads(example["jwks"]) == jwks([key])


def test_status_list_and_verdicts(example):
    keys = {KID: VerifierKey.from_public(KEY.public_raw)}
    # Compressed bytes may differ between zlib builds, so the example's list is checked by what it holds.
    bits = expand_status_list(hex_block(example, "status_list_lst"))
    assert len(bits) * 8 == 1 << 17
    assert [i for i in range(1 << 17) if is_set(bits, i)] == [3, 9, 123_457]
    listed = decode_status_list(hex_block(example, "status_list_token"), keys)
    assert (listed.list_id, listed.issued_at, listed.ttl, listed.bits) == ("s1", 1_767_225_600, 604_800, bits)
    lists = {"s1": listed}
    text = example["credential"]
    assert verify_credential(text, keys=keys, status_lists=lists, now=1_767_312_000).code == "valid"
    assert verify_credential(text, keys=keys, status_lists=lists, now=1_767_830_400).code == "status_list_stale"
