"""The wallet ledger: accounts with their four totals, immutable transfers, pending resolutions, batches.

Revision ID: 0010_ledger
Revises: 0009_distribution
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import carnet.db.base

revision = "0010_ledger"
down_revision = "0009_distribution"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ledger", sa.Integer(), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=96), nullable=False),
        sa.Column(
            "flags", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("debits_pending", sa.BigInteger(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_pending", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('programme_fund', 'wallet', 'merchant', 'settlement_bank', 'suspense')",
            name=op.f("ck_ledger_accounts_kind"),
        ),
        sa.CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0",
            name=op.f("ck_ledger_accounts_totals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
    )
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_accounts_kind_holder", ["kind", "holder"], unique=False)

    op.create_table(
        "ledger_batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("received_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.String(length=120), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_batches")),
    )
    op.create_table(
        "ledger_transfers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("debit_account_id", sa.Uuid(), nullable=False),
        sa.Column("credit_account_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("pending_id", sa.Uuid(), nullable=True),
        sa.Column("ledger", sa.Integer(), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column(
            "flags", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("timestamp", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_ledger_transfers_amount")),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["ledger_batches.id"], name=op.f("fk_ledger_transfers_batch_id_ledger_batches")
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_credit_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["debit_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_transfers_debit_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transfers")),
    )
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_transfers_credit", ["credit_account_id", "timestamp"], unique=False)
        batch_op.create_index("ix_ledger_transfers_debit", ["debit_account_id", "timestamp"], unique=False)
        batch_op.create_index("ix_ledger_transfers_pending_id", ["pending_id"], unique=False)

    op.create_table(
        "ledger_resolutions",
        sa.Column("pending_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("transfer_id", sa.Uuid(), nullable=True),
        sa.Column("timestamp", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('posted', 'voided', 'expired')", name=op.f("ck_ledger_resolutions_status")),
        sa.ForeignKeyConstraint(
            ["pending_id"], ["ledger_transfers.id"], name=op.f("fk_ledger_resolutions_pending_id_ledger_transfers")
        ),
        sa.PrimaryKeyConstraint("pending_id", name=op.f("pk_ledger_resolutions")),
    )


def downgrade() -> None:
    op.drop_table("ledger_resolutions")
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_transfers_pending_id")
        batch_op.drop_index("ix_ledger_transfers_debit")
        batch_op.drop_index("ix_ledger_transfers_credit")

    op.drop_table("ledger_transfers")
    op.drop_table("ledger_batches")
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_accounts_kind_holder")

    op.drop_table("ledger_accounts")
