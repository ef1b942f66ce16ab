"""The console's plumbing: sign-in check, role check and CSRF check around every endpoint,
one database transaction per request, templates, flash messages and security headers.

Endpoints are plain functions `handler(ctx) -> Response` wrapped by `endpoint(...)`; they run
in a worker thread (the database work is synchronous) inside one transaction. A refusal from
a service (TakeoverError, CaseError, StaffError) rolls the transaction back and sends the
member of staff back to the page they came from with the message in an error banner.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import references
from bot.config import Settings
from bot.db import transaction
from bot.models import Channel, StaffSession, StaffUser
from bot.services import audit, staff
from bot.services.cases import CaseError
from bot.services.staff import StaffError
from bot.services.takeover import TakeoverError

SESSION_COOKIE = "civicline_staff"
LOGIN_COOKIE = "civicline_login"  # pre-login CSRF token (double submit)
FLASH_COOKIE = "civicline_flash"
COOKIE_PATH = "/staff"
PREFIX = "/staff"

#: Refusals whose message is safe to show to the member of staff.
UserError = (TakeoverError, CaseError, StaffError)

CSRF_REFUSED = (
    "This form could not be accepted: its security token is missing or out of date. "
    "Nothing was changed. Reload the page and try again."
)

CHANNEL_LABELS = {
    Channel.WEB: "web chat",
    Channel.TELEGRAM: "Telegram",
    Channel.SMS: "SMS",
    Channel.VOICE: "phone (transferred)",
}
PRIORITY_LABELS = {0: "normal", 1: "high", 2: "urgent"}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def channel_label(channel: Channel | str) -> str:
    """How a channel is named in the console."""
    return CHANNEL_LABELS.get(Channel(channel), str(channel))


def duration(value: timedelta | float | None) -> str:
    """'45 s', '7 min', '2 h 05 min' for a wait or handle time."""
    if value is None:
        return "–"
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    seconds = max(seconds, 0)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


_env.filters["duration"] = duration
_env.filters["channel"] = channel_label
_env.filters["ref"] = references.display
_env.globals["can"] = staff.can
_env.globals["PRIORITY_LABELS"] = PRIORITY_LABELS


def secure_cookies(request: Request, settings: Settings) -> bool:
    """Cookies are Secure when the console is reached (or published) over HTTPS."""
    return request.url.scheme == "https" or settings.public_base_url.startswith("https")


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def safe_next(value: str | None) -> str:
    """Only a path inside the console may be a post-login destination (no open redirect)."""
    if (
        value
        and value.startswith(PREFIX + "/")
        and not any(bad in value for bad in ("//", "\\", "\r", "\n"))
    ):
        return value
    return PREFIX + "/queue"


def _encode_flash(kind: str, text: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([kind, text]).encode()).decode()


def read_flash(request: Request) -> tuple[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        kind, text = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, TypeError):
        return None
    if kind not in ("error", "notice") or not isinstance(text, str):
        return None
    return kind, text[:500]


def redirect(
    request: Request, url: str, *, error: str | None = None, notice: str | None = None
) -> RedirectResponse:
    """303 to `url`, carrying a one-time banner in a short-lived cookie."""
    response = RedirectResponse(url, status_code=303)
    if error or notice:
        response.set_cookie(
            FLASH_COOKIE,
            _encode_flash("error" if error else "notice", error or notice or ""),
            max_age=60,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    user: StaffUser | None = None,
    csrf_token: str = "",
    **context: Any,
) -> HTMLResponse:
    """Render a page; a waiting flash banner is shown once and then cleared."""
    flash = read_flash(request)
    html = _env.get_template(template).render(
        request=request, user=user, csrf_token=csrf_token, flash=flash, **context
    )
    response = HTMLResponse(html, status_code=status_code)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path=COOKIE_PATH)
    return response


@dataclass
class Ctx:
    """One signed-in request: the database session, who is asking, and the posted form."""

    request: Request
    db: Session
    user: StaffUser
    staff_session: StaffSession
    settings: Settings
    form: Mapping[str, str] = field(default_factory=dict)

    @property
    def ip(self) -> str | None:
        return client_ip(self.request)

    @property
    def actor(self) -> str:
        """How the member of staff is named in case history."""
        return f"staff:{self.user.username}"

    def param(self, name: str) -> str:
        return str(self.request.path_params.get(name, ""))

    def render(self, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
        return render(
            self.request,
            template,
            status_code=status_code,
            user=self.user,
            csrf_token=self.staff_session.csrf_token,
            local=self.local,
            **context,
        )

    def local(self, value: datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
        """A UTC timestamp in the city's time zone."""
        return value.astimezone(self.settings.tz).strftime(fmt) if value else "–"

    def audit(self, action: str, target: str | None = None, detail: str = "") -> None:
        audit.record(self.db, self.user, action, target=target, detail=detail, ip=self.ip)

    def redirect(
        self, url: str, *, error: str | None = None, notice: str | None = None
    ) -> RedirectResponse:
        return redirect(self.request, url, error=error, notice=notice)


