"""Programmes: programmes and their versions, eligibility runs and entitlements.

Revision ID: 0005_programs
Revises: 0004_cards
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import carnet.db.base

revision = "0005_programs"
down_revision = "0004_cards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "programs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('draft', 'active', 'closed')", name=op.f("ck_programs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programs")),
        sa.UniqueConstraint("code", name=op.f("uq_programs_code")),
    )
    op.create_table(
        "eligibility_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("program_version", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reference_date", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "regions", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("proposed_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("proposed_by", sa.String(length=120), nullable=False),
        sa.Column("approved_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=120), nullable=True),
        sa.Column("supersedes_run_id", sa.Uuid(), nullable=True),
        sa.Column("units_evaluated", sa.BigInteger(), nullable=False),
        sa.Column("units_eligible", sa.BigInteger(), nullable=False),
        sa.Column("total_quantity", sa.BigInteger(), nullable=False),
        sa.Column("total_value", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cohort_digest", sa.String(length=64), nullable=False),
        sa.Column(
            "preview", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('preview', 'proposed', 'published', 'superseded')", name=op.f("ck_eligibility_runs_status")
        ),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_eligibility_runs_program_id_programs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eligibility_runs")),
    )
    op.create_index("ix_eligibility_runs_program_cycle", "eligibility_runs", ["program_id", "cycle"], unique=False)
    op.create_index(op.f("ix_eligibility_runs_program_id"), "eligibility_runs", ["program_id"], unique=False)
    op.create_table(
        "program_versions",
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "definition", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("rule_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("actor_office", sa.String(length=120), nullable=True),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_program_versions_program_id_programs")),
        sa.PrimaryKeyConstraint("program_id", "version", name=op.f("pk_program_versions")),
    )
    op.create_table(
        "entitlements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("cycle", sa.String(length=7), nullable=False),
        sa.Column("unit", sa.String(length=9), nullable=False),
        sa.Column("unit_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("unit IN ('household', 'person')", name=op.f("ck_entitlements_unit")),
        sa.ForeignKeyConstraint(["program_id"], ["programs.id"], name=op.f("fk_entitlements_program_id_programs")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["eligibility_runs.id"], name=op.f("fk_entitlements_run_id_eligibility_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlements")),
    )
    op.create_index("ix_entitlements_unit_id", "entitlements", ["unit_id"], unique=False)
    op.create_index("uq_entitlements_run_unit", "entitlements", ["run_id", "unit_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_entitlements_run_unit", table_name="entitlements")
    op.drop_index("ix_entitlements_unit_id", table_name="entitlements")
    op.drop_table("entitlements")
    op.drop_table("program_versions")
    op.drop_index(op.f("ix_eligibility_runs_program_id"), table_name="eligibility_runs")
    op.drop_index("ix_eligibility_runs_program_cycle", table_name="eligibility_runs")
    op.drop_table("eligibility_runs")
    op.drop_table("programs")
