"""Tables of the ledger: accounts with their four totals, immutable transfers, pending resolutions, batches.

128-bit ids are stored as UUID columns (`uuid.UUID(int=n)`), portable across SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from carnet.db.base import Base, JSONDoc, UTCDateTime

ACCOUNT_KINDS = ("programme_fund", "wallet", "merchant", "settlement_bank", "suspense")


class LedgerAccount(Base):
    """An account: its ledger (currency), kind and holder, flags and the totals transfers have moved."""

    __tablename__ = "ledger_accounts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    ledger: Mapped[int] = mapped_column(Integer)
    code: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(16))
    # Who the account is for, never a registry id: a programme code, a sector pseudonym, a card id, a shop.
    holder: Mapped[str] = mapped_column(String(96))
    flags: Mapped[list[str]] = mapped_column(JSONDoc)
    debits_pending: Mapped[int] = mapped_column(BigInteger)
    debits_posted: Mapped[int] = mapped_column(BigInteger)
    credits_pending: Mapped[int] = mapped_column(BigInteger)
    credits_posted: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("kind IN ('programme_fund', 'wallet', 'merchant', 'settlement_bank', 'suspense')", name="kind"),
        CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0",
            name="totals",
        ),
        Index("ix_ledger_accounts_kind_holder", "kind", "holder"),
    )


class LedgerBatch(Base):
    """One call that submitted transfers: when, by whom, how many applied (one audit entry each)."""

    __tablename__ = "ledger_batches"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_by: Mapped[str] = mapped_column(String(120))
    transfers: Mapped[int] = mapped_column(Integer)
    applied: Mapped[int] = mapped_column(Integer)


class LedgerTransfer(Base):
    """A transfer as applied; rows are never updated or deleted."""

    __tablename__ = "ledger_transfers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    debit_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    pending_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    ledger: Mapped[int] = mapped_column(Integer)
    code: Mapped[int] = mapped_column(Integer)
    flags: Mapped[list[str]] = mapped_column(JSONDoc)
    timeout: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_batches.id"))
    # Order of application within its batch (batches are uuid7, time-ordered): a statement's running balance.
    position: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount"),
        Index("ix_ledger_transfers_debit", "debit_account_id", "timestamp"),
        Index("ix_ledger_transfers_credit", "credit_account_id", "timestamp"),
        Index("ix_ledger_transfers_pending_id", "pending_id"),
    )


class LedgerResolution(Base):
    """How a pending transfer ended: posted, voided, or expired."""

    __tablename__ = "ledger_resolutions"

    pending_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_transfers.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(8))
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("status IN ('posted', 'voided', 'expired')", name="status"),)
