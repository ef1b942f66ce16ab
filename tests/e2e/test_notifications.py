"""A status change made through the CRM reaches the citizen on their channel, via the outbox."""

import time

from sqlalchemy import select

from bot.db import make_engine, make_sessionmaker, transaction
from bot.models import CaseStatus, Channel, Notification, NotificationStatus
from bot.services.cases import change_status, open_case
from bot.services.citizens import resolve_identity, set_opted_out


def _wait(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _case_for(stack, channel: Channel, external_id: str, *, opted_out: bool = False) -> int:
    engine = make_engine(stack.config.database_url)
    with transaction(make_sessionmaker(engine)) as session:
        identity = resolve_identity(session, channel, external_id)
        set_opted_out(identity, opted_out)
        case = open_case(
            session,
            citizen_id=identity.citizen_id,
            category_key="pothole",
            description="hole",
            location="Elm Rd",
            channel=channel,
        )
        case_id = case.id
    engine.dispose()
    return case_id


def _change(stack, case_id: int, status: CaseStatus, note: str) -> None:
    engine = make_engine(stack.config.database_url)
    with transaction(make_sessionmaker(engine)) as session:
        from bot.models import Case

        change_status(session, session.get(Case, case_id), status, actor="staff:test", note=note)
    engine.dispose()


def test_status_change_is_texted_to_an_sms_citizen(stack):
    phone = "+15550177001"
    case_id = _case_for(stack, Channel.SMS, phone)
    _change(stack, case_id, CaseStatus.ACKNOWLEDGED, "A crew is scheduled for Monday")
    _wait(lambda: stack.twilio.sent_messages(to=phone))
    (sms,) = stack.twilio.sent_messages(to=phone)
    assert "crew is scheduled" in sms["Body"] and sms["From"]


def test_status_change_reaches_a_telegram_citizen(stack):
    case_id = _case_for(stack, Channel.TELEGRAM, "777001")
    _change(stack, case_id, CaseStatus.ACKNOWLEDGED, "Thanks, we are on it")
    _wait(lambda: stack.telegram.sent_messages(chat_id=777001))
    assert "on it" in stack.telegram.sent_messages(chat_id=777001)[0]["text"]


def test_nothing_goes_to_an_opted_out_number(stack):
    phone = "+15550177002"
    case_id = _case_for(stack, Channel.SMS, phone, opted_out=True)
    _change(stack, case_id, CaseStatus.REJECTED, "Duplicate report")
    engine = make_engine(stack.config.database_url)
    with make_sessionmaker(engine)() as session:
        row = session.scalar(select(Notification).where(Notification.case_id == case_id))
        assert row is not None and row.status is NotificationStatus.SUPPRESSED
    engine.dispose()
    time.sleep(1)  # a few outbox polls
    assert stack.twilio.sent_messages(to=phone) == []
