"""The registry through HTTP: each test checks the status, the body and what reached the database."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from sqlalchemy import select, text

from carnet.audit.models import AccessRecord
from carnet.kit.i18n import describe, t
from carnet.registry.models import Person
from tests.conftest import count_rows
from tests.web.conftest import PROBLEM_JSON, bearer, person_body

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "request_id"}
IMPORT_HEADER = "given_names,family_names,date_of_birth,region_code,national_id\n"
GOOD_ROWS = "Ana,Paz,1990-01-01,VE-A,V-2000001\nLuis,Mora,1985-05-05,VE-V,V-2000002\nRosa,Díaz,1970-12-31,VE-A,\n"
BAD_ROWS = (
    "Pedro,Gil,31/02/1990,VE-A,V-2000004\n"  # row 5: no such date
    "Carla,Rey,1991-02-02,VE-QQ,V-2000005\n"  # row 6: no such state
)
CENSUS = (IMPORT_HEADER + GOOD_ROWS + BAD_ROWS).encode("utf-8")


@pytest.fixture()
def token(make_user) -> str:
    """A registrar not bound to a region."""
    return make_user("registrar")


@pytest.fixture()
def auth(token) -> dict[str, str]:
    return bearer(token)


SNAPSHOT_TABLES = (
    "persons",
    "person_attributes",
    "access_records",
    "record_changes",
    "households",
    "import_runs",
)


def snapshot(session) -> dict[str, int]:
    """Row counts of the tables a registry write touches."""
    return {table: count_rows(session, table) for table in SNAPSHOT_TABLES}


def access_records(session, subject_id) -> list[AccessRecord]:
    return list(
        session.scalars(
            select(AccessRecord).where(AccessRecord.subject_id == uuid.UUID(str(subject_id))).order_by(AccessRecord.seq)
        )
    )


def assert_problem(response, status: int, code: str) -> dict:
    """The response is problem+json with every required member, this status and this code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(f"/{code}")
    assert body["request_id"] == response.headers["x-request-id"]
    return body


class TestInfrastructure:
    def test_root_says_where_to_go(self, client):
        body = client.get("/").json()
        assert body["api_description"] == "/api/openapi.json" and body["health"] == "/healthz"

    def test_openapi_names_each_operations_permission_and_purpose(self, client):
        paths = client.get("/api/openapi.json").json()["paths"]
        person = paths["/api/v1/persons/{person_id}"]["get"]
        assert (person["x-carnet-permission"], person["x-carnet-purpose"]) == ("persons:read", "registration")
        assert paths["/api/v1/me"]["get"]["x-carnet-purpose"] == "data_subject_access"
        assert paths["/api/v1/auth/tokens"]["post"]["x-carnet-permission"] == "public"
        api = [op for path, ops in paths.items() if path.startswith("/api/") for op in ops.values()]
        assert all("x-carnet-permission" in op for op in api)

    def test_healthz(self, client):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"

    def test_openapi_lists_the_registry_routes(self, client):
        response = client.get("/api/openapi.json")
        assert response.status_code == 200
        paths = response.json()["paths"]
        for path in (
            "/api/v1/persons",
            "/api/v1/persons/{person_id}",
            "/api/v1/households",
            "/api/v1/imports",
        ):
            assert path in paths
        assert "post" in paths["/api/v1/persons"] and "post" in paths["/api/v1/imports"]

    @pytest.mark.parametrize("path", ["/docs", "/docs/oauth2-redirect", "/redoc"])
    def test_no_interactive_docs_are_served(self, client, path):
        assert_problem(client.get(path), 404, "route_not_found")


class TestErrorShape:
    def test_every_kind_of_error_is_problem_json(self, client, auth):
        assert_problem(client.get("/api/v1/persons"), 401, "unauthenticated")
        assert_problem(client.get("/api/v1/nowhere"), 404, "route_not_found")
        assert_problem(client.put("/api/v1/persons", headers=auth), 405, "method_not_allowed")
        assert_problem(client.get(f"/api/v1/persons/{uuid.uuid4()}", headers=auth), 404, "person_not_found")
        assert_problem(client.get("/api/v1/persons/not-a-uuid", headers=auth), 422, "validation_failed")
        assert_problem(
            client.post("/api/v1/persons", content=b"{not json", headers=auth | {"content-type": "application/json"}),
            422,
            "validation_failed",
        )

    def test_the_request_id_given_is_the_one_reported(self, client):
        response = client.get("/api/v1/persons", headers={"X-Request-Id": "req-42"})
        assert response.headers["x-request-id"] == "req-42"
        assert assert_problem(response, 401, "unauthenticated")["request_id"] == "req-42"


