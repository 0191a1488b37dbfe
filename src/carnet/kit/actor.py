"""Who is acting, in which role and office, and for what purpose: carried from the boundary down."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Actor:
    """The authenticated caller of one request or command, with the purpose it declared."""

    user_id: uuid.UUID | None
    role: str
    request_id: str
    purpose: str = "unspecified"
    office: str | None = None
    region_code: str | None = None
    person_id: uuid.UUID | None = None

    def for_purpose(self, purpose: str) -> Actor:
        """The same actor acting for another declared purpose."""
        return replace(self, purpose=purpose)


def system_actor(request_id: str, purpose: str) -> Actor:
    """The actor for work the system does itself (seeding, scheduled jobs)."""
    return Actor(user_id=None, role="system", request_id=request_id, purpose=purpose, office="system")
