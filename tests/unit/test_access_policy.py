"""The role × permission table, written out by hand: never computed from the code it checks.

When a permission or a role is added, these tests fail until its row is written here, so a grant is a
decision someone made in review, not a side effect.
"""

from __future__ import annotations

import pytest

from carnet.access.policy import ROLE_PERMISSIONS, Permission, Role, has_permission, require_permission
from carnet.kit.actor import Actor
from carnet.kit.errors import Forbidden

ROLES = ("admin", "registrar", "program_officer", "agent", "auditor", "merchant", "citizen")

# permission -> the roles that hold it; every other role is refused. Least privilege: the admin manages
# accounts and reads nobody's record; only a citizen reads "self"; nobody but the auditor reads the log.
ALLOWED: dict[str, frozenset[str]] = {
    "persons:read": frozenset({"registrar"}),
    "persons:write": frozenset({"registrar"}),
    "households:read": frozenset({"registrar"}),
    "households:write": frozenset({"registrar"}),
    "imports:run": frozenset({"registrar"}),
    "imports:read": frozenset({"registrar", "admin", "auditor"}),
    "attributes:read": frozenset({"registrar", "admin", "auditor", "program_officer"}),
    "users:manage": frozenset({"admin"}),
    "self:read": frozenset({"citizen"}),
    "access_log:read": frozenset({"registrar"}),
    "audit:read": frozenset({"auditor"}),
    "persons:investigate": frozenset({"auditor"}),
    "cards:issue": frozenset({"registrar"}),
    "cards:verify": frozenset({"registrar", "agent"}),
    "programs:read": frozenset({"registrar", "program_officer", "auditor"}),
    "programs:manage": frozenset({"program_officer"}),
    "eligibility:explain": frozenset({"registrar", "program_officer"}),
    # Everyone lists and revokes their own tokens and sessions.
    "credentials:own": frozenset(ROLES),
    # Lifting a lock-out: the office that knows the person, or the admin for staff accounts.
    "accounts:unlock": frozenset({"admin", "registrar"}),
    # A citizen account at an office, with the person and their card present; never the admin.
    "citizen_accounts:create": frozenset({"registrar"}),
    # Distribution: the ministry's officers run points and devices; an agent sees the points they work at
    # and reports a lost tablet; the oversight body reads points, cases and the report.
    "distribution:manage": frozenset({"program_officer"}),
    "distribution:read": frozenset({"program_officer", "agent", "auditor"}),
    "devices:suspend": frozenset({"program_officer", "agent"}),
    "cases:read": frozenset({"program_officer", "auditor"}),
    "cases:resolve": frozenset({"program_officer"}),
    # The wallet ledger: the ministry's officers fund and disburse; the oversight body reads every account.
    "ledger:manage": frozenset({"program_officer"}),
    "ledger:read": frozenset({"program_officer", "auditor"}),
    # A shop takes payments with the beneficiary's card and PIN; it reads no account but its own.
    "payments:take": frozenset({"merchant"}),
}

CELLS = [(role, permission) for permission in ALLOWED for role in ROLES]


def test_every_permission_has_its_row() -> None:
    assert sorted(p.value for p in Permission) == sorted(ALLOWED)


def test_every_role_is_in_the_table() -> None:
    assert sorted(r.value for r in Role) == sorted(ROLES)
    assert set(ROLE_PERMISSIONS) == set(Role)
    for permission, roles in ALLOWED.items():
        assert roles <= set(ROLES), permission


@pytest.mark.parametrize(("role", "permission"), CELLS)
def test_each_cell(role: str, permission: str) -> None:
    expected = role in ALLOWED[permission]
    assert has_permission(role, Permission(permission)) is expected
    assert has_permission(Role(role), Permission(permission)) is expected


@pytest.mark.parametrize(("role", "permission"), CELLS)
def test_require_permission_agrees_with_the_table(role: str, permission: str) -> None:
    actor = Actor(user_id=None, role=role, request_id="req-1", office="office-1", purpose="none")
    if role in ALLOWED[permission]:
        require_permission(actor, Permission(permission))
    else:
        with pytest.raises(Forbidden) as refused:
            require_permission(actor, Permission(permission))
        assert refused.value.code == "permission_denied" and refused.value.status == 403
        assert role in refused.value.message and permission in refused.value.message


def test_the_number_of_grants_per_role() -> None:
    # A second, independent count: a grant slipped into any row changes one of these numbers.
    grants = {role: sum(role in roles for roles in ALLOWED.values()) for role in ROLES}
    assert grants == {
        "admin": 5,
        "registrar": 15,
        "program_officer": 12,
        "agent": 4,
        "auditor": 9,
        "merchant": 2,
        "citizen": 2,
    }
    assert {role: len(ROLE_PERMISSIONS[Role(role)]) for role in ROLES} == grants


@pytest.mark.parametrize(
    "role",
    ["", "root", "superuser", "Admin", "ADMIN", " admin", "admin ", "registrar\n", "auditors", "*", "none", "system"],
)
def test_unknown_role_strings_are_refused_everything(role: str) -> None:
    assert all(has_permission(role, permission) is False for permission in Permission)
    actor = Actor(user_id=None, role=role, request_id="req-1", office="office-1", purpose="none")
    with pytest.raises(Forbidden):
        require_permission(actor, Permission.SELF_READ)