class TestCreatePerson:
    def test_creates_normalises_and_reads_back(self, client, session, auth):
        before = snapshot(session)
        response = client.post(
            "/api/v1/persons",
            json=person_body(national_id="v 12.345.678", phone="0414-123.4567"),
            headers=auth,
        )
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["national_id"] == "V-12345678"
        assert created["phone"] == "+584141234567"
        assert created["version"] == 1
        assert created["attributes"] == {"monthly_income": 250000}
        person = session.get(Person, uuid.UUID(created["id"]))
        assert person.national_id == "V-12345678" and person.phone == "+584141234567"
        after = snapshot(session)
        assert after["persons"] == before["persons"] + 1
        assert after["person_attributes"] == before["person_attributes"] + 1
        assert [r.action for r in access_records(session, created["id"])] == ["create"]

        read = client.get(f"/api/v1/persons/{created['id']}", headers=auth)
        assert read.status_code == 200
        assert read.json() == created

    def test_invalid_fields_are_each_named(self, client, session, auth):
        before = snapshot(session)
        response = client.post(
            "/api/v1/persons",
            json=person_body(date_of_birth="31/02/1990", national_id="J-1", region_code="VE-QQ"),
            headers=auth,
        )
        body = assert_problem(response, 422, "validation_failed")
        assert {e["field"]: e["code"] for e in body["errors"]} == {
            "date_of_birth": "invalid_date",
            "national_id": "invalid_national_id",
            "region_code": "unknown_region",
        }
        assert snapshot(session) == before

    def test_duplicate_cedula_is_a_conflict(self, client, session, auth, make_person):
        make_person(national_id="V-12345678")
        before = snapshot(session)
        response = client.post("/api/v1/persons", json=person_body(given_names="Otra"), headers=auth)
        assert_problem(response, 409, "duplicate_national_id")
        assert snapshot(session) == before


class TestRefusedFields:
    @pytest.mark.parametrize(
        ("field", "category"),
        [("religion", "religion"), ("partido_politico", "political opinion or party")],
    )
    def test_prohibited_top_level_field(self, client, session, auth, field, category):
        before = snapshot(session)
        response = client.post("/api/v1/persons", json=person_body(**{field: "x"}), headers=auth)
        body = assert_problem(response, 422, "prohibited_attribute")
        assert body["attribute"] == field and body["category"] == category
        assert category in body["detail"]
        assert {"field": field, "code": "prohibited_attribute", "message": category} in body["errors"]
        assert snapshot(session) == before

    def test_prohibited_attribute(self, client, session, auth):
        before = snapshot(session)
        response = client.post("/api/v1/persons", json=person_body(attributes={"etnia": "x"}), headers=auth)
        body = assert_problem(response, 422, "prohibited_attribute")
        assert body["attribute"] == "etnia" and body["category"] == "ethnicity or race"
        assert snapshot(session) == before

    def test_undeclared_attribute(self, client, session, auth):
        before = snapshot(session)
        response = client.post("/api/v1/persons", json=person_body(attributes={"shoe_size": 1}), headers=auth)
        body = assert_problem(response, 422, "undeclared_attribute")
        assert [e["field"] for e in body["errors"]] == ["shoe_size"]
        assert snapshot(session) == before

    def test_unknown_harmless_field(self, client, session, auth):
        before = snapshot(session)
        response = client.post("/api/v1/persons", json=person_body(favourite_colour="blue"), headers=auth)
        body = assert_problem(response, 422, "validation_failed")
        assert {
            "field": "favourite_colour",
            "code": "undeclared_field",
            "message": "not a field of this record",
        } in (body["errors"])
        assert snapshot(session) == before

    def test_prohibited_attribute_in_a_correction(self, client, session, auth, make_person):
        person = make_person()
        before = snapshot(session)
        response = client.patch(
            f"/api/v1/persons/{person['id']}",
            json={"reason": "survey", "attributes": {"religión": "x"}},
            headers=auth,
        )
        assert_problem(response, 422, "prohibited_attribute")
        assert snapshot(session) == before


