"""RFC 6962 Merkle trees: the reference vectors, and properties over random trees."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carnet.audit.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    list_range_hash,
    node_hash,
    nodes_completed_by,
    root_of,
    stored_range_hash,
    verify_consistency,
    verify_inclusion,
)

# The reference inputs and tree heads of RFC 6962's reference implementation (certificate-transparency).
ENTRIES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                      "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
LEAVES = [leaf_hash(e) for e in ENTRIES]
ROOTS = {
    0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
# (leaf index, tree size, audit path)
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
# (first size, second size, consistency proof)
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip


def root(size: int) -> bytes:
    return bytes.fromhex(ROOTS[size])


class TestReferenceVectors:
    @pytest.mark.parametrize("size", range(9))
    def test_roots(self, size):
        assert root_of(LEAVES[:size]).hex() == ROOTS[size]

    def test_empty_tree(self):
        assert root(0) == EMPTY_ROOT

    @pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
    def test_inclusion_proofs(self, index, size, path):
        proof = inclusion_proof(index, size, list_range_hash(LEAVES))
        assert [p.hex() for p in proof] == path
        assert verify_inclusion(index, size, LEAVES[index], proof, root(size))
        assert not verify_inclusion(index, size, LEAVES[index], proof, root(size - 1))

    @pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
    def test_consistency_proofs(self, first, second, path):
        proof = consistency_proof(first, second, list_range_hash(LEAVES))
        assert [p.hex() for p in proof] == path
        assert verify_consistency(first, second, root(first), root(second), proof)

    def test_bad_requests_are_refused(self):
        with pytest.raises(ValueError):
            inclusion_proof(8, 8, list_range_hash(LEAVES))
        with pytest.raises(ValueError):
            consistency_proof(5, 3, list_range_hash(LEAVES))
        assert not verify_inclusion(8, 8, LEAVES[0], [], root(8))
        assert not verify_consistency(0, 8, root(0), root(8), [])
        assert not verify_consistency(3, 8, root(3), root(8), [])


ENTRY_LISTS = st.lists(st.binary(max_size=12), min_size=1, max_size=70)


@settings(max_examples=120, deadline=None)
@given(entries=ENTRY_LISTS, data=st.data())
def test_every_inclusion_proof_verifies_and_a_changed_leaf_does_not(entries, data):
    leaves = [leaf_hash(e) for e in entries]
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    head = root_of(leaves[:size])
    proof = inclusion_proof(index, size, list_range_hash(leaves))
    assert verify_inclusion(index, size, leaves[index], proof, head)
    assert len(proof) <= (size - 1).bit_length()
    assert not verify_inclusion(index, size, leaf_hash(entries[index] + b"!"), proof, head)
    if size > 1:
        other = (index + 1) % size
        assert not verify_inclusion(other, size, leaves[index], proof, head) or leaves[other] == leaves[index]


@settings(max_examples=120, deadline=None)
@given(entries=ENTRY_LISTS, data=st.data())
def test_every_consistency_proof_verifies_and_a_rewritten_history_does_not(entries, data):
    leaves = [leaf_hash(e) for e in entries]
    second = data.draw(st.integers(1, len(leaves)))
    first = data.draw(st.integers(1, second))
    proof = consistency_proof(first, second, list_range_hash(leaves))
    old, new = root_of(leaves[:first]), root_of(leaves[:second])
    assert verify_consistency(first, second, old, new, proof)
    # Rewriting any entry of the first tree changes its head; the proof then fails.
    victim = data.draw(st.integers(0, first - 1))
    rewritten = [*leaves[:victim], leaf_hash(entries[victim] + b"x"), *leaves[victim + 1 :]]
    forged_old = root_of(rewritten[:first])
    assert not verify_consistency(first, second, forged_old, new, proof)


def test_node_hash_is_ordered():
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) != node_hash(b, a)


class TestStoredNodes:
    """Trees kept as perfect-subtree nodes give the same roots and proofs as hashing the leaves."""

    @staticmethod
    def build(leaves):
        nodes: dict[tuple[int, int], bytes] = {}
        for index, leaf in enumerate(leaves):
            for level, position, value in nodes_completed_by(index, leaf, lambda lv, ps: nodes[(lv, ps)]):
                nodes[(level, position)] = value
        return nodes

    def test_reference_roots_from_stored_nodes(self):
        nodes = self.build(LEAVES)
        oracle = stored_range_hash(lambda level, position: nodes[(level, position)])
        for size in range(9):
            assert oracle(0, size).hex() == ROOTS[size]

    def test_each_append_stores_at_most_log_n_nodes(self):
        nodes: dict[tuple[int, int], bytes] = {}
        for index in range(1, 1025):
            added = nodes_completed_by(index - 1, leaf_hash(b"%d" % index), lambda lv, ps: nodes[(lv, ps)])
            nodes.update({(lv, ps): v for lv, ps, v in added})
            assert len(added) <= index.bit_length()
        assert len(nodes) == 2 * 1024 - 1

    @settings(max_examples=80, deadline=None)
    @given(entries=ENTRY_LISTS, data=st.data())
    def test_proofs_from_stored_nodes_equal_proofs_from_leaves(self, entries, data):
        leaves = [leaf_hash(e) for e in entries]
        nodes = self.build(leaves)
        stored = stored_range_hash(lambda level, position: nodes[(level, position)])
        memory = list_range_hash(leaves)
        second = data.draw(st.integers(1, len(leaves)))
        first = data.draw(st.integers(1, second))
        index = data.draw(st.integers(0, second - 1))
        assert stored(0, second) == root_of(leaves[:second])
        assert inclusion_proof(index, second, stored) == inclusion_proof(index, second, memory)
        assert consistency_proof(first, second, stored) == consistency_proof(first, second, memory)


@settings(max_examples=60, deadline=None)
@given(entries=ENTRY_LISTS, data=st.data())
def test_prefix_roots_equal_roots_of_prefixes(entries, data):
    from carnet.audit.merkle import prefix_roots

    leaves = [leaf_hash(e) for e in entries]
    sizes = set(data.draw(st.lists(st.integers(0, len(leaves)), max_size=6)))
    assert prefix_roots(leaves, sizes) == {n: root_of(leaves[:n]) for n in sizes}


class TestVerificationBoundaries:
    """Indexes and sizes outside the tree, and proofs of the wrong length, are refused, never looped on."""

    def test_an_index_outside_the_tree_is_refused(self):
        leaf = LEAVES[0]
        assert verify_inclusion(0, 1, leaf, [], leaf)  # a one-leaf tree's root is its leaf
        assert not verify_inclusion(1, 1, leaf, [], leaf)
        assert not verify_inclusion(-1, 1, leaf, [], leaf)
        assert not verify_inclusion(0, 0, leaf, [], leaf)
        assert not verify_inclusion(0, -1, leaf, [], leaf)
        proof = inclusion_proof(7, 8, list_range_hash(LEAVES))
        assert verify_inclusion(7, 8, LEAVES[7], proof, root(8))
        assert not verify_inclusion(8, 8, LEAVES[7], proof, root(8))
        assert not verify_inclusion(-1, 8, LEAVES[7], proof, root(8))
        assert not verify_inclusion(7 - 8, 8, LEAVES[7], proof, root(8))

    @pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
    def test_a_proof_one_hash_too_long_or_too_short_is_refused(self, index, size, path):
        proof = [bytes.fromhex(h) for h in path]
        assert verify_inclusion(index, size, LEAVES[index], proof, root(size))
        assert not verify_inclusion(index, size, LEAVES[index], proof[:-1], root(size))
        assert not verify_inclusion(index, size, LEAVES[index], [*proof, proof[-1]], root(size))
        assert not verify_inclusion(index, size, LEAVES[index], [*proof, EMPTY_ROOT], root(size))
        assert not verify_inclusion(index, size, LEAVES[index], [], root(size))

    @pytest.mark.parametrize("second", [0, 1, 2, 3, 8])
    def test_consistency_from_the_empty_tree_is_refused_whatever_the_proof(self, second):
        for proof in ([], [root(second)], [EMPTY_ROOT, root(second)]):
            assert not verify_consistency(0, second, root(0), root(second), proof)
        assert not verify_consistency(-1, second, root(0), root(second), [])

    def test_consistency_to_a_smaller_tree_is_refused(self):
        proof = consistency_proof(3, 8, list_range_hash(LEAVES))
        assert not verify_consistency(8, 3, root(8), root(3), proof)
        assert not verify_consistency(4, 3, root(4), root(3), [])
        assert not verify_consistency(2, 1, root(2), root(1), [root(1)])

    @pytest.mark.parametrize("size", [1, 2, 5, 8])
    def test_consistency_of_a_tree_with_itself(self, size):
        assert verify_consistency(size, size, root(size), root(size), [])
        assert not verify_consistency(size, size, root(size), root(size), [root(size)])
        assert not verify_consistency(size, size, root(size), root(size - 1), [])

    @pytest.mark.parametrize(("first", "second", "path"), [c for c in CONSISTENCY if c[0] != c[1]])
    def test_a_consistency_proof_of_the_wrong_length_is_refused(self, first, second, path):
        proof = [bytes.fromhex(h) for h in path]
        old, new = root(first), root(second)
        assert verify_consistency(first, second, old, new, proof)
        assert not verify_consistency(first, second, old, new, [])
        assert not verify_consistency(first, second, old, new, proof[:-1])
        assert not verify_consistency(first, second, old, new, [*proof, proof[-1]])
        assert not verify_consistency(first, second, new, old, proof)

    @pytest.mark.parametrize(("first", "second"), [(a, b) for b in range(1, 9) for a in range(1, b + 1)])
    def test_every_reference_pair_verifies_and_the_swapped_roots_do_not(self, first, second):
        proof = consistency_proof(first, second, list_range_hash(LEAVES))
        assert verify_consistency(first, second, root(first), root(second), proof)
        if first != second:
            assert not verify_consistency(first, second, root(second), root(first), proof)
            assert not verify_consistency(first, second, root(first), root(first), proof)

    @pytest.mark.parametrize(("index", "size"), [(i, n) for n in range(1, 9) for i in range(n)])
    def test_every_reference_leaf_verifies_only_at_its_place(self, index, size):
        proof = inclusion_proof(index, size, list_range_hash(LEAVES))
        assert verify_inclusion(index, size, LEAVES[index], proof, root(size))
        for other in range(-1, size + 1):
            if other != index:
                assert not verify_inclusion(other, size, LEAVES[index], proof, root(size))
        assert not verify_inclusion(index, size * 4, LEAVES[index], proof, root(size))  # two levels deeper

    @settings(max_examples=60, deadline=None)
    @given(
        second=st.integers(-3, 40),
        proof=st.lists(st.sampled_from(LEAVES), max_size=8),
    )
    def test_any_proof_from_an_empty_or_negative_tree_is_false_and_returns(self, second, proof):
        assert verify_consistency(0, second, EMPTY_ROOT, EMPTY_ROOT, proof) is False
        assert verify_inclusion(second, second, LEAVES[0], proof, LEAVES[0]) is False


class TestProofRequests:
    """Proofs are built only for leaves and sizes that exist; the refusal names them."""

    @pytest.mark.parametrize(("index", "size"), [(-1, 8), (8, 8), (0, 0), (-1, 0)])
    def test_an_inclusion_proof_outside_the_tree_is_refused(self, index, size):
        with pytest.raises(ValueError, match=f"leaf {index} is not in a tree of size {size}"):
            inclusion_proof(index, size, list_range_hash(LEAVES))

    @pytest.mark.parametrize(("first", "second"), [(0, 8), (0, 1), (-1, 8), (5, 3), (2, 1)])
    def test_a_consistency_proof_from_nothing_or_to_a_smaller_tree_is_refused(self, first, second):
        with pytest.raises(ValueError, match=f"no consistency proof from size {first} to size {second}"):
            consistency_proof(first, second, list_range_hash(LEAVES))


def test_every_consistency_proof_between_trees_of_up_to_40_leaves():
    # Exhaustive where the random trees above are sparse: the right-border paths of trees of 9 to 40 leaves
    # (9 -> 10, 13 -> 14, 25 -> 27, ...) are where the first tree's last node is promoted several levels.
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(40)]
    nodes = list_range_hash(leaves)
    heads = {n: root_of(leaves[:n]) for n in range(1, 41)}
    for second in range(1, 41):
        for first in range(1, second + 1):
            proof = consistency_proof(first, second, nodes)
            old, new = heads[first], heads[second]
            assert verify_consistency(first, second, old, new, proof), (first, second)
            if proof:
                assert not verify_consistency(first, second, old, new, proof[:-1]), (first, second)
                assert not verify_consistency(first, second, old, new, proof[1:]), (first, second)
                assert not verify_consistency(first, second, old, new, [*proof, proof[-1]]), (first, second)
                assert not verify_consistency(first, second, new, new, proof) or old == new, (first, second)
