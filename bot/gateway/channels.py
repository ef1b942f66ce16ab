"""The channels the gateway serves: each brings its routes and, if it needs them, start/stop
hooks (registering a webhook, long polling). A channel without credentials is off."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from bot.config import Settings
from bot.gateway.pipeline import Pipeline
from connectors.base import Connector, RejectedRequest

log = logging.getLogger(__name__)

PipelineGetter = Callable[[], Pipeline]


class Channel(Protocol):
    name: str

    def routes(self) -> Sequence[BaseRoute]: ...

    async def start(self, pipeline: PipelineGetter) -> None: ...

    async def stop(self) -> None: ...


def webhook_endpoint(connector: Connector):  # type: ignore[no-untyped-def]
    """A thin route: parse with the connector, run the pipeline, render (or send) the replies."""

    async def endpoint(request: Request) -> Response:
        try:
            messages = await connector.parse(request)
        except RejectedRequest as exc:
            return JSONResponse({"error": exc.detail}, status_code=exc.status)
        if not messages:
            return connector.render(None, [])  # type: ignore[arg-type]
        pipeline: Pipeline = request.app.state.pipeline
        replies = []
        started, engine_ms = time.perf_counter(), 0.0
        for message in messages:
            handled = await pipeline.handle(message)
            engine_ms += handled.engine_ms
            send = getattr(connector, "send", None)
            if send is not None:
                if not handled.duplicate:
                    try:
                        await send(message, handled.replies)
                    except Exception:  # the reply is in the transcript; never fail the webhook
                        log.exception("%s: could not send the reply", connector.channel)
            else:
                replies.extend(handled.replies)
        response = connector.render(messages[0], replies)
        total_ms = (time.perf_counter() - started) * 1000
        # Server-Timing (a standard header) lets operators and `make bench` see the gateway's
        # own share of the time, apart from the engine's.
        response.headers["Server-Timing"] = (
            f"engine;dur={engine_ms:.1f}, gateway;dur={total_ms - engine_ms:.1f}"
        )
        return response

    return endpoint


def enabled_channels(settings: Settings) -> list[Channel]:
    """Every channel whose credentials are set; each one that is off says why."""
    from connectors import telegram, twilio_sms, twilio_voice

    channels: list[Channel] = []
    for module in (telegram, twilio_sms, twilio_voice):
        channel, reason = module.channel_from_settings(settings)
        if channel is None:
            log.warning("%s channel is off: %s", module.CHANNEL_NAME, reason)
        else:
            log.info("%s channel is on", module.CHANNEL_NAME)
            channels.append(channel)
    return channels
