"""JSON and SSE for the live parts of the console (401 without a session, never a redirect).

The queue stream polls the database about once a second and sends the queue whenever it
changes (and a comment every 15 s to keep proxies from closing it). It ends after
`STREAM_SECONDS`; the browser's EventSource reconnects on its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from bot.console import data
from bot.console.web import SESSION_COOKIE, Ctx, sessions_of
from bot.db import transaction
from bot.models import Conversation
from bot.services import staff

POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
STREAM_SECONDS = 600.0


def _department(request: Request, user_department: int | None) -> int | None:
    chosen = request.query_params.get("department")
    if chosen is None:
        return user_department
    return int(chosen) if chosen.isdigit() else None


def queue_json(ctx: Ctx) -> Response:
    rows = data.queue_rows(ctx.db, _department(ctx.request, ctx.user.department_id))
    return JSONResponse({"waiting": rows})


def messages_json(ctx: Ctx) -> Response:
    """New transcript lines of the conversation's citizen after `after`, and delivery status."""
    conversation = ctx.db.get(Conversation, int(ctx.param("id")))
    if conversation is None:
        return JSONResponse({"error": "no such conversation"}, status_code=404)
    after = ctx.request.query_params.get("after", "0")
    citizen = conversation.citizen
    name = data.citizen_label(citizen.name, citizen.id, citizen.phone)
    lines = data.transcript(ctx.db, citizen.id, name, after=int(after) if after.isdigit() else 0)
    return JSONResponse(
        {
            "state": conversation.state.value,
            "messages": [line.as_json(ctx.local(line.message.created_at)) for line in lines],
            "delivery": {str(k): v for k, v in data.recent_delivery(ctx.db, citizen.id).items()},
        }
    )


def _snapshot(request: Request) -> list[dict[str, Any]] | None:
    """The viewer's queue, or None once their session has ended (signed out, deactivated)."""
    with transaction(sessions_of(request)) as db:
        found = staff.session_for_token(db, request.cookies.get(SESSION_COOKIE))
        if found is None or not staff.can(found.user, "work_queue"):
            return None
        return data.queue_rows(db, _department(request, found.user.department_id))


async def queue_stream(request: Request) -> Response:
    """GET /staff/api/queue/stream: server-sent events with the queue as JSON."""
    first = await run_in_threadpool(_snapshot, request)
    if first is None:
        return JSONResponse({"error": "sign in first"}, status_code=401)

    async def events() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_SECONDS
        rows: list[dict[str, Any]] | None = first
        last_key: object = None
        quiet_since = loop.time()
        yield "retry: 3000\n\n"
        while rows is not None:
            key = data.snapshot_key(rows)
            if key != last_key:
                yield f"event: queue\ndata: {json.dumps({'waiting': rows})}\n\n"
                last_key, quiet_since = key, loop.time()
            elif loop.time() - quiet_since >= KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                quiet_since = loop.time()
            if loop.time() >= deadline:
                return
            await asyncio.sleep(POLL_SECONDS)
            rows = await run_in_threadpool(_snapshot, request)
        yield "event: signed-out\ndata: {}\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
