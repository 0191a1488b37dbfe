"""Audit log: entries (Merkle leaves), perfect-subtree nodes, the log's size; salted subjects.

Revision ID: 0002_audit_log
Revises: 0001_foundation
"""

import sqlalchemy as sa
from alembic import op

import carnet.db.base

revision = "0002_audit_log"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log_state")),
    )
    state = sa.table("audit_log_state", sa.column("id"), sa.column("size"), sa.column("frontier", sa.LargeBinary))
    op.bulk_insert(state, [{"id": 1, "size": 0, "frontier": b""}])
    op.create_table(
        "audit_entries",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("entry_type", sa.String(length=24), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("access_seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("appended_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["access_seq"], ["access_records.seq"], name=op.f("fk_audit_entries_access_seq_access_records")
        ),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entries_access_seq"), ["access_seq"], unique=False)
    op.create_table(
        "audit_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "position", name=op.f("pk_audit_nodes")),
    )
    with op.batch_alter_table("access_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_salt", sa.LargeBinary(length=16), nullable=True))
        batch_op.add_column(sa.Column("sealed_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("seal_salt", sa.LargeBinary(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_records", schema=None) as batch_op:
        batch_op.drop_column("seal_salt")
        batch_op.drop_column("sealed_until")
        batch_op.drop_column("subject_salt")
    op.drop_table("audit_nodes")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entries_access_seq"))
    op.drop_table("audit_entries")
    op.drop_table("audit_log_state")
