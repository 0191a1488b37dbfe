"""Accounts: who made each account and how, disabling, token use, one account per person, throttle counters.

Citizen accounts made by an admin before this revision are disabled, unlinked from their record and their
tokens revoked: a citizen account is now made only by the person (card and PIN) or at an office.

Revision ID: 0006_accounts
Revises: 0005_programs
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import carnet.db.base

revision = "0006_accounts"
down_revision = "0005_programs"
branch_labels = None
depends_on = None


VIA_CHECK = "created_via IN ('admin', 'self_card_pin', 'office', 'legacy')"
CITIZEN_ORIGIN_CHECK = "role <> 'citizen' OR created_via <> 'admin'"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # A batch rebuild of `users` would drop the table that tokens and sessions reference, which SQLite's
        # foreign keys refuse inside the migration's transaction: add the columns in place instead.
        op.execute(
            "ALTER TABLE users ADD COLUMN created_by CHAR(32)"
            " CONSTRAINT fk_users_created_by_users REFERENCES users (id)"
        )
        op.execute(
            "ALTER TABLE users ADD COLUMN created_via VARCHAR(16) DEFAULT 'admin' NOT NULL"
            f" CONSTRAINT ck_users_created_via CHECK ({VIA_CHECK})"
        )
        op.add_column("users", sa.Column("disabled_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True))
    else:
        with op.batch_alter_table("users", schema=None) as batch_op:
            batch_op.add_column(sa.Column("created_by", sa.Uuid(), nullable=True))
            batch_op.add_column(sa.Column("created_via", sa.String(length=16), nullable=False, server_default="admin"))
            batch_op.add_column(sa.Column("disabled_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True))
            batch_op.create_foreign_key(batch_op.f("fk_users_created_by_users"), "users", ["created_by"], ["id"])
            batch_op.create_check_constraint(batch_op.f("ck_users_created_via"), VIA_CHECK)
    now = datetime.now(UTC)
    users = sa.table(
        "users",
        sa.column("role", sa.String),
        sa.column("created_via", sa.String),
        sa.column("person_id", sa.Uuid),
        sa.column("is_active", sa.Boolean),
        sa.column("disabled_at", carnet.db.base.UTCDateTime(timezone=True)),
        sa.column("id", sa.Uuid),
    )
    stamp = carnet.db.base.UTCDateTime(timezone=True)
    tokens = sa.table("api_tokens", sa.column("user_id", sa.Uuid), sa.column("revoked_at", stamp))
    sessions = sa.table("web_sessions", sa.column("user_id", sa.Uuid), sa.column("revoked_at", stamp))
    legacy = sa.select(users.c.id).where(users.c.role == "citizen")
    for table in (tokens, sessions):
        op.execute(
            table.update().where(table.c.user_id.in_(legacy), table.c.revoked_at.is_(None)).values(revoked_at=now)
        )
    op.execute(
        users.update()
        .where(users.c.role == "citizen")
        .values(created_via="legacy", person_id=None, is_active=False, disabled_at=now)
    )
    # Only now, with the admin-made citizen accounts marked legacy, can the rule hold for every row.
    if sqlite:
        # SQLite adds a CHECK only with a column: it rides on created_office, added after the update.
        op.execute(
            "ALTER TABLE users ADD COLUMN created_office VARCHAR(120)"
            f" CONSTRAINT ck_users_citizen_origin CHECK ({CITIZEN_ORIGIN_CHECK})"
        )
    else:
        op.add_column("users", sa.Column("created_office", sa.String(length=120), nullable=True))
        op.create_check_constraint(op.f("ck_users_citizen_origin"), "users", CITIZEN_ORIGIN_CHECK)
    op.create_index(
        "uq_users_person_id",
        "users",
        ["person_id"],
        unique=True,
        sqlite_where=sa.text("person_id IS NOT NULL"),
        postgresql_where=sa.text("person_id IS NOT NULL"),
    )
    op.add_column("api_tokens", sa.Column("last_used_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True))
    op.add_column("web_sessions", sa.Column("last_used_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "throttle_counters",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_out_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_failure", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('account', 'card', 'address')", name=op.f("ck_throttle_counters_kind")),
        sa.PrimaryKeyConstraint("kind", "key_hash", name=op.f("pk_throttle_counters")),
    )


def downgrade() -> None:
    op.drop_table("throttle_counters")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
    op.drop_index("uq_users_person_id", "users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_users_citizen_origin"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_users_created_via"), type_="check")
        if op.get_bind().dialect.name != "sqlite":
            # SQLite does not name a column's own foreign key: it goes with the column in the rebuild.
            batch_op.drop_constraint(batch_op.f("fk_users_created_by_users"), type_="foreignkey")
        batch_op.drop_column("disabled_at")
        batch_op.drop_column("created_office")
        batch_op.drop_column("created_via")
        batch_op.drop_column("created_by")
