"""The audit log as files an oversight body can check with nothing else (pure verification).

A directory holds `entries.jsonl` (one canonical entry per line, in leaf order), `heads.json`,
`witnesses.json` and `keys.json`; docs/formats/audit-log.md specifies them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from carnet.audit.entries import tree_head_message
from carnet.audit.merkle import leaf_hash, prefix_roots, root_of
from carnet.kit import signing


@dataclass(frozen=True)
class ExportCheck:
    """What checking an export found."""

    size: int
    root: str
    heads_checked: int
    problem: str | None = None
    first_bad_leaf: int | None = None

    @property
    def ok(self) -> bool:
        """Whether everything checked out."""
        return self.problem is None


def check_export(folder: Path) -> ExportCheck:
    """Recompute the tree from the exported entries and check every head and countersignature against it."""
    leaves: list[bytes] = []
    with (folder / "entries.jsonl").open("rb") as handle:
        for index, line in enumerate(handle):
            body = line.rstrip(b"\n")
            try:
                named = json.loads(body).get("leaf")
            except (ValueError, AttributeError):
                named = None
            if named != index:
                return ExportCheck(index, root_of(leaves).hex(), 0, f"entry {index} names leaf {named}", index)
            leaves.append(leaf_hash(body))
    keys = {k["kid"]: bytes.fromhex(k["public_key"]) for k in json.loads((folder / "keys.json").read_text())}
    heads = json.loads((folder / "heads.json").read_text())
    witnesses = json.loads((folder / "witnesses.json").read_text())
    roots = prefix_roots(leaves, {h["size"] for h in heads if h["size"] <= len(leaves)})
    root = root_of(leaves).hex()
    for head in heads:
        message = _message(head)
        if head["kid"] not in keys or not signing.verify(keys[head["kid"]], message, bytes.fromhex(head["signature"])):
            return ExportCheck(len(leaves), root, len(heads), f"tree head {head['id']} is not validly signed")
        if head["size"] > len(leaves) or roots[head["size"]].hex() != head["root"]:
            return ExportCheck(len(leaves), root, len(heads), f"tree head {head['id']} does not match the entries")
        for countersignature in (w for w in witnesses if w["head_id"] == head["id"]):
            kid = countersignature["kid"]
            if kid not in keys or not signing.verify(keys[kid], message, bytes.fromhex(countersignature["signature"])):
                return ExportCheck(
                    len(leaves), root, len(heads), f"countersignature of head {head['id']} by {kid} fails"
                )
    return ExportCheck(len(leaves), root, len(heads))


def _message(head: dict[str, Any]) -> bytes:
    return tree_head_message(size=head["size"], root=bytes.fromhex(head["root"]),
                             signed_at=datetime.fromisoformat(head["signed_at"]), kid=head["kid"])  # fmt: skip
