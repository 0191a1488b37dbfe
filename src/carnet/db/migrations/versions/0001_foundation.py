"""Foundation: regions, households, persons, attribute dictionary, history, imports, users, access records.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-29 11:06:17.556958
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import carnet.db.base

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None


def _head_fk_inline() -> list:
    # SQLite accepts a key to a table created later and cannot add one afterwards.
    if op.get_bind().dialect.name == "sqlite":
        return [
            sa.ForeignKeyConstraint(["head_person_id"], ["persons.id"], name="fk_households_head_person_id_persons")
        ]
    return []


def upgrade() -> None:
    op.create_table(
        "access_records",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("occurred_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=24), nullable=False),
        sa.Column("actor_office", sa.String(length=120), nullable=True),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column(
            "fields",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("cohort_ref", sa.String(length=80), nullable=True),
        sa.Column("cohort_size", sa.Integer(), nullable=True),
        sa.Column("cohort_digest", sa.String(length=64), nullable=True),
        sa.CheckConstraint("action IN ('read', 'create', 'update', 'import')", name=op.f("ck_access_records_action")),
        sa.CheckConstraint(
            "subject_type IN ('person', 'household', 'cohort')", name=op.f("ck_access_records_subject_type")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_access_records")),
    )
    with op.batch_alter_table("access_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_records_cohort_ref"), ["cohort_ref"], unique=False)
        batch_op.create_index("ix_access_records_subject", ["subject_id", "seq"], unique=False)

    op.create_table(
        "attribute_dictionary_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("loaded_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_attribute_dictionary_versions")),
    )
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_format", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_imported", sa.Integer(), nullable=False),
        sa.Column("rows_already_present", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("households_created", sa.Integer(), nullable=False),
        sa.Column("rejects_path", sa.String(length=500), nullable=True),
        sa.Column(
            "reject_sample",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "reject_counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=24), nullable=False),
        sa.Column("region_scope", sa.String(length=16), nullable=True),
        sa.Column("started_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
    )
    op.create_table(
        "record_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("entity_type", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column(
            "changes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=24), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=True),
        sa.Column("changed_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("operation IN ('create', 'update', 'import')", name=op.f("ck_record_changes_operation")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_changes")),
    )
    with op.batch_alter_table("record_changes", schema=None) as batch_op:
        batch_op.create_index("ix_record_changes_entity", ["entity_type", "entity_id", "version"], unique=False)

    op.create_table(
        "regions",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=16), nullable=True),
        sa.Column("population", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("level IN ('state', 'municipality')", name=op.f("ck_regions_level")),
        sa.ForeignKeyConstraint(["parent_code"], ["regions.code"], name=op.f("fk_regions_parent_code_regions")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_regions")),
    )
    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_regions_parent_code"), ["parent_code"], unique=False)

    op.create_table(
        "attribute_definitions",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("sensitivity", sa.String(length=16), nullable=False),
        sa.Column(
            "purposes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "enum_values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("minimum", sa.BigInteger(), nullable=True),
        sa.Column("maximum", sa.BigInteger(), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("dictionary_version", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "sensitivity IN ('personal', 'sensitive')", name=op.f("ck_attribute_definitions_sensitivity")
        ),
        sa.CheckConstraint(
            "type IN ('integer', 'boolean', 'enum', 'date')", name=op.f("ck_attribute_definitions_type")
        ),
        sa.ForeignKeyConstraint(
            ["dictionary_version"],
            ["attribute_dictionary_versions.version"],
            name=op.f("fk_attribute_definitions_dictionary_version_attribute_dictionary_versions"),
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_attribute_definitions")),
    )
    op.create_table(
        "households",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("external_ref", sa.String(length=64), nullable=True),
        sa.Column("head_person_id", sa.Uuid(), nullable=True),
        sa.Column("region_code", sa.String(length=16), nullable=False),
        sa.Column("municipality_code", sa.String(length=16), nullable=True),
        sa.Column("address_line", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        *_head_fk_inline(),
        sa.ForeignKeyConstraint(
            ["municipality_code"], ["regions.code"], name=op.f("fk_households_municipality_code_regions")
        ),
        sa.ForeignKeyConstraint(["region_code"], ["regions.code"], name=op.f("fk_households_region_code_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_households_external_ref")),
    )
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.create_index("ix_households_region_code_id", ["region_code", "id"], unique=False)

    op.create_table(
        "persons",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("given_names", sa.String(length=120), nullable=False),
        sa.Column("family_names", sa.String(length=120), nullable=False),
        sa.Column("name_key", sa.String(length=241), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("national_id", sa.String(length=12), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("region_code", sa.String(length=16), nullable=False),
        sa.Column("municipality_code", sa.String(length=16), nullable=True),
        sa.Column("address_line", sa.String(length=200), nullable=True),
        sa.Column("household_id", sa.Uuid(), nullable=True),
        sa.Column("relationship", sa.String(length=16), nullable=True),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=True),
        sa.Column("import_row", sa.Integer(), nullable=True),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "relationship IN ('head', 'spouse', 'child', 'parent', 'sibling', 'grandchild', 'grandparent', 'other_relative', 'non_relative')",
            name=op.f("ck_persons_relationship"),
        ),
        sa.CheckConstraint("sex IN ('F', 'M', 'X')", name=op.f("ck_persons_sex")),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name=op.f("fk_persons_household_id_households")),
        sa.ForeignKeyConstraint(
            ["municipality_code"], ["regions.code"], name=op.f("fk_persons_municipality_code_regions")
        ),
        sa.ForeignKeyConstraint(["region_code"], ["regions.code"], name=op.f("fk_persons_region_code_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_persons_fingerprint")),
        sa.UniqueConstraint("national_id", name=op.f("uq_persons_national_id")),
    )
    if op.get_bind().dialect.name != "sqlite":
        # households and persons point at each other; PostgreSQL needs the second key added later.
        op.create_foreign_key(
            "fk_households_head_person_id_persons", "households", "persons", ["head_person_id"], ["id"]
        )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_persons_household_id"), ["household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_persons_name_key"), ["name_key"], unique=False)
        batch_op.create_index("ix_persons_region_code_id", ["region_code", "id"], unique=False)

    op.create_table(
        "person_attributes",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value_int", sa.BigInteger(), nullable=True),
        sa.Column("value_bool", sa.Boolean(), nullable=True),
        sa.Column("value_text", sa.String(length=64), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("recorded_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["name"],
            ["attribute_definitions.name"],
            name=op.f("fk_person_attributes_name_attribute_definitions"),
        ),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_person_attributes_person_id_persons")),
        sa.PrimaryKeyConstraint("person_id", "name", name=op.f("pk_person_attributes")),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=16), nullable=True),
        sa.Column("office", sa.String(length=120), nullable=True),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'registrar', 'program_officer', 'agent', 'auditor', 'merchant', 'citizen')",
            name=op.f("ck_users_role"),
        ),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_users_person_id_persons")),
        sa.ForeignKeyConstraint(["region_code"], ["regions.code"], name=op.f("fk_users_region_code_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", carnet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", carnet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_households_head_person_id_persons", "households", type_="foreignkey")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))

    op.drop_table("web_sessions")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    op.drop_table("users")

    op.drop_table("person_attributes")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index("ix_persons_region_code_id")
        batch_op.drop_index(batch_op.f("ix_persons_name_key"))
        batch_op.drop_index(batch_op.f("ix_persons_household_id"))

    op.drop_table("persons")
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_index("ix_households_region_code_id")

    op.drop_table("households")
    op.drop_table("attribute_definitions")
    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_regions_parent_code"))

    op.drop_table("regions")
    with op.batch_alter_table("record_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_record_changes_entity")

    op.drop_table("record_changes")
    op.drop_table("import_runs")
    op.drop_table("attribute_dictionary_versions")
    with op.batch_alter_table("access_records", schema=None) as batch_op:
        batch_op.drop_index("ix_access_records_subject")
        batch_op.drop_index(batch_op.f("ix_access_records_cohort_ref"))

    op.drop_table("access_records")
