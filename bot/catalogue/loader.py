"""Read and validate the catalogue files, then upsert them into the database by key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import hours
from bot.models import CannedResponse, CaseCategory, Department, Office, Priority, Service


class CatalogueError(ValueError):
    """A catalogue file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class CatalogueData:
    city: dict[str, Any]
    departments: list[dict[str, Any]]
    offices: list[dict[str, Any]]
    services: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    aspects: list[dict[str, Any]] = field(default_factory=list)
    canned_responses: list[dict[str, Any]] = field(default_factory=list)


_REQUIRED = {
    "departments": ("key", "name", "business_hours"),
    "offices": ("key", "name", "address", "opening_hours"),
    "services": ("key", "name", "department", "summary"),
    "categories": ("key", "name", "department", "sla_days", "location_required"),
    "aspects": ("key", "synonyms"),
}


def _read(directory: Path, name: str) -> Any:
    path = directory / f"{name}.yml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogueError(f"{path} is missing") from exc
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or name not in document:
        raise CatalogueError(f"{path} must have a top-level '{name}' key")
    return document[name]


def read_catalogue(directory: Path) -> CatalogueData:
    """Parse every file and check references between them; raise CatalogueError if wrong."""
    sections = {name: _read(directory, name) for name in _REQUIRED}
    for name, required in _REQUIRED.items():
        seen: set[str] = set()
        for entry in sections[name]:
            missing = [k for k in required if k not in entry]
            if missing:
                raise CatalogueError(f"{name}.yml: {entry.get('key', entry)} lacks {missing}")
            if entry["key"] in seen:
                raise CatalogueError(f"{name}.yml: duplicate key {entry['key']!r}")
            seen.add(entry["key"])
    departments = {d["key"] for d in sections["departments"]}
    offices = {o["key"] for o in sections["offices"]}
    for name, key in (("departments", "business_hours"), ("offices", "opening_hours")):
        for entry in sections[name]:
            try:
                hours.validate(entry[key])
            except ValueError as exc:
                raise CatalogueError(f"{name}.yml: {entry['key']}: {exc}") from exc
    for name in ("services", "categories"):
        for entry in sections[name]:
            if entry["department"] not in departments:
                raise CatalogueError(f"{name}.yml: {entry['key']}: unknown department")
            if entry.get("office") and entry["office"] not in offices:
                raise CatalogueError(f"{name}.yml: {entry['key']}: unknown office")
    for entry in sections["categories"]:
        if not isinstance(entry["sla_days"], int) or entry["sla_days"] < 1:
            raise CatalogueError(f"categories.yml: {entry['key']}: sla_days must be ≥ 1")
        Priority(entry.get("default_priority", "normal"))
    canned = (
        _read(directory, "canned_responses")
        if (directory / "canned_responses.yml").exists()
        else []
    )
    for entry in canned:
        if not all(entry.get(k) for k in ("key", "title", "text")):
            raise CatalogueError(f"canned_responses.yml: {entry} needs key, title and text")
        if entry.get("department") and entry["department"] not in departments:
            raise CatalogueError(f"canned_responses.yml: {entry['key']}: unknown department")
    return CatalogueData(city=_read(directory, "city"), canned_responses=canned, **sections)


def _upsert(session: Session, model: type, key: str, values: dict[str, Any]) -> Any:
    row = session.scalar(select(model).where(model.key == key))
    if row is None:
        row = model(key=key, **values)
        session.add(row)
    else:
        for attr, value in values.items():
            setattr(row, attr, value)
    return row


def load_catalogue(session: Session, directory: Path) -> dict[str, int]:
    """Insert or update every catalogue entry by key (idempotent). Returns counts by kind."""
    data = read_catalogue(directory)
    depts = {
        d["key"]: _upsert(
            session,
            Department,
            d["key"],
            {
                "name": d["name"],
                "phone": d.get("phone"),
                "email": d.get("email"),
                "business_hours": d["business_hours"],
            },
        )
        for d in data.departments
    }
    offices = {
        o["key"]: _upsert(
            session,
            Office,
            o["key"],
            {
                "name": o["name"],
                "address": o["address"],
                "phone": o.get("phone"),
                "opening_hours": o["opening_hours"],
            },
        )
        for o in data.offices
    }
    session.flush()
    for s in data.services:
        _upsert(
            session,
            Service,
            s["key"],
            {
                "name": s["name"],
                "department_id": depts[s["department"]].id,
                "office_id": offices[s["office"]].id if s.get("office") else None,
                "summary": s["summary"],
                "eligibility": s.get("eligibility", ""),
                "documents": list(s.get("documents") or []),
                "fees": s.get("fees", ""),
                "how_to_apply": s.get("how_to_apply", ""),
                "processing_time": s.get("processing_time", ""),
                "synonyms": list(s.get("synonyms") or []),
            },
        )
    for c in data.categories:
        _upsert(
            session,
            CaseCategory,
            c["key"],
            {
                "name": c["name"],
                "department_id": depts[c["department"]].id,
                "sla_days": c["sla_days"],
                "location_required": bool(c["location_required"]),
                "default_priority": Priority(c.get("default_priority", "normal")),
                "synonyms": list(c.get("synonyms") or []),
            },
        )
    for r in data.canned_responses:
        _upsert(
            session,
            CannedResponse,
            r["key"],
            {
                "title": r["title"],
                "text": r["text"],
                "department_id": depts[r["department"]].id if r.get("department") else None,
            },
        )
    session.flush()
    return {
        "departments": len(data.departments),
        "offices": len(data.offices),
        "services": len(data.services),
        "categories": len(data.categories),
        "canned responses": len(data.canned_responses),
    }
