"""Telegram: citizens talk to the city's bot in a private chat.

In:  Bot API `Update`s – POSTed by Telegram to `/webhooks/telegram` (with `PUBLIC_BASE_URL`; each
     request must carry the `X-Telegram-Bot-Api-Secret-Token` we registered), or fetched by long
     polling (`getUpdates`) when there is no public URL, so a developer can try a real bot from a
     laptop. Both paths go through `TelegramConnector.interpret` → pipeline → `send`.
Out: `sendMessage` calls through python-telegram-bot's `Bot` (the only outbound HTTP).

What is understood: text (`/start` greets), a pressed inline button, the citizen's own shared
contact (links their phone number) and a shared location. Photos, stickers, voice notes and files
get a polite explanation without reaching the engine; group chats are not served; every other
update (edited messages, member changes, …) is ignored.

Buttons are sent as `choice:<n>` (n counts the buttons of one batch of replies, in order) rather
than the payload: Telegram limits callback data to 64 bytes, and the pipeline resolves a choice
against the buttons it stored, exactly as for a number typed by SMS.

Replies are sent as plain text, without any `parse_mode`: nothing we say is formatted, and plain
text means Telegram interprets nothing – what a citizen typed and we read back (`<b>`, `&`, `*`)
shows literally, can neither inject a link nor make `sendMessage` fail with "can't parse
entities", and splitting a long reply can never cut through markup.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from telegram import (
    Bot,
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot import phones
from bot.config import Settings
from bot.models import Channel
from connectors.base import InboundMessage, OutboundMessage, RejectedRequest

if TYPE_CHECKING:
    from bot.gateway.pipeline import Pipeline

log = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL_NAME = "Telegram"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT = 4096  # Telegram's limit for one message, in UTF-16 code units
MAX_BODY = 1_000_000  # an update is a few kB; anything this big is not from Telegram
ALLOWED_UPDATES = ("message", "callback_query")
RETRY_DELAYS = (1.0, 60.0)  # seconds: first and longest wait between set-up or polling tries
SEND_RETRY_DELAYS = (0.5, 2.0)  # seconds before the 2nd and 3rd try of a message
MAX_RETRY_AFTER = 10.0  # seconds: a longer flood-control wait gives up the message instead

START_TEXT = "hello"  # what the engine reads when a citizen presses Start
CHOOSE_TEXT = "Please choose:"
UNSUPPORTED_TEXT = (
    "Sorry – I can only read text here, not photos, stickers, voice notes or files. "
    "Please type your question, or describe the problem in words."
)
PRIVATE_ONLY_TEXT = "I only answer in a private chat – please message me directly."
NOT_OWN_CONTACT_TEXT = (
    "Thanks – but I can only link your own phone number, never someone else's. "
    "Tap “Share my phone number” below to share yours."
)
UNREADABLE_PHONE_TEXT = "Sorry – I couldn't read that phone number."
SHARE_PHONE_OFFER_TEXT = (
    "If you like, tap “Share my phone number” below: I'll then recognise you when you text or "
    "call the city too, and you can follow your cases on any channel."
)
SHARE_PHONE_BUTTON = "📱 Share my phone number"

_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as a secret_token
_CHOICE = re.compile(r"choice:(\d{1,3})")
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,64})(?:@\w+)?(?:\s+(.*))?", re.DOTALL)


def share_phone_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(SHARE_PHONE_BUTTON, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


# -- parsing: Update → channel-neutral messages (pure) ------------------------------------------


@dataclass(frozen=True)
class Notice:
    """An answer the connector gives itself: it never reaches the engine or the transcript."""

    chat_id: int
    text: str
    offer_phone: bool = False


@dataclass(frozen=True)
class Parsed:
    """What one update means: messages for the pipeline, notices to send right away, and a
    callback query to acknowledge when no message will do it (see `TelegramConnector.send`)."""

    messages: tuple[InboundMessage, ...] = ()
    notices: tuple[Notice, ...] = ()
    answer_callback: str | None = None


def _command(text: str) -> tuple[str, str] | None:
    """`"/status@civic_bot 1234"` → `("status", "1234")`; None when it is not a command."""
    match = _COMMAND.fullmatch(text.strip())
    if match is None:
        return None
    return match.group(1).lower(), (match.group(2) or "").strip()


def _engine_text(text: str) -> str:
    """What a typed text means. `/start` greets; other commands lose their slash, so a citizen
    can never type an engine intent payload (`/affirm`, `/inform{…}`) on Telegram."""
    command = _command(text)
    if command is None:
        return text.strip()
    name, args = command
    if name == "start":
        return START_TEXT
    return f"{name} {args}".strip()


def _is_start(update: Update) -> bool:
    message = update.message
    command = _command(message.text) if message is not None and message.text else None
    return command is not None and command[0] == "start"


def parse_update(update: Update, *, phone_region: str = "US") -> Parsed:
    """Interpret one update. Pure: no I/O, nothing stored."""
    if update.callback_query is not None:
        return _parse_callback(update, update.callback_query)
    message = update.message  # edited messages, channel posts, member changes…: not for us
    if message is None or message.from_user is None or message.from_user.is_bot:
        return Parsed()
    if message.chat.type != Chat.PRIVATE:  # never serve a group: it is not one citizen
        if message.text and _command(message.text) is not None:
            return Parsed(notices=(Notice(message.chat.id, PRIVATE_ONLY_TEXT),))
        return Parsed()
    user = message.from_user

    def inbound(text: str, **extra: Any) -> Parsed:
        return Parsed(
            messages=(
                InboundMessage(
                    channel=Channel.TELEGRAM,
                    external_user_id=str(user.id),
                    text=text,
                    # Message ids never repeat within a chat; update ids may after a quiet week.
                    provider_message_id=f"msg:{message.chat.id}:{message.message_id}",
                    display_name=(user.first_name or "").strip()[:200] or None,
                    raw=update.to_dict(),
                    **extra,
                ),
            )
        )

    if message.text:
        text = _engine_text(message.text)
        return inbound(text) if text else Parsed()
    if message.contact is not None:
        contact = message.contact
        if contact.user_id != user.id:  # somebody else's card: not linked, and not stored
            return Parsed(notices=(Notice(message.chat.id, NOT_OWN_CONTACT_TEXT, True),))
        # A Telegram account's number is always international, but often sent without its "+".
        number = contact.phone_number.strip()
        phone = phones.to_e164(number if number.startswith("+") else f"+{number}", phone_region)
        if phone is None:
            return Parsed(notices=(Notice(message.chat.id, UNREADABLE_PHONE_TEXT),))
        return inbound("[shared their phone number]", verified_phone=phone)
    if message.location is not None:
        lat, lon = message.location.latitude, message.location.longitude
        return inbound(f"[shared a location: {lat:.5f}, {lon:.5f}]", location=(lat, lon))
    if message.effective_attachment is not None:  # photo, sticker, voice, document, poll…
        return Parsed(notices=(Notice(message.chat.id, UNSUPPORTED_TEXT),))
    return Parsed()  # a service message (pinned, chat settings…)


def _parse_callback(update: Update, query: CallbackQuery) -> Parsed:
    """A pressed inline button: `choice:<n>` becomes the citizen's choice number n, with the
    button's title as the text the transcript shows (and the engine reads if n is stale)."""
    keyboard_message = query.message
    match = _CHOICE.fullmatch(query.data or "")
    if (
        match is None
        or keyboard_message is None
        or keyboard_message.chat.type != Chat.PRIVATE
        or query.from_user.is_bot
    ):
        return Parsed(answer_callback=query.id)
    choice = int(match.group(1))
    title = None
    if isinstance(keyboard_message, Message) and keyboard_message.reply_markup is not None:
        for row in keyboard_message.reply_markup.inline_keyboard:
            for button in row:
                if button.callback_data == query.data:
                    title = button.text
    user = query.from_user
    return Parsed(
        messages=(
            InboundMessage(
                channel=Channel.TELEGRAM,
                external_user_id=str(user.id),
                text=title or f"option {choice}",
                provider_message_id=f"callback:{query.id}",
                display_name=(user.first_name or "").strip()[:200] or None,
                choice=choice,
                raw=update.to_dict(),
            ),
        )
    )


