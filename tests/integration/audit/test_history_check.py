"""Tamper evidence for what people read (finding 10, item 6 of issue 10): each history table, rewritten with
raw SQL, is named by the check (table, row, field) and the person's access log shows what the log signed."""

from __future__ import annotations

import csv
import json
import sqlite3
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Uuid, bindparam, func, select, text, update

from carnet.audit.models import AccessRecord
from carnet.audit.service import verify_log
from carnet.flows.history_check import check_history
from carnet.kit.actor import Actor
from carnet.programs import service as programs
from carnet.programs.definition import parse_definition
from carnet.programs.models import EligibilityRun, Entitlement
from carnet.registry import service as registry
from carnet.registry.importer import run_import
from carnet.registry.models import RecordChange
from carnet.registry.schemas import PersonIn, PersonPatch
from carnet.registry.seed import COLUMNS, PopulationGenerator
from tests.integration.audit.conftest import PASSPHRASE, carnet

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 29)
EXAMPLES = Path(programs.__file__).parent / "data"


def officer(name: str) -> Actor:
    return Actor(user_id=uuid.uuid5(uuid.NAMESPACE_DNS, name), role="program_officer", request_id="t",
                 purpose="eligibility", office="Ministerio")  # fmt: skip


@pytest.fixture()
def history(session, registrar, tmp_path):
    """A person created and corrected, an import, and a published run superseded by another."""
    person = registry.create_person(session, actor=registrar, now=NOW, today=TODAY, data=PersonIn(
        given_names="Ana", family_names="Gil Paz", date_of_birth="1980-02-03", region_code="VE-A"))  # fmt: skip
    registry.update_person(session, actor=registrar, person_id=person["id"], today=TODAY, now=NOW,
                           patch=PersonPatch(reason="corrección de apellido", family_names="Gil Pazos"))  # fmt: skip
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(PopulationGenerator(5, today=TODAY).people(120))
    run_import(session, actor=registrar, path=path, today=TODAY, now=NOW)
    definition = parse_definition((EXAMPLES / "food_box.yaml").read_text("utf-8"), source="food_box")
    programs.apply_program(session, actor=officer("ana"), definition=definition, passphrase=PASSPHRASE, now=NOW)
    first = programs.evaluate_cycle(session, actor=officer("ana"), code="food_box", cycle="2026-12", now=NOW,
                                    persist=True)  # fmt: skip
    programs.approve_run(session, actor=officer("luis"), run_id=first.id, now=NOW)
    second = programs.evaluate_cycle(session, actor=officer("ana"), code="food_box", cycle="2026-12", now=NOW,
                                     persist=True, supersede=True)  # fmt: skip
    programs.approve_run(session, actor=officer("luis"), run_id=second.id, now=NOW, supersede=True)
    session.flush()
    return {"person": person["id"], "first": first, "second": second}


def sql(session, statement: str, **params) -> None:
    """Run raw SQL as an insider with database access would; uuids bound as each backend stores them."""
    bound = text(statement).bindparams(*(bindparam(k, type_=Uuid()) for k, v in params.items()
                                         if isinstance(v, uuid.UUID)))  # fmt: skip
    session.execute(bound, params)


def mismatch(session):
    session.expire_all()
    assert verify_log(session).ok  # the log itself is intact: only the tables were rewritten
    found = check_history(session).mismatch
    assert found is not None
    return found.table, found.row, found.field


