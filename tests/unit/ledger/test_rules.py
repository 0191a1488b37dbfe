"""The ledger's posting rules on their own: one example per result code, then a stateful test against an oracle."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from carnet.kit.errors import AppError
from carnet.ledger.rules import (
    AMOUNT_MAX,
    RESULT_CODES,
    RESULT_MEANINGS,
    TRANSFER_FLAGS,
    Account,
    AccountKind,
    BrokenContract,
    Expiry,
    InvalidAccount,
    Outcome,
    Resolution,
    Transfer,
    accounts_over_limit,
    apply_transfers,
    expire,
    expires_at,
    unbalanced_ledgers,
)

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HNL, USD = 1, 2  # ledgers
FLOOR = frozenset({"debits_must_not_exceed_credits"})
CEILING = frozenset({"credits_must_not_exceed_debits"})

BANK, FUND, WALLET, WALLET2, SHOP, SUSPENSE, CLOSED, ODD, DOLLARS = range(1, 10)
MISSING = 99
OPENING = {
    # The settlement bank is an asset: debited when money arrives, it can never pay out more than it received.
    BANK: Account(BANK, HNL, AccountKind.settlement_bank, "HNL", CEILING),
    FUND: Account(FUND, HNL, AccountKind.programme_fund, "HNL", FLOOR),
    WALLET: Account(WALLET, HNL, AccountKind.wallet, "HNL", FLOOR),
    WALLET2: Account(WALLET2, HNL, AccountKind.wallet, "HNL", FLOOR),
    SHOP: Account(SHOP, HNL, AccountKind.merchant, "HNL", FLOOR),
    SUSPENSE: Account(SUSPENSE, HNL, AccountKind.suspense, "HNL"),
    CLOSED: Account(CLOSED, HNL, AccountKind.wallet, "HNL", FLOOR | {"closed"}),
    # Misconfigured on purpose: the HNL ledger with a dollar currency, so the currency rule has something to refuse.
    ODD: Account(ODD, HNL, AccountKind.suspense, "USD"),
    DOLLARS: Account(DOLLARS, USD, AccountKind.suspense, "USD"),
}


def pay(id, debit, credit, amount, **fields) -> Transfer:
    """A transfer on the HNL ledger with code 1 unless told otherwise."""
    fields.setdefault("ledger", HNL)
    fields.setdefault("code", 1)
    return Transfer(id, debit, credit, amount, **fields)


def post(id, pending_id, amount=None, *, also=(), **fields) -> Transfer:
    """A post of `pending_id`, with `also` for flags beside post_pending_transfer."""
    return Transfer(
        id, amount=amount, pending_id=pending_id, flags=frozenset({"post_pending_transfer", *also}), **fields
    )


def void(id, pending_id, amount=None, *, also=(), **fields) -> Transfer:
    """A void of `pending_id`, with `also` for flags beside void_pending_transfer."""
    return Transfer(
        id, amount=amount, pending_id=pending_id, flags=frozenset({"void_pending_transfer", *also}), **fields
    )


def flags(*names: str) -> frozenset[str]:
    return frozenset(names)


class Books:
    """The caller's side in miniature: stored accounts, transfers and resolutions, updated from each outcome."""

    def __init__(self, accounts: dict[int, Account] | None = None) -> None:
        self.accounts = dict(OPENING if accounts is None else accounts)
        self.stored: dict[int, Transfer] = {}
        self.resolved: dict[int, Resolution] = {}
        self.last: Outcome | None = None

    def submit(self, *transfers: Transfer, now: datetime = NOW) -> tuple[str, ...]:
        outcome = apply_transfers(
            transfers, accounts=self.accounts, stored=self.stored, resolved=self.resolved, now=now
        )
        self.accounts.update(outcome.accounts)
        self.stored.update((t.id, t) for t in outcome.transfers)
        self.resolved.update((r.pending_id, r) for r in outcome.resolutions)
        self.last = outcome
        return outcome.results

    def sweep(self, now: datetime) -> Expiry:
        pending = [t for t in self.stored.values() if "pending" in t.flags]
        expiry = expire(pending, accounts=self.accounts, resolved=self.resolved, now=now)
        self.accounts.update(expiry.accounts)
        self.resolved.update((r.pending_id, r) for r in expiry.resolutions)
        return expiry

    def totals(self, account_id: int) -> tuple[int, int, int, int]:
        a = self.accounts[account_id]
        return a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted

    def funded(self, amount: int = 1000) -> Books:
        """Money from the bank into the fund and on to the first wallet."""
        assert self.submit(pay(1001, BANK, FUND, amount), pay(1002, FUND, WALLET, amount)) == ("ok", "ok")
        return self


def only(transfer: Transfer, books: Books | None = None) -> str:
    (result,) = (books or Books().funded()).submit(transfer)
    return result


# ---------------------------------------------------------------------------------------------- accounts


class TestAccount:
    @pytest.mark.parametrize(
        ("fields", "code"),
        [
            ({"id": 0}, "account_id_invalid"),
            ({"id": 2**128 - 1}, "account_id_invalid"),
            ({"ledger": 0}, "account_ledger_invalid"),
            ({"code": 0}, "account_code_invalid"),
            ({"code": 70_000}, "account_code_invalid"),
            ({"currency": "hnl"}, "account_currency_invalid"),
            ({"currency": "LEMP"}, "account_currency_invalid"),
            ({"flags": {"overdraft"}}, "account_flag_unknown"),
            ({"flags": FLOOR | CEILING}, "account_flags_exclusive"),
            ({"debits_posted": -1}, "account_totals_invalid"),
            ({"credits_posted": AMOUNT_MAX + 1}, "account_totals_invalid"),
        ],
    )
    def test_invalid_accounts_are_refused_with_a_code(self, fields, code):
        with pytest.raises(InvalidAccount) as caught:
            Account(**{"id": 1, "ledger": HNL, "code": 2, "currency": "HNL", **fields})
        assert caught.value.code == code
        assert isinstance(caught.value, AppError) and caught.value.status == 422

    def test_a_uuid_is_its_128_bit_integer(self):
        wallet_id = uuid.UUID("0190f5a4-7c1e-7d2a-9b3c-4d5e6f708192")
        account = Account(wallet_id, HNL, AccountKind.wallet, "HNL")
        assert account.id == wallet_id.int
        transfer = Transfer(uuid.UUID(int=7), debit_account_id=wallet_id, credit_account_id=0)
        assert (transfer.id, transfer.debit_account_id, transfer.credit_account_id) == (7, wallet_id.int, None)


class TestContract:
    def test_a_naive_time_is_refused(self):
        with pytest.raises(BrokenContract) as caught:
            apply_transfers([], accounts={}, stored={}, resolved={}, now=datetime(2026, 1, 1))
        assert caught.value.code == "ledger_time_naive"

    def test_a_lookup_without_the_pending_transfers_accounts_is_refused(self):
        books = Books().funded()
        books.submit(pay(10, WALLET, SHOP, 100, flags=flags("pending")))
        del books.accounts[SHOP]
        with pytest.raises(BrokenContract) as caught:
            books.submit(post(11, 10))
        assert caught.value.code == "ledger_lookup_incomplete"

    def test_an_empty_batch_does_nothing(self):
        assert apply_transfers([], accounts=OPENING, stored={}, resolved={}, now=NOW) == ((), {}, (), ())