class TestReadPerson:
    def test_each_read_adds_one_access_record_for_registration(self, client, session, auth, make_person):
        person = make_person()
        for expected in (2, 3):
            response = client.get(f"/api/v1/persons/{person['id']}", headers=auth)
            assert response.status_code == 200
            assert response.json()["id"] == str(person["id"])
            records = access_records(session, person["id"])
            assert len(records) == expected
            read = records[-1]
            assert (read.action, read.purpose, read.actor_role) == ("read", "registration", "registrar")
            assert read.actor_user_id is not None
            assert read.request_id == response.headers["x-request-id"]
            assert "national_id" in read.fields

    def test_unknown_person_adds_no_access_record(self, client, session, auth):
        before = count_rows(session, "access_records")
        assert_problem(client.get(f"/api/v1/persons/{uuid.uuid4()}", headers=auth), 404, "person_not_found")
        assert count_rows(session, "access_records") == before

    def test_search_by_cedula(self, client, session, auth, make_person):
        make_person(given_names="Ana", national_id="V-1000001")
        wanted = make_person(given_names="Luis", national_id="V-1000002")
        response = client.get("/api/v1/persons", params={"q": "v1000002"}, headers=auth)
        assert response.status_code == 200
        assert [p["id"] for p in response.json()["items"]] == [str(wanted["id"])]
        assert [r.action for r in access_records(session, wanted["id"])] == ["create", "read"]


class TestUpdatePerson:
    def test_correction_with_reason_and_history(self, client, session, auth):
        created = client.post("/api/v1/persons", json=person_body(), headers=auth).json()
        response = client.patch(
            f"/api/v1/persons/{created['id']}",
            json={"reason": "typo in surname", "family_names": "Pérez Rodrígues"},
            headers=auth,
        )
        assert response.status_code == 200, response.text
        assert response.json()["family_names"] == "Pérez Rodrígues"
        assert response.json()["version"] == 2
        stored = session.scalars(
            select(Person).where(Person.id == uuid.UUID(created["id"])).execution_options(populate_existing=True)
        ).one()
        assert (stored.family_names, stored.version) == ("Pérez Rodrígues", 2)

        history = client.get(f"/api/v1/persons/{created['id']}/history", headers=auth)
        assert history.status_code == 200
        versions = history.json()
        assert [(v["version"], v["operation"]) for v in versions] == [(1, "create"), (2, "update")]
        assert versions[1]["reason"] == "typo in surname"
        assert versions[1]["changes"] == {"family_names": ["Pérez Rodríguez", "Pérez Rodrígues"]}
        assert versions[1]["actor_role"] == "registrar"

    def test_correction_without_reason_is_refused(self, client, session, auth, make_person):
        person = make_person()
        before = snapshot(session)
        response = client.patch(f"/api/v1/persons/{person['id']}", json={"given_names": "Otra"}, headers=auth)
        body = assert_problem(response, 422, "validation_failed")
        assert "reason" in [e["field"] for e in body["errors"]]
        assert snapshot(session) == before
        stored = session.scalars(
            select(Person).where(Person.id == person["id"]).execution_options(populate_existing=True)
        ).one()
        assert (stored.given_names, stored.version) == (person["given_names"], 1)

    def test_stale_version_is_refused(self, client, session, auth, make_person):
        person = make_person()
        before = snapshot(session)
        response = client.patch(
            f"/api/v1/persons/{person['id']}",
            json={"reason": "late", "expected_version": 7, "given_names": "Otra"},
            headers=auth,
        )
        assert_problem(response, 409, "stale_version")
        assert snapshot(session) == before


