"""Cards: issuer keys, revocation status lists, issue runs and cards.

Revision ID: 0004_cards
Revises: 0003_tree_heads
"""

import sqlalchemy as sa
from alembic import op

import carnet.db.base

revision = "0004_cards"
down_revision = "0003_tree_heads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "card_issue_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("started_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("actor_office", sa.String(length=120), nullable=True),
        sa.Column("cards", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_issue_runs")),
    )
    op.create_table(
        "issuer_keys",
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("private_pem", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verify_until", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_issuer_keys")),
    )
    op.create_table(
        "status_lists",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_lists")),
    )
    op.create_table(
        "cards",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("status_list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("not_before", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issue_run_id", sa.Uuid(), nullable=False),
        sa.Column("credential", sa.String(length=400), nullable=False),
        sa.Column("pin_hash", sa.String(length=128), nullable=False),
        sa.Column("replaces_card_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "revocation_reason IS NULL OR revocation_reason IN ('lost', 'stolen', 'deceased', 'fraud', 'reissued')",
            name=op.f("ck_cards_revocation_reason"),
        ),
        sa.CheckConstraint("status IN ('active', 'revoked')", name=op.f("ck_cards_status")),
        sa.ForeignKeyConstraint(
            ["issue_run_id"], ["card_issue_runs.id"], name=op.f("fk_cards_issue_run_id_card_issue_runs")
        ),
        sa.ForeignKeyConstraint(["kid"], ["issuer_keys.kid"], name=op.f("fk_cards_kid_issuer_keys")),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_cards_person_id_persons")),
        sa.ForeignKeyConstraint(
            ["status_list_id"], ["status_lists.id"], name=op.f("fk_cards_status_list_id_status_lists")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
        sa.UniqueConstraint("status_list_id", "status_index", name="uq_cards_status_slot"),
    )
    op.create_index(op.f("ix_cards_issue_run_id"), "cards", ["issue_run_id"], unique=False)
    op.create_index(op.f("ix_cards_person_id"), "cards", ["person_id"], unique=False)
    op.create_index(
        "uq_cards_one_active_per_person",
        "cards",
        ["person_id"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_cards_one_active_per_person",
        table_name="cards",
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_index(op.f("ix_cards_person_id"), table_name="cards")
    op.drop_index(op.f("ix_cards_issue_run_id"), table_name="cards")
    op.drop_table("cards")
    op.drop_table("status_lists")
    op.drop_table("issuer_keys")
    op.drop_table("card_issue_runs")
