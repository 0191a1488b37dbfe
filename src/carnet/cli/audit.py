"""`carnet audit ...`: check the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from carnet.audit import service
from carnet.audit.export import check_export
from carnet.cli.common import console, err_console, handle_errors, operator, settings, transaction
from carnet.flows import data_subject
from carnet.flows.history_check import check_history
from carnet.kit import signing
from carnet.kit.clock import utcnow
from carnet.kit.errors import AppError
from carnet.kit.i18n import t

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
@handle_errors
def verify(
    as_json: bool = typer.Option(False, "--json"),
    export: Path | None = typer.Option(None, file_okay=False, exists=True, help="check an export instead of the store"),
) -> None:
    """Recompute every entry's leaf, the whole tree and every signed head; exit 1 naming the first problem."""
    settings()
    if export is not None:
        checked = check_export(export)
        typer.echo(json.dumps({"ok": checked.ok, "size": checked.size, "root": checked.root,
                               "heads_checked": checked.heads_checked, "problem": checked.problem}))  # fmt: skip
        if not checked.ok:
            raise typer.Exit(1)
        return
    with transaction() as session:
        result = service.verify_log(session)
        # The rows people and auditors read as history must agree with the log they were sealed in.
        history = check_history(session) if result.ok else None
    mismatch = history.mismatch if history else None
    ok = result.ok and mismatch is None
    if as_json:
        typer.echo(json.dumps({"ok": ok, "size": result.size, "root": result.root.hex(),
                               "first_bad_leaf": result.first_bad_leaf,
                               "problem": result.problem or (mismatch.problem if mismatch else None),
                               "heads_checked": result.heads_checked,
                               "history": None if history is None else {
                                   "checked": history.checked, "unsealed": history.unsealed,
                                   "mismatch": mismatch.as_dict() if mismatch else None}}))  # fmt: skip
    elif not result.ok:
        err_console.print(t("Audit log FAILED at entry {leaf}: {problem}", leaf=result.first_bad_leaf,
                            problem=result.problem))  # fmt: skip
    elif mismatch is not None:
        err_console.print(t("History FAILED: table {table}, row {row}, field {field} differs from the signed log",
                            table=mismatch.table, row=mismatch.row, field=mismatch.field))  # fmt: skip
    else:
        console.print(t("Audit log verified: {n} entries, root {root}", n=f"{result.size:,}", root=result.root.hex()))
        console.print(t("History verified against the log: {counts}",
                        counts=", ".join(f"{table} {n:,}" for table, n in history.checked.items())))  # fmt: skip
    if not ok:
        raise typer.Exit(1)


@app.command("export")
@handle_errors
def export_log(folder: Path = typer.Argument(..., file_okay=False)) -> None:
    """Write the log for an oversight body: entries, heads, countersignatures and public keys."""
    settings()
    with transaction() as session:
        count = service.export_log(session, folder)
    typer.echo(json.dumps({"entries": count, "folder": str(folder)}))


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


witness_keys = typer.Typer(help="Keys of the oversight bodies that countersign tree heads.", no_args_is_help=True)
app.add_typer(witness_keys, name="witness-keys")


@witness_keys.command("new")
@handle_errors
def new_witness_key(
    out: Path = typer.Option(..., dir_okay=False, help="where to write the encrypted private key"),
) -> None:
    """Make a witness key pair (for the oversight body); the private key is encrypted with CARNET_WITNESS_PASSPHRASE."""
    config = settings()
    key = signing.generate()
    out.write_bytes(signing.encrypt(key, config.witness_passphrase))
    out.chmod(0o600)
    public = out.with_suffix(".pub.pem")
    public.write_bytes(signing.public_pem(key.public_raw))
    typer.echo(json.dumps({"kid": key.kid, "private_key": str(out), "public_key": str(public)}))


@witness_keys.command("add")
@handle_errors
def add_witness_key(
    public_key: Path = typer.Argument(..., exists=True, dir_okay=False),
    holder: str = typer.Option(..., help="who holds the key, e.g. the ombudsman's office"),
) -> None:
    """Register an oversight body's public key, so that its countersignatures count."""
    settings()
    with transaction() as session:
        key = service.register_witness(session, public_pem=public_key.read_bytes(), holder=holder, now=utcnow())
    typer.echo(json.dumps({"kid": key.kid, "holder": key.holder}))


