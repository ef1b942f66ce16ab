"""Phone calls through Twilio Programmable Voice, answered with TwiML.

Routes (all signed with `X-Twilio-Signature`, checked like SMS; forged or unsigned → 403):

* `POST /webhooks/twilio/voice` – a call starts: a greeting turn goes to the engine and the
  answer is read out inside a `<Gather input="speech dtmf">` whose speech hints are the
  catalogue's service and problem names and synonyms.
* `POST /webhooks/twilio/voice/gather` – what the caller said (`SpeechResult`) or keyed
  (`Digits`). Spoken digit sequences become digits before the engine reads them; a single key
  1-9 answers the buttons last offered (`InboundMessage.choice`); 8 keys then # are a case
  number; 0 puts the caller through to staff. Silence is reprompted at most twice (the count
  travels in the action URL, `?silence=N`); the last reprompt offers a call-back, then a polite
  goodbye and `<Hangup>`.
* `POST /webhooks/twilio/voice/dial` – how the transfer to staff ended: if nobody answered, the
  caller gets a call-back case instead.
* `POST /webhooks/twilio/voice/status` – the call's status callback (set it on the number in
  Twilio's console): when the call is over the caller's voice conversation is closed, so the
  next call starts afresh.

Each turn's action URL carries `?turn=N`, so `CallSid:N` is the provider message id and a
redelivered webhook is answered with the earlier replies, never processed twice.

Twilio must always get valid TwiML: if the engine is down or slow the caller hears the
pipeline's apology (and is offered a call-back), and any unexpected error in a route is logged
and answered with an apology and `<Hangup>` rather than Twilio's "application error".

A caller asking for a person (the engine marks the reply `handoff`) or pressing 0 is transferred
with `<Dial>` to VOICE_TRANSFER_NUMBER; with none configured, a call-back case is opened
(category `callback_request`) and its number read out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from twilio.twiml.voice_response import Dial, Gather, Hangup, Say, VoiceResponse

from bot.catalogue import CatalogueError, read_catalogue
from bot.config import Settings
from bot.db import transaction
from bot.gateway.pipeline import APOLOGY
from bot.models import (
    Channel,
)
from bot.phones import to_e164
from bot.services import callbacks, conversations
from connectors.base import InboundMessage, OutboundMessage, RejectedRequest
from connectors.speech import choices_prompt, read_digits, spoken_digits, to_speech
from connectors.twilio_sms import TWIML, Form, TwilioSignature, missing_settings, split_text

log = logging.getLogger(__name__)

CHANNEL_NAME = "Voice"
VOICE_PATH = "/webhooks/twilio/voice"
GATHER_PATH = f"{VOICE_PATH}/gather"
DIAL_PATH = f"{VOICE_PATH}/dial"
STATUS_PATH = f"{VOICE_PATH}/status"

GREETING_TURN = "hello"  # what the engine reads when a call starts
HANDOFF_TURN = "/request_human"  # pressing 0: the engine records the request for staff
MAX_REPROMPTS = 2
GATHER_TIMEOUT = 5  # seconds of silence before the Gather gives up
DIAL_TIMEOUT = 30
MAX_HINTS = 500  # Twilio: at most 500 hints of at most 100 characters each
MAX_HINT_LENGTH = 100
MAX_SAY = 3000  # characters per <Say>, well inside Twilio's limit
CASE_NUMBER_KEYS = 8
CALL_OVER = frozenset({"completed", "failed", "busy", "no-answer", "canceled"})
DIAL_ANSWERED = frozenset({"completed", "answered"})
_CALL_ME_BACK = re.compile(r"\b(call|ring|phone)\s*(me\s*)?back\b|\bcallback\b", re.IGNORECASE)
_FIXED_HINTS = (
    "call me back",
    "talk to a person",
    "report a problem",
    "check a case",
    "case number",
    "status of my case",
    "opening hours",
)

PRESS_ZERO = "You can press 0 at any time to speak to a member of staff."
ANYTHING_ELSE = "Is there anything else I can help with?"
NOT_HEARD = "Sorry, I didn't hear anything. Please tell me how I can help, or use your keypad."
OFFER_CALLBACK = "If you'd like a member of staff to call you back, press 1 or say call me back."
GOODBYE = "Thank you for calling the city. Goodbye."
CONNECTING = "Connecting you to a member of staff."
NO_STAFF_LINE = "Our staff can't take calls on this line right now."
NOBODY_ANSWERED = "Sorry, nobody was free to take your call."
CALLBACK_DONE = (
    "A member of staff will call you back on this number. Your call-back request number is "
    "{ref}. Again, that's {ref}. Thank you for calling. Goodbye."
)
ANONYMOUS = (
    "Sorry, I can only help callers whose number is shown. Please call again without hiding "
    "your number, or write to us through our website. Goodbye."
)
TROUBLE = (
    "Sorry, I'm having technical trouble right now. Please call again in a few minutes. Goodbye."
)


def catalogue_hints(catalogue_dir: Path) -> list[str]:
    """Speech hints: service and problem names and their synonyms, within Twilio's limits."""
    try:
        data = read_catalogue(catalogue_dir)
    except CatalogueError as exc:
        log.warning("voice: no speech hints from the catalogue: %s", exc)
        return list(_FIXED_HINTS)
    entries = [*data.services, *data.categories]
    phrases = [
        *_FIXED_HINTS,
        *(e["name"] for e in entries),
        *(s for e in entries for s in e.get("synonyms") or []),
    ]
    hints: list[str] = []
    seen: set[str] = set()
    for phrase in phrases:
        hint = " ".join(re.sub(r"[^\w'&.-]+", " ", str(phrase)).split())[:MAX_HINT_LENGTH]
        if hint and hint.lower() not in seen:
            seen.add(hint.lower())
            hints.append(hint)
    return hints[:MAX_HINTS]


