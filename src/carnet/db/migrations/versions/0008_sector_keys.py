"""Sector keys: one sealed 32-byte key per programme, the key of that programme's pseudonyms.

Existing programmes get their key here, sealed under the store passphrase; that needs the passphrase
(`upgrade_to_head(engine, key_passphrase=...)`, else CARNET_KEY_PASSPHRASE), checked against the
store's verifier first, exactly as for any other key. A store without programmes needs none.

Revision ID: 0008_sector_keys
Revises: 0007_store_keys
"""

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import carnet.db.base
from carnet.audit import store_keys
from carnet.kit import signing
from carnet.kit.errors import AppError

revision = "0008_sector_keys"
down_revision = "0007_store_keys"
branch_labels = None
depends_on = None

# The context a sector key's ciphertext is bound to (programs.service.sector_key_context, frozen here).
CONTEXT = b"program-sector-key\x00"


def upgrade() -> None:
    op.create_table(
        "program_sector_keys",
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("params", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.Column("nonce", sa.LargeBinary(length=12), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('scrypt-aesgcm')", name=op.f("ck_program_sector_keys_kind")),
        sa.ForeignKeyConstraint(
            ["program_id"], ["programs.id"], name=op.f("fk_program_sector_keys_program_id_programs")
        ),
        sa.PrimaryKeyConstraint("program_id", name=op.f("pk_program_sector_keys")),
    )
    connection = op.get_bind()
    programs_table = sa.table("programs", sa.column("id", sa.Uuid()))
    programs = list(connection.scalars(sa.select(programs_table.c.id).order_by(programs_table.c.id)))
    if not programs:
        return
    passphrase = _passphrase()
    salt, params = _store_salt(connection, passphrase)
    keys = sa.table(
        "program_sector_keys",
        sa.column("program_id", sa.Uuid()),
        sa.column("kind", sa.String()),
        sa.column("params", sa.String()),
        sa.column("salt", sa.LargeBinary()),
        sa.column("nonce", sa.LargeBinary()),
        sa.column("ciphertext", sa.LargeBinary()),
        sa.column("created_at", carnet.db.base.UTCDateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    rows = []
    for program_id in programs:
        sealed = store_keys.seal(secrets.token_bytes(32), passphrase=passphrase, salt=salt, params=params,
                                 context=CONTEXT + program_id.bytes)  # fmt: skip
        rows.append({"program_id": program_id, "kind": sealed.kind, "params": sealed.params, "salt": sealed.salt,
                     "nonce": sealed.nonce, "ciphertext": sealed.ciphertext, "created_at": now})  # fmt: skip
    op.bulk_insert(keys, rows)


def _passphrase() -> str:
    config = op.get_context().config
    given = config.attributes.get("key_passphrase") if config is not None else None
    if given is None:
        from carnet.config import get_settings

        given = get_settings().key_passphrase
    try:
        return signing.require_passphrase(given)
    except AppError as exc:
        raise AppError(f"existing programmes need their sector keys, sealed under the key passphrase: {exc.message}",
                       code=exc.code) from exc  # fmt: skip


def _store_salt(connection: sa.Connection, passphrase: str) -> tuple[bytes, str]:
    """The verifier's salt and parameters, once the passphrase is shown to be the store's (made if none)."""
    now = datetime.now(UTC)
    verifier = connection.execute(
        sa.text("SELECT kind, params, salt, nonce, ciphertext FROM store_key_verifier WHERE id = 1")
    ).first()
    if verifier is not None and not store_keys.verifier_accepts(verifier, passphrase):  # type: ignore[arg-type]
        raise store_keys.wrong_passphrase()
    if verifier is None or verifier.kind == "legacy-pem":
        fresh = store_keys.make_verifier(passphrase, now=now)
        values = {"kind": fresh.kind, "params": fresh.params, "salt": fresh.salt, "nonce": fresh.nonce,
                  "ciphertext": fresh.ciphertext, "created_at": now}  # fmt: skip
        table = sa.table(
            "store_key_verifier",
            sa.column("id", sa.Integer()),
            *(sa.column(name, sa.LargeBinary() if name in ("salt", "nonce", "ciphertext") else sa.String())
              for name in ("kind", "params", "salt", "nonce", "ciphertext")),
            sa.column("created_at", carnet.db.base.UTCDateTime(timezone=True)),
        )  # fmt: skip
        if verifier is None:
            connection.execute(table.insert().values(id=1, **values))
        else:
            connection.execute(table.update().where(table.c.id == 1).values(**values))
        return bytes(fresh.salt), fresh.params  # type: ignore[arg-type]
    return bytes(verifier.salt), verifier.params


def downgrade() -> None:
    op.drop_table("program_sector_keys")
