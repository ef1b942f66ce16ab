"""Civicline: the CRM store, its services, the gateway and the command line."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

__all__ = ["REPO_ROOT"]