@dataclass(frozen=True)
class Call:
    """One webhook of a call: who is calling, which call, which turn of it."""

    sid: str
    caller: str | None  # E.164; None when the number is withheld
    turn: int
    silence: int
    offer: str | None
    form: Form

    def message_id(self, step: int | str | None = None) -> str:
        """The provider message id of this turn (or of a named step, e.g. "callback")."""
        return f"{self.sid}:{self.turn if step is None else step}"


Handler = Callable[[Request, Call], Awaitable[VoiceResponse]]


def _int(value: str | None, default: int) -> int:
    try:
        return max(0, int(value or default))
    except ValueError:
        return default


class TwilioVoiceChannel:
    name = CHANNEL_NAME
    channel = Channel.VOICE

    def __init__(self, settings: Settings, hints: Sequence[str] = ()) -> None:
        self._signature = TwilioSignature(settings.twilio_auth_token, settings.public_base_url)
        self._base = settings.public_base_url.rstrip("/")
        self._region = settings.default_phone_region
        self._language = settings.voice_language
        self._transfer = settings.voice_transfer_number
        self._hints = ", ".join(hints)

    # -- the channel protocol ----------------------------------------------------------------
    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route(VOICE_PATH, self._twiml(self._call_started), methods=["POST"]),
            Route(GATHER_PATH, self._twiml(self._gathered), methods=["POST"]),
            Route(DIAL_PATH, self._twiml(self._dial_ended), methods=["POST"]),
            Route(STATUS_PATH, self._status, methods=["POST"]),
        ]

    async def start(self, pipeline: object) -> None:
        """Nothing to do: Twilio is told the webhook URLs in its console."""

    async def stop(self) -> None:
        """Nothing to stop."""

    # -- request plumbing ----------------------------------------------------------------------
    async def _call(self, request: Request) -> Call:
        form = await self._signature.verify(request)
        outbound = form.get("Direction", "").startswith("outbound")
        number = form.get("To") if outbound else form.get("From")
        query = request.query_params
        return Call(
            sid=form.get("CallSid") or "",
            caller=to_e164(number, self._region),
            turn=_int(query.get("turn"), 0),
            silence=_int(query.get("silence"), 0),
            offer=query.get("offer"),
            form=form,
        )

    def _twiml(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """A route that always answers Twilio with TwiML, even when something breaks."""

        async def endpoint(request: Request) -> Response:
            try:
                call = await self._call(request)
            except RejectedRequest as exc:
                return PlainTextResponse(exc.detail, status_code=exc.status)
            except Exception:
                log.exception("voice: could not read the request to %s", request.url.path)
                return Response(str(self._goodbye(TROUBLE)), media_type=TWIML)
            try:
                if call.caller is None:
                    twiml = self._goodbye(ANONYMOUS)
                else:
                    twiml = await handler(request, call)
            except Exception:
                log.exception("voice: %s failed for call %s", request.url.path, call.sid)
                twiml = self._goodbye(TROUBLE)
            return Response(str(twiml), media_type=TWIML)

        return endpoint

    def _url(self, path: str, **query: object) -> str:
        params = {k: v for k, v in query.items() if v not in (None, "")}
        return f"{self._base}{path}" + (f"?{urlencode(params)}" if params else "")

    # -- TwiML building blocks -----------------------------------------------------------------
    def _say(self, parent: VoiceResponse | Gather, text: str) -> None:
        for piece in split_text(text, MAX_SAY):
            parent.append(Say(piece, language=self._language))

    def _gather(
        self, text: str, *, turn: int, silence: int = 0, offer: str | None = None
    ) -> Gather:
        gather = Gather(
            input="speech dtmf",
            action=self._url(GATHER_PATH, turn=turn, silence=silence or None, offer=offer),
            method="POST",
            language=self._language,
            hints=self._hints or None,
            speech_timeout="auto",
            timeout=GATHER_TIMEOUT,
            finish_on_key="#",
            action_on_empty_result=True,
        )
        self._say(gather, text)
        return gather

    def _goodbye(self, text: str) -> VoiceResponse:
        response = VoiceResponse()
        self._say(response, text)
        response.append(Hangup())
        return response

    @staticmethod
    def _speech(replies: Sequence[OutboundMessage]) -> str:
        """The replies as one spoken paragraph; buttons become "say … or press N"."""
        parts: list[str] = []
        number = 1
        for reply in replies:
            if reply.text.strip():
                parts.append(to_speech(reply.text))
            if reply.buttons:
                parts.append(choices_prompt([b.title for b in reply.buttons], number))
                number += len(reply.buttons)
        return " ".join(p for p in parts if p)

    # -- turns ---------------------------------------------------------------------------------
    async def _call_started(self, request: Request, call: Call) -> VoiceResponse:
        inbound = self._inbound(call, GREETING_TURN)
        handled = await request.app.state.pipeline.handle(inbound)
        return await self._answer(request, call, handled.replies, next_turn=1, first=True)

    async def _gathered(self, request: Request, call: Call) -> VoiceResponse:
        digits = re.sub(r"\D", "", call.form.get("Digits", ""))
        speech = " ".join(call.form.get("SpeechResult", "").split())
        if not digits and not speech:
            return self._silence(call)
        if call.offer == "callback" and (digits == "1" or _CALL_ME_BACK.search(speech)):
            return await self._callback(request, call, "asked for a call-back", "")
        pipeline = request.app.state.pipeline
        if digits == "0":
            handled = await pipeline.handle(self._inbound(call, HANDOFF_TURN))
            queued = any(r.handoff for r in handled.replies)
            if handled.replies and not queued and APOLOGY not in handled.replies:
                # Not queued (e.g. the team is closed and a call-back is offered instead):
                # the caller hears that and answers it like any other question.
                return await self._answer(request, call, handled.replies, next_turn=call.turn + 1)
            spoken = [r for r in handled.replies if not r.handoff and r != APOLOGY]
            return await self._handoff(request, call, spoken)
        if digits:
            inbound = self._keyed(call, digits)
        else:
            inbound = self._inbound(call, spoken_digits(speech))
        handled = await pipeline.handle(inbound)
        return await self._answer(request, call, handled.replies, next_turn=call.turn + 1)

    def _keyed(self, call: Call, digits: str) -> InboundMessage:
        """Keypad input: 1-9 answers the last buttons; 8 digits are a case number."""
        if len(digits) == 1 and digits.isdigit():
            return self._inbound(call, digits, choice=int(digits))
        if len(digits) == CASE_NUMBER_KEYS and digits.isdigit():
            return self._inbound(call, f"status of case {digits}")
        return self._inbound(call, digits)

    def _inbound(self, call: Call, text: str, *, choice: int | None = None) -> InboundMessage:
        return InboundMessage(
            channel=self.channel,
            external_user_id=call.caller or "",
            text=text,
            provider_message_id=call.message_id(),
            choice=choice,
            raw=dict(call.form),
        )

    async def _answer(
        self,
        request: Request,
        call: Call,
        replies: Sequence[OutboundMessage],
        *,
        next_turn: int,
        first: bool = False,
    ) -> VoiceResponse:
        if any(r.handoff for r in replies):
            return await self._handoff(request, call, [r for r in replies if not r.handoff])
        response = VoiceResponse()
        text = self._speech(replies)
        if any(r == APOLOGY for r in replies):  # the engine is down: offer a call-back
            text = f"{text} {OFFER_CALLBACK}"
            response.append(self._gather(text, turn=next_turn, offer="callback"))
            return response
        if first:
            text = f"{text} {PRESS_ZERO}"
        response.append(self._gather(text.strip() or ANYTHING_ELSE, turn=next_turn))
        return response

    def _silence(self, call: Call) -> VoiceResponse:
        silence = call.silence + 1
        if silence > MAX_REPROMPTS:
            return self._goodbye(GOODBYE)
        last = silence == MAX_REPROMPTS
        text = f"{NOT_HEARD} {OFFER_CALLBACK}" if last else NOT_HEARD
        response = VoiceResponse()
        response.append(
            self._gather(
                text, turn=call.turn, silence=silence, offer="callback" if last else call.offer
            )
        )
        return response

    async def _handoff(
        self, request: Request, call: Call, before: Sequence[OutboundMessage]
    ) -> VoiceResponse:
        """Put the caller through to staff, or, with no line to staff, book a call-back."""
        if not self._transfer:
            prefix = " ".join(p for p in (self._speech(before), NO_STAFF_LINE) if p)
            return await self._callback(request, call, "asked for a member of staff", prefix)
        response = VoiceResponse()
        self._say(response, " ".join(p for p in (self._speech(before), CONNECTING) if p))
        response.append(
            Dial(self._transfer, action=self._url(DIAL_PATH), method="POST", timeout=DIAL_TIMEOUT)
        )
        return response

    async def _dial_ended(self, request: Request, call: Call) -> VoiceResponse:
        if call.form.get("DialCallStatus", "") in DIAL_ANSWERED:
            response = VoiceResponse()
            response.append(Hangup())
            return response
        return await self._callback(request, call, "transfer not answered", NOBODY_ANSWERED)

    async def _callback(
        self, request: Request, call: Call, reason: str, prefix: str
    ) -> VoiceResponse:
        """Open (once per call) a call-back case for the caller and read out its number."""
        sessions = request.app.state.pipeline.sessions
        reference = await run_in_threadpool(
            open_callback_case,
            sessions,
            caller=call.caller or "",
            reason=reason,
            message_id=call.message_id("callback"),
        )
        done = CALLBACK_DONE.format(ref=read_digits(reference))
        return self._goodbye(f"{prefix} {done}".strip())

    # -- the status callback ------------------------------------------------------------------
    async def _status(self, request: Request) -> Response:
        try:
            call = await self._call(request)
        except RejectedRequest as exc:
            return PlainTextResponse(exc.detail, status_code=exc.status)
        if call.caller and call.form.get("CallStatus", "") in CALL_OVER:
            sessions = request.app.state.pipeline.sessions
            await run_in_threadpool(close_voice_conversation, sessions, call.caller)
        return Response(status_code=204)


# -- CRM work, one transaction per call ------------------------------------------------------------
def open_callback_case(
    sessions: sessionmaker[Session], *, caller: str, reason: str, message_id: str
) -> str:
    with transaction(sessions) as session:
        return callbacks.callback_case(session, caller=caller, reason=reason, message_id=message_id)


def close_voice_conversation(sessions: sessionmaker[Session], caller: str) -> bool:
    with transaction(sessions) as session:
        return conversations.close_current(session, Channel.VOICE, caller)


def channel_from_settings(settings: Settings) -> tuple[TwilioVoiceChannel | None, str]:
    if not settings.twilio_enabled:
        return None, f"{', '.join(missing_settings(settings))} not set"
    return TwilioVoiceChannel(settings, catalogue_hints(settings.catalogue_dir)), ""
