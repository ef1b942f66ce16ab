"""The gateway's REST webhook: Rasa-compatible payloads, bad input, and an engine that is down
or too slow (the citizen gets an apology and the message is kept)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.config import Settings
from bot.db import make_engine, make_sessionmaker
from bot.gateway import create_app
from bot.gateway.pipeline import APOLOGY
from bot.models import AuthorKind, Direction, Message
from bot.runner import free_port


class _SlowEngine(BaseHTTPRequestHandler):
    """Answers like Rasa's REST channel, but only after 2 seconds."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(2)
        body = b'[{"recipient_id": "x", "text": "too late"}]'
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the gateway gave up waiting and closed the connection

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_engine_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowEngine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def client_for(database_url: str, rasa_url: str) -> TestClient:
    settings = Settings(
        database_url=database_url,
        rasa_url=rasa_url,
        action_server_url=f"http://127.0.0.1:{free_port()}",
        engine_timeout_seconds=0.5,
    )
    return TestClient(create_app(settings))


def transcript(database_url: str) -> list[tuple[Direction, AuthorKind, str, str | None]]:
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as s:
        rows = [
            (m.direction, m.author_kind, m.text, m.engine_error)
            for m in s.scalars(select(Message).order_by(Message.id))
        ]
    engine.dispose()
    return rows


@pytest.mark.parametrize("engine", ["down", "slow"])
def test_engine_trouble_gets_an_apology_and_keeps_the_message(sqlite_url, slow_engine_url, engine):
    rasa_url = slow_engine_url if engine == "slow" else f"http://127.0.0.1:{free_port()}"
    with client_for(sqlite_url, rasa_url) as client:
        response = client.post(
            "/webhooks/rest/webhook", json={"sender": "web-1", "message": "my bin was not emptied"}
        )
    assert response.status_code == 200
    [item] = response.json()
    assert item == {"recipient_id": "web-1", "text": APOLOGY.text, "id": item["id"]}
    assert isinstance(item["id"], int)  # the stored line's id (Rasa widgets ignore it)
    (inbound, reply) = transcript(sqlite_url)
    assert inbound[:3] == (Direction.INBOUND, AuthorKind.CITIZEN, "my bin was not emptied")
    assert inbound[3]  # the engine error is recorded on the message
    assert reply[:3] == (Direction.OUTBOUND, AuthorKind.SYSTEM, APOLOGY.text)


@pytest.mark.parametrize(
    "body, status",
    [
        (b"not json", 400),
        (b'["a list"]', 400),
        (b'{"sender": "", "message": "hi"}', 400),
        (b'{"sender": "a", "message": ""}', 400),
        (b'{"sender": "a", "message": 42}', 400),
        (b'{"sender": "a", "message": "' + b"x" * 4001 + b'"}', 413),
    ],
)
def test_bad_requests_get_a_clear_error_and_store_nothing(sqlite_url, body, status):
    with client_for(sqlite_url, f"http://127.0.0.1:{free_port()}") as client:
        response = client.post(
            "/webhooks/rest/webhook", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == status
    assert response.json()["error"]
    assert transcript(sqlite_url) == []


def test_health_reports_what_is_unreachable(sqlite_url):
    with client_for(sqlite_url, f"http://127.0.0.1:{free_port()}") as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"engine": False, "action_server": False, "database": True}


def test_web_chat_page_is_served(sqlite_url):
    with client_for(sqlite_url, f"http://127.0.0.1:{free_port()}") as client:
        page = client.get("/")
        script = client.get("/static/chat.js")
    assert page.status_code == 200 and "<form" in page.text
    assert script.status_code == 200 and "/webhooks/rest/webhook" in script.text


def test_responses_say_how_long_the_gateway_itself_took(sqlite_url):
    with client_for(sqlite_url, f"http://127.0.0.1:{free_port()}") as client:
        response = client.post("/webhooks/rest/webhook", json={"sender": "t", "message": "hi"})
    timing = dict(
        part.strip().split(";dur=") for part in response.headers["Server-Timing"].split(",")
    )
    assert set(timing) == {"engine", "gateway"} and float(timing["gateway"]) >= 0