class TestPagination:
    def test_pages_cover_every_person_once(self, client, auth, make_person):
        created = {
            str(make_person(given_names=f"Ana {c}", national_id=f"V-{3000000 + i}")["id"])
            for i, c in enumerate("ABCDE")
        }
        seen, sizes, cursor = [], [], None
        while True:
            params = {"page_size": 2} | ({"cursor": cursor} if cursor else {})
            response = client.get("/api/v1/persons", params=params, headers=auth)
            assert response.status_code == 200
            page = response.json()
            seen += [p["id"] for p in page["items"]]
            sizes.append(len(page["items"]))
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert len(sizes) < 10, "pagination does not end"
        assert sizes == [2, 2, 1]
        assert sorted(seen) == sorted(created)

    def test_malformed_cursor(self, client, session, auth):
        before = count_rows(session, "access_records")
        assert_problem(client.get("/api/v1/persons", params={"cursor": "page-2"}, headers=auth), 400, "invalid_cursor")
        assert_problem(client.get("/api/v1/households", params={"cursor": "x"}, headers=auth), 400, "invalid_cursor")
        assert count_rows(session, "access_records") == before

    def test_page_size_is_bounded(self, client, auth):
        body = assert_problem(
            client.get("/api/v1/persons", params={"page_size": 1000}, headers=auth), 422, "validation_failed"
        )
        assert [e["field"] for e in body["errors"]] == ["page_size"]


class TestHouseholds:
    def test_register_then_read_with_members(self, client, session, auth):
        before = snapshot(session)
        response = client.post(
            "/api/v1/households",
            json={"region_code": "Zulia", "address_line": "Calle 72, casa 5"},
            headers=auth,
        )
        assert response.status_code == 201, response.text
        household = response.json()
        assert household["region_code"] == "VE-V" and household["members"] == []
        assert count_rows(session, "households") == before["households"] + 1
        head = client.post(
            "/api/v1/persons",
            headers=auth,
            json=person_body(region_code="VE-V", household_id=household["id"], relationship="jefa"),
        )
        child = client.post(
            "/api/v1/persons",
            headers=auth,
            json=person_body(
                given_names="Luis",
                national_id="V-30111222",
                date_of_birth="2015-06-01",
                region_code="VE-V",
                household_id=household["id"],
                relationship="hijo",
            ),
        )
        assert head.status_code == child.status_code == 201

        response = client.get(f"/api/v1/households/{household['id']}", headers=auth)
        assert response.status_code == 200
        read = response.json()
        assert read["head_person_id"] == head.json()["id"]
        assert {(m["id"], m["relationship"]) for m in read["members"]} == {
            (head.json()["id"], "head"),
            (child.json()["id"], "child"),
        }
        assert [r.action for r in access_records(session, household["id"])] == ["create", "read"]
        assert [r.action for r in access_records(session, child.json()["id"])] == ["create", "read"]

    def test_unknown_household(self, client, auth):
        assert_problem(client.get(f"/api/v1/households/{uuid.uuid4()}", headers=auth), 404, "household_not_found")

    def test_person_in_unknown_household_is_refused(self, client, session, auth):
        before = snapshot(session)
        response = client.post("/api/v1/persons", json=person_body(household_id=str(uuid.uuid4())), headers=auth)
        assert_problem(response, 404, "household_not_found")
        assert snapshot(session) == before