# ---------------------------------------------------------------------------------------------- plain transfers


class TestPlainTransfer:
    def test_a_transfer_moves_posted_totals_on_both_sides(self):
        books = Books()
        assert books.submit(pay(1, BANK, FUND, 500, reference="budget-2026")) == ("ok",)
        assert books.totals(BANK) == (0, 500, 0, 0)
        assert books.totals(FUND) == (0, 0, 0, 500)
        (stored,) = books.last.transfers
        assert stored == pay(1, BANK, FUND, 500, reference="budget-2026", currency="HNL", timestamp=NOW)
        assert set(books.last.accounts) == {BANK, FUND}

    def test_results_come_back_in_input_order_and_each_transfer_stands_alone(self):
        books = Books()
        results = books.submit(pay(1, BANK, FUND, 500), pay(2, FUND, WALLET, 900), pay(3, FUND, WALLET, 400))
        assert results == ("ok", "exceeds_credits", "ok")
        assert books.totals(FUND) == (0, 400, 0, 500)

    def test_a_later_transfer_sees_an_earlier_one_of_the_same_batch(self):
        assert Books().submit(pay(1, BANK, FUND, 10), pay(2, FUND, WALLET, 10)) == ("ok", "ok")

    @pytest.mark.parametrize(
        ("transfer", "code"),
        [
            (pay(1, WALLET, SHOP, 1, flags=flags("urgent")), "flag_unknown"),
            (pay(1, WALLET, SHOP, 1, timestamp=NOW), "timestamp_must_not_be_set"),
            (pay(0, WALLET, SHOP, 1), "id_must_not_be_zero"),
            (pay(2**128 - 1, WALLET, SHOP, 1), "id_out_of_range"),
            (pay(-4, WALLET, SHOP, 1), "id_out_of_range"),
            (pay(1, WALLET, SHOP, 1, flags=flags("pending", "void_pending_transfer")), "flags_are_mutually_exclusive"),
            (post(1, 5, also=["balancing_debit"]), "flags_are_mutually_exclusive"),
            (void(1, 5, also=["closing_credit"]), "flags_are_mutually_exclusive"),
            (post(1, 5, also=["void_pending_transfer"]), "flags_are_mutually_exclusive"),
            (pay(1, None, SHOP, 1), "debit_account_id_must_not_be_zero"),
            (pay(1, WALLET, 0, 1), "credit_account_id_must_not_be_zero"),
            (pay(1, WALLET, WALLET, 1), "accounts_must_be_different"),
            (pay(1, WALLET, SHOP, 1, pending_id=7), "pending_id_must_be_zero"),
            (pay(1, WALLET, SHOP, 1, timeout=60), "timeout_reserved_for_pending_transfer"),
            (pay(1, WALLET, SHOP, 1, flags=flags("pending"), timeout=-1), "timeout_out_of_range"),
            (pay(1, WALLET, SHOP, 1, flags=flags("pending"), timeout=2**31), "timeout_out_of_range"),
            (pay(1, WALLET, SHOP, 0, flags=flags("closing_debit")), "closing_transfer_must_be_pending"),
            (pay(1, WALLET, SHOP, 1, ledger=0), "ledger_must_not_be_zero"),
            (pay(1, WALLET, SHOP, 1, code=0), "code_must_not_be_zero"),
            (pay(1, WALLET, SHOP, 1, code=65_536), "code_out_of_range"),
            (pay(1, WALLET, SHOP, 12.5), "amount_must_be_whole_minor_units"),
            (pay(1, WALLET, SHOP, True), "amount_must_be_whole_minor_units"),
            (pay(1, WALLET, SHOP, -100), "amount_must_not_be_negative"),
            (pay(1, WALLET, SHOP, 0), "amount_must_not_be_zero"),
            (pay(1, WALLET, SHOP, None), "amount_must_not_be_zero"),
            (pay(1, WALLET, SHOP, 0, flags=flags("balancing_debit")), "amount_must_not_be_zero"),
            (pay(1, WALLET, SHOP, 1, reference="x" * 65), "reference_too_long"),
            (pay(1, MISSING, SHOP, 1), "debit_account_not_found"),
            (pay(1, WALLET, MISSING, 1), "credit_account_not_found"),
            (pay(1, WALLET, DOLLARS, 1), "accounts_must_have_the_same_ledger"),
            (pay(1, WALLET, SHOP, 1, ledger=USD), "transfer_must_have_the_same_ledger_as_accounts"),
            (pay(1, WALLET, ODD, 1), "accounts_must_have_the_same_currency"),
            (pay(1, WALLET, SHOP, 1, currency="USD"), "transfer_must_have_the_same_currency_as_accounts"),
            (pay(1, CLOSED, SHOP, 1), "debit_account_closed"),
            (pay(1, WALLET, CLOSED, 1), "credit_account_closed"),
            (pay(1, WALLET, SHOP, 1001), "exceeds_credits"),
            (pay(1, WALLET, SHOP, 1001, flags=flags("pending")), "exceeds_credits"),
            (pay(1, SUSPENSE, BANK, 1001), "exceeds_debits"),
            (pay(1, SUSPENSE, SHOP, AMOUNT_MAX + 1), "overflows_debits"),
        ],
    )
    def test_each_refusal_has_its_own_code_and_changes_nothing(self, transfer, code):
        books = Books().funded()
        before = dict(books.accounts)
        assert books.submit(transfer) == (code,)
        assert books.accounts == before and books.last.transfers == () and books.last.accounts == {}

    def test_a_currency_given_and_matching_is_accepted(self):
        assert only(pay(1, WALLET, SHOP, 10, currency="HNL")) == "ok"

    def test_overflowing_credits(self):
        books = Books().funded()
        assert books.submit(pay(1, SUSPENSE, SHOP, AMOUNT_MAX)) == ("ok",)
        assert books.submit(pay(2, WALLET, SHOP, 1)) == ("overflows_credits",)

    def test_a_floor_allows_spending_exactly_what_came_in(self):
        books = Books().funded(300)
        assert books.submit(pay(1, WALLET, SHOP, 300), pay(2, WALLET, SHOP, 1)) == ("ok", "exceeds_credits")


# ---------------------------------------------------------------------------------------------- idempotence


