"""Proactive notifications: what to tell a citizen, on which channel, and the outbox's rules.

A case's status change queues a `Notification` in the same transaction (so a rolled-back change
queues nothing); `bot.outbox.OutboxWorker` sends the queue. The rules live here, the worker only
moves bytes:

* Channel: the citizen's preferred channel if it can be reached proactively (SMS, Telegram) and
  is not opted out, else their most recently used SMS/Telegram identity that is not opted out.
  Web chat and voice cannot be reached proactively; with no channel left the notification is
  stored as SUPPRESSED with the reason.
* Delivery: a worker claims a due PENDING row with a compare-and-set UPDATE
  (PENDING → SENDING, lease until `locked_until`), so several workers never send one row twice.
  Opt-out is checked again at send time. A transient error retries with exponential back-off,
  a permanent one (or the last attempt) marks the row FAILED.
* At-least-once in one case only: a worker that dies between the provider accepting the message
  and recording SENT leaves the row SENDING; when its lease expires the row goes back to PENDING
  and is sent again. Everything else is exactly-once.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.models import (
    Case,
    CaseEvent,
    Channel,
    ChannelIdentity,
    Citizen,
    Notification,
    NotificationStatus,
    utcnow,
)
from bot.references import display

#: Channels on which the city can start a conversation (web chat and voice cannot).
PROACTIVE_CHANNELS = (Channel.SMS, Channel.TELEGRAM)

#: Longest notification text: one concatenated SMS (Twilio's limit), one Telegram message.
MAX_TEXT = 1600

#: How long a claimed row belongs to its worker; longer than any send can take.
LEASE = timedelta(minutes=5)

BASE_DELAY = timedelta(seconds=5)
MAX_DELAY = timedelta(minutes=15)

SMS_FOOTER = "Reply STOP to opt out."
NO_CHANNEL = "no SMS or Telegram identity (web chat and voice cannot be reached proactively)"
ALL_OPTED_OUT = "opted out on every channel that can be reached proactively"
OPTED_OUT_SINCE_QUEUED = "recipient opted out after the notification was queued"
LEASE_EXPIRED = "the worker sending it stopped (lease expired) on the last attempt"


# -- what and where ------------------------------------------------------------------------


def choose_identity(session: Session, citizen: Citizen) -> ChannelIdentity | None:
    """The identity to notify: preferred channel first, else the most recently used one.

    Only SMS and Telegram identities that have not opted out qualify.
    """
    candidates = list(
        session.scalars(
            select(ChannelIdentity)
            .where(
                ChannelIdentity.citizen_id == citizen.id,
                ChannelIdentity.channel.in_(PROACTIVE_CHANNELS),
                ChannelIdentity.opted_out_at.is_(None),
            )
            .order_by(ChannelIdentity.last_seen_at.desc(), ChannelIdentity.id.desc())
        )
    )
    preferred = [i for i in candidates if i.channel == citizen.preferred_channel]
    return (preferred or candidates or [None])[0]


def case_update_text(case: Case, event: CaseEvent, channel: Channel) -> str:
    """The message for a status change: reference, new status in words, the note if any."""
    from bot.services.cases import STATUS_TEXT

    status = event.to_status or case.status
    head = (
        f"Update on your case {display(case.reference)} ({case.category.name}): "
        f"it is now {STATUS_TEXT[status]}."
    )
    footer = f"\n{SMS_FOOTER}" if channel is Channel.SMS else ""
    note = " ".join(event.note.split())
    room = MAX_TEXT - len(head) - len(footer) - 1
    if len(note) > room:
        note = note[: max(room - 1, 0)].rstrip() + "…"
    return f"{head}\n{note}{footer}" if note else f"{head}{footer}"


def enqueue_case_update(
    session: Session, case: Case, event: CaseEvent, *, now: datetime | None = None
) -> Notification | None:
    """Queue the notification of a status change, in the caller's transaction.

    Internal changes (`visible_to_citizen` false) notify nobody and return None. With no
    reachable channel the row is stored SUPPRESSED, with the reason in `last_error`.
    """
    if not event.visible_to_citizen or event.to_status is None:
        return None
    now = now or utcnow()
    citizen = case.citizen
    identity = choose_identity(session, citizen)
    if identity is None:
        notification = Notification(
            citizen_id=citizen.id,
            case_id=case.id,
            text=case_update_text(case, event, Channel.WEB),
            status=NotificationStatus.SUPPRESSED,
            last_error=_no_channel_reason(session, citizen),
            next_attempt_at=now,
            created_at=now,
        )
    else:
        notification = Notification(
            citizen_id=citizen.id,
            case_id=case.id,
            channel=identity.channel,
            recipient=identity.external_id,
            text=case_update_text(case, event, identity.channel),
            status=NotificationStatus.PENDING,
            next_attempt_at=now,
            created_at=now,
        )
    session.add(notification)
    session.flush()
    return notification


def _no_channel_reason(session: Session, citizen: Citizen) -> str:
    opted_out = session.scalar(
        select(ChannelIdentity.id).where(
            ChannelIdentity.citizen_id == citizen.id,
            ChannelIdentity.channel.in_(PROACTIVE_CHANNELS),
        )
    )
    return ALL_OPTED_OUT if opted_out is not None else NO_CHANNEL


# -- the outbox's life cycle ---------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the `attempts`-th failed attempt: 5 s, 10 s, 20 s … capped at 15 min."""
    return min(BASE_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY)