class TestImports:
    def upload(self, client, auth, content: bytes = CENSUS, name: str = "censo.csv"):
        return client.post("/api/v1/imports", files={"file": (name, content, "text/csv")}, headers=auth)

    def test_good_rows_kept_bad_rows_listed(self, client, session, auth):
        before = snapshot(session)
        imported_before = count_rows(session, "persons", "import_id IS NOT NULL")
        response = self.upload(client, auth)
        assert response.status_code == 201, response.text
        summary = response.json()
        assert (summary["rows_total"], summary["rows_imported"], summary["rows_rejected"]) == (5, 3, 2)
        assert summary["rows_already_present"] == 0
        assert summary["filename"] == "censo.csv" and summary["status"] == "completed"
        after = snapshot(session)
        assert after["persons"] == before["persons"] + 3
        assert after["import_runs"] == before["import_runs"] + 1
        assert count_rows(session, "persons", "import_id IS NOT NULL") == imported_before + 3
        cohort = session.scalars(select(AccessRecord).where(AccessRecord.subject_type == "cohort")).all()
        assert [(r.action, r.cohort_size, r.purpose) for r in cohort] == [("import", 3, "registration")]

        read = client.get(f"/api/v1/imports/{summary['id']}", headers=auth)
        assert read.status_code == 200
        assert {k: read.json()[k] for k in ("rows_total", "rows_imported", "rows_rejected")} == {
            "rows_total": 5,
            "rows_imported": 3,
            "rows_rejected": 2,
        }

        rejects = client.get(f"/api/v1/imports/{summary['id']}/rejects", headers=auth)
        assert rejects.status_code == 200
        assert rejects.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(rejects.text)))
        assert {(r["row_number"], r["field"], r["code"], r["given_names"]) for r in rows} == {
            ("5", "date_of_birth", "invalid_date", "Pedro"),
            ("6", "region_code", "unknown_region", "Carla"),
        }

    def test_the_same_file_again_adds_nobody(self, client, session, auth):
        assert self.upload(client, auth).status_code == 201
        persons = count_rows(session, "persons")
        response = self.upload(client, auth)
        assert response.status_code == 201
        summary = response.json()
        assert (summary["rows_imported"], summary["rows_already_present"], summary["rows_rejected"]) == (
            0,
            3,
            2,
        )
        assert count_rows(session, "persons") == persons

    def test_prohibited_column_refuses_the_file(self, client, session, auth, tmp_path):
        before = snapshot(session)
        content = (IMPORT_HEADER.rstrip("\n") + ",religion\n" + "Ana,Paz,1990-01-01,VE-A,V-2000001,x\n").encode()
        body = assert_problem(self.upload(client, auth, content), 422, "prohibited_attribute")
        assert body["attribute"] == "religion" and body["category"] == "religion"
        assert snapshot(session) == before
        assert list((tmp_path / "imports").glob("*")) == []

    def test_only_csv_and_xlsx_are_accepted(self, client, session, auth):
        before = snapshot(session)
        assert_problem(self.upload(client, auth, CENSUS, "censo.txt"), 400, "unsupported_format")
        assert snapshot(session) == before

    def test_a_corrupt_workbook_is_refused_not_a_crash(self, client, session, auth, tmp_path):
        before = snapshot(session)
        response = self.upload(client, auth, b"this is not a zip archive", "censo.xlsx")
        assert response.status_code in (400, 415, 422), response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert snapshot(session) == before
        assert list((tmp_path / "imports").glob("*")) == []

    def test_summary_read_without_import_rights_holds_no_row_values(self, client, auth, make_user):
        # The rejected rows hold personal data, so only roles that may import may read them (imports.py);
        # the summary is open to imports:read (admin, auditor) and must not carry their values either.
        same_cedula_other_person = "Otro,Nombre,1999-09-09,VE-A,V-2000001\n"  # row 7
        summary = self.upload(client, auth, CENSUS + same_cedula_other_person.encode()).json()
        assert summary["rows_rejected"] == 3
        admin = make_user("admin")
        response = client.get(f"/api/v1/imports/{summary['id']}", headers=bearer(admin))
        assert response.status_code == 200
        assert response.json()["rows_rejected"] == 3
        for value in ("31/02/1990", "V-2000001", "Pedro", "Otro"):  # a date of birth, a cédula, names
            assert value not in response.text

    def test_missing_file_part(self, client, auth):
        body = assert_problem(client.post("/api/v1/imports", headers=auth), 422, "validation_failed")
        assert [e["field"] for e in body["errors"]] == ["file"]

    def test_unknown_import(self, client, auth):
        assert_problem(client.get(f"/api/v1/imports/{uuid.uuid4()}", headers=auth), 404, "import_not_found")
        assert_problem(client.get(f"/api/v1/imports/{uuid.uuid4()}/rejects", headers=auth), 404, "import_not_found")


