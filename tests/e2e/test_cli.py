"""The `carnet` command line, end to end: each test runs commands against its own fresh store."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from datetime import date
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook
from typer.testing import CliRunner

from carnet.cli import common
from carnet.cli.main import app
from carnet.config import get_settings
from carnet.kit.i18n import set_language
from carnet.registry.seed import COLUMNS

SHIPPED_DICTIONARY = Path(__file__).resolve().parents[2] / "src/carnet/registry/data/attributes.yaml"
runner = CliRunner()

# Good rows: valid, each identified by its cédula; written in the import format.
GOOD_ROWS = [
    {
        "given_names": "María José",
        "family_names": "Pérez Rodríguez",
        "date_of_birth": "1985-03-14",
        "sex": "F",
        "national_id": "V-12345678",
        "phone": "0414-1234567",
        "region_code": "VE-A",
        "municipality_code": "VE-A-01",
        "monthly_income": "250000",
        "disability": "false",
        "dwelling_type": "house",
    },
    {
        "given_names": "Luis Alberto",
        "family_names": "Peña Mora",
        "date_of_birth": "14/02/1979",
        "sex": "M",
        "national_id": "V-7654321",
        "region_code": "Zulia",
        "municipality_code": "Maracaibo",
        "monthly_income": "0",
        "employment_status": "unemployed",
    },
    {
        "given_names": "Yusmary",
        "family_names": "Contreras",
        "date_of_birth": "2001-07-30",
        "sex": "F",
        "national_id": "E-81234567",
        "region_code": "VE-S",
        "vehicle_owned": "true",
    },
    {"given_names": "Ana", "family_names": "Rojas", "date_of_birth": "2015-01-01", "region_code": "VE-K"},
]
# Bad rows and the problems each must be rejected for: (field, code).
BAD_ROWS = [
    (
        {"given_names": "Rosa", "family_names": "Díaz", "date_of_birth": "31/02/1980", "region_code": "VE-A"},
        {("date_of_birth", "invalid_date")},
    ),
    (
        {
            "given_names": "Pedro",
            "family_names": "Salas",
            "date_of_birth": "1960-03-03",
            "national_id": "J-123",
            "phone": "12345",
            "region_code": "VE-QQ",
        },
        {("national_id", "invalid_national_id"), ("phone", "invalid_phone"), ("region_code", "unknown_region")},
    ),
    (
        {
            "given_names": "Carmen",
            "family_names": "Vargas",
            "date_of_birth": "1985-05-05",
            "region_code": "VE-S",
            "monthly_income": "mucho",
        },
        {("monthly_income", "invalid_attribute_value")},
    ),
]
HEADER = [
    "given_names",
    "family_names",
    "date_of_birth",
    "sex",
    "national_id",
    "phone",
    "region_code",
    "municipality_code",
    "monthly_income",
    "employment_status",
    "disability",
    "dwelling_type",
    "vehicle_owned",
]


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh data directory for the CLI; the cached settings and engines are dropped on both sides."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("CARNET_DATA_DIR", str(data_dir))
    for name in ("CARNET_DATABASE_URL", "CARNET_LANGUAGE", "CARNET_ATTRIBUTE_DICTIONARY", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "250")  # no wrapping of rich output
    monkeypatch.setenv("TERM", "xterm")
    get_settings.cache_clear()
    common._factory.cache_clear()
    yield data_dir
    if common._factory.cache_info().currsize:
        common.session_factory().kw["bind"].dispose()
    get_settings.cache_clear()
    common._factory.cache_clear()
    set_language("en")  # the CLI sets the language of this thread's context; leave it as found


def carnet(*args: object, ok: bool = True):
    """Run `carnet ARGS`; by default the command must succeed."""
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def persons(data_dir: Path) -> int:
    """How many persons the store holds, read with sqlite3 straight from the file."""
    with sqlite3.connect(data_dir / "carnet.db") as conn:
        return conn.execute("SELECT count(*) FROM persons").fetchone()[0]


def write_csv(path: Path, rows: list[dict], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def mixed_file(path: Path) -> Path:
    """Good rows, then bad ones: rows 2-5 good, 6-8 bad."""
    return write_csv(path, [*GOOD_ROWS, *(row for row, _ in BAD_ROWS)])


def summary(result) -> dict:
    return json.loads(result.stdout)


class TestInit:
    def test_twice_second_run_is_unchanged(self, store):
        first = carnet("init")
        assert "(loaded)" in first.output
        assert re.search(r"Regions added: [1-9]\d*;", first.output)
        second = carnet("init")
        assert "Regions added: 0;" in second.output
        assert "(unchanged)" in second.output
        assert (store / "carnet.db").is_file()


class TestSeed:
    def test_same_seed_gives_byte_identical_files_another_seed_does_not(self, store, tmp_path):
        carnet("seed", "--people", 300, "--seed", 4, "--csv", tmp_path / "a.csv")
        carnet("seed", "--people", 300, "--seed", 4, "--csv", tmp_path / "b.csv")
        other = carnet("seed", "--people", 300, "--seed", 5, "--csv", tmp_path / "c.csv")
        a, b, c = ((tmp_path / n).read_bytes() for n in ("a.csv", "b.csv", "c.csv"))
        assert a == b
        assert a != c
        assert "Wrote 300 people" in other.output
        with (tmp_path / "a.csv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == 300
        assert tuple(rows[0]) == COLUMNS
        assert not (store / "carnet.db").exists()  # --csv writes a file and touches no store

    def test_seed_into_the_store_as_json(self, store):
        result = carnet("seed", "--people", 500, "--seed", 4, "--json")
        report = summary(result)
        assert report["status"] == "completed"
        assert (report["rows_total"], report["rows_imported"], report["rows_rejected"]) == (500, 500, 0)
        assert report["households_created"] > 0
        assert persons(store) == 500


class TestImport:
    def test_good_rows_imported_bad_rows_go_to_the_rejects_file(self, store, tmp_path):
        carnet("init")
        source = mixed_file(tmp_path / "census.csv")
        report = summary(carnet("registry", "import", source, "--json"))
        assert report["rows_total"] == len(GOOD_ROWS) + len(BAD_ROWS)
        assert report["rows_imported"] == len(GOOD_ROWS)
        assert report["rows_rejected"] == len(BAD_ROWS)
        assert report["rows_already_present"] == 0
        rejects = tmp_path / "census.csv.rejects.csv"
        assert report["rejects_file"] == str(rejects)
        with rejects.open(encoding="utf-8", newline="") as handle:
            lines = list(csv.reader(handle))
        assert lines[0] == ["row_number", "field", "code", "message", *HEADER]
        problems = {(int(line[0]), line[1], line[2]) for line in lines[1:]}
        expected = {
            (row_number, field, code)
            for row_number, (_, row_problems) in enumerate(BAD_ROWS, start=len(GOOD_ROWS) + 2)
            for field, code in row_problems
        }
        assert problems == expected
        assert len(lines) - 1 == len(expected)  # one line per problem
        assert all(line[3] for line in lines[1:])  # each with a message
        # The original cells follow, so the row can be fixed and imported again.
        by_row = {int(line[0]): line[4:] for line in lines[1:]}
        assert by_row[len(GOOD_ROWS) + 2][HEADER.index("date_of_birth")] == "31/02/1980"
        assert persons(store) == len(GOOD_ROWS)

    def test_importing_the_same_file_again_adds_nobody(self, store, tmp_path):
        carnet("init")
        source = mixed_file(tmp_path / "census.csv")
        carnet("registry", "import", source, "--json")
        again = summary(carnet("registry", "import", source, "--json"))
        assert again["rows_imported"] == 0
        assert again["rows_already_present"] == len(GOOD_ROWS)
        assert again["rows_rejected"] == len(BAD_ROWS)
        assert persons(store) == len(GOOD_ROWS)

    @pytest.mark.parametrize(
        ("column", "category"), [("partido", "political opinion or party"), ("religion", "religion")]
    )
    def test_prohibited_column_refuses_the_whole_file(self, store, tmp_path, column, category):
        carnet("init")
        rows = [row | {column: "x"} for row in GOOD_ROWS]
        source = write_csv(tmp_path / "survey.csv", rows, [*HEADER, column])
        result = carnet("registry", "import", source, "--json", ok=False)
        assert result.exit_code == 2
        assert "prohibited_attribute" in result.output
        assert category in result.output
        assert persons(store) == 0
        assert not (tmp_path / "survey.csv.rejects.csv").exists()

    def test_undeclared_column_refuses_the_whole_file(self, store, tmp_path):
        carnet("init")
        source = write_csv(
            tmp_path / "survey.csv", [r | {"shoe_size": "42"} for r in GOOD_ROWS], [*HEADER, "shoe_size"]
        )
        result = carnet("registry", "import", source, ok=False)
        assert result.exit_code == 2
        assert "undeclared_column" in result.output
        assert "shoe_size" in result.output
        assert persons(store) == 0

    def test_mapping_makes_a_spanish_headed_file_importable(self, store, tmp_path):
        carnet("init")
        header = [
            "Nombres",
            "Apellidos",
            "Fecha de nacimiento",
            "Sexo",
            "Cédula",
            "Teléfono",
            "Estado",
            "Municipio",
            "Observaciones",
        ]
        source = tmp_path / "censo.csv"
        with source.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=";")  # as a Spanish-locale spreadsheet saves it
            writer.writerow(header)
            writer.writerow(
                [
                    "José Gregorio",
                    "Hernández",
                    "26/10/1964",
                    "Masculino",
                    "v 9.876.543",
                    "0416 555 1234",
                    "Zulia",
                    "Maracaibo",
                    "vive con la hija",
                ]
            )
            writer.writerow(["Rosa", "Blanco Díaz", "1990-05-01", "mujer", "", "", "Mérida", "Libertador", ""])
        unmapped = carnet("registry", "import", source, ok=False)
        assert unmapped.exit_code == 2 and "undeclared_column" in unmapped.output
        mapping = tmp_path / "censo.yaml"
        mapping.write_text(
            yaml.safe_dump(
                {
                    "columns": {
                        "Nombres": "given_names",
                        "Apellidos": "family_names",
                        "Fecha de nacimiento": "date_of_birth",
                        "Sexo": "sex",
                        "Cédula": "national_id",
                        "Teléfono": "phone",
                        "Estado": "region_code",
                        "Municipio": "municipality_code",
                    },
                    "ignore": ["Observaciones"],
                },
                allow_unicode=True,
            ),
            encoding="utf-8",
        )
        report = summary(carnet("registry", "import", source, "--mapping", mapping, "--json"))
        assert (report["rows_imported"], report["rows_rejected"]) == (2, 0)
        shown = json.loads(carnet("registry", "show", "V-9876543", "--json").stdout)
        assert shown["given_names"] == "José Gregorio"
        assert shown["date_of_birth"] == "1964-10-26"
        assert shown["sex"] == "M"
        assert shown["phone"] == "+584165551234"
        assert (shown["region_code"], shown["municipality_code"]) == ("VE-V", "VE-V-14")
        assert "vive con la hija" not in json.dumps(shown, ensure_ascii=False)

    def test_xlsx_imports_the_same_as_csv(self, store, tmp_path):
        carnet("init")
        workbook = Workbook()
        sheet = workbook.active
        sheet.append(HEADER)
        for row, _ in [*((r, None) for r in GOOD_ROWS), *BAD_ROWS]:
            cells = []
            for column in HEADER:
                value = row.get(column)
                # Spreadsheets hold real dates, numbers and booleans, not only text.
                if column == "date_of_birth" and value and re.fullmatch(r"\d{4}-\d\d-\d\d", value):
                    value = date.fromisoformat(value)
                elif column == "monthly_income" and value and value.isdigit():
                    value = int(value)
                elif value in ("true", "false"):
                    value = value == "true"
                cells.append(value)
            sheet.append(cells)
        workbook.save(tmp_path / "census.xlsx")
        from_xlsx = summary(carnet("registry", "import", tmp_path / "census.xlsx", "--json"))
        assert (from_xlsx["rows_imported"], from_xlsx["rows_rejected"]) == (len(GOOD_ROWS), len(BAD_ROWS))
        # The same rows as CSV are recognised as already present: same people, same fingerprints.
        from_csv = summary(carnet("registry", "import", mixed_file(tmp_path / "census.csv"), "--json"))
        assert from_csv["rows_imported"] == 0
        assert from_csv["rows_already_present"] == len(GOOD_ROWS)
        assert from_csv["rows_rejected"] == len(BAD_ROWS)

        def problems(path: Path) -> set[tuple[str, ...]]:
            with path.open(encoding="utf-8", newline="") as handle:
                return {tuple(line[:3]) for line in list(csv.reader(handle))[1:]}

        assert problems(tmp_path / "census.xlsx.rejects.csv") == problems(tmp_path / "census.csv.rejects.csv")
        shown = json.loads(carnet("registry", "show", "V-12345678", "--json").stdout)
        assert shown["attributes"] == {
            "monthly_income": 250000,
            "disability": False,
            "dwelling_type": "house",
        }

    def test_summary_table_in_spanish(self, store, tmp_path, monkeypatch):
        monkeypatch.setenv("CARNET_LANGUAGE", "es")
        get_settings.cache_clear()
        carnet("init")
        result = carnet("registry", "import", mixed_file(tmp_path / "census.csv"))
        assert "Importadas" in result.output
        assert "Rechazadas" in result.output
        assert "Filas rechazadas" in result.output


class TestLookup:
    def test_search_and_show_print_the_person(self, store, tmp_path):
        carnet("init")
        carnet("registry", "import", mixed_file(tmp_path / "census.csv"), "--json")
        by_name = carnet("registry", "search", "PENA")
        assert "Peña Mora, Luis Alberto" in by_name.output
        assert "1 person(s)" in by_name.output
        by_cedula = carnet("registry", "search", "v7654321")
        assert "Peña Mora, Luis Alberto" in by_cedula.output
        shown = carnet("registry", "show", "V-7.654.321")
        assert "Luis Alberto Peña Mora" in shown.output
        assert "V-7654321" in shown.output
        assert "VE-V-14" in shown.output
        assert "attributes.employment_status" in shown.output and "unemployed" in shown.output
        assert "History: 1 change(s)" in shown.output

    def test_show_unknown_cedula(self, store):
        carnet("init")
        result = carnet("registry", "show", "V-11111111", ok=False)
        assert result.exit_code == 2
        assert "person_not_found" in result.output

    def test_search_with_no_match(self, store):
        carnet("init")
        assert "0 person(s)" in carnet("registry", "search", "Nadie").output


class TestAttributesCheck:
    def test_shipped_dictionary_is_ok(self, store):
        result = carnet("registry", "attributes", "check", SHIPPED_DICTIONARY)
        assert "version 1, 8 attributes, 5 purposes: OK" in result.output

    def test_dictionary_with_religion_is_refused(self, store, tmp_path):
        document = yaml.safe_load(SHIPPED_DICTIONARY.read_text(encoding="utf-8"))
        document["attributes"].append(
            {
                "name": "religion",
                "type": "enum",
                "values": ["a", "b"],
                "sensitivity": "sensitive",
                "purposes": ["health_care"],
                "retention": "P1Y",
                "description": "Declared faith.",
            }
        )
        bad = tmp_path / "attributes.yaml"
        bad.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        result = carnet("registry", "attributes", "check", bad, ok=False)
        assert result.exit_code == 2
        assert "prohibited_attribute" in result.output
        assert "religion" in result.output

    def test_structural_problems_are_all_listed(self, store, tmp_path):
        bad = tmp_path / "attributes.yaml"
        bad.write_text(
            yaml.safe_dump(
                {
                    "version": 1,
                    "purposes": {"food_assistance": "Food"},
                    "attributes": [
                        {
                            "name": "rooms",
                            "type": "text",
                            "sensitivity": "personal",
                            "purposes": ["food_assistance"],
                            "retention": "5 years",
                            "description": "Rooms.",
                        },
                    ],
                }
            ),
            encoding="utf-8",
        )
        result = carnet("registry", "attributes", "check", bad, ok=False)
        assert result.exit_code == 2
        assert "invalid_type" in result.output and "invalid_retention" in result.output


class TestUsers:
    def test_generated_password_is_printed_once_and_works(self, store):
        carnet("init")
        result = carnet("users", "add", "ana", "--role", "registrar")
        assert "Created registrar account ana." in result.output
        match = re.search(r"Password \(shown once\): (\S+)", result.output)
        assert match is not None
        password = match.group(1)
        assert len(password) >= 12
        assert result.output.count(password) == 1

        from carnet.access.service import authenticate

        with common.transaction() as session:
            assert authenticate(session, username="ana", password=password).role == "registrar"

    def test_second_add_is_a_duplicate(self, store):
        carnet("init")
        carnet("users", "add", "ana", "--role", "registrar", "--password", "a long enough secret")
        result = carnet("users", "add", "ana", "--role", "admin", ok=False)
        assert result.exit_code == 2
        assert "duplicate_user" in result.output
        assert "Password" not in result.output


class TestDemo:
    def test_prepares_a_store_and_prints_the_accounts(self, store, monkeypatch):
        # The demo keeps its passphrase in the store and in the environment (for the server it starts).
        monkeypatch.setenv("CARNET_KEY_PASSPHRASE", "placeholder")
        monkeypatch.delenv("CARNET_KEY_PASSPHRASE")
        result = carnet("demo", "--people", 300, "--no-serve")
        assert "Seeded 300 people" in result.output
        assert "Accounts (passwords shown once)" in result.output
        accounts = {
            m.group(1): m.group(2) for m in re.finditer(r"^\s+(\S+)\s+(admin|registrar)\b", result.output, re.M)
        }
        assert accounts == {"admin": "admin", "registro": "registrar", "registro.zulia": "registrar"}
        assert "Rejected rows" in result.output
        assert persons(store) >= 300
        assert "Serving" not in result.output
        assert "Issued 500 cards" in result.output  # the seeded 300 and the census sample's 200
        assert "Verified: valid. Revoked (lost), verified again: revoked." in result.output
        assert (store / "cards" / "cards.pdf").stat().st_size > 0 and (store / "cards" / "card.png").exists()
        assert "Audit log verified" in result.output and "included in a card issue run" in result.output
        for code in ("food_box", "fuel_subsidy", "cash_transfer", "health_kit"):
            assert re.search(
                rf"{code}: [\d,]+ of [\d,]+ units eligible, proposed by programas.ana and approved", result.output
            )
        assert "By rule clause" in result.output and "rule version 1" in result.output
        assert "included in an eligibility run" in result.output
        # The distribution day: two depots, one offline, a card at the wrong point, one case, nothing doubled.
        assert "deposito-2 refuses a card held at deposito-1: not_in_escrow" in result.output
        assert "cannot reach the server (server_unreachable)" in result.output
        assert "every event gets its first answer again (accepted)" in result.output
        assert "Case over_entitlement at deposito-2" in result.output
        assert "Distribution, cycle" in result.output
        assert re.search(r"cash_transfer \d{4}-\d{2}: [\d,]+ wallets paid .* none twice", result.output)
        assert "balances sum to zero" in result.output


class TestAuditVerify:
    def test_a_clean_log_verifies_and_a_tampered_one_names_the_entry(self, store, tmp_path):
        carnet("seed", "--people", "300", "--seed", "4")
        carnet("registry", "search", "a")  # reads: one audit entry per person shown
        clean = carnet("audit", "verify", "--json")
        report = json.loads(clean.output)
        assert report["ok"] and report["size"] > 1
        head = json.loads(carnet("audit", "head").output)
        assert head == {"size": report["size"], "root": report["root"]}
        with sqlite3.connect(store / "carnet.db") as conn:
            conn.execute("UPDATE audit_entries SET body = CAST('{\"leaf\":1}' AS BLOB) WHERE leaf_index = 1")
        tampered = carnet("audit", "verify", ok=False)
        assert tampered.exit_code == 1
        assert "entry 1" in tampered.output


class TestAuditHeadAndProof:
    def test_sign_a_head_then_prove_an_entry_against_it(self, store, monkeypatch):
        from carnet.audit.merkle import verify_inclusion

        carnet("seed", "--people", "100", "--seed", "4")
        carnet("registry", "search", "a")
        unsigned = carnet("audit", "head", "--sign", ok=False)
        assert unsigned.exit_code == 2 and "key_passphrase_missing" in unsigned.output
        monkeypatch.setenv("CARNET_KEY_PASSPHRASE", "una frase de paso larga")
        get_settings.cache_clear()
        head = json.loads(carnet("audit", "head", "--sign").output)
        assert head["size"] > 1 and len(bytes.fromhex(head["signature"])) == 64
        proof = json.loads(carnet("audit", "proof", "1").output)
        assert proof["root"] == head["root"]
        assert verify_inclusion(
            1, proof["size"], bytes.fromhex(proof["leaf_hash"]), [bytes.fromhex(p) for p in proof["path"]],
            bytes.fromhex(head["root"]),
        )  # fmt: skip
        missing = carnet("audit", "proof", str(head["size"]), ok=False)
        assert missing.exit_code == 2 and "entry_not_found" in missing.output


class TestAuditWitness:
    def test_an_oversight_body_makes_a_key_registers_it_and_countersigns(self, store, monkeypatch, tmp_path):
        monkeypatch.setenv("CARNET_KEY_PASSPHRASE", "una frase de paso larga")
        monkeypatch.setenv("CARNET_WITNESS_PASSPHRASE", "la frase del testigo externo")
        get_settings.cache_clear()
        carnet("seed", "--people", "50", "--seed", "4")
        made = json.loads(carnet("audit", "witness-keys", "new", "--out", tmp_path / "witness.pem").output)
        carnet("audit", "witness-keys", "add", made["public_key"], "--holder", "Defensoría del Pueblo")
        none_yet = carnet("audit", "witness", "--key", made["private_key"], ok=False)
        assert none_yet.exit_code == 2 and "no_tree_head" in none_yet.output
        head = json.loads(carnet("audit", "head", "--sign").output)
        signed = json.loads(carnet("audit", "witness", "--key", made["private_key"]).output)
        assert signed["head"] == head["id"] and signed["kid"] == made["kid"]
        assert json.loads(carnet("audit", "verify", "--json").output)["ok"]

        # The log's key is rotated; a head someone was shown later is checked against what was witnessed.
        rotated = json.loads(carnet("audit", "rotate-key").output)
        assert rotated["retired"] == head["kid"] and rotated["kid"] != head["kid"]
        shown = json.loads(carnet("audit", "head", "--sign").output)
        (tmp_path / "shown.json").write_text(json.dumps(shown))
        checked = json.loads(carnet("audit", "witness", "--key", made["private_key"], "--check",
                                    tmp_path / "shown.json").output)  # fmt: skip
        assert checked["consistent"] and checked["published"] and checked["checked_against"] == [head["id"]]
        (tmp_path / "bad.json").write_text('{"size": 3}')
        malformed = carnet("audit", "witness", "--key", made["private_key"], "--check", tmp_path / "bad.json", ok=False)
        assert malformed.exit_code == 2 and "malformed_head" in malformed.output
        assert json.loads(carnet("audit", "verify", "--json").output)["ok"]


class TestAuditExport:
    def test_an_export_verifies_on_its_own_and_names_a_tampered_entry(self, store, monkeypatch, tmp_path):
        monkeypatch.setenv("CARNET_KEY_PASSPHRASE", "una frase de paso larga")
        monkeypatch.setenv("CARNET_WITNESS_PASSPHRASE", "la frase del testigo externo")
        get_settings.cache_clear()
        carnet("seed", "--people", "40", "--seed", "4")
        carnet("registry", "search", "a")
        carnet("audit", "head", "--sign")
        made = json.loads(carnet("audit", "witness-keys", "new", "--out", tmp_path / "w.pem").output)
        carnet("audit", "witness-keys", "add", made["public_key"], "--holder", "Contraloría")
        carnet("audit", "witness", "--key", made["private_key"])
        folder = tmp_path / "export"
        exported = json.loads(carnet("audit", "export", folder).output)
        report = json.loads(carnet("audit", "verify", "--export", folder).output)
        assert report["ok"] and report["size"] == exported["entries"] and report["heads_checked"] == 1
        assert report["root"] == json.loads(carnet("audit", "head").output)["root"]

        lines = (folder / "entries.jsonl").read_bytes().splitlines()
        lines[2] = lines[2].replace(b'"action":"read"', b'"action":"create"')
        (folder / "entries.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        tampered = carnet("audit", "verify", "--export", folder, ok=False)
        assert tampered.exit_code == 1 and "does not match the entries" in json.loads(tampered.output)["problem"]

        heads = json.loads((folder / "heads.json").read_text())
        (folder / "entries.jsonl").write_bytes(b"\n".join(lines[:2]) + b"\n")  # entries removed after signing
        assert "does not match" in json.loads(carnet("audit", "verify", "--export", folder, ok=False).output)["problem"]
        assert heads[0]["size"] > 2


class TestAuditPersonLog:
    def test_an_office_prints_who_looked_at_a_person(self, store):
        carnet("seed", "--people", "30", "--seed", "4")
        cedula = _any_cedula(store)
        carnet("registry", "show", cedula)
        log = json.loads(carnet("audit", "log", "--person", cedula, "--json").output)
        actions = [(e["action"], e["bulk"]) for e in log["entries"]]
        assert actions[0] == ("import", True)  # the seed import that included the person
        assert ("read", False) in actions  # the `registry show` above
        table = carnet("audit", "log", "--person", cedula).output
        assert "included in a bulk import" in table


def _any_cedula(data_dir: Path) -> str:
    with sqlite3.connect(data_dir / "carnet.db") as conn:
        return conn.execute("SELECT national_id FROM persons WHERE national_id IS NOT NULL LIMIT 1").fetchone()[0]


class TestSealedRead:
    def test_an_investigation_reads_under_seal_and_the_person_sees_only_that_it_happened(self, store):
        carnet("seed", "--people", "30", "--seed", "4")
        cedula = _any_cedula(store)
        refused = carnet("registry", "show", cedula, "--sealed-until", "2099-01-01", ok=False)
        assert refused.exit_code == 2 and "invalid_seal" in refused.output
        carnet("registry", "show", cedula, "--purpose", "investigation", "--sealed-until", "2099-01-01",
               "--order", "TSJ-2026-17")  # fmt: skip
        log = json.loads(carnet("audit", "log", "--person", cedula, "--json").output)
        sealed = [e for e in log["entries"] if e["sealed"]]
        assert len(sealed) == 3  # the cédula looked up, the record and its history
        assert all(e["purpose"] is None and e["office"] is None and "TSJ" not in e["entry"] for e in sealed)
        assert "sealed until 2099-01-01" in carnet("audit", "log", "--person", cedula).output
        assert json.loads(carnet("audit", "verify", "--json").output)["ok"]
