"""`carnet`: the command line entry point."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import typer

from carnet import __version__
from carnet.access.policy import Purpose
from carnet.cli import audit as audit_cli
from carnet.cli import backup as backup_cli
from carnet.cli import cards as cards_cli
from carnet.cli import distribution as distribution_cli
from carnet.cli import ledger as ledger_cli
from carnet.cli import point as point_cli
from carnet.cli import programs as programs_cli
from carnet.cli import registry as registry_cli
from carnet.cli import users as users_cli
from carnet.cli.common import console, handle_errors, progress_bar, session_factory, settings, transaction
from carnet.cli.demo_distribution import show_distribution
from carnet.config import Settings
from carnet.credentials.printing import PrintableCard, card_sheet_pdf, qr_png
from carnet.db.migrate import upgrade_to_head
from carnet.kit.actor import system_actor
from carnet.kit.clock import utcnow
from carnet.kit.csvsafe import SafeDictWriter
from carnet.kit.i18n import t
from carnet.programs.definition import parse_definition
from carnet.registry import service as registry_service
from carnet.registry.dictionary import parse_dictionary
from carnet.registry.importer import run_import
from carnet.registry.seed import COLUMNS, PopulationGenerator

app = typer.Typer(
    help="Carnet: social protection through one card, without becoming an instrument of control.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(registry_cli.app, name="registry")
app.add_typer(users_cli.app, name="users")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(cards_cli.app, name="cards")
app.add_typer(cards_cli.keys_app, name="keys")
app.add_typer(programs_cli.app, name="programs")
app.add_typer(backup_cli.app, name="backup")
app.add_typer(point_cli.app, name="point")
app.add_typer(distribution_cli.app, name="distribution")
app.add_typer(ledger_cli.app, name="ledger")


def shipped_dictionary_path() -> Path:
    """The attribute dictionary that ships with Carnet."""
    return Path(registry_service.__file__).parent / "data" / "attributes.yaml"


def initialize_store(dictionary_path: Path | None = None) -> dict:
    """Migrate the schema, load regions and the attribute dictionary; safe to run again."""
    config = settings()
    path = dictionary_path or config.attribute_dictionary or shipped_dictionary_path()
    dictionary = parse_dictionary(path.read_text("utf-8"), source=str(path))
    upgrade_to_head(session_factory().kw["bind"], key_passphrase=config.key_passphrase)
    with transaction() as session:
        regions = registry_service.ensure_regions(session)
        installed = registry_service.install_dictionary(session, dictionary=dictionary, source=str(path), now=utcnow())
    return {
        "regions_added": regions,
        "dictionary_version": dictionary.version,
        "dictionary_loaded": installed,
    }


@app.command()
@handle_errors
def init(
    dictionary: Path | None = typer.Option(None, exists=True, dir_okay=False, help="attribute dictionary"),
) -> None:
    """Create or upgrade the store (idempotent)."""
    report = initialize_store(dictionary)
    config = settings()
    console.print(t("Store ready at {url}", url=_safe_url(config.resolved_database_url)))
    console.print(
        t(
            "Regions added: {n}; attribute dictionary version {v} ({state}).",
            n=report["regions_added"],
            v=report["dictionary_version"],
            state=t("loaded") if report["dictionary_loaded"] else t("unchanged"),
        )
    )


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def write_seed_csv(path: Path, *, people: int, seed: int, today: date, ref_prefix: str | None = None) -> int:
    """Write `people` synthetic people as an import file; returns how many."""
    generator = PopulationGenerator(seed, today=today, ref_prefix=ref_prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = SafeDictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        count = 0
        for row in generator.people(people):
            writer.writerow(row)
            count += 1
    return count


@app.command()
@handle_errors
def seed(
    people: int = typer.Option(..., min=1, help="how many people"),
    seed: int = typer.Option(1, help="the same seed gives the same people"),
    csv_out: Path | None = typer.Option(None, "--csv", dir_okay=False, help="write an import file instead"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a synthetic population (Spanish names, cédulas, households, regions, incomes)."""
    config = settings()
    today = utcnow().date()
    if csv_out is not None:
        count = write_seed_csv(csv_out, people=people, seed=seed, today=today)
        console.print(t("Wrote {n} people to {path}", n=f"{count:,}", path=csv_out))
        return
    initialize_store()
    target = Path(config.data_dir) / "seed" / f"seed-{seed}-{people}.csv"
    write_seed_csv(target, people=people, seed=seed, today=today)
    now = utcnow()
    with transaction() as session, progress_bar(t("Seeding"), total=None) as update:
        run = run_import(
            session,
            actor=system_actor("seed", Purpose.REGISTRATION),
            path=target,
            today=today,
            now=now,
            batch_size=config.import_batch_size,
            progress=None if as_json else update,
        )
    if as_json:
        typer.echo(json.dumps(registry_cli.import_summary(run), indent=2))
    else:
        registry_cli.print_import(run)


