"""Citizens and the channel identities that point at them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.models import Channel, ChannelIdentity, Citizen, utcnow

PHONE_CHANNELS = (Channel.SMS, Channel.VOICE)


def resolve_identity(
    session: Session, channel: Channel, external_id: str, *, name: str | None = None
) -> ChannelIdentity:
    """The identity for (channel, external id), creating it on first contact.

    SMS and voice identities are E.164 numbers: a new one joins the citizen who already has
    that phone, so texting and calling from one number is one citizen. A name the channel tells
    us (Telegram profile, web chat form) fills an empty citizen name.
    """
    identity = session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
        )
    )
    if identity is None:
        citizen = None
        if channel in PHONE_CHANNELS:
            citizen = session.scalar(select(Citizen).where(Citizen.phone == external_id))
        if citizen is None:
            phone = external_id if channel in PHONE_CHANNELS else None
            citizen = Citizen(name=name, phone=phone, preferred_channel=channel)
        identity = ChannelIdentity(channel=channel, external_id=external_id, citizen=citizen)
        session.add(identity)
        session.flush()
    else:
        identity.last_seen_at = utcnow()
        if name and not identity.citizen.name:
            identity.citizen.name = name
    return identity


def link_phone(session: Session, identity: ChannelIdentity, phone: str) -> Citizen:
    """Join this identity's citizen with whoever already has `phone` (E.164).

    Used when a channel vouches that the number is the sender's own (a Telegram contact whose
    user id is the sender's). Everything of the other citizen record – identities,
    conversations, cases, notifications – moves to the one that had the phone first.
    """
    from bot.models import Case, Conversation, Notification

    current = identity.citizen
    owner = session.scalar(select(Citizen).where(Citizen.phone == phone))
    if owner is None:
        current.phone = current.phone or phone
        return current
    if owner.id == current.id:
        return owner
    for model in (ChannelIdentity, Conversation, Case, Notification):
        session.execute(
            update(model).where(model.citizen_id == current.id).values(citizen_id=owner.id)
        )
    owner.name = owner.name or current.name
    owner.email = owner.email or current.email
    session.flush()
    session.expire_all()
    session.delete(session.get(Citizen, current.id))
    session.flush()
    return owner


def set_opted_out(identity: ChannelIdentity, opted_out: bool) -> None:
    """Record STOP (no proactive messages on this channel identity) or START."""
    identity.opted_out_at = utcnow() if opted_out else None


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
