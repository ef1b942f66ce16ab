"""Generate Rasa lookup tables and synonyms from the catalogue (the one source of truth).

`make` regenerates `data/nlu/catalogue.yml` before training; a test fails when the committed
file and the catalogue drift apart.
"""

from __future__ import annotations

from pathlib import Path

from bot.catalogue.loader import CatalogueData, read_catalogue

HEADER = (
    "# GENERATED from data/catalogue by `python -m bot.cli export-nlu` – do not edit.\n"
    'version: "3.1"\n'
    "nlu:\n"
)


def _terms(entry: dict) -> list[str]:
    terms = [entry["key"].replace("_", " "), entry.get("name", ""), *entry.get("synonyms", [])]
    seen: dict[str, None] = {}
    for term in terms:
        term = " ".join(str(term).lower().split())
        if term and term != entry["key"]:
            seen.setdefault(term, None)
    return list(seen)


def _block(kind: str, name: str, items: list[str]) -> str:
    lines = [f"  - {kind}: {name}", "    examples: |"]
    lines += [f"      - {item}" for item in items]
    return "\n".join(lines) + "\n"


def render_nlu(data: CatalogueData) -> str:
    sections = {"service": data.services, "category": data.categories, "aspect": data.aspects}
    out = [HEADER]
    for entity, entries in sections.items():
        out.append(_block("lookup", entity, sorted({t for e in entries for t in _terms(e)})))
    for entries in sections.values():
        for entry in entries:
            out.append(_block("synonym", entry["key"], _terms(entry)))
    return "".join(out)


def export_nlu(catalogue_dir: Path, target: Path) -> bool:
    """Write the generated file; return True when its content changed."""
    text = render_nlu(read_catalogue(catalogue_dir))
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return False
    target.write_text(text, encoding="utf-8")
    return True
