"""ISO 20022 settlement files (pure): pain.001 credit transfers out, camt.053 statements in, their reconciliation.

A settlement run pays merchants from the programme's settlement bank account. `build_credit_transfer` writes
the run as a customer credit-transfer initiation (pain.001.001.09 by default, pain.001.001.03 for banks that
still take only the 2009 version) for the bank to execute; `read_statement` reads the bank's end-of-day
statement (camt.053.001.08 or .02) and `reconcile` says which payouts the bank booked, which it did not, which
it booked for another amount and which entries nobody asked for.

Every document, written or read, is checked against the official XSD vendored in `schemas/` (sources and
SHA-256 in its README). Incoming XML is parsed with defusedxml, so a DTD, an entity or an external reference
is refused before anything expands. Amounts are integer minor units on both sides and are written and read as
exact decimals, never through a float. Nothing here reads the clock: the run carries its own creation time.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any, Literal
from xml.etree.ElementTree import Element, SubElement

import defusedxml
import defusedxml.ElementTree
import xmlschema

from carnet.kit.errors import AppError

CreditTransferVersion = Literal["pain.001.001.09", "pain.001.001.03"]
CREDIT_TRANSFER_VERSIONS: tuple[str, ...] = ("pain.001.001.09", "pain.001.001.03")
STATEMENT_VERSIONS: tuple[str, ...] = ("camt.053.001.08", "camt.053.001.02")
MESSAGES: tuple[str, ...] = CREDIT_TRANSFER_VERSIONS + STATEMENT_VERSIONS
NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
# ISO 20022 amounts and control sums allow 18 digits in all (totalDigits 18): below 10^18 minor units.
AMOUNT_LIMIT = 10**18
# What a bank writes when it has no end-to-end id to report (the ISO 20022 usage guidelines' placeholder).
NOT_PROVIDED = "NOTPROVIDED"

# ISO 4217 currencies whose minor unit is not the hundredth; every other code has two decimals.
_OTHER_MINOR_DIGITS = (
    (0, "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"),
    (3, "BHD IQD JOD KWD LYD OMR TND"),
    (4, "CLF UYW"),
)
_MINOR_DIGITS = {code: digits for digits, codes in _OTHER_MINOR_DIGITS for code in codes.split()}
_CURRENCY = re.compile(r"[A-Z]{3}")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}")
# Characters XML 1.0 cannot carry, and the line breaks and tabs a name or a reference has no use for.
_NOT_TEXT = re.compile("[^\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CLARK = re.compile(r"\{[^}]*\}")


class SettlementInvalid(AppError):
    """A settlement run that cannot become a payment file (no payouts, a bad amount, an account without id)."""

    def __init__(self, message: str, code: str, **extra: Any) -> None:
        super().__init__(message=message, code=code, status=422, extra=extra)


class ReconciliationRefused(AppError):
    """A statement that cannot be reconciled with the run at all (it covers another account)."""

    def __init__(self, message: str, code: str, **extra: Any) -> None:
        super().__init__(message=message, code=code, status=422, extra=extra)


class DocumentRefused(AppError):
    """An ISO 20022 document that is not well formed, carries a DTD, or breaks its XSD."""

    def __init__(self, message: str, code: str, **extra: Any) -> None:
        super().__init__(message=message, code=code, status=422, extra=extra)


def minor_digits(currency: str) -> int:
    """How many decimals the currency's minor unit has (ISO 4217): 2 for HNL, 0 for JPY, 3 for KWD."""
    return _MINOR_DIGITS.get(currency, 2)


def format_amount(minor: int, currency: str) -> str:
    """An amount in minor units as the exact decimal text ISO 20022 expects: 123456 HNL -> "1234.56"."""
    digits = minor_digits(currency)
    if digits == 0:
        return str(minor)
    units, rest = divmod(minor, 10**digits)
    return f"{units}.{rest:0{digits}d}"


