"""Publishing a run and what follows from it: the entitlements go into escrow at their points.

The wallet funding of cash programmes (issue 12) joins here, in the same transaction as the approval.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from carnet.distribution.service import assign_escrow
from carnet.kit.actor import Actor
from carnet.programs.models import EligibilityRun
from carnet.programs.service import approve_run


def publish_run(
    session: Session, *, actor: Actor, run_id: uuid.UUID, now: datetime, supersede: bool = False
) -> EligibilityRun:
    """Approve a proposed run and give its entitlements to their default points, in one transaction."""
    run = approve_run(session, actor=actor, run_id=run_id, now=now, supersede=supersede)
    assign_escrow(session, actor=actor, cycle=run.cycle, run_id=run.id, now=now)
    return run
