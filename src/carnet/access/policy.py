"""Roles, permissions and purposes: which role may do what, and for which declared purpose."""

from __future__ import annotations

from enum import StrEnum

from carnet.kit.actor import Actor
from carnet.kit.errors import Forbidden


class Role(StrEnum):
    """The roles of DESIGN.md §1; every user has exactly one."""

    ADMIN = "admin"
    REGISTRAR = "registrar"
    PROGRAM_OFFICER = "program_officer"
    AGENT = "agent"
    AUDITOR = "auditor"
    MERCHANT = "merchant"
    CITIZEN = "citizen"


class Permission(StrEnum):
    """What a route or command needs."""

    PERSONS_READ = "persons:read"
    PERSONS_WRITE = "persons:write"
    HOUSEHOLDS_READ = "households:read"
    HOUSEHOLDS_WRITE = "households:write"
    IMPORTS_RUN = "imports:run"
    IMPORTS_READ = "imports:read"
    ATTRIBUTES_READ = "attributes:read"
    USERS_MANAGE = "users:manage"
    SELF_READ = "self:read"
    ACCESS_LOG_READ = "access_log:read"
    AUDIT_READ = "audit:read"
    PERSONS_INVESTIGATE = "persons:investigate"
    CARDS_ISSUE = "cards:issue"
    CARDS_VERIFY = "cards:verify"
    PROGRAMS_READ = "programs:read"
    PROGRAMS_MANAGE = "programs:manage"
    ELIGIBILITY_EXPLAIN = "eligibility:explain"
    # Every account lists and revokes its own tokens and sessions.
    OWN_CREDENTIALS = "credentials:own"
    # Lift a lock-out after repeated failed sign-ins or PIN guesses.
    ACCOUNTS_UNLOCK = "accounts:unlock"
    # Make a citizen's account at an office, the person present with their card.
    CITIZEN_ACCOUNTS_CREATE = "citizen_accounts:create"
    # Open points, issue device enrolment codes, resume or retire devices, assign and move escrow.
    DISTRIBUTION_MANAGE = "distribution:manage"
    # See points and their devices (an agent only the points they work at).
    DISTRIBUTION_READ = "distribution:read"
    # Report a device lost: it stops pulling and syncing at once.
    DEVICES_SUSPEND = "devices:suspend"
    # Read redemption cases and the reconciliation report; close cases.
    CASES_READ = "cases:read"
    CASES_RESOLVE = "cases:resolve"
    # Fund programmes, disburse cash cycles, submit transfers; read accounts, statements and totals.
    LEDGER_MANAGE = "ledger:manage"
    LEDGER_READ = "ledger:read"
    # Take card payments at a shop (card + PIN), confirm, cancel and refund them.
    PAYMENTS_TAKE = "payments:take"


class Purpose(StrEnum):
    """Why personal data is read; recorded in every access record and shown to the person."""

    REGISTRATION = "registration"
    DATA_SUBJECT_ACCESS = "data_subject_access"
    DATA_SUBJECT_REQUEST = "data_subject_request"
    ACCOUNT_ADMINISTRATION = "account_administration"
    OVERSIGHT = "oversight"
    INVESTIGATION = "investigation"
    PROGRAM_ADMINISTRATION = "program_administration"
    ELIGIBILITY = "eligibility"
    APPEAL = "appeal"
    # A point's device records the hand-overs it made.
    DISTRIBUTION = "distribution"
    NONE = "none"


# Least privilege: the admin manages accounts but reads nobody's record.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {
            Permission.USERS_MANAGE,
            Permission.ATTRIBUTES_READ,
            Permission.IMPORTS_READ,
            Permission.OWN_CREDENTIALS,
            Permission.ACCOUNTS_UNLOCK,
        }
    ),
    Role.REGISTRAR: frozenset(
        {
            Permission.PERSONS_READ,
            Permission.PERSONS_WRITE,
            Permission.HOUSEHOLDS_READ,
            Permission.HOUSEHOLDS_WRITE,
            Permission.IMPORTS_RUN,
            Permission.IMPORTS_READ,
            Permission.ATTRIBUTES_READ,
            # Registration offices answer people's requests to see who accessed their data.
            Permission.ACCESS_LOG_READ,
            Permission.CARDS_ISSUE,
            Permission.CARDS_VERIFY,
            # Offices take appeals: they show a person why a programme decided as it did.
            Permission.PROGRAMS_READ,
            Permission.ELIGIBILITY_EXPLAIN,
            Permission.OWN_CREDENTIALS,
            # People locked out of their account come to the office, as they do for a lost card.
            Permission.ACCOUNTS_UNLOCK,
            Permission.CITIZEN_ACCOUNTS_CREATE,
        }
    ),
    Role.PROGRAM_OFFICER: frozenset(
        {
            Permission.ATTRIBUTES_READ,
            Permission.PROGRAMS_READ,
            Permission.PROGRAMS_MANAGE,
            Permission.ELIGIBILITY_EXPLAIN,
            Permission.OWN_CREDENTIALS,
            Permission.DISTRIBUTION_MANAGE,
            Permission.DISTRIBUTION_READ,
            Permission.DEVICES_SUSPEND,
            Permission.CASES_READ,
            Permission.CASES_RESOLVE,
            Permission.LEDGER_MANAGE,
            Permission.LEDGER_READ,
        }
    ),
    Role.AGENT: frozenset(
        {Permission.CARDS_VERIFY, Permission.OWN_CREDENTIALS, Permission.DISTRIBUTION_READ, Permission.DEVICES_SUSPEND}
    ),
    # The oversight body investigates under a court or inspection order; its reads are logged, sealable.
    Role.AUDITOR: frozenset(
        {
            Permission.ATTRIBUTES_READ,
            Permission.IMPORTS_READ,
            Permission.AUDIT_READ,
            Permission.PERSONS_INVESTIGATE,
            Permission.PROGRAMS_READ,
            Permission.OWN_CREDENTIALS,
            Permission.DISTRIBUTION_READ,
            Permission.CASES_READ,
            Permission.LEDGER_READ,
        }
    ),
    Role.MERCHANT: frozenset({Permission.OWN_CREDENTIALS, Permission.PAYMENTS_TAKE}),
    Role.CITIZEN: frozenset({Permission.SELF_READ, Permission.OWN_CREDENTIALS}),
}


def has_permission(role: str, permission: Permission) -> bool:
    """Whether `role` grants `permission`."""
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


def require_permission(actor: Actor, permission: Permission) -> None:
    """Raise 403 unless the actor's role grants `permission`."""
    if not has_permission(actor.role, permission):
        raise Forbidden(f"the role '{actor.role}' may not {permission.value}", code="permission_denied")
