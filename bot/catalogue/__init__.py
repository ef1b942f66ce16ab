"""The public-service catalogue: YAML files in `data/catalogue`, loaded into the CRM database."""

from bot.catalogue.loader import CatalogueError, load_catalogue, read_catalogue
from bot.catalogue.search import (
    Match,
    TermIndex,
    aspect_index,
    category_index,
    normalize,
    service_index,
)

__all__ = [
    "CatalogueError",
    "Match",
    "TermIndex",
    "aspect_index",
    "category_index",
    "load_catalogue",
    "normalize",
    "read_catalogue",
    "service_index",
]
