"""Action tests: real rasa-sdk trackers and dispatchers against a real (SQLite) CRM database."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import actions._crm
from actions.handoff import CLOCK_ENV
from bot.config import get_settings
from tests.actions.helpers import CRM, OPEN


@pytest.fixture
def crm_url(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the action server's settings at a fresh database for this test."""
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    actions._crm._factory.cache_clear()
    yield sqlite_url
    get_settings.cache_clear()
    actions._crm._factory.cache_clear()


@pytest.fixture
def crm(crm_url: str) -> Iterator[CRM]:
    db = CRM(crm_url)
    yield db
    db.engine.dispose()


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """The moment the handoff actions judge business hours at: `OPEN` unless a test pins
    another with `clock(CLOSED)`, so no action test depends on the wall clock."""

    def pin(moment: str) -> None:
        monkeypatch.setenv(CLOCK_ENV, moment)

    pin(OPEN)
    return pin
