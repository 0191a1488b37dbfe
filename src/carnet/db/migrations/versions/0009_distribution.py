"""Distribution points: points, devices, enrolment codes, escrow, manifests issued, syncs, redemptions, cases.

Revision ID: 0009_distribution
Revises: 0008_sector_keys
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import carnet.db.base

revision = "0009_distribution"
down_revision = "0008_sector_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "distribution_keys",
        sa.Column("kid", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("private_pem", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_distribution_keys")),
    )
    op.create_table(
        "points",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("municipality_code", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('depot', 'pharmacy', 'petrol_station', 'school')", name=op.f("ck_points_kind")),
        sa.CheckConstraint("status IN ('active', 'closed')", name=op.f("ck_points_status")),
        sa.ForeignKeyConstraint(
            ["municipality_code"], ["regions.code"], name=op.f("fk_points_municipality_code_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points")),
        sa.UniqueConstraint("code", name=op.f("uq_points_code")),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("point_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=True),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("box_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("state_reason", sa.String(length=200), nullable=True),
        sa.Column("state_changed_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("compromised", sa.Boolean(), nullable=False),
        sa.Column("enrolled_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("chain_seq", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("last_device_time", sa.BigInteger(), nullable=True),
        sa.Column("last_sync_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('active', 'suspended', 'retired')", name=op.f("ck_devices_state")),
        sa.ForeignKeyConstraint(["point_id"], ["points.id"], name=op.f("fk_devices_point_id_points")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("public_key", name=op.f("uq_devices_public_key")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_point_id"), ["point_id"], unique=False)

    op.create_table(
        "enrolment_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("point_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("used_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("device_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["point_id"], ["points.id"], name=op.f("fk_enrolment_codes_point_id_points")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_enrolment_codes_code_hash")),
    )
    with op.batch_alter_table("enrolment_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrolment_codes_point_id"), ["point_id"], unique=False)

    op.create_table(
        "point_catchments",
        sa.Column("point_id", sa.Uuid(), nullable=False),
        sa.Column("municipality_code", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_code"], ["regions.code"], name=op.f("fk_point_catchments_municipality_code_regions")
        ),
        sa.ForeignKeyConstraint(["point_id"], ["points.id"], name=op.f("fk_point_catchments_point_id_points")),
        sa.PrimaryKeyConstraint("point_id", "municipality_code", name=op.f("pk_point_catchments")),
    )
    with op.batch_alter_table("point_catchments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_point_catchments_municipality_code"), ["municipality_code"], unique=False)

    op.create_table(
        "point_programs",
        sa.Column("point_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("exception_cap", sa.Integer(), nullable=False),
        sa.CheckConstraint("exception_cap >= 0", name=op.f("ck_point_programs_exception_cap")),
        sa.ForeignKeyConstraint(["point_id"], ["points.id"], name=op.f("fk_point_programs_point_id_points")),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_point_programs_program_id_programs")),
        sa.PrimaryKeyConstraint("point_id", "program_id", name=op.f("pk_point_programs")),
    )
    op.create_table(
        "device_syncs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("received_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("forked", sa.Integer(), nullable=False),
        sa.Column("replayed", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_device_syncs_device_id_devices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_syncs")),
    )
    with op.batch_alter_table("device_syncs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_syncs_device_id"), ["device_id"], unique=False)

    op.create_table(
        "escrow",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("entitlement_id", sa.BigInteger(), nullable=False),
        sa.Column("point_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("cycle", sa.String(length=7), nullable=False),
        sa.Column("assigned_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["entitlement_id"], ["entitlements.id"], name=op.f("fk_escrow_entitlement_id_entitlements")
        ),
        sa.ForeignKeyConstraint(["point_id"], ["points.id"], name=op.f("fk_escrow_point_id_points")),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_escrow_program_id_programs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escrow")),
        sa.UniqueConstraint("entitlement_id", name=op.f("uq_escrow_entitlement_id")),
    )
    with op.batch_alter_table("escrow", schema=None) as batch_op:
        batch_op.create_index("ix_escrow_point_cycle", ["point_id", "cycle"], unique=False)

    op.create_table(
        "manifest_issues",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("cycle", sa.String(length=7), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("base", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("not_after", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("through", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("snapshot", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_manifest_issues_device_id_devices")),
        sa.PrimaryKeyConstraint("device_id", "cycle", "version", name=op.f("pk_manifest_issues")),
    )
    op.create_table(
        "point_operators",
        sa.Column("point_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["point_id"], ["points.id"], name=op.f("fk_point_operators_point_id_points")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_point_operators_user_id_users")),
        sa.PrimaryKeyConstraint("point_id", "user_id", name=op.f("pk_point_operators")),
    )
    with op.batch_alter_table("point_operators", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_point_operators_user_id"), ["user_id"], unique=False)

    op.create_table(
        "redemptions",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("point_id", sa.Uuid(), nullable=False),
        sa.Column("sync_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("chain", sa.String(length=8), nullable=False),
        sa.Column("answer", sa.String(length=32), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("program_code", sa.String(length=64), nullable=False),
        sa.Column("cycle", sa.String(length=7), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("device_time", sa.BigInteger(), nullable=False),
        sa.Column("received_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("manifest_version", sa.BigInteger(), nullable=False),
        sa.Column(
            "flags", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("escrow_id", sa.Uuid(), nullable=True),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("exception", sa.Boolean(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("settlement", sa.String(length=8), nullable=False),
        sa.CheckConstraint("chain IN ('accepted', 'forked', 'refused')", name=op.f("ck_redemptions_chain")),
        sa.CheckConstraint("settlement IN ('none', 'pending', 'settled')", name=op.f("ck_redemptions_settlement")),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_redemptions_device_id_devices")),
        sa.ForeignKeyConstraint(["escrow_id"], ["escrow.id"], name=op.f("fk_redemptions_escrow_id_escrow")),
        sa.ForeignKeyConstraint(["point_id"], ["points.id"], name=op.f("fk_redemptions_point_id_points")),
        sa.ForeignKeyConstraint(["sync_id"], ["device_syncs.id"], name=op.f("fk_redemptions_sync_id_device_syncs")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_redemptions")),
        sa.UniqueConstraint("hash", name=op.f("uq_redemptions_hash")),
    )
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.create_index("ix_redemptions_device_seq", ["device_id", "seq"], unique=False)
        batch_op.create_index("ix_redemptions_escrow_id", ["escrow_id"], unique=False)
        batch_op.create_index("ix_redemptions_person_id", ["person_id"], unique=False)
        batch_op.create_index("ix_redemptions_point_cycle", ["point_id", "cycle"], unique=False)
        batch_op.create_index(batch_op.f("ix_redemptions_sync_id"), ["sync_id"], unique=False)

    op.create_table(
        "distribution_cases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("point_id", sa.Uuid(), nullable=False),
        sa.Column("program_code", sa.String(length=64), nullable=False),
        sa.Column("cycle", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column(
            "detail", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("opened_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=120), nullable=True),
        sa.Column("resolution", sa.String(length=400), nullable=True),
        sa.CheckConstraint(
            "kind IN ('over_entitlement', 'not_entitled', 'exception_over_cap', 'wrong_point', 'card_revoked', 'card_unknown', 'manifest_expired', 'chain_forked', 'device_suspended')",
            name=op.f("ck_distribution_cases_kind"),
        ),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_distribution_cases_status")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["redemptions.event_id"], name=op.f("fk_distribution_cases_event_id_redemptions")
        ),
        sa.ForeignKeyConstraint(["point_id"], ["points.id"], name=op.f("fk_distribution_cases_point_id_points")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_distribution_cases")),
    )
    with op.batch_alter_table("distribution_cases", schema=None) as batch_op:
        batch_op.create_index("ix_distribution_cases_cycle_status", ["cycle", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_distribution_cases_event_id"), ["event_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("distribution_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_distribution_cases_event_id"))
        batch_op.drop_index("ix_distribution_cases_cycle_status")

    op.drop_table("distribution_cases")
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_redemptions_sync_id"))
        batch_op.drop_index("ix_redemptions_point_cycle")
        batch_op.drop_index("ix_redemptions_person_id")
        batch_op.drop_index("ix_redemptions_escrow_id")
        batch_op.drop_index("ix_redemptions_device_seq")

    op.drop_table("redemptions")
    with op.batch_alter_table("point_operators", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_point_operators_user_id"))

    op.drop_table("point_operators")
    op.drop_table("manifest_issues")
    with op.batch_alter_table("escrow", schema=None) as batch_op:
        batch_op.drop_index("ix_escrow_point_cycle")

    op.drop_table("escrow")
    with op.batch_alter_table("device_syncs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_syncs_device_id"))

    op.drop_table("device_syncs")
    op.drop_table("point_programs")
    with op.batch_alter_table("point_catchments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_point_catchments_municipality_code"))

    op.drop_table("point_catchments")
    with op.batch_alter_table("enrolment_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolment_codes_point_id"))

    op.drop_table("enrolment_codes")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_point_id"))

    op.drop_table("devices")
    op.drop_table("points")
    op.drop_table("distribution_keys")
