"""Who may call what, written out by hand: route × role × relation → the answer the live app must give.

The table below is the specification. It is never derived from access/policy.py or from the routes'
dependencies: a change to the policy that lets a role do more (or less) than this table says fails here.
The test walks app.routes itself, so a route that ships without a row fails too.

The world, built once per module: two regions (VE-A, VE-V), a person, household, import and card in each,
two programmes (one over each region) with a proposed run each; one account per role. The registrar and the
agent are bound to VE-A; the citizen is the VE-A person. Relations, from the caller's side:
  same_region / other_region  the object lies in VE-A / VE-V (for the citizen, same_region is their own)
  own_programme / other_programme  the programme over VE-A / over VE-V
  none                          an id that names nothing
Every cell runs inside a savepoint that is rolled back, so cells are independent.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from carnet.access.service import create_user, issue_api_token
from carnet.audit.service import sign_head
from carnet.config import Settings
from carnet.credentials.service import card_number
from carnet.distribution import service as distribution
from carnet.distribution.protocol import enrolment_message
from carnet.kit.actor import Actor
from carnet.kit.clock import utcnow
from carnet.point.keys import DeviceKeys
from carnet.registry import service as registry_service
from carnet.registry.schemas import HouseholdIn, PersonIn
from carnet.web.app import create_app, served_routes
from tests.secrets_plugin import known_secrets
from tests.web.conftest import PASSWORD, PROBLEM_JSON, bearer, person_body

ROLES = ("admin", "registrar", "program_officer", "agent", "auditor", "merchant", "citizen", "anonymous")
PASSPHRASE = "frase de paso de la matriz"
known_secrets.add(PASSPHRASE)
PROGRAMMES = Path(__file__).resolve().parents[2] / "src/carnet/programs/data"

# Route × relation → expected answer per role, in the order of ROLES:
#   admin registrar program_officer agent auditor merchant citizen anonymous
# A number is the exact status; 2xx is any success.
# fmt: off
MATRIX: dict[tuple[str, str], dict[str, str]] = {
    # Infrastructure and signing in: public, nothing personal.
    ("GET", "/"):                                   {"none": "2xx 2xx 2xx 2xx 2xx 2xx 2xx 2xx"},
    ("GET", "/healthz"):                            {"none": "2xx 2xx 2xx 2xx 2xx 2xx 2xx 2xx"},
    ("GET", "/api/openapi.json"):                   {"none": "2xx 2xx 2xx 2xx 2xx 2xx 2xx 2xx"},
    ("GET", "/static"):                             {"none": "2xx 2xx 2xx 2xx 2xx 2xx 2xx 2xx"},
    ("POST", "/api/v1/auth/tokens"):                {"none": "201 201 201 201 201 201 201 201"},
    ("POST", "/api/v1/auth/session"):               {"none": "204 204 204 204 204 204 204 204"},
    ("DELETE", "/api/v1/auth/session"):             {"none": "204 204 204 204 204 204 204 204"},
    # Transparency and offline verification: published for anyone.
    ("GET", "/.well-known/carnet/issuer-keys"):     {"none": "2xx 2xx 2xx 2xx 2xx 2xx 2xx 2xx"},
    ("GET", "/.well-known/carnet/jwks.json"):       {"none": "2xx 2xx 2xx 2xx 2xx 2xx 2xx 2xx"},
    ("GET", "/api/v1/status-lists/{list_id}"):      {"same_region": "2xx 2xx 2xx 2xx 2xx 2xx 2xx 2xx",
                                                     "none":        "404 404 404 404 404 404 404 404"},
    ("GET", "/api/v1/audit/heads/latest"):          {"none": "2xx 2xx 2xx 2xx 2xx 2xx 2xx 2xx"},
    ("GET", "/api/v1/audit/keys"):                  {"none": "2xx 2xx 2xx 2xx 2xx 2xx 2xx 2xx"},
    ("GET", "/api/v1/audit/proofs/inclusion"):      {"none": "2xx 2xx 2xx 2xx 2xx 2xx 2xx 2xx"},
    ("GET", "/api/v1/audit/proofs/consistency"):    {"none": "2xx 2xx 2xx 2xx 2xx 2xx 2xx 2xx"},
    # The log's entries (hashed subjects) are for the oversight body only.
    ("GET", "/api/v1/audit/entries/{leaf}"):        {"same_region": "403 403 403 403 200 403 403 401",
                                                     "none":        "403 403 403 403 404 403 403 401"},
    ("GET", "/api/v1/attributes"):                  {"none": "200 200 200 403 200 403 403 401"},
    # Accounts: the admin only.
    ("GET", "/api/v1/users"):                       {"none": "200 403 403 403 403 403 403 401"},
    ("POST", "/api/v1/users"):                      {"none": "201 403 403 403 403 403 403 401"},
    # The registry: registrars, within their region; nobody else reads a record (the admin neither).
    ("GET", "/api/v1/persons"):                     {"none": "403 200 403 403 403 403 403 401"},
    ("POST", "/api/v1/persons"):                    {"same_region":  "403 201 403 403 403 403 403 401",
                                                     "other_region": "403 422 403 403 403 403 403 401"},
    ("GET", "/api/v1/persons/{person_id}"):         {"same_region":  "403 200 403 403 403 403 403 401",
                                                     "other_region": "403 404 403 403 403 403 403 401",
                                                     "none":         "403 404 403 403 403 403 403 401"},
    ("PATCH", "/api/v1/persons/{person_id}"):       {"same_region":  "403 200 403 403 403 403 403 401",
                                                     "other_region": "403 404 403 403 403 403 403 401",
                                                     "none":         "403 404 403 403 403 403 403 401"},
    ("GET", "/api/v1/persons/{person_id}/history"): {"same_region":  "403 200 403 403 403 403 403 401",
                                                     "other_region": "403 404 403 403 403 403 403 401",
                                                     "none":         "403 404 403 403 403 403 403 401"},
    ("GET", "/api/v1/persons/{person_id}/access-log"): {"same_region":  "403 200 403 403 403 403 403 401",
                                                        "other_region": "403 404 403 403 403 403 403 401",
                                                        "none":         "403 404 403 403 403 403 403 401"},
    # Investigations: the oversight body, under an order, in any region.
    ("GET", "/api/v1/persons/{person_id}/investigation"): {"same_region":  "403 403 403 403 200 403 403 401",
                                                           "other_region": "403 403 403 403 200 403 403 401",
                                                           "none":         "403 403 403 403 404 403 403 401"},
    ("GET", "/api/v1/households"):                  {"none": "403 200 403 403 403 403 403 401"},
    ("POST", "/api/v1/households"):                 {"same_region":  "403 201 403 403 403 403 403 401",
                                                     "other_region": "403 422 403 403 403 403 403 401"},
    ("GET", "/api/v1/households/{household_id}"):   {"same_region":  "403 200 403 403 403 403 403 401",
                                                     "other_region": "403 404 403 403 403 403 403 401",
                                                     "none":         "403 404 403 403 403 403 403 401"},
    ("GET", "/api/v1/imports"):                     {"none": "200 200 403 403 200 403 403 401"},
    ("POST", "/api/v1/imports"):                    {"same_region": "403 201 403 403 403 403 403 401"},
    ("GET", "/api/v1/imports/{import_id}"):         {"same_region":  "200 200 403 403 200 403 403 401",
                                                     "other_region": "200 404 403 403 200 403 403 401",
                                                     "none":         "404 404 403 403 404 403 403 401"},
    # Rejected rows quote personal values: importers only.
    ("GET", "/api/v1/imports/{import_id}/rejects"): {"same_region":  "403 200 403 403 403 403 403 401",
                                                     "other_region": "403 404 403 403 403 403 403 401",
                                                     "none":         "403 404 403 403 403 403 403 401"},
    # The citizen's own record and log; nobody else has a "me".
    ("GET", "/api/v1/me"):                          {"same_region": "403 403 403 403 403 403 200 401"},
    ("GET", "/api/v1/me/access-log"):               {"same_region": "403 403 403 403 403 403 200 401"},
    ("GET", "/api/v1/me/programs/{code}/explanation"): {"own_programme":   "403 403 403 403 403 403 200 401",
                                                        "other_programme": "403 403 403 403 403 403 200 401",
                                                        "none":            "403 403 403 403 403 403 404 401"},
    # Cards: offices issue and revoke in their region; points and offices verify.
    ("POST", "/api/v1/cards/verify"):               {"same_region": "403 200 403 200 403 403 403 401"},
    ("GET", "/api/v1/persons/{person_id}/cards"):   {"same_region":  "403 200 403 403 403 403 403 401",
                                                     "other_region": "403 404 403 403 403 403 403 401",
                                                     "none":         "403 404 403 403 403 403 403 401"},
    ("POST", "/api/v1/persons/{person_id}/cards"):  {"same_region":  "403 201 403 403 403 403 403 401",
                                                     "other_region": "403 404 403 403 403 403 403 401",
                                                     "none":         "403 404 403 403 403 403 403 401"},
    ("POST", "/api/v1/cards/{card}/revocation"):    {"same_region":  "403 200 403 403 403 403 403 401",
                                                     "other_region": "403 404 403 403 403 403 403 401",
                                                     "none":         "403 404 403 403 403 403 403 401"},
    # Programmes: officers define and decide; offices and the oversight body read; appeals are explained.
    ("GET", "/api/v1/programs"):                    {"none": "403 200 200 403 200 403 403 401"},
    ("PUT", "/api/v1/programs/{code}"):             {"own_programme": "403 403 200 403 403 403 403 401"},
    ("POST", "/api/v1/programs/{code}/preview"):    {"own_programme":   "403 403 200 403 403 403 403 401",
                                                     "other_programme": "403 403 200 403 403 403 403 401",
                                                     "none":            "403 403 404 403 403 403 403 401"},
    ("POST", "/api/v1/programs/{code}/runs"):       {"own_programme":   "403 403 201 403 403 403 403 401",
                                                     "none":            "403 403 404 403 403 403 403 401"},
    ("GET", "/api/v1/programs/{code}/runs"):        {"own_programme":   "403 200 200 403 200 403 403 401",
                                                     "none":            "403 404 404 403 404 403 403 401"},
    ("POST", "/api/v1/runs/{run_id}/approval"):     {"own_programme":   "403 403 200 403 403 403 403 401",
                                                     "none":            "403 403 404 403 403 403 403 401"},
    # A run's entitlements leave only under the programme's pseudonyms, and only to its officers.
    ("GET", "/api/v1/runs/{run_id}/entitlements"):  {"own_programme":   "403 403 200 403 403 403 403 401",
                                                     "none":            "403 403 404 403 403 403 403 401"},
    ("GET", "/api/v1/programs/{code}/explanations/{person_id}"): {
        "own_programme/same_region":  "403 200 200 403 403 403 403 401",
        "own_programme/other_region": "403 404 200 403 403 403 403 401",
        "none":                       "403 404 404 403 403 403 403 401",
    },
    # Accounts and credentials (issue 10): everyone lists and revokes their own tokens; another account's
    # token is "not found" except to the admin; staff accounts are the admin's; lock-outs are lifted by the
    # admin or the office; a citizen account is made only by the person (card + PIN, anonymous) or at an
    # office with the card — the registrar, in their region —, never by the admin, and one per person
    # (person A already has theirs: 409; person V has none).
    ("GET", "/api/v1/auth/tokens"):                 {"none": "200 200 200 200 200 200 200 401"},
    ("DELETE", "/api/v1/auth/tokens/{credential_id}"): {"same_region": "200 404 404 404 404 404 404 401",
                                                        "none":        "404 404 404 404 404 404 404 401"},
    ("POST", "/api/v1/auth/card-account"):          {"same_region":  "409 409 409 409 409 409 409 409",
                                                     "other_region": "201 201 201 201 201 201 201 201",
                                                     "none":         "401 401 401 401 401 401 401 401"},
    ("POST", "/api/v1/users/citizen"):              {"same_region":  "403 409 403 403 403 403 403 401",
                                                     "other_region": "403 404 403 403 403 403 403 401"},
    ("POST", "/api/v1/users/unlock"):               {"none": "200 200 403 403 403 403 403 401"},
    ("GET", "/api/v1/users/{username}/tokens"):     {"same_region": "200 403 403 403 403 403 403 401",
                                                     "none":        "404 403 403 403 403 403 403 401"},
    ("POST", "/api/v1/users/{username}/disable"):   {"same_region": "200 403 403 403 403 403 403 401",
                                                     "none":        "404 403 403 403 403 403 403 401"},
    ("POST", "/api/v1/users/{username}/enable"):    {"same_region": "409 403 403 403 403 403 403 401",
                                                     "none":        "404 403 403 403 403 403 403 401"},
    ("PUT", "/api/v1/users/{username}/role"):       {"same_region": "200 403 403 403 403 403 403 401",
                                                     "none":        "404 403 403 403 403 403 403 401"},
    # Distribution (issue 11): officers open points and manage devices, escrow and cases; an agent sees and
    # reports lost only the devices of the point they work at (point A); the oversight body reads. Devices
    # themselves hold no account: enrolment takes a one-time code, manifests and sync a device signature,
    # so a bearer token of any role is refused there.
    ("POST", "/api/v1/points"):                     {"none": "403 403 201 403 403 403 403 401"},
    ("GET", "/api/v1/points"):                      {"none": "403 403 200 200 200 403 403 401"},
    ("GET", "/api/v1/points/{point}"):              {"same_region":  "403 403 200 200 200 403 403 401",
                                                     "other_region": "403 403 200 404 200 403 403 401",
                                                     "none":         "403 403 404 404 404 403 403 401"},
    ("POST", "/api/v1/points/{point}/enrolment-codes"): {"same_region": "403 403 201 403 403 403 403 401",
                                                         "none":        "403 403 404 403 403 403 403 401"},
    ("GET", "/api/v1/points/{point}/devices"):      {"same_region":  "403 403 200 200 200 403 403 401",
                                                     "other_region": "403 403 200 404 200 403 403 401",
                                                     "none":         "403 403 404 404 404 403 403 401"},
    ("POST", "/api/v1/devices/{device_id}/state"):  {"same_region":  "403 403 200 200 403 403 403 401",
                                                     "other_region": "403 403 200 404 403 403 403 401",
                                                     "none":         "403 403 404 404 403 403 403 401"},
    ("POST", "/api/v1/devices/enroll"):             {"none": "403 403 403 403 403 403 403 403"},
    ("GET", "/api/v1/points/{point_id}/manifest"):  {"same_region": "401 401 401 401 401 401 401 401"},
    ("POST", "/api/v1/sync/events"):                {"none": "401 401 401 401 401 401 401 401"},
    ("POST", "/api/v1/distribution/escrow"):        {"none": "403 403 200 403 403 403 403 401"},
    ("POST", "/api/v1/escrow/{escrow_id}/point"):   {"none": "403 403 404 403 403 403 403 401"},
    ("GET", "/api/v1/distribution/cases"):          {"none": "403 403 200 403 200 403 403 401"},
    ("POST", "/api/v1/distribution/cases/{case_id}/closure"): {"none": "403 403 404 403 403 403 403 401"},
    ("GET", "/api/v1/distribution/report"):         {"none": "403 403 200 403 200 403 403 401"},
    # The wallet ledger (issue 12): officers fund, disburse and submit transfers; the oversight body reads.
    # A refused transfer is a result in a 200 answer, not an HTTP error.
    ("POST", "/api/v1/ledger/transfers"):           {"none": "403 403 200 403 403 403 403 401"},
    ("GET", "/api/v1/ledger/accounts/{account_id}"): {"none": "403 403 404 403 404 403 403 401"},
    ("GET", "/api/v1/ledger/accounts/{account_id}/statement"): {"none": "403 403 404 403 404 403 403 401"},
    ("GET", "/api/v1/ledger/totals"):               {"none": "403 403 200 403 200 403 403 401"},
    ("POST", "/api/v1/programs/{code}/funding"):    {"own_programme": "403 403 200 403 403 403 403 401",
                                                     "none":          "403 403 404 403 403 403 403 401"},
    # Shops take payments with a card and its PIN (the matrix's card pays into no cash wallet: 409); a payment
    # of another shop, or none, is not found.
    ("POST", "/api/v1/payments"):                   {"same_region": "403 403 403 403 403 409 403 401"},
    ("POST", "/api/v1/payments/{payment_id}/confirmation"): {"none": "403 403 403 403 403 404 403 401"},
    ("POST", "/api/v1/payments/{payment_id}/cancellation"): {"none": "403 403 403 403 403 404 403 401"},
    ("POST", "/api/v1/payments/{payment_id}/refunds"): {"none": "403 403 403 403 403 404 403 401"},
    # The matrix's runs are proposed, not published: nothing to disburse yet.
    ("POST", "/api/v1/runs/{run_id}/disbursement"): {"own_programme": "403 403 409 403 403 403 403 401",
                                                     "none":          "403 403 404 403 403 403 403 401"},
}
# fmt: on
DEVICE_SIGNED = ("/api/v1/points/{point_id}/manifest", "/api/v1/sync/events")


@dataclass
class World:
    """The module's data, ids by name, one token per role, and every answer the matrix saw."""

    client: TestClient
    connection: object
    ids: dict[str, str]
    tokens: dict[str, str] = field(repr=False)
    answers: list[tuple[str, str, str, str, object]] = field(default_factory=list)


