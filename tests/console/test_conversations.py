"""Working the queue through the console: the queue page and its live stream, claiming,
replying, transferring, resolving, and the audit trail they leave."""

from __future__ import annotations

import json

from markupsafe import escape
from sqlalchemy import select

from bot.models import (
    AuditEntry,
    AuthorKind,
    CannedResponse,
    Channel,
    Conversation,
    ConversationState,
    HandoffRequest,
    Message,
    Notification,
    NotificationStatus,
    Rating,
)
from bot.services.takeover import RESOLVED
from tests.console.conftest import Console

GENERAL = "Riverton 311 Customer Service"


def actions(console: Console) -> list[tuple[str, str | None]]:
    with console.db() as s:
        return [(e.action, e.target) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_the_queue_shows_who_waits_where_and_for_how_long(console: Console) -> None:
    console.sign_in_as("alice")
    sms = console.waiting()
    console.waiting(channel=Channel.VOICE, external_id="+15550100002", name="Vic Voice")
    page = console.client.get("/staff/queue", params={"department": "all"})
    assert page.status_code == 200
    table = page.text[page.text.index('id="queue-table"') : page.text.index("</table>")]
    assert "Rita Resident" in table and "SMS" in table and GENERAL in table
    assert "phone (transferred)" in table and "Vic Voice" in table
    assert f'href="/staff/conversations/{sms}"' in table
    assert "2 waiting · longest wait" in page.text
    assert " s</td>" in table  # the wait, in seconds so far

    rows = console.client.get("/staff/api/queue", params={"department": "all"}).json()["waiting"]
    assert [(r["citizen"], r["position"], r["channel"]) for r in rows] == [
        ("Rita Resident", 1, "SMS"),
        ("Vic Voice", 2, "phone (transferred)"),
    ]
    assert rows[0]["department"] == GENERAL and rows[0]["waiting_seconds"] >= 0


def test_the_queue_filters_by_department(console: Console) -> None:
    console.staff("sandy", department="sanitation")
    console.login("sandy")
    console.waiting()
    mine = console.client.get("/staff/queue")  # default: the user's own department
    assert "Nobody is waiting." in mine.text
    everyone = console.client.get("/staff/queue", params={"department": "all"})
    assert "Rita Resident" in everyone.text


def test_the_stream_sends_the_queue(console: Console) -> None:
    console.sign_in_as("alice")
    conversation_id = console.waiting()
    with console.client.stream("GET", "/staff/api/queue/stream?department=all") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        event = next(line for line in lines if line.startswith("event:"))
        data = next(lines)
    assert event == "event: queue"
    waiting = json.loads(data.removeprefix("data: "))["waiting"]
    assert [w["conversation_id"] for w in waiting] == [conversation_id]


def test_claim_then_reply_reaches_the_transcript_and_the_sms_outbox(console: Console) -> None:
    alice = console.sign_in_as("alice")
    conversation_id = console.waiting()
    url = f"/staff/conversations/{conversation_id}"

    claimed = console.post(f"{url}/claim")
    assert (claimed.status_code, claimed.headers["location"]) == (303, url)
    page = console.client.get(url)
    assert "You have claimed the conversation." in page.text
    assert "has joined the conversation" in page.text

    reply = "Your bin will be collected tomorrow morning."
    assert console.post(f"{url}/reply", {"text": reply}).status_code == 303
    with console.db() as s:
        message = s.scalar(select(Message).where(Message.text == reply))
        assert message is not None and message.author_kind is AuthorKind.STAFF
        outbox = s.scalar(select(Notification).where(Notification.message_id == message.id))
        assert outbox is not None and outbox.status is NotificationStatus.PENDING
        assert (outbox.channel, outbox.recipient) == (Channel.SMS, "+15550100001")
        request = s.scalars(select(HandoffRequest)).one()
        assert request.claimed_by_id == alice

    page = console.client.get(url).text
    assert reply in page and "Staff: Alice Smith" in page
    assert 'class="delivery delivery-pending"' in page
    lines = console.client.get(f"/staff/api/conversations/{conversation_id}/messages").json()
    mine = next(m for m in lines["messages"] if m["text"] == reply)
    assert (mine["author_kind"], mine["channel"], mine["delivery"]) == ("staff", "SMS", "pending")
    later = console.client.get(
        f"/staff/api/conversations/{conversation_id}/messages", params={"after": mine["id"]}
    ).json()
    assert later["messages"] == [] and later["state"] == "with_staff"
    assert ("claim", f"conversation:{conversation_id}") in actions(console)
    assert ("reply", f"conversation:{conversation_id}") in actions(console)


def test_viewing_a_conversation_is_audited_and_shows_the_whole_history(console: Console) -> None:
    console.sign_in_as("alice")
    first = console.waiting(channel=Channel.TELEGRAM, external_id="777", text="hello on telegram")
    with console.db() as s:
        citizen_id = s.get(Conversation, first).citizen_id
        s.add(CannedResponse(key="thanks", title="Thank you", text="Thanks <b>for</b> waiting."))
    page = console.client.get(f"/staff/conversations/{first}")
    assert ("view_citizen", f"citizen:{citizen_id}") in actions(console)
    assert "hello on telegram" in page.text and "Telegram" in page.text
    assert "Private notes" in page.text and "never shown to the citizen" in page.text
    assert 'value="Thanks &lt;b&gt;for&lt;/b&gt; waiting."' in page.text  # escaped


def test_a_note_stays_private(console: Console) -> None:
    console.sign_in_as("alice")
    conversation_id = console.waiting()
    url = f"/staff/conversations/{conversation_id}"
    console.post(f"{url}/note", {"text": "Called before about the same bin."})
    assert "Called before about the same bin." in console.client.get(url).text
    with console.db() as s:
        assert s.scalar(select(Message).where(Message.text.contains("same bin"))) is None
    assert ("note", f"conversation:{conversation_id}") in actions(console)


def test_transfer_moves_the_conversation_to_another_department(console: Console) -> None:
    console.sign_in_as("alice")
    conversation_id = console.waiting()
    url = f"/staff/conversations/{conversation_id}"
    console.post(f"{url}/claim")
    moved = console.post(f"{url}/transfer", {"department": "sanitation"})
    assert moved.status_code == 303
    assert (
        "Transferred to the Sanitation and Recycling team."
        in console.client.get(moved.headers["location"]).text
    )
    with console.db() as s:
        request = s.scalars(select(HandoffRequest)).one()
        assert request.department.key == "sanitation" and request.claimed_at is None
        assert s.get(Conversation, conversation_id).state is ConversationState.WAITING_FOR_STAFF
    assert ("transfer", f"conversation:{conversation_id}") in actions(console)


def test_resolve_returns_the_conversation_to_the_bot_and_asks_for_a_rating(
    console: Console,
) -> None:
    alice = console.sign_in_as("alice")
    conversation_id = console.waiting()
    url = f"/staff/conversations/{conversation_id}"
    console.post(f"{url}/claim")
    assert console.post(f"{url}/resolve").status_code == 303
    with console.db() as s:
        assert s.get(Conversation, conversation_id).state is ConversationState.BOT
        rating = s.scalars(select(Rating)).one()
        assert (rating.staff_id, rating.score) == (alice, None)
        assert rating.handoff_id == s.scalars(select(HandoffRequest)).one().id
    assert str(escape(RESOLVED)) in console.client.get(url).text
    assert ("resolve", f"conversation:{conversation_id}") in actions(console)


def test_a_refused_action_shows_its_reason_not_a_stack_trace(console: Console) -> None:
    console.sign_in_as("alice")
    conversation_id = console.waiting()
    url = f"/staff/conversations/{conversation_id}"
    refused = console.post(f"{url}/hand_back")
    assert (refused.status_code, refused.headers["location"]) == (303, url)
    page = console.client.get(url)
    assert page.status_code == 200
    assert 'role="alert">only a conversation a person owns can be handed back' in page.text
    assert "Traceback" not in page.text
    assert ("hand_back", f"conversation:{conversation_id}") not in actions(console)


def test_take_over_and_priority(console: Console) -> None:
    console.sign_in_as("alice")
    waiting = console.waiting()
    url = f"/staff/conversations/{waiting}"
    assert console.post(f"{url}/priority", {"priority": "2"}).status_code == 303
    with console.db() as s:
        assert s.scalars(select(HandoffRequest)).one().priority == 2
    queue = console.client.get("/staff/queue", params={"department": "all"}).text
    assert "priority-urgent" in queue

    with console.db() as s:
        live = s.get(Conversation, waiting)
        other = Conversation(citizen_id=live.citizen_id, channel=Channel.WEB, engine_sender_id="x")
        s.add(other)
        s.flush()
        other_id = other.id
    queue = console.client.get("/staff/queue").text
    assert f'action="/staff/conversations/{other_id}/take_over"' in queue
    console.post(f"/staff/conversations/{other_id}/take_over")
    with console.db() as s:
        assert s.get(Conversation, other_id).state is ConversationState.WITH_STAFF
    mine = console.client.get("/staff/queue").text
    assert f'href="/staff/conversations/{other_id}">Open' in mine
    assert ("take_over", f"conversation:{other_id}") in actions(console)
    assert ("priority", f"conversation:{waiting}") in actions(console)