@app.command()
def serve(
    host: str | None = typer.Option(None, help="default 127.0.0.1"),
    port: int | None = typer.Option(None, help="default 8000"),
) -> None:
    """Serve the API."""
    run_server(settings(), host=host, port=port)


def run_server(config: Settings, *, host: str | None, port: int | None) -> None:
    """The HTTP server on `config` until interrupted."""
    import uvicorn

    from carnet.web.app import create_app

    uvicorn.run(create_app(config), host=host or config.host, port=port or config.port, log_level="info")


DEMO_BAD_ROWS = [
    # (what is wrong, row values)
    {"given_names": "Rosa", "family_names": "Pérez Díaz", "date_of_birth": "31/02/1980", "region_code": "VE-A"},
    {
        "given_names": "Luis",
        "family_names": "Gómez",
        "date_of_birth": "1975-06-01",
        "national_id": "X-99",
        "region_code": "VE-M",
    },
    {
        "given_names": "Ana",
        "family_names": "Rojas",
        "date_of_birth": "1990-01-01",
        "phone": "12345",
        "region_code": "VE-K",
    },
    {"given_names": "Pedro", "family_names": "Salas", "date_of_birth": "1960-03-03", "region_code": "VE-QQ"},
    {"given_names": "", "family_names": "Mora", "date_of_birth": "2130-01-01", "region_code": "VE-V"},
    {
        "given_names": "Carmen",
        "family_names": "Vargas",
        "date_of_birth": "1985-05-05",
        "region_code": "VE-S",
        "monthly_income": "mucho",
    },
]


@app.command()
@handle_errors
def demo(
    people: int = typer.Option(20_000, min=100),
    no_serve: bool = typer.Option(False, "--no-serve", help="prepare the demo and exit"),
) -> None:
    """A fresh demo store: seeded people, an import with rejects, accounts, then the server."""
    config = settings()
    demo_dir = Path(config.data_dir)
    console.rule(t("Carnet demo"))
    if config.database_url is None and (demo_dir / "carnet.db").exists():
        console.print(t("Starting from a fresh store in {path}", path=demo_dir))
        for name in ("carnet.db", "carnet.db-wal", "carnet.db-shm"):
            (demo_dir / name).unlink(missing_ok=True)
        shutil.rmtree(demo_dir / "seed", ignore_errors=True)
    report = initialize_store()
    console.print(
        t(
            "Store ready: {n} regions, attribute dictionary version {v}.",
            n=report["regions_added"],
            v=report["dictionary_version"],
        )
    )
    today = utcnow().date()
    seed_file = demo_dir / "seed" / f"demo-{people}.csv"
    write_seed_csv(seed_file, people=people, seed=2026, today=today)
    with transaction() as session, progress_bar(t("Seeding"), total=None) as update:
        run = run_import(
            session,
            actor=system_actor("demo", Purpose.REGISTRATION),
            path=seed_file,
            today=today,
            now=utcnow(),
            progress=update,
        )
    console.print(
        t("Seeded {n} people in {h} households.", n=f"{run.rows_imported:,}", h=f"{run.households_created:,}")
    )

    census = demo_dir / "seed" / "census-sample.csv"
    write_seed_csv(census, people=200, seed=7, today=today, ref_prefix="CENSO")
    with census.open("a", encoding="utf-8", newline="") as handle:
        writer = SafeDictWriter(handle, fieldnames=COLUMNS)
        for row in DEMO_BAD_ROWS:
            writer.writerow(row)
    console.print(t("Importing {file}: 200 good rows and {n} bad ones.", file=census.name, n=len(DEMO_BAD_ROWS)))
    with transaction() as session:
        run = run_import(
            session, actor=system_actor("demo", Purpose.REGISTRATION), path=census, today=today, now=utcnow()
        )
    registry_cli.print_import(run)

    from carnet.access import service as access_service

    accounts = [
        ("admin", "admin", None),
        ("registro", "registrar", None),
        ("registro.zulia", "registrar", "VE-V"),
        ("programas.ana", "program_officer", None),
        ("programas.luis", "program_officer", None),
    ]
    console.rule(t("Accounts (passwords shown once)"))
    import secrets

    with transaction() as session:
        for username, role, region in accounts:
            if access_service.username_taken(session, username):
                continue
            password = secrets.token_urlsafe(12)
            access_service.create_user(
                session,
                username=username,
                password=password,
                role=role,
                region_code=region,
                office="Demo office",
                now=utcnow(),
            )
            console.print(f"  {username:16} {role:10} {region or '':6} {password}")
    passphrase = demo_passphrase(demo_dir, config.key_passphrase)
    person_id = show_cards(demo_dir, passphrase)
    cycle = show_programs(person_id, passphrase)
    show_distribution(demo_dir, cycle=cycle, passphrase=passphrase)
    show_ledger(cycle, passphrase)
    show_audit(passphrase, person_id)
    if no_serve:
        return
    url = f"http://{config.host}:{config.port}"
    console.rule(t("Serving"))
    console.print(t("Open {url}/ — the API description is at {url}/api/openapi.json.", url=url))
    console.print(
        t(
            "Get a token: curl -s -X POST {url}/api/v1/auth/tokens -H 'content-type: application/json' "
            '-d \'{{"username": "registro", "password": "..."}}\'',
            url=url,
        )
    )
    # The server signs tree heads and issues cards with the demo's passphrase, handed over in its settings.
    run_server(config.model_copy(update={"key_passphrase": passphrase}), host=None, port=None)


