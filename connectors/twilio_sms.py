"""SMS through Twilio Programmable Messaging: `POST /webhooks/twilio/sms`, answered with TwiML.

In:  Twilio's form post (`From`, `Body`, `MessageSid`, …), signed with `X-Twilio-Signature`
     (checked with the SDK's `RequestValidator` against PUBLIC_BASE_URL + path; forged or
     unsigned → 403 and nothing stored). `From` (E.164) is the citizen; `MessageSid` makes
     Twilio's retries idempotent – the pipeline answers a redelivery with the earlier replies.
Out: a `MessagingResponse`. Buttons become numbered choices ("Reply 1 for …, 2 for …"; a bare
     number answers them, numbered across all the replies of one turn, as the pipeline counts
     them); text longer than Twilio's 1600-character body is split at paragraph, line, sentence
     or word boundaries into several <Message>s.

Keywords – Twilio's standard list for long codes and toll-free numbers (a message that is
exactly one of these words, any case, surrounding spaces and punctuation ignored):

* opt-out: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT → `Command.STOP`
* opt-in:  START, YES, UNSTOP → `Command.START`
* help:    HELP, INFO → `Command.HELP`

Twilio itself acts on these words before our webhook sees them: after an opt-out keyword it
blocks every further message to that number until an opt-in keyword. So a bare "cancel" (or
"end", "quit") *is* an opt-out on SMS, whatever the conversation was about – we record it the
same way (the CRM's opt-out, on `ChannelIdentity.opted_out_at`) so that proactive messages stop
too. The keyword replies are rendered like any other: on short codes (where Twilio does not
answer keywords) they are required; on long codes Twilio also sends its own auto-reply.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import parse_qsl

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.twiml.messaging_response import MessagingResponse

from bot.config import Settings
from bot.models import Channel
from bot.phones import to_e164
from connectors.base import Command, InboundMessage, OutboundMessage, RejectedRequest

log = logging.getLogger(__name__)

CHANNEL_NAME = "SMS"
SMS_PATH = "/webhooks/twilio/sms"
MAX_BODY = 1600  # Twilio's limit for one message body, in characters
MAX_CHOICE = 99

KEYWORDS: dict[str, Command] = {
    **dict.fromkeys(
        ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"),
        Command.STOP,
    ),
    **dict.fromkeys(("START", "YES", "UNSTOP"), Command.START),
    **dict.fromkeys(("HELP", "INFO"), Command.HELP),
}
_KEYWORD_PUNCTUATION = " \t\r\n.!?,;:'\""

Form = ImmutableMultiDict[str, str]
TWIML = "text/xml"


def missing_settings(settings: Settings) -> list[str]:
    """The Twilio settings that are not set (the channel is off while any is missing)."""
    required = {
        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token,
        "PUBLIC_BASE_URL": settings.public_base_url,
    }
    return [name for name, value in required.items() if not value]


class TwilioSignature:
    """Twilio's webhook signature (`X-Twilio-Signature`), checked by the SDK's RequestValidator.

    Twilio signs the full URL it requested – our public URL, as configured on the number, plus
    the query string – and the form parameters. Behind a proxy the request's own URL differs, so
    the URL is rebuilt from PUBLIC_BASE_URL.
    """

    def __init__(self, auth_token: str, public_base_url: str) -> None:
        self._validator = RequestValidator(auth_token)
        self._base = public_base_url.rstrip("/")

    def url_for(self, request: Request) -> str:
        query = request.url.query
        return f"{self._base}{request.url.path}" + (f"?{query}" if query else "")

    async def verify(self, request: Request) -> Form:
        """The form parameters of a genuine Twilio request; RejectedRequest(403) otherwise."""
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            raise RejectedRequest(403, f"missing {SIGNATURE_HEADER}")
        try:
            body = (await request.body()).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RejectedRequest(400, "the body must be UTF-8 form data") from exc
        form: Form = ImmutableMultiDict(parse_qsl(body, keep_blank_values=True))
        algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
        if not self._validator.validate(self.url_for(request), form, signature, algorithm):
            raise RejectedRequest(403, "invalid Twilio signature")
        return form


def keyword_command(body: str) -> Command | None:
    """Twilio's opt-out / opt-in / help keywords: the whole message is one of the words."""
    return KEYWORDS.get(body.strip(_KEYWORD_PUNCTUATION).upper())