class TestHistoryCheck:
    def test_an_untouched_store_passes_and_every_table_was_checked(self, session, history):
        result = check_history(session)
        assert result.ok, result.mismatch
        assert result.checked["record_changes"] >= 2 and result.checked["eligibility_runs"] == 2
        assert result.checked["program_versions"] == 1
        assert result.checked["entitlements"] >= 2 * history["second"].units_eligible > 0

    def test_a_rewritten_access_record_is_named_and_the_person_sees_the_signed_purpose(self, session, history,
                                                                                      registrar):  # fmt: skip
        seq = session.scalar(select(func.min(AccessRecord.seq)).where(AccessRecord.subject_id == history["person"]))
        session.execute(text("UPDATE access_records SET purpose = 'eligibility' WHERE seq = :s"), {"s": seq})
        assert mismatch(session) == ("access_records", str(seq), "purpose")
        log = registry.access_log(session, actor=registrar, person_id=history["person"], now=NOW)
        (altered,) = [item for item in log["entries"] if not item["verified"]]
        assert altered["mismatch"] == "purpose" and altered["purpose"] == "registration"

    @pytest.mark.parametrize(
        ("column", "value"),
        [("actor_office", "'Otra oficina'"), ("fields", "'[\"phone\"]'"), ("occurred_at", "occurred_at"),
         ("subject_id", None)],
    )  # fmt: skip
    def test_every_column_of_an_access_record_is_covered(self, session, history, column, value, dialect):
        seq = session.execute(text("SELECT max(seq) FROM access_records WHERE subject_type = 'person'")).scalar_one()
        if column == "occurred_at":
            shift = "occurred_at + interval '1 second'" if dialect == "postgresql" else "'2020-01-01 00:00:00.000000'"
            value = shift
        if column == "subject_id":
            table = AccessRecord.__table__
            session.execute(update(table).where(table.c.seq == seq).values(subject_id=uuid.uuid4()))
        else:
            session.execute(text(f"UPDATE access_records SET {column} = {value} WHERE seq = :s"), {"s": seq})
        assert mismatch(session) == ("access_records", str(seq), column)

    def test_a_rewritten_or_deleted_change_of_the_registry_history_is_named(self, session, history):
        change_id = session.scalars(select(RecordChange.id).where(RecordChange.operation == "update")).one()
        session.execute(text("UPDATE record_changes SET reason = 'otra razón' WHERE id = :i"), {"i": change_id})
        assert mismatch(session) == ("record_changes", str(change_id), "reason")
        session.execute(text("UPDATE record_changes SET reason = :r WHERE id = :i"),
                        {"r": "corrección de apellido", "i": change_id})  # fmt: skip
        session.expire_all()
        assert check_history(session).ok
        session.execute(text("DELETE FROM record_changes WHERE id = :i"), {"i": change_id})
        assert mismatch(session) == ("record_changes", str(change_id), "row deleted")

    @pytest.mark.parametrize(
        ("assignment", "field"),
        [("rule = 'true'", "rule"), ("rule_fingerprint = 'f00d'", "rule_fingerprint"),
         ("actor_office = 'Otra oficina'", "actor_office")],
    )  # fmt: skip
    def test_a_rewritten_programme_rule_is_named(self, session, history, assignment, field):
        program_id = history["first"].program_id
        sql(session, f"UPDATE program_versions SET {assignment} WHERE program_id = :i AND version = 1", i=program_id)
        assert mismatch(session) == ("program_versions", f"{program_id}:1", field)

    def test_a_history_row_the_log_never_sealed_is_named(self, session, history):
        session.execute(text(
            "INSERT INTO record_changes (entity_type, entity_id, version, operation, changes, reason, actor_role, "
            "changed_at) SELECT entity_type, entity_id, 9, 'update', changes, 'forged', actor_role, changed_at "
            "FROM record_changes WHERE operation = 'update'"))  # fmt: skip
        forged = session.execute(text("SELECT max(id) FROM record_changes")).scalar_one()
        assert mismatch(session) == ("record_changes", str(forged), "row")

    @pytest.mark.parametrize(
        ("assignment", "field"),
        [("total_value = total_value + 1", "total_value"), ("approved_by = 'someone else'", "approved_by"),
         ("status = 'published'", "status")],
    )  # fmt: skip
    def test_a_rewritten_run_is_named(self, session, history, assignment, field):
        run = history["first"]  # superseded: setting it back to published is a rewrite too
        sql(session, f"UPDATE eligibility_runs SET {assignment} WHERE id = :i", i=run.id)
        assert mismatch(session) == ("eligibility_runs", str(run.id), field)

    def test_a_run_published_by_sql_alone_is_named(self, session, history):
        loose = programs.evaluate_cycle(session, actor=officer("ana"), code="food_box", cycle="2027-01", now=NOW,
                                        persist=True)  # fmt: skip
        sql(session, "UPDATE eligibility_runs SET status = 'published' WHERE id = :i", i=loose.id)
        assert mismatch(session) == ("eligibility_runs", str(loose.id), "status")

    @pytest.mark.parametrize("statement", [
        "UPDATE entitlements SET quantity = quantity + 1 "
        "WHERE id = (SELECT min(id) FROM entitlements WHERE run_id = :i)",
        "DELETE FROM entitlements WHERE id = (SELECT max(id) FROM entitlements WHERE run_id = :i)",
    ])  # fmt: skip
    def test_a_rewritten_or_deleted_entitlement_is_named(self, session, history, statement):
        run = history["second"]
        sql(session, statement, i=run.id)
        table, row, field = mismatch(session)
        assert (table, row) == ("entitlements", f"run {run.id}") and field in ("digest", "rows")
        assert session.scalar(select(Entitlement.id).where(Entitlement.run_id == run.id).limit(1)) is not None
        assert session.get(EligibilityRun, run.id).status == "published"


class TestAuditVerifyCommand:
    def test_a_rewritten_purpose_fails_verify_with_exit_1_and_shows_in_the_persons_log(self, cli_store):
        carnet("seed", "--people", "30", "--seed", "4")
        carnet("registry", "search", "a")
        report = json.loads(carnet("audit", "verify", "--json").output)
        assert report["ok"] and report["history"]["mismatch"] is None
        with sqlite3.connect(cli_store / "carnet.db") as conn:
            seq, person = conn.execute(
                "SELECT seq, subject_id FROM access_records WHERE subject_type = 'person' ORDER BY seq LIMIT 1"
            ).fetchone()
            conn.execute("UPDATE access_records SET purpose = 'eligibility' WHERE seq = ?", (seq,))
        failed = carnet("audit", "verify", "--json", ok=False)
        assert failed.exit_code == 1
        found = json.loads(failed.output)["history"]["mismatch"]
        assert (found["table"], found["row"], found["field"]) == ("access_records", str(seq), "purpose")
        plain = carnet("audit", "verify", ok=False)
        assert plain.exit_code == 1 and "access_records" in plain.output and "purpose" in plain.output
        shown = json.loads(carnet("audit", "log", "--person", str(uuid.UUID(hex=person)), "--json").output)
        (altered,) = [item for item in shown["entries"] if not item["verified"]]
        assert altered["purpose"] != "eligibility" and altered["mismatch"] == "purpose"