class TestReplay:
    def test_an_identical_replay_is_exists_and_moves_nothing(self):
        books = Books().funded()
        payment = pay(1, WALLET, SHOP, 250, reference="receipt-17")
        assert books.submit(payment) == ("ok",)
        before = dict(books.accounts)
        assert books.submit(payment) == ("exists",)
        assert books.accounts == before and books.last.transfers == ()

    def test_a_replay_inside_the_same_batch_is_exists(self):
        books = Books().funded()
        assert books.submit(pay(1, WALLET, SHOP, 250), pay(1, WALLET, SHOP, 250)) == ("ok", "exists")
        assert books.totals(SHOP) == (0, 0, 0, 250)

    def test_a_replay_of_a_refused_transfer_is_tried_again(self):
        books = Books()
        assert books.submit(pay(1, FUND, WALLET, 50)) == ("exceeds_credits",)
        books.submit(pay(2, BANK, FUND, 50))
        assert books.submit(pay(1, FUND, WALLET, 50)) == ("ok",)

    @pytest.mark.parametrize(
        ("changes", "code"),
        [
            ({"flags": flags("pending")}, "exists_with_different_flags"),
            ({"flags": flags("balancing_debit")}, "exists_with_different_flags"),
            ({"pending_id": 5}, "exists_with_different_pending_id"),
            ({"timeout": 3}, "exists_with_different_timeout"),
            ({"debit_account_id": WALLET2}, "exists_with_different_debit_account_id"),
            ({"credit_account_id": SUSPENSE}, "exists_with_different_credit_account_id"),
            ({"amount": 251}, "exists_with_different_amount"),
            ({"reference": "receipt-18"}, "exists_with_different_reference"),
            ({"ledger": USD}, "exists_with_different_ledger"),
            ({"code": 2}, "exists_with_different_code"),
            ({"currency": "USD"}, "exists_with_different_currency"),
            # Checked before any other rule, so a replay that is also invalid still says what differs.
            ({"amount": -1}, "exists_with_different_amount"),
        ],
    )
    def test_a_replay_that_differs_names_the_first_field_that_does(self, changes, code):
        books = Books().funded()
        payment = pay(1, WALLET, SHOP, 250, reference="receipt-17")
        books.submit(payment)
        before = dict(books.accounts)
        assert books.submit(replace(payment, **changes)) == (code,)
        assert books.accounts == before

    def test_a_replay_without_a_currency_matches_the_stored_one(self):
        books = Books().funded()
        books.submit(pay(1, WALLET, SHOP, 250, currency="HNL"))
        assert books.submit(pay(1, WALLET, SHOP, 250)) == ("exists",)

    def test_a_balancing_replay_with_a_ceiling_that_covers_what_moved_is_exists(self):
        books = Books().funded(300)
        sweep = pay(1, WALLET, SUSPENSE, 1000, flags=flags("balancing_debit"))
        assert books.submit(sweep) == ("ok",)
        assert books.last.transfers[0].amount == 300
        assert books.submit(replace(sweep, amount=300)) == ("exists",)
        assert books.submit(replace(sweep, amount=299)) == ("exists_with_different_amount",)

    def test_replays_of_a_post(self):
        books = Books().funded()
        books.submit(pay(1, WALLET, SHOP, 100, flags=flags("pending")), post(2, 1), post(3, 1))
        assert books.last.results == ("ok", "ok", "pending_transfer_already_posted")
        assert books.submit(post(2, 1)) == ("exists",)
        assert books.submit(post(2, 1, amount=100, debit_account_id=WALLET, ledger=HNL, code=1)) == ("exists",)
        assert books.submit(post(2, 1, amount=60)) == ("exists_with_different_amount",)
        assert books.submit(post(2, 1, debit_account_id=WALLET2)) == ("exists_with_different_debit_account_id",)
        assert books.submit(post(2, 1, credit_account_id=WALLET2)) == ("exists_with_different_credit_account_id",)
        assert books.submit(post(2, 1, reference="other")) == ("exists_with_different_reference",)
        assert books.submit(post(2, 1, ledger=USD)) == ("exists_with_different_ledger",)
        assert books.submit(post(2, 1, code=9)) == ("exists_with_different_code",)
        assert books.submit(post(2, 4)) == ("exists_with_different_pending_id",)
        assert books.submit(void(2, 1)) == ("exists_with_different_flags",)

    def test_a_partial_post_replayed_without_its_amount_differs(self):
        books = Books().funded()
        books.submit(pay(1, WALLET, SHOP, 100, flags=flags("pending")), post(2, 1, amount=60))
        assert books.submit(post(2, 1, amount=60)) == ("exists",)
        assert books.submit(post(2, 1)) == ("exists_with_different_amount",)

    def test_a_post_that_took_its_reference_from_the_pending_transfer_replays_as_exists(self):
        books = Books().funded()
        books.submit(pay(1, WALLET, SHOP, 100, flags=flags("pending"), reference="pos-3"), post(2, 1))
        assert books.stored[2].reference == "pos-3"
        assert books.submit(post(2, 1)) == ("exists",)
        assert books.submit(post(2, 1, reference="pos-3")) == ("exists",)

    def test_replays_of_a_void(self):
        books = Books().funded()
        books.submit(pay(1, WALLET, SHOP, 100, flags=flags("pending")), void(2, 1))
        assert books.submit(void(2, 1)) == ("exists",)
        assert books.submit(void(2, 1, amount=100)) == ("exists",)
        assert books.submit(void(2, 1, amount=99)) == ("exists_with_different_amount",)


# ---------------------------------------------------------------------------------------------- two-phase


