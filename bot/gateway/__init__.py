"""The ASGI gateway every channel goes through (`create_app`)."""

from bot.gateway.app import create_app

__all__ = ["create_app"]