Handler = Callable[[Ctx], Response]


def sessions_of(request: Request) -> sessionmaker[Session]:
    state = request.app.state
    return getattr(state, "sessions", None) or state.pipeline.sessions


def forbidden(request: Request, user: StaffUser | None, csrf: str, message: str) -> Response:
    return render(
        request,
        "error.html",
        status_code=403,
        user=user,
        csrf_token=csrf,
        heading="Not allowed",
        message=message,
    )


def endpoint(
    handler: Handler, *, permission: str = "work_queue", api: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: signed in (else 303 to login, or 401 for an API), allowed (else 403),
    a valid CSRF token on every POST (else 403, nothing changed), one transaction."""

    async def run(request: Request) -> Response:
        form: dict[str, str] = {}
        if request.method == "POST":
            async with request.form() as data:
                form = {k: v for k, v in data.items() if isinstance(v, str)}

        def work() -> Response:
            with transaction(sessions_of(request)) as db:
                found = staff.session_for_token(db, request.cookies.get(SESSION_COOKIE))
                if found is None:
                    if api:
                        return JSONResponse({"error": "sign in first"}, status_code=401)
                    target = request.url.path + (
                        f"?{request.url.query}" if request.url.query else ""
                    )
                    if request.method != "GET":
                        target = PREFIX + "/queue"
                    return RedirectResponse(
                        f"{PREFIX}/login?next={quote(target, safe='/')}", status_code=303
                    )
                user = found.user
                if request.method == "POST":
                    given = form.get("csrf_token") or request.headers.get("x-csrf-token")
                    if not staff.csrf_matches(found, given):
                        return forbidden(request, user, found.csrf_token, CSRF_REFUSED)
                if not staff.can(user, permission):
                    if api:
                        return JSONResponse({"error": "not allowed"}, status_code=403)
                    return forbidden(
                        request, user, found.csrf_token, "Your role does not give access to this."
                    )
                ctx = Ctx(request, db, user, found, request.app.state.settings, form)
                return handler(ctx)

        try:
            return await run_in_threadpool(work)
        except UserError as exc:  # rolled back: show why, on the page the action came from
            return redirect(request, request.url.path.rsplit("/", 1)[0], error=str(exc))

    run.__name__ = handler.__name__
    return run


class SecurityHeaders:
    """Plain ASGI middleware: CSP, no framing, no referrer leaks, no caching of pages."""

    HEADERS = {
        "content-security-policy": (
            "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
        ),
        "x-frame-options": "DENY",
        "referrer-policy": "same-origin",
        "x-content-type-options": "nosniff",
    }

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = "/static/" in scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.HEADERS.items():
                    headers.setdefault(name, value)
                if not is_static:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
