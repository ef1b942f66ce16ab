"""Satisfaction ratings (CSAT): after a handoff or a case is resolved the citizen is asked for
1–5 on their channel (buttons where there are any, digits on SMS), and the answer is stored.

The question stays open until the citizen's next message: a rating answers it; anything else
closes it unanswered and goes to the assistant as usual, so a stale question never swallows
a later "3" meant for something else.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import (
    AuthorKind,
    Case,
    Channel,
    Conversation,
    Rating,
    utcnow,
)
from bot.references import display
from bot.services.delivery import enqueue_line, say
from bot.services.notifications import choose_identity

QUESTION = "How would you rate the help you got? Please choose from 1 (poor) to 5 (excellent)."
THANKS = "Thank you for your rating – it helps us improve."
BUTTONS = [
    {"title": f"{n} – {label}", "payload": str(n)}
    for n, label in ((1, "poor"), (2, "fair"), (3, "good"), (4, "very good"), (5, "excellent"))
]
#: An unanswered question older than this is forgotten.
OPEN_FOR = timedelta(days=2)
_SCORE = re.compile(r"^\s*([1-5])(\s*(/\s*5|stars?|★+))?\s*[.!]?\s*$", re.IGNORECASE)


def ask_after_handoff(
    session: Session, conversation: Conversation, *, handoff_id: int, staff_id: int | None
) -> Rating | None:
    """Ask in the conversation itself (it is live: the citizen has just been helped).

    None on a phone call: the caller was put through to the staff line and is gone."""
    if conversation.channel is Channel.VOICE:
        return None
    _close_open(session, conversation.citizen_id, conversation.channel)
    rating = Rating(
        citizen_id=conversation.citizen_id,
        channel=conversation.channel,
        handoff_id=handoff_id,
        staff_id=staff_id,
        asked_at=utcnow(),
    )
    session.add(rating)
    say(session, conversation, QUESTION, author=AuthorKind.SYSTEM, buttons=BUTTONS)
    return rating


def ask_after_case(session: Session, case: Case) -> Rating | None:
    """Ask through the outbox, on the channel the case update goes to; None if none can."""
    identity = choose_identity(session, case.citizen)
    if identity is None:
        return None
    _close_open(session, case.citizen_id, identity.channel)
    now = utcnow()
    rating = Rating(
        citizen_id=case.citizen_id, channel=identity.channel, case_id=case.id, asked_at=now
    )
    session.add(rating)
    text = f"About case {display(case.reference)}: {QUESTION}"
    enqueue_line(session, identity, text, buttons=BUTTONS, case_id=case.id)
    return rating


def parse_score(text: str, choice: int | None = None) -> int | None:
    """1–5 from a pressed button, a bare digit, "4/5" or "5 stars"; None otherwise."""
    if choice is not None and 1 <= choice <= 5:
        return choice
    match = _SCORE.match(text or "")
    return int(match.group(1)) if match else None


def take_answer(
    session: Session,
    citizen_id: int,
    channel: Channel,
    text: str,
    *,
    choice: int | None = None,
    now: datetime | None = None,
) -> str | None:
    """If a rating question is open for the citizen on this channel, settle it with this
    message. Returns the thanks to send when the message was the rating, else None."""
    now = now or utcnow()
    pending = _open(session, citizen_id, channel, now)
    if pending is None:
        return None
    score = parse_score(text, choice)
    pending.answered_at = now
    if score is None:
        return None  # not a rating: the question closes unanswered
    pending.score = score
    return THANKS


def _open(session: Session, citizen_id: int, channel: Channel, now: datetime) -> Rating | None:
    return session.scalar(
        select(Rating)
        .where(
            Rating.citizen_id == citizen_id,
            Rating.channel == channel,
            Rating.answered_at.is_(None),
            Rating.asked_at >= now - OPEN_FOR,
        )
        .order_by(Rating.id.desc())
        .limit(1)
    )


def _close_open(session: Session, citizen_id: int, channel: Channel) -> None:
    """A new question replaces an older open one."""
    now = utcnow()
    for old in session.scalars(
        select(Rating).where(
            Rating.citizen_id == citizen_id,
            Rating.channel == channel,
            Rating.answered_at.is_(None),
        )
    ):
        old.answered_at = now
