"""The raw-data contract, read from the dbt source YAML so that dbt, the landing step and the docs
share one definition of every landed table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from warehouse.context import PROJECT_DIR

STAGING_DIR = PROJECT_DIR / "models" / "staging"
DBT_PROJECT_FILE = PROJECT_DIR / "dbt_project.yml"


def landing_identifiers(project_file: Path = DBT_PROJECT_FILE) -> dict[str, dict[str, str]]:
    """The dbt var landing_identifiers: per `source.table`, the columns naming a person by kind."""
    document = yaml.safe_load(project_file.read_text()) or {}
    return (document.get("vars") or {}).get("landing_identifiers") or {}


@dataclass(frozen=True)
class LandingTable:
    """One table a user drops files for, e.g. crm/contacts."""

    source: str
    table: str
    schema: str
    identifier: str
    columns: tuple[str, ...]
    required: bool
    required_columns: tuple[str, ...]
    # Columns naming a person, by erasure kind (email, contact_id, ...): dbt var landing_identifiers.
    identifiers: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.source}/{self.table}"


class ContractError(ValueError):
    """The source YAML itself is inconsistent; a developer error, not a data error."""


def load_contract(staging_dir: Path = STAGING_DIR) -> list[LandingTable]:
    """Every source table marked with `meta.landing` in models/staging/<source>/_<source>__sources.yml,
    in a stable order."""
    tables: list[LandingTable] = []
    identifiers = landing_identifiers()
    for yml in sorted(staging_dir.glob("*/_*__sources.yml")):
        document = yaml.safe_load(yml.read_text()) or {}
        for source in document.get("sources", []):
            if "landing" not in (source.get("meta") or {}):
                continue
            for table in source.get("tables", []):
                landing_meta = (table.get("meta") or {}).get("landing") or {}
                columns = tuple(column["name"] for column in table.get("columns", []))
                required_columns = tuple(landing_meta.get("required_columns", []))
                unknown = set(required_columns) - set(columns)
                if unknown:
                    raise ContractError(
                        f"{yml}: {source['name']}.{table['name']} requires columns it does not declare: "
                        f"{sorted(unknown)}"
                    )
                tables.append(
                    LandingTable(
                        source=source["name"],
                        table=table["name"],
                        schema=source.get("schema", "landing"),
                        identifier=table.get("identifier", table["name"]),
                        columns=columns,
                        required=bool(landing_meta.get("required", False)),
                        required_columns=required_columns,
                        identifiers=tuple(identifiers.get(f"{source['name']}.{table['name']}", {}).items()),
                    )
                )
    if not tables:
        raise ContractError(f"no source tables with meta.landing under {staging_dir}")
    return tables
