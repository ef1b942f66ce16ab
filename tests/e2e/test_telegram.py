"""Telegram end to end: updates posted, as Telegram would, to the webhook the gateway registered
with the fake Bot API; the real engine and actions answer; replies asserted on what the fake
Bot API was asked to send."""

from __future__ import annotations

import itertools
import re
import secrets
from typing import Any

import httpx
import pytest

from bot import references
from bot.db import make_engine, make_sessionmaker, transaction
from bot.gateway.pipeline import PHONE_LINKED
from bot.models import Channel
from bot.services.cases import open_case
from bot.services.citizens import resolve_identity
from connectors import telegram as tg
from tests.connectors import SECRET_HEADER, TelegramUser, sent_with_button

REF = re.compile(r"\b(\d{4})-(\d{4})\b")
_numbers = itertools.count(1)


class TelegramChat:
    """One Telegram user's private chat with the bot, driven through the gateway's webhook."""

    def __init__(self, stack: Any, first_name: str) -> None:
        self.api = stack.telegram
        self.url = self.api.webhook["url"]  # where the gateway told Telegram to post
        self.secret = stack.config.extra_env["TELEGRAM_WEBHOOK_SECRET"]
        self.user = TelegramUser(10_000_000 + secrets.randbelow(10**9), first_name)

    def post(self, update: dict[str, Any]) -> list[dict[str, Any]]:
        """Deliver an update; the messages the bot sent to this chat in answer."""
        before = len(self.api.sent_messages(self.user.id))
        response = httpx.post(
            self.url, json=update, headers={SECRET_HEADER: self.secret}, timeout=60
        )
        assert response.status_code == 200, response.text
        return self.api.sent_messages(self.user.id)[before:]

    def says(self, text: str) -> str:
        return "\n".join(m["text"] for m in self.post(self.user.text(text)))

    def presses(self, title: str) -> str:
        offered = sent_with_button(self.api.sent_messages(self.user.id), title)
        update = self.user.press(offered, title)
        replies = self.post(update)
        answered = self.api.calls_to("answerCallbackQuery")
        assert {"callback_query_id": update["callback_query"]["id"]} in answered
        return "\n".join(m["text"] for m in replies)


def test_the_webhook_is_registered_with_the_secret(stack):
    assert stack.telegram.webhook["url"] == f"{stack.config.gateway_url}/webhooks/telegram"
    assert (
        stack.telegram.webhook["secret_token"] == stack.config.extra_env["TELEGRAM_WEBHOOK_SECRET"]
    )
    rejected = httpx.post(stack.telegram.webhook["url"], json={"update_id": 1}, timeout=10)
    assert rejected.status_code == 403


def test_report_a_pothole_with_the_button_then_check_it(stack):
    ana = TelegramChat(stack, "Ana")
    greeting = ana.post(ana.user.text("/start"))
    assert "Hello Ana!" in greeting[0]["text"]
    assert greeting[-1]["reply_markup"]["keyboard"][0][0]["request_contact"] is True

    summary = ana.says("there is a huge pothole on Main Street and 5th Avenue")
    assert "Pothole" in summary and "Main Street" in summary and "Public Works" in summary
    filed = ana.presses("Yes, send it")
    match = REF.search(filed)
    assert match, filed
    assert "Public Works" in filed

    status = ana.says(f"what's the status of {match.group(0)}")
    assert match.group(0) in status and "received" in status and "Main Street" in status


def an_sms_citizen_with_a_case(stack, phone: str) -> str:
    """A citizen who reported by SMS from `phone`; their case's reference as displayed."""
    db = make_engine(stack.config.database_url)
    try:
        with transaction(make_sessionmaker(db)) as session:
            identity = resolve_identity(session, Channel.SMS, phone)
            case = open_case(
                session,
                citizen_id=identity.citizen_id,
                category_key="pothole",
                description="deep hole by the bus stop",
                location="12 Elm Road",
                channel=Channel.SMS,
            )
            return references.display(case.reference)
    finally:
        db.dispose()


@pytest.mark.parametrize("whose", ["own", "someone else's"])
def test_sharing_a_contact_links_only_ones_own_phone(stack, whose):
    phone = f"+1555{secrets.randbelow(900) + 100}{next(_numbers):04d}"
    reference = an_sms_citizen_with_a_case(stack, phone)
    bo = TelegramChat(stack, "Bo")
    digits = phone.removeprefix("+")  # as Telegram sends an account's number
    if whose == "own":
        assert [m["text"] for m in bo.post(bo.user.own_contact(digits))] == [PHONE_LINKED.text]
        cases = bo.says("what's the status of my cases")
        assert "1 open case" in cases and reference in cases
    else:
        shared = bo.post(bo.user.contact(digits, user_id=bo.user.id + 1))
        assert [m["text"] for m in shared] == [tg.NOT_OWN_CONTACT_TEXT]
        cases = bo.says("what's the status of my cases")
        assert reference not in cases