def _account(session: Session, role: str, name: str, **kwargs: object) -> str:
    if role == "citizen":
        kwargs.setdefault("created_via", "office")  # citizens' accounts are never the admin's to make
    user = create_user(session, username=name, password=PASSWORD, role=role, now=utcnow(), **kwargs)  # type: ignore[arg-type]
    return issue_api_token(session, user=user, name="matrix", now=utcnow())[1]


def _programme(code: str, region: str) -> dict:
    definition = json.loads(json.dumps(yaml.safe_load((PROGRAMMES / "food_box.yaml").read_text("utf-8")), default=str))
    return definition | {"code": code, "regions": [region], "title": f"Caja {region}"}


@pytest.fixture(scope="module")
def world(engine, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Build the world once per module and backend; everything is rolled back at the end."""
    with engine.connect() as conn:
        outer = conn.begin()
        factory = sessionmaker(
            bind=conn, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
        )
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("matrix"),
            key_passphrase=PASSPHRASE,
            pin_hash_memory_kib=64,
            head_interval_seconds=0,
        )
        app = create_app(settings, session_factory=factory)
        ids: dict[str, str] = {}
        tokens: dict[str, str] = {}
        office = Actor(user_id=None, role="registrar", request_id="matrix", purpose="registration", office="Matrix")
        with factory() as session:
            now = utcnow()
            for tag, region, name, cedula, phone in (
                ("a", "VE-A", "Adriana", "V-1000001", "0414-1000001"),
                ("v", "VE-V", "Zoraida", "V-2000002", "0414-2000002"),
            ):
                household = registry_service.create_household(
                    session, actor=office, data=HouseholdIn(region_code=region), now=now
                )
                ids[f"household_{tag}"] = str(household["id"])
                body = person_body(
                    given_names=name,
                    family_names="Matriz",
                    national_id=cedula,
                    phone=phone,
                    region_code=region,
                    household_id=household["id"],
                    attributes={"monthly_income": 1000, "chronic_condition": True, "disability": True},
                )
                person = registry_service.create_person(
                    session, actor=office, data=PersonIn(**body), today=date.today(), now=now
                )
                ids[f"person_{tag}"] = str(person["id"])
            tokens["admin"] = _account(session, "admin", "m-admin")
            tokens["registrar"] = _account(session, "registrar", "m-registrar", region_code="VE-A")
            tokens["program_officer"] = _account(session, "program_officer", "m-officer")
            tokens["agent"] = _account(session, "agent", "m-agent", region_code="VE-A")
            tokens["auditor"] = _account(session, "auditor", "m-auditor")
            tokens["merchant"] = _account(session, "merchant", "m-merchant")
            tokens["citizen"] = _account(session, "citizen", "m-citizen", person_id=uuid.UUID(ids["person_a"]))
            unbound = _account(session, "registrar", "m-unbound-registrar")
            target = create_user(session, username="m-target", password=PASSWORD, role="registrar",
                                 region_code="VE-A", now=utcnow())  # fmt: skip
            ids["target_token"] = str(issue_api_token(session, user=target, name="matrix", now=utcnow())[0].id)
            proposer = _account(session, "program_officer", "m-proposer")
            session.commit()
        matrix_officer = Actor(user_id=None, role="program_officer", request_id="matrix", purpose="eligibility",
                               office="Matrix")  # fmt: skip
        client = TestClient(app)
        for tag in ("a", "v"):
            issued = client.post(f"/api/v1/persons/{ids['person_' + tag]}/cards", json={}, headers=bearer(unbound))
            assert issued.status_code == 201, issued.text
            ids[f"card_{tag}"] = issued.json()["card"]["number"]
            ids[f"credential_{tag}"] = issued.json()["credential"]
            known_secrets.add_pin(issued.json()["pin"])
            ids[f"pin_{tag}"] = issued.json()["pin"]
            upload = (
                "p.csv",
                "given_names,family_names,date_of_birth,region_code\n"
                f"Ana,Paz,1990-01-01,{'VE-A' if tag == 'a' else 'VE-V'}\n"
                "Bad,Row,not-a-date,VE-A\n".encode(),
            )
            done = client.post(
                "/api/v1/imports",
                files={"file": upload},
                headers=bearer(unbound if tag == "v" else tokens["registrar"]),
            )
            assert done.status_code == 201, done.text
            ids[f"import_{tag}"] = done.json()["id"]
            code = f"caja_{tag}"
            applied = client.put(
                f"/api/v1/programs/{code}",
                json=_programme(code, "VE-A" if tag == "a" else "VE-V"),
                headers=bearer(proposer),
            )
            assert applied.status_code == 200, applied.text
            ids[f"programme_{tag}"] = code
            run = client.post(f"/api/v1/programs/{code}/runs", json={"cycle": "2026-11"}, headers=bearer(proposer))
            assert run.status_code == 201, run.text
            ids[f"run_{tag}"] = run.json()["id"]
        with factory() as session:
            for tag, state in (("a", "VE-A"), ("v", "VE-V")):
                municipality = session.execute(text("SELECT min(code) FROM regions WHERE parent_code = :s"),
                                               {"s": state}).scalar_one()  # fmt: skip
                point = distribution.add_point(session, actor=matrix_officer, code=f"m-point-{tag}",
                                               name=f"Punto {tag}", kind="depot", municipality=municipality,
                                               programmes={ids[f"programme_{tag}"]: 1}, catchment=[],
                                               operators=["m-agent"] if tag == "a" else [], now=utcnow())  # fmt: skip
                ids[f"point_{tag}"], ids[f"point_id_{tag}"] = f"m-point-{tag}", str(point["id"])
                ids[f"municipality_{tag}"] = municipality
                code = distribution.issue_enrolment_code(session, actor=matrix_officer, point_ref=f"m-point-{tag}",
                                                         ttl_seconds=3600, now=utcnow())["code"]  # fmt: skip
                keys = DeviceKeys.generate()
                enrolled = distribution.enrol_device(
                    session, code=code, public_key=keys.sign_public, box_key=keys.box_public,
                    signature=keys.sign_key.sign(enrolment_message(code, keys.sign_public, keys.box_public)),
                    label=f"tablet {tag}", passphrase=PASSPHRASE, now=utcnow())  # fmt: skip
                ids[f"device_{tag}"] = enrolled["device"]
            sign_head(session, passphrase=PASSPHRASE, now=utcnow())
            session.commit()
        ids["list_id"] = str(conn.execute(text("SELECT min(id) FROM status_lists")).scalar_one())
        try:
            yield World(client=client, connection=conn, ids=ids, tokens=tokens)
        finally:
            client.close()
            outer.rollback()


def expected_cells() -> list[tuple[str, str, str, str, str]]:
    """(method, path, relation, role, expected) for every cell of the table."""
    cells = []
    for (method, path), relations in MATRIX.items():
        for relation, line in relations.items():
            answers = line.split()
            assert len(answers) == len(ROLES), (method, path, relation)
            cells += [(method, path, relation, role, answer) for role, answer in zip(ROLES, answers, strict=True)]
    return cells


def concrete(world: World, method: str, path: str, relation: str) -> tuple[str, dict]:
    """The URL and request arguments for a cell."""
    ids = world.ids
    region = "v" if "other_region" in relation else "a"
    programme = "v" if "other_programme" in relation else "a"
    missing = relation == "none"
    values = {
        "person_id": str(uuid.uuid4()) if missing else ids[f"person_{region}"],
        "household_id": str(uuid.uuid4()) if missing else ids[f"household_{region}"],
        "import_id": str(uuid.uuid4()) if missing else ids[f"import_{region}"],
        "card": card_number(uuid.uuid4()) if missing else ids[f"card_{region}"],
        "code": "no_such_programme" if missing else ids[f"programme_{programme}"],
        "run_id": str(uuid.uuid4()) if missing else ids[f"run_{programme}"],
        "list_id": "999999" if missing else ids["list_id"],
        "leaf": "999999999" if missing else "0",
        "credential_id": str(uuid.uuid4()) if missing else ids["target_token"],
        "username": "m-nobody" if missing else "m-target",
        "point": "m-point-nowhere" if missing else ids[f"point_{region}"],
        "point_id": str(uuid.uuid4()) if missing else ids[f"point_id_{region}"],
        "device_id": str(uuid.uuid4()) if missing else ids[f"device_{region}"],
        "escrow_id": str(uuid.uuid4()),
        "case_id": str(uuid.uuid4()),
        "account_id": str(uuid.uuid4()),
        "payment_id": str(uuid.uuid4()),
    }
    url = re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], path)
    target = "VE-V" if region == "v" else "VE-A"
    kwargs: dict = {}
    bodies = {
        ("POST", "/api/v1/auth/tokens"): {"username": "m-merchant", "password": PASSWORD},
        ("POST", "/api/v1/auth/session"): {"username": "m-merchant", "password": PASSWORD},
        ("POST", "/api/v1/users"): {
            "username": f"new-{uuid.uuid4().hex[:8]}",
            "password": "a-long-password-1",
            "role": "registrar",
        },
        ("POST", "/api/v1/persons"): person_body(region_code=target, national_id="V-3000003"),
        ("PATCH", "/api/v1/persons/{person_id}"): {"reason": "typo in the name", "given_names": "Adriana María"},
        ("POST", "/api/v1/households"): {"region_code": target},
        ("POST", "/api/v1/cards/verify"): {"credential": ids["credential_a"]},
        ("POST", "/api/v1/persons/{person_id}/cards"): {"reissue_reason": "lost"},
        ("POST", "/api/v1/cards/{card}/revocation"): {"reason": "lost"},
        ("PUT", "/api/v1/programs/{code}"): _programme(ids["programme_a"], "VE-A"),
        ("POST", "/api/v1/programs/{code}/preview"): {"cycle": "2026-12"},
        ("POST", "/api/v1/programs/{code}/runs"): {"cycle": "2026-12"},
        ("POST", "/api/v1/runs/{run_id}/approval"): {},
        ("POST", "/api/v1/auth/card-account"): {
            "credential": "CN1:NOTACARD" if missing else ids[f"credential_{region}"],
            "pin": ids[f"pin_{region}"],
            "username": f"self-{uuid.uuid4().hex[:8]}",
            "password": "a-long-password-1",
        },
        ("POST", "/api/v1/users/citizen"): {
            "credential": ids[f"credential_{region}"],
            "username": f"office-{uuid.uuid4().hex[:8]}",
            "password": "a-long-password-1",
        },
        ("POST", "/api/v1/users/unlock"): {"username": "m-target"},
        ("PUT", "/api/v1/users/{username}/role"): {"role": "auditor"},
        ("POST", "/api/v1/points"): {"code": "m-point-new", "name": "Nuevo", "kind": "school",
                                     "municipality": ids["municipality_a"], "programmes": {ids["programme_a"]: 0}},
        ("POST", "/api/v1/devices/{device_id}/state"): {"action": "suspend", "reason": "lost"},
        ("POST", "/api/v1/devices/enroll"): {"code": "ABCDE-FGHJK", "public_key": "A" * 43, "box_key": "B" * 43,
                                             "signature": "C" * 86},
        ("POST", "/api/v1/sync/events"): {"events": []},
        ("POST", "/api/v1/distribution/escrow"): {"cycle": "2026-11"},
        ("POST", "/api/v1/escrow/{escrow_id}/point"): {"point": "m-point-a", "reason": "closer to home"},
        ("POST", "/api/v1/distribution/cases/{case_id}/closure"): {"resolution": "checked with the depot"},
        ("POST", "/api/v1/ledger/transfers"): {"transfers": [{
            "id": str(uuid.uuid4()), "debit_account_id": str(uuid.uuid4()), "credit_account_id": str(uuid.uuid4()),
            "amount": 100, "ledger": 928, "code": 1}]},
        ("POST", "/api/v1/programs/{code}/funding"): {"amount": 1000, "reference": "OP-MATRIX"},
        ("POST", "/api/v1/payments"): {"id": str(uuid.uuid4()), "credential": ids["credential_a"], "pin": ids["pin_a"],
                                       "programme": ids["programme_a"], "amount": 100},
        ("POST", "/api/v1/payments/{payment_id}/refunds"): {"amount": 10, "reference": "R1"},
    }  # fmt: skip
    if (method, path) in bodies:
        kwargs["json"] = bodies[(method, path)]
    if (method, path) == ("POST", "/api/v1/imports"):
        kwargs["files"] = {
            "file": ("m.csv", b"given_names,family_names,date_of_birth,region_code\nEva,Luz,1991-02-02,VE-A\n")
        }
    if path == "/api/v1/persons/{person_id}/investigation":
        kwargs["params"] = {"order": "ORDER-2026-001"}
    if path == "/api/v1/audit/proofs/inclusion":
        kwargs["params"] = {"leaf": 0, "size": 1}
    if path == "/api/v1/audit/proofs/consistency":
        kwargs["params"] = {"first": 1, "second": 1}
    if path == "/api/v1/points/{point_id}/manifest":
        kwargs["params"] = {"device": ids[f"device_{region}"], "since": 0}
    if path == "/api/v1/distribution/report":
        kwargs["params"] = {"cycle": "2026-11"}
    if path == "/static":
        url = "/static/vendor/assets.lock.json"
    return url, kwargs


def matches(expected: str, status: int) -> bool:
    if expected.endswith("xx"):
        return status // 100 == int(expected[0])
    return status == int(expected)


@pytest.fixture(scope="module")
def answers(world):  # type: ignore[no-untyped-def]
    """Run every cell of the table once (each in a rolled-back savepoint); the answers, for the tests below."""
    seen = []
    for method, path, relation, role, expected in expected_cells():
        url, kwargs = concrete(world, method, path, relation)
        headers = {} if role == "anonymous" else bearer(world.tokens[role])
        savepoint = world.connection.begin_nested()
        try:
            response = world.client.request(method, url, headers=headers, **kwargs)
        finally:
            savepoint.rollback()
        world.client.cookies.clear()
        seen.append((method, path, relation, role, expected, response))
    return seen


class TestTheTableCoversTheApp:
    def test_every_served_route_has_a_row(self, world):
        served = set(served_routes(world.client.app))
        assert served - set(MATRIX) == set(), "add a row to MATRIX for each new route"

    def test_every_row_names_a_served_route(self, world):
        served = set(served_routes(world.client.app))
        assert set(MATRIX) - served == set(), "MATRIX names a route that is gone"

    def test_every_role_appears_and_both_regions_are_exercised(self):
        relations = {relation for rows in MATRIX.values() for relation in rows}
        assert {"same_region", "other_region", "own_programme", "other_programme", "none"} <= relations | {
            r.split("/")[0] for r in relations
        }


class TestTheMatrix:
    def test_every_cell_answers_as_the_table_says(self, answers):
        wrong = [
            (method, path, relation, role, expected, response.status_code, _code(response))
            for method, path, relation, role, expected, response in answers
            if not matches(expected, response.status_code)
        ]
        assert wrong == [], "\n".join(map(str, wrong))

    def test_refusals_are_problem_json_with_the_right_code(self, answers):
        wrong = []
        for method, path, _relation, role, _, response in answers:
            # A card and PIN that do not match answer one code, whatever was wrong (no card enumeration).
            signing_in = ("bad_card_or_pin",) if path == "/api/v1/auth/card-account" else ()
            # Device routes answer in the device's own terms: no signature, or a code that opens nothing.
            device = ("device_unauthenticated",) if path in DEVICE_SIGNED else ()
            enrolment = ("enrolment_code_invalid",) if path == "/api/v1/devices/enroll" else ()
            if response.status_code == 401 and _code(response) not in ("unauthenticated", "invalid_token", *signing_in,
                                                                       *device):  # fmt: skip
                wrong.append((method, path, role, _code(response)))
            if response.status_code == 403 and _code(response) not in ("permission_denied", *enrolment):
                wrong.append((method, path, role, _code(response)))
            if response.status_code >= 400 and not response.headers.get("content-type", "").startswith(PROBLEM_JSON):
                wrong.append((method, path, role, "not problem+json"))
        assert wrong == []

    def test_cross_region_objects_are_refused_with_403_or_404(self, answers):
        # Creating outside one's region is 422 outside_scope (no object of the other region is touched).
        creations = {("POST", "/api/v1/persons"), ("POST", "/api/v1/households")}
        # Making one's own account with card and PIN is anonymous: the card is the proof, not a region.
        creations.add(("POST", "/api/v1/auth/card-account"))
        wrong = [
            (method, path, role, response.status_code)
            for method, path, relation, role, _, response in answers
            if "other_region" in relation
            and role in ("registrar", "agent", "citizen")
            and (method, path) not in creations
            and response.status_code not in (403, 404)
        ]
        assert wrong == []


# API3: what each role must never see in a response it is allowed to get.
SECRETS_KEYS = {"password", "password_hash", "pin_hash", "token_hash", "secret"}
PERSON_KEYS = {"given_names", "family_names", "national_id", "phone", "address_line", "attributes"}
READS_NAMES = {"registrar", "citizen", "auditor"}


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _code(response) -> str | None:  # type: ignore[no-untyped-def]
    if response.headers.get("content-type", "").startswith(PROBLEM_JSON):
        return response.json().get("code")
    return None


class TestNoFieldTheRoleMayNotSee:
    def test_no_role_ever_sees_a_secret_or_a_hash(self, answers):
        wrong = []
        for method, path, _, role, _, response in answers:
            if response.content and response.headers.get("content-type", "").startswith("application/json"):
                leaked = _keys(response.json()) & SECRETS_KEYS
                if leaked and path != "/api/openapi.json":
                    wrong.append((method, path, role, leaked))
        assert wrong == []

    def test_only_offices_the_oversight_body_and_the_person_see_names(self, world, answers):
        names = ("Adriana", "Zoraida", "V-1000001", "V-2000002", "0414-1000001", "0414-2000002")
        wrong = []
        for method, path, relation, role, _, response in answers:
            if role in READS_NAMES or response.status_code >= 300:
                continue
            if method == "POST" and path in ("/api/v1/persons", "/api/v1/imports"):
                continue  # the registrar's own writes echo what they sent
            found = [n for n in names if n in response.text]
            keys = (
                _keys(response.json()) & PERSON_KEYS
                if response.content and "json" in response.headers["content-type"]
                else set()
            )
            if found or (keys and path != "/api/openapi.json"):
                wrong.append((method, path, relation, role, found, keys))
        assert wrong == []

    def test_nobody_bound_to_one_region_sees_a_person_of_the_other(self, answers):
        other = ("Zoraida", "V-2000002", "0414-2000002")
        wrong = [
            (method, path, relation, role)
            for method, path, relation, role, _, response in answers
            if role in ("registrar", "agent", "citizen") and any(n in response.text for n in other)
        ]
        assert wrong == []

    def test_the_citizen_sees_only_themself(self, world):
        client, ids = world.client, world.ids
        me = client.get("/api/v1/me", headers=bearer(world.tokens["citizen"]))
        assert me.status_code == 200 and me.json()["id"] == ids["person_a"]
        log = client.get("/api/v1/me/access-log", headers=bearer(world.tokens["citizen"]))
        assert log.status_code == 200 and ids["person_v"] not in log.text and "Zoraida" not in log.text

    def test_the_agent_learns_a_verdict_not_a_person(self, world):
        verdict = world.client.post(
            "/api/v1/cards/verify",
            json={"credential": world.ids["credential_a"]},
            headers=bearer(world.tokens["agent"]),
        )
        assert verdict.status_code == 200
        assert _keys(verdict.json()) & (PERSON_KEYS | {"person_id", "date_of_birth"}) == set()
        assert "Adriana" not in verdict.text

    def test_card_lists_never_carry_the_pin(self, world):
        cards = world.client.get(
            f"/api/v1/persons/{world.ids['person_a']}/cards", headers=bearer(world.tokens["registrar"])
        )
        assert cards.status_code == 200 and cards.json()
        assert _keys(cards.json()) & {"pin", "pin_hash", "pin_tag"} == set()

    def test_import_summaries_quote_rejected_values_to_importers_only(self, world):
        for role in ("admin", "auditor"):
            listed = world.client.get("/api/v1/imports", headers=bearer(world.tokens[role]))
            assert listed.status_code == 200 and listed.json()
            assert all(item["reject_sample"] is None for item in listed.json()), role

    def test_an_officer_explaining_an_appeal_sees_no_sensitive_value(self, world):
        client = world.client
        health = json.loads(
            json.dumps(yaml.safe_load((PROGRAMMES / "health_kit.yaml").read_text("utf-8")), default=str)
        )
        proposer = bearer(world.tokens["program_officer"])
        savepoint = world.connection.begin_nested()
        try:
            assert client.put("/api/v1/programs/health_kit", json=health, headers=proposer).status_code == 200
            url = f"/api/v1/programs/health_kit/explanations/{world.ids['person_v']}"
            response = client.get(url, headers=proposer)
        finally:
            savepoint.rollback()
        assert response.status_code == 200
        values = [c.get("values", {}) for c in response.json()["clauses"]]
        assert all(v.get("chronic_condition") is None and v.get("disability") is None for v in values), values


class TestAuthentication:
    def test_a_garbage_token_is_401_invalid_token_on_every_guarded_route(self, world, answers):
        # The card-account route takes no token: its 401 is for the card and PIN.
        guarded = {
            (m, p, r)
            for m, p, r, role, expected, _ in answers
            if role == "anonymous" and expected == "401" and p != "/api/v1/auth/card-account" and p not in DEVICE_SIGNED
        }
        wrong = []
        for method, path, relation in sorted(guarded):
            url, kwargs = concrete(world, method, path, relation)
            kwargs.pop("files", None)
            response = world.client.request(method, url, headers=bearer("cnt_not-a-real-token"), **kwargs)
            if (
                response.status_code != 401
                or _code(response) != "invalid_token"
                or "www-authenticate" not in response.headers
            ):
                wrong.append((method, path, response.status_code, _code(response)))
        assert wrong == []

    def test_device_routes_ask_for_a_device_signature_whatever_token_is_sent(self, world, answers):
        wrong = []
        for method, path, relation, role, _, response in answers:
            if path in DEVICE_SIGNED and (
                _code(response) != "device_unauthenticated"
                or response.headers.get("www-authenticate") != "CarnetDevice"
            ):
                wrong.append((method, path, relation, role, response.status_code, _code(response)))
        assert wrong == []

    def test_an_unknown_role_string_is_refused_everywhere(self, world):
        conn = world.connection
        savepoint = conn.begin_nested()
        try:
            with Session(bind=conn, join_transaction_mode="create_savepoint") as session:
                token = _account(session, "merchant", "m-shapeshifter")
                session.commit()
            # A role the code does not know (written behind its back) grants nothing.
            conn.execute(text("PRAGMA ignore_check_constraints = ON")) if conn.dialect.name == "sqlite" else None
            if conn.dialect.name == "postgresql":
                conn.execute(text("ALTER TABLE users DROP CONSTRAINT ck_users_role"))
            conn.execute(text("UPDATE users SET role = 'superuser' WHERE username = 'm-shapeshifter'"))
            for path in ("/api/v1/persons", "/api/v1/users", "/api/v1/attributes", "/api/v1/me"):
                response = world.client.get(path, headers=bearer(token))
                assert response.status_code in (401, 403), (path, response.status_code)
        finally:
            if conn.dialect.name == "sqlite":
                conn.execute(text("PRAGMA ignore_check_constraints = OFF"))
            savepoint.rollback()


class TestAccountsCannotReadUnseen:
    def test_an_admin_cannot_create_a_citizen_account_for_someone(self, world):
        savepoint = world.connection.begin_nested()
        try:
            response = world.client.post(
                "/api/v1/users",
                json={
                    "username": "m-snoop",
                    "password": "a-long-password-1",
                    "role": "citizen",
                    "person_id": world.ids["person_v"],
                },
                headers=bearer(world.tokens["admin"]),
            )
        finally:
            savepoint.rollback()
        assert response.status_code in (403, 409, 422), response.text
