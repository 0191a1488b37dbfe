"""The CBOR pre-scan at its exact edges: each header width, each limit, and the byte each error names.

Every error names the byte at which the offending item starts. The items in these tests sit after an
item with a two-byte header (0x18 0xFF, the number 255), so that an offset counted from anywhere but the
item's initial byte shows.
"""

from __future__ import annotations

import cbor2
import pytest

from carnet.credentials.cbor_guard import UnsafeCbor, loads, scan

PAD = b"\x18\xff"  # the number 255, bytes 1 and 2 of an array that starts at byte 0; the next item is at byte 3
DEPTH = 16  # the default nesting limit
ITEMS = 256  # the default item limit


def refused(data: bytes, **limits: object) -> str:
    """The message with which scan refuses `data`."""
    with pytest.raises(UnsafeCbor) as caught:
        scan(data, **limits)  # type: ignore[arg-type]
    return str(caught.value)


def after_pad(item: bytes, *, count: int = 2) -> bytes:
    """An array of `count` items: the padding number, then `item` at byte 3 (and whatever follows it)."""
    return bytes([0x80 + count]) + PAD + item


class TestHeaderWidths:
    @pytest.mark.parametrize(
        "value",
        [0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1, -1, -24, -25, -256, -257, -(2**64)],
    )
    def test_integers_of_every_header_width_pass(self, value):
        assert loads(cbor2.dumps(value)) == value
        assert loads(cbor2.dumps([value, b"x"])) == [value, b"x"]

    @pytest.mark.parametrize(("initial", "width"), [(0x18, 1), (0x19, 2), (0x1A, 4), (0x1B, 8)])
    def test_a_header_that_fills_the_data_exactly_passes_and_one_byte_short_does_not(self, initial, width):
        scan(bytes([initial]) + b"\x01" * width)
        scan(after_pad(bytes([initial]) + b"\x01" * width))
        short = b"\x01" * (width - 1)
        assert refused(bytes([initial]) + short) == "the data ends inside the header of the item at byte 0"
        assert refused(after_pad(bytes([initial]) + short)) == "the data ends inside the header of the item at byte 3"

    @pytest.mark.parametrize("length", [0, 1, 23, 24, 255, 256, 65536])
    def test_strings_of_every_header_width_pass(self, length):
        assert loads(cbor2.dumps([b"b" * length, "t" * length])) == [b"b" * length, "t" * length]

    @pytest.mark.parametrize("count", [23, 24, 255, 256])
    def test_arrays_and_maps_of_every_header_width_pass(self, count):
        assert loads(cbor2.dumps([b""] * count), max_items=2 * count + 1) == [b""] * count
        entries = {i: b"" for i in range(count)}
        assert loads(cbor2.dumps(entries), max_items=2 * count + 1) == entries

    @pytest.mark.parametrize("info", [28, 29, 30])
    def test_reserved_additional_information(self, info):
        assert refused(after_pad(bytes([info]))) == f"reserved additional information {info} at byte 3"
        assert refused(after_pad(bytes([0x40 + info]))) == f"reserved additional information {info} at byte 3"

    @pytest.mark.parametrize("initial", [0x5F, 0x7F, 0x9F, 0xBF, 0xFF])
    def test_indefinite_lengths_and_the_break(self, initial):
        assert refused(after_pad(bytes([initial, 0xFF]))) == "indefinite length at byte 3"


class TestStrings:
    def test_a_string_may_fill_the_rest_of_the_data(self):
        assert loads(after_pad(b"\x58\x03abc")) == [255, b"abc"]
        assert loads(after_pad(b"\x63abc")) == [255, "abc"]

    def test_a_string_one_byte_longer_than_the_data_is_refused(self):
        assert refused(after_pad(b"\x58\x04abc")) == "a string at byte 3 claims 4 bytes; 3 remain"
        assert refused(after_pad(b"\x64abc")) == "a string at byte 3 claims 4 bytes; 3 remain"

    def test_a_lying_length_is_refused_from_its_header(self):
        assert refused(after_pad(b"\x5b" + b"\xff" * 8)) == f"a string at byte 3 claims {2**64 - 1} bytes; 0 remain"


