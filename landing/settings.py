"""Where the warehouse and the landing files live: environment variables, else the defaults
under data/ that dbt's profiles.yml also uses."""

from __future__ import annotations

import os
from pathlib import Path

from landing.contract import PROJECT_DIR

WAREHOUSE_ENV = "AW_WAREHOUSE_PATH"
LANDING_ENV = "AW_LANDING_DIR"
MODELS_ENV = "AW_MODELS_DIR"
PUBLISHED_ENV = "AW_PUBLISHED_PATH"
PUBLISH_IDENTIFIERS_ENV = "AW_PUBLISH_IDENTIFIERS"


def _resolve(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (PROJECT_DIR / path).resolve()


def warehouse_path() -> Path:
    return _resolve(os.environ.get(WAREHOUSE_ENV, "data/warehouse.duckdb"))


def landing_dir() -> Path:
    return _resolve(os.environ.get(LANDING_ENV, "data/landing"))


def models_dir() -> Path:
    return _resolve(os.environ.get(MODELS_ENV, "data/models"))


def published_path() -> Path:
    return _resolve(os.environ.get(PUBLISHED_ENV, "data/published/warehouse.duckdb"))


def publish_identifiers() -> bool:
    """Whether the published snapshot also carries the restricted schema (e-mail, names, phone)."""
    return os.environ.get(PUBLISH_IDENTIFIERS_ENV, "").strip().lower() in ("1", "true", "yes")