def demo_passphrase(demo_dir: Path, passphrase: str | None) -> str:
    """The key passphrase of the demo: the configured one, or one kept in the demo folder and used by the server."""
    import secrets

    if passphrase:
        return passphrase
    # Demo only: a real deployment sets CARNET_KEY_PASSPHRASE from its secret store.
    secret_file = demo_dir / "demo-key-passphrase"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(18))
        secret_file.chmod(0o600)
    console.print(t("Demo key passphrase kept in {path}", path=secret_file))
    return secret_file.read_text().strip()


def show_cards(demo_dir: Path, passphrase: str):  # type: ignore[no-untyped-def]
    """The demo's cards: issue to everyone, print a sheet and a QR, verify one, revoke it, verify again."""
    from carnet.credentials import service as cards

    console.rule(t("Cards"))
    folder = demo_dir / "cards"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("pins.csv", "cards.pdf", "card.png"):
        (folder / name).unlink(missing_ok=True)
    policy = cards.policy_from(settings())
    actor = system_actor("demo", Purpose.REGISTRATION)
    started = time.perf_counter()
    with cards_cli.mailer_file(folder / "pins.csv") as letters:
        with transaction() as session:
            run = cards_cli.issue_with_progress(session, actor=actor, scope=cards.IssueScope(), config=settings(),
                                                passphrase=passphrase, letters=letters, workers=2)  # fmt: skip
        letters.finish()
    console.print(t("Issued {n} cards in {s} s (run {run})", n=f"{run.cards:,}",
                    s=f"{time.perf_counter() - started:.1f}", run=run.id))  # fmt: skip
    console.print(t("PIN mailers: {path}", path=folder / "pins.csv"))
    with transaction() as session:
        rows = cards.cards_to_print(session, actor=actor, region_code=None, card_ids=None, run_id=run.id, limit=10,
                                    now=utcnow())  # fmt: skip
    (folder / "cards.pdf").write_bytes(card_sheet_pdf([PrintableCard.from_row(row) for row in rows]))
    first = rows[0]
    (folder / "card.png").write_bytes(qr_png(first["credential"]))
    console.print(
        t("A sheet of ten cards: {pdf}; one QR code: {png}", pdf=folder / "cards.pdf", png=folder / "card.png")
    )
    console.print(t("Card {number} holds {n} characters: {text}", number=first["number"],
                    n=len(first["credential"]), text=first["credential"]))  # fmt: skip
    with transaction() as session:
        before = cards.verify_card(session, text=first["credential"], policy=policy, now=utcnow())
        revoked = cards.revoke_card(session, actor=actor, card_id=first["card_id"], reason="lost", now=utcnow())
    with transaction() as session:
        after = cards.verify_card(session, text=first["credential"], policy=policy, now=utcnow())
    console.print(t("Verified: {code}. Revoked (lost), verified again: {after}.", code=before.code, after=after.code))
    return revoked.person_id


FOOD_BOX = "food_box"  # the example programme whose explanation the demo shows


