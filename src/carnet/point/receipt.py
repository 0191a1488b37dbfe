"""The beneficiary's printed receipt: what was handed over, where and when, and the code to check it later."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import segno
from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from carnet.kit.i18n import t
from carnet.point.agent import Receipt


def receipt_lines(receipt: Receipt, *, point_name: str, language: str | None = None) -> list[str]:
    """The receipt's lines in the reader's language (the same on paper and on screen)."""
    when = datetime.fromtimestamp(receipt.device_time, UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        t("Point: {point}", language, point=point_name),
        t("Card: {card}", language, card=receipt.card_number),
        t("Programme: {programme}, cycle {cycle}", language, programme=receipt.programme, cycle=receipt.cycle),
        t("Handed over: {quantity}", language, quantity=receipt.quantity),
        t("Date: {when}", language, when=when),
    ]
    if receipt.remaining is not None:
        lines.append(t("Left this cycle: {remaining}", language, remaining=receipt.remaining))
    if "exception" in receipt.flags:
        lines.append(t("Served as an exception: it will be checked centrally.", language))
    return lines


def receipt_pdf(receipt: Receipt, *, point_name: str, language: str | None = None) -> bytes:
    """One A6 page: the lines, the receipt code in large type and as a QR code."""
    out = BytesIO()
    canvas = Canvas(out, pagesize=A6, invariant=1, pageCompression=1)
    canvas.setTitle(t("Carnet receipt", language))
    width, height = A6
    y = height - 14 * mm
    canvas.setFont("Helvetica-Bold", 13)
    canvas.drawString(10 * mm, y, t("Carnet receipt", language))
    canvas.setFont("Helvetica", 9)
    for line in receipt_lines(receipt, point_name=point_name, language=language):
        y -= 6 * mm
        canvas.drawString(10 * mm, y, line)
    y -= 12 * mm
    canvas.setFont("Helvetica-Bold", 22)
    canvas.drawString(10 * mm, y, receipt.code)
    y -= 6 * mm
    canvas.setFont("Helvetica", 8)
    canvas.drawString(10 * mm, y, t("Check this code in the portal: it shows this delivery.", language))
    png = BytesIO()
    segno.make(receipt.code, error="m").save(png, kind="png", scale=4, border=2)
    png.seek(0)
    canvas.drawImage(ImageReader(png), width - 32 * mm, 8 * mm, 24 * mm, 24 * mm)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