def release_expired_leases(session: Session, now: datetime, max_attempts: int) -> int:
    """Rows left SENDING by a worker that stopped mid-send go back to PENDING (or FAILED).

    This is the one at-least-once path: the provider may have accepted the message already.
    Returns the number of rows released.
    """
    stale = (
        Notification.status == NotificationStatus.SENDING,
        Notification.locked_until < now,
    )
    if session.scalar(select(Notification.id).where(*stale).limit(1)) is None:
        return 0  # the usual case: no write, so no write lock taken on every poll
    failed = session.execute(
        update(Notification)
        .where(*stale, Notification.attempts >= max_attempts)
        .values(status=NotificationStatus.FAILED, locked_until=None, last_error=LEASE_EXPIRED)
        .execution_options(synchronize_session=False)
    ).rowcount
    retried = session.execute(
        update(Notification)
        .where(*stale)
        .values(status=NotificationStatus.PENDING, locked_until=None, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return failed + retried


def due_notification_ids(
    session: Session, now: datetime, channels: Collection[Channel], limit: int = 50
) -> list[int]:
    """PENDING rows whose time has come, on the given channels, oldest first."""
    if not channels:
        return []
    return list(
        session.scalars(
            select(Notification.id)
            .where(
                Notification.status == NotificationStatus.PENDING,
                Notification.next_attempt_at <= now,
                Notification.channel.in_(list(channels)),
            )
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(limit)
        )
    )


def claim(session: Session, notification_id: int, now: datetime) -> Notification | None:
    """Take a due PENDING row for this worker (compare-and-set); None if another one has it.

    The claimed row is SENDING with one more attempt counted and a lease: its `locked_until`
    is the claim's token for `mark_sent` / `mark_failed_attempt`. If the recipient has opted
    out since the row was queued, it is SUPPRESSED instead and must not be sent: check
    `status` before sending.
    """
    taken = session.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.status == NotificationStatus.PENDING,
            Notification.next_attempt_at <= now,
        )
        .values(
            status=NotificationStatus.SENDING,
            locked_until=now + LEASE,
            attempts=Notification.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        return None
    notification = session.get(Notification, notification_id, populate_existing=True)
    if notification is None:  # deleted meanwhile
        return None
    if not may_receive(session, notification):
        notification.status = NotificationStatus.SUPPRESSED
        notification.locked_until = None
        notification.last_error = OPTED_OUT_SINCE_QUEUED
        session.flush()
    return notification


def may_receive(session: Session, notification: Notification) -> bool:
    """Whether the row's recipient still accepts proactive messages on its channel."""
    identity = session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == notification.channel,
            ChannelIdentity.external_id == notification.recipient,
        )
    )
    return identity is not None and identity.opted_out_at is None


def mark_sent(
    session: Session,
    notification_id: int,
    claimed_until: datetime,
    provider_message_id: str,
    now: datetime,
) -> bool:
    """Record a delivery to the provider; False if the claim was lost (its lease expired)."""
    return _finish(
        session,
        notification_id,
        claimed_until,
        status=NotificationStatus.SENT,
        sent_at=now,
        provider_message_id=provider_message_id[:200],
        last_error=None,
    )


def mark_failed_attempt(
    session: Session,
    notification_id: int,
    claimed_until: datetime,
    error: str,
    now: datetime,
    *,
    permanent: bool,
    max_attempts: int,
    retry_after: timedelta | None = None,
) -> NotificationStatus | None:
    """Record a failed attempt: retry later (PENDING, back-off) or give up (FAILED).

    Gives up on a permanent error or after `max_attempts` attempts. Returns the new status, or
    None if the claim was lost (its lease expired).
    """
    attempts = session.scalar(
        select(Notification.attempts).where(Notification.id == notification_id)
    )
    if attempts is None:
        return None
    error = error[:500]
    if permanent or attempts >= max_attempts:
        status = NotificationStatus.FAILED
        values: dict[str, object] = {}
    else:
        status = NotificationStatus.PENDING
        delay = max(retry_delay(attempts), retry_after or timedelta(0))
        values = {"next_attempt_at": now + delay}
    done = _finish(
        session, notification_id, claimed_until, status=status, last_error=error, **values
    )
    return status if done else None


def _finish(
    session: Session, notification_id: int, claimed_until: datetime, **values: object
) -> bool:
    """End a claim: compare-and-set on (SENDING, this claim's lease), so a row that another
    worker claimed after this claim's lease expired is left alone."""
    changed = session.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.status == NotificationStatus.SENDING,
            Notification.locked_until == claimed_until,
        )
        .values(locked_until=None, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    return changed == 1
