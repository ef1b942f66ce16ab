"""Reporting an issue: the report form's validation, its confirmation, and opening the case."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions._crm import REPORT_SLOTS as FORM_SLOTS
from actions._crm import crm, latest_intent, latest_text, say, settings
from bot import references
from bot.catalogue import category_index
from bot.models import CaseCategory
from bot.services.cases import MAX_DESCRIPTION, CaseError, open_case
from bot.services.service_info import intent_payload
from connectors.base import Button, OutboundMessage

# Intents that interrupt the form rather than answer it. A description is free text, so only
# clear interruptions count there ("it has been dark for a week" is not a status check).
NOT_A_DESCRIPTION = {"ask_service_info", "bot_challenge", "help", "request_human", "cancel"}


def _category(session: Session, key: str | None) -> CaseCategory | None:
    return session.scalar(select(CaseCategory).where(CaseCategory.key == key)) if key else None


class ValidateReportForm(FormValidationAction):
    def name(self) -> str:
        return "validate_report_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        with crm(tracker) as (session, _):
            category = _category(session, tracker.get_slot("category"))
            if category is not None and not category.location_required:
                return [s for s in domain_slots if s != "location"]
        return domain_slots

    async def extract_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The answer to "describe the problem", or the opening message when it says enough."""
        text, intent = latest_text(tracker).strip(), latest_intent(tracker)
        if text.startswith("/"):
            return {}
        requested = tracker.get_slot("requested_slot")
        if requested == "description" and intent not in NOT_A_DESCRIPTION:
            return {"description": text}
        opening = requested is None and intent == "report_issue"
        if opening and not tracker.get_slot("description") and len(text.split()) >= 4:
            # "There's a pothole outside 12 Elm Road" already describes the problem;
            # "I want to report a problem" does not.
            with crm(tracker) as (session, _):
                if category_index(session).lookup(text):
                    return {"description": text}
        return {}

    async def validate_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        with crm(tracker) as (session, _):
            index = category_index(session)
            key = index.lookup(str(value)) or index.lookup(latest_text(tracker))
            if key:
                return {"category": key}
            matches = index.closest(str(value), limit=3, cutoff=50.0)
        if matches:
            say(
                dispatcher,
                OutboundMessage(
                    "I'm not sure what kind of problem that is. Is it one of these?",
                    tuple(
                        Button(m.name, intent_payload("inform", category=m.key)) for m in matches
                    ),
                ),
            )
        else:
            dispatcher.utter_message(
                text="Sorry, I don't know that kind of problem. Try a word like pothole, "
                "streetlight, graffiti, noise or missed collection."
            )
        return {"category": None}

    async def validate_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if len(text) < 3:
            dispatcher.utter_message(text="Please tell me a little more about the problem.")
            return {"description": None}
        if len(text) > MAX_DESCRIPTION:
            dispatcher.utter_message(
                text=f"That's a bit long – please keep it under {MAX_DESCRIPTION} characters."
            )
            return {"description": None}
        return {"description": text}

    async def validate_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if len(text) < 3 or len(text) > 400:
            dispatcher.utter_message(
                text="Please give a street address, an intersection or a landmark, "
                'e.g. "12 Elm Road" or "Main St and 5th Ave".'
            )
            return {"location": None}
        return {"location": text}


class AskReportConfirmed(Action):
    """The summary read back before anything is filed."""

    def name(self) -> str:
        return "action_ask_report_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        with crm(tracker) as (session, _):
            category = _category(session, tracker.get_slot("category"))
            lines = [
                "Here is your report:",
                f"• Problem: {category.name if category else tracker.get_slot('category')}",
                f"• Details: {tracker.get_slot('description')}",
            ]
            if tracker.get_slot("location"):
                lines.append(f"• Location: {tracker.get_slot('location')}")
            team = category.department.name if category else "the city"
            lines.append(f"Shall I send it to {team}?")
        dispatcher.utter_message(
            text="\n".join(lines),
            buttons=[
                {"title": "Yes, send it", "payload": "/affirm"},
                {"title": "No, don't send", "payload": "/deny"},
            ],
        )
        return []


class SubmitReport(Action):
    def name(self) -> str:
        return "action_submit_report"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        reset = [SlotSet(slot, None) for slot in FORM_SLOTS]
        if not tracker.get_slot("report_confirmed"):
            dispatcher.utter_message(
                text="Okay, I have not sent the report. Is there anything else I can help with?"
            )
            return reset
        try:
            with crm(tracker) as (session, conversation):
                case = open_case(
                    session,
                    citizen_id=conversation.citizen_id,
                    category_key=tracker.get_slot("category"),
                    description=tracker.get_slot("description"),
                    location=tracker.get_slot("location"),
                    channel=conversation.channel,
                    conversation_id=conversation.id,
                )
                ref, team = references.display(case.reference), case.department.name
                due = case.due_at.astimezone(settings().tz)
        except CaseError as exc:
            dispatcher.utter_message(text=f"Sorry, I couldn't file that report: {exc}.")
            return reset
        dispatcher.utter_message(
            text=f"Thank you – your report is filed. Your case number is {ref}. "
            f"{team} will handle it; you can expect an answer by {due:%A %-d %B}. "
            "Keep the number to check on it later."
        )
        count = float(tracker.get_slot("open_case_count") or 0) + 1
        return [*reset, SlotSet("open_case_count", count)]


class CancelForm(Action):
    def name(self) -> str:
        return "action_cancel_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(
            text="Okay, I've stopped – nothing was sent. Is there anything else I can help with?"
        )
        slots = (
            *FORM_SLOTS,
            "case_number",
            "case_lookup_abandoned",
            "callback_offered",
            "callback_phone",
            "callback_abandoned",
        )
        return [
            *(SlotSet(s, None) for s in slots),
            SlotSet("case_number_attempts", 0.0),
            SlotSet("callback_phone_attempts", 0.0),
        ]
