"""Answers about the public-service catalogue: one aspect, or a summary with offers of more."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import hours
from bot.catalogue import Match, service_index
from bot.models import Service
from connectors.base import Button, OutboundMessage

ASPECTS = (
    "fees",
    "documents",
    "hours",
    "eligibility",
    "how_to_apply",
    "processing_time",
    "location",
)
ASPECT_LABELS = {
    "fees": "Fees",
    "documents": "Documents",
    "hours": "Opening hours",
    "eligibility": "Who can apply",
    "how_to_apply": "How to apply",
    "processing_time": "Processing time",
    "location": "Where to go",
}
SUMMARY_OFFERS = ("documents", "fees", "how_to_apply", "hours")


def intent_payload(intent: str, **entities: str) -> str:
    """A Rasa button payload that triggers `intent` with the given entities."""
    return f"/{intent}{json.dumps(entities, separators=(',', ':'))}" if entities else f"/{intent}"


@dataclass(frozen=True)
class ServiceLookup:
    service: Service | None
    suggestions: list[Match]


def find_service(session: Session, entity: str | None, text: str) -> ServiceLookup:
    """Resolve the service from the NLU entity, else from the text; else offer the closest."""
    index = service_index(session)
    key = index.resolve(entity) or index.lookup(entity) or index.lookup(text)
    if key:
        return ServiceLookup(session.scalar(select(Service).where(Service.key == key)), [])
    return ServiceLookup(None, index.closest(entity or text, limit=3, cutoff=50.0))


def _hours_text(service: Service, now: datetime, tz: ZoneInfo) -> str:
    place = service.office
    if place is not None:
        weekly, name = place.opening_hours, place.name
    else:
        weekly, name = service.department.business_hours, service.department.name
    return f"{name} is {hours.describe_open_now(weekly, now, tz)}. Hours: {hours.describe(weekly)}."


def _location_text(service: Service) -> str:
    if service.office is not None:
        return f"Go to {service.office.name}, {service.office.address}."
    dept = service.department
    contact = ", ".join(x for x in (dept.phone, dept.email) if x)
    return f"This is handled by {dept.name}" + (f" ({contact})." if contact else ".")


def aspect_text(service: Service, aspect: str, now: datetime, tz: ZoneInfo) -> str:
    if aspect == "fees":
        return f"{service.name} – fees: {service.fees or 'no fee is listed.'}"
    if aspect == "documents":
        if not service.documents:
            return f"{service.name}: no documents are needed."
        listed = "\n".join(f"• {doc}" for doc in service.documents)
        return f"For {service.name} you need:\n{listed}"
    if aspect == "hours":
        return f"{service.name}: {_hours_text(service, now, tz)}"
    if aspect == "eligibility":
        return f"{service.name} – who can apply: {service.eligibility or 'anyone.'}"
    if aspect == "how_to_apply":
        return f"{service.name} – how to apply: {service.how_to_apply}"
    if aspect == "processing_time":
        return f"{service.name} – processing time: {service.processing_time or 'not listed.'}"
    if aspect == "location":
        return f"{service.name}: {_location_text(service)}"
    raise ValueError(f"unknown aspect {aspect!r}")


def answer_service(
    service: Service, aspect: str | None, now: datetime, tz: ZoneInfo
) -> OutboundMessage:
    """The aspect asked about, or a summary with buttons offering the main aspects."""
    if aspect in ASPECTS:
        others = [a for a in SUMMARY_OFFERS if a != aspect][:3]
        return OutboundMessage(aspect_text(service, aspect, now, tz), _offers(service, others))
    text = f"{service.name}: {service.summary}"
    if service.fees:
        text += f"\nFees: {service.fees}"
    text += "\nWhat would you like to know more about?"
    return OutboundMessage(text, _offers(service, SUMMARY_OFFERS))


def _offers(service: Service, aspects: tuple[str, ...] | list[str]) -> tuple[Button, ...]:
    return tuple(
        Button(ASPECT_LABELS[a], intent_payload("ask_service_info", service=service.key, aspect=a))
        for a in aspects
    )


def suggestions_answer(matches: list[Match]) -> OutboundMessage:
    if not matches:
        return OutboundMessage(
            "I couldn't find that service. Try a few words, for example "
            '"passport fees" or "library card".'
        )
    return OutboundMessage(
        "I'm not sure which service you mean. Did you mean one of these?",
        tuple(Button(m.name, intent_payload("ask_service_info", service=m.key)) for m in matches),
    )