def bare_choice(body: str) -> int | None:
    """A bare number ("1", " 2 ") that may answer the last numbered choices."""
    text = body.strip(_KEYWORD_PUNCTUATION)
    if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_CHOICE:
        return int(text)
    return None


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at the best boundary available: a blank line,
    a line break, the end of a sentence, a comma or a space (a hard cut only inside a very long
    word)."""
    pieces: list[str] = []
    text = text.strip()
    while len(text) > limit:
        cut = _best_cut(text, limit)
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def _best_cut(text: str, limit: int) -> int:
    for separator, keep in (
        ("\n\n", 0),
        ("\n", 0),
        (". ", 1),
        ("? ", 1),
        ("! ", 1),
        ("; ", 1),
        (", ", 1),
        (" ", 0),
    ):
        index = text.rfind(separator, 0, limit)
        if index > limit // 3:
            return index + keep
    return limit


def choices_line(titles: Sequence[str], first: int) -> str:
    """`Reply 1 for Fees, 2 for Documents or 3 for Opening hours.`"""
    quote = any("," in t for t in titles)
    options = [f"{n} for " + (f'"{t}"' if quote else t) for n, t in enumerate(titles, start=first)]
    joined = options[0] if len(options) == 1 else ", ".join(options[:-1]) + " or " + options[-1]
    return f"Reply {joined}."


def sms_text(replies: Sequence[OutboundMessage]) -> str:
    """The replies of one turn as one text, each with its buttons as numbered choices.

    Numbers run on across the replies, the way the pipeline maps a bare number back to the
    buttons offered since the citizen last wrote.
    """
    parts: list[str] = []
    number = 1
    for reply in replies:
        part = reply.text.strip()
        if reply.buttons:
            line = choices_line([b.title for b in reply.buttons], number)
            number += len(reply.buttons)
            part = f"{part}\n\n{line}" if part else line
        if part:
            parts.append(part)
    return "\n\n".join(parts)


def twiml_response(twiml: object) -> Response:
    return Response(str(twiml), media_type=TWIML)


class TwilioSmsConnector:
    channel = Channel.SMS

    def __init__(self, settings: Settings) -> None:
        self._signature = TwilioSignature(settings.twilio_auth_token, settings.public_base_url)
        self._region = settings.default_phone_region

    async def parse(self, request: Request) -> Sequence[InboundMessage]:
        form = await self._signature.verify(request)
        sender = to_e164(form.get("From"), self._region)
        if sender is None:
            raise RejectedRequest(400, "'From' is not a phone number")
        body = (form.get("Body") or "").strip()
        if not body:  # a picture without words: nothing to answer yet
            log.info("SMS %s without text ignored", form.get("MessageSid"))
            return []
        return [
            InboundMessage(
                channel=self.channel,
                external_user_id=sender,
                text=body,
                provider_message_id=form.get("MessageSid") or form.get("SmsSid") or None,
                choice=bare_choice(body),
                command=keyword_command(body),
                raw=dict(form),
            )
        ]

    def render(
        self, inbound: InboundMessage | None, replies: Sequence[OutboundMessage]
    ) -> Response:
        response = MessagingResponse()
        for piece in split_text(sms_text(replies), MAX_BODY):
            response.message(piece)
        return twiml_response(response)


class TwilioSmsChannel:
    name = CHANNEL_NAME

    def __init__(self, settings: Settings) -> None:
        self.connector = TwilioSmsConnector(settings)

    def routes(self) -> Sequence[BaseRoute]:
        from bot.gateway.channels import webhook_endpoint

        return [Route(SMS_PATH, webhook_endpoint(self.connector), methods=["POST"])]

    async def start(self, pipeline: object) -> None:
        """Nothing to do: the webhook URL is set on the number in Twilio's console."""

    async def stop(self) -> None:
        """Nothing to stop."""


def channel_from_settings(settings: Settings) -> tuple[TwilioSmsChannel | None, str]:
    if not settings.twilio_enabled:
        return None, f"{', '.join(missing_settings(settings))} not set"
    return TwilioSmsChannel(settings), ""