class TestPending:
    def test_a_pending_transfer_reserves_and_counts_against_the_floor(self):
        books = Books().funded(100)
        assert books.submit(pay(1, WALLET, SHOP, 70, flags=flags("pending"))) == ("ok",)
        assert books.totals(WALLET) == (70, 0, 0, 100)
        assert books.totals(SHOP) == (0, 0, 70, 0)
        assert books.submit(pay(2, WALLET, SHOP, 31)) == ("exceeds_credits",)

    def test_a_full_post(self):
        books = Books().funded(100)
        books.submit(pay(1, WALLET, SHOP, 70, flags=flags("pending"), reference="pos-3"))
        assert books.submit(post(2, 1)) == ("ok",)
        assert books.totals(WALLET) == (0, 70, 0, 100)
        assert books.totals(SHOP) == (0, 0, 0, 70)
        (stored,) = books.last.transfers
        assert (stored.amount, stored.debit_account_id, stored.reference, stored.currency) == (
            70,
            WALLET,
            "pos-3",
            "HNL",
        )
        assert books.last.resolutions == (Resolution(1, "posted", 2, NOW),)

    def test_a_partial_post_releases_the_rest(self):
        books = Books().funded(100)
        books.submit(pay(1, WALLET, SHOP, 70, flags=flags("pending")))
        assert books.submit(post(2, 1, amount=45)) == ("ok",)
        assert books.totals(WALLET) == (0, 45, 0, 100)
        assert books.totals(SHOP) == (0, 0, 0, 45)

    def test_a_void_releases_everything(self):
        books = Books().funded(100)
        books.submit(pay(1, WALLET, SHOP, 70, flags=flags("pending")))
        assert books.submit(void(2, 1)) == ("ok",)
        assert books.totals(WALLET) == (0, 0, 0, 100) and books.totals(SHOP) == (0, 0, 0, 0)
        assert books.last.resolutions == (Resolution(1, "voided", 2, NOW),)

    def test_a_pending_transfer_resolves_at_most_once(self):
        books = Books().funded()
        books.submit(pay(1, WALLET, SHOP, 70, flags=flags("pending")), pay(2, WALLET, SHOP, 5, flags=flags("pending")))
        books.submit(post(3, 1), void(4, 2))
        assert books.submit(post(5, 1), void(6, 1), post(7, 2), void(8, 2)) == (
            "pending_transfer_already_posted",
            "pending_transfer_already_posted",
            "pending_transfer_already_voided",
            "pending_transfer_already_voided",
        )

    @pytest.mark.parametrize(
        ("transfer", "code"),
        [
            (post(3, None), "pending_id_must_not_be_zero"),
            (post(3, 3), "pending_id_must_be_different"),
            (post(3, 1, timeout=5), "timeout_reserved_for_pending_transfer"),
            (post(3, 1, amount=0), "amount_must_not_be_zero"),
            (post(3, 1, amount=-5), "amount_must_not_be_negative"),
            (post(3, 1, amount=1.5), "amount_must_be_whole_minor_units"),
            (post(3, 1, reference="r" * 65), "reference_too_long"),
            (post(3, 77), "pending_transfer_not_found"),
            (post(3, 2), "pending_transfer_not_pending"),
            (post(3, 1, debit_account_id=WALLET2), "pending_transfer_has_different_debit_account_id"),
            (post(3, 1, credit_account_id=WALLET2), "pending_transfer_has_different_credit_account_id"),
            (post(3, 1, ledger=USD), "pending_transfer_has_different_ledger"),
            (post(3, 1, code=4), "pending_transfer_has_different_code"),
            (post(3, 1, currency="USD"), "pending_transfer_has_different_currency"),
            (post(3, 1, amount=71), "exceeds_pending_transfer_amount"),
            (void(3, 1, amount=69), "pending_transfer_has_different_amount"),
            (void(3, 1, amount=0), "pending_transfer_has_different_amount"),
        ],
    )
    def test_refused_posts_and_voids(self, transfer, code):
        books = Books().funded()
        books.submit(pay(1, WALLET, SHOP, 70, flags=flags("pending")), pay(2, WALLET, SHOP, 5))
        before = dict(books.accounts)
        assert books.submit(transfer) == (code,)
        assert books.accounts == before

    def test_a_post_and_a_void_may_repeat_the_pending_fields(self):
        books = Books().funded()
        books.submit(pay(1, WALLET, SHOP, 70, flags=flags("pending")))
        full = post(2, 1, debit_account_id=WALLET, credit_account_id=SHOP, ledger=HNL, code=1, currency="HNL")
        assert books.submit(full) == ("ok",)

    def test_a_pending_transfer_made_earlier_in_the_batch_can_be_posted(self):
        books = Books().funded()
        assert books.submit(pay(1, WALLET, SHOP, 70, flags=flags("pending")), post(2, 1, amount=20)) == ("ok", "ok")
        assert books.totals(WALLET) == (0, 20, 0, 1000)


class TestExpiry:
    def test_expiry_voids_what_is_due_and_nothing_else(self):
        books = Books().funded()
        books.submit(
            pay(1, WALLET, SHOP, 10, flags=flags("pending"), timeout=60),
            pay(2, WALLET, SHOP, 20, flags=flags("pending"), timeout=30),
            pay(3, WALLET, SHOP, 40, flags=flags("pending")),
        )
        assert expires_at(books.stored[2]) == NOW + timedelta(seconds=30)
        assert expires_at(books.stored[3]) is None
        expiry = books.sweep(NOW + timedelta(seconds=29))
        assert expiry == Expiry({}, ())
        later = NOW + timedelta(seconds=60)
        expiry = books.sweep(later)
        # Earliest expiry first, as TigerBeetle releases them.
        assert expiry.resolutions == (Resolution(2, "expired", None, later), Resolution(1, "expired", None, later))
        assert books.totals(WALLET) == (40, 0, 0, 1000)
        assert books.sweep(later + timedelta(hours=1)) == Expiry({}, ())

    def test_an_expired_transfer_cannot_be_posted_or_voided(self):
        books = Books().funded()
        books.submit(pay(1, WALLET, SHOP, 10, flags=flags("pending"), timeout=30))
        deadline = NOW + timedelta(seconds=30)
        # Even before a sweep releases it: the deadline, not the sweep, ends a reservation.
        assert books.submit(post(2, 1), now=deadline) == ("pending_transfer_expired",)
        assert books.submit(post(2, 1), now=deadline - timedelta(seconds=1)) == ("ok",)
        books.submit(pay(3, WALLET, SHOP, 10, flags=flags("pending"), timeout=30))
        books.sweep(deadline)
        assert books.submit(void(4, 3), now=deadline) == ("pending_transfer_expired",)

    def test_a_pending_transfer_passed_twice_expires_once(self):
        books = Books().funded()
        books.submit(pay(1, WALLET, SHOP, 10, flags=flags("pending"), timeout=1))
        pending = books.stored[1]
        later = NOW + timedelta(seconds=5)
        expiry = expire([pending, pending], accounts=books.accounts, resolved={}, now=later)
        assert len(expiry.resolutions) == 1
        assert expiry.accounts[WALLET].debits_pending == 0

    def test_expire_refuses_a_naive_time(self):
        with pytest.raises(BrokenContract):
            expire([], accounts={}, resolved={}, now=datetime(2026, 1, 1))


# ---------------------------------------------------------------------------------------------- linked chains


class TestLinked:
    def test_a_chain_applies_as_a_whole(self):
        books = Books().funded(100)
        chain = (pay(1, WALLET, SHOP, 60, flags=flags("linked")), pay(2, WALLET, SUSPENSE, 40))
        assert books.submit(*chain) == ("ok", "ok")

    def test_a_failed_member_fails_the_whole_chain_and_leaves_nothing(self):
        books = Books().funded(100)
        before = dict(books.accounts)
        results = books.submit(
            pay(1, WALLET, SHOP, 60, flags=flags("linked")),
            pay(2, WALLET, SUSPENSE, 41, flags=flags("linked")),
            pay(3, WALLET, SUSPENSE, 1),
            pay(4, WALLET, SHOP, 100),
        )
        assert results == ("linked_event_failed", "exceeds_credits", "linked_event_failed", "ok")
        assert [t.id for t in books.last.transfers] == [4]
        assert books.accounts[SUSPENSE] == before[SUSPENSE]

    def test_chains_fail_independently(self):
        books = Books().funded(100)
        results = books.submit(
            pay(1, WALLET, SHOP, 200, flags=flags("linked")),
            pay(2, WALLET, SHOP, 1),
            pay(3, WALLET, SHOP, 30, flags=flags("linked")),
            pay(4, WALLET, SHOP, 30),
        )
        assert results == ("exceeds_credits", "linked_event_failed", "ok", "ok")

    def test_a_chain_left_open_fails(self):
        books = Books().funded()
        results = books.submit(pay(1, WALLET, SHOP, 1), pay(2, WALLET, SHOP, 1, flags=flags("linked")))
        assert results == ("ok", "linked_event_chain_open")
        results = books.submit(
            pay(3, WALLET, SHOP, 1, flags=flags("linked")), pay(4, WALLET, SHOP, 1, flags=flags("linked"))
        )
        assert results == ("linked_event_failed", "linked_event_chain_open")
        assert [t.id for t in books.last.transfers] == []

    def test_a_chain_sees_its_own_earlier_members(self):
        books = Books()
        chain = (pay(1, BANK, FUND, 80, flags=flags("linked")), pay(2, FUND, WALLET, 80))
        assert books.submit(*chain) == ("ok", "ok")

    def test_a_failed_chain_takes_back_a_post_and_its_resolution(self):
        books = Books().funded(100)
        books.submit(pay(1, WALLET, SHOP, 70, flags=flags("pending")))
        assert books.submit(post(2, 1, also=["linked"]), pay(3, WALLET, SHOP, 31)) == (
            "linked_event_failed",
            "exceeds_credits",
        )
        assert books.last.resolutions == () and books.totals(WALLET) == (70, 0, 0, 100)
        assert books.submit(post(4, 1)) == ("ok",)

    def test_a_replayed_chain_is_exists_throughout(self):
        books = Books().funded(100)
        chain = (pay(1, WALLET, SHOP, 60, flags=flags("linked")), pay(2, WALLET, SUSPENSE, 40))
        books.submit(*chain)
        assert books.submit(*chain) == ("exists", "exists")

    def test_a_stored_member_keeps_exists_when_its_new_chain_fails(self):
        books = Books().funded(100)
        books.submit(pay(1, WALLET, SHOP, 60, flags=flags("linked")), pay(2, WALLET, SUSPENSE, 40))
        results = books.submit(pay(1, WALLET, SHOP, 60, flags=flags("linked")), pay(5, WALLET, SHOP, 1))
        assert results == ("exists", "exceeds_credits")


