"""Printing cards and PIN letters: QR images, A4 sheets of ten ID-1 cards with crop marks, one PIN letter a page.

Everything printed is passed in: nothing here reads the database or the clock. The PDFs are made with
reportlab's invariant mode, so the same cards always give the same bytes and no print date is recorded.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from typing import Any

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

# ISO/IEC 7810 ID-1, the size of a bank card, so cards fit ordinary holders, sleeves and die-cutters.
CARD_WIDTH = 85.60 * mm
CARD_HEIGHT = 53.98 * mm
COLUMNS, ROWS = 2, 5
CARDS_PER_PAGE = COLUMNS * ROWS
# Rows touch, so one guillotine cut separates two rows; a gutter between the columns leaves room for
# crop marks there, and A4 has no height to spare for gutters between five rows.
COLUMN_GUTTER = 8 * mm
PADDING = 3 * mm
# A version 10 code is 57 modules: at 30 mm a module is 0.53 mm, which cheap phone cameras and webcams
# at distribution points read from a worn, bent card; the card leaves no room for much more.
QR_SIDE = 30 * mm
QR_QUIET_MODULES = 4
MARK_OFFSET = 2 * mm
MARK_LENGTH = 4 * mm
GUTTER_MARK_LENGTH = 2.5 * mm
MARK_GAP_IN_GUTTER = 1 * mm

LABEL_FONT, TEXT_FONT, BOLD_FONT, NUMBER_FONT = "Helvetica", "Helvetica", "Helvetica-Bold", "Courier-Bold"
LABEL_GREY = 0.35

LABEL_NAME = "Nombre / Name"
LABEL_NUMBER = "N.º de tarjeta / Card no."
LABEL_REGION = "Región / Region"
LABEL_VALID = "Válida / Valid"
PIN_INSTRUCTIONS = (
    "Memorice su PIN y destruya esta carta. Nadie de Carnet le pedirá su PIN.",
    "Memorise your PIN and destroy this letter. No one from Carnet will ask you for your PIN.",
)


def qr_png(credential: str, *, scale: int = 8, border: int = 4) -> bytes:
    """The credential as a PNG QR code at error correction Q."""
    out = BytesIO()
    _qr(credential).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()


def _qr(credential: str) -> segno.QRCode:
    # boost_error=False keeps level Q even where a higher level would fit, so every card reads the same.
    return segno.make(credential, error="q", micro=False, boost_error=False)


@dataclass(frozen=True)
class PrintableCard:
    """What one printed card shows: its number, its credential as QR, the holder's name and region, and validity."""

    number: str
    credential: str
    given_names: str
    family_names: str
    region: str
    valid_from: date
    valid_until: date

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PrintableCard:
        """A card from a row of `service.cards_to_print()`."""
        return cls(
            number=row["number"],
            credential=row["credential"],
            given_names=row["given_names"],
            family_names=row["family_names"],
            region=row["region"],
            valid_from=_utc(row["not_before"]).date(),
            # The expiry is the first instant the card is no longer valid: the card shows the last day it is.
            valid_until=(_utc(row["expires_at"]) - timedelta(microseconds=1)).date(),
        )

    @property
    def holder(self) -> str:
        """The holder's name as printed: family names first."""
        parts = [" ".join(self.family_names.split()), " ".join(self.given_names.split())]
        return ", ".join(part for part in parts if part)


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time Carnet stores is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def card_sheet_pdf(cards: Sequence[PrintableCard], *, title: str = "Carnet") -> bytes:
    """An A4 PDF of the cards, ten to a page in two columns of five, with crop marks around each card."""
    cards = list(cards)
    if not cards:
        raise ValueError("no cards to print")
    page_width, page_height = A4
    left = (page_width - COLUMNS * CARD_WIDTH - (COLUMNS - 1) * COLUMN_GUTTER) / 2
    bottom = (page_height - ROWS * CARD_HEIGHT) / 2
    out = BytesIO()
    canvas = _canvas(out, title=title, subject="Tarjetas / Cards")
    for start in range(0, len(cards), CARDS_PER_PAGE):
        page = cards[start : start + CARDS_PER_PAGE]
        places = []
        for slot, card in enumerate(page):
            row, column = divmod(slot, COLUMNS)
            x = left + column * (CARD_WIDTH + COLUMN_GUTTER)
            y = bottom + (ROWS - 1 - row) * CARD_HEIGHT
            places.append((x, y, row, column))
            _draw_card(canvas, card, x, y, title=title)
        _draw_crop_marks(canvas, places, count=len(page))
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def pin_mailers_pdf(letters: Sequence[tuple[str, str, str | None]]) -> bytes:
    """An A4 PDF with one PIN letter a page, in Spanish and English, for (card number, PIN, holder name or None)."""
    letters = list(letters)
    if not letters:
        raise ValueError("no PIN letters to print")
    for number, pin, _ in letters:
        # A swapped tuple would print a card number as the PIN: refuse it before anything is printed.
        if not (len(pin) == 6 and pin.isascii() and pin.isdigit()):
            raise ValueError(f"the PIN for card {number} is not 6 digits")
    page_width, page_height = A4
    margin = 25 * mm
    width = page_width - 2 * margin
    out = BytesIO()
    canvas = _canvas(out, title="Carnet — PIN", subject="Cartas de PIN / PIN letters")
    for number, pin, name in letters:
        y = page_height - margin - 20
        canvas.setFont(BOLD_FONT, 20)
        canvas.drawString(margin, y, "Carnet")
        y -= 20
        canvas.setFont(TEXT_FONT, 12)
        canvas.drawString(margin, y, "Carta de PIN / PIN letter")
        y -= 36
        if name:
            y = _draw_letter_field(canvas, "Titular / Holder", _printable(name), TEXT_FONT, 13, margin, y, width)
        y = _draw_letter_field(canvas, LABEL_NUMBER, _printable(number), NUMBER_FONT, 14, margin, y, width)
        _draw_label(canvas, "Su PIN / Your PIN", margin, y, size=10)
        y -= 48
        text = canvas.beginText(margin, y)
        text.setFont(NUMBER_FONT, 40)
        text.setCharSpace(8)
        text.textOut(pin)
        # Character spacing is graphics state and would outlive the text object: keep it to the PIN.
        canvas.saveState()
        canvas.drawText(text)
        canvas.restoreState()
        y -= 40
        for size, font, sentence in ((12, BOLD_FONT, PIN_INSTRUCTIONS[0]), (12, TEXT_FONT, PIN_INSTRUCTIONS[1])):
            canvas.setFont(font, size)
            for line in simpleSplit(sentence, font, size, width):
                canvas.drawString(margin, y, line)
                y -= size * 1.3
            y -= size * 0.6
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def _canvas(out: BytesIO, *, title: str, subject: str) -> Canvas:
    # Invariant: no creation date and an id derived from the content. The metadata names the document only;
    # the people on it stay out of it, since metadata is copied by indexers and print queues.
    canvas = Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
    canvas.setTitle(title)
    canvas.setSubject(subject)
    canvas.setAuthor("Carnet")
    canvas.setCreator("Carnet")
    return canvas


