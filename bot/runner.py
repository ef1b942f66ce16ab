"""Start the three processes (Rasa engine, action server, gateway), wait until healthy, stop
them cleanly. Used by `make run` and by the end-to-end tests (on free ports)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot import REPO_ROOT

ENGINE_BIN = REPO_ROOT / ".venv-engine" / "bin"
APP_PYTHON = Path(sys.executable)
MODEL = REPO_ROOT / "models" / "civicline.tar.gz"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StackConfig:
    database_url: str
    state_dir: Path
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    actions_port: int = 5055
    gateway_port: int = 8000
    auth_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    model: Path = MODEL
    redis_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_port}"


class StackError(RuntimeError):
    pass


class Stack:
    """The running assistant. Use as a context manager, or call start() and stop()."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.log_dir = config.state_dir / "log"

    # -- configuration handed to the children ----------------------------------------------
    def _endpoints_file(self) -> Path:
        cfg = self.config
        lines = [
            "action_endpoint:",
            f"  url: {cfg.actions_url}/webhook",
            "tracker_store:",
            "  type: SQL",
            "  dialect: sqlite",
            f"  db: {cfg.state_dir / 'engine-tracker.db'}",
        ]
        if cfg.redis_url:
            url = httpx.URL(cfg.redis_url)
            lines += [
                "lock_store:",
                "  type: redis",
                f"  url: {url.host}",
                f"  port: {url.port or 6379}",
                f"  db: {url.path.strip('/') or 0}",
            ]
        path = cfg.state_dir / "endpoints.yml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def _env(self) -> dict[str, str]:
        cfg = self.config
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": cfg.database_url,
                "RASA_URL": cfg.rasa_url,
                "RASA_AUTH_TOKEN": cfg.auth_token,
                "ACTION_SERVER_URL": cfg.actions_url,
                "GATEWAY_HOST": cfg.host,
                "GATEWAY_PORT": str(cfg.gateway_port),
                "SANIC_HOST": cfg.host,  # rasa-sdk binds here instead of 0.0.0.0
                "PYTHONUNBUFFERED": "1",
                "RASA_TELEMETRY_ENABLED": "false",
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            }
        )
        env.update(cfg.extra_env)
        return env

    def commands(self) -> dict[str, list[str]]:
        cfg = self.config
        return {
            "engine": [
                str(ENGINE_BIN / "rasa"),
                "run",
                "--enable-api",
                # One argument: a token may start with "-" (token_urlsafe), which argparse
                # would otherwise read as an option and refuse to start.
                f"--auth-token={cfg.auth_token}",
                "-i",
                cfg.host,
                "-p",
                str(cfg.rasa_port),
                "-m",
                str(cfg.model),
                "--endpoints",
                str(self._endpoints_file()),
                "--credentials",
                str(REPO_ROOT / "credentials.yml"),
            ],
            "actions": [
                str(APP_PYTHON),
                "-m",
                "rasa_sdk",
                "--actions",
                "actions",
                "-p",
                str(cfg.actions_port),
            ],
            "gateway": [
                str(APP_PYTHON),
                "-m",
                "uvicorn",
                "bot.gateway:create_app",
                "--factory",
                "--host",
                cfg.host,
                "--port",
                str(cfg.gateway_port),
                "--no-access-log",
            ],
        }

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        if not self.config.model.exists():
            raise StackError(f"no trained model at {self.config.model}; run `make train`")
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in self.commands():
            self.start_process(name)

    def start_process(self, name: str) -> None:
        """Start one of the three (again, e.g. after `stop_process` in a test)."""
        with (self.log_dir / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                self.commands()[name],
                cwd=REPO_ROOT,
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def probes(self) -> dict[str, str]:
        cfg = self.config
        return {
            "engine": f"{cfg.rasa_url}/status?token={cfg.auth_token}",
            "actions": f"{cfg.actions_url}/health",
            "gateway": f"{cfg.gateway_url}/healthz",
        }

    def wait_healthy(self, timeout: float = 240.0) -> None:
        """Block until every process answers its health check; raise StackError otherwise."""
        deadline = time.monotonic() + timeout
        pending = dict(self.probes())
        with httpx.Client(timeout=3) as client:
            while pending:
                for name, proc in self.processes.items():
                    if proc.poll() is not None:
                        raise StackError(
                            f"{name} exited with code {proc.returncode}; "
                            f"see {self.log_dir / (name + '.log')}"
                        )
                for name, url in list(pending.items()):
                    try:
                        if client.get(url).status_code == httpx.codes.OK:
                            del pending[name]
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    raise StackError(
                        f"not healthy after {timeout:.0f}s: {', '.join(pending)}; "
                        f"logs in {self.log_dir}"
                    )
                if pending:
                    time.sleep(0.5)

    def stop_process(self, name: str, grace: float = 15.0) -> None:
        proc = self.processes.get(name)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        # The gateway first (no new messages), then the engine, then the actions it calls.
        for name in ("gateway", "engine", "actions"):
            self.stop_process(name)

    def __enter__(self) -> Stack:
        self.start()
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
