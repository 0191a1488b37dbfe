"""`carnet cards ...` and `carnet keys ...`: issue, print, revoke and verify cards; the issuer keys."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.table import Table

from carnet.cli.common import console, err_console, handle_errors, operator, progress_bar, settings, transaction
from carnet.cli.registry import resolve_person
from carnet.credentials import service
from carnet.credentials.models import REVOCATION_REASONS
from carnet.credentials.printing import PrintableCard, card_sheet_pdf, pin_mailers_pdf, qr_png
from carnet.credentials.qr_image import read_card_text
from carnet.credentials.service import IssueScope, PinLetter, card_number, parse_card_number
from carnet.kit.clock import utcnow
from carnet.kit.csvsafe import SafeCsvWriter, open_private, write_private
from carnet.kit.errors import AppError
from carnet.kit.i18n import describe, t

app = typer.Typer(help="Cards: issue, print, revoke and verify.", no_args_is_help=True)
keys_app = typer.Typer(help="The keys that sign cards.", no_args_is_help=True)


class MailerFile:
    """PIN mailers written next to their final place and moved there only once the cards are committed."""

    def __init__(self, path: Path | None):
        self.path = path
        self.letters: list[tuple[str, str, str | None]] = []
        self._partial = path.with_name(path.name + ".partial") if path else None
        self._csv = None
        self._handle = None
        if path is not None and path.suffix.lower() not in (".csv", ".pdf"):
            raise AppError(f"{path}: PIN mailers are written as .csv or .pdf", code="unknown_format")
        if path is not None and path.suffix.lower() == ".csv":
            self._handle = open_private(self._partial)  # type: ignore[arg-type]
            self._csv = SafeCsvWriter(self._handle)
            self._csv.writerow(["card_number", "pin"])

    def __call__(self, letters: list[PinLetter]) -> None:
        if self._csv is not None:
            self._csv.writerows([card_number(letter.card_id), letter.pin] for letter in letters)
        else:
            self.letters.extend((card_number(letter.card_id), letter.pin, None) for letter in letters)

    def finish(self) -> None:
        """Move the mailers into place (after the commit)."""
        if self.path is None:
            return
        if self._handle is not None:
            self._handle.close()
        else:
            write_private(self._partial, pin_mailers_pdf(self.letters) if self.letters else b"")  # type: ignore[arg-type]
        os.replace(self._partial, self.path)  # type: ignore[arg-type]

    def discard(self) -> None:
        """Remove the partial file (the cards were not committed, so their PINs mean nothing)."""
        if self._handle is not None:
            self._handle.close()
        if self._partial is not None and self._partial.exists():
            self._partial.unlink()


@contextmanager
def mailer_file(path: Path | None) -> Iterator[MailerFile]:
    """PIN mailers that appear at `path` only if the command succeeds."""
    mailers = MailerFile(path)
    try:
        yield mailers
    except BaseException:
        mailers.discard()
        raise


def issue_with_progress(
    session,
    *,
    actor,
    scope: IssueScope,
    config,
    passphrase: str | None,
    letters: MailerFile,
    workers: int,
    batch_size: int = 10_000,
    show: bool = True,
):  # type: ignore[no-untyped-def]
    """Issue cards in the command's transaction with a progress bar over the persons to serve; returns the run."""
    total = service.count_to_issue(session, scope=scope)
    with progress_bar(t("Issuing cards"), total=total) as update:
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            if show:
                update(done, total)

        return service.issue_cards(
            session, actor=actor, scope=scope, policy=service.policy_from(config), passphrase=passphrase,
            now=utcnow(), pins=letters, progress=advance, workers=workers if total > batch_size else 1,
            batch_size=batch_size,
        )  # fmt: skip