class TestClosing:
    def test_closing_an_account_with_a_balancing_sweep_and_reopening_it(self):
        books = Books().funded(300)
        results = books.submit(
            pay(1, WALLET, SUSPENSE, AMOUNT_MAX, flags=flags("balancing_debit", "linked")),
            pay(2, WALLET, SUSPENSE, 0, flags=flags("pending", "closing_debit")),
        )
        assert results == ("ok", "ok")
        assert books.accounts[WALLET].closed and books.totals(WALLET) == (0, 300, 0, 300)
        assert books.submit(pay(3, FUND, WALLET, 1), pay(4, WALLET, SHOP, 1)) == (
            "credit_account_closed",
            "debit_account_closed",
        )
        # A closing transfer cannot be posted (its account is closed), only voided, which reopens the account.
        assert books.submit(post(5, 2)) == ("debit_account_closed",)
        assert books.submit(void(6, 2)) == ("ok",)
        assert not books.accounts[WALLET].closed

    def test_a_closing_credit_closes_the_credit_account_until_it_expires(self):
        books = Books().funded()
        books.submit(pay(1, SUSPENSE, SHOP, 0, flags=flags("pending", "closing_credit"), timeout=10))
        assert books.accounts[SHOP].closed and not books.accounts[SUSPENSE].closed
        books.sweep(NOW + timedelta(seconds=10))
        assert not books.accounts[SHOP].closed

    def test_a_balancing_debit_leaves_what_is_reserved(self):
        books = Books().funded(300)
        books.submit(pay(1, WALLET, SHOP, 120, flags=flags("pending")))
        assert books.submit(pay(2, WALLET, SUSPENSE, AMOUNT_MAX, flags=flags("balancing_debit"))) == ("ok",)
        assert books.last.transfers[0].amount == 180
        assert books.totals(WALLET) == (120, 180, 0, 300)

    def test_a_post_into_a_closed_credit_account_is_refused_and_a_void_is_not(self):
        books = Books().funded()
        books.submit(pay(1, WALLET, SHOP, 70, flags=flags("pending")), pay(2, WALLET, SHOP, 5, flags=flags("pending")))
        assert books.submit(pay(3, SUSPENSE, SHOP, 0, flags=flags("pending", "closing_credit"))) == ("ok",)
        assert books.submit(post(4, 1)) == ("credit_account_closed",)
        assert books.submit(void(5, 2)) == ("ok",)

    def test_a_balancing_transfer_with_nothing_to_move_is_refused(self):
        assert only(pay(1, WALLET2, SUSPENSE, 50, flags=flags("balancing_debit"))) == "exceeds_credits"
        assert only(pay(1, SUSPENSE, SHOP, 50, flags=flags("balancing_credit"))) == "exceeds_debits"

    def test_balancing_credit_moves_only_what_the_credit_account_may_take(self):
        books = Books().funded()
        books.submit(pay(1, SUSPENSE, BANK, 5000, flags=flags("balancing_credit")))
        assert books.last.transfers[0].amount == 1000  # the bank received 1000 from funding, so it may pay out 1000
        assert books.totals(BANK) == (0, 1000, 0, 1000)


# ---------------------------------------------------------------------------------------------- invariants


class TestInvariants:
    def test_balanced_books_have_no_unbalanced_ledger(self):
        books = Books().funded()
        books.submit(pay(1, WALLET, SHOP, 70, flags=flags("pending")))
        assert unbalanced_ledgers(books.accounts.values()) == []
        assert accounts_over_limit(books.accounts.values()) == []

    def test_a_tampered_total_is_found(self):
        books = Books().funded()
        accounts = dict(books.accounts)
        accounts[SHOP] = replace(accounts[SHOP], credits_pending=5)
        accounts[DOLLARS] = replace(accounts[DOLLARS], debits_posted=1)
        assert unbalanced_ledgers(accounts.values()) == [HNL, USD]

    def test_an_account_over_its_limit_is_found(self):
        accounts = [
            replace(OPENING[WALLET], debits_posted=10),
            replace(OPENING[BANK], credits_pending=1),
            replace(OPENING[SUSPENSE], debits_posted=10),
        ]
        assert accounts_over_limit(accounts) == [WALLET, BANK]


# ---------------------------------------------------------------------------------------------- codes and docs


class TestCodes:
    def test_codes_are_unique_and_have_a_meaning(self):
        codes = [result.code for result in RESULT_CODES]
        assert len(codes) == len(set(codes)) and all(RESULT_MEANINGS[code] for code in codes)

    def test_every_code_has_a_spanish_explanation(self):
        catalogue = json.loads((ROOT / "src/carnet/locale/es.codes.json").read_text(encoding="utf-8"))
        missing = [result.code for result in RESULT_CODES if not catalogue.get(result.code, "").strip()]
        assert missing == []

    def test_the_format_document_explains_every_code_and_flag(self):
        text = (ROOT / "docs/formats/ledger.md").read_text(encoding="utf-8")
        documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE))
        assert {result.code for result in RESULT_CODES} <= documented
        assert documented >= TRANSFER_FLAGS


# ---------------------------------------------------------------------------------------------- the oracle

RESOLVING = {"post_pending_transfer", "void_pending_transfer"}


