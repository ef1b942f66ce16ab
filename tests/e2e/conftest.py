"""End-to-end fixtures: the real engine, action server and gateway on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.runner import MODEL, Stack, StackConfig, free_port


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` (make test does)")
    state: Path = tmp_path_factory.mktemp("stack")
    from tests.conftest import prepared_database

    url = f"sqlite:///{state / 'crm.db'}"
    prepared_database(url).dispose()
    config = StackConfig(
        database_url=url,
        state_dir=state,
        rasa_port=free_port(),
        actions_port=free_port(),
        gateway_port=free_port(),
    )
    with Stack(config) as running:
        yield running


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
