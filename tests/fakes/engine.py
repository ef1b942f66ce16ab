"""A stand-in for Rasa's REST channel, for connector tests that need a quick engine (the
end-to-end tests use the real one)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Script = Callable[[str], list[dict[str, Any]]]


class FakeEngine:
    """Stands in for Rasa's REST channel: records (sender, text) it reads, answers from `script`."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        self.script: Script = lambda text: [{"text": f"you said: {text}"}]
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                engine.received.append((body["sender"], body["message"]))
                answer = json.dumps(engine.script(body["message"])).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def texts(self) -> list[str]:
        return [text for _, text in self.received]

    def __enter__(self) -> FakeEngine:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
