"""`carnet users ...`: accounts and roles."""

from __future__ import annotations

import secrets
import uuid

import typer

from carnet.access import service
from carnet.access.policy import Role
from carnet.audit.service import record_change
from carnet.cli.common import console, handle_errors, operator, settings, transaction
from carnet.kit.clock import utcnow
from carnet.kit.i18n import t

app = typer.Typer(help="Accounts and roles.", no_args_is_help=True)


@app.command("add")
@handle_errors
def add(
    username: str = typer.Argument(...),
    role: Role = typer.Option(..., help="one role per account"),
    password: str | None = typer.Option(None, help="generated and printed once if not given"),
    display_name: str | None = typer.Option(None),
    region: str | None = typer.Option(None, help="bind the account to one state (e.g. VE-A)"),
    office: str | None = typer.Option(None, help="office shown to people in their access log"),
    person_id: uuid.UUID | None = typer.Option(None, help="for a citizen: their registry record"),
) -> None:
    """Create an account; the password is stored only as an Argon2id hash."""
    settings()
    secret = password or secrets.token_urlsafe(12)
    with transaction() as session:
        user = service.create_user(
            session,
            username=username,
            password=secret,
            role=role.value,
            display_name=display_name,
            region_code=region,
            office=office,
            person_id=person_id,
            now=utcnow(),
        )
        record_change(
            session, actor=operator("account_administration"), what="account.create",
            details=service.account_details(user), now=utcnow(),
        )  # fmt: skip
    console.print(t("Created {role} account {username}.", role=user.role, username=user.username))
    if password is None:
        console.print(t("Password (shown once): {password}", password=secret))
