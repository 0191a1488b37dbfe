"""The whole path on the real database: escrow, enrolment, manifest, offline redemption, sync, answers."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from carnet.distribution import repository, service
from carnet.flows.data_subject import access_log
from carnet.kit.actor import Actor
from carnet.kit.errors import AppError
from tests.conftest import count_rows
from tests.integration.distribution.world import (
    ANA,
    CYCLE,
    MANIFESTS,
    NOW,
    PASSPHRASE,
    POLICY,
    build,
    enrol,
    pull,
    push,
)

pytestmark = pytest.mark.db


@pytest.fixture()
def world(session, tmp_path):
    return build(session, tmp_path)


def test_every_published_entitlement_is_held_by_exactly_one_point(session, world):
    assert world.at("depot-a") and world.at("depot-b")
    assert count_rows(session, "escrow") == count_rows(session, "escrow", "point_id IS NOT NULL")
    duplicates = session.execute(
        text("SELECT entitlement_id FROM escrow GROUP BY entitlement_id HAVING count(*) > 1")
    ).all()
    assert duplicates == []
    again = service.assign_escrow(session, actor=ANA, cycle=CYCLE, now=NOW)
    assert again["assigned"] == 0  # assigning again moves nothing


def test_a_redemption_offline_reaches_the_server_once(session, world, tmp_path):
    agent = enrol(session, world, "depot-a", tmp_path / "a")
    assert pull(session, agent) == 1
    person = world.at("depot-a")[0]
    receipt = agent.redeem(person.qr, pin=person.pin, now=int(NOW.timestamp()) + 60)
    answer = push(session, agent, now=NOW + timedelta(hours=1))
    assert [a["answer"] for a in answer["acknowledged"]] == ["accepted"]
    assert answer["conflicts"] == {}
    again = push(session, agent, now=NOW + timedelta(hours=2), events=[agent.store.events()[0].data])
    assert [a["answer"] for a in again["acknowledged"]] == ["accepted"]  # the replay gets its first answer
    assert count_rows(session, "redemptions") == 1
    stored = repository.redemption(session, receipt.event_id)
    assert stored.counted and stored.person_id == person.person_id and not stored.exception
    assert count_rows(session, "distribution_cases") == 0
    # The next manifest says nothing is left for that household.
    assert pull(session, agent, now=NOW + timedelta(hours=3)) == 2
    held = agent.holdings()[CYCLE]
    assert [e.remaining for e in held.entitlements_of(person.card_id.bytes)] == [0]


def test_a_suspended_device_is_refused_and_its_events_are_kept(session, world, tmp_path):
    agent = enrol(session, world, "depot-a", tmp_path / "a")
    pull(session, agent)
    person = world.at("depot-a")[0]
    agent.redeem(person.qr, pin=person.pin, now=int(NOW.timestamp()) + 60)
    device_id = agent.identity.device_id
    service.change_device(session, actor=ANA, device_id=device_id, action="suspend", reason="lost", now=NOW)
    with pytest.raises(AppError) as refused:
        pull(session, agent, now=NOW + timedelta(hours=1))
    assert refused.value.code == "device_suspended"
    answer = push(session, agent, now=NOW + timedelta(hours=1))
    assert answer["acknowledged"] == [] and list(answer["conflicts"].values()) == ["device_suspended"]
    assert count_rows(session, "redemptions", "chain = 'refused' AND counted = :f", f=False) == 1
    assert count_rows(session, "distribution_cases", "kind = 'device_suspended'") == 1
    push(session, agent, now=NOW + timedelta(hours=2))  # sent again: still one row, one case
    assert count_rows(session, "redemptions") == 1 and count_rows(session, "distribution_cases") == 1


def test_the_same_card_at_two_points_is_served_once_and_the_second_is_a_case(session, world, tmp_path):
    a = enrol(session, world, "depot-a", tmp_path / "a", label="a")
    b = enrol(session, world, "depot-b", tmp_path / "b", label="b")
    pull(session, a)
    pull(session, b)
    person = world.at("depot-a")[0]
    a.redeem(person.qr, pin=person.pin, now=int(NOW.timestamp()) + 60)
    # At depot B the card is not in escrow: served as an exception (no PIN data there), flagged.
    b.redeem(person.qr, pin=person.pin, now=int(NOW.timestamp()) + 120, programme="food_box", quantity=1)
    push(session, a, now=NOW + timedelta(hours=1))
    push(session, b, now=NOW + timedelta(hours=1))
    assert count_rows(session, "redemptions") == 2
    assert count_rows(session, "redemptions", "counted = :t", t=True) == 1
    kinds = [row[0] for row in session.execute(text("SELECT kind FROM distribution_cases"))]
    assert kinds == ["over_entitlement"]
    report = service.reconciliation(session, cycle=CYCLE, now=NOW + timedelta(hours=2))
    lines = {line["point"]: line for line in report["lines"]}
    assert lines["depot-a"]["redeemed"] == 1 and lines["depot-b"]["exceptions"] == 1
    assert lines["depot-b"]["open_cases"] == 1


def test_a_manifest_names_no_person_or_household_only_cards_and_escrow_ids(session, world, tmp_path):
    agent = enrol(session, world, "depot-a", tmp_path / "a")
    device = repository.device(session, agent.identity.device_id)
    data = service.manifest_for(session, device=device, cycle=CYCLE, since=0, policy=MANIFESTS, card_policy=POLICY,
                                passphrase=PASSPHRASE, now=NOW)  # fmt: skip
    registry_ids = [
        row[0] for row in session.execute(text("SELECT id FROM persons UNION ALL SELECT id FROM households"))
    ]
    for value in registry_ids:
        found = uuid.UUID(str(value)) if not isinstance(value, uuid.UUID) else value
        assert found.bytes not in data and found.hex.encode() not in data and str(found).encode() not in data
    entitlement_ids = [row[0] for row in session.execute(text("SELECT id FROM escrow"))]
    assert entitlement_ids  # the escrow ids it names are random, not the entitlements' row numbers
    held = agent.holdings() if pull(session, agent) else {}
    assert set(held[CYCLE].escrow) <= {
        uuid.UUID(str(v)) if not isinstance(v, uuid.UUID) else v for v in entitlement_ids
    }


def test_publishing_a_run_places_its_entitlements_and_a_moved_one_is_logged(session, world, tmp_path):
    first = world.at("depot-a")[0]
    escrow_id = session.execute(
        text("SELECT x.id FROM escrow x JOIN entitlements e ON e.id = x.entitlement_id "
             "JOIN persons p ON p.household_id = e.unit_id WHERE p.id = :p"), {"p": _db_id(session, first.person_id)}
    ).scalar_one()  # fmt: skip
    moved = service.reassign_escrow(session, actor=ANA, escrow_id=uuid.UUID(str(escrow_id)), point_ref="depot-b",
                                    reason="moved to her daughter's town", now=NOW)  # fmt: skip
    assert moved["point"] == "depot-b"
    assert count_rows(session, "audit_entries") > 0
    changes = [row[0] for row in session.execute(text("SELECT body FROM audit_entries"))]
    assert any(b"distribution.escrow_moved" in bytes(body) for body in changes)
    with pytest.raises(AppError) as refused:
        service.reassign_escrow(session, actor=ANA, escrow_id=uuid.UUID(str(escrow_id)), point_ref="depot-b",
                                reason=" ", now=NOW)  # fmt: skip
    assert refused.value.code == "reason_required"


def _db_id(session, value: uuid.UUID):  # type: ignore[no-untyped-def]
    return value.hex if session.get_bind().dialect.name == "sqlite" else value


def test_the_person_sees_the_hand_over_in_their_access_log(session, world, tmp_path):
    agent = enrol(session, world, "depot-a", tmp_path / "a")
    pull(session, agent)
    person = world.at("depot-a")[0]
    agent.redeem(person.qr, pin=person.pin, now=int(NOW.timestamp()) + 60)
    answer = push(session, agent, now=NOW + timedelta(hours=1))
    office = Actor(user_id=None, role="registrar", request_id="t", purpose="data_subject_request", office="Oficina")
    log = access_log(session, actor=office, person_id=person.person_id, now=NOW + timedelta(hours=2))
    synced = [e for e in log["entries"] if (e.get("cohort") or "").startswith("sync:")]
    assert [e["cohort"] for e in synced] == [f"sync:{answer['sync']}"]
    assert synced[0]["office"] == "depot-a" and synced[0]["role"] == "device"
    assert service.redemptions_for_person(session, person.person_id)[0]["point"] == "depot-a"
