"""Questions about city services, and bare answers outside a form."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions._crm import clear_stray_report_slots, crm, latest_text, say, settings
from bot.catalogue import aspect_index
from bot.models import utcnow
from bot.services.service_info import answer_service, find_service, suggestions_answer


class AnswerService(Action):
    def name(self) -> str:
        return "action_answer_service"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        cfg = settings()
        text = latest_text(tracker)
        aspects = aspect_index(str(cfg.catalogue_dir))
        aspect = aspects.resolve(next(tracker.get_latest_entity_values("aspect"), None))
        aspect = aspect or aspects.find_in(text)
        entity = next(tracker.get_latest_entity_values("service"), None)
        with crm(tracker) as (session, _):
            found = find_service(session, entity, text)
            service = found.service
            if service is None and aspect and not entity:
                # "how much is it?" right after talking about a service: that service.
                found = find_service(session, tracker.get_slot("service"), "")
                service = found.service
            if service is None:
                say(dispatcher, suggestions_answer(found.suggestions))
                return [SlotSet("aspect", None), *clear_stray_report_slots(tracker)]
            say(dispatcher, answer_service(service, aspect, utcnow(), cfg.tz))
            return [
                SlotSet("service", service.key),
                SlotSet("aspect", None),
                *clear_stray_report_slots(tracker),
            ]


class RouteInform(Action):
    """A bare answer ("passport", "1234-5678") outside a form: act on what it names."""

    def name(self) -> str:
        return "action_route_inform"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        entities = {e.get("entity") for e in (tracker.latest_message or {}).get("entities", [])}
        if "case_number" in entities:
            return [FollowupAction("case_status_form")]
        if "category" in entities:
            return [FollowupAction("report_form")]
        if "service" in entities or "aspect" in entities:
            return [FollowupAction("action_answer_service")]
        if "location" in entities:
            dispatcher.utter_message(
                text="Thanks. Would you like to report a problem at that place?",
                buttons=[{"title": "Report a problem", "payload": "/report_issue"}],
            )
            return []
        dispatcher.utter_message(response="utter_help")
        return []
