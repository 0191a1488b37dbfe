"""Every CLI failure is a message with its own exit code, never a traceback; 1 means only "card not valid"
(issue 10, finding 12; item 5). Run in child processes, as an operator would."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from tests.e2e.test_hostile_imports import store  # noqa: F401 (the fixture: an initialised store)


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG that claims width x height pixels (1-bit grey): what an image bomb looks like on disk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))  # fmt: skip
    return path


def carnet(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "carnet.cli.main", *args], env=os.environ | env,
                          capture_output=True, text=True)  # fmt: skip


@pytest.mark.parametrize(
    ("width", "height"),
    [(100_000, 100_000), (7_000, 7_000)],  # over Pillow's own bomb limit; under it but over Carnet's
)
def test_an_image_over_the_pixel_limit_is_a_clear_error_not_an_invalid_card(store, tmp_path, width, height):  # noqa: F811
    image = png_header_only(tmp_path / "card.png", width, height)
    done = carnet(store, "cards", "verify", str(image))
    assert done.returncode == 4, done.stderr
    assert "(image_too_large)" in done.stderr and "Traceback" not in done.stderr


def test_an_image_file_over_the_byte_limit_is_refused_unread(store, tmp_path):  # noqa: F811
    image = tmp_path / "card.png"
    image.write_bytes(b"\x89PNG" + b"\0" * 4096)
    done = carnet(store | {"CARNET_CARD_IMAGE_MAX_BYTES": "1024"}, "cards", "verify", str(image))
    assert done.returncode == 4 and "(image_too_large)" in done.stderr and "Traceback" not in done.stderr


def test_a_damaged_image_is_unreadable_input(store, tmp_path):  # noqa: F811
    image = tmp_path / "card.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    done = carnet(store, "cards", "verify", str(image))
    assert done.returncode == 3 and "(not_an_image)" in done.stderr and "Traceback" not in done.stderr


def test_exit_1_still_means_an_invalid_card(store):  # noqa: F811
    done = carnet(store, "cards", "verify", "CN1:NOT-A-CARD")
    assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout


def test_a_workbook_that_is_not_a_zip_is_unreadable_input(store, tmp_path):  # noqa: F811
    path = tmp_path / "censo.xlsx"
    path.write_text("given_names,family_names\n")
    done = carnet(store, "registry", "import", str(path))
    assert done.returncode == 3 and "(unreadable_file)" in done.stderr and "Traceback" not in done.stderr


def test_a_person_reference_that_is_neither_an_id_nor_a_cedula_is_refused_by_field(store):  # noqa: F811
    done = carnet(store, "registry", "show", "J-12")
    assert done.returncode == 2 and "(invalid_national_id)" in done.stderr and "Traceback" not in done.stderr
