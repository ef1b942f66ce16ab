"""Action tests: real rasa-sdk trackers and dispatchers against a real (SQLite) CRM database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import actions._crm
from bot.config import get_settings
from tests.actions.helpers import CRM


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
