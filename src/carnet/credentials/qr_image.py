"""A card's QR text from what a scanner gives: the text itself, or an image file of the card (bounded)."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from carnet.kit.errors import AppError


def read_card_text(source: str, *, max_bytes: int, max_pixels: int) -> str:
    """The QR text of a card: the argument itself, or the QR code found in an image file (bounded in size)."""
    path = Path(source)
    if len(source) < 4096 and path.suffix.lower() in (".png", ".jpg", ".jpeg", ".gif", ".bmp") and path.exists():
        import zxingcpp
        from PIL import Image, UnidentifiedImageError

        size = path.stat().st_size
        if size > max_bytes:
            raise AppError(
                f"{path}: {size:,} bytes, more than the {max_bytes:,} a card image may have", code="image_too_large",
                status=413,
            )  # fmt: skip
        try:
            with Image.open(BytesIO(path.read_bytes())) as image:
                # Opening reads only the header; the pixels are decoded below, after the size is known to be sane.
                width, height = image.size
                if width * height > max_pixels:
                    raise AppError(
                        f"{path}: {width:,}×{height:,} pixels, more than the {max_pixels:,} a card image may have",
                        code="image_too_large", status=413,
                    )  # fmt: skip
                found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        except Image.DecompressionBombError as exc:
            raise AppError(f"{path}: {exc}", code="image_too_large", status=413) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise AppError(f"{path}: not an image ({exc})", code="not_an_image") from None
        if not found:
            return ""  # no QR code: the verifier calls it malformed, like any unreadable card
        return found[0].text
    return source
