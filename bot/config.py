"""Settings, read once from the environment (and an untracked `.env`) and validated at start."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot import REPO_ROOT


class Settings(BaseSettings):
    """Everything an operator can configure. Environment variables use the upper-case names."""

    model_config = SettingsConfigDict(
        env_file=REPO_ROOT / ".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'civicline.db'}"
    catalogue_dir: Path = REPO_ROOT / "data" / "catalogue"
    state_dir: Path = REPO_ROOT / "var" / "run"
    city_timezone: str = ""  # empty: the timezone in data/catalogue/city.yml

    rasa_url: str = "http://127.0.0.1:5005"
    rasa_auth_token: str = ""
    action_server_url: str = "http://127.0.0.1:5055"
    engine_timeout_seconds: float = Field(default=15.0, gt=0)

    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str = ""
    redis_url: str = ""

    # Channels: a channel whose credentials are missing is off (and says so at start).
    telegram_bot_token: str = ""
    telegram_webhook_secret: str = ""
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_number: str = ""
    twilio_api_base_url: str = "https://api.twilio.com"
    voice_language: str = "en-US"
    voice_transfer_number: str = ""
    default_phone_region: str = "US"

    # The staff console. `make run` creates demo accounts unless DEMO_STAFF=false.
    demo_staff: bool = True

    # Proactive notifications (the outbox).
    outbox_poll_seconds: float = Field(default=2.0, gt=0)
    outbox_max_attempts: int = Field(default=8, ge=1)

    @field_validator("city_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if not value:
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The city's time zone: CITY_TIMEZONE, else the catalogue's city.yml."""
        return ZoneInfo(self.city_timezone or _catalogue_timezone(self.catalogue_dir))

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.public_base_url)

    @property
    def gateway_url(self) -> str:
        return self.public_base_url.rstrip("/") or f"http://{self.gateway_host}:{self.gateway_port}"


@lru_cache(maxsize=4)
def _catalogue_timezone(catalogue_dir: Path) -> str:
    city = yaml.safe_load((catalogue_dir / "city.yml").read_text(encoding="utf-8"))["city"]
    return str(city.get("timezone") or "UTC")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own `Settings`)."""
    return Settings()
