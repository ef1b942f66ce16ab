"""Find catalogue entries in what citizens type: exact synonyms, phrases inside a sentence
(spaCy's PhraseMatcher on a blank pipeline), then fuzzy closest matches (rapidfuzz)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import spacy
from rapidfuzz import fuzz, process
from spacy.matcher import PhraseMatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import CaseCategory, Service

_NON_WORD = re.compile(r"[^\w\s']+")


def normalize(text: str) -> str:
    """Lower-case, punctuation to spaces, single spaces, typographic apostrophes unified."""
    text = text.replace("’", "'").lower()
    return " ".join(_NON_WORD.sub(" ", text).split())


@lru_cache(maxsize=1)
def _nlp() -> spacy.language.Language:
    return spacy.blank("en")


@dataclass(frozen=True)
class Match:
    key: str
    name: str
    score: float


class TermIndex:
    """Terms (key, name, synonyms) of one kind of catalogue entry, searchable three ways."""

    def __init__(self, entries: Iterable[tuple[str, str, Iterable[str]]]) -> None:
        self.names: dict[str, str] = {}
        self.terms: dict[str, str] = {}  # normalized term -> key
        for key, name, synonyms in entries:
            self.names[key] = name
            for term in (key.replace("_", " "), name, *synonyms):
                self.terms.setdefault(normalize(term), key)
        self._matcher = PhraseMatcher(_nlp().vocab, attr="LOWER")
        nlp = _nlp()
        for term, key in self.terms.items():
            self._matcher.add(key, [nlp.make_doc(term)])

    def resolve(self, value: str | None) -> str | None:
        """The key whose key, name or synonym is exactly `value` (any case), else None."""
        return self.terms.get(normalize(value)) if value else None

    def find_in(self, text: str) -> str | None:
        """The key of the longest term that occurs as a phrase inside `text`."""
        doc = _nlp().make_doc(normalize(text))
        spans = [
            (end - start, start, self._matcher.vocab.strings[mid])
            for mid, start, end in self._matcher(doc)
        ]
        return max(spans)[2] if spans else None

    def closest(self, text: str, limit: int = 3, cutoff: float = 60.0) -> list[Match]:
        """Up to `limit` distinct entries whose terms are most like `text` (best first)."""
        query = normalize(text)
        if not query:
            return []
        found: dict[str, float] = {}
        for term, score, _ in process.extract(
            query, list(self.terms), scorer=fuzz.WRatio, limit=limit * 6, score_cutoff=cutoff
        ):
            key = self.terms[term]
            found[key] = max(found.get(key, 0.0), score)
        ranked = sorted(found.items(), key=lambda kv: -kv[1])[:limit]
        return [Match(key, self.names[key], score) for key, score in ranked]

    def lookup(self, text: str | None) -> str | None:
        """Best single guess: exact, then phrase inside, then a confident fuzzy match."""
        if not text:
            return None
        key = self.resolve(text) or self.find_in(text)
        if key:
            return key
        best = self.closest(text, limit=1, cutoff=88.0)
        return best[0].key if best else None


INDEX_TTL_SECONDS = 60.0
_indexes: dict[tuple[str, str], tuple[float, TermIndex]] = {}


def _cached(session: Session, kind: str, build: Callable[[], TermIndex]) -> TermIndex:
    """Building an index (a spaCy phrase matcher over every term) costs milliseconds, so each
    process keeps it for a minute: catalogue edits show within INDEX_TTL_SECONDS."""
    key = (kind, str(session.get_bind().engine.url))
    now = time.monotonic()
    hit = _indexes.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    index = build()
    _indexes[key] = (now + INDEX_TTL_SECONDS, index)
    return index


def service_index(session: Session) -> TermIndex:
    def build() -> TermIndex:
        rows = session.execute(select(Service.key, Service.name, Service.synonyms)).all()
        return TermIndex((r.key, r.name, r.synonyms or []) for r in rows)

    return _cached(session, "service", build)


def category_index(session: Session) -> TermIndex:
    def build() -> TermIndex:
        rows = session.execute(
            select(CaseCategory.key, CaseCategory.name, CaseCategory.synonyms)
        ).all()
        return TermIndex((r.key, r.name, r.synonyms or []) for r in rows)

    return _cached(session, "category", build)


@lru_cache(maxsize=4)
def aspect_index(catalogue_dir: str) -> TermIndex:
    """Aspects live only in the catalogue files (they are not database rows)."""
    from pathlib import Path

    from bot.catalogue.loader import read_catalogue

    data = read_catalogue(Path(catalogue_dir))
    return TermIndex((a["key"], a["key"].replace("_", " "), a["synonyms"]) for a in data.aspects)
