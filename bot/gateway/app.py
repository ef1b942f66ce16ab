"""The gateway: channel webhooks, the web chat page and health, as one Starlette app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.config import Settings, get_settings
from bot.console import console_mount
from bot.db import make_engine, make_sessionmaker
from bot.gateway.channels import enabled_channels, webhook_endpoint
from bot.gateway.engine import EngineClient
from bot.gateway.pipeline import Pipeline
from bot.gateway.webchat import updates_endpoint
from bot.outbox import OutboxWorker, senders_from_settings
from connectors.web import WebConnector

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


async def _healthz(request: Request) -> JSONResponse:
    """Engine (with a loaded model), action server and database all reachable → 200."""
    state = request.app.state
    settings: Settings = state.settings
    client: httpx.AsyncClient = state.http

    async def engine() -> bool:
        params = {"token": settings.rasa_auth_token} if settings.rasa_auth_token else None
        r = await client.get(f"{settings.rasa_url.rstrip('/')}/status", params=params, timeout=3)
        return r.status_code == httpx.codes.OK and bool(r.json().get("model_file"))

    async def actions() -> bool:
        r = await client.get(f"{settings.action_server_url.rstrip('/')}/health", timeout=3)
        return r.status_code == httpx.codes.OK

    async def database() -> bool:
        def ping() -> bool:
            with state.db.connect() as conn:
                return conn.execute(text("SELECT 1")).scalar() == 1

        return await asyncio.to_thread(ping)

    async def check(probe) -> bool:  # type: ignore[no-untyped-def]
        try:
            return await probe()
        except Exception as exc:  # any failure means "not healthy", never a crash
            log.debug("health probe %s failed: %s", probe.__name__, exc)
            return False

    names = ("engine", "action_server", "database")
    results = await asyncio.gather(*(check(p) for p in (engine, actions, database)))
    checks = dict(zip(names, results, strict=True))
    healthy = all(results)
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status_code=200 if healthy else 503,
    )


async def _index(_: Request) -> FileResponse:
    return FileResponse(STATIC / "index.html")


def create_app(
    settings: Settings | None = None, *, with_channels: bool = True, with_outbox: bool = True
) -> Starlette:
    """The gateway. Tests may leave out the channels or the outbox worker they do not test."""
    settings = settings or get_settings()

    channels = enabled_channels(settings) if with_channels else []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.db = make_engine(settings.database_url)
        sessions = make_sessionmaker(app.state.db)
        app.state.sessions = sessions
        async with httpx.AsyncClient() as http:
            app.state.http = http
            engine = EngineClient(http, settings.rasa_url, settings.engine_timeout_seconds)
            app.state.pipeline = Pipeline(sessions, engine)
            for channel in channels:
                await channel.start(lambda: app.state.pipeline)
            outbox = OutboxWorker(sessions, settings, senders_from_settings(settings))
            outbox_task = asyncio.create_task(outbox.run_forever()) if with_outbox else None
            try:
                yield
            finally:
                if outbox_task is not None:
                    outbox_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await outbox_task
                for channel in channels:
                    await channel.stop()
        app.state.db.dispose()

    routes: list[BaseRoute] = [
        Route("/", _index),
        Route("/healthz", _healthz),
        Route("/webhooks/rest/webhook", webhook_endpoint(WebConnector()), methods=["POST"]),
        Route("/webhooks/rest/updates", updates_endpoint, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        console_mount(),
    ]
    for channel in channels:
        routes.extend(channel.routes())
    return Starlette(routes=routes, lifespan=lifespan)
