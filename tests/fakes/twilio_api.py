"""A fake Twilio REST API (Programmable Messaging) for tests: `FakeTwilioApi`.

Point the twilio SDK at it with ``client.api.base_url = fake.base_url`` (TWILIO_API_BASE_URL).
It answers ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with a Message resource (201)
and ``GET .../Messages/{Sid}.json``; errors use Twilio's shape
``{"code": 21211, "message": "...", "more_info": "...", "status": 400}``.
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes import FakeServer, read_form

__all__ = ["FakeTwilioApi"]

TEST_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

_ERRORS = {
    400: (21211, "The 'To' number is not a valid phone number."),
    401: (20003, "Authenticate"),
    404: (20404, "The requested resource was not found"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


def _error(status: int, code: int | None = None, message: str | None = None) -> JSONResponse:
    default_code, default_message = _ERRORS.get(status, (status * 100, f"Error {status}"))
    code = code or default_code
    body = {
        "code": code,
        "message": message or default_message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return JSONResponse(body, status_code=status)


class FakeTwilioApi(FakeServer):
    """A local Twilio REST API for one account.

    Requests must carry HTTP basic auth with `account_sid` as the user (and `auth_token` as the
    password when one is given). Recorded: `messages` – the form params of each accepted
    ``Messages.json`` POST (plus the ``Sid`` given to it); `requests` – ``(method, path)`` of every
    request. Control: `fail_next(n, status)`.
    """

    def __init__(self, account_sid: str = TEST_ACCOUNT_SID, auth_token: str | None = None):
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self._resources: dict[str, dict[str, Any]] = {}

    @property
    def base_url(self) -> str:
        """The value for TWILIO_API_BASE_URL (the SDK's ``client.api.base_url``)."""
        return self.url

    def sent_messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """The accepted messages' params, optionally to one number only."""
        with self._lock:
            return [dict(m) for m in self.messages if to is None or m.get("To") == to]

    def _build_app(self) -> Starlette:
        prefix = "/2010-04-01/Accounts/{sid}"
        return Starlette(
            routes=[
                Route(f"{prefix}/Messages.json", self._create_message, methods=["POST"]),
                Route(f"{prefix}/Messages/{{message_sid}}.json", self._fetch_message),
            ]
        )

    def _check(self, request: Request) -> JSONResponse | None:
        """Auth, account and injected failures: an error response, or None to go on."""
        with self._lock:
            self.requests.append((request.method, request.url.path))
        if not self._authorised(request.headers.get("authorization", "")):
            return _error(401)
        if request.path_params["sid"] != self.account_sid:
            return _error(404)
        status = self._take_failure()
        return _error(status) if status is not None else None

    def _authorised(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and (self.auth_token is None or password == self.auth_token)

    async def _create_message(self, request: Request) -> JSONResponse:
        params: dict[str, Any] = {
            key: values[0] if len(values) == 1 else values
            for key, values in (await read_form(request)).items()
        }
        problem = self._check(request)
        if problem is not None:
            return problem
        to, sender, body = params.get("To"), params.get("From"), params.get("Body")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not sender and not params.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body and not params.get("MediaUrl"):
            return _error(400, 21602, "Message body is required.")
        if not _E164.match(str(to)):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if len(str(body or "")) > 1600:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 limit.")
        sid = "SM" + secrets.token_hex(16)
        now = format_datetime(datetime.now(UTC), usegmt=True)
        resource = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body or "",
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": params.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": str(max(1, -(-len(str(body or "")) // 153))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        with self._lock:
            self.messages.append({**params, "Sid": sid})
            self._resources[sid] = resource
        return JSONResponse(resource, status_code=201)

    async def _fetch_message(self, request: Request) -> JSONResponse:
        problem = self._check(request)
        if problem is not None:
            return problem
        with self._lock:
            resource = self._resources.get(request.path_params["message_sid"])
        return JSONResponse(resource) if resource else _error(404)
