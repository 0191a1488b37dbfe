"""A person's access log names every bulk operation that included them, from one place (flows.data_subject)."""

from __future__ import annotations

import csv
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from carnet.credentials import service as cards
from carnet.flows import data_subject
from carnet.kit.actor import Actor
from carnet.programs import service as programs
from carnet.programs.definition import parse_definition
from carnet.registry import service as registry
from carnet.registry.importer import run_import
from carnet.registry.models import Person
from carnet.registry.schemas import PersonIn
from carnet.registry.seed import COLUMNS, PopulationGenerator
from tests.integration.credentials.conftest import PASSPHRASE, POLICY

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 29)
EXAMPLES = Path(programs.__file__).parent / "data"


def officer(name: str) -> Actor:
    return Actor(user_id=uuid.uuid5(uuid.NAMESPACE_DNS, name), role="program_officer", request_id="t",
                 purpose="eligibility", office="Ministerio")  # fmt: skip


def imported_person(session, registrar, tmp_path) -> tuple[uuid.UUID, uuid.UUID]:
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(PopulationGenerator(5, today=TODAY).people(20))
    run = run_import(session, actor=registrar, path=path, today=TODAY, now=NOW)
    person_id = session.scalar(select(Person.id).where(Person.import_id == run.id).limit(1))
    return run.id, person_id


def included_everywhere(session, registrar, tmp_path) -> tuple[uuid.UUID, list[str]]:
    """A person imported, in a bulk card issue and covered by a published eligibility run; their cohort references."""
    import_id, person_id = imported_person(session, registrar, tmp_path)
    issued = cards.issue_cards(session, actor=registrar, scope=cards.IssueScope(), policy=POLICY,
                               passphrase=PASSPHRASE, now=NOW, pins=lambda letters: None)  # fmt: skip
    definition = parse_definition((EXAMPLES / "food_box.yaml").read_text("utf-8"), source="food_box")
    programs.apply_program(session, actor=officer("ana"), definition=definition, passphrase=PASSPHRASE, now=NOW)
    run = programs.evaluate_cycle(session, actor=officer("ana"), code="food_box", cycle="2026-12", now=NOW,
                                  persist=True)  # fmt: skip
    programs.approve_run(session, actor=officer("luis"), run_id=run.id, now=NOW)
    return person_id, [f"import:{import_id}", f"cards:{issued.id}", f"run:{run.id}"]


class TestAccessLogSources:
    def test_the_import_the_card_issue_and_the_eligibility_run_are_all_named(self, session, registrar, tmp_path):
        person_id, expected = included_everywhere(session, registrar, tmp_path)
        assert data_subject.access_log_sources(session, person_id) == expected

    def test_a_person_registered_at_an_office_and_in_no_run_has_none(self, session, registrar):
        data = PersonIn(given_names="Ana", family_names="Gil Paz", date_of_birth="1980-02-03", region_code="VE-A")
        created = registry.create_person(session, actor=registrar, data=data, today=TODAY, now=NOW)
        assert data_subject.access_log_sources(session, created["id"]) == []

    def test_an_unknown_person_has_none(self, session):
        assert data_subject.access_log_sources(session, uuid.uuid4()) == []


class TestAccessLogs:
    def test_the_office_and_the_citizen_see_each_bulk_operation_once(self, session, registrar, tmp_path):
        person_id, expected = included_everywhere(session, registrar, tmp_path)
        office = Actor(user_id=None, role="registrar", request_id="t", purpose="data_subject_request")
        log = data_subject.access_log(session, actor=office, person_id=person_id, now=NOW)
        assert [e["cohort"] for e in log["entries"] if e["bulk"]] == expected
        citizen = Actor(user_id=None, role="citizen", request_id="t", purpose="data_subject_access",
                        person_id=person_id)  # fmt: skip
        own = data_subject.own_access_log(session, actor=citizen, now=NOW)
        assert [e["cohort"] for e in own["entries"] if e["bulk"]] == expected
