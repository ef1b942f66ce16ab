"""Signing in and out. The login form is CSRF-protected by double submit: a random pre-login
cookie whose value the form must echo. Every attempt, good or bad, is audited with its IP."""

from __future__ import annotations

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.console.web import (
    COOKIE_PATH,
    LOGIN_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    client_ip,
    forbidden,
    redirect,
    render,
    safe_next,
    secure_cookies,
    sessions_of,
)
from bot.db import transaction
from bot.services import audit, staff

BAD_LOGIN = "Wrong username or password, or the account is not active."
LOGIN_CSRF_REFUSED = (
    "The sign-in form was out of date (its security token did not match). Please try again."
)


def _login_page(request: Request, *, token: str, error: str | None = None) -> Response:
    response = render(
        request,
        "login.html",
        status_code=401 if error else 200,
        login_token=token,
        next=safe_next(request.query_params.get("next")),
        error=error,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, request.app.state.settings),
    )
    return response


async def login_form(request: Request) -> Response:
    """GET /staff/login: the form (an existing pre-login token is reused across tabs)."""
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    return _login_page(request, token=token)


async def login(request: Request) -> Response:
    """POST /staff/login: check the token, the password; start a session and set the cookie."""
    async with request.form() as data:
        form = {k: v for k, v in data.items() if isinstance(v, str)}
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    given = form.get("csrf_token") or ""
    if not expected or not given or not secrets.compare_digest(expected, given):
        return forbidden(request, None, "", LOGIN_CSRF_REFUSED)
    username = form.get("username", "").strip()[:64]
    password = form.get("password", "")
    ip = client_ip(request)
    settings = request.app.state.settings

    def work() -> staff.NewSession | None:
        with transaction(sessions_of(request)) as db:
            user = staff.authenticate(db, username, password) if username else None
            if user is None:
                audit.record(
                    db,
                    None,
                    "login_failed",
                    detail=f"username tried: {username!r}",
                    ip=ip,
                    actor_name=username or "anonymous",
                )
                return None
            new = staff.start_session(db, user, ip=ip, user_agent=request.headers.get("user-agent"))
            audit.record(db, user, "login", ip=ip)
            return new

    new = await run_in_threadpool(work)
    if new is None:
        return _login_page(request, token=secrets.token_urlsafe(32), error=BAD_LOGIN)
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        new.token,
        max_age=int(staff.SESSION_LIFETIME.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, settings),
    )
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


async def logout(request: Request) -> Response:
    """POST /staff/logout (CSRF-checked): end the session server-side, clear the cookie."""
    async with request.form() as data:
        given = data.get("csrf_token")
    token = request.cookies.get(SESSION_COOKIE)

    def work() -> Response | None:
        with transaction(sessions_of(request)) as db:
            found = staff.session_for_token(db, token)
            if found is None:
                return None
            if not staff.csrf_matches(found, given if isinstance(given, str) else None):
                return forbidden(
                    request,
                    found.user,
                    found.csrf_token,
                    "Sign-out needs a valid security token. Reload the page and try again.",
                )
            audit.record(db, found.user, "logout", ip=client_ip(request))
            staff.end_session(db, token)
            return None

    refused = await run_in_threadpool(work)
    if refused is not None:
        return refused
    response = redirect(request, f"{PREFIX}/login", notice="You are signed out.")
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response
