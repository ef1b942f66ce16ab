"""The notification outbox worker: sends pending notifications with retries and back-off.

The rules (which rows are due, claiming, back-off, giving up, opt-out) are in
`bot.services.notifications`; this module is I/O: one `Sender` per channel and a worker loop.
The gateway runs `OutboxWorker(sessions, settings, senders_from_settings(settings)).run_forever()`
as a task; any number of workers (tasks or processes) may share one database, because a row is
only sent by the worker whose compare-and-set claim took it.

Guarantee: a provider outage delays a notification, never loses it (up to
`OUTBOX_MAX_ATTEMPTS` attempts with exponential back-off), and a retry never sends twice: a row
is retried only after the provider refused it. The one at-least-once case is a worker that dies
after the provider accepted the message but before SENT was recorded: when its lease expires
the row is sent again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

import requests
import telegram
import telegram.error as tg_error
from sqlalchemy.orm import Session, sessionmaker
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from bot.config import Settings
from bot.db import transaction
from bot.models import Channel, NotificationStatus, utcnow
from bot.services import notifications
from connectors.base import Button, OutboundMessage
from connectors.telegram import render_replies
from connectors.twilio_sms import sms_text

log = logging.getLogger(__name__)

T = TypeVar("T")

SEND_TIMEOUT_SECONDS = 30.0

#: A notification's buttons as stored (`Notification.buttons`): [{"title", "payload"}, …].
Buttons = Sequence[Mapping[str, str]]


def as_reply(text: str, buttons: Buttons | None) -> OutboundMessage:
    """A notification as the connectors' reply type, so the outbox renders buttons exactly as
    a reply in the conversation is rendered (Telegram keyboards, numbered SMS choices)."""
    return OutboundMessage(text, tuple(Button(b["title"], b["payload"]) for b in buttons or ()))


# -- senders -------------------------------------------------------------------------------


class SendError(Exception):
    """A provider did not take the message."""


class TransientSendError(SendError):
    """Worth retrying: outage, 5xx, rate limit, timeout, connection error, bad credentials."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """Retrying cannot help: invalid number, blocked bot, unknown chat, message refused."""


class Sender(Protocol):
    """Sends one text, with its buttons if any, to one recipient on one channel."""

    async def send(self, recipient: str, text: str, buttons: Buttons | None = None) -> str:
        """Send `text` (and `buttons`, as the channel shows choices); return the provider's
        message id.

        Raises TransientSendError or PermanentSendError.
        """
        ...


class TwilioSmsSender:
    """SMS through the Twilio REST API (the blocking SDK call runs in a thread). Buttons
    become the SMS connector's numbered choices ("Reply 1 for …"): a bare digit answers them."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        api_base_url: str = "https://api.twilio.com",
        timeout: float = SEND_TIMEOUT_SECONDS,
    ) -> None:
        self._client = TwilioClient(
            account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout)
        )
        self._client.api.base_url = api_base_url.rstrip("/")
        self._from = from_number

    async def send(self, recipient: str, text: str, buttons: Buttons | None = None) -> str:
        body = sms_text([as_reply(text, buttons)]) if buttons else text
        try:
            message = await asyncio.to_thread(
                self._client.messages.create, to=recipient, from_=self._from, body=body
            )
        except TwilioRestException as exc:
            # 401: our credentials (fix them and it goes through); 429: rate limit.
            if exc.status >= 500 or exc.status in (401, 408, 429):
                raise TransientSendError(f"Twilio {exc.status}: {exc.msg}") from exc
            raise PermanentSendError(f"Twilio {exc.status} ({exc.code}): {exc.msg}") from exc
        except (requests.RequestException, TwilioException) as exc:
            raise TransientSendError(f"Twilio unreachable: {exc!r}") from exc
        return str(message.sid)


class TelegramSender:
    """Telegram through the Bot API; texts over 4096 characters go in several messages.

    Rendered by the Telegram connector's own `render_replies`, so buttons are an inline keyboard
    under the (last) message whose presses come back like any other (`choice:<n>`, with the
    button's title). Notification texts are kept under 1600 characters
    (`notifications.MAX_TEXT`), so they go in one message; were one split and a later part
    failed, its retry would repeat the first part.
    """

    def __init__(self, token: str, *, api_base_url: str = "https://api.telegram.org/bot") -> None:
        self._token = token
        self._base_url = api_base_url
        self._bot: telegram.Bot | None = None

    async def send(self, recipient: str, text: str, buttons: Buttons | None = None) -> str:
        chat_id: int | str = int(recipient) if recipient.lstrip("-").isdigit() else recipient
        messages = render_replies([as_reply(text, buttons)])
        if not messages:
            raise PermanentSendError("Telegram: the message is empty")
        try:
            bot = await self._ready_bot()
            ids = [
                (
                    await bot.send_message(
                        chat_id=chat_id, text=outgoing.text, reply_markup=outgoing.keyboard
                    )
                ).message_id
                for outgoing in messages
            ]
        except (tg_error.Forbidden, tg_error.BadRequest, tg_error.ChatMigrated) as exc:
            raise PermanentSendError(f"Telegram: {exc.message}") from exc
        except tg_error.RetryAfter as exc:
            raise TransientSendError(
                f"Telegram: {exc.message}", retry_after=exc.retry_after.total_seconds()
            ) from exc
        except tg_error.TelegramError as exc:  # NetworkError, TimedOut, InvalidToken, …
            raise TransientSendError(f"Telegram: {exc.message}") from exc
        return ",".join(str(message_id) for message_id in ids)

    async def _ready_bot(self) -> telegram.Bot:
        if self._bot is None:
            self._bot = telegram.Bot(self._token, base_url=self._base_url)
        await self._bot.initialize()  # getMe once; a no-op when done
        return self._bot

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._bot is not None:
            await self._bot.shutdown()


