"""`make run`'s command starts all three processes, says where to chat, and Ctrl-C stops all."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx

from bot import REPO_ROOT
from bot.runner import free_port


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_run_prints_the_chat_url_and_ctrl_c_stops_everything(tmp_path):
    ports = {"rasa": free_port(), "actions": free_port(), "gateway": free_port()}
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'crm.db'}",
        "STATE_DIR": str(tmp_path / "run"),
        "GATEWAY_PORT": str(ports["gateway"]),
        "RASA_URL": f"http://127.0.0.1:{ports['rasa']}",
        "ACTION_SERVER_URL": f"http://127.0.0.1:{ports['actions']}",
        "TELEGRAM_BOT_TOKEN": "",
        "TWILIO_ACCOUNT_SID": "",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = []
    try:
        deadline = time.monotonic() + 300
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if "Press Ctrl-C to stop" in line or time.monotonic() > deadline:
                break
        text = "".join(output)
        assert f"http://127.0.0.1:{ports['gateway']}/" in text, text
        # Each channel says whether it is on; without credentials Telegram and SMS are off.
        assert "Telegram:  off (TELEGRAM_BOT_TOKEN not set)" in text, text
        assert "SMS:       off" in text, text
        health = httpx.get(f"http://127.0.0.1:{ports['gateway']}/healthz", timeout=10)
        assert health.status_code == 200
        # The demo catalogue was loaded: a service question is answered from it.
        reply = httpx.post(
            f"http://127.0.0.1:{ports['gateway']}/webhooks/rest/webhook",
            json={"sender": "demo", "message": "how much is a library card"},
            timeout=30,
        ).json()
        assert "Library card" in reply[0]["text"]
        # The staff console is printed with its demo sign-in, and that sign-in works.
        assert f"http://127.0.0.1:{ports['gateway']}/staff/" in text, text
        assert "password civicline-demo" in text, text
        with httpx.Client(base_url=f"http://127.0.0.1:{ports['gateway']}", timeout=10) as staff:
            form = staff.get("/staff/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
            signed_in = staff.post(
                "/staff/login",
                data={"csrf_token": token, "username": "agent", "password": "civicline-demo"},
            )
            assert signed_in.status_code == 303, signed_in.text
            assert staff.get("/staff/queue").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(output) + rest
    assert "stopped." in rest
    assert not any(_listening(port) for port in ports.values())
