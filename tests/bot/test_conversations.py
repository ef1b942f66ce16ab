from bot.models import Channel, ConversationState, Direction
from bot.services import conversations
from bot.services.citizens import citizen_context, resolve_identity


def test_first_contact_creates_a_citizen_and_later_contacts_find_them(session):
    first = resolve_identity(session, Channel.TELEGRAM, "4242", name="Ana")
    again = resolve_identity(session, Channel.TELEGRAM, "4242")
    assert again.id == first.id
    assert again.citizen.name == "Ana"
    other_channel = resolve_identity(session, Channel.WEB, "4242")
    assert other_channel.citizen_id != first.citizen_id  # a web id is not a Telegram id


def test_conversation_is_reused_until_closed_and_sender_id_is_opaque(session):
    cid = resolve_identity(session, Channel.WEB, "w1").citizen_id
    convo = conversations.current_conversation(session, cid, Channel.WEB)
    assert conversations.current_conversation(session, cid, Channel.WEB).id == convo.id
    assert "w1" not in convo.engine_sender_id
    convo.state = ConversationState.CLOSED
    assert conversations.current_conversation(session, cid, Channel.WEB).id != convo.id


def test_redelivered_message_is_stored_once(session):
    cid = resolve_identity(session, Channel.SMS, "+15550001").citizen_id
    convo = conversations.current_conversation(session, cid, Channel.SMS)
    first, new = conversations.record_inbound(session, convo, "hi", provider_message_id="SM1")
    assert new
    conversations.record_outbound(session, convo, "Hello!")
    again, new_again = conversations.record_inbound(session, convo, "hi", provider_message_id="SM1")
    assert not new_again and again.id == first.id
    session.flush()
    assert [m.direction for m in convo.messages] == [Direction.INBOUND, Direction.OUTBOUND]
    assert [m.text for m in conversations.replies_to(session, first)] == ["Hello!"]


def test_unknown_engine_sender_gets_its_own_citizen(session):
    convo = conversations.conversation_for_engine_sender(session, "shell-user")
    assert convo.engine_sender_id == "shell-user"
    assert conversations.conversation_for_engine_sender(session, "shell-user").id == convo.id


def test_citizen_context_knows_a_returning_citizen(session):
    identity = resolve_identity(session, Channel.WEB, "ctx", name="Sam")
    ctx = citizen_context(session, identity.citizen_id)
    assert ctx.name == "Sam" and ctx.open_case_references == ()