def parse_amount(text: str, currency: str) -> int:
    """The exact minor units of an ISO 20022 decimal amount; more decimals than the currency has is an error."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise DocumentRefused(f"{text!r} is not an amount", code="statement_amount_invalid") from None
    scaled = value.scaleb(minor_digits(currency))
    if not value.is_finite() or value < 0 or scaled != scaled.to_integral_value():
        raise DocumentRefused(
            f"{text!r} is not a whole number of {currency} minor units", code="statement_amount_invalid"
        )
    return int(scaled)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise SettlementInvalid(f"{what} must be non-empty text, not {value!r}", code="iso20022_text_invalid")
    if value != value.strip() or _NOT_TEXT.search(value):
        raise SettlementInvalid(
            f"{what} {value!r} has surrounding spaces, a line break or a character XML cannot carry",
            code="iso20022_text_invalid",
        )


def _currency(value: Any, what: str) -> None:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise SettlementInvalid(f"{what} {value!r} is not an ISO 4217 code", code="iso20022_currency_invalid")


def _as_id(value: Any, what: str) -> int:
    number = value.int if isinstance(value, uuid.UUID) else value
    if not _is_int(number) or not 0 < number < 2**128:
        raise SettlementInvalid(f"{what} {value!r} is not a 128-bit id from 1", code="settlement_id_invalid")
    return number


def iban_is_valid(iban: str) -> bool:
    """Whether the text is an IBAN in electronic form (no spaces) whose ISO 13616 check digits hold."""
    if not _IBAN.fullmatch(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


@dataclass(frozen=True, slots=True)
class PostalAddress:
    """A structured postal address (ISO 20022 StrtNm, BldgNb, PstCd, TwnNm, Ctry), never free address lines."""

    country: str
    town: str
    street: str | None = None
    building_number: str | None = None
    postal_code: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.country, str) or not re.fullmatch(r"[A-Z]{2}", self.country):
            raise SettlementInvalid(
                f"country {self.country!r} is not an ISO 3166 alpha-2 code", code="iso20022_text_invalid"
            )
        _text(self.town, "the town")
        _text(self.street, "the street", optional=True)
        _text(self.building_number, "the building number", optional=True)
        _text(self.postal_code, "the postal code", optional=True)


@dataclass(frozen=True, slots=True)
class Party:
    """Who pays, is paid or initiates: a name, a structured address and, for an organisation, its id (an RTN)."""

    name: str
    address: PostalAddress | None = None
    organisation_id: str | None = None

    def __post_init__(self) -> None:
        _text(self.name, "a party's name")
        _text(self.organisation_id, "an organisation id", optional=True)
        if self.address is not None and not isinstance(self.address, PostalAddress):
            raise TypeError(f"{self.address!r} is not a PostalAddress")


@dataclass(frozen=True, slots=True)
class Account:
    """A bank account: an IBAN or another account number, and the bank holding it (a BIC or a local bank id)."""

    iban: str | None = None
    other_id: str | None = None
    bic: str | None = None
    bank_id: str | None = None

    def __post_init__(self) -> None:
        if (self.iban is None) == (self.other_id is None):
            raise SettlementInvalid(
                "an account is identified by an IBAN or by another account number, exactly one",
                code="iso20022_account_invalid",
            )
        if self.iban is not None and not (isinstance(self.iban, str) and iban_is_valid(self.iban)):
            raise SettlementInvalid(
                f"{self.iban!r} is not a valid IBAN (capitals and digits without spaces, check digits that hold)",
                code="iso20022_account_invalid",
            )
        _text(self.other_id, "an account number", optional=True)
        _text(self.bic, "a BIC", optional=True)
        _text(self.bank_id, "a bank id", optional=True)

    @property
    def number(self) -> str:
        """The IBAN, or the other account number."""
        return self.iban if self.iban is not None else str(self.other_id)


@dataclass(frozen=True, slots=True)
class Payout:
    """One merchant paid by the run: the ledger transfer that pays it out, the amount and where it goes."""

    transfer_id: int | uuid.UUID
    amount: int
    currency: str
    creditor: Party
    account: Account
    remittance: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "transfer_id", _as_id(self.transfer_id, "the payout's transfer id"))
        if not _is_int(self.amount) or self.amount <= 0:
            raise SettlementInvalid(
                f"a payout amount is a positive whole number of minor units, not {self.amount!r}",
                code="settlement_amount_invalid",
            )
        if self.amount >= AMOUNT_LIMIT:
            raise SettlementInvalid(
                f"a payout of {self.amount} minor units has more than the 18 digits ISO 20022 allows",
                code="settlement_amount_too_large",
            )
        _currency(self.currency, "the payout's currency")
        if not isinstance(self.creditor, Party) or not isinstance(self.account, Account):
            raise TypeError("a payout names a Party and an Account")
        if self.creditor.address is None:
            raise SettlementInvalid(
                f"the payout to {self.creditor.name!r} has no structured postal address",
                code="settlement_address_missing",
            )
        _text(self.remittance, "the remittance information")

    @property
    def end_to_end_id(self) -> str:
        """The EndToEndId the bank echoes back on the statement: the payout's transfer id in 32 hex digits."""
        return end_to_end_id(self)


