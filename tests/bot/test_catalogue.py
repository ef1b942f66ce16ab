"""The demo catalogue: loads idempotently, stays the one source of truth for the NLU data."""

import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bot import REPO_ROOT
from bot.catalogue import CatalogueError, load_catalogue, read_catalogue
from bot.catalogue.nlu_export import render_nlu
from bot.catalogue.search import TermIndex, category_index, service_index
from bot.models import CaseCategory, Service

CATALOGUE = REPO_ROOT / "data" / "catalogue"
ANNOTATION = re.compile(r"\[([^\]]+)\]\((service|category|aspect)\)")

REQUIRED_SERVICES = {
    "drivers_licence_renewal",
    "passport",
    "birth_certificate",
    "birth_registration",
    "marriage_certificate",
    "property_tax",
    "residential_parking_permit",
    "business_licence",
    "garbage_collection",
    "unemployment_benefits",
    "pension_benefits",
    "food_assistance",
    "building_permit",
    "voter_registration",
    "library_card",
    "transit_pass",
    "child_health_insurance",
    "city_hall_hours",
}
REQUIRED_CATEGORIES = {
    "pothole",
    "streetlight_out",
    "missed_collection",
    "graffiti",
    "noise_complaint",
    "water_leak",
    "fallen_tree",
    "abandoned_vehicle",
    "illegal_dumping",
    "traffic_signal_fault",
    "damaged_sidewalk",
    "stray_animal",
}


def test_demo_catalogue_has_what_the_city_needs():
    data = read_catalogue(CATALOGUE)
    assert len(data.departments) >= 4 and len(data.offices) >= 2
    assert len(data.services) >= 20 and len(data.categories) >= 12
    assert {s["key"] for s in data.services} >= REQUIRED_SERVICES
    assert {c["key"] for c in data.categories} >= REQUIRED_CATEGORIES


def test_loading_twice_changes_nothing(session):
    before = session.scalar(select(func.count(Service.id)))
    load_catalogue(session, CATALOGUE)
    load_catalogue(session, CATALOGUE)
    assert session.scalar(select(func.count(Service.id))) == before
    assert session.scalar(select(func.count(CaseCategory.id))) == len(
        read_catalogue(CATALOGUE).categories
    )


def test_canned_responses_load_for_everyone_or_one_department(session):
    from bot.models import CannedResponse

    rows = {r.key: r for r in session.scalars(select(CannedResponse))}
    assert len(rows) == len(read_catalogue(CATALOGUE).canned_responses) >= 6
    assert rows["greeting"].department_id is None
    assert rows["pothole_timeline"].department_id is not None


def test_edits_to_the_files_update_the_database(session, tmp_path):
    for f in CATALOGUE.glob("*.yml"):
        (tmp_path / f.name).write_text(f.read_text())
    services = yaml.safe_load((tmp_path / "services.yml").read_text())
    services["services"][0]["fees"] = "Now free of charge"
    (tmp_path / "services.yml").write_text(yaml.safe_dump(services))
    load_catalogue(session, tmp_path)
    key = services["services"][0]["key"]
    assert session.scalar(select(Service.fees).where(Service.key == key)) == "Now free of charge"


@pytest.mark.parametrize(
    "file, mutate, message",
    [
        (
            "services.yml",
            lambda d: d["services"][0].update(department="nowhere"),
            "unknown department",
        ),
        ("departments.yml", lambda d: d["departments"][0]["business_hours"].pop("sun"), "exactly"),
        ("categories.yml", lambda d: d["categories"][0].update(sla_days=0), "sla_days"),
        ("services.yml", lambda d: d["services"].append(dict(d["services"][0])), "duplicate key"),
        (
            "canned_responses.yml",
            lambda d: d["canned_responses"][0].update(department="nowhere"),
            "unknown department",
        ),
        (
            "canned_responses.yml",
            lambda d: d["canned_responses"][0].update(text=""),
            "needs key, title and text",
        ),
    ],
)
def test_broken_catalogue_files_are_refused_clearly(tmp_path, file, mutate, message):
    for f in CATALOGUE.glob("*.yml"):
        (tmp_path / f.name).write_text(f.read_text())
    data = yaml.safe_load((tmp_path / file).read_text())
    mutate(data)
    (tmp_path / file).write_text(yaml.safe_dump(data))
    with pytest.raises(CatalogueError, match=message):
        read_catalogue(tmp_path)


def test_generated_nlu_file_matches_the_catalogue():
    committed = (REPO_ROOT / "data" / "nlu" / "catalogue.yml").read_text(encoding="utf-8")
    assert committed == render_nlu(read_catalogue(CATALOGUE)), (
        "data/nlu/catalogue.yml is stale: run `make train` (python -m bot.cli export-nlu)"
    )


def _index(kind: str) -> TermIndex:
    data = read_catalogue(CATALOGUE)
    entries = {"service": data.services, "category": data.categories, "aspect": data.aspects}
    return TermIndex((e["key"], e.get("name", e["key"]), e["synonyms"]) for e in entries[kind])


@pytest.mark.parametrize(
    "path",
    [
        REPO_ROOT / "data" / "nlu" / "nlu.yml",
        REPO_ROOT / "tests" / "nlu_test_set.yml",
        REPO_ROOT / "tests" / "test_stories.yml",
    ],
)
def test_every_annotated_entity_is_in_the_catalogue(path: Path):
    indexes = {kind: _index(kind) for kind in ("service", "category", "aspect")}
    unknown = [
        (text, kind)
        for text, kind in ANNOTATION.findall(path.read_text())
        if indexes[kind].resolve(text) is None
    ]
    assert not unknown, f"annotations missing from the catalogue synonyms: {unknown}"


@pytest.mark.parametrize(
    "text, key",
    [
        ("pasport", "passport"),
        ("how do I renew my drivers license", "drivers_licence_renewal"),
        ("Library Card!", "library_card"),
        ("bin day", "garbage_collection"),
    ],
)
def test_services_are_found_the_way_citizens_write_them(session, text, key):
    assert service_index(session).lookup(text) == key


def test_unknown_service_gets_closest_matches_not_a_guess(session):
    index = service_index(session)
    assert index.lookup("passprot renewl") in {"passport", None}
    assert index.lookup("quantum entanglement") is None
    assert index.closest("parking permit")[0].key == "residential_parking_permit"


def test_categories_found_inside_sentences(session):
    assert category_index(session).lookup("there is a big pot hole outside") == "pothole"


def _examples(path: Path) -> dict[str, str]:
    """Example sentence (annotations stripped, lower-cased) → intent."""
    found: dict[str, str] = {}
    for block in yaml.safe_load(path.read_text())["nlu"]:
        if "intent" in block:
            for line in block["examples"].splitlines():
                text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", line.strip()[2:]).lower()
                found[text] = block["intent"]
    return found


def test_team_nlu_test_set_is_held_out_from_training():
    training = _examples(REPO_ROOT / "data" / "nlu" / "nlu.yml")
    held_out = _examples(REPO_ROOT / "tests" / "nlu_test_set.yml")
    assert len(held_out) >= 150
    assert not set(training) & set(held_out), "test sentences leaked into the training data"
    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text())
    assert set(held_out.values()) == set(domain["intents"]) - {"nlu_fallback"}
