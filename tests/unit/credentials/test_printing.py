"""Printed cards and PIN letters: QR codes read back from the rendered page, sheet geometry, text and metadata."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime
from io import BytesIO

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import zxingcpp
from PIL import Image

from carnet.credentials.printing import (
    CARD_HEIGHT,
    CARD_WIDTH,
    COLUMN_GUTTER,
    COLUMNS,
    ROWS,
    PrintableCard,
    card_sheet_pdf,
    pin_mailers_pdf,
    qr_png,
)
from carnet.credentials.service import card_number

from .support import card

DPI = 300
A4_POINTS = (595.28, 841.89)
MM_PER_POINT = 25.4 / 72
HOLDERS = [
    ("María José", "Núñez Ibáñez"),
    ("Juan", "Peña"),
    ("Ana Lucía", "Güemes Acuña"),
    ("Ỹsyry", "Łopez"),  # letters outside the built-in fonts' character set
    ("José", ""),
]
LONG_GIVEN = "María de los Ángeles Guadalupe Concepción Inmaculada del Perpetuo Socorro " * 4
LONG_FAMILY = "Fernández de Córdoba y Mendoza de la Cerda Álvarez de Toledo " * 3


def printable(index: int, *, given: str | None = None, family: str | None = None) -> PrintableCard:
    card_id = bytes([index + 1]) * 16
    default_given, default_family = HOLDERS[index % len(HOLDERS)]
    return PrintableCard(
        number=card_number(uuid.UUID(bytes=card_id)),
        credential=card(card_id=card_id, status_index=index),
        given_names=default_given if given is None else given,
        family_names=default_family if family is None else family,
        region="Cordillera" if index % 2 else "Alto Paraná",
        valid_from=date(2026, 1, 1),
        valid_until=date(2030, 12, 31),
    )


@pytest.fixture(scope="module")
def cards() -> list[PrintableCard]:
    # One holder with a very long name on the first page, so the layout checks meet the worst case.
    return [
        printable(index, given=LONG_GIVEN, family=LONG_FAMILY) if index == 7 else printable(index)
        for index in range(12)
    ]


@pytest.fixture(scope="module")
def sheet(cards: list[PrintableCard]) -> pdfium.PdfDocument:
    return pdfium.PdfDocument(card_sheet_pdf(cards))


@pytest.fixture(scope="module")
def first_page_barcodes(sheet: pdfium.PdfDocument) -> list[zxingcpp.Barcode]:
    image = sheet[0].render(scale=DPI / 72).to_pil()
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


def page_text(document: pdfium.PdfDocument, index: int) -> str:
    return document[index].get_textpage().get_text_range()


def flat(text: str) -> str:
    """The text with every run of whitespace, line breaks included, as one space."""
    return " ".join(text.split())


def card_boxes() -> list[tuple[float, float, float, float]]:
    """(left, bottom, right, top) of the ten card slots of a page, in points."""
    left = (A4_POINTS[0] - COLUMNS * CARD_WIDTH - (COLUMNS - 1) * COLUMN_GUTTER) / 2
    bottom = (A4_POINTS[1] - ROWS * CARD_HEIGHT) / 2
    return [
        (x, y, x + CARD_WIDTH, y + CARD_HEIGHT)
        for row in range(ROWS)
        for column in range(COLUMNS)
        for x, y in [(left + column * (CARD_WIDTH + COLUMN_GUTTER), bottom + row * CARD_HEIGHT)]
    ]


def overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def inside(inner: tuple[float, ...], outer: tuple[float, ...], slack: float = 0.01) -> bool:
    return (
        inner[0] >= outer[0] - slack
        and inner[1] >= outer[1] - slack
        and inner[2] <= outer[2] + slack
        and inner[3] <= outer[3] + slack
    )


def row(not_before: datetime, expires_at: datetime) -> dict[str, object]:
    """A row as `service.cards_to_print()` returns it, with the given validity."""
    card_id = uuid.UUID(bytes=bytes(range(16)))
    return {"card_id": card_id, "number": card_number(card_id), "credential": card(), "given_names": "María José",
            "family_names": "Núñez Ibáñez", "region": "Cordillera", "not_before": not_before,
            "expires_at": expires_at}  # fmt: skip


class TestQrPng:
    def test_reads_back_as_the_exact_credential(self):
        text = card()
        found = zxingcpp.read_barcodes(Image.open(BytesIO(qr_png(text))))
        assert [barcode.text for barcode in found] == [text]

    def test_keeps_error_correction_q(self):
        found = zxingcpp.read_barcodes(Image.open(BytesIO(qr_png(card(), scale=4, border=4))))
        assert found[0].ec_level == "Q"

    def test_scale_and_border_size_the_image(self):
        # A version 10 code is 57 modules wide; the border is counted on both sides.
        assert Image.open(BytesIO(qr_png(card(), scale=2, border=1))).size == (2 * 59, 2 * 59)


class TestPrintableCardFromRow:
    def test_takes_a_row_of_cards_to_print(self):
        printed = PrintableCard.from_row(
            row(datetime(2026, 3, 15, 10, 23, tzinfo=UTC), datetime(2031, 3, 14, 10, 23, tzinfo=UTC))
        )
        assert printed == PrintableCard(
            number="0001 0203 0405 0607 0809 0A0B 0C0D 0E0F",
            credential=card(),
            given_names="María José",
            family_names="Núñez Ibáñez",
            region="Cordillera",
            valid_from=date(2026, 3, 15),
            valid_until=date(2031, 3, 14),
        )
        assert printed.holder == "Núñez Ibáñez, María José"

    def test_an_expiry_at_midnight_shows_the_day_before_as_the_last_valid_day(self):
        printed = PrintableCard.from_row(row(datetime(2026, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)))
        assert (printed.valid_from, printed.valid_until) == (date(2026, 1, 1), date(2030, 12, 31))

    def test_naive_times_are_utc(self):
        printed = PrintableCard.from_row(row(datetime(2026, 1, 1, 23, 30), datetime(2031, 1, 1, 12)))
        assert (printed.valid_from, printed.valid_until) == (date(2026, 1, 1), date(2031, 1, 1))


class TestCardSheetPdf:
    def test_twelve_cards_make_two_a4_pages(self, sheet: pdfium.PdfDocument):
        assert len(sheet) == 2
        for page in sheet:
            width, height = page.get_size()
            assert width == pytest.approx(A4_POINTS[0], abs=0.5)
            assert height == pytest.approx(A4_POINTS[1], abs=0.5)

    @pytest.mark.parametrize(("count", "pages"), [(1, 1), (10, 1), (11, 2), (21, 3)])
    def test_ten_cards_to_a_page(self, cards: list[PrintableCard], count: int, pages: int):
        chosen = (cards * 2)[:count]
        assert len(pdfium.PdfDocument(card_sheet_pdf(chosen))) == pages

    def test_every_qr_code_on_a_page_reads_back_as_its_card(
        self, cards: list[PrintableCard], first_page_barcodes: list[zxingcpp.Barcode]
    ):
        assert sorted(barcode.text for barcode in first_page_barcodes) == sorted(c.credential for c in cards[:10])
        assert {barcode.ec_level for barcode in first_page_barcodes} == {"Q"}

    def test_qr_codes_print_at_least_25_mm_wide(self, first_page_barcodes: list[zxingcpp.Barcode]):
        assert len(first_page_barcodes) == 10
        for barcode in first_page_barcodes:
            corners = barcode.position
            top = math.dist((corners.top_left.x, corners.top_left.y), (corners.top_right.x, corners.top_right.y))
            left = math.dist((corners.top_left.x, corners.top_left.y), (corners.bottom_left.x, corners.bottom_left.y))
            assert min(top, left) / DPI * 25.4 >= 25

    def test_text_holds_names_numbers_labels_and_dates(self, sheet: pdfium.PdfDocument, cards: list[PrintableCard]):
        text = flat(page_text(sheet, 0))
        assert "Núñez Ibáñez, María José" in text
        assert "Güemes Acuña, Ana Lucía" in text
        assert cards[0].number in text
        for label in ("Nombre / Name", "N.º de tarjeta / Card no.", "Región / Region", "Válida / Valid"):
            assert text.count(label) == 10
        assert text.count("2026-01-01 – 2030-12-31") == 10
        assert "Alto Paraná" in text

    def test_second_page_holds_the_last_two_cards(self, sheet: pdfium.PdfDocument, cards: list[PrintableCard]):
        text = flat(page_text(sheet, 1))
        assert text.count("Nombre / Name") == 2
        assert cards[10].number in text and cards[11].number in text

    def test_letters_outside_the_font_lose_their_accent_not_their_place(self, sheet: pdfium.PdfDocument):
        assert "Lopez, Ysyry" in flat(page_text(sheet, 0))

    def test_a_holder_without_family_names_shows_the_given_names(self, sheet: pdfium.PdfDocument):
        assert "Nombre / Name José N.º" in flat(page_text(sheet, 0))

    def test_a_very_long_name_shrinks_and_wraps_inside_its_card(self):
        document = pdfium.PdfDocument(card_sheet_pdf([printable(0, given=LONG_GIVEN, family=LONG_FAMILY)]))
        text = flat(page_text(document, 0))
        assert "Fernández de Córdoba" in text
        assert "Válida / Valid 2026-01-01 – 2030-12-31" in text
        self.assert_text_stays_inside_the_cards(document[0])

    def test_text_keeps_clear_of_the_qr_codes_and_their_quiet_zones(self, sheet: pdfium.PdfDocument):
        # The codes are found as drawn, not as decoded, so that one made unreadable by text still counts.
        paths = [obj.get_bounds() for obj in sheet[0].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH])]
        side = 25 / MM_PER_POINT
        codes = [
            (left, bottom, right, top) for left, bottom, right, top in paths if min(right - left, top - bottom) > side
        ]
        assert len(codes) == 10
        textpage = sheet[0].get_textpage()
        for left, bottom, right, top in codes:
            quiet = 4 * (right - left) / 57
            zone = (left - quiet, bottom - quiet, right + quiet, top + quiet)
            for index in range(textpage.count_chars()):
                if textpage.get_text_range(index, 1).strip():
                    assert not overlaps(textpage.get_charbox(index), zone), textpage.get_text_range(index, 1)

    def test_text_stays_inside_the_cards(self, sheet: pdfium.PdfDocument):
        self.assert_text_stays_inside_the_cards(sheet[0])

    def test_crop_marks_mark_every_cut_and_touch_no_card(self, sheet: pdfium.PdfDocument):
        boxes = card_boxes()
        paths = [obj.get_bounds() for obj in sheet[0].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH])]
        marks = [bounds for bounds in paths if not any(inside(bounds, box) for box in boxes)]
        for mark in marks:
            assert not any(overlaps(mark, box) for box in boxes)
            assert all(0 < value < limit for value, limit in zip(mark, A4_POINTS * 2, strict=True))
        for left, bottom, right, top in boxes:
            for x in (left, right):
                assert any(abs((m[0] + m[2]) / 2 - x) < 0.5 for m in marks), f"no mark at x={x}"
            for y in (bottom, top):
                assert any(abs((m[1] + m[3]) / 2 - y) < 0.5 for m in marks), f"no mark at y={y}"

    def test_metadata_has_the_title_and_nothing_about_the_holders(self, sheet: pdfium.PdfDocument):
        metadata = sheet.get_metadata_dict()
        assert metadata["Title"] == "Carnet"
        values = " ".join(metadata.values())
        for given, family in HOLDERS:
            assert (given not in values) and (not family or family not in values)
        assert "2026" not in values  # no print date: the PDF is the same whenever it is made

    def test_the_title_names_the_programme(self, cards: list[PrintableCard]):
        document = pdfium.PdfDocument(card_sheet_pdf(cards[:1], title="Programa Alimentario"))
        assert document.get_metadata_dict()["Title"] == "Programa Alimentario"
        assert page_text(document, 0).startswith("Programa Alimentario")

    def test_the_same_cards_give_the_same_bytes(self, cards: list[PrintableCard]):
        assert card_sheet_pdf(cards[:3]) == card_sheet_pdf(cards[:3])

    def test_no_cards_is_a_value_error(self):
        with pytest.raises(ValueError, match="no cards to print"):
            card_sheet_pdf([])

    @staticmethod
    def assert_text_stays_inside_the_cards(page: pdfium.PdfPage) -> None:
        textpage = page.get_textpage()
        boxes = card_boxes()
        for index in range(textpage.count_chars()):
            if textpage.get_text_range(index, 1).strip():
                box = textpage.get_charbox(index)
                assert any(inside(box, card_box, slack=0.5) for card_box in boxes), textpage.get_text_range(index, 1)


LETTERS = (
    ("0101 0101 0101 0101 0101 0101 0101 0101", "482913", "Núñez Ibáñez, María José"),
    ("0202 0202 0202 0202 0202 0202 0202 0202", "015372", None),
    ("0303 0303 0303 0303 0303 0303 0303 0303", "730561", "Peña, Juan"),
)


class TestPinMailersPdf:
    def test_one_page_per_letter(self):
        document = pdfium.PdfDocument(pin_mailers_pdf(LETTERS))
        assert len(document) == 3
        assert all(page.get_size() == pytest.approx(A4_POINTS, abs=0.5) for page in document)

    def test_a_letter_holds_its_number_pin_and_both_instructions(self):
        document = pdfium.PdfDocument(pin_mailers_pdf(LETTERS))
        for index, (number, pin, name) in enumerate(LETTERS):
            text = flat(page_text(document, index))
            assert number in text
            assert pin in text
            assert "Memorice su PIN y destruya esta carta. Nadie de Carnet le pedirá su PIN." in text
            assert "Memorise your PIN and destroy this letter. No one from Carnet will ask you for your PIN." in text
            assert (name in text) if name else ("Titular" not in text)

    def test_pins_stay_out_of_the_metadata(self):
        metadata = pdfium.PdfDocument(pin_mailers_pdf(LETTERS)).get_metadata_dict()
        assert not any(pin in value for _, pin, _ in LETTERS for value in metadata.values())

    def test_no_letters_is_a_value_error(self):
        with pytest.raises(ValueError, match="no PIN letters"):
            pin_mailers_pdf([])

    def test_a_pin_that_is_not_six_digits_is_refused(self):
        number, pin, name = LETTERS[0]
        with pytest.raises(ValueError, match="not 6 digits"):
            pin_mailers_pdf([(pin, number, name)])
