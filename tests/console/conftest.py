"""The console through the real gateway app: a TestClient per test on its own SQLite database,
helpers to create staff, sign in and put a citizen in the queue."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

import pytest
from httpx import Response
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker, transaction
from bot.gateway import create_app
from bot.models import Channel, StaffRole
from bot.runner import free_port
from bot.services.citizens import resolve_identity
from bot.services.conversations import current_conversation, record_inbound
from bot.services.handoff import request_handoff
from bot.services.staff import create_user
from tests.conftest import BACKENDS, postgres_copy, prepared_database, sibling_postgres_url

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Console:
    client: TestClient
    sessions: sessionmaker[Session]

    def db(self) -> AbstractContextManager[Session]:
        return transaction(self.sessions)

    def staff(
        self, username: str, role: StaffRole = StaffRole.AGENT, department: str | None = None
    ) -> int:
        with self.db() as s:
            return create_user(
                s,
                username,
                PASSWORD,
                role=role,
                display_name=username.title() + " Smith",
                department_key=department,
            ).id

    def login(self, username: str, password: str = PASSWORD, *, next_: str = "") -> Response:
        page = self.client.get("/staff/login" + (f"?next={next_}" if next_ else ""))
        assert page.status_code == 200
        return self.client.post(
            "/staff/login",
            data={
                "username": username,
                "password": password,
                "csrf_token": csrf_of(page.text),
                "next": next_ or "/staff/queue",
            },
            follow_redirects=False,
        )

    def sign_in_as(self, username: str, role: StaffRole = StaffRole.AGENT) -> int:
        user_id = self.staff(username, role)
        assert self.login(username).status_code == 303
        return user_id

    def token(self, path: str = "/staff/queue") -> str:
        """The signed-in session's CSRF token, as a page's forms carry it."""
        return csrf_of(self.client.get(path).text)

    def post(
        self, path: str, data: dict[str, str] | None = None, *, token: str | None = None
    ) -> Response:
        body = {"csrf_token": token if token is not None else self.token(), **(data or {})}
        return self.client.post(path, data=body, follow_redirects=False)

    def waiting(
        self,
        *,
        channel: Channel = Channel.SMS,
        external_id: str = "+15550100001",
        name: str | None = "Rita Resident",
        text: str = "I need to talk to a person",
    ) -> int:
        """A citizen whose conversation waits in the general queue; returns the conversation id."""
        with self.db() as s:
            identity = resolve_identity(s, channel, external_id, name=name)
            conversation = current_conversation(s, identity.citizen_id, channel)
            record_inbound(s, conversation, text)
            request_handoff(s, conversation, reason="citizen_request")
            return conversation.id


def settings_for(database_url: str, **overrides: str) -> Settings:
    """Settings for a console test: no engine, no channels, plain http unless overridden."""
    values = {
        "database_url": database_url,
        "rasa_url": f"http://127.0.0.1:{free_port()}",
        "action_server_url": f"http://127.0.0.1:{free_port()}",
        "public_base_url": "",
        "telegram_bot_token": "",
        "twilio_account_sid": "",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def _postgres_template() -> str:
    """A migrated PostgreSQL database with the catalogue, copied for each console test."""
    url = sibling_postgres_url("console_template")
    prepared_database(url).dispose()
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """The embedded SQLite default, and PostgreSQL when TEST_DATABASE_URL is set (a fresh
    copy per test: the console commits, so no database is shared)."""
    if request.param == "sqlite":
        return sqlite_url
    return postgres_copy(request.getfixturevalue("_postgres_template"), "console")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def console(database_url: str, engine: Engine) -> Iterator[Console]:
    app = create_app(settings_for(database_url), with_channels=False, with_outbox=False)
    with TestClient(app) as client:
        yield Console(client, make_sessionmaker(engine))