def _draw_card(canvas: Canvas, card: PrintableCard, x: float, y: float, *, title: str) -> None:
    canvas.saveState()
    canvas.translate(x, y)
    inner = CARD_WIDTH - 2 * PADDING
    size, lines = _fit(_printable(title), BOLD_FONT, inner, size=10, smallest=6, lines=1)
    canvas.setFont(BOLD_FONT, size)
    canvas.drawString(PADDING, CARD_HEIGHT - PADDING - 8, lines[0])
    rule = CARD_HEIGHT - PADDING - 12
    canvas.setStrokeGray(LABEL_GREY)
    canvas.setLineWidth(0.5)
    canvas.line(PADDING, rule, CARD_WIDTH - PADDING, rule)

    qr = _qr(card.credential)
    qr_x = CARD_WIDTH - PADDING - QR_SIDE
    qr_y = PADDING + (rule - 2 * PADDING - QR_SIDE) / 2
    _draw_qr(canvas, qr, qr_x, qr_y, QR_SIDE)

    # The text keeps clear of the QR code's quiet zone, without which scanners miss the code.
    text_width = qr_x - QR_QUIET_MODULES * QR_SIDE / _modules(qr) - 2 - PADDING
    top = rule - 9
    smallest = 5
    name_size, name = _fit(_printable(card.holder), BOLD_FONT, text_width, size=9, smallest=smallest, lines=3)
    top = _draw_card_field(canvas, LABEL_NAME, name, BOLD_FONT, name_size, top)
    number_size, number = _number_lines(_printable(card.number), text_width, smallest=smallest)
    top = _draw_card_field(canvas, LABEL_NUMBER, number, NUMBER_FONT, number_size, top)
    region_size, region = _fit(_printable(card.region), TEXT_FONT, text_width, size=9, smallest=smallest, lines=1)
    top = _draw_card_field(canvas, LABEL_REGION, region, TEXT_FONT, region_size, top)
    validity = f"{card.valid_from.isoformat()} – {card.valid_until.isoformat()}"
    valid_size, valid = _fit(validity, TEXT_FONT, text_width, size=9, smallest=smallest, lines=1)
    _draw_card_field(canvas, LABEL_VALID, valid, TEXT_FONT, valid_size, top)
    canvas.restoreState()