# -- rendering: replies → Telegram messages (pure) ----------------------------------------------


def _units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _prefix_that_fits(text: str, limit: int) -> int:
    used = 0
    for index, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def _break_in(window: str) -> tuple[int, int] | None:
    """Where to cut `window`: (end of this piece, start of the next), or None for nowhere.
    A paragraph break beats a line break beats a space, as long as the piece stays at least
    half full; failing that, the last break of any kind."""
    for lowest in (len(window) // 2, 1):
        for separator in ("\n\n", "\n", " "):
            at = window.rfind(separator)
            if at >= lowest:
                return at, at + len(separator)
    return None


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most `limit` units, cut at a paragraph, line or word break where possible."""
    pieces: list[str] = []
    rest = text.strip()
    while _units(rest) > limit:
        fits = max(_prefix_that_fits(rest, limit), 1)
        cut = _break_in(rest[:fits])
        end, start = cut if cut is not None else (fits, fits)
        if rest[:end].strip():
            pieces.append(rest[:end].rstrip())
        rest = rest[start:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


@dataclass(frozen=True)
class Outgoing:
    """One `sendMessage` call."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


def render_replies(replies: Sequence[OutboundMessage]) -> list[Outgoing]:
    """The messages to send: long texts split, each reply's buttons under its last piece as an
    inline keyboard (one per row) whose callback data is `choice:<n>`, numbered across the whole
    batch – the order in which the pipeline lists the last buttons offered."""
    out: list[Outgoing] = []
    number = 0
    for reply in replies:
        pieces = split_text(reply.text) or ([CHOOSE_TEXT] if reply.buttons else [])
        keyboard = None
        if reply.buttons:
            rows = []
            for button in reply.buttons:
                number += 1
                title = button.title.strip() or f"Option {number}"
                rows.append([InlineKeyboardButton(title, callback_data=f"choice:{number}")])
            keyboard = InlineKeyboardMarkup(rows)
        out.extend(Outgoing(piece) for piece in pieces[:-1])
        if pieces:
            out.append(Outgoing(pieces[-1], keyboard))
    return out


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 deprecates the int form of retry_after
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def with_retries(call: Callable[[], Awaitable[T]]) -> T:
    """A Bot API call, tried again after a short flood-control wait or a network error / 5xx.
    Bad requests and refusals (blocked bot) are final. A timed-out call may have gone through,
    so a retry can duplicate a message – better than losing it."""
    for delay in (*SEND_RETRY_DELAYS, None):
        try:
            return await call()
        except RetryAfter as exc:
            wait = _seconds(exc)
            if delay is None or wait > MAX_RETRY_AFTER:
                raise
            await asyncio.sleep(wait)
        except BadRequest:
            raise
        except NetworkError:  # also TimedOut and HTTP 5xx (BadRequest is a NetworkError too)
            if delay is None:
                raise
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


# -- the connector ------------------------------------------------------------------------------


class TelegramConnector:
    """Verify and parse webhook requests; send replies with the Bot API."""

    channel = Channel.TELEGRAM

    def __init__(self, bot: Bot, *, secret: str, phone_region: str = "US") -> None:
        self.bot = bot
        self._secret = secret.encode()
        self._phone_region = phone_region

    def _authentic(self, request: Request) -> bool:
        given = request.headers.get(SECRET_HEADER)
        if not self._secret or given is None:
            return False
        return hmac.compare_digest(given.encode("latin-1"), self._secret)

    async def parse(self, request: Request) -> Sequence[InboundMessage]:
        """Verify the secret token, decode the update, answer what needs no engine."""
        if not self._authentic(request):
            raise RejectedRequest(403, f"missing or wrong {SECRET_HEADER}")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            raise RejectedRequest(413, "the update is too large")
        body = await request.body()
        if len(body) > MAX_BODY:
            raise RejectedRequest(413, "the update is too large")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RejectedRequest(400, "the body must be a JSON Telegram Update") from exc
        if not isinstance(data, dict) or type(data.get("update_id")) is not int:
            raise RejectedRequest(400, "expected a Telegram Update with an integer update_id")
        try:
            update = Update.de_json(data, self.bot)
        except Exception as exc:  # any malformed shape: PTB raises Key/Type/Value/AttributeError
            raise RejectedRequest(400, "not a valid Telegram Update") from exc
        return await self.interpret(update)

    async def interpret(self, update: Update) -> Sequence[InboundMessage]:
        """Parse one update (webhook or long polling) and send the notices it calls for."""
        try:
            parsed = parse_update(update, phone_region=self._phone_region)
        except Exception:  # a shape we did not foresee: never fail the webhook for it
            log.exception("telegram: could not interpret update %s", update.update_id)
            return []
        try:
            for notice in parsed.notices:
                markup = share_phone_keyboard() if notice.offer_phone else None
                await self._send(notice.chat_id, notice.text, markup)
            if parsed.answer_callback is not None:
                await self.bot.answer_callback_query(parsed.answer_callback)
        except Exception as exc:  # a notice is a courtesy: never fail the request for it
            log.warning("telegram: could not answer update %s: %r", update.update_id, exc)
        return parsed.messages

    def render(
        self, inbound: InboundMessage | None, replies: Sequence[OutboundMessage]
    ) -> Response:
        """Telegram only needs a 200: the replies are sent by `send`."""
        return Response(status_code=200)

    async def send(self, inbound: InboundMessage, replies: Sequence[OutboundMessage]) -> None:
        """Acknowledge a pressed button, then send the replies to the citizen's chat.

        After `/start` a reply keyboard offers to share the phone number; once it is shared (and
        linked) that keyboard is removed."""
        update = Update.de_json(dict(inbound.raw), self.bot)
        chat = update.effective_chat
        chat_id = chat.id if chat is not None else int(inbound.external_user_id)
        if update.callback_query is not None:
            try:
                await self.bot.answer_callback_query(update.callback_query.id)
            except TelegramError as exc:  # e.g. answered too late: the replies matter more
                log.info("telegram: could not answer callback query: %s", exc)
        remove_keyboard = ReplyKeyboardRemove() if inbound.verified_phone else None
        for outgoing in render_replies(replies):
            markup: InlineKeyboardMarkup | ReplyKeyboardRemove | None = outgoing.keyboard
            if markup is None and remove_keyboard is not None:
                markup, remove_keyboard = remove_keyboard, None
            await self._send(chat_id, outgoing.text, markup)
        if _is_start(update):
            await self._send(chat_id, SHARE_PHONE_OFFER_TEXT, share_phone_keyboard())

    async def _send(self, chat_id: int, text: str, markup: Any = None) -> None:
        await with_retries(lambda: self.bot.send_message(chat_id, text, reply_markup=markup))


# -- the channel: routes, webhook registration or long polling ----------------------------------


class TelegramChannel:
    """The Telegram channel. With `webhook_url`, `start` registers the webhook (with the secret
    token); without, it long-polls `getUpdates` in a task until `stop`."""

    name = CHANNEL_NAME

    def __init__(
        self,
        bot: Bot,
        *,
        secret: str,
        webhook_url: str | None,
        phone_region: str = "US",
        poll_timeout: int = 25,
        backoff: tuple[float, float] | None = None,
    ) -> None:
        self.bot = bot
        self.connector = TelegramConnector(bot, secret=secret, phone_region=phone_region)
        self.webhook_url = webhook_url
        self._secret = secret
        self._poll_timeout = poll_timeout
        self._backoff = backoff or RETRY_DELAYS
        self._pipeline: Callable[[], Pipeline] | None = None
        self._task: asyncio.Task[None] | None = None

    def routes(self) -> Sequence[BaseRoute]:
        """The webhook route, whenever there is a secret to check it with."""
        if not self._secret:
            return []
        # Imported here: the connector itself does not depend on the gateway.
        from bot.gateway.channels import webhook_endpoint

        return [Route(WEBHOOK_PATH, webhook_endpoint(self.connector), methods=["POST"])]

    async def start(self, pipeline: Callable[[], Pipeline]) -> None:
        self._pipeline = pipeline
        ready = await self._try_set_up()
        if ready is None:
            return
        if not ready or self.webhook_url is None:
            self._task = asyncio.create_task(self._run(ready), name="telegram-channel")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.bot.shutdown()

    async def _set_up(self) -> None:
        await self.bot.initialize()
        if self.webhook_url is not None:
            await self.bot.set_webhook(
                url=self.webhook_url,
                secret_token=self._secret,
                allowed_updates=list(ALLOWED_UPDATES),
            )
            log.info("telegram: webhook registered at %s", self.webhook_url)
        else:  # getUpdates is refused while a webhook is set (as PTB's run_polling does)
            await self.bot.delete_webhook()
            log.info("telegram: no PUBLIC_BASE_URL, long polling for updates")

    async def _try_set_up(self) -> bool | None:
        """Set up once: True when done, False to retry later, None when the token is refused."""
        try:
            await self._set_up()
        except InvalidToken:
            log.error("telegram: the Bot API rejected TELEGRAM_BOT_TOKEN; the channel is off")
            return None
        except TelegramError as exc:
            log.warning("telegram: Bot API unreachable (%s); retrying in the background", exc)
            return False
        return True

    async def _run(self, ready: bool) -> None:
        delay = self._backoff[0]
        while not ready:
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])
            outcome = await self._try_set_up()
            if outcome is None:
                return
            ready = outcome
        if self.webhook_url is None:
            await self._poll()

    async def _poll(self) -> None:
        """Long polling: fetch updates, handle each like a webhook request, back off on errors.
        An update is confirmed (by the next offset) once handled, or after its failure is
        logged – a redelivery is harmless (the pipeline is idempotent), a poison update is not."""
        offset: int | None = None
        delay = self._backoff[0]
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset,
                    timeout=self._poll_timeout,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc))
                continue
            except InvalidToken:
                log.error("telegram: the Bot API rejected TELEGRAM_BOT_TOKEN; polling stops")
                return
            except TelegramError as exc:
                log.warning("telegram: getUpdates failed (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            delay = self._backoff[0]
            for update in updates:
                offset = update.update_id + 1
                await self.handle(update)

    async def handle(self, update: Update) -> None:
        """One update through the same path as a webhook request: parse → pipeline → send."""
        assert self._pipeline is not None, "start() first"
        try:
            messages = await self.connector.interpret(update)
            for message in messages:
                handled = await self._pipeline().handle(message)
                if not handled.duplicate:
                    await self.connector.send(message, handled.replies)
        except Exception:
            log.exception("telegram: could not handle update %s", update.update_id)


def channel_from_settings(settings: Settings) -> tuple[TelegramChannel | None, str]:
    """The channel, or None and why it is off."""
    token = settings.telegram_bot_token.strip()
    secret = settings.telegram_webhook_secret.strip()
    public = settings.public_base_url.strip().rstrip("/")
    if not token:
        return None, "TELEGRAM_BOT_TOKEN not set"
    if secret and not _SECRET.fullmatch(secret):
        return None, "TELEGRAM_WEBHOOK_SECRET must be 1–256 characters of A–Z, a–z, 0–9, _ and -"
    if public and not secret:
        return None, (
            "PUBLIC_BASE_URL is set but TELEGRAM_WEBHOOK_SECRET is not: refusing to register a "
            "webhook that anybody could post to"
        )
    webhook_url = f"{public}{WEBHOOK_PATH}" if public else None
    channel = TelegramChannel(
        Bot(token, base_url=settings.telegram_api_base_url),
        secret=secret,
        webhook_url=webhook_url,
        phone_region=settings.default_phone_region,
    )
    return channel, f"webhook at {webhook_url}" if webhook_url else "long polling"