@app.command("issue")
@handle_errors
def issue(
    everyone: bool = typer.Option(False, "--all", help="everyone without an active card"),
    region: str | None = typer.Option(None, help="everyone in this state or municipality without a card"),
    person: str | None = typer.Option(None, help="one person (id or cédula)"),
    mailers: Path | None = typer.Option(None, dir_okay=False, help="write the PIN mailers here (.csv or .pdf)"),
    workers: int = typer.Option(2, min=1, max=64, help="processes that sign and hash PINs"),
    batch_size: int = typer.Option(10_000, min=100, max=100_000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Issue signed cards with a 6-digit PIN each; PINs are shown once (the mailers) and kept only as hashes."""
    config = settings()
    if sum([everyone, region is not None, person is not None]) != 1:
        raise AppError("say whom to issue to: --all, --region R or --person ID", code="issue_scope_required")
    if person is None and mailers is None:
        raise AppError("a bulk issue needs --mailers FILE for the PINs (they are not stored)", code="mailers_required")
    started = time.perf_counter()
    with mailer_file(mailers) as letters:
        with transaction() as session:
            actor = operator("registration")
            scope = IssueScope(region_code=region,
                               person_id=resolve_person(session, person, actor=actor) if person else None)  # fmt: skip
            run = issue_with_progress(session, actor=actor, scope=scope, config=config,
                                      passphrase=config.key_passphrase, letters=letters, workers=workers,
                                      batch_size=batch_size, show=not as_json)  # fmt: skip
        letters.finish()
    seconds = time.perf_counter() - started
    out = {"run": str(run.id), "cards": run.cards, "seconds": round(seconds, 2), "mailers": str(mailers or "")}
    if as_json:
        typer.echo(json.dumps(out))
        return
    console.print(t("Issued {n} cards in {s} s (run {run})", n=f"{run.cards:,}", s=f"{seconds:.1f}", run=run.id))
    if mailers is None and letters.letters:
        number, pin, _ = letters.letters[0]
        console.print(t("Card {number}: PIN {pin}. It is shown only now; hand it to the holder sealed.",
                        number=number, pin=pin))  # fmt: skip
    elif mailers is not None:
        console.print(t("PIN mailers: {path}", path=mailers))


@app.command("reissue")
@handle_errors
def reissue(
    person: str = typer.Argument(..., help="person id or cédula"),
    reason: str = typer.Option(..., help="lost, stolen or damaged"),
    mailers: Path | None = typer.Option(None, dir_okay=False, help="write the PIN mailer here (.pdf or .csv)"),
) -> None:
    """A new card for a lost, stolen or damaged one; the old card is revoked."""
    config = settings()
    with mailer_file(mailers) as letters:
        with transaction() as session:
            actor = operator("registration")
            run = service.reissue_card(
                session, actor=actor, person_id=resolve_person(session, person, actor=actor), reason=reason,
                policy=service.policy_from(config), passphrase=config.key_passphrase, now=utcnow(), pins=letters,
            )  # fmt: skip
        letters.finish()
    typer.echo(json.dumps({"run": str(run.id), "cards": run.cards}))
    if mailers is None and letters.letters:
        number, pin, _ = letters.letters[0]
        console.print(t("Card {number}: PIN {pin}. It is shown only now; hand it to the holder sealed.",
                        number=number, pin=pin))  # fmt: skip


@app.command("revoke")
@handle_errors
def revoke(
    card: str = typer.Argument(..., help="the card number"),
    reason: str = typer.Option(..., help=", ".join(REVOCATION_REASONS)),
) -> None:
    """Revoke a card; points learn it from the next status list."""
    settings()
    with transaction() as session:
        revoked = service.revoke_card(session, actor=operator("registration"), card_id=parse_card_number(card),
                                      reason=reason, now=utcnow())  # fmt: skip
    typer.echo(json.dumps({"card": card_number(revoked.id), "status": revoked.status, "reason": reason}))


@app.command("qr")
@handle_errors
def qr(
    card: str = typer.Argument(..., help="the card number"),
    out: Path = typer.Option(..., dir_okay=False, help="the PNG to write"),
    scale: int = typer.Option(8, min=1, max=40),
) -> None:
    """Write one card's QR code as a PNG image."""
    settings()
    with transaction() as session:
        credential = service.card_credential(session, card_id=parse_card_number(card))
    out.write_bytes(qr_png(credential, scale=scale))
    typer.echo(json.dumps({"card": card, "png": str(out), "characters": len(credential)}))


@app.command("print")
@handle_errors
def print_cards(
    out: Path = typer.Option(..., dir_okay=False, help="the PDF to write"),
    region: str | None = typer.Option(None, help="only this state or municipality"),
    run: str | None = typer.Option(None, help="only the cards of this issue run"),
    card: list[str] = typer.Option(None, help="only these card numbers (repeatable)"),
    limit: int = typer.Option(1000, min=1, max=100_000, help="at most this many cards"),
) -> None:
    """Print active cards ten to an A4 sheet, with crop marks; each holder's name read is recorded."""
    settings()
    with transaction() as session:
        rows = service.cards_to_print(
            session, actor=operator("registration"), region_code=region,
            card_ids=[parse_card_number(c) for c in card] if card else None,
            run_id=uuid.UUID(run) if run else None, limit=limit, now=utcnow(),
        )  # fmt: skip
        if not rows:
            raise AppError("no active card matches", code="no_cards_to_print")
        pdf = card_sheet_pdf([PrintableCard.from_row(row) for row in rows])
    # The sheet carries the holders' names: owner-only, like every file of personal data the CLI writes.
    write_private(out, pdf)
    typer.echo(json.dumps({"cards": len(rows), "pages": -(-len(rows) // 10), "pdf": str(out)}))


@app.command("verify")
@handle_errors
def verify(
    source: str = typer.Argument(..., help="the card's QR text (CN1:…) or a PNG/JPEG image of it"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Check a card as a point would: signature, validity, revocation. Exit 0 only for a valid card."""
    config = settings()
    text = read_card_text(source, max_bytes=config.card_image_max_bytes, max_pixels=config.card_image_max_pixels)
    with transaction() as session:
        verdict = service.verify_card(session, text=text, policy=service.policy_from(config), now=utcnow())
    if as_json:
        typer.echo(json.dumps(verdict.__dict__))
    else:
        style = "green" if verdict.is_valid else "red"
        console.print(f"[bold {style}]{verdict.code}[/]: {describe(verdict.code, verdict.message)}")
        if verdict.card_id:
            console.print(t("Card {number}", number=card_number(uuid.UUID(verdict.card_id))))
    if not verdict.is_valid:
        raise typer.Exit(1)


@app.command("status-list")
@handle_errors
def status_list(
    list_id: int = typer.Argument(..., help="the list number"),
    out: Path = typer.Option(..., dir_okay=False, help="where to write the signed list (for offline points)"),
) -> None:
    """Write a signed revocation status list, valid for the configured time-to-live."""
    config = settings()
    with transaction() as session:
        token = service.status_list_token(session, list_id=list_id, policy=service.policy_from(config),
                                          passphrase=config.key_passphrase, now=utcnow())  # fmt: skip
    out.write_bytes(token)
    typer.echo(json.dumps({"list": list_id, "bytes": len(token), "file": str(out)}))


@app.command("summary")
@handle_errors
def summary() -> None:
    """How many cards are active and revoked."""
    settings()
    with transaction() as session:
        typer.echo(json.dumps(service.card_summary(session)))


@keys_app.command("list")
@handle_errors
def list_keys(as_json: bool = typer.Option(False, "--json")) -> None:
    """The issuer keys: the one signing, retired ones still verifying, expired ones."""
    settings()
    with transaction() as session:
        keys = service.list_issuer_keys(session, now=utcnow())
    if as_json:
        typer.echo(json.dumps(keys, default=str))
        return
    table = Table(title=t("Issuer keys"))
    for column in ("kid", t("State"), t("Created"), t("Retired"), t("Verifies until")):
        table.add_column(column)
    for key in keys:
        table.add_row(key["kid"], key["state"], f"{key['created_at']:%Y-%m-%d}",
                      f"{key['retired_at']:%Y-%m-%d}" if key["retired_at"] else "",
                      f"{key['verify_until']:%Y-%m-%d}" if key["verify_until"] else "")  # fmt: skip
    console.print(table)


@keys_app.command("rotate")
@handle_errors
def rotate_keys() -> None:
    """Start signing with a new key; the old one keeps verifying until its last card expires."""
    config = settings()
    with transaction() as session:
        rotated = service.rotate_issuer_key(session, actor=operator("registration"),
                                            passphrase=config.key_passphrase, now=utcnow())  # fmt: skip
    typer.echo(json.dumps(rotated, default=str))


@keys_app.command("export")
@handle_errors
def export_keys(
    form: str = typer.Option("jwks", "--format", help="cose (COSE_KeySet, CBOR) or jwks (JSON)"),
    out: Path | None = typer.Option(None, dir_okay=False, help="write here instead of standard output"),
) -> None:
    """The public keys a verifier needs, as a COSE_KeySet or a JWKS."""
    settings()
    with transaction() as session:
        published = service.published_key_set(session, now=utcnow(), form=form)
    data = published if isinstance(published, bytes) else json.dumps(published, indent=1).encode()
    if out is None:
        if isinstance(published, bytes):
            err_console.print(t("A COSE_KeySet is binary: give --out FILE"))
            raise typer.Exit(2)
        typer.echo(data.decode())
    else:
        out.write_bytes(data)
        typer.echo(json.dumps({"format": form, "file": str(out), "bytes": len(data)}))
