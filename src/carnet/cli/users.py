"""`carnet users ...`: accounts and roles, disabling, tokens and sessions, unlocking (each change audited)."""

from __future__ import annotations

import secrets
import uuid

import typer
from rich.table import Table

from carnet.access import service
from carnet.access.policy import Role
from carnet.cli.common import console, handle_errors, operator, settings, transaction
from carnet.flows import accounts
from carnet.kit.clock import utcnow
from carnet.kit.i18n import t

app = typer.Typer(help="Accounts and roles.", no_args_is_help=True)
ADMINISTRATION = "account_administration"


@app.command("add")
@handle_errors
def add(
    username: str = typer.Argument(...),
    role: Role = typer.Option(..., help="one role per account (not citizen: citizens make their own)"),
    password: str | None = typer.Option(None, help="generated and printed once if not given"),
    display_name: str | None = typer.Option(None),
    region: str | None = typer.Option(None, help="bind the account to one state (e.g. VE-A)"),
    office: str | None = typer.Option(None, help="office shown to people in their access log"),
) -> None:
    """Create a staff account; the password is stored only as an Argon2id hash."""
    settings()
    secret = password or secrets.token_urlsafe(12)
    with transaction() as session:
        user = accounts.create_staff_account(
            session, actor=operator(ADMINISTRATION), now=utcnow(), username=username, password=secret,
            role=role.value, display_name=display_name, region_code=region, office=office,
        )  # fmt: skip
    console.print(t("Created {role} account {username}.", role=user.role, username=user.username))
    if password is None:
        console.print(t("Password (shown once): {password}", password=secret))


@app.command("disable")
@handle_errors
def disable(username: str = typer.Argument(...)) -> None:
    """Disable an account; its tokens and sessions stop working at once."""
    settings()
    with transaction() as session:
        revoked = accounts.disable_account(session, actor=operator(ADMINISTRATION), username=username, now=utcnow())
    console.print(t("Disabled {username}; {count} tokens and sessions revoked.", username=username, count=revoked))


@app.command("enable")
@handle_errors
def enable(username: str = typer.Argument(...)) -> None:
    """Enable a disabled account (the holder signs in again)."""
    settings()
    with transaction() as session:
        accounts.enable_account(session, actor=operator(ADMINISTRATION), username=username, now=utcnow())
    console.print(t("Enabled {username}.", username=username))


@app.command("role")
@handle_errors
def role(username: str = typer.Argument(...), new_role: Role = typer.Argument(..., metavar="ROLE")) -> None:
    """Give a staff account another role."""
    settings()
    with transaction() as session:
        accounts.change_role(session, actor=operator(ADMINISTRATION), username=username, role=new_role.value,
                             now=utcnow())  # fmt: skip
    console.print(t("{username} now has the role {role}.", username=username, role=new_role.value))


@app.command("tokens")
@handle_errors
def tokens(username: str = typer.Argument(...)) -> None:
    """An account's tokens and sessions: id, created, expires, last used (never the secrets)."""
    settings()
    with transaction() as session:
        rows = service.credentials_of(session, user=service.user_named(session, username), now=utcnow())
    table = Table(t("Id"), t("Kind"), t("Created"), t("Expires"), t("Last used"), t("State"))
    for row in rows:
        state = t("live") if row["live"] else (t("revoked") if row["revoked_at"] else t("expired"))
        kind = t("token") if row["kind"] == "token" else t("session")
        when = [_when(row[k]) for k in ("created_at", "expires_at", "last_used_at")]
        table.add_row(str(row["id"]), kind, *when, state)
    console.print(table)


@app.command("revoke")
@handle_errors
def revoke(token_id: uuid.UUID = typer.Argument(..., help="the id shown by `carnet users tokens`")) -> None:
    """Revoke one token or session."""
    settings()
    with transaction() as session:
        accounts.revoke_credential(session, actor=operator(ADMINISTRATION), credential_id=token_id, now=utcnow(),
                                   any_account=True)  # fmt: skip
    console.print(t("Revoked {id}.", id=str(token_id)))


@app.command("unlock")
@handle_errors
def unlock(
    username: str | None = typer.Argument(None, help="the account to unlock"),
    card: str | None = typer.Option(None, help="a card's QR text, locked after wrong PINs"),
    address: str | None = typer.Option(None, help="a client address, locked after failures from it"),
) -> None:
    """Lift a lock-out after repeated failed sign-ins or PIN guesses."""
    settings()
    with transaction() as session:
        lifted = accounts.unlock(session, actor=operator(ADMINISTRATION), username=username, card=card,
                                 address=address, now=utcnow())  # fmt: skip
    console.print(t("Unlocked.") if lifted else t("Nothing was locked."))


def _when(moment) -> str:  # type: ignore[no-untyped-def]
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"
