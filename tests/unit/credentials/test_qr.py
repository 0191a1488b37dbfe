"""A card survives the trip through a printed QR code: rendered by segno, read back by zxing-cpp."""

from __future__ import annotations

import io

import segno
import zxingcpp
from PIL import Image

from .support import card
from .test_verify import verdict


def test_card_qr_is_version_10_or_less_at_error_correction_q_and_reads_back_valid():
    text = card()
    qr = segno.make(text, error="q", boost_error=False)
    assert qr.error == "Q" and qr.mode == "alphanumeric"
    assert qr.version <= 10
    png = io.BytesIO()
    qr.save(png, kind="png", scale=4, border=4)
    png.seek(0)
    found = zxingcpp.read_barcodes(Image.open(png))
    assert [barcode.text for barcode in found] == [text]
    assert verdict(found[0].text).code == "valid"
