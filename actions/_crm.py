"""What every action needs: a CRM transaction for the tracker's conversation, and replies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings, get_settings
from bot.db import make_engine, make_sessionmaker, transaction
from bot.models import Conversation
from bot.services.conversations import conversation_for_engine_sender
from connectors.base import OutboundMessage


@lru_cache(maxsize=1)
def _factory() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(get_settings().database_url))


def settings() -> Settings:
    return get_settings()


@contextmanager
def crm(tracker: Tracker) -> Iterator[tuple[Session, Conversation]]:
    """One transaction per action run, with the conversation behind this sender."""
    with transaction(_factory()) as session:
        yield session, conversation_for_engine_sender(session, tracker.sender_id)


def say(dispatcher: CollectingDispatcher, answer: OutboundMessage) -> None:
    dispatcher.utter_message(
        text=answer.text,
        buttons=[{"title": b.title, "payload": b.payload} for b in answer.buttons],
    )


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def latest_intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


REPORT_SLOTS = ("category", "description", "location", "report_confirmed")


def clear_stray_report_slots(tracker: Tracker) -> list[SlotSet]:
    """Entities in a message outside the report form ("is the library on Main St open?") fill
    the report's slots too; forget them so a later report asks afresh."""
    if (tracker.active_loop or {}).get("name") == "report_form":
        return []
    return [SlotSet(slot, None) for slot in REPORT_SLOTS if tracker.get_slot(slot) is not None]