def _number_lines(number: str, width: float, *, smallest: float) -> tuple[float, list[str]]:
    # Two balanced lines of four groups read better than one line in type too small to read, and better
    # than five groups over three.
    groups = number.split()
    half = (len(groups) + 1) // 2
    lines = [" ".join(groups[:half]), " ".join(groups[half:])] if len(groups) > 1 else groups
    size = 8.5
    while size >= smallest:
        if max((stringWidth(line, NUMBER_FONT, size) for line in lines), default=0) <= width:
            return size, lines
        size -= 0.5
    return _fit(number, NUMBER_FONT, width, size=smallest, smallest=smallest, lines=2)


def _draw_card_field(canvas: Canvas, label: str, lines: list[str], font: str, size: float, top: float) -> float:
    """Draw a label on baseline `top` and its lines below it; the baseline of the next field's label."""
    _draw_label(canvas, label, PADDING, top, size=6)
    canvas.setFont(font, size)
    baseline = top - size - 1
    for index, line in enumerate(lines):
        if index:
            baseline -= size * 1.15
        canvas.drawString(PADDING, baseline, line)
    return baseline - 11


def _draw_letter_field(
    canvas: Canvas, label: str, value: str, font: str, size: float, x: float, y: float, width: float
) -> float:
    _draw_label(canvas, label, x, y, size=10)
    size, lines = _fit(value, font, width, size=size, smallest=8, lines=3)
    canvas.setFont(font, size)
    for line in lines:
        y -= size * 1.4
        canvas.drawString(x, y, line)
    return y - 28


def _draw_label(canvas: Canvas, label: str, x: float, y: float, *, size: float) -> None:
    canvas.saveState()
    canvas.setFillGray(LABEL_GREY)
    canvas.setFont(LABEL_FONT, size)
    canvas.drawString(x, y, label)
    canvas.restoreState()


def _modules(qr: segno.QRCode) -> int:
    return qr.symbol_size(scale=1, border=0)[0]


def _draw_qr(canvas: Canvas, qr: segno.QRCode, x: float, y: float, side: float) -> None:
    # One path of one rectangle per run of dark modules, in module units: a single fill leaves no hairline
    # seams between modules, which separate rectangles show in anti-aliased viewers, and whole-number
    # operators written directly are five times faster than reportlab's path object and make a smaller PDF.
    modules = _modules(qr)
    ops = []
    for row, cells in enumerate(qr.matrix_iter(scale=1, border=0)):
        bottom = modules - 1 - row
        run = None
        for column, dark in enumerate((*cells, 0)):
            if dark and run is None:
                run = column
            elif not dark and run is not None:
                ops.append(f"{run} {bottom} {column - run} 1 re")
                run = None
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(side / modules, side / modules)
    canvas.setFillGray(0)
    canvas.addLiteral("\n".join(ops) + "\nf")
    canvas.restoreState()


