"""A well-formedness pre-scan of untrusted CBOR, run before cbor2 sees a byte (the defence against CBOR bombs).

The scan walks item headers with an explicit stack, so hostile nesting cannot exhaust Python's recursion,
and refuses anything whose declared size cannot fit in the bytes actually present: a header claiming
2**63 bytes or 2**32 map entries is rejected after reading its few header bytes, before any allocation.
It admits only what Carnet's formats use: unsigned and negative integers, byte and text strings,
definite-length arrays and maps keyed by integers or text, and the tags the caller names. No floats,
no simple values, no indefinite lengths, nothing after the single top-level item.
"""

from __future__ import annotations

from typing import Any

import cbor2

MAX_DEPTH = 16
MAX_ITEMS = 256

_UNSIGNED, _NEGATIVE, _BYTES, _TEXT, _ARRAY, _MAP, _TAG = range(7)


class UnsafeCbor(ValueError):
    """CBOR that is malformed, or well-formed but outside what Carnet accepts."""


def scan(
    data: bytes, *, allowed_tags: frozenset[int] = frozenset(), max_depth: int = MAX_DEPTH, max_items: int = MAX_ITEMS
) -> None:
    """Check that `data` is exactly one acceptable CBOR item; UnsafeCbor says what is wrong."""
    size = len(data)
    position = 0
    items = 0
    # One entry per open container: [items still expected, whether the container is a map].
    # The sentinel entry at the bottom expects the single top-level item.
    open_containers: list[list[Any]] = [[1, False]]
    while open_containers:
        frame = open_containers[-1]
        if frame[0] == 0:
            open_containers.pop()
            continue
        is_map_key = frame[1] and frame[0] % 2 == 0
        frame[0] -= 1
        # Every error names the byte at which the offending item starts: its initial byte.
        start = position
        if start >= size:
            raise UnsafeCbor(f"the data ends at byte {start} where another item was expected")
        initial = data[start]
        position = start + 1
        major, info = initial >> 5, initial & 0x1F
        if info < 24:
            argument = info
        elif info < 28:
            width = 1 << (info - 24)
            if position + width > size:
                raise UnsafeCbor(f"the data ends inside the header of the item at byte {start}")
            argument = int.from_bytes(data[position : position + width], "big")
            position += width
        elif info == 31:
            raise UnsafeCbor(f"indefinite length at byte {start}")
        else:
            raise UnsafeCbor(f"reserved additional information {info} at byte {start}")
        items += 1
        if items > max_items:
            raise UnsafeCbor(f"more than {max_items} items: the item at byte {start} is one too many")
        if is_map_key and major not in (_UNSIGNED, _NEGATIVE, _TEXT):
            raise UnsafeCbor(f"a map key at byte {start} is neither an integer nor text")
        if major in (_UNSIGNED, _NEGATIVE):
            continue
        remaining = size - position
        if major in (_BYTES, _TEXT):
            if argument > remaining:
                raise UnsafeCbor(f"a string at byte {start} claims {argument} bytes; {remaining} remain")
            position += argument
            continue
        if major == _ARRAY:
            children, is_map = argument, False
        elif major == _MAP:
            children, is_map = 2 * argument, True
        elif major == _TAG:
            if argument not in allowed_tags:
                raise UnsafeCbor(f"tag {argument} at byte {start} is not allowed here")
            children, is_map = 1, False
        else:
            raise UnsafeCbor(f"floats and simple values are not allowed (byte {start})")
        # Every item takes at least one byte, so a count beyond the remaining bytes is a lie.
        if children > remaining:
            raise UnsafeCbor(f"a container at byte {start} claims {children} items; {remaining} bytes remain")
        if len(open_containers) > max_depth:
            raise UnsafeCbor(f"nesting deeper than {max_depth} at byte {start}")
        open_containers.append([children, is_map])
    if position != size:
        raise UnsafeCbor(f"{size - position} bytes after the end of the item, from byte {position}")


def loads(
    data: bytes, *, allowed_tags: frozenset[int] = frozenset(), max_depth: int = MAX_DEPTH, max_items: int = MAX_ITEMS
) -> Any:
    """The value of untrusted CBOR `data`, decoded by cbor2 only after `scan` accepted it."""
    scan(data, allowed_tags=allowed_tags, max_depth=max_depth, max_items=max_items)
    try:
        # cbor2's own limits stay on as a second line; the scan has already enforced stricter ones.
        return cbor2.loads(data, max_depth=max_depth + 1, allow_indefinite=False, allow_duplicate_keys=False)
    except (cbor2.CBORError, ValueError, TypeError, OverflowError) as exc:
        # Invalid UTF-8 in text and duplicate map keys are what remains for cbor2 to find.
        raise UnsafeCbor(f"undecodable CBOR: {exc}") from None
