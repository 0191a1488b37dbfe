"""`carnet audit ...`: check the audit log."""

from __future__ import annotations

import json

import typer

from carnet.audit import service
from carnet.cli.common import console, err_console, handle_errors, settings, transaction
from carnet.kit.clock import utcnow
from carnet.kit.i18n import t

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
@handle_errors
def verify(as_json: bool = typer.Option(False, "--json")) -> None:
    """Recompute every entry's leaf and the whole tree; exit 1 naming the first bad entry."""
    settings()
    with transaction() as session:
        result = service.verify_log(session)
    if as_json:
        typer.echo(json.dumps({"ok": result.ok, "size": result.size, "root": result.root.hex(),
                               "first_bad_leaf": result.first_bad_leaf, "problem": result.problem}))  # fmt: skip
    elif result.ok:
        console.print(t("Audit log verified: {n} entries, root {root}", n=f"{result.size:,}", root=result.root.hex()))
    else:
        err_console.print(t("Audit log FAILED at entry {leaf}: {problem}", leaf=result.first_bad_leaf,
                            problem=result.problem))  # fmt: skip
    if not result.ok:
        raise typer.Exit(1)


@app.command("head")
@handle_errors
def head(sign: bool = typer.Option(False, "--sign", help="sign a new tree head (needs CARNET_KEY_PASSPHRASE)")) -> None:
    """The log's current size and root; with --sign, a new signed tree head."""
    config = settings()
    with transaction() as session:
        if sign:
            signed = service.sign_head(session, passphrase=config.key_passphrase, now=utcnow())
            out = {"id": signed.id, "size": signed.size, "root": signed.root.hex(), "kid": signed.kid,
                   "signed_at": signed.signed_at.isoformat(), "signature": signed.signature.hex()}  # fmt: skip
        else:
            size, root = service.log_root(session)
            out = {"size": size, "root": root.hex()}
    typer.echo(json.dumps(out))


@app.command("proof")
@handle_errors
def proof(
    leaf: int = typer.Argument(..., help="the entry's leaf number"),
    size: int | None = typer.Option(None, help="tree size to prove against (default: the log's size)"),
) -> None:
    """The inclusion proof of an entry: the entry, its leaf hash and the audit path to the root."""
    settings()
    with transaction() as session:
        tree_size, root = service.log_root(session, size)
        path = service.inclusion_proof_for(session, leaf_index=leaf, size=tree_size)
        entry = service.entry(session, leaf)
    typer.echo(json.dumps({"leaf": leaf, "size": tree_size, "root": root.hex(), "entry": entry.body.decode(),
                           "leaf_hash": entry.leaf_hash.hex(), "path": [p.hex() for p in path]}))  # fmt: skip