@app.command("witness")
@handle_errors
def witness(
    key: Path = typer.Option(..., exists=True, dir_okay=False, help="the witness's private key"),
    check: Path | None = typer.Option(
        None, exists=True, dir_okay=False, help="a signed head someone was shown (JSON): check it, do not countersign"
    ),
) -> None:
    """As an oversight body: countersign the newest head after checking it extends the last one you witnessed.

    With --check, a head you never saw is checked against every head you countersigned; exit 1 on a split view.
    """
    signer = signing.decrypt(key.read_bytes(), settings().witness_passphrase)
    if check is not None:
        try:
            presented = service.PresentedHead.parse(json.loads(check.read_text("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AppError(f"{check}: not a signed tree head: {exc}", code="malformed_head") from None
        with transaction() as session:
            verdict = service.check_presented_head(session, head=presented, witness=signer)
        typer.echo(json.dumps(verdict))
        if not verdict["consistent"]:
            err_console.print(t("Split view: this head contradicts {n} head(s) you countersigned",
                                n=len(verdict["conflicts"])))  # fmt: skip
            raise typer.Exit(1)
        return
    with transaction() as session:
        countersigned = service.witness_latest_head(session, key=signer, now=utcnow())
    typer.echo(json.dumps({"head": countersigned.head_id, "kid": countersigned.kid,
                           "signature": countersigned.signature.hex()}))  # fmt: skip


@app.command("rotate-key")
@handle_errors
def rotate_key() -> None:
    """Retire the log's signing key and sign with a new one (the old key's heads keep verifying)."""
    config = settings()
    with transaction() as session:
        retired, signed = service.rotate_log_key(
            session, passphrase=config.key_passphrase, actor=operator("oversight"), now=utcnow()
        )
    typer.echo(json.dumps({"retired": retired, "kid": signed.kid, "head": signed.id, "size": signed.size}))


@app.command("log")
@handle_errors
def person_log(
    person: str = typer.Option(..., help="person id or cédula"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Who accessed a person's data (a data subject request at an office; the lookup is itself logged)."""
    from carnet.cli.registry import resolve_person

    settings()
    with transaction() as session:
        actor = operator("data_subject_request")
        person_id = resolve_person(session, person, actor=actor)
        log = data_subject.access_log(session, actor=actor, person_id=person_id, now=utcnow())
    if as_json:
        typer.echo(json.dumps(log, default=str))
        return
    console.print(access_log_table(person_id, log))


def access_log_table(person_id, log: dict) -> Table:  # type: ignore[no-untyped-def]
    """A person's access log as a table: when, what, which office and role, why, and the proof."""
    table = Table(title=t("Who looked at the data of person {id}", id=person_id))
    for column in (t("When"), t("Action"), t("Office"), t("Role"), t("Purpose"), t("Proof")):
        table.add_column(column)
    for item in log["entries"]:
        proof = t("{n} hashes", n=len(item["proof"])) if item["proof"] is not None else t("after the next head")
        if item["sealed"]:
            action = t("sealed until {date}", date=item["sealed_until"])
        else:
            action = _bulk_action(item["cohort"]) if item["bulk"] else item["action"]
        if not item.get("verified", True):
            proof = t("ALTERED in the database ({field}); shown as the log has it", field=item["mismatch"])
        table.add_row(f"{item['at']:%Y-%m-%d %H:%M}", action, item["office"] or "", item["role"] or "",
                      item["purpose"] or "", proof)  # fmt: skip
    return table


def _bulk_action(cohort: str | None) -> str:
    if cohort and cohort.startswith("cards:"):
        return t("included in a card issue run")
    if cohort and cohort.startswith("run:"):
        return t("included in an eligibility run")
    if cohort and cohort.startswith("sync:"):
        return t("a hand-over recorded at a distribution point")
    return t("included in a bulk import")
