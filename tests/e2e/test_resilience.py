"""The engine stops mid-conversation: citizens get an apology, nothing is lost, and the
conversation carries on where it was once the engine is back."""

import uuid

from sqlalchemy import select

from bot.db import make_engine, make_sessionmaker
from bot.gateway.pipeline import APOLOGY
from bot.models import Message
from tests.e2e.conftest import Citizen


def test_engine_down_mid_report_then_back(stack):
    hal = Citizen(stack.config.gateway_url, f"web-{uuid.uuid4().hex[:8]}")
    assert "What kind of problem" in hal.says("i want to report a problem")
    stack.stack.stop_process("engine")
    try:
        assert hal.says("fallen tree") == APOLOGY.text
    finally:
        stack.stack.start_process("engine")
        stack.stack.wait_healthy(timeout=300)

    engine = make_engine(stack.config.database_url)
    with make_sessionmaker(engine)() as session:
        kept = session.scalar(select(Message).where(Message.text == "fallen tree"))
        assert kept is not None and kept.engine_error
    engine.dispose()

    # The engine kept its tracker: the report form is still waiting for the category.
    assert "describe" in hal.says("fallen tree").lower()
