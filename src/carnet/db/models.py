"""Imports every domain's tables so that Base.metadata is complete (for Alembic and tests)."""

from carnet.access import models as access_models
from carnet.audit import models as audit_models
from carnet.credentials import models as credential_models
from carnet.db.base import Base
from carnet.distribution import models as distribution_models
from carnet.ledger import models as ledger_models
from carnet.programs import models as program_models
from carnet.registry import models as registry_models

__all__ = [
    "Base",
    "access_models",
    "audit_models",
    "credential_models",
    "distribution_models",
    "ledger_models",
    "program_models",
    "registry_models",
]
