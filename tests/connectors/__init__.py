"""Connector tests, and builders of the providers' payloads they (and the end-to-end tests) post.

`TelegramUser` writes Bot API `Update`s as Telegram sends them for one person: text, a pressed
inline button (from a message the fake Bot API recorded), a shared contact or location, media.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

_update_ids = itertools.count(10_000)
_callback_ids = itertools.count(1)


class TelegramUser:
    """A Telegram user; by default in a private chat with the bot (chat id = user id)."""

    def __init__(
        self,
        user_id: int,
        first_name: str = "Ana",
        *,
        chat: dict[str, Any] | None = None,
    ) -> None:
        self.id = user_id
        self.first_name = first_name
        self.chat = chat or {"id": user_id, "type": "private", "first_name": first_name}
        self._message_ids = itertools.count(1)

    @property
    def user(self) -> dict[str, Any]:
        return {"id": self.id, "is_bot": False, "first_name": self.first_name}

    def message(self, **content: Any) -> dict[str, Any]:
        """An Update with a new message carrying `content` (text=…, sticker=…, …)."""
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat,
            "from": self.user,
            **content,
        }
        return {"update_id": next(_update_ids), "message": message}

    def text(self, text: str) -> dict[str, Any]:
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self.message(text=text, **({"entities": entities} if entities else {}))

    def contact(self, phone_number: str, *, user_id: int | None = None) -> dict[str, Any]:
        """A shared contact card; `user_id` is the Telegram user it belongs to, if any."""
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": self.first_name}
        if user_id is not None:
            contact["user_id"] = user_id
        return self.message(contact=contact)

    def own_contact(self, phone_number: str) -> dict[str, Any]:
        """What the "share my phone number" keyboard button sends."""
        return self.contact(phone_number, user_id=self.id)

    def location(self, latitude: float, longitude: float) -> dict[str, Any]:
        return self.message(location={"latitude": latitude, "longitude": longitude})

    def press(self, sent: dict[str, Any], title: str) -> dict[str, Any]:
        """An Update for pressing the inline button titled `title` under `sent` (the params of
        a sendMessage call the fake Bot API recorded, with its message_id)."""
        buttons = [b for row in sent["reply_markup"]["inline_keyboard"] for b in row]
        (button,) = [b for b in buttons if b["text"] == title]
        message = {
            "message_id": sent["message_id"],
            "date": int(time.time()),
            "chat": self.chat,
            "from": {"id": 1, "is_bot": True, "first_name": "Civicline"},
            "text": sent["text"],
            "reply_markup": sent["reply_markup"],
        }
        query = {
            "id": f"cbq-{next(_callback_ids)}",
            "from": self.user,
            "chat_instance": f"ci-{self.id}",
            "message": message,
            "data": button["callback_data"],
        }
        return {"update_id": next(_update_ids), "callback_query": query}


def sent_with_button(sent: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """The latest sent message offering an inline button titled `title`."""
    for message in reversed(sent):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        if any(b["text"] == title for row in rows for b in row):
            return message
    raise AssertionError(f"no message offers a button {title!r}: {[m['text'] for m in sent]}")
