"""Fixtures for the cards domain: people to issue to, and a collector for PIN mailers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from carnet.credentials.service import CardPolicy, PinLetter
from carnet.kit.actor import Actor
from carnet.registry import service as registry_service
from carnet.registry.schemas import PersonIn

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PASSPHRASE = "una frase de paso larga"
# Small lists fill up within a test, so that opening a new list is exercised too.
POLICY = CardPolicy(issuer="carnet-test", validity_days=365, list_capacity=1024, list_ttl_seconds=3600,
                    pin_memory_kib=64)  # fmt: skip


@pytest.fixture()
def people(session: Session, registrar: Actor) -> Callable[..., list]:
    """Register `count` persons in a region; returns their ids."""

    made = 0

    def make(count: int, region_code: str = "VE-A") -> list:
        nonlocal made
        ids = []
        for _ in range(count):
            made += 1
            born = (date(1950, 1, 1) + timedelta(days=made)).isoformat()
            data = PersonIn(given_names="Ana", family_names="Gil Paz", date_of_birth=born, region_code=region_code)
            ids.append(registry_service.create_person(session, actor=registrar, data=data, today=date(2026, 11, 29),
                                                      now=NOW)["id"])  # fmt: skip
        return ids

    return make


class Mailers:
    """The PIN mailers an issue run produced, as the print shop would receive them."""

    def __init__(self) -> None:
        self.letters: list[PinLetter] = []

    def __call__(self, letters: list[PinLetter]) -> None:
        self.letters.extend(letters)


@pytest.fixture()
def mailers() -> Mailers:
    return Mailers()