class Oracle:
    """A second ledger, written to be plainly right rather than quick.

    It keeps only the list of accepted transfers and the fate of each pending one, derives every balance and
    every closed flag from them when asked, and tries a chain on a copy of the list that it keeps or throws away.
    """

    def __init__(self, accounts: dict[int, Account]) -> None:
        self.opening = dict(accounts)
        self.facts: list[Transfer] = []
        self.fates: dict[int, tuple[str, int | None]] = {}

    def totals(self, facts, fates) -> dict[int, list[int]]:
        out = {
            i: [a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted] for i, a in self.opening.items()
        }
        for f in facts:
            if "pending" in f.flags:
                if f.id not in fates:
                    out[f.debit_account_id][0] += f.amount
                    out[f.credit_account_id][2] += f.amount
            elif "void_pending_transfer" not in f.flags:  # a plain transfer or a post moves posted totals
                out[f.debit_account_id][1] += f.amount
                out[f.credit_account_id][3] += f.amount
        return out

    def closed(self, account_id, facts, fates) -> bool:
        if self.opening[account_id].closed:
            return True
        return any(
            "pending" in f.flags
            and f.id not in fates
            and (
                ("closing_debit" in f.flags and f.debit_account_id == account_id)
                or ("closing_credit" in f.flags and f.credit_account_id == account_id)
            )
            for f in facts
        )

    def accounts(self) -> dict[int, Account]:
        totals = self.totals(self.facts, self.fates)
        out = {}
        for i, a in self.opening.items():
            shut = self.closed(i, self.facts, self.fates)
            out[i] = replace(
                a,
                flags=(a.flags | {"closed"}) if shut else (a.flags - {"closed"}),
                debits_pending=totals[i][0],
                debits_posted=totals[i][1],
                credits_pending=totals[i][2],
                credits_posted=totals[i][3],
            )
        return out

    @staticmethod
    def find(facts, transfer_id):
        return next((f for f in facts if f.id == transfer_id), None)

    def submit(self, batch, now) -> list[str]:
        results: list[str] = [""] * len(batch)
        segments, current = [], []
        for index, t in enumerate(batch):
            current.append(index)
            if "linked" not in t.flags:
                segments.append(current)
                current = []
        if current:
            segments.append(current)
        for segment in segments:
            facts, fates = list(self.facts), dict(self.fates)
            open_chain = "linked" in batch[segment[-1]].flags
            failed = False
            for position, index in enumerate(segment):
                if failed:
                    results[index] = "linked_event_failed"
                    continue
                if open_chain and position == len(segment) - 1:
                    code, fact, fate = "linked_event_chain_open", None, None
                else:
                    code, fact, fate = self.evaluate(batch[index], facts, fates, now)
                results[index] = code
                if code == "ok":
                    facts.append(fact)
                    if fate:
                        fates[fate[0]] = fate[1]
                elif code != "exists":
                    failed = True
            if failed:
                for index in segment:
                    if results[index] == "ok":
                        results[index] = "linked_event_failed"
            else:
                self.facts, self.fates = facts, fates
        return results

    def expire(self, now) -> None:
        for f in self.facts:
            due = "pending" in f.flags and f.timeout and now >= f.timestamp + timedelta(seconds=f.timeout)
            if due and f.id not in self.fates:
                self.fates[f.id] = ("expired", None)

    def evaluate(self, t, facts, fates, now):
        if not t.flags <= TRANSFER_FLAGS:
            return "flag_unknown", None, None
        if t.timestamp is not None:
            return "timestamp_must_not_be_set", None, None
        if t.id == 0:
            return "id_must_not_be_zero", None, None
        if not 0 < t.id < 2**128 - 1:
            return "id_out_of_range", None, None
        old = self.find(facts, t.id)
        if old is not None:
            return self.replay(t, old, facts), None, None
        phases = t.flags & {"pending", *RESOLVING}
        if len(phases) > 1 or (phases & RESOLVING and t.flags - {"linked"} - phases):
            return "flags_are_mutually_exclusive", None, None
        if phases & RESOLVING:
            return self.resolve(t, facts, fates, now)
        return self.create(t, facts, fates, now)

    def replay(self, t, old, facts) -> str:
        def given(mine, theirs):
            return mine not in (None, 0, "") and mine != theirs

        if t.flags & RESOLVING:

            def amount_differs():
                if t.amount is not None:
                    return t.amount != old.amount
                pending = self.find(facts, old.pending_id)
                return "post_pending_transfer" in t.flags and pending.amount != old.amount

            checks = [
                (lambda: t.flags != old.flags, "exists_with_different_flags"),
                (lambda: t.pending_id != old.pending_id, "exists_with_different_pending_id"),
                (lambda: t.timeout != old.timeout, "exists_with_different_timeout"),
                (lambda: given(t.debit_account_id, old.debit_account_id), "exists_with_different_debit_account_id"),
                (lambda: given(t.credit_account_id, old.credit_account_id), "exists_with_different_credit_account_id"),
                (amount_differs, "exists_with_different_amount"),
                (lambda: given(t.reference, old.reference), "exists_with_different_reference"),
                (lambda: given(t.ledger, old.ledger), "exists_with_different_ledger"),
                (lambda: given(t.code, old.code), "exists_with_different_code"),
            ]
        else:

            def amount_differs():
                if t.flags & {"balancing_debit", "balancing_credit"}:
                    return not isinstance(t.amount, int) or t.amount < old.amount
                return t.amount != old.amount

            checks = [
                (lambda: t.flags != old.flags, "exists_with_different_flags"),
                (lambda: t.pending_id != old.pending_id, "exists_with_different_pending_id"),
                (lambda: t.timeout != old.timeout, "exists_with_different_timeout"),
                (lambda: t.debit_account_id != old.debit_account_id, "exists_with_different_debit_account_id"),
                (lambda: t.credit_account_id != old.credit_account_id, "exists_with_different_credit_account_id"),
                (amount_differs, "exists_with_different_amount"),
                (lambda: t.reference != old.reference, "exists_with_different_reference"),
                (lambda: t.ledger != old.ledger, "exists_with_different_ledger"),
                (lambda: t.code != old.code, "exists_with_different_code"),
            ]
        checks.append((lambda: t.currency is not None and t.currency != old.currency, "exists_with_different_currency"))
        return next((code for differs, code in checks if differs()), "exists")

    def create(self, t, facts, fates, now):
        dr, cr = self.opening.get(t.debit_account_id), self.opening.get(t.credit_account_id)
        totals = self.totals(facts, fates)
        pending, closing = "pending" in t.flags, bool(t.flags & {"closing_debit", "closing_credit"})
        balancing = bool(t.flags & {"balancing_debit", "balancing_credit"})
        whole = isinstance(t.amount, int) and not isinstance(t.amount, bool)
        guards = [
            (lambda: t.debit_account_id is None, "debit_account_id_must_not_be_zero"),
            (lambda: t.credit_account_id is None, "credit_account_id_must_not_be_zero"),
            (lambda: t.debit_account_id == t.credit_account_id, "accounts_must_be_different"),
            (lambda: t.pending_id is not None, "pending_id_must_be_zero"),
            (lambda: not pending and t.timeout != 0, "timeout_reserved_for_pending_transfer"),
            (lambda: not pending and closing, "closing_transfer_must_be_pending"),
            (lambda: pending and not 0 <= t.timeout < 2**31, "timeout_out_of_range"),
            (lambda: not t.ledger, "ledger_must_not_be_zero"),
            (lambda: not t.code, "code_must_not_be_zero"),
            (lambda: not 0 < t.code < 2**16, "code_out_of_range"),
            (lambda: t.amount is None, "amount_must_not_be_zero"),
            (lambda: not whole, "amount_must_be_whole_minor_units"),
            (lambda: t.amount < 0, "amount_must_not_be_negative"),
            (lambda: t.amount == 0 and (balancing or not closing), "amount_must_not_be_zero"),
            (lambda: len(t.reference) > 64, "reference_too_long"),
            (lambda: dr is None, "debit_account_not_found"),
            (lambda: cr is None, "credit_account_not_found"),
            (lambda: dr.ledger != cr.ledger, "accounts_must_have_the_same_ledger"),
            (lambda: t.ledger != dr.ledger, "transfer_must_have_the_same_ledger_as_accounts"),
            (lambda: dr.currency != cr.currency, "accounts_must_have_the_same_currency"),
            (lambda: t.currency not in (None, dr.currency), "transfer_must_have_the_same_currency_as_accounts"),
            (lambda: self.closed(dr.id, facts, fates), "debit_account_closed"),
            (lambda: self.closed(cr.id, facts, fates), "credit_account_closed"),
        ]
        for refused, code in guards:
            if refused():
                return code, None, None
        dp, dpo, _, dcpo = totals[dr.id]
        _, cdpo, cp, cpo = totals[cr.id]
        amount = t.amount
        if "balancing_debit" in t.flags:
            amount = min(amount, max(0, dcpo - dpo - dp))
        if "balancing_credit" in t.flags:
            amount = min(amount, max(0, cdpo - cpo - cp))
        later = [
            (lambda: dp + dpo + amount >= 2**63, "overflows_debits"),
            (lambda: cp + cpo + amount >= 2**63, "overflows_credits"),
            (lambda: amount == 0 and "balancing_debit" in t.flags, "exceeds_credits"),
            (lambda: amount == 0 and "balancing_credit" in t.flags, "exceeds_debits"),
            (lambda: "debits_must_not_exceed_credits" in dr.flags and dp + dpo + amount > dcpo, "exceeds_credits"),
            (lambda: "credits_must_not_exceed_debits" in cr.flags and cp + cpo + amount > cdpo, "exceeds_debits"),
        ]
        for refused, code in later:
            if refused():
                return code, None, None
        return "ok", replace(t, amount=amount, currency=dr.currency, timestamp=now), None

    def resolve(self, t, facts, fates, now):
        p = self.find(facts, t.pending_id) if t.pending_id else None
        posting = "post_pending_transfer" in t.flags
        whole = isinstance(t.amount, int) and not isinstance(t.amount, bool)
        amount = t.amount if t.amount is not None else (p.amount if p else None)
        fate = fates.get(p.id, (None,))[0] if p else None
        guards = [
            (lambda: t.pending_id is None, "pending_id_must_not_be_zero"),
            (lambda: t.pending_id == t.id, "pending_id_must_be_different"),
            (lambda: t.timeout != 0, "timeout_reserved_for_pending_transfer"),
            (lambda: posting and t.amount is not None and not whole, "amount_must_be_whole_minor_units"),
            (lambda: posting and t.amount is not None and t.amount < 0, "amount_must_not_be_negative"),
            (lambda: posting and t.amount == 0, "amount_must_not_be_zero"),
            (lambda: len(t.reference) > 64, "reference_too_long"),
            (lambda: p is None, "pending_transfer_not_found"),
            (lambda: "pending" not in p.flags, "pending_transfer_not_pending"),
            (
                lambda: t.debit_account_id not in (None, p.debit_account_id),
                "pending_transfer_has_different_debit_account_id",
            ),
            (
                lambda: t.credit_account_id not in (None, p.credit_account_id),
                "pending_transfer_has_different_credit_account_id",
            ),
            (lambda: t.ledger not in (None, 0, p.ledger), "pending_transfer_has_different_ledger"),
            (lambda: t.code not in (None, 0, p.code), "pending_transfer_has_different_code"),
            (lambda: t.currency not in (None, p.currency), "pending_transfer_has_different_currency"),
            (lambda: posting and amount > p.amount, "exceeds_pending_transfer_amount"),
            (lambda: not posting and amount != p.amount, "pending_transfer_has_different_amount"),
            (lambda: fate == "posted", "pending_transfer_already_posted"),
            (lambda: fate == "voided", "pending_transfer_already_voided"),
            (lambda: fate == "expired", "pending_transfer_expired"),
            (lambda: p.timeout and now >= p.timestamp + timedelta(seconds=p.timeout), "pending_transfer_expired"),
            (lambda: posting and self.closed(p.debit_account_id, facts, fates), "debit_account_closed"),
            (lambda: posting and self.closed(p.credit_account_id, facts, fates), "credit_account_closed"),
        ]
        for refused, code in guards:
            if refused():
                return code, None, None
        fact = Transfer(
            t.id,
            p.debit_account_id,
            p.credit_account_id,
            amount if posting else p.amount,
            p.id,
            p.ledger,
            p.code,
            t.flags,
            0,
            t.reference or p.reference,
            p.currency,
            now,
        )
        return "ok", fact, (p.id, ("posted" if posting else "voided", t.id))