def end_to_end_id(payout: Payout) -> str:
    """The stable EndToEndId of a payout: its ledger transfer id in 32 hex digits, the same on every rerun."""
    return f"{int(payout.transfer_id):032x}"


@dataclass(frozen=True, slots=True)
class SettlementRun:
    """One settlement run: who initiates, the account it pays from, when it was made and the payouts."""

    id: int | uuid.UUID
    created_at: datetime
    execution_date: date
    currency: str
    initiating_party: Party
    debtor: Party
    debtor_account: Account
    payouts: tuple[Payout, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", _as_id(self.id, "the run id"))
        object.__setattr__(self, "payouts", tuple(self.payouts))
        if not isinstance(self.created_at, datetime) or self.created_at.utcoffset() is None:
            raise SettlementInvalid(
                f"the run's creation time {self.created_at!r} is not timezone-aware", code="iso20022_time_naive"
            )
        if not isinstance(self.execution_date, date) or isinstance(self.execution_date, datetime):
            raise TypeError(f"the execution date {self.execution_date!r} is not a date")
        _currency(self.currency, "the run's currency")
        if not all(isinstance(p, Party) for p in (self.initiating_party, self.debtor)):
            raise TypeError("the initiating party and the debtor are Party values")
        if self.debtor.address is None:
            raise SettlementInvalid(
                f"the debtor {self.debtor.name!r} has no structured postal address", code="settlement_address_missing"
            )
        if not isinstance(self.debtor_account, Account):
            raise TypeError("the debtor account is an Account")
        if not self.payouts:
            raise SettlementInvalid(
                "the settlement run has no payouts: nothing to settle", code="settlement_no_payouts"
            )
        seen: set[int] = set()
        for payout in self.payouts:
            if not isinstance(payout, Payout):
                raise TypeError(f"{payout!r} is not a Payout")
            if payout.currency != self.currency:
                raise SettlementInvalid(
                    f"the payout {payout.end_to_end_id} is in {payout.currency}, the run in {self.currency}",
                    code="settlement_currency_mismatch",
                )
            if payout.transfer_id in seen:
                raise SettlementInvalid(
                    f"the transfer {payout.end_to_end_id} is paid out twice in one run",
                    code="settlement_payout_duplicate",
                )
            seen.add(payout.transfer_id)
        if self.total >= AMOUNT_LIMIT:
            raise SettlementInvalid(
                f"the run's control sum of {self.total} minor units has more than the 18 digits ISO 20022 allows",
                code="settlement_amount_too_large",
            )

    @property
    def message_id(self) -> str:
        """The MsgId (and PmtInfId) of the run's file: the run id in 32 hex digits."""
        return f"{int(self.id):032x}"

    @property
    def total(self) -> int:
        """The sum of the payouts in minor units (the file's CtrlSum)."""
        return sum(payout.amount for payout in self.payouts)


# --- pain.001 ---------------------------------------------------------------------------------------------------


def _sub(parent: Element, tag: str, text: str | None = None, **attributes: str) -> Element:
    element = SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _party(parent: Element, tag: str, party: Party) -> None:
    element = _sub(parent, tag)
    _sub(element, "Nm", party.name)
    if party.address is not None:
        address = _sub(element, "PstlAdr")
        # The order is the XSD's sequence (PostalAddress24 and PostalAddress6 agree on these five).
        for name, value in (
            ("StrtNm", party.address.street),
            ("BldgNb", party.address.building_number),
            ("PstCd", party.address.postal_code),
            ("TwnNm", party.address.town),
            ("Ctry", party.address.country),
        ):
            if value is not None:
                _sub(address, name, value)
    if party.organisation_id is not None:
        _sub(_sub(_sub(_sub(element, "Id"), "OrgId"), "Othr"), "Id", party.organisation_id)


def _account(parent: Element, tag: str, account: Account) -> None:
    identification = _sub(_sub(parent, tag), "Id")
    if account.iban is not None:
        _sub(identification, "IBAN", account.iban)
    else:
        _sub(_sub(identification, "Othr"), "Id", account.other_id)


def _agent(parent: Element, tag: str, account: Account, version: str, *, required: bool) -> None:
    if account.bic is None and account.bank_id is None and not required:
        return
    institution = _sub(_sub(parent, tag), "FinInstnId")
    if account.bic is not None:
        _sub(institution, "BICFI" if version == "pain.001.001.09" else "BIC", account.bic)
    else:
        # The debtor agent is mandatory; without a BIC the usage guidelines name the bank by another id or
        # say NOTPROVIDED, which a domestic bank resolves from the account.
        _sub(_sub(institution, "Othr"), "Id", account.bank_id or NOT_PROVIDED)


def build_credit_transfer(run: SettlementRun, *, version: CreditTransferVersion = "pain.001.001.09") -> bytes:
    """The run as a pain.001 customer credit-transfer initiation, checked against its XSD before it is returned."""
    if version not in CREDIT_TRANSFER_VERSIONS:
        raise DocumentRefused(
            f"{version!r} is not a credit-transfer version Carnet writes ({', '.join(CREDIT_TRANSFER_VERSIONS)})",
            code="iso20022_message_unknown",
        )
    control_sum = format_amount(run.total, run.currency)
    count = str(len(run.payouts))
    document = Element("Document", {"xmlns": NAMESPACE_PREFIX + version})
    initiation = _sub(document, "CstmrCdtTrfInitn")

    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", run.message_id)
    _sub(header, "CreDtTm", run.created_at.astimezone(UTC).isoformat(timespec="seconds"))
    _sub(header, "NbOfTxs", count)
    _sub(header, "CtrlSum", control_sum)
    _party(header, "InitgPty", run.initiating_party)

    instruction = _sub(initiation, "PmtInf")
    _sub(instruction, "PmtInfId", run.message_id)
    _sub(instruction, "PmtMtd", "TRF")
    # One booking per payout, so that the statement shows each one with its own end-to-end id.
    _sub(instruction, "BtchBookg", "false")
    _sub(instruction, "NbOfTxs", count)
    _sub(instruction, "CtrlSum", control_sum)
    execution = run.execution_date.isoformat()
    if version == "pain.001.001.09":
        _sub(_sub(instruction, "ReqdExctnDt"), "Dt", execution)
    else:
        _sub(instruction, "ReqdExctnDt", execution)
    _party(instruction, "Dbtr", run.debtor)
    _account(instruction, "DbtrAcct", run.debtor_account)
    _agent(instruction, "DbtrAgt", run.debtor_account, version, required=True)

    for payout in run.payouts:
        transaction = _sub(instruction, "CdtTrfTxInf")
        _sub(_sub(transaction, "PmtId"), "EndToEndId", payout.end_to_end_id)
        _sub(_sub(transaction, "Amt"), "InstdAmt", format_amount(payout.amount, payout.currency), Ccy=payout.currency)
        _agent(transaction, "CdtrAgt", payout.account, version, required=False)
        _party(transaction, "Cdtr", payout.creditor)
        _account(transaction, "CdtrAcct", payout.account)
        _sub(_sub(transaction, "RmtInf"), "Ustrd", payout.remittance)

    ET.indent(document, space="  ")
    xml = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(document, encoding="unicode").encode("utf-8")
    # The file goes to a bank: whatever a name or an id the XSD refuses is caught here, with its path.
    validate(xml, version)
    return xml


# --- validation -------------------------------------------------------------------------------------------------


@cache
def _schema(message: str) -> xmlschema.XMLSchema10:
    source = resources.files("carnet.ledger").joinpath("schemas", f"{message}.xsd").read_text(encoding="utf-8")
    # The vendored XSDs import nothing: the schema may fetch no other resource, local or remote.
    return xmlschema.XMLSchema10(source, allow="none", defuse="always")


def _parse(xml: bytes) -> Element:
    if not isinstance(xml, bytes | bytearray):
        raise DocumentRefused("an ISO 20022 document is read as bytes", code="iso20022_malformed")
    try:
        return defusedxml.ElementTree.fromstring(
            bytes(xml), forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException as error:
        raise DocumentRefused(
            f"the document carries a DTD, an entity or an external reference, which Carnet never reads ({error})",
            code="iso20022_forbidden_markup",
        ) from None
    except ET.ParseError as error:
        line, column = error.position
        raise DocumentRefused(
            f"the document is not well-formed XML (line {line}, column {column})",
            code="iso20022_malformed",
            line=line,
            column=column,
        ) from None


def _local(tag: Any) -> str:
    return _CLARK.sub("", tag) if isinstance(tag, str) else str(tag)


def _element_path(root: Element, target: Element | None) -> str | None:
    """The path of an element without namespaces, with a 1-based position where siblings share its name."""
    if target is None:
        return None
    parents = {child: parent for parent in root.iter() for child in parent}
    if target is not root and target not in parents:
        return None
    steps = []
    element = target
    while element is not root:
        parent = parents[element]
        same = [sibling for sibling in parent if sibling.tag == element.tag]
        steps.append(_local(element.tag) + (f"[{same.index(element) + 1}]" if len(same) > 1 else ""))
        element = parent
    return "/" + "/".join([_local(root.tag), *reversed(steps)])


def _check(root: Element, message: str) -> None:
    if message not in MESSAGES:
        raise DocumentRefused(
            f"{message!r} is not a message Carnet reads or writes ({', '.join(MESSAGES)})",
            code="iso20022_message_unknown",
        )
    expected = f"{{{NAMESPACE_PREFIX}{message}}}Document"
    if root.tag != expected:
        raise DocumentRefused(
            f"/{_local(root.tag)}: the root is {root.tag!r}, a {message} document is {expected!r}",
            code="iso20022_invalid",
            schema=message,
            path="/" + _local(root.tag),
        )
    for error in _schema(message).iter_errors(root):
        elem = error.elem if isinstance(error.elem, Element) else None
        path = _element_path(root, elem) or _local(error.path or "/")
        reason = _local(error.reason or error.message)
        raise DocumentRefused(f"{path}: {reason}", code="iso20022_invalid", schema=message, path=path)


def validate(xml: bytes, message: str) -> None:
    """Check a document against the official XSD of `message`; the error names the first problem and its path."""
    _check(_parse(xml), message)


# --- camt.053 ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatementEntry:
    """One booked movement of the account, as the bank reports it (a batch booking split per transaction)."""

    amount: int
    currency: str
    credit_debit: Literal["CRDT", "DBIT"]
    booking_date: date | None
    end_to_end_id: str | None = None
    remittance: str | None = None
    message_id: str | None = None
    payment_information_id: str | None = None
    reference: str | None = None
    reversal: bool = False


@dataclass(frozen=True, slots=True)
class Statement:
    """A camt.053 bank-to-customer statement: its ids, the account it covers and its booked entries."""

    message: str
    message_id: str
    statement_ids: tuple[str, ...]
    account: Account
    currency: str | None
    entries: tuple[StatementEntry, ...]


class _Reader:
    def __init__(self, message: str) -> None:
        self.ns = f"{{{NAMESPACE_PREFIX}{message}}}"

    def find(self, element: Element, path: str) -> Element | None:
        return element.find(self._qualify(path))

    def findall(self, element: Element, path: str) -> list[Element]:
        return element.findall(self._qualify(path))

    def text(self, element: Element, path: str) -> str | None:
        found = self.find(element, path)
        if found is None or found.text is None:
            return None
        return found.text.strip() or None

    def _qualify(self, path: str) -> str:
        return "/".join(self.ns + step for step in path.split("/"))


def _account_of(reader: _Reader, statement: Element) -> Account:
    bic = reader.text(statement, "Acct/Svcr/FinInstnId/BICFI") or reader.text(statement, "Acct/Svcr/FinInstnId/BIC")
    return Account(
        iban=reader.text(statement, "Acct/Id/IBAN"), other_id=reader.text(statement, "Acct/Id/Othr/Id"), bic=bic
    )


def _date(reader: _Reader, element: Element, path: str) -> date | None:
    text = reader.text(element, f"{path}/Dt") or reader.text(element, f"{path}/DtTm")
    if not text:
        return None
    try:
        # A date may carry a zone and a date-time its time; the booking day is the first ten characters either way.
        return date.fromisoformat(text[:10])
    except ValueError:
        # The XSD allows years no bank uses (before year 1, after 9999).
        raise DocumentRefused(f"{text!r} is not a booking date Carnet can read", code="iso20022_invalid") from None


def _remittance(reader: _Reader, transaction: Element) -> str | None:
    lines = [
        line.text.strip() for line in reader.findall(transaction, "RmtInf/Ustrd") if line.text and line.text.strip()
    ]
    if lines:
        return " ".join(lines)
    return reader.text(transaction, "RmtInf/Strd/CdtrRefInf/Ref")


def _transaction_amount(reader: _Reader, transaction: Element) -> Element | None:
    for path in ("Amt", "AmtDtls/TxAmt/Amt", "AmtDtls/InstdAmt/Amt"):
        found = reader.find(transaction, path)
        if found is not None:
            return found
    return None


def _entries(reader: _Reader, entry: Element) -> Iterator[StatementEntry]:
    amount = reader.find(entry, "Amt")
    assert amount is not None  # the XSD requires it
    currency = amount.get("Ccy", "")
    indicator = reader.text(entry, "CdtDbtInd")
    common: dict[str, Any] = {
        "booking_date": _date(reader, entry, "BookgDt"),
        "reference": reader.text(entry, "AcctSvcrRef") or reader.text(entry, "NtryRef"),
        "reversal": (reader.text(entry, "RvslInd") or "").lower() in {"true", "1"},
    }
    transactions = reader.findall(entry, "NtryDtls/TxDtls")
    amounts = [_transaction_amount(reader, transaction) for transaction in transactions]
    if len(transactions) > 1 and all(found is not None for found in amounts):
        # A batch booking: each transaction is reported with its own amount and is reconciled on its own.
        for transaction, found in zip(transactions, amounts, strict=True):
            assert found is not None
            yield StatementEntry(
                amount=parse_amount(found.text or "", found.get("Ccy", "")),
                currency=found.get("Ccy", ""),
                credit_debit=reader.text(transaction, "CdtDbtInd") or indicator,
                **_references(reader, transaction),
                **common,
            )
        return
    # One transaction, or a batch without amounts per transaction: the booked amount, references only if single.
    references = _references(reader, transactions[0]) if len(transactions) == 1 else {}
    yield StatementEntry(
        amount=parse_amount(amount.text or "", currency),
        currency=currency,
        credit_debit=indicator,
        **references,
        **common,
    )


def _references(reader: _Reader, transaction: Element) -> dict[str, Any]:
    end_to_end = reader.text(transaction, "Refs/EndToEndId")
    return {
        "end_to_end_id": None if end_to_end == NOT_PROVIDED else end_to_end,
        "remittance": _remittance(reader, transaction),
        "message_id": reader.text(transaction, "Refs/MsgId"),
        "payment_information_id": reader.text(transaction, "Refs/PmtInfId"),
    }


def _booked(reader: _Reader, entry: Element) -> bool:
    # camt.053.001.02 writes the status as a code; from .08 on it is a choice of a code or a proprietary value.
    status = reader.text(entry, "Sts") or reader.text(entry, "Sts/Cd") or reader.text(entry, "Sts/Prtry")
    return status == "BOOK"


def read_statement(xml: bytes) -> Statement:
    """The booked entries of a camt.053 statement (.08 or .02), after checking the document against its XSD."""
    root = _parse(xml)
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    message = namespace.removeprefix(NAMESPACE_PREFIX)
    if message not in STATEMENT_VERSIONS:
        raise DocumentRefused(
            f"the document is {root.tag!r}, not a camt.053 statement Carnet reads ({', '.join(STATEMENT_VERSIONS)})",
            code="iso20022_message_unknown",
        )
    _check(root, message)
    reader = _Reader(message)
    report = reader.find(root, "BkToCstmrStmt")
    assert report is not None  # the XSD requires it
    statements = reader.findall(report, "Stmt")
    accounts = {_account_of(reader, statement) for statement in statements}
    numbers = {account.number for account in accounts}
    if len(numbers) > 1:
        raise DocumentRefused(
            f"the statement covers {len(numbers)} accounts ({', '.join(sorted(numbers))}); send one per account",
            code="statement_several_accounts",
        )
    entries = tuple(
        item
        for statement in statements
        for entry in reader.findall(statement, "Ntry")
        if _booked(reader, entry)
        for item in _entries(reader, entry)
    )
    return Statement(
        message=message,
        message_id=reader.text(report, "GrpHdr/MsgId") or "",
        statement_ids=tuple(reader.text(statement, "Id") or "" for statement in statements),
        account=_account_of(reader, statements[0]),
        currency=reader.text(statements[0], "Acct/Ccy"),
        entries=entries,
    )


# --- reconciliation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    """A payout and the statement entry that books it."""

    payout: Payout
    entry: StatementEntry


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What the bank did with a settlement run, by payout and by statement entry."""

    matched: tuple[Match, ...]
    missing: tuple[Payout, ...]
    mismatched: tuple[Match, ...]
    returned: tuple[Match, ...]
    unexpected: tuple[StatementEntry, ...]
    unrelated: tuple[StatementEntry, ...]

    @property
    def complete(self) -> bool:
        """Whether every payout was booked once, for its amount, and nothing else claims to be the run's."""
        return not (self.missing or self.mismatched or self.returned or self.unexpected)


def reconcile(run: SettlementRun, statement: Statement) -> Reconciliation:
    """Match a statement's booked entries to a run's payouts by end-to-end id (then by remittance text)."""
    if statement.account.number != run.debtor_account.number:
        raise ReconciliationRefused(
            f"the statement is for account {statement.account.number}, the run pays from {run.debtor_account.number}",
            code="statement_account_mismatch",
        )
    by_end_to_end = {payout.end_to_end_id: payout for payout in run.payouts}
    remittances: dict[str, list[Payout]] = {}
    for payout in run.payouts:
        remittances.setdefault(payout.remittance, []).append(payout)
    # A remittance text identifies a payout only when no other payout of the run shares it.
    by_remittance = {text: payouts[0] for text, payouts in remittances.items() if len(payouts) == 1}

    matched: list[Match] = []
    mismatched: list[Match] = []
    returned: list[Match] = []
    unexpected: list[StatementEntry] = []
    unrelated: list[StatementEntry] = []
    booked: set[int] = set()
    for entry in statement.entries:
        payout = _payout_of(entry, by_end_to_end, by_remittance)
        if payout is None:
            names_run = run.message_id in {entry.message_id, entry.payment_information_id}
            (unexpected if names_run else unrelated).append(entry)
        elif entry.credit_debit == "CRDT":
            # Money coming back under a payout's id: the creditor's bank returned it.
            returned.append(Match(payout=payout, entry=entry))
        elif payout.transfer_id in booked:
            # A second debit for one payout: the bank paid it twice.
            unexpected.append(entry)
        else:
            booked.add(payout.transfer_id)
            same = entry.amount == payout.amount and entry.currency == payout.currency
            (matched if same else mismatched).append(Match(payout=payout, entry=entry))
    return Reconciliation(
        matched=tuple(matched),
        missing=tuple(payout for payout in run.payouts if payout.transfer_id not in booked),
        mismatched=tuple(mismatched),
        returned=tuple(returned),
        unexpected=tuple(unexpected),
        unrelated=tuple(unrelated),
    )


def _payout_of(
    entry: StatementEntry, by_end_to_end: dict[str, Payout], by_remittance: dict[str, Payout]
) -> Payout | None:
    if entry.end_to_end_id is not None:
        # Banks may change the case of an id they echo; ours are lower-case hex.
        return by_end_to_end.get(entry.end_to_end_id.lower())
    if entry.remittance is not None:
        return by_remittance.get(entry.remittance)
    return None
