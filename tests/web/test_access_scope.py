"""Region scope, web sessions and signing in (moved from test_authorization.py, which now holds the role matrix)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.conftest import count_rows
from tests.web.conftest import PASSWORD, bearer, person_body


class TestAuthentication:
    def test_token_of_a_disabled_account_stops_working(self, client, session, make_user):
        token = make_user("registrar", username="leaver")
        assert client.get("/api/v1/persons", headers=bearer(token)).status_code == 200
        session.execute(text("UPDATE users SET is_active = :no WHERE username = 'leaver'"), {"no": False})
        session.commit()
        response = client.get("/api/v1/persons", headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"

    def test_other_authorization_scheme_is_401(self, client):
        response = client.get("/api/v1/persons", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_authorization_header"


class TestRegionScope:
    @pytest.fixture()
    def people(self, make_person):
        anzoategui = make_person(given_names="Ana", national_id="V-1000001", region_code="VE-A")
        zulia = make_person(given_names="Zoe", national_id="V-1000002", region_code="VE-V")
        return anzoategui, zulia

    @pytest.fixture()
    def zulia_registrar(self, make_user):
        return make_user("registrar", region_code="VE-V")

    def test_person_outside_the_region_is_not_found(self, client, session, people, zulia_registrar):
        anzoategui, zulia = people
        before = count_rows(session, "access_records")
        response = client.get(f"/api/v1/persons/{anzoategui['id']}", headers=bearer(zulia_registrar))
        assert response.status_code == 404
        assert response.json()["code"] == "person_not_found"
        assert count_rows(session, "access_records") == before
        response = client.get(f"/api/v1/persons/{zulia['id']}", headers=bearer(zulia_registrar))
        assert response.status_code == 200
        assert response.json()["region_code"] == "VE-V"

    def test_history_and_correction_outside_the_region_are_not_found(self, client, session, people, zulia_registrar):
        anzoategui, _ = people
        response = client.get(f"/api/v1/persons/{anzoategui['id']}/history", headers=bearer(zulia_registrar))
        assert response.status_code == 404
        response = client.patch(
            f"/api/v1/persons/{anzoategui['id']}",
            json={"reason": "moved", "given_names": "Otra"},
            headers=bearer(zulia_registrar),
        )
        assert response.status_code == 404
        assert count_rows(session, "record_changes", "operation = 'update'") == 0

    def test_search_lists_only_the_region(self, client, people, zulia_registrar):
        _, zulia = people
        response = client.get("/api/v1/persons", headers=bearer(zulia_registrar))
        assert response.status_code == 200
        assert [p["id"] for p in response.json()["items"]] == [str(zulia["id"])]
        response = client.get("/api/v1/persons?region_code=VE-A", headers=bearer(zulia_registrar))
        assert response.status_code == 200
        assert response.json()["items"] == []

    def test_registering_outside_the_region_is_refused(self, client, session, zulia_registrar):
        persons = count_rows(session, "persons")
        records = count_rows(session, "access_records")
        response = client.post("/api/v1/persons", json=person_body(region_code="VE-A"), headers=bearer(zulia_registrar))
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "outside_scope"
        assert [e["field"] for e in body["errors"]] == ["region_code"]
        assert count_rows(session, "persons") == persons
        assert count_rows(session, "access_records") == records

    def test_moving_a_person_out_of_the_region_is_refused(self, client, session, people, zulia_registrar):
        _, zulia = people
        response = client.patch(
            f"/api/v1/persons/{zulia['id']}",
            json={"reason": "moved", "region_code": "VE-A"},
            headers=bearer(zulia_registrar),
        )
        assert response.status_code == 422
        assert response.json()["code"] == "outside_scope"
        assert count_rows(session, "record_changes", "operation = 'update'") == 0
        assert count_rows(session, "persons", "region_code = 'VE-V'") == 1

    def test_unbound_registrar_sees_both_regions(self, client, people, make_user):
        anzoategui, zulia = people
        token = make_user("registrar")
        response = client.get("/api/v1/persons", headers=bearer(token))
        assert response.status_code == 200
        assert {p["id"] for p in response.json()["items"]} == {str(anzoategui["id"]), str(zulia["id"])}
        for person in people:
            assert client.get(f"/api/v1/persons/{person['id']}", headers=bearer(token)).status_code == 200

    def test_household_outside_the_region_is_refused_and_not_found(self, client, session, make_user, zulia_registrar):
        refused = client.post("/api/v1/households", json={"region_code": "VE-A"}, headers=bearer(zulia_registrar))
        assert refused.status_code == 422
        assert refused.json()["code"] == "outside_scope"
        assert count_rows(session, "households") == 0
        unbound = make_user("registrar")
        created = client.post("/api/v1/households", json={"region_code": "VE-A"}, headers=bearer(unbound))
        assert created.status_code == 201
        response = client.get(f"/api/v1/households/{created.json()['id']}", headers=bearer(zulia_registrar))
        assert response.status_code == 404
        response = client.get("/api/v1/households", headers=bearer(zulia_registrar))
        assert response.json()["items"] == []

    def test_imports_of_another_region_are_neither_listed_nor_readable(self, client, make_user, zulia_registrar):
        unbound = make_user("registrar")
        upload = (
            "anzoategui.csv",
            b"given_names,family_names,date_of_birth,region_code\nAna,Paz,1990-01-01,VE-A\n",
        )
        created = client.post("/api/v1/imports", files={"file": upload}, headers=bearer(unbound))
        assert created.status_code == 201
        import_id = created.json()["id"]
        assert client.get(f"/api/v1/imports/{import_id}", headers=bearer(zulia_registrar)).status_code == 404
        listed = client.get("/api/v1/imports", headers=bearer(zulia_registrar))
        assert listed.status_code == 200
        assert import_id not in [i["id"] for i in listed.json()]

    def test_import_rows_outside_the_region_are_rejected(self, client, session, zulia_registrar):
        upload = (
            "mixed.csv",
            b"given_names,family_names,date_of_birth,region_code\nAna,Paz,1990-01-01,VE-A\nZoe,Paz,1990-01-01,VE-V\n",
        )
        response = client.post("/api/v1/imports", files={"file": upload}, headers=bearer(zulia_registrar))
        assert response.status_code == 201
        summary = response.json()
        assert (summary["rows_imported"], summary["rows_rejected"]) == (1, 1)
        assert count_rows(session, "persons", "region_code = 'VE-A'") == 0
        assert count_rows(session, "persons", "region_code = 'VE-V'") == 1
        rejects = client.get(f"/api/v1/imports/{summary['id']}/rejects", headers=bearer(zulia_registrar))
        assert rejects.status_code == 200
        assert "outside_scope" in rejects.text


class TestWebSession:
    def test_cookie_session_with_csrf_header_and_sign_out(self, client, session, make_user):
        make_user("registrar", username="clerk")
        signed_in = client.post("/api/v1/auth/session", json={"username": "clerk", "password": PASSWORD})
        assert signed_in.status_code == 204
        set_cookie = signed_in.headers["set-cookie"]
        assert set_cookie.startswith("carnet_session=")
        assert "httponly" in set_cookie.lower() and "samesite=strict" in set_cookie.lower()
        cookie = signed_in.cookies["carnet_session"]
        assert count_rows(session, "web_sessions", "revoked_at IS NULL") == 1
        client.cookies.clear()
        with_cookie = {"Cookie": f"carnet_session={cookie}"}

        assert client.get("/api/v1/persons", headers=with_cookie).status_code == 200

        persons = count_rows(session, "persons")
        refused = client.post("/api/v1/persons", json=person_body(), headers=with_cookie)
        assert refused.status_code == 401
        assert refused.json()["code"] == "csrf_required"
        assert count_rows(session, "persons") == persons

        created = client.post("/api/v1/persons", json=person_body(), headers=with_cookie | {"X-Carnet-CSRF": "1"})
        assert created.status_code == 201
        assert count_rows(session, "persons") == persons + 1

        forged = client.delete("/api/v1/auth/session", headers=with_cookie)
        assert forged.status_code == 401 and forged.json()["code"] == "csrf_required"
        signed_out = client.delete("/api/v1/auth/session", headers=with_cookie | {"X-Carnet-CSRF": "1"})
        assert signed_out.status_code == 204
        assert 'carnet_session=""' in signed_out.headers["set-cookie"] or "max-age=0" in (
            signed_out.headers["set-cookie"].lower()
        )
        assert count_rows(session, "web_sessions", "revoked_at IS NULL") == 0
        client.cookies.clear()
        expired = client.get("/api/v1/persons", headers=with_cookie)
        assert expired.status_code == 401
        assert expired.json()["code"] == "session_expired"


class TestSignIn:
    @pytest.fixture()
    def clerk(self, make_user):
        return make_user("registrar", username="clerk")

    def test_password_gives_a_working_token(self, client, session, clerk):
        response = client.post("/api/v1/auth/tokens", json={"username": "clerk", "password": PASSWORD})
        assert response.status_code == 201
        body = response.json()
        assert body["token_type"] == "bearer" and body["role"] == "registrar" and body["expires_at"]
        assert count_rows(session, "api_tokens") == 2
        assert client.get("/api/v1/persons", headers=bearer(body["access_token"])).status_code == 200

    @pytest.mark.parametrize("route", ["/api/v1/auth/tokens", "/api/v1/auth/session"])
    def test_wrong_password_and_unknown_user_are_the_same_401(self, client, session, clerk, route):
        for credentials in (
            {"username": "clerk", "password": "wrong-password"},
            {"username": "nobody", "password": PASSWORD},
        ):
            response = client.post(route, json=credentials)
            assert response.status_code == 401
            assert response.json()["code"] == "bad_credentials"
            assert response.json()["detail"] == "wrong username or password"
            assert "www-authenticate" in response.headers
            assert "set-cookie" not in response.headers
        assert count_rows(session, "api_tokens") == 1
        assert count_rows(session, "web_sessions") == 0