FLOWS = [(BANK, FUND), (FUND, WALLET), (FUND, WALLET2), (WALLET, SHOP), (WALLET2, SHOP), (SHOP, BANK)]
FLOWS += [(WALLET, WALLET2), (SUSPENSE, WALLET), (WALLET, SUSPENSE), (SUSPENSE, SHOP)]
AMOUNTS = [5, 20, 100, 1, 400]
BAD_AMOUNTS = [0, -3, 2.5, None, AMOUNT_MAX]
REPLAYS = ["same", "same", "same", "stored", "timestamp", "amount", "debit", "credit", "pending_id", "reference"]
REPLAYS += ["ledger", "code", "flags", "currency", "timeout"]


class LedgerMachine(RuleBasedStateMachine):
    """Random batches against the rules and the oracle; after every step both must agree on everything.

    Transfers are valid by default and get one rare defect at a time, so that chains commit, money flows from
    the bank to the fund, wallets and shops, and pending transfers live long enough to be posted, voided,
    replayed or to expire.
    """

    @initialize()
    def open_books(self):
        self.books = Books()
        self.oracle = Oracle(OPENING)
        self.now = NOW
        self.requests: dict[int, Transfer] = {}  # what was sent for each accepted id, to replay it
        self.batches: list[list[Transfer]] = []  # every batch sent, to resubmit one whole as a client would
        # Money in the fund and the wallets from the start, so that payments and reservations can succeed.
        opening = [pay(1, BANK, FUND, 5000), pay(2, FUND, WALLET, 800), pay(3, FUND, WALLET2, 300)]
        assert self.oracle.submit(opening, self.now) == ["ok"] * 3
        assert self.books.submit(*opening, now=self.now) == ("ok",) * 3
        self.next_id = 10

    def rare(self, data, one_in: int) -> bool:
        # The last value is the rare one, so shrinking drifts towards the plain case.
        return data.draw(st.integers(0, one_in - 1)) == one_in - 1

    def pick(self, data, usual, unusual, one_in: int):
        """Usually one of `usual`; once in `one_in` draws one of `unusual`."""
        return data.draw(st.sampled_from(unusual if self.rare(data, one_in) else usual))

    def fresh_id(self, data, batch) -> int:
        if batch and self.rare(data, 10):
            return data.draw(st.sampled_from([t.id for t in batch]))
        if self.rare(data, 40):
            return data.draw(st.sampled_from([0, 2**128 - 1]))
        self.next_id += 1
        return self.next_id

    def draw_new(self, data, batch, pending: bool) -> Transfer:
        if self.rare(data, 8):
            debit, credit = (data.draw(st.sampled_from([*OPENING, MISSING])) for _ in range(2))
        else:
            debit, credit = data.draw(st.sampled_from(FLOWS))
        chosen = {"pending"} if pending else set()
        for flag in ("balancing_debit", "balancing_credit", "closing_debit", "closing_credit"):
            if self.rare(data, 10):
                chosen.add(flag)
        if self.rare(data, 40):
            chosen.add(data.draw(st.sampled_from(["urgent", "void_pending_transfer"])))
        timeout = self.pick(data, [0, 10, 30], [-1, 2**31], 25) if pending else self.pick(data, [0], [10], 25)
        return Transfer(
            self.fresh_id(data, batch),
            self.pick(data, [debit], [None], 40),
            self.pick(data, [credit], [None, debit], 40),
            self.pick(data, AMOUNTS, BAD_AMOUNTS, 10),
            pending_id=self.pick(data, [None], [7], 40),
            ledger=self.pick(data, [HNL], [USD, 0], 20),
            code=self.pick(data, [1, 2], [0, 70_000], 20),
            flags=frozenset(chosen),
            timeout=timeout,
            reference=self.pick(data, ["", "r1"], ["x" * 65], 25),
            currency=self.pick(data, [None, "HNL"], ["USD"], 20),
        )

    def draw_resolution(self, data, batch, posting: bool) -> Transfer:
        known = self.oracle.facts + [t for t in batch if isinstance(t.amount, int)]
        pending = [f for f in known if "pending" in f.flags]
        live = [f for f in pending if f.id not in self.oracle.fates]
        if live and not self.rare(data, 4):
            target = data.draw(st.sampled_from(live))
        elif pending and not self.rare(data, 8):
            target = data.draw(st.sampled_from(pending))
        elif known and not self.rare(data, 4):
            target = data.draw(st.sampled_from(known))
        else:
            target = Transfer(123456, WALLET, SHOP, 10)
        whole = target.amount if isinstance(target.amount, int) else 10
        if posting:
            # A partial post is the case where the released remainder and the posted part differ: weigh it up.
            part = max(1, whole // 2)
            amount = self.pick(data, [part, part, None, whole], [whole + 1, 0, -1, 1.5], 8)
        else:
            amount = self.pick(data, [None, whole], [max(1, whole // 2), 0], 8)
        other = WALLET2 if target.credit_account_id != WALLET2 else SHOP
        transfer_id = self.fresh_id(data, batch)
        return Transfer(
            transfer_id,
            debit_account_id=self.pick(data, [None], [target.debit_account_id, other], 6),
            credit_account_id=self.pick(data, [None], [target.credit_account_id, other], 6),
            amount=amount,
            pending_id=self.pick(data, [target.id], [None, 0, transfer_id], 40),
            ledger=self.pick(data, [None], [HNL, USD], 10),
            code=self.pick(data, [None], [1, 2], 10),
            flags=frozenset({"post_pending_transfer" if posting else "void_pending_transfer"}),
            timeout=self.pick(data, [0], [5], 40),
            reference=self.pick(data, ["", "r2"], ["y" * 65], 30),
            currency=self.pick(data, [None], ["HNL", "USD"], 12),
        )

    def draw_replay(self, data) -> Transfer | None:
        if not self.requests:
            return None
        transfer_id = data.draw(st.sampled_from(sorted(self.requests)))
        sent = self.requests[transfer_id]
        change = data.draw(st.sampled_from(REPLAYS))
        if change == "stored":
            # What the ledger kept (fields resolved, amounts settled) is the same request as the one sent.
            return replace(self.books.stored[transfer_id], timestamp=None)
        if change == "timestamp":
            return self.books.stored[transfer_id]
        amount = sent.amount + 1 if isinstance(sent.amount, int) else 1
        changed = {
            "same": {},
            "amount": {"amount": amount},
            "debit": {"debit_account_id": SUSPENSE if sent.debit_account_id != SUSPENSE else WALLET},
            "credit": {"credit_account_id": SUSPENSE if sent.credit_account_id != SUSPENSE else SHOP},
            "pending_id": {"pending_id": 424242},
            "reference": {"reference": "changed"},
            "ledger": {"ledger": USD},
            "code": {"code": 3},
            "flags": {"flags": sent.flags ^ {"linked"}},
            "currency": {"currency": "USD"},
            "timeout": {"timeout": sent.timeout + 5},
        }[change]
        return replace(sent, **changed)

    @rule(data=st.data(), size=st.integers(1, 5))
    def submit(self, data, size):
        batch: list[Transfer] = []
        for _ in range(size):
            kind = data.draw(st.sampled_from(["plain", "pending", "post", "void", "replay", "plain", "pending"]))
            if kind in ("plain", "pending"):
                transfer = self.draw_new(data, batch, pending=kind == "pending")
            elif kind in ("post", "void"):
                transfer = self.draw_resolution(data, batch, posting=kind == "post")
            else:
                transfer = self.draw_replay(data) or self.draw_new(data, batch, pending=False)
            if self.rare(data, 4):
                transfer = replace(transfer, flags=transfer.flags | {"linked"})
            batch.append(transfer)
        self.send(batch)

    def send(self, batch: list[Transfer]) -> None:
        expected = self.oracle.submit(batch, self.now)
        got = self.books.submit(*batch, now=self.now)
        assert list(got) == expected, (batch, got, expected)
        self.batches.append(batch)
        for transfer, result in zip(batch, got, strict=True):
            if result == "ok":
                self.requests[transfer.id] = transfer

    @rule(data=st.data())
    def resubmit(self, data):
        """A client that never saw the answer sends the same batch again, chains and all."""
        if self.batches:
            self.send(data.draw(st.sampled_from(self.batches)))

    @rule(seconds=st.sampled_from([1, 9, 30, 61]))
    def tick(self, seconds):
        self.now += timedelta(seconds=seconds)

    @rule()
    def wait_for_a_deadline(self):
        """Move the clock to the exact moment the next reservation expires: the boundary is where rules slip."""
        deadlines = [
            f.timestamp + timedelta(seconds=f.timeout)
            for f in self.oracle.facts
            if "pending" in f.flags and f.timeout and f.id not in self.oracle.fates
        ]
        upcoming = [d for d in deadlines if d > self.now]
        if upcoming:
            self.now = min(upcoming)

    @rule()
    def sweep(self):
        self.books.sweep(self.now)
        self.oracle.expire(self.now)

    @invariant()
    def the_rules_and_the_oracle_agree(self):
        assert list(self.books.stored.values()) == self.oracle.facts
        assert {i: (r.status, r.transfer_id) for i, r in self.books.resolved.items()} == self.oracle.fates
        assert self.books.accounts == self.oracle.accounts()

    @invariant()
    def money_is_neither_made_nor_lost(self):
        assert unbalanced_ledgers(self.books.accounts.values()) == []
        assert accounts_over_limit(self.books.accounts.values()) == []


LedgerMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestLedgerAgainstOracle = LedgerMachine.TestCase
