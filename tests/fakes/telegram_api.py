"""A fake Telegram Bot API for tests: `FakeTelegramApi`.

python-telegram-bot posts to ``{base_url}{token}/{method}`` with form data (``multipart`` when
uploading files) whose values are JSON-encoded except plain strings; other clients may send JSON.
Both are parsed. Answers follow https://core.telegram.org/bots/api#making-requests:
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": "..."}``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes import FakeServer, read_form

__all__ = ["FakeTelegramApi"]

MAX_MESSAGE_LENGTH = 4096

# Parameters python-telegram-bot JSON-encodes (everything not a plain string); others stay text.
_JSON_PARAMS = frozenset(
    {
        "allowed_updates",
        "cache_time",
        "chat_id",
        "disable_notification",
        "drop_pending_updates",
        "entities",
        "from_chat_id",
        "limit",
        "link_preview_options",
        "max_connections",
        "message_id",
        "message_thread_id",
        "offset",
        "protect_content",
        "reply_markup",
        "reply_parameters",
        "show_alert",
        "timeout",
    }
)

_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    429: "Too Many Requests: retry after 1",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _error(status: int, description: str | None = None) -> JSONResponse:
    body = {
        "ok": False,
        "error_code": status,
        "description": description or _DESCRIPTIONS.get(status, f"Error {status}"),
    }
    return JSONResponse(body, status_code=status)


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


class FakeTelegramApi(FakeServer):
    """A local Bot API for one bot. Point PTB at it: ``Bot(fake.token, base_url=fake.base_url)``.

    Recorded (read them from the test): `calls` – every method call received, failed ones too,
    as ``(method, params)``; `sent_messages()` – the params of successful ``sendMessage`` calls.
    Control: `fail_next(n, status)`, `block_chat(chat_id)` (answers 403 like a blocked bot),
    `queue_update(update)` for ``getUpdates`` long polling.
    """

    def __init__(self, token: str = "123456:TEST-token", *, username: str = "civicline_test_bot"):
        super().__init__()
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.username = username
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.webhook: dict[str, Any] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._next_message_id = 1
        self._sent: list[dict[str, Any]] = []
        self._blocked: set[int] = set()

    @property
    def base_url(self) -> str:
        """The Bot API base URL without the token (TELEGRAM_API_BASE_URL, PTB's `base_url`)."""
        return f"{self.url}/bot"

    # -- test helpers ----------------------------------------------------------------------

    def sent_messages(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """Params of the successful ``sendMessage`` calls, optionally to one chat only."""
        with self._lock:
            return [
                dict(m)
                for m in self._sent
                if chat_id is None or str(m.get("chat_id")) == str(chat_id)
            ]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """Params of every call of `method` received (including failed ones)."""
        with self._lock:
            return [dict(params) for name, params in self.calls if name == method]

    def block_chat(self, chat_id: int | str) -> None:
        """From now on, ``sendMessage`` to this chat answers 403 "bot was blocked by the user"."""
        with self._lock:
            self._blocked.add(int(chat_id))

    def queue_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an Update for ``getUpdates``; an ``update_id`` is assigned when missing."""
        with self._lock:
            update = dict(update)
            update.setdefault("update_id", self._next_update_id)
            self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
            self._updates.append(update)
            return update

    def bot_user(self) -> dict[str, Any]:
        """The bot as a Bot API ``User`` (what ``getMe`` answers)."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Civicline Test",
            "username": self.username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    # -- the API ---------------------------------------------------------------------------

    def _build_app(self) -> Starlette:
        return Starlette(
            routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])]
        )

    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        try:
            params = await _read_params(request)
        except ClientDisconnect:  # the client gave up (e.g. a long poll cancelled at shutdown)
            return _error(499, "client disconnected")
        with self._lock:
            self.calls.append((method, params))
        if request.path_params["token"] != self.token:
            return _error(401)
        status = self._take_failure()
        if status is not None:
            return _error(status)
        handler = _HANDLERS.get(method.lower())
        if handler is None:
            return _error(404)
        return await handler(self, params)

    async def _get_me(self, params: dict[str, Any]) -> JSONResponse:
        return _ok(self.bot_user())

    async def _send_message(self, params: dict[str, Any]) -> JSONResponse:
        chat_id, text = params.get("chat_id"), params.get("text")
        if chat_id in (None, ""):
            return _error(400, "Bad Request: chat_id is empty")
        if not text:
            return _error(400, "Bad Request: message text is empty")
        if len(str(text)) > MAX_MESSAGE_LENGTH:
            return _error(400, "Bad Request: message is too long")
        try:
            numeric_chat = int(chat_id)
        except (TypeError, ValueError):
            return _error(400, "Bad Request: chat not found")
        with self._lock:
            if numeric_chat in self._blocked:
                return _error(403)
            message_id = self._next_message_id
            self._next_message_id += 1
            self._sent.append({**params, "message_id": message_id})
        chat: dict[str, Any] = {
            "id": numeric_chat,
            "type": "private" if numeric_chat > 0 else "group",
        }
        if numeric_chat > 0:
            chat["first_name"] = "Citizen"
        else:
            chat["title"] = "Group"
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": {k: v for k, v in self.bot_user().items() if not k.startswith(("can_", "sup"))},
            "text": text,
        }
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            # Telegram echoes only inline keyboards back in the sent message.
            message["reply_markup"] = markup
        return _ok(message)

    async def _true(self, params: dict[str, Any]) -> JSONResponse:
        return _ok(True)

    async def _set_webhook(self, params: dict[str, Any]) -> JSONResponse:
        with self._lock:
            self.webhook = dict(params)
        return _ok(True)

    async def _delete_webhook(self, params: dict[str, Any]) -> JSONResponse:
        with self._lock:
            self.webhook = {}
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return _ok(True)

    async def _get_webhook_info(self, params: dict[str, Any]) -> JSONResponse:
        with self._lock:
            url = str(self.webhook.get("url", ""))
            pending = len(self._updates)
        return _ok({"url": url, "has_custom_certificate": False, "pending_update_count": pending})

    async def _get_updates(self, params: dict[str, Any]) -> JSONResponse:
        offset = int(params.get("offset") or 0)
        limit = min(int(params.get("limit") or 100), 100)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while True:
            with self._lock:
                if offset:  # confirms (drops) every update before `offset`, as Telegram does
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                updates = [dict(u) for u in self._updates[:limit]]
            if updates or time.monotonic() >= deadline or self._stopping.is_set():
                return _ok(updates)
            await asyncio.sleep(0.05)


_HANDLERS = {
    "getme": FakeTelegramApi._get_me,
    "sendmessage": FakeTelegramApi._send_message,
    "answercallbackquery": FakeTelegramApi._true,
    "editmessagereplymarkup": FakeTelegramApi._true,
    "sendchataction": FakeTelegramApi._true,
    "setwebhook": FakeTelegramApi._set_webhook,
    "deletewebhook": FakeTelegramApi._delete_webhook,
    "getwebhookinfo": FakeTelegramApi._get_webhook_info,
    "getupdates": FakeTelegramApi._get_updates,
}


async def _read_params(request: Request) -> dict[str, Any]:
    """The call's parameters from the query string and a JSON, form or multipart body."""
    params: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        if body:
            params.update(json.loads(body))
        return params
    for key, values in (await read_form(request)).items():
        params[key] = values[-1]
    return {key: _decode(key, value) for key, value in params.items()}


def _decode(key: str, value: Any) -> Any:
    """Undo python-telegram-bot's JSON encoding of non-string parameters."""
    if key in _JSON_PARAMS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