def _draw_crop_marks(canvas: Canvas, places: list[tuple[float, float, int, int]], *, count: int) -> None:
    # Marks extend each card edge outwards and stop short of every card: into the page margin, or half way
    # into the gutter between the columns. Between touching rows the cut is shared, so the marks of that
    # cut stand in the side margins and the gutter.
    segments: set[tuple[float, float, float, float]] = set()
    for x, y, row, column in places:
        above = row > 0
        below = (row + 1) * COLUMNS + column < count
        for edge_x in (x, x + CARD_WIDTH):
            if not above:
                segments.add(
                    (edge_x, y + CARD_HEIGHT + MARK_OFFSET, edge_x, y + CARD_HEIGHT + MARK_OFFSET + MARK_LENGTH)
                )
            if not below:
                segments.add((edge_x, y - MARK_OFFSET, edge_x, y - MARK_OFFSET - MARK_LENGTH))
        for edge_y in (y, y + CARD_HEIGHT):
            if column == 0:
                segments.add((x - MARK_OFFSET, edge_y, x - MARK_OFFSET - MARK_LENGTH, edge_y))
            else:
                segments.add((x - MARK_GAP_IN_GUTTER, edge_y, x - MARK_GAP_IN_GUTTER - GUTTER_MARK_LENGTH, edge_y))
            right = x + CARD_WIDTH
            if column == COLUMNS - 1:
                segments.add((right + MARK_OFFSET, edge_y, right + MARK_OFFSET + MARK_LENGTH, edge_y))
            else:
                segments.add(
                    (right + MARK_GAP_IN_GUTTER, edge_y, right + MARK_GAP_IN_GUTTER + GUTTER_MARK_LENGTH, edge_y)
                )
    canvas.saveState()
    canvas.setStrokeGray(0)
    canvas.setLineWidth(0.25)
    for segment in sorted(segments):
        canvas.line(*segment)
    canvas.restoreState()


def _fit(text: str, font: str, width: float, *, size: float, smallest: float, lines: int) -> tuple[float, list[str]]:
    """The largest size from `size` down to `smallest` at which `text` wraps onto `lines` lines of `width`.

    Past the smallest size the text is broken anywhere and cut with an ellipsis: a card never overflows.
    """
    text = " ".join(text.split())
    while size >= smallest:
        wrapped = simpleSplit(text, font, size, width) or [""]
        if len(wrapped) <= lines and all(stringWidth(line, font, size) <= width for line in wrapped):
            return size, wrapped
        size -= 0.5
    return smallest, _cut(text, font, smallest, width, lines)


def _cut(text: str, font: str, size: float, width: float, lines: int) -> list[str]:
    out: list[str] = []
    line = ""
    for char in text:
        if stringWidth(line + char, font, size) <= width:
            line += char
            continue
        out.append(line.rstrip())
        line = char.lstrip()
        if len(out) == lines:
            last = out[-1]
            while last and stringWidth(last + "…", font, size) > width:
                last = last[:-1]
            out[-1] = last.rstrip() + "…"
            return out
    return [*out, line]


def _printable(text: str) -> str:
    """`text` in the characters the built-in PDF fonts hold (Windows-1252), without control characters.

    Latin letters outside that set lose their accent (ĩ → i) rather than print as a black box; the
    Spanish alphabet, accents and ñ included, is all inside it.
    """
    out = []
    for char in unicodedata.normalize("NFC", text):
        if unicodedata.category(char).startswith("C"):
            out.append(" ")
        elif _encodable(char):
            out.append(char)
        else:
            base = "".join(
                c
                for c in unicodedata.normalize("NFKD", char.translate(_UNDECOMPOSABLE))
                if _encodable(c) and not unicodedata.combining(c)
            )
            # A mark left alone after NFC (the tilde of Guaraní g̃) goes with its letter's box.
            out.append(base or ("" if unicodedata.combining(char) else "?"))
    return "".join(out)


# Latin letters with a stroke have no Unicode decomposition to take their base letter from.
_UNDECOMPOSABLE = str.maketrans("ŁłĐđĦħŦŧı", "LlDdHhTti")


def _encodable(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True
