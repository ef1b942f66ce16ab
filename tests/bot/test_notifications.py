"""A case's status change queues one notification, on the right channel, in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import make_engine, make_sessionmaker, transaction
from bot.models import (
    Case,
    CaseStatus,
    Channel,
    ChannelIdentity,
    Citizen,
    Notification,
    NotificationStatus,
)
from bot.references import display
from bot.services import notifications
from bot.services.cases import change_status, open_case
from bot.services.citizens import resolve_identity, set_opted_out

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
PHONE = "+15555550123"
TELEGRAM_ID = "777000111"


def identity(
    session: Session, channel: Channel, external_id: str, *, seen: datetime, citizen=None
) -> ChannelIdentity:
    """An identity last seen at `seen`; joined to `citizen` when given, else a new citizen."""
    if citizen is None:
        found = resolve_identity(session, channel, external_id)
    else:
        found = ChannelIdentity(channel=channel, external_id=external_id, citizen=citizen)
        session.add(found)
    found.last_seen_at = seen
    session.flush()
    return found


def case_for(session: Session, citizen: Citizen) -> Case:
    return open_case(
        session,
        citizen_id=citizen.id,
        category_key="pothole",
        description="Deep hole, cars swerving",
        location="12 Elm Road",
        channel=Channel.WEB,
        now=NOW,
    )


def queued(session: Session, case: Case) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.case_id == case.id)))


def acknowledge(session: Session, case: Case, **kw) -> None:
    change_status(session, case, CaseStatus.ACKNOWLEDGED, actor="staff:1", now=NOW, **kw)


def test_status_change_queues_one_sms_with_reference_status_and_note(session):
    citizen = identity(session, Channel.SMS, PHONE, seen=NOW).citizen
    case = case_for(session, citizen)
    acknowledge(session, case, note="A crew is booked for Monday.")

    [note] = queued(session, case)
    assert (note.channel, note.recipient) == (Channel.SMS, PHONE)
    assert note.status is NotificationStatus.PENDING
    assert (note.citizen_id, note.attempts, note.next_attempt_at) == (citizen.id, 0, NOW)
    assert note.text == (
        f"Update on your case {display(case.reference)} (Pothole): "
        "it is now reviewed and accepted.\n"
        "A crew is booked for Monday.\n"
        "Reply STOP to opt out."
    )


def test_every_visible_change_queues_its_own_notification(session):
    citizen = identity(session, Channel.TELEGRAM, TELEGRAM_ID, seen=NOW).citizen
    case = case_for(session, citizen)
    acknowledge(session, case)
    change_status(session, case, CaseStatus.IN_PROGRESS, actor="staff:1", now=NOW)

    texts = [n.text for n in queued(session, case)]
    assert texts == [
        f"Update on your case {display(case.reference)} (Pothole): "
        "it is now reviewed and accepted.",
        f"Update on your case {display(case.reference)} (Pothole): it is now being worked on.",
    ]  # Telegram: no SMS footer, and no empty note line


def test_preferred_channel_wins_over_the_last_used_one(session):
    citizen = identity(session, Channel.TELEGRAM, TELEGRAM_ID, seen=NOW - timedelta(days=9)).citizen
    identity(session, Channel.SMS, PHONE, seen=NOW, citizen=citizen)
    assert citizen.preferred_channel is Channel.TELEGRAM
    case = case_for(session, citizen)
    acknowledge(session, case)

    [note] = queued(session, case)
    assert (note.channel, note.recipient) == (Channel.TELEGRAM, TELEGRAM_ID)


def test_without_a_reachable_preferred_channel_the_last_used_one_is_chosen(session):
    citizen = identity(session, Channel.WEB, "web-abc", seen=NOW).citizen  # prefers web chat
    identity(session, Channel.SMS, PHONE, seen=NOW - timedelta(days=2), citizen=citizen)
    identity(session, Channel.TELEGRAM, TELEGRAM_ID, seen=NOW - timedelta(days=1), citizen=citizen)
    case = case_for(session, citizen)
    acknowledge(session, case)

    [note] = queued(session, case)
    assert (note.channel, note.recipient) == (Channel.TELEGRAM, TELEGRAM_ID)


def test_an_opted_out_number_is_skipped_for_telegram(session):
    sms = identity(session, Channel.SMS, PHONE, seen=NOW)
    identity(
        session, Channel.TELEGRAM, TELEGRAM_ID, seen=NOW - timedelta(days=30), citizen=sms.citizen
    )
    set_opted_out(sms, True)
    case = case_for(session, sms.citizen)
    acknowledge(session, case)

    [note] = queued(session, case)
    assert (note.channel, note.recipient) == (Channel.TELEGRAM, TELEGRAM_ID)
    assert "STOP" not in note.text


def test_opted_out_everywhere_is_suppressed_with_the_reason(session):
    sms = identity(session, Channel.SMS, PHONE, seen=NOW)
    set_opted_out(sms, True)
    case = case_for(session, sms.citizen)
    acknowledge(session, case)

    [note] = queued(session, case)
    assert note.status is NotificationStatus.SUPPRESSED
    assert (note.channel, note.recipient) == (None, None)
    assert note.last_error == notifications.ALL_OPTED_OUT


@pytest.mark.parametrize("channel", [Channel.WEB, Channel.VOICE])
def test_web_chat_and_voice_cannot_be_reached_proactively(session, channel):
    citizen = identity(session, channel, "+15555550199", seen=NOW).citizen
    case = case_for(session, citizen)
    acknowledge(session, case)

    [note] = queued(session, case)
    assert note.status is NotificationStatus.SUPPRESSED
    assert note.last_error == notifications.NO_CHANNEL
    assert display(case.reference) in note.text  # kept for the record


def test_internal_changes_notify_nobody(session):
    citizen = identity(session, Channel.SMS, PHONE, seen=NOW).citizen
    case = case_for(session, citizen)
    acknowledge(session, case, note="Contractor quote pending", visible_to_citizen=False)

    assert queued(session, case) == []


def test_a_rolled_back_status_change_queues_nothing(session):
    citizen = identity(session, Channel.SMS, PHONE, seen=NOW).citizen
    case = case_for(session, citizen)
    with pytest.raises(RuntimeError), session.begin_nested():
        acknowledge(session, case)
        assert len(queued(session, case)) == 1
        raise RuntimeError("the caller's transaction fails after the change")

    assert queued(session, case) == []


def test_a_failed_transaction_queues_nothing_in_the_database(sqlite_url):
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    try:
        with transaction(sessions) as session:
            case_id = case_for(session, identity(session, Channel.SMS, PHONE, seen=NOW).citizen).id
        with pytest.raises(RuntimeError), transaction(sessions) as session:
            acknowledge(session, session.get(Case, case_id))
            raise RuntimeError("e.g. the console's request fails later")
        with transaction(sessions) as session:
            assert session.get(Case, case_id).status is CaseStatus.NEW
            assert session.scalars(select(Notification)).all() == []
    finally:
        engine.dispose()


def test_a_long_note_is_shortened_to_fit_one_message(session):
    citizen = identity(session, Channel.SMS, PHONE, seen=NOW).citizen
    case = case_for(session, citizen)
    acknowledge(session, case, note="word " * 1000)

    [note] = queued(session, case)
    assert len(note.text) <= notifications.MAX_TEXT
    assert note.text.endswith("…\nReply STOP to opt out.")


def test_back_off_doubles_from_five_seconds_up_to_fifteen_minutes():
    delays = [notifications.retry_delay(n).total_seconds() for n in range(1, 11)]
    assert delays == [5, 10, 20, 40, 80, 160, 320, 640, 900, 900]
