"""Signed tree heads, the keys that sign them and witness countersignatures.

Revision ID: 0003_tree_heads
Revises: 0002_audit_log
"""

import sqlalchemy as sa
from alembic import op

import carnet.db.base

revision = "0003_tree_heads"
down_revision = "0002_audit_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_keys",
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("private_pem", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('log', 'witness')", name=op.f("ck_audit_keys_role")),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_audit_keys")),
    )
    op.create_table(
        "tree_heads",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("signed_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.ForeignKeyConstraint(["kid"], ["audit_keys.kid"], name=op.f("fk_tree_heads_kid_audit_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tree_heads")),
    )
    with op.batch_alter_table("tree_heads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tree_heads_size"), ["size"], unique=False)
    op.create_table(
        "head_witnesses",
        sa.Column("head_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.Column("witnessed_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["head_id"], ["tree_heads.id"], name=op.f("fk_head_witnesses_head_id_tree_heads")),
        sa.ForeignKeyConstraint(["kid"], ["audit_keys.kid"], name=op.f("fk_head_witnesses_kid_audit_keys")),
        sa.PrimaryKeyConstraint("head_id", "kid", name=op.f("pk_head_witnesses")),
    )


def downgrade() -> None:
    op.drop_table("head_witnesses")
    with op.batch_alter_table("tree_heads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tree_heads_size"))
    op.drop_table("tree_heads")
    op.drop_table("audit_keys")
