"""`make chat`: talk to the running gateway from a terminal, like a web chat user."""

from __future__ import annotations

import uuid

import httpx


def _show(replies: list[dict]) -> list[dict]:
    buttons: list[dict] = []
    for reply in replies:
        print(f"bot> {reply.get('text', '')}")
        for button in reply.get("buttons") or []:
            buttons.append(button)
            print(f"     [{len(buttons)}] {button.get('title')}")
    return buttons


def chat(gateway_url: str, sender: str | None = None) -> int:
    sender = sender or f"terminal-{uuid.uuid4().hex[:12]}"
    url = gateway_url.rstrip("/") + "/webhooks/rest/webhook"
    print(
        f"Chatting with {gateway_url} as {sender}. Type a number to press a button; "
        "Ctrl-D or /quit to leave."
    )
    buttons: list[dict] = []
    with httpx.Client(timeout=30) as client:
        while True:
            try:
                text = input("you> ").strip()
            except (EOFError, KeyboardInterrupt):
                print()
                return 0
            if text in {"/quit", "/exit"}:
                return 0
            if not text:
                continue
            if text.isdigit() and 1 <= int(text) <= len(buttons):
                text = buttons[int(text) - 1]["payload"]
            try:
                response = client.post(url, json={"sender": sender, "message": text})
            except httpx.HTTPError as exc:
                print(
                    f"(the assistant is not reachable at {gateway_url}: {exc}; "
                    "is `make run` running?)"
                )
                continue
            if response.status_code != httpx.codes.OK:
                print(f"(error {response.status_code}: {response.text})")
                continue
            buttons = _show(response.json())
