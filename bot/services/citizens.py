"""Citizens and the channel identities that point at them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Channel, ChannelIdentity, Citizen, utcnow


def resolve_identity(
    session: Session, channel: Channel, external_id: str, *, name: str | None = None
) -> ChannelIdentity:
    """The identity for (channel, external id), creating it and a new citizen on first contact.

    A name the channel tells us (Telegram profile, web chat form) fills an empty citizen name.
    """
    identity = session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
        )
    )
    if identity is None:
        citizen = Citizen(name=name, preferred_channel=channel)
        identity = ChannelIdentity(channel=channel, external_id=external_id, citizen=citizen)
        session.add(identity)
        session.flush()
    else:
        identity.last_seen_at = utcnow()
        if name and not identity.citizen.name:
            identity.citizen.name = name
    return identity


@dataclass(frozen=True)
class CitizenContext:
    """What the assistant knows about the citizen at the start of a session."""

    citizen_id: int
    name: str | None
    open_case_references: tuple[str, ...]
    returning: bool


def citizen_context(session: Session, citizen_id: int) -> CitizenContext:
    from bot.services.cases import open_cases
    from bot.services.conversations import conversation_count

    citizen = session.get(Citizen, citizen_id)
    if citizen is None:
        raise LookupError(f"no citizen {citizen_id}")
    refs = tuple(case.reference for case in open_cases(session, citizen_id))
    returning = bool(refs) or conversation_count(session, citizen_id) > 1
    return CitizenContext(citizen.id, citizen.name, refs, returning)
