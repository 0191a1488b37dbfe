"""The access record table: append-only, ordered by its sequence number for the Merkle log."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from carnet.db.base import Base, BigIntPK, JSONDoc, UTCDateTime


class AccessRecord(Base):
    """One access to personal data: a person's record, or a whole cohort in one bulk operation.

    Rows are never updated or deleted; `seq` is the leaf order of the audit Merkle tree.
    """

    __tablename__ = "access_records"

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    request_id: Mapped[str] = mapped_column(String(64))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_role: Mapped[str] = mapped_column(String(24))
    actor_office: Mapped[str | None] = mapped_column(String(120))
    purpose: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(16))
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    fields: Mapped[list] = mapped_column(JSONDoc)
    # For a bulk operation: what the cohort is (e.g. "import:<id>"), its size and a SHA-256 over
    # its sorted member ids, so that one entry commits to millions of subjects.
    cohort_ref: Mapped[str | None] = mapped_column(String(80), index=True)
    cohort_size: Mapped[int | None] = mapped_column(Integer)
    cohort_digest: Mapped[str | None] = mapped_column(String(64))
    # The audit log names the subject by SHA-256(tag || salt || id): unlinkable across entries, and
    # the person (who is shown the salt) can check that an entry is about them.
    subject_salt: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    # A lawful investigation may seal the details until a date: the log holds only a digest of them
    # (salted with seal_salt, revealed with the details on that date).
    sealed_until: Mapped[date | None] = mapped_column(Date)
    seal_salt: Mapped[bytes | None] = mapped_column(LargeBinary(16))

    __table_args__ = (
        Index("ix_access_records_subject", "subject_id", "seq"),
        CheckConstraint("action IN ('read', 'create', 'update', 'import')", name="action"),
        CheckConstraint("subject_type IN ('person', 'household', 'cohort')", name="subject_type"),
    )


class AuditLogState(Base):
    """The size of the audit log (one row): appends reserve leaf numbers by updating it, one at a time."""

    __tablename__ = "audit_log_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    # The hashes of the tree's rightmost perfect subtrees (one per set bit of size, largest first):
    # all an append needs, read and written with the size in the same row.
    frontier: Mapped[bytes] = mapped_column(LargeBinary, default=b"")


class AuditEntry(Base):
    """One leaf of the audit Merkle tree: the canonical bytes of an entry and their leaf hash."""

    __tablename__ = "audit_entries"

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_type: Mapped[str] = mapped_column(String(24))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    access_seq: Mapped[int | None] = mapped_column(ForeignKey("access_records.seq"), index=True)
    appended_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditNode(Base):
    """The hash of one perfect subtree: (level, position) covers leaves [position·2^level, (position+1)·2^level)."""

    __tablename__ = "audit_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditKey(Base):
    """A key that signs tree heads: the log's own (private part stored encrypted) or a witness's (public only)."""

    __tablename__ = "audit_keys"

    kid: Mapped[str] = mapped_column(String(16), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    holder: Mapped[str] = mapped_column(String(120))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_pem: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("role IN ('log', 'witness')", name="role"),)


class TreeHead(Base):
    """A signed statement of the log's size and root at a moment."""

    __tablename__ = "tree_heads"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kid: Mapped[str] = mapped_column(ForeignKey("audit_keys.kid"))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))


class HeadWitness(Base):
    """An oversight body's countersignature of a tree head it checked."""

    __tablename__ = "head_witnesses"

    head_id: Mapped[int] = mapped_column(ForeignKey("tree_heads.id"), primary_key=True)
    kid: Mapped[str] = mapped_column(ForeignKey("audit_keys.kid"), primary_key=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    witnessed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StoreKeyVerifier(Base):
    """Proof of the one passphrase a store's private keys are encrypted under (one row, id 1).

    `scrypt-aesgcm`: an AES-GCM ciphertext of a known value under a key derived with scrypt from the
    passphrase and `salt`; `legacy-pem`: a store that had keys before verifiers existed holds one of
    its encrypted keys here, and the first passphrase that opens it replaces it with a real verifier.
    """

    __tablename__ = "store_key_verifier"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[str] = mapped_column(String(64))
    salt: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    nonce: Mapped[bytes | None] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("kind IN ('scrypt-aesgcm', 'legacy-pem')", name="kind"),)
