"""The staff console, mounted by the gateway under /staff (`console_mount`).

Pages need a signed-in member of staff (else 303 to /staff/login), APIs under /staff/api/
answer 401; every POST carries the session's CSRF token. Roles: agents work the queue,
conversations and cases; supervisors also see the dashboard and the audit log; admins also
manage staff accounts.
"""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.console import actions, api, auth, pages
from bot.console.web import PREFIX, SecurityHeaders, endpoint

STATIC = Path(__file__).parent / "static"


async def _home(_: Request) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/queue", status_code=303)


def console_routes() -> list[BaseRoute]:
    """Every console route, relative to /staff."""
    act = actions.conversation_action
    post = ["POST"]
    conversation_posts = {
        "claim": act("claim"),
        "take_over": act("take_over"),
        "resolve": act("resolve"),
        "hand_back": act("hand_back"),
        "reply": actions.reply,
        "note": actions.note,
        "transfer": actions.transfer,
        "priority": actions.priority,
        "case": actions.create_case,
    }
    routes: list[BaseRoute] = [
        Route("/", _home),
        Route("/login", auth.login_form, methods=["GET"]),
        Route("/login", auth.login, methods=post),
        Route("/logout", auth.logout, methods=post),
        Route("/queue", endpoint(pages.queue_page)),
        Route("/conversations/{id:int}", endpoint(pages.conversation_page)),
        *(
            Route(f"/conversations/{{id:int}}/{name}", endpoint(handler), methods=post)
            for name, handler in conversation_posts.items()
        ),
        Route("/cases", endpoint(pages.cases_page)),
        Route("/cases/{id:int}", endpoint(pages.case_page)),
        Route("/cases/{id:int}/status", endpoint(actions.case_status), methods=post),
        Route("/cases/{id:int}/assign", endpoint(actions.case_assign), methods=post),
        Route("/dashboard", endpoint(pages.dashboard_page, permission="see_dashboard")),
        Route("/audit", endpoint(pages.audit_page, permission="see_audit")),
        Route("/admin/staff", endpoint(pages.staff_page, permission="manage_staff")),
        Route(
            "/admin/staff/new",
            endpoint(actions.create_staff, permission="manage_staff"),
            methods=post,
        ),
        Route(
            "/admin/staff/active",
            endpoint(actions.set_active, permission="manage_staff"),
            methods=post,
        ),
        Route("/api/queue", endpoint(api.queue_json, api=True)),
        Route("/api/queue/stream", api.queue_stream),
        Route("/api/conversations/{id:int}/messages", endpoint(api.messages_json, api=True)),
        Mount("/static", StaticFiles(directory=STATIC), name="console-static"),
    ]
    return routes


def console_mount() -> Mount:
    """The console as one Mount for the gateway, with its security headers."""
    return Mount(PREFIX, routes=console_routes(), middleware=[Middleware(SecurityHeaders)])


__all__ = ["console_mount", "console_routes"]