class TestContainers:
    def test_a_container_may_claim_as_many_items_as_bytes_remain(self):
        assert loads(after_pad(b"\x98\x03\x00\x00\x00")) == [255, [0, 0, 0]]
        assert loads(after_pad(b"\xb8\x02\x00\x00\x01\x00")) == [255, {0: 0, 1: 0}]

    def test_a_container_claiming_one_item_more_is_refused(self):
        assert refused(after_pad(b"\x98\x04\x00\x00\x00")) == "a container at byte 3 claims 4 items; 3 bytes remain"
        assert refused(after_pad(b"\xb8\x02\x00\x00\x01")) == "a container at byte 3 claims 4 items; 3 bytes remain"

    def test_the_data_ending_where_an_item_is_expected(self):
        # The array claims two items and two bytes remain, but the first item is a string that takes both.
        assert refused(b"\x82\x41\x00") == "the data ends at byte 3 where another item was expected"
        assert refused(b"") == "the data ends at byte 0 where another item was expected"

    def test_byte_strings_and_containers_may_stand_anywhere_in_an_array(self):
        value = [b"", b"a", [b"x", b""], {1: b""}, b"z", [b""]]
        for start in range(len(value)):
            assert loads(cbor2.dumps(value[start:])) == value[start:]

    def test_map_values_may_be_anything_and_arrays_in_maps_are_not_maps(self):
        value = {1: b"", "a": [b"", b"", b""], -1: {2: [b""]}, 3: [[b"", b""]]}
        assert loads(cbor2.dumps(value)) == value

    @pytest.mark.parametrize("position", [0, 1, 2])
    def test_every_key_of_a_map_is_checked(self, position):
        keys: list[object] = [1, "two", -3]
        keys[position] = b"k"
        data = b"\xa3" + b"".join(cbor2.dumps(key) + b"\x00" for key in keys)
        offset = 1 + sum(len(cbor2.dumps(key)) + 1 for key in keys[:position])
        assert refused(data) == f"a map key at byte {offset} is neither an integer nor text"

    def test_a_key_after_a_padded_entry_names_its_own_byte(self):
        assert refused(b"\xa2" + PAD + b"\x00\x80\x00") == "a map key at byte 4 is neither an integer nor text"

    def test_a_tag_may_hold_a_byte_string_or_a_container(self):
        tags = frozenset({18, 61})
        assert loads(b"\xd2\x41\x00", allowed_tags=tags) == cbor2.CBORTag(18, b"\x00")
        assert loads(b"\xd8\x3d\x82\x41\x00\x00", allowed_tags=tags) == cbor2.CBORTag(61, (b"\x00", 0))

    def test_a_tag_not_allowed_is_named_with_its_byte(self):
        assert refused(after_pad(b"\xd8\x18\x00")) == "tag 24 at byte 3 is not allowed here"
        assert refused(after_pad(b"\xd2\x00"), allowed_tags=frozenset({61})) == "tag 18 at byte 3 is not allowed here"

    @pytest.mark.parametrize("item", [b"\xf4", b"\xf6", b"\xf8\x20", b"\xf9\x3c\x00", b"\xfa\x00\x00\x00\x00"])
    def test_floats_and_simple_values_are_named_with_their_byte(self, item):
        assert refused(after_pad(item)) == "floats and simple values are not allowed (byte 3)"

    def test_a_single_top_level_byte_string(self):
        assert loads(b"\x41\x00") == b"\x00"


class TestLimits:
    def test_the_default_nesting_limit_is_16(self):
        assert loads(b"\x81" * DEPTH + b"\x00") == _nested(DEPTH)
        assert refused(b"\x81" * (DEPTH + 1) + b"\x00") == f"nesting deeper than {DEPTH} at byte {DEPTH}"

    def test_a_chosen_nesting_limit_is_exact(self):
        assert loads(b"\x98\x01\x81\x00", max_depth=2) == [[0]]
        assert refused(b"\x98\x01\x98\x01\x00", max_depth=1) == "nesting deeper than 1 at byte 2"
        assert refused(b"\xa1\x00\xd2\x80", max_depth=1, allowed_tags=frozenset({18})) == (
            "nesting deeper than 1 at byte 2"
        )

    def test_the_default_item_limit_is_256(self):
        assert loads(b"\x98\xff" + b"\x00" * (ITEMS - 1)) == [0] * (ITEMS - 1)
        message = refused(b"\x99\x01\x00" + b"\x00" * ITEMS)
        assert message == f"more than {ITEMS} items: the item at byte {ITEMS + 2} is one too many"

    def test_a_chosen_item_limit_is_exact(self):
        assert loads(after_pad(b"\x00"), max_items=3) == [255, 0]
        assert refused(after_pad(b"\x00\x00", count=3), max_items=3) == (
            "more than 3 items: the item at byte 4 is one too many"
        )

    def test_the_item_limit_counts_map_keys_and_tags(self):
        # A map, its key, a tag and the number inside it: four items.
        assert loads(b"\xa1\x00\xd2\x00", max_items=4, allowed_tags=frozenset({18})) == {0: cbor2.CBORTag(18, 0)}
        assert refused(b"\xa1\x00\xd2\x00", max_items=3, allowed_tags=frozenset({18})) == (
            "more than 3 items: the item at byte 3 is one too many"
        )


class TestTheEnd:
    def test_bytes_after_the_item_are_counted_from_where_they_start(self):
        assert refused(PAD + b"\x00\x00") == "2 bytes after the end of the item, from byte 2"
        assert refused(b"\x81" + PAD + b"\x00") == "1 bytes after the end of the item, from byte 3"

    def test_what_only_cbor2_can_find_is_refused_as_undecodable(self):
        with pytest.raises(UnsafeCbor, match=r"^undecodable CBOR: "):
            loads(b"\x62\xff\xfe")
        with pytest.raises(UnsafeCbor, match=r"^undecodable CBOR: "):
            loads(b"\xa2\x01\x00\x01\x00")


def _nested(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value