class TestUsers:
    @pytest.fixture()
    def admin(self, make_user) -> dict[str, str]:
        return bearer(make_user("admin"))

    def account(self, **overrides: object) -> dict:
        return {
            "username": "nueva.registradora",
            "password": "una-clave-larga",
            "role": "registrar",
            "region_code": "VE-V",
        } | overrides

    def test_admin_creates_and_lists_accounts(self, client, session, admin):
        response = client.post("/api/v1/users", json=self.account(), headers=admin)
        assert response.status_code == 201, response.text
        created = response.json()
        assert (created["username"], created["role"], created["region_code"]) == (
            "nueva.registradora",
            "registrar",
            "VE-V",
        )
        assert not any("password" in key for key in created)
        stored = session.execute(
            text("SELECT password_hash FROM users WHERE username = 'nueva.registradora'")
        ).scalar_one()
        assert stored.startswith("$argon2id$") and "una-clave-larga" not in stored
        listed = client.get("/api/v1/users", headers=admin)
        assert listed.status_code == 200
        assert "nueva.registradora" in [u["username"] for u in listed.json()]

    def test_invalid_account_names_each_field(self, client, session, admin):
        before = count_rows(session, "users")
        response = client.post(
            "/api/v1/users", json=self.account(username="X", password="short", role="king"), headers=admin
        )
        body = assert_problem(response, 422, "validation_failed")
        assert {e["field"]: e["code"] for e in body["errors"]} == {
            "username": "invalid_username",
            "password": "weak_password",
            "role": "invalid_role",
        }
        assert count_rows(session, "users") == before

    def test_duplicate_username_is_a_conflict(self, client, session, admin):
        assert client.post("/api/v1/users", json=self.account(), headers=admin).status_code == 201
        before = count_rows(session, "users")
        assert_problem(client.post("/api/v1/users", json=self.account(), headers=admin), 409, "duplicate_user")
        assert count_rows(session, "users") == before

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"region_code": "VE-QQ"}, "region_code"),
            ({"role": "registrar", "person_id": str(uuid.uuid4())}, "person_id"),
        ],
    )
    def test_unknown_region_or_person_is_a_field_error(self, client, session, admin, overrides, field):
        before = count_rows(session, "users")
        response = client.post("/api/v1/users", json=self.account(**overrides), headers=admin)
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]]
        assert count_rows(session, "users") == before


class TestOwnRecord:
    def test_citizen_reads_own_record_and_the_read_is_logged(self, client, session, make_user, make_person):
        mine = make_person(given_names="Rosa", national_id="V-5555555")
        make_person(given_names="Otra", national_id="V-6666666")
        token = make_user("citizen", person_id=mine["id"])
        response = client.get("/api/v1/me", headers=bearer(token))
        assert response.status_code == 200
        assert response.json()["id"] == str(mine["id"])
        assert response.json()["national_id"] == "V-5555555"
        reads = [r for r in access_records(session, mine["id"]) if r.action == "read"]
        assert [(r.purpose, r.actor_role) for r in reads] == [("data_subject_access", "citizen")]


class TestLanguage:
    def test_spanish_is_accepted_and_codes_stay_stable(self, client, auth):
        english = assert_problem(client.get("/api/v1/persons"), 401, "unauthenticated")
        assert english["title"] == "Authentication required"
        spanish = assert_problem(
            client.get("/api/v1/persons", headers={"Accept-Language": "es-VE,es;q=0.9"}),
            401,
            "unauthenticated",
        )
        assert spanish["title"] == t("Authentication required", language="es")
        invalid = client.post(
            "/api/v1/persons",
            json=person_body(favourite_colour="blue"),
            headers=auth | {"Accept-Language": "es"},
        )
        body = assert_problem(invalid, 422, "validation_failed")
        assert body["title"] == t("Invalid request", language="es")
        assert body["detail"] == t("Some fields are invalid.", language="es")

    def test_field_errors_are_explained_in_spanish_and_detailed_in_english(self, client, auth):
        body = person_body(date_of_birth="31/02/1990", region_code="VE-QQ")
        spanish = client.post("/api/v1/persons", json=body, headers=auth | {"Accept-Language": "es"})
        errors = {e["field"]: e for e in assert_problem(spanish, 422, "validation_failed")["errors"]}
        assert errors["date_of_birth"]["message"] == describe("invalid_date", "", language="es")
        assert errors["region_code"]["message"] == "No es un estado de Venezuela."
        english = client.post("/api/v1/persons", json=body, headers=auth)
        errors = {e["field"]: e for e in assert_problem(english, 422, "validation_failed")["errors"]}
        assert "'31/02/1990' is not a date" in errors["date_of_birth"]["message"]
        assert errors["region_code"]["code"] == "unknown_region"

    def test_an_unsupported_language_falls_back_to_english(self, client):
        body = assert_problem(client.get("/api/v1/persons", headers={"Accept-Language": "fr"}), 401, "unauthenticated")
        assert body["title"] == "Authentication required"
