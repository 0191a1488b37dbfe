"""RFC 6962 / RFC 9162 Merkle trees (pure): hashes, roots, inclusion and consistency proofs.

Leaf hash SHA-256(0x00 || entry), node hash SHA-256(0x01 || left || right); the tree over n leaves
splits at the largest power of two below n. Proofs are built from a `range_hash(start, end)` oracle,
the root of leaves [start, end): in memory it hashes a list, in the database it combines stored
perfect-subtree hashes, so a proof costs O(log n) hashes either way. Verification follows RFC 9162
§2.1.3.2 and §2.1.4.2 and needs nothing but the proof, the sizes and the roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
RangeHash = Callable[[int, int], bytes]


def leaf_hash(entry: bytes) -> bytes:
    """The hash of one log entry as a leaf."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two strictly smaller than `size` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of a list of leaf hashes."""
    if not leaf_hashes:
        return EMPTY_ROOT
    # Fold perfect subtrees left to right, then combine the ragged right edge from the right.
    stack: list[tuple[int, bytes]] = []
    for leaf in leaf_hashes:
        height, value = 0, leaf
        while stack and stack[-1][0] == height:
            value = node_hash(stack.pop()[1], value)
            height += 1
        stack.append((height, value))
    value = stack.pop()[1]
    while stack:
        value = node_hash(stack.pop()[1], value)
    return value


def list_range_hash(leaf_hashes: Sequence[bytes]) -> RangeHash:
    """A range oracle over leaf hashes held in memory."""
    return lambda start, end: root_of(leaf_hashes[start:end])


def inclusion_proof(index: int, size: int, range_hash: RangeHash) -> list[bytes]:
    """The audit path of leaf `index` in the tree of the first `size` leaves (RFC 6962 PATH)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index - start < k:
            proof.append(range_hash(start + k, end))
            end = start + k
        else:
            proof.append(range_hash(start, start + k))
            start += k
    proof.reverse()
    return proof


def consistency_proof(first: int, second: int, range_hash: RangeHash) -> list[bytes]:
    """The proof that the tree of `first` leaves is a prefix of the tree of `second` (RFC 6962 PROOF)."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    proof: list[bytes] = []
    start, end, whole = 0, second, True
    while first != end:
        k = split_point(end - start)
        if first - start <= k:
            proof.append(range_hash(start + k, end))
            end = start + k
        else:
            proof.append(range_hash(start, start + k))
            start += k
            whole = False
    if not whole:
        proof.append(range_hash(start, end))
    proof.reverse()
    return proof


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether `proof` shows `leaf` at `index` in the tree of `size` leaves with `root` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    value = leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            value = node_hash(sibling, value)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            value = node_hash(value, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and value == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """Whether `proof` shows the tree of `first` leaves is a prefix of the tree of `second` (RFC 9162 §2.1.4.2)."""
    if first <= 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first tree is itself a node on the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


# Stored trees: the hash of every perfect subtree, keyed by (level, index): node (l, i) covers leaves
# [i * 2**l, (i + 1) * 2**l). An append adds O(1) nodes on average (O(log n) at most) and any range
# hash combines at most O(log n) of them, so roots and proofs never rehash the whole log.
NodeLookup = Callable[[int, int], bytes]


def nodes_completed_by(index: int, leaf: bytes, node: NodeLookup) -> list[tuple[int, int, bytes]]:
    """The (level, index, hash) nodes to store when leaf number `index` (0-based) is appended."""
    out = [(0, index, leaf)]
    value, level, position = leaf, 0, index
    while position & 1:  # a right child completes its parent
        value = node_hash(node(level, position - 1), value)
        level, position = level + 1, position >> 1
        out.append((level, position, value))
    return out


def stored_range_hash(node: NodeLookup) -> RangeHash:
    """A range oracle over stored perfect-subtree hashes (for the ranges proofs and roots ask for)."""

    def range_hash(start: int, end: int) -> bytes:
        if start >= end:
            return EMPTY_ROOT
        pieces = []
        while start < end:
            # The largest aligned perfect subtree that starts here and fits.
            level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
            while start + (1 << level) > end:
                level -= 1
            pieces.append(node(level, start >> level))
            start += 1 << level
        value = pieces.pop()
        while pieces:
            value = node_hash(pieces.pop(), value)
        return value

    return range_hash


def prefix_roots(leaf_hashes: Sequence[bytes], sizes: set[int]) -> dict[int, bytes]:
    """The roots of the trees of the first n leaves, for each n in `sizes`, in one pass over the leaves."""
    out = {0: EMPTY_ROOT} if 0 in sizes else {}
    stack: list[tuple[int, bytes]] = []
    for count, leaf in enumerate(leaf_hashes, start=1):
        height, value = 0, leaf
        while stack and stack[-1][0] == height:
            value = node_hash(stack.pop()[1], value)
            height += 1
        stack.append((height, value))
        if count in sizes:
            root = stack[-1][1]
            for _, left in reversed(stack[:-1]):
                root = node_hash(left, root)
            out[count] = root
    return out
