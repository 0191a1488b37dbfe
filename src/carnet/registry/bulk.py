"""Set-based bulk writes of checked persons: a staging table per batch, then INSERT ... SELECT.

PostgreSQL loads the staging table with COPY, SQLite with executemany; everything after that is the
same SQL on both. Nothing here loops over ORM objects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carnet.kit.ids import Uuid7Sequence
from carnet.registry.dictionary import AttributeDictionary
from carnet.registry.validation import PersonDraft

STAGE_COLUMNS = (
    "row_number",
    "id",
    "given_names",
    "family_names",
    "name_key",
    "date_of_birth",
    "sex",
    "national_id",
    "phone",
    "region_code",
    "municipality_code",
    "address_line",
    "household_ref",
    "household_new_id",
    "relationship",
    "fingerprint",
)
ATTR_COLUMNS = ("person_id", "name", "value_int", "value_bool", "value_text", "value_date", "recorded_at")
PERSON_COLUMNS = (
    "id, given_names, family_names, name_key, date_of_birth, sex, national_id, phone, region_code, "
    "municipality_code, address_line, household_id, relationship, fingerprint"
)
STAGE_PERSON_COLUMNS = (
    "s.id, s.given_names, s.family_names, s.name_key, s.date_of_birth, s.sex, s.national_id, s.phone, "
    "s.region_code, s.municipality_code, s.address_line, h.id, s.relationship, s.fingerprint"
)
# PostgreSQL binary COPY needs the type of each column (it skips text formatting and parsing).
COPY_TYPES = {
    "import_stage": ("int4", "uuid", "varchar", "varchar", "varchar", "date", "varchar", "varchar", "varchar",
                     "varchar", "varchar", "varchar", "varchar", "uuid", "varchar", "varchar"),
    "person_attributes": ("uuid", "varchar", "int8", "bool", "varchar", "date", "timestamptz"),
}  # fmt: skip


@dataclass(frozen=True)
class StagedReject:
    """A row refused by a check that needs the database (a cédula or a head already taken)."""

    row_number: int
    field: str
    code: str
    message: str


@dataclass
class BatchResult:
    """What writing one batch did."""

    inserted_ids: list[uuid.UUID]
    households_created: int
    rejects: list[StagedReject]


class PersonBatchWriter:
    """Writes batches of checked persons for one import inside the caller's transaction."""

    def __init__(self, session: Session, *, import_id: uuid.UUID, dictionary: AttributeDictionary, now: datetime):
        self.session = session
        self.import_id = import_id
        self.dictionary = dictionary
        self.now = now
        self.dialect = session.get_bind().dialect.name
        self.sqlite = self.dialect == "sqlite"
        # Increasing ids: the persons of one import sort in file order, and the cohort digest streams.
        self.ids = Uuid7Sequence()
        self._create_stage_tables()

    # Values as each driver stores them for SQLAlchemy's Uuid, Date and UTCDateTime types.
    def _uuid(self, value: uuid.UUID | None) -> Any:
        if value is None:
            return None
        return value.hex if self.sqlite else value

    def _date(self, value: date | None) -> Any:
        if value is None:
            return None
        return value.isoformat() if self.sqlite else value

    def _ts(self, value: datetime) -> Any:
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ") if self.sqlite else value

    def _create_stage_tables(self) -> None:
        uuid_type = "CHAR(32)" if self.sqlite else "UUID"
        temp = "TEMP TABLE" if self.sqlite else "TEMP TABLE IF NOT EXISTS"
        self.session.execute(text("DROP TABLE IF EXISTS import_stage"))
        self.session.execute(
            text(
                f"""CREATE {temp} import_stage (
                row_number INTEGER PRIMARY KEY, id {uuid_type} NOT NULL, given_names VARCHAR(120),
                family_names VARCHAR(120), name_key VARCHAR(241), date_of_birth DATE, sex VARCHAR(1),
                national_id VARCHAR(12), phone VARCHAR(20), region_code VARCHAR(16),
                municipality_code VARCHAR(16), address_line VARCHAR(200), household_ref VARCHAR(64),
                household_new_id {uuid_type}, relationship VARCHAR(16), fingerprint VARCHAR(64),
                reject_code VARCHAR(32))"""
            )
        )
        for statement in (
            "CREATE INDEX import_stage_nid ON import_stage (national_id)",
            "CREATE INDEX import_stage_hh ON import_stage (household_ref, relationship)",
        ):
            self.session.execute(text(statement))

    def close(self) -> None:
        """Drop the staging tables."""
        self.session.execute(text("DROP TABLE IF EXISTS import_stage"))

    def write(self, batch: list[tuple[int, PersonDraft]]) -> BatchResult:
        """Stage one batch and move its acceptable rows into households, persons and attributes."""
        if not batch:
            return BatchResult([], 0, [])
        ids = self.ids.take(len(batch))
        refs = sorted({d.household_ref for _, d in batch if d.household_ref})
        household_ids = dict(zip(refs, self.ids.take(len(refs)), strict=True))
        as_uuid, as_date = self._uuid, self._date
        rows = [
            (
                row_number,
                as_uuid(pid),
                draft.given_names,
                draft.family_names,
                draft.name_key,
                as_date(draft.date_of_birth),
                draft.sex,
                draft.national_id,
                draft.phone,
                draft.region_code,
                draft.municipality_code,
                draft.address_line,
                draft.household_ref,
                as_uuid(household_ids[draft.household_ref]) if draft.household_ref else None,
                draft.relationship,
                draft.fingerprint,
            )
            for (row_number, draft), pid in zip(batch, ids, strict=True)
        ]
        self.session.execute(text("DELETE FROM import_stage"))
        self._load("import_stage", STAGE_COLUMNS, rows)
        households_created, rejects = self._merge()
        inserted = [self._from_db_uuid(v) for v in self.session.execute(
            text("SELECT s.id FROM import_stage s JOIN persons p ON p.id = s.id ORDER BY s.id")
        ).scalars()]  # fmt: skip
        self._write_attributes(batch, ids, set(inserted))
        return BatchResult(inserted_ids=inserted, households_created=households_created, rejects=rejects)

    def _from_db_uuid(self, value: Any) -> uuid.UUID:
        return uuid.UUID(hex=value) if isinstance(value, str) else value

    def _write_attributes(self, batch, ids, inserted: set[uuid.UUID]) -> None:
        # Only new persons get attributes: they have no values yet, so a plain insert cannot clash.
        column_of = {name: spec.value_column for name, spec in self.dictionary.attributes.items()}
        as_uuid, as_date, now = self._uuid, self._date, self._ts(self.now)
        position = {c: i for i, c in enumerate(ATTR_COLUMNS)}
        rows = []
        for (_, draft), pid in zip(batch, ids, strict=True):
            if pid not in inserted or not draft.attributes:
                continue
            key = as_uuid(pid)
            for name, value in draft.attributes.items():
                row = [key, name, None, None, None, None, now]
                column = column_of[name]
                row[position[column]] = as_date(value) if column == "value_date" else value
                rows.append(tuple(row))
        self._load("person_attributes", ATTR_COLUMNS, rows)

    def _load(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        raw = self.session.connection().connection.driver_connection
        if self.sqlite:
            marks = ", ".join("?" * len(columns))
            raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            return
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(list(COPY_TYPES[table]))
            for row in rows:
                copy.write_row(row)
        if table == "import_stage":
            # A temporary table has no statistics until analysed; the merge's plans depend on them.
            raw.execute("ANALYZE import_stage")

    def _merge(self) -> tuple[int, list[StagedReject]]:
        execute = self.session.execute
        params = {"import_id": self._uuid(self.import_id), "now": self._ts(self.now)}
        created = execute(
            text(
                """INSERT INTO households (id, external_ref, region_code, municipality_code, address_line,
                       version, import_id, created_at, updated_at)
                   SELECT s.household_new_id, s.household_ref, s.region_code, s.municipality_code,
                       s.address_line, 1, :import_id, :now, :now
                   FROM import_stage s
                   WHERE s.row_number IN (SELECT MIN(row_number) FROM import_stage
                                          WHERE household_ref IS NOT NULL GROUP BY household_ref)
                   ON CONFLICT (external_ref) DO NOTHING"""
            ),
            params,
        ).rowcount
        # A second head for a household that has one (earlier file, earlier row) is refused.
        execute(
            text(
                """UPDATE import_stage SET reject_code = 'household_has_head'
                   WHERE relationship = 'head' AND (
                     EXISTS (SELECT 1 FROM households h JOIN persons p ON p.id = h.head_person_id
                             WHERE h.external_ref = import_stage.household_ref
                               AND p.fingerprint <> import_stage.fingerprint)
                     OR EXISTS (SELECT 1 FROM import_stage s2
                                WHERE s2.household_ref = import_stage.household_ref
                                  AND s2.relationship = 'head'
                                  AND s2.row_number < import_stage.row_number
                                  AND s2.fingerprint <> import_stage.fingerprint))"""
            )
        )
        # The same cédula on a different person (in the registry or earlier in the file) is refused.
        execute(
            text(
                """UPDATE import_stage SET reject_code = 'duplicate_national_id'
                   WHERE national_id IS NOT NULL AND reject_code IS NULL AND (
                     EXISTS (SELECT 1 FROM persons p WHERE p.national_id = import_stage.national_id
                               AND p.fingerprint <> import_stage.fingerprint)
                     OR EXISTS (SELECT 1 FROM import_stage s2
                                WHERE s2.national_id = import_stage.national_id
                                  AND s2.row_number < import_stage.row_number
                                  AND s2.fingerprint <> import_stage.fingerprint))"""
            )
        )
        execute(
            text(
                f"""INSERT INTO persons ({PERSON_COLUMNS}, version, import_id, import_row, created_at, updated_at)
                    SELECT {STAGE_PERSON_COLUMNS}, 1, :import_id, s.row_number, :now, :now
                    FROM import_stage s LEFT JOIN households h ON h.external_ref = s.household_ref
                    WHERE s.reject_code IS NULL
                    ORDER BY s.row_number
                    ON CONFLICT DO NOTHING"""
            ),
            params,
        )
        execute(
            text(
                """UPDATE households SET head_person_id = s.id
                   FROM import_stage s JOIN persons p ON p.id = s.id
                   WHERE s.household_ref = households.external_ref AND s.relationship = 'head'
                     AND households.head_person_id IS NULL"""
            )
        )
        rejects = [
            StagedReject(
                row_number=row_number,
                field="national_id" if code == "duplicate_national_id" else "relationship",
                code=code,
                message=(
                    f"cédula {national_id} is already registered to another person"
                    if code == "duplicate_national_id"
                    else "the household already has a head"
                ),
            )
            for row_number, code, national_id in execute(
                text(
                    """SELECT row_number, reject_code, national_id FROM import_stage
                       WHERE reject_code IS NOT NULL ORDER BY row_number"""
                )
            )
        ]
        return created, rejects

    def record_history(self, *, actor_user_id: uuid.UUID | None, actor_role: str, reason: str) -> None:
        """One history row per person and household this import created, in one statement each."""
        params = {
            "import_id": self._uuid(self.import_id),
            "now": self._ts(self.now),
            "actor": self._uuid(actor_user_id),
            "role": actor_role,
            "reason": reason,
        }
        for table, entity in (("persons", "person"), ("households", "household")):
            self.session.execute(
                text(
                    f"""INSERT INTO record_changes (entity_type, entity_id, version, operation, changes, reason,
                           actor_user_id, actor_role, import_id, changed_at)
                       SELECT '{entity}', id, 1, 'import', NULL, :reason, :actor, :role, :import_id, :now
                       FROM {table} WHERE import_id = :import_id"""
                ),
                params,
            )
