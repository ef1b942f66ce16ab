"""Concurrent scripted conversations against one endpoint, with latency statistics."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from twilio.request_validator import RequestValidator

# One conversation: questions answered from the catalogue and a report filed (a DB write).
SCRIPT = (
    "hi",
    "how much does a passport cost",
    "what documents do i need",
    "is city hall open now",
    "there is a pothole on main street",
    "yes",
    "thanks",
)

Send = Callable[[httpx.AsyncClient, str, str], Awaitable[None]]


@dataclass(frozen=True)
class LevelResult:
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


GATEWAY_MS: list[float] = []  # the gateway's own time per SMS request (Server-Timing)


def _gateway_share(header: str) -> float | None:
    for part in header.split(","):
        name, _, duration = part.strip().partition(";dur=")
        if name == "gateway" and duration:
            return float(duration)
    return None


def sms_sender(gateway_url: str, public_base_url: str, auth_token: str, to: str) -> Send:
    """Signed Twilio SMS webhook requests, exactly as Twilio would send them."""
    path = "/webhooks/twilio/sms"
    validator = RequestValidator(auth_token)
    signed_url = public_base_url.rstrip("/") + path

    async def send(client: httpx.AsyncClient, conversation: str, text: str) -> None:
        params = {
            "From": conversation,
            "To": to,
            "Body": text,
            "MessageSid": "SM" + uuid.uuid4().hex,
            "AccountSid": "AC" + "0" * 32,
        }
        signature = validator.compute_signature(signed_url, params)
        response = await client.post(
            gateway_url + path, data=params, headers={"X-Twilio-Signature": signature}
        )
        response.raise_for_status()
        if "<Message" not in response.text:
            raise RuntimeError(f"no reply: {response.text[:200]}")
        share = _gateway_share(response.headers.get("Server-Timing", ""))
        if share is not None:
            GATEWAY_MS.append(share)

    return send


def rest_sender(base_url: str) -> Send:
    """Rasa's REST channel, as a web widget (or a raw Rasa deployment) would use it."""

    async def send(client: httpx.AsyncClient, conversation: str, text: str) -> None:
        response = await client.post(
            f"{base_url}/webhooks/rest/webhook", json={"sender": conversation, "message": text}
        )
        response.raise_for_status()
        if not response.json():
            raise RuntimeError("no reply")

    return send


async def run_level(
    send: Send,
    concurrency: int,
    rounds: int,
    conversation_id: Callable[[int], str],
    pause: float = 0.0,
) -> LevelResult:
    """`concurrency` conversations at once, each running SCRIPT `rounds` times.

    With `pause` = 0 every conversation sends its next message as soon as it has the answer (a
    stress test: throughput at saturation). A pause > 0 is a citizen reading and typing: the
    latency then is what people feel with that many conversations going on at once.
    """
    latencies: list[float] = []
    errors = 0

    async def conversation(index: int, client: httpx.AsyncClient) -> None:
        nonlocal errors
        sender = conversation_id(index)
        for _ in range(rounds):
            for text in SCRIPT:
                started = time.perf_counter()
                try:
                    await send(client, sender, text)
                except (httpx.HTTPError, RuntimeError):
                    errors += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                if pause:
                    await asyncio.sleep(pause)

    limits = httpx.Limits(max_connections=concurrency + 5)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(conversation(i, client) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return LevelResult(
        concurrency, len(latencies), errors, elapsed, statistics.median(ordered), p95
    )