def show_programs(person_id, passphrase: str) -> str:  # type: ignore[no-untyped-def]
    """The demo's programmes: the four examples for this month, each previewed, proposed and approved by a second
    officer; one person's explanation. The cycle."""
    from carnet.access.service import actor_for_username
    from carnet.programs import service as programs

    console.rule(t("Programmes"))
    cycle = f"{utcnow():%Y-%m}"
    with transaction() as session:
        ana, luis = (
            actor_for_username(session, username=name, role="program_officer", request_id="demo", purpose="eligibility")
            for name in ("programas.ana", "programas.luis")
        )
        for path in programs_cli.shipped_programs():
            definition = parse_definition(path.read_text("utf-8"), source=path.name)
            programs.apply_program(session, actor=ana, definition=definition, passphrase=passphrase, now=utcnow())
    for code in ("food_box", "fuel_subsidy", "cash_transfer", "health_kit"):
        started = time.perf_counter()
        with transaction() as session:
            run = programs.evaluate_cycle(session, actor=ana, code=code, cycle=cycle, now=utcnow(), persist=True)
            programs.approve_run(session, actor=luis, run_id=run.id, now=utcnow())
            if code == "food_box":
                programs_cli.print_preview(code, run)
        console.print(t("{code}: {n} of {m} units eligible, proposed by programas.ana and approved by "
                        "programas.luis in {s} s", code=code, n=f"{run.units_eligible:,}",
                        m=f"{run.units_evaluated:,}", s=f"{time.perf_counter() - started:.1f}"))  # fmt: skip
    with transaction() as session:
        found = programs.explain_for_person(session, actor=replace(ana, purpose="appeal"), code=FOOD_BOX,
                                            person_id=person_id, now=utcnow())  # fmt: skip
    programs_cli.print_explanation(found)
    return cycle


def show_ledger(cycle: str, passphrase: str) -> None:
    """The demo's wallets: fund the cash programme, disburse its cycle (twice: nothing paid twice), the totals."""
    from carnet.flows import wallets
    from carnet.ledger import service as ledger
    from carnet.programs import service as programs

    console.rule(t("Wallets"))
    cash = "cash_transfer"
    officer = system_actor("demo", "program_administration")
    with transaction() as session:
        run = next(r for r in programs.runs_of(session, code=cash) if r.status == "published")
        wallets.fund_programme(session, actor=officer, code=cash, amount=run.total_value,
                               reference=f"ORDEN-{cycle}", now=utcnow())  # fmt: skip
        paid = wallets.disburse(session, actor=officer, run_id=run.id, passphrase=passphrase, now=utcnow())
    with transaction() as session:
        again = wallets.disburse(session, actor=officer, run_id=run.id, passphrase=passphrase, now=utcnow())
        totals = ledger.ledger_totals(session)
    console.print(t("cash_transfer {cycle}: {n} wallets paid {amount} VES; run again: {m} already paid, none twice.",
                    cycle=cycle, n=f"{paid.applied:,}", amount=f"{paid.amount / 100:,.2f}",
                    m=f"{again.existing:,}"))  # fmt: skip
    for line in totals:
        console.print(t("Ledger {ledger} ({currency}): debits {debits} = credits {credits}; balances sum to zero.",
                        ledger=line["ledger"], currency=line["currency"],
                        debits=f"{line['debits_posted'] / 100:,.2f}",
                        credits=f"{line['credits_posted'] / 100:,.2f}") if line["balanced"] else
                      t("Ledger {ledger} does NOT balance", ledger=line["ledger"]))  # fmt: skip


def show_audit(passphrase: str, person_id) -> None:  # type: ignore[no-untyped-def]
    """The demo's audit part: a signed head, a verification, and one person's access log with proofs."""
    from carnet.audit.service import sign_head, verify_log
    from carnet.flows import data_subject

    console.rule(t("Audit log"))
    with transaction() as session:
        registry_service.get_person(session, actor=system_actor("demo", Purpose.REGISTRATION), person_id=person_id,
                                    now=utcnow())  # fmt: skip
    with transaction() as session:
        head = sign_head(session, passphrase=passphrase, now=utcnow())
    with transaction() as session:
        verified = verify_log(session)
        log = data_subject.access_log(
            session, actor=system_actor("demo", "data_subject_request"), person_id=person_id, now=utcnow()
        )
    console.print(t("Signed tree head: {n} entries, root {root}", n=f"{head.size:,}", root=head.root.hex()))
    console.print(t("Audit log verified: {n} entries, root {root}", n=f"{verified.size:,}", root=verified.root.hex()))
    console.print(audit_cli.access_log_table(person_id, log))


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