def senders_from_settings(settings: Settings) -> dict[Channel, Sender]:
    """A sender for every channel whose credentials are configured.

    SMS needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_NUMBER; Telegram needs
    TELEGRAM_BOT_TOKEN. Notifications for a channel without a sender wait, PENDING.
    """
    senders: dict[Channel, Sender] = {}
    if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_number:
        senders[Channel.SMS] = TwilioSmsSender(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_number,
            api_base_url=settings.twilio_api_base_url,
        )
    if settings.telegram_bot_token:
        senders[Channel.TELEGRAM] = TelegramSender(
            settings.telegram_bot_token, api_base_url=settings.telegram_api_base_url
        )
    return senders


# -- the worker ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """A claimed notification: what to send, and the claim's token (its lease end)."""

    id: int
    channel: Channel
    recipient: str
    text: str
    claimed_until: datetime
    suppressed: bool = False  # opted out since it was queued: handled, not to be sent
    buttons: tuple[Mapping[str, str], ...] = ()


class OutboxWorker:
    """Polls the outbox and sends what is due. Database work runs in a thread (off the loop)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        senders: Mapping[Channel, Sender],
        *,
        batch_size: int = 50,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._senders = dict(senders)
        self._batch_size = batch_size

    async def run_forever(self) -> None:
        """Poll every OUTBOX_POLL_SECONDS until cancelled; errors are logged, never fatal."""
        channels = ", ".join(sorted(self._senders)) or "no channel (notifications wait)"
        log.info("outbox worker started; sending on %s", channels)
        try:
            while True:
                try:
                    await self.run_once()
                except Exception:
                    log.exception("outbox worker: this round failed; trying again")
                await asyncio.sleep(self._settings.outbox_poll_seconds)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Release the senders' connections."""
        for sender in self._senders.values():
            close = getattr(sender, "aclose", None)
            if close is not None:
                try:
                    await close()
                except Exception:
                    log.exception("outbox worker: closing a sender failed")

    async def run_once(self, now: datetime | None = None) -> int:
        """Send every notification due at `now` (default: the clock); return how many were
        handled (sent, rescheduled, failed or suppressed). An explicit `now` is used for every
        timestamp, so tests can step through the back-off."""

        def clock() -> datetime:
            return now if now is not None else utcnow()

        due = await self._db(self._due, clock())
        handled = 0
        for notification_id in due:
            job = await self._db(self._claim, notification_id, clock())
            if job is None:
                continue  # another worker took it
            handled += 1
            if not job.suppressed:
                await self._deliver(job, clock)
        return handled

    async def _deliver(self, job: _Job, clock: Callable[[], datetime]) -> None:
        sender = self._senders[job.channel]
        try:
            provider_id = await sender.send(job.recipient, job.text, job.buttons or None)
        except TransientSendError as exc:
            await self._failed(job, str(exc), clock(), permanent=False, retry=exc.retry_after)
        except PermanentSendError as exc:
            await self._failed(job, str(exc), clock(), permanent=True)
        except Exception as exc:  # a bug in a sender: retry (bounded by max attempts), loudly
            log.exception("outbox: sender for %s raised unexpectedly", job.channel)
            await self._failed(job, f"unexpected error: {exc!r}", clock(), permanent=False)
        else:
            recorded = await self._db(
                notifications.mark_sent, job.id, job.claimed_until, provider_id, clock()
            )
            if recorded:
                log.info("outbox: notification %s sent by %s", job.id, job.channel)
            else:
                log.warning("outbox: notification %s sent, but its lease had expired", job.id)

    async def _failed(
        self,
        job: _Job,
        error: str,
        now: datetime,
        *,
        permanent: bool,
        retry: float | None = None,
    ) -> None:
        status = await self._db(
            notifications.mark_failed_attempt,
            job.id,
            job.claimed_until,
            error,
            now,
            permanent=permanent,
            max_attempts=self._settings.outbox_max_attempts,
            retry_after=timedelta(seconds=retry) if retry else None,
        )
        level = logging.ERROR if status is NotificationStatus.FAILED else logging.WARNING
        log.log(level, "outbox: notification %s not sent (%s): %s", job.id, status, error)

    # Each step is its own short transaction: no database lock is held while a provider is
    # being called.

    def _due(self, session: Session, now: datetime) -> list[int]:
        released = notifications.release_expired_leases(
            session, now, self._settings.outbox_max_attempts
        )
        if released:
            log.warning("outbox: %s notification(s) back from an expired lease", released)
        return notifications.due_notification_ids(session, now, self._senders, self._batch_size)

    def _claim(self, session: Session, notification_id: int, now: datetime) -> _Job | None:
        """The claimed row as a job, or None if another worker has it."""
        notification = notifications.claim(session, notification_id, now)
        if notification is None:
            return None
        suppressed = notification.status is NotificationStatus.SUPPRESSED
        if suppressed:
            log.info("outbox: notification %s suppressed (opted out)", notification_id)
        return _Job(
            notification.id,
            Channel(notification.channel),  # due rows always have a channel and recipient
            notification.recipient or "",
            notification.text,
            notification.locked_until or now,
            suppressed,
            tuple(dict(b) for b in notification.buttons or ()),
        )

    async def _db(self, step: Callable[..., T], *args: object, **kwargs: object) -> T:
        def run() -> T:
            with transaction(self._sessions) as session:
                return step(session, *args, **kwargs)

        return await asyncio.to_thread(run)
