"""The store's passphrase verifier: every private key of a store is encrypted under one passphrase.

A store that already holds encrypted keys gets one of them as a `legacy-pem` probe, so that the
first passphrase that opens it (and only that one) becomes the store's; a store without keys gets
no row, and its first key operation initialises the verifier.

Revision ID: 0007_store_keys
Revises: 0005_programs (0006_accounts once merged)
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import carnet.db.base

revision = "0007_store_keys"
down_revision = "0006_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_key_verifier",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("params", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=True),
        sa.Column("nonce", sa.LargeBinary(length=12), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('scrypt-aesgcm', 'legacy-pem')", name=op.f("ck_store_key_verifier_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_key_verifier")),
    )
    connection = op.get_bind()
    probe = connection.execute(
        sa.text(
            "SELECT private_pem FROM audit_keys WHERE private_pem IS NOT NULL "
            "UNION ALL SELECT private_pem FROM issuer_keys LIMIT 1"
        )
    ).first()
    if probe is not None:
        table = sa.table(
            "store_key_verifier",
            sa.column("id", sa.Integer()),
            sa.column("kind", sa.String()),
            sa.column("params", sa.String()),
            sa.column("ciphertext", sa.LargeBinary()),
            sa.column("created_at", carnet.db.base.UTCDateTime(timezone=True)),
        )
        row = {"id": 1, "kind": "legacy-pem", "params": "pkcs8", "ciphertext": bytes(probe[0]),
               "created_at": datetime.now(UTC)}  # fmt: skip
        op.bulk_insert(table, [row])


def downgrade() -> None:
    op.drop_table("store_key_verifier")
