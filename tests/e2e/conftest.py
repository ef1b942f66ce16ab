"""End-to-end fixtures: the real engine, action server and gateway on free ports, with every
channel switched on and pointed at local fakes of the Telegram Bot API and Twilio's REST API."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from actions.handoff import CLOCK_ENV
from bot.runner import MODEL, Stack, StackConfig, free_port
from tests.conftest import prepared_database
from tests.fakes.telegram_api import FakeTelegramApi
from tests.fakes.twilio_api import FakeTwilioApi

TWILIO_NUMBER = "+15550100000"
TRANSFER_NUMBER = "+15550100999"
PINNED_NOW = "2025-01-15T17:30:00-06:00"


@dataclass
class RunningStack:
    """The stack and the fakes it talks to."""

    stack: Stack
    telegram: FakeTelegramApi
    twilio: FakeTwilioApi

    @property
    def config(self) -> StackConfig:
        return self.stack.config


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` (make test does)")
    state: Path = tmp_path_factory.mktemp("stack")
    url = f"sqlite:///{state / 'crm.db'}"
    prepared_database(url).dispose()
    gateway_port = free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    with FakeTelegramApi() as telegram, FakeTwilioApi() as twilio:
        env = {
            "PUBLIC_BASE_URL": gateway_url,
            "TWILIO_ACCOUNT_SID": twilio.account_sid,
            "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
            "TWILIO_NUMBER": TWILIO_NUMBER,
            "TWILIO_API_BASE_URL": twilio.base_url,
            "VOICE_TRANSFER_NUMBER": TRANSFER_NUMBER,
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_WEBHOOK_SECRET": secrets.token_urlsafe(16),
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "OUTBOX_POLL_SECONDS": "0.2",
            # Handoffs judge business hours at this moment, not the wall clock: a Wednesday
            # 17:30 in Riverton, when the 311 contact centre works (a person is put through)
            # and Vital Records has closed (a call-back is offered).
            CLOCK_ENV: PINNED_NOW,
        }
        config = StackConfig(
            database_url=url,
            state_dir=state,
            rasa_port=free_port(),
            actions_port=free_port(),
            gateway_port=gateway_port,
            extra_env=env,
        )
        with Stack(config) as running:
            yield RunningStack(running, telegram, twilio)


class Citizen:
    """A web chat user talking to the gateway exactly as a Rasa web widget would."""

    def __init__(self, gateway_url: str, sender: str) -> None:
        self.url = f"{gateway_url}/webhooks/rest/webhook"
        self.sender = sender

    def say(self, text: str) -> list[dict]:
        response = httpx.post(self.url, json={"sender": self.sender, "message": text}, timeout=30)
        assert response.status_code == 200, response.text
        replies = response.json()
        assert all(r["recipient_id"] == self.sender for r in replies)
        return replies

    def says(self, text: str) -> str:
        """All reply texts joined, for assertions on what the citizen reads."""
        return "\n".join(r.get("text", "") for r in self.say(text))
