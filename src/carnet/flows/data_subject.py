"""A person's access log with every bulk operation that included them: the one place that knows them all.

The registry keeps the access log but imports neither `credentials` nor `programs` (they sit above it), and
each of those knows only its own runs. So the runs that included a person — the import that created the
record, the card issue runs, the eligibility runs over their region, the syncs of their hand-overs — are
gathered here, above every
domain, and every boundary that shows an access log (the office's, the citizen's own, the CLI's) asks this
module rather than assembling the list itself.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from carnet.credentials.service import card_cohorts
from carnet.distribution.service import redemption_cohorts
from carnet.kit.actor import Actor
from carnet.programs.service import program_cohorts
from carnet.registry import service as registry


def access_log_sources(session: Session, person_id: uuid.UUID) -> list[str]:
    """The cohort references of every bulk operation that included a person: import, card issues, eligibility
    runs, and the syncs that brought in their hand-overs at distribution points."""
    return [
        *registry.import_cohorts(session, person_id),
        *card_cohorts(session, person_id),
        *program_cohorts(session, person_id),
        *redemption_cohorts(session, person_id),
    ]


def access_log(session: Session, *, actor: Actor, person_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """A person's access log, bulk operations included, for a data subject request (the read is recorded)."""
    return registry.access_log(
        session, actor=actor, person_id=person_id, now=now, cohorts=access_log_sources(session, person_id)
    )


def own_access_log(session: Session, *, actor: Actor, now: datetime) -> dict[str, Any]:
    """The citizen's own access log, bulk operations included (the read is recorded)."""
    own = actor.person_id
    cohorts = access_log_sources(session, own) if own is not None else []
    return registry.own_access_log(session, actor=actor, now=now, cohorts=cohorts)
