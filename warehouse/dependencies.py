"""Generated `-- depends_on:` blocks, for the models that find what they read in dbt's metadata.

dbt records a model's dependencies while it parses, before it has read any YAML and while `graph`
is still empty; a model that loops over the graph at execute time would therefore read tables dbt
does not know it depends on. Such a model carries its dependencies as comment lines that this
module writes from the same metadata the model reads:

- the segment catalog (models/segments/catalog/segment_membership.sql) reads every segment model
  (warehouse/segments.py writes its block);
- every model calling `checked_tables(reads=[...])` (quarantined_rows, source_reconciliation) reads,
  for every landed table (each table of a source whose meta has `landing`, as the macro finds them
  in the graph), what `reads` names: the source, its base model base_<source>__<table>, its staging
  model stg_<source>__<table>.

`python -m warehouse.dependencies refresh` rewrites every block; `make setup`, `make dbt` and
`make segments` run it. A stale block is a dbt error that names this command."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

from warehouse.context import PROJECT_DIR

MODELS_DIR = PROJECT_DIR / "models"
LANDED_BEGIN = "-- landed tables: begin (written by `python -m warehouse.dependencies refresh`, do not edit)"
LANDED_END = "-- landed tables: end"
CHECKED_TABLES_CALL = re.compile(r"checked_tables\(\s*reads\s*=\s*\[([^\]]*)\]\s*\)")
ROLES = ("source", "base", "staging")


def write_block(model: Path, begin: str, end: str, lines: list[str]) -> bool:
    """Put `lines` between the begin and end markers of `model` (after its leading doc comment when
    there is no block yet); True when the file changed."""
    text = model.read_text()
    block = "\n".join([begin, *lines, end])
    if begin in text and end in text:
        start, stop = text.index(begin), text.index(end) + len(end)
        updated = text[:start] + block + text[stop:]
    else:
        after_docstring = text.index("-#}") + len("-#}\n") if "-#}" in text else 0
        updated = text[:after_docstring] + block + "\n" + text[after_docstring:]
    if updated == text:
        return False
    model.write_text(updated)
    return True


def landed_tables(models_dir: Path = MODELS_DIR) -> list[tuple[str, str]]:
    """(source, table) of every landed table: each table of a source whose meta has `landing`, in
    any YAML file under models/ (what macros/run/checked_tables.sql finds in graph.sources)."""
    tables = set()
    for path in sorted(models_dir.rglob("*.yml")):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources") or []:
            if "landing" in (source.get("meta") or {}):
                tables |= {(source["name"], table["name"]) for table in source.get("tables") or []}
    return sorted(tables)


def checked_table_readers(models_dir: Path = MODELS_DIR) -> dict[Path, tuple[str, ...]]:
    """Every model that calls checked_tables(reads=[...]), with what it reads of each landed table."""
    readers = {}
    for path in sorted(models_dir.rglob("*.sql")):
        call = CHECKED_TABLES_CALL.search(path.read_text())
        if call:
            roles = tuple(re.findall(r"['\"](\w+)['\"]", call.group(1)))
            unknown = set(roles) - set(ROLES)
            if unknown:
                raise ValueError(f"{path}: checked_tables reads {sorted(unknown)}; known: {', '.join(ROLES)}")
            readers[path] = roles
    return readers


def landed_table_lines(roles: tuple[str, ...], tables: list[tuple[str, str]]) -> list[str]:
    """A `-- depends_on:` line per landed table and what the model reads of it."""
    calls = {
        "source": "{{{{ source('{0}', '{1}') }}}}",
        "base": "{{{{ ref('base_{0}__{1}') }}}}",
        "staging": "{{{{ ref('stg_{0}__{1}') }}}}",
    }
    return [f"-- depends_on: {calls[role].format(*table)}" for table in sorted(tables) for role in roles]


def refresh_checked_tables(models_dir: Path = MODELS_DIR) -> list[Path]:
    """Rewrite the landed-table block of every model that calls checked_tables; the changed files."""
    tables = landed_tables(models_dir)
    changed = []
    for model, roles in checked_table_readers(models_dir).items():
        if write_block(model, LANDED_BEGIN, LANDED_END, landed_table_lines(roles, tables)):
            changed.append(model)
    return changed


def refresh() -> list[tuple[Path, bool]]:
    """Every generated block, each model with whether it changed."""
    from warehouse import segments

    readers = checked_table_readers()
    changed = set(refresh_checked_tables())
    return [
        (segments.CATALOG_MODEL, segments.refresh_catalog()),
        *((model, model in changed) for model in readers),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("refresh", help="rewrite every generated depends_on block")
    command.add_argument("--quiet", action="store_true", help="print only the models that changed")
    args = parser.parse_args(argv)
    for model, changed in refresh():
        if changed or not args.quiet:
            print(f"{model.relative_to(PROJECT_DIR)}: {'updated' if changed else 'up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
