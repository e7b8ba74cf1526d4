"""Segments as code, for analysts: `make segment NAME=...` scaffolds a segment, `make segments`
keeps the catalog's dependencies in line with the segment files.

A segment is a SQL file in models/segments/definitions/ whose rows are customer keys, plus its entry
in _segment_definitions__models.yml beside it. The catalog (models/segments/catalog/, built into the
marts schema) reads every segment in segment_membership.sql; dbt sees those dependencies through the
`-- depends_on:` lines this module writes into it, so one `dbt build` builds the segments before the
catalog, and Dagster shows the edges."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from warehouse.context import PROJECT_DIR
from warehouse.dependencies import write_block

SEGMENTS_DIR = PROJECT_DIR / "models" / "segments" / "definitions"
SEGMENTS_YAML_NAME = "_segment_definitions__models.yml"
SEGMENTS_YAML = SEGMENTS_DIR / SEGMENTS_YAML_NAME
CATALOG_MODEL = PROJECT_DIR / "models" / "segments" / "catalog" / "segment_membership.sql"
BEGIN = "-- segment dependencies: begin (written by `make segments`, do not edit)"
END = "-- segment dependencies: end"
NAME = re.compile(r"[a-z][a-z0-9_]*")

SQL_TEMPLATE = """{{#- {description} -#}}
select profiles.customer_key
from {{{{ ref('customer_profiles') }}}} as profiles
where profiles.last_order_at >= {{{{ dbt.dateadd('day', -90, as_of()) }}}}
"""

YAML_TEMPLATE = """
  - name: {name}
    description: {description_yaml}
    config:
      meta:
        segment:
          owner: {owner}
          priority: {priority}
          target_list: {target_list}
          campaign_group: {campaign_group}
          offer: {offer_yaml}
    columns:
      - name: customer_key
        description: Member.
        data_tests: [unique, not_null]
"""


class SegmentError(ValueError):
    """A segment cannot be scaffolded as asked; the message says why."""


def segment_names(segments_dir: Path = SEGMENTS_DIR) -> list[str]:
    return sorted(path.stem for path in segments_dir.glob("*.sql"))


def refresh_catalog(catalog_model: Path = CATALOG_MODEL, segments_dir: Path = SEGMENTS_DIR) -> bool:
    """Rewrite the catalog's dependency block from the segment files; True when it changed."""
    lines = [f"-- depends_on: {{{{ ref('{name}') }}}}" for name in segment_names(segments_dir)]
    return write_block(catalog_model, BEGIN, END, lines)


def new_segment(
    name: str,
    *,
    description: str = "",
    owner: str = "crm-team",
    priority: int = 10,
    target_list: str | None = None,
    campaign_group: str = "lifecycle",
    offer: str = "",
    segments_dir: Path = SEGMENTS_DIR,
    catalog_model: Path = CATALOG_MODEL,
) -> tuple[Path, Path]:
    """Write models/segments/definitions/<name>.sql (a starting query using as_of()) and its YAML
    entry at the end of _segment_definitions__models.yml, and list it in the catalog's dependencies."""
    if not NAME.fullmatch(name):
        raise SegmentError(
            f"a segment name is lower-case letters, digits and _, starting with a letter: {name!r}"
        )
    sql = segments_dir / f"{name}.sql"
    if sql.exists():
        raise SegmentError(f"{sql.relative_to(PROJECT_DIR)} already exists")
    yaml_file = segments_dir / SEGMENTS_YAML_NAME
    if re.search(rf"^  - name: {name}\s*$", yaml_file.read_text(), flags=re.M):
        raise SegmentError(f"{name} already has an entry in {yaml_file.relative_to(PROJECT_DIR)}")
    description = description or f"Customers who bought in the last 90 days (edit {sql.name})."
    sql.write_text(SQL_TEMPLATE.format(description=description))
    entry = YAML_TEMPLATE.format(
        name=name,
        description_yaml=json.dumps(description),
        owner=owner,
        priority=priority,
        target_list=target_list or name,
        campaign_group=campaign_group,
        offer_yaml=json.dumps(offer) if offer else "null",
    )
    yaml_file.write_text(yaml_file.read_text().rstrip("\n") + "\n" + entry)
    refresh_catalog(catalog_model, segments_dir)
    return sql, yaml_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    refresh = commands.add_parser("refresh", help="list every segment file in the catalog's dependencies")
    refresh.add_argument("--quiet", action="store_true", help="print only when the catalog changed")
    new = commands.add_parser("new", help="scaffold a segment: SQL file and YAML entry")
    new.add_argument("name")
    new.add_argument("--description", default="")
    new.add_argument("--owner", default="crm-team")
    new.add_argument("--priority", type=int, default=10)
    new.add_argument("--target-list")
    new.add_argument("--campaign-group", default="lifecycle")
    new.add_argument("--offer", default="")
    args = parser.parse_args(argv)
    if args.command == "refresh":
        changed = refresh_catalog()
        if changed or not args.quiet:
            print(f"{CATALOG_MODEL.relative_to(PROJECT_DIR)}: {'updated' if changed else 'up to date'}")
        return 0
    try:
        sql, yaml_file = new_segment(
            args.name,
            description=args.description,
            owner=args.owner,
            priority=args.priority,
            target_list=args.target_list,
            campaign_group=args.campaign_group,
            offer=args.offer,
        )
    except SegmentError as error:
        print(f"make segment: {error}", file=sys.stderr)
        return 1
    print(f"wrote {sql.relative_to(PROJECT_DIR)} and its entry in {yaml_file.relative_to(PROJECT_DIR)}")
    print(f'next: edit the query, then `make dbt ARGS="build -s {args.name}+"`')
    return 0


if __name__ == "__main__":
    sys.exit(main())
