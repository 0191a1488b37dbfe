"""Which path decodes what: valid text by the fast lookups alone; only faulty text reaches the careful path.

A card verifier decodes one QR code per scan, so the fast path is what every valid card costs. The careful
path exists to say where and why text is wrong; valid text that fell through to it would still decode, only
slower, so these tests replace it with one that fails.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carnet.credentials import base45

EDGES = [
    "",
    "00",  # a lone 0
    "T5",  # 254
    "U5",  # 255: the largest lone byte
    "000",
    "U50",
    "V50",
    "FGW",  # 65535: the largest pair
    "000U5",
    "FGWU5",
    "FGW00",
    "%69 VD92EX0",
    "UJCLQE7W581",
]


def _careful_path_refused(text: str) -> bytes:
    raise AssertionError(f"valid text {text!r} took the careful path")


@pytest.mark.parametrize("text", EDGES)
def test_valid_text_never_takes_the_careful_path(monkeypatch, text):
    expected = base45.decode(text)
    monkeypatch.setattr(base45, "_decode_checked", _careful_path_refused)
    assert base45.decode(text) == expected
    assert base45.encode(expected) == text


@given(st.binary(max_size=120))
def test_every_encoding_decodes_on_the_fast_path(data):
    text = base45.encode(data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(base45, "_decode_checked", _careful_path_refused)
        assert base45.decode(text) == data


@pytest.mark.parametrize("text", ["0", "V5", "GGW", "000a", "00é", "FGWGGW", "0000"])
def test_faulty_text_is_refused_by_the_careful_path(monkeypatch, text):
    seen = []

    def careful(faulty: str) -> bytes:
        seen.append(faulty)
        raise base45.Base45Error("refused")

    monkeypatch.setattr(base45, "_decode_checked", careful)
    with pytest.raises(base45.Base45Error, match="refused"):
        base45.decode(text)
    assert seen == [text]
