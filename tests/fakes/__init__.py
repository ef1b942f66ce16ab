"""Local stand-ins for the providers' HTTP APIs (Telegram Bot API, Twilio REST API).

Each fake is a small real HTTP server on 127.0.0.1 (a free port), run by uvicorn in a background
thread, so tests drive the REAL SDKs (python-telegram-bot, twilio) against it and nothing reaches
the network. Use a fake as a context manager, or call `.start()` / `.stop()`:

    with FakeTelegramApi() as fake:
        bot = telegram.Bot(fake.token, base_url=fake.base_url)

The fakes live in `tests.fakes.telegram_api` and `tests.fakes.twilio_api`; this module holds the
shared server plumbing (`FakeServer`).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from types import TracebackType
from typing import Self, TypeVar
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request

T = TypeVar("T")

__all__ = ["FakeServer", "read_form"]


class FakeServer:
    """A Starlette app served by uvicorn in a daemon thread on 127.0.0.1, on a free port.

    Subclasses build the app (`_build_app`) and keep their recorded state behind `self._lock`
    (handlers run in the server thread, assertions in the test's).
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._stopping = threading.Event()
        self._failures: list[int] = []  # HTTP statuses of the next calls that must fail
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        raise NotImplementedError

    @property
    def url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Start serving; returns when the server accepts connections."""
        if self._thread is not None:
            return self
        self._stopping.clear()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            self._build_app(),
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            http="h11",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._server is None or self._thread is None:
            return
        self._stopping.set()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- test helpers ----------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """Answer the next `n` API calls with an error of HTTP `status` (simulates an outage)."""
        with self._lock:
            self._failures.extend([status] * n)

    def _take_failure(self) -> int | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10) -> T:
        """Poll `predicate()` until it returns something truthy (returned); fail after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{type(self).__name__}: condition not met in {timeout}s")
            time.sleep(0.02)


async def read_form(request: Request) -> dict[str, list[str]]:
    """A url-encoded or multipart form body as name → values (files become "<file>").

    Parsed with the standard library, so the fakes need no ``python-multipart``.
    """
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    form: dict[str, list[str]] = {}
    if content_type.startswith("application/x-www-form-urlencoded"):
        for key, value in parse_qsl(body.decode(), keep_blank_values=True):
            form.setdefault(key, []).append(value)
    elif content_type.startswith("multipart/form-data"):
        header = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(header + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            if part.get_filename():
                value = "<file>"
            else:
                payload = part.get_payload(decode=True) or b""
                value = payload.decode(part.get_content_charset() or "utf-8")
            form.setdefault(str(name), []).append(value)
    return form
