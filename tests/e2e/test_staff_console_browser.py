"""The staff console in a real headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright), against the real engine, action server and gateway, with SMS going through the
Twilio SDK to the local fake."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select

from bot.db import make_engine, make_sessionmaker, transaction
from bot.models import ChannelIdentity, Conversation, Rating, StaffRole
from bot.services.staff import create_user
from tests.connectors.test_twilio_sms import TwilioWebhooks
from tests.e2e.test_twilio import Texter, a_phone_number

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "browser-test-password"


@pytest.fixture(scope="module")
def staff(stack) -> dict[str, str]:
    """An agent and a supervisor in the stack's CRM."""
    engine = make_engine(stack.config.database_url)
    with transaction(make_sessionmaker(engine)) as session:
        create_user(session, "bea", PASSWORD, display_name="Bea Agent")
        create_user(session, "sol", PASSWORD, role=StaffRole.SUPERVISOR, display_name="Sol Boss")
    engine.dispose()
    return {"agent": "bea", "supervisor": "sol"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, stack) -> Iterator[Page]:
    context = browser.new_context(base_url=stack.config.gateway_url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def texter(stack) -> Iterator[Texter]:
    env = stack.config.extra_env
    with httpx.Client(base_url=stack.config.gateway_url, timeout=60) as client:
        webhooks = TwilioWebhooks(
            client, env["PUBLIC_BASE_URL"].rstrip("/"), env["TWILIO_AUTH_TOKEN"]
        )
        yield Texter(webhooks, a_phone_number())


def sign_in(page: Page, username: str, goto: str = "/staff/queue") -> None:
    page.goto(goto)
    expect(page).to_have_url(re.compile(r"/staff/login"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(goto) + r"$"))


def conversation_id(stack, phone: str) -> int:
    engine = make_engine(stack.config.database_url)
    with make_sessionmaker(engine)() as session:
        found = session.scalar(
            select(Conversation.id)
            .join(ChannelIdentity, ChannelIdentity.citizen_id == Conversation.citizen_id)
            .where(ChannelIdentity.external_id == phone, Conversation.channel == "sms")
            .order_by(Conversation.id.desc())
        )
    engine.dispose()
    assert found is not None
    return found


def eventually(check: Callable[[], object], timeout: float = 15.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_an_agent_takes_an_sms_handoff_replies_resolves_and_the_bot_returns(
    stack, staff, page, texter
):
    asked = texter.texts("I want to talk to a person")
    assert "in the queue" in asked or "You're next" in asked, asked
    convo = conversation_id(stack, texter.number)

    sign_in(page, staff["agent"])
    row = page.locator(
        "#queue-table tbody tr", has=page.locator(f'a[href="/staff/conversations/{convo}"]')
    )
    expect(row).to_contain_text(texter.number)
    expect(row).to_contain_text("SMS")
    expect(row).to_contain_text("Riverton 311 Customer Service")
    row.get_by_role("link", name="Open").click()

    expect(page.locator("#transcript")).to_contain_text("I want to talk to a person")
    page.get_by_role("button", name="Claim").click()
    expect(page.get_by_role("button", name="Resolve")).to_be_visible()

    # While a person owns the conversation the bot says nothing; staff see the message live.
    assert texter.texts("are you there? my bin was not collected") == ""
    expect(page.locator("#transcript")).to_contain_text("my bin was not collected")

    page.locator("#reply-text").fill("Hello, this is Bea. I'll send a crew tomorrow.")
    page.get_by_role("button", name="Send reply").click()
    sent = eventually(
        lambda: [
            m
            for m in stack.twilio.sent_messages(to=texter.number)
            if "I'll send a crew tomorrow" in m.get("Body", "")
        ]
    )
    assert sent, stack.twilio.sent_messages(to=texter.number)

    page.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("button", name="Claim")).to_have_count(0)
    rating_asked = eventually(
        lambda: any(
            "1 (poor) to 5" in m.get("Body", "")
            for m in stack.twilio.sent_messages(to=texter.number)
        )
    )
    assert rating_asked
    assert "Thank you for your rating" in texter.texts("5")

    answer = texter.texts("when is city hall open?")
    assert answer and "hour" in answer.lower(), answer

    engine = make_engine(stack.config.database_url)
    with make_sessionmaker(engine)() as session:
        assert (
            session.scalar(
                select(Rating.score).where(Rating.score.is_not(None)).order_by(Rating.id.desc())
            )
            == 5
        )
    engine.dispose()


def test_pages_without_a_login_redirect_to_it(page):
    for path in ("/staff/queue", "/staff/dashboard", "/staff/audit", "/staff/conversations/1"):
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/staff/login\?next="))
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_form_without_its_csrf_token_is_refused(stack, staff, page, texter):
    texter.texts("can I speak to a human please")
    convo = conversation_id(stack, texter.number)
    sign_in(page, staff["agent"])
    page.goto(f"/staff/conversations/{convo}")
    claim_form = page.locator(f'form[action="/staff/conversations/{convo}/claim"]')
    claim_form.locator('input[name="csrf_token"]').evaluate("input => input.remove()")
    claim_form.get_by_role("button", name="Claim").click()
    expect(page.locator("body")).to_contain_text("Nothing was changed")
    page.goto(f"/staff/conversations/{convo}")
    expect(page.get_by_role("button", name="Claim")).to_be_visible()  # still unclaimed


def test_an_agent_cannot_open_the_audit_log_but_a_supervisor_can(staff, browser, stack):
    for who, allowed in ((staff["agent"], False), (staff["supervisor"], True)):
        context = browser.new_context(base_url=stack.config.gateway_url)
        page = context.new_page()
        sign_in(page, who)
        response = page.goto("/staff/audit")
        if allowed:
            assert response.status == 200
            expect(page.get_by_role("heading", name=re.compile("Audit"))).to_be_visible()
            expect(page.locator("table")).to_contain_text("bea")
        else:
            assert response.status == 403
            expect(page.get_by_role("link", name=re.compile("Audit"))).to_have_count(0)
        context.close()


def test_a_staff_reply_appears_in_the_citizens_web_chat(staff, browser, stack, page):
    citizen = browser.new_context(base_url=stack.config.gateway_url).new_page()
    citizen.goto("/")
    expect(citizen.locator("#log")).to_contain_text("How can I help")
    citizen.locator("#text").fill("I'd like to speak to a real person")
    citizen.locator("#text").press("Enter")
    expect(citizen.locator("#log")).to_contain_text(re.compile("You're next|in the queue"))

    sign_in(page, staff["agent"])
    page.locator("#queue-table tbody tr", has_text="web chat").last.get_by_role(
        "link", name="Open"
    ).click()
    expect(page.locator("#transcript")).to_contain_text("I'd like to speak to a real person")
    page.get_by_role("button", name="Claim").click()
    page.locator("#reply-text").fill("Hi, Bea here from the 311 team. How can I help?")
    page.get_by_role("button", name="Send reply").click()

    # The chat page polls for lines said outside its own requests.
    staff_line = citizen.locator("#log li.staff")
    expect(staff_line).to_contain_text("Bea here from the 311 team", timeout=15_000)
    expect(staff_line).to_contain_text("Bea (staff)")
    expect(citizen.locator("#log")).to_contain_text("has joined the conversation")
    citizen.context.close()
