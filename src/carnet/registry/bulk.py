"""Set-based bulk writes of checked persons: a staging table per batch, then INSERT ... SELECT.

PostgreSQL loads the staging table with binary COPY, SQLite with executemany; everything after that is
the same SQL on both. Attribute values travel in typed staging columns (one per declared attribute) and
reach person_attributes by one INSERT ... SELECT per attribute. Nothing here loops over ORM objects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carnet.kit.ids import Uuid7Sequence
from carnet.registry.staging import HOUSEHOLD_REF, StageLayout

PERSON_COLUMNS = (
    "id, given_names, family_names, name_key, date_of_birth, sex, national_id, phone, region_code, "
    "municipality_code, address_line, household_id, relationship, fingerprint"
)
STAGE_PERSON_COLUMNS = (
    "s.id, s.given_names, s.family_names, s.name_key, s.date_of_birth, s.sex, s.national_id, s.phone, "
    "s.region_code, s.municipality_code, s.address_line, h.id, s.relationship, s.fingerprint"
)


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

    inserted_ids: list[bytes]  # 16 bytes each, ascending
    households_created: int
    rejects: list[StagedReject]


class PersonBatchWriter:
    """Writes batches of checked persons for one import inside the caller's transaction."""

    def __init__(
        self,
        session: Session,
        *,
        import_id: uuid.UUID,
        layout: StageLayout,
        now: datetime,
    ):
        self.session = session
        self.layout = layout
        self.sqlite = layout.sqlite
        # Increasing ids: the persons of one import sort in file order, and the cohort digest streams.
        self.ids = Uuid7Sequence()
        self.params = {
            "import_id": self._uuid(import_id),
            "now": self._ts(now),
        }
        self.session.execute(text("DROP TABLE IF EXISTS import_stage"))
        self.session.execute(text(layout.create_sql("TEMP TABLE")))
        self.session.execute(text("CREATE INDEX import_stage_nid ON import_stage (national_id)"))
        self.session.execute(text("CREATE INDEX import_stage_hh ON import_stage (household_ref, relationship)"))

    # Values as each driver stores them for SQLAlchemy's Uuid and UTCDateTime types.
    def _uuid(self, value: uuid.UUID | None) -> Any:
        if value is None:
            return None
        return value.hex if self.sqlite else value

    def _db_id(self, value: int) -> Any:
        # SQLAlchemy's Uuid is CHAR(32) hex on SQLite and a native uuid on PostgreSQL.
        return f"{value:032x}" if self.sqlite else uuid.UUID(int=value)

    def _ts(self, value: datetime) -> Any:
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ") if self.sqlite else value

    def close(self) -> None:
        """Drop the staging table."""
        self.session.execute(text("DROP TABLE IF EXISTS import_stage"))

    def write(self, batch: list[tuple[int, tuple]]) -> BatchResult:
        """Stage one batch of (row number, StageLayout values) and move it into the registry tables."""
        if not batch:
            return BatchResult([], 0, [])
        as_db = self._db_id
        ids = self.ids.take_ints(len(batch))
        refs = sorted({values[HOUSEHOLD_REF] for _, values in batch if values[HOUSEHOLD_REF]})
        household_ids = {ref: as_db(hid) for ref, hid in zip(refs, self.ids.take_ints(len(refs)), strict=True)}
        rows = [
            (row_number, as_db(pid), household_ids.get(values[HOUSEHOLD_REF]), *values)
            for (row_number, values), pid in zip(batch, ids, strict=True)
        ]
        # TRUNCATE gives PostgreSQL a clean table instead of dead rows to skip; SQLite has no TRUNCATE.
        self.session.execute(text("DELETE FROM import_stage" if self.sqlite else "TRUNCATE import_stage"))
        self._load(rows)
        households_created, rejects = self._merge()
        found = self.session.execute(
            text("SELECT s.id FROM import_stage s JOIN persons p ON p.id = s.id ORDER BY s.id")
        ).scalars()
        inserted = [bytes.fromhex(v) for v in found] if self.sqlite else [v.bytes for v in found]
        return BatchResult(inserted_ids=inserted, households_created=households_created, rejects=rejects)

    def _load(self, rows: list[tuple]) -> None:
        raw = self.session.connection().connection.driver_connection
        columns = ", ".join(self.layout.columns)
        if self.sqlite:
            marks = ", ".join("?" * len(self.layout.columns))
            raw.executemany(f"INSERT INTO import_stage ({columns}) VALUES ({marks})", rows)
            return
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY import_stage ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(list(self.layout.copy_types))
            for row in rows:
                copy.write_row(row)
        # A temporary table has no statistics until analysed; the merge's plans depend on them.
        raw.execute("ANALYZE import_stage")

    def _merge(self) -> tuple[int, list[StagedReject]]:
        execute, params = self.session.execute, self.params
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
        # Only the persons this batch created get attribute values: they have none yet, so no clash.
        for column, name, _, value_column in self.layout.attributes:
            execute(
                text(
                    f"""INSERT INTO person_attributes (person_id, name, {value_column}, recorded_at)
                        SELECT s.id, :name, s.{column}, :now
                        FROM import_stage s JOIN persons p ON p.id = s.id
                        WHERE s.{column} IS NOT NULL"""
                ),
                params | {"name": name},
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
