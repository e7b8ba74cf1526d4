"""Render sample e-mails per segment to HTML files plus an index.html, for a human to look at.

    python -m activation.previews --warehouse data/warehouse.duckdb --out data/previews --per-segment 3

Reads `restricted.audience_export` (read-only); `render_previews` takes a DataFrame instead. Next to
real members, every group shows its fallbacks (no first name, no recommendations, no cart), a
segment or RFM segment that has copy but nobody in the audience gets a marked sample, and the index
flags every e-mail that fell back to a generic block. Images are local placeholders unless
--remote-images, so a preview opens without fetching anything."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from activation.config import SenderConfig
from activation.content import DEFAULT_TEMPLATE, ContentLibrary, environment, render_email
from activation.destinations.file import safe_name
from activation.errors import InputError
from activation.routing import DESTINATION_NAMES
from warehouse.context import connect

DEFAULT_TABLE = "restricted.audience_export"
SAMPLE_FIRST_NAME = "Alex"


@dataclass
class Preview:
    section: str
    group: str
    label: str
    href: str
    customer_key: str
    subject: str
    destination: str
    blocks: dict[str, str]
    generic: list[str] = field(default_factory=list)
    sample: bool = False


def load_audience(warehouse: str | Path, table: str = DEFAULT_TABLE) -> pd.DataFrame:
    if not Path(warehouse).exists():
        raise InputError(f"warehouse {warehouse} does not exist")
    if not all(part.replace("_", "").isalnum() for part in table.split(".")):
        raise InputError(f"table name {table!r} is not a plain [schema.]name")
    con = connect(Path(warehouse), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {table}").df()
    except duckdb.CatalogException as error:
        raise InputError(f"{table} not found in {warehouse}: build the audience marts first") from error
    finally:
        con.close()


def _present(value: Any) -> bool:
    if value is None or (isinstance(value, float) and value != value):
        return False
    return not (isinstance(value, str) and value.strip() in ("", "[]"))


def _sample_row(rows: list[dict[str, Any]], column: str, value: str) -> dict[str, Any]:
    """A made-up member of a group nobody is in: another row's products and currency (one with
    recommendations when there is one), a sample name and key."""
    donors = [r for r in rows if _present(r.get("recommended_products"))] or rows
    base = dict(donors[0]) if donors else {}
    base.update(
        {
            column: value,
            "customer_key": "sample",
            "email": None,
            "first_name": SAMPLE_FIRST_NAME,
            "last_name": None,
        }
    )
    if column == "segment_name":
        base.update(list_key=value, campaign_key=value)
    return base


def _sample_cart(recommendations: Any) -> str:
    """The recommendations as one-each cart lines: shows the cart layout when no member has a cart."""
    items = json.loads(recommendations) if isinstance(recommendations, str) else list(recommendations)
    return json.dumps([{**item, "quantity": 1} for item in items if isinstance(item, dict)])


def _variants(base: dict[str, Any], items_source: str) -> list[tuple[str, dict[str, Any], bool]]:
    """The fallbacks of a group, from its first row: (label, row, is_sample)."""
    out = [
        ("no first name", {**base, "first_name": None}, False),
        ("no recommendations", {**base, "recommended_products": None}, False),
    ]
    if items_source == "cart" or _present(base.get("cart_items")):
        out.append(("no cart", {**base, "cart_items": None}, False))
        out.append(
            ("no cart, no recommendations", {**base, "cart_items": None, "recommended_products": None}, False)
        )
        if not _present(base.get("cart_items")) and _present(base.get("recommended_products")):
            out.append(
                ("sample cart", {**base, "cart_items": _sample_cart(base["recommended_products"])}, True)
            )
    return out


def render_previews(
    audience: pd.DataFrame,
    out_dir: str | Path,
    *,
    per_segment: int = 3,
    segment_column: str = "rfm_segment",
    template: str = DEFAULT_TEMPLATE,
    strict: bool = True,
    destination: str | None = None,
    fallbacks: bool = True,
    offline_images: bool = True,
    library: ContentLibrary | None = None,
    sender: SenderConfig | None = None,
) -> list[Path]:
    """Write `per_segment` e-mails for each value of `segment_column` (the first customers by
    customer key, so the sample is the same every time), its fallbacks, a sample for every
    segment and RFM segment with copy but no member, and an index.html; returns the paths.
    `destination` renders every e-mail for that ESP (or `file`); by default each row's own."""
    if "customer_key" not in audience.columns:
        raise InputError("the audience needs a customer_key column")
    if per_segment < 1:
        raise InputError("per_segment must be at least 1")
    if destination is not None and destination not in DESTINATION_NAMES:
        raise InputError(f"destination must be one of {', '.join(DESTINATION_NAMES)}")
    library = library or ContentLibrary.load()
    sender = sender or SenderConfig.from_env()
    generic = library.generic_keys
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = environment(strict)
    frame = audience.copy()
    frame["_group"] = (
        frame[segment_column].fillna("unknown").astype(str) if segment_column in frame.columns else "all"
    )
    sort = ["_group", "customer_key", *(["destination"] if "destination" in frame.columns else [])]
    frame = frame.sort_values(sort, kind="stable").drop_duplicates(["_group", "customer_key"])
    rows = frame.drop(columns="_group").to_dict("records")
    groups: dict[str, list[dict[str, Any]]] = {}
    for row, group in zip(rows, frame["_group"], strict=True):
        groups.setdefault(group, []).append(row)
    if fallbacks:
        known = {"segment_name": library.segment_names, "rfm_segment": library.rfm_segments}
        for value in known.get(segment_column, []):
            groups.setdefault(value, [])

    written: list[Path] = []
    previews: list[Preview] = []

    def emit(section: str, group: str, label: str, row: dict[str, Any], path: Path, sample: bool) -> None:
        email = render_email(
            row,
            template,
            env=env,
            destination=destination,
            library=library,
            sender=sender,
            offline_images=offline_images,
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(email.html, encoding="utf-8")
        written.append(path)
        previews.append(
            Preview(
                section=section,
                group=group,
                label=label,
                href=path.relative_to(out).as_posix(),
                customer_key=str(row.get("customer_key")),
                subject=email.subject,
                destination=email.destination or "file",
                blocks=email.blocks,
                generic=[name for name, key in email.blocks.items() if key == generic[name]],
                sample=sample,
            )
        )

    by_column = f"by {segment_column}"
    for group in sorted(groups):
        members = groups[group]
        folder = out / safe_name(group)
        sample = not members
        chosen = members[:per_segment] or [_sample_row(rows, segment_column, group)]
        for row in chosen:
            name = f"{safe_name(str(row['customer_key']))}.html"
            emit(by_column, group, "sample" if sample else "member", row, folder / name, sample)
        if fallbacks:
            segment = group if segment_column == "segment_name" else chosen[0].get("segment_name")
            items_source = library.segment_block(segment)["items_source"]
            for label, variant, made_up in _variants(chosen[0], items_source):
                path = folder / f"variant-{safe_name(label.replace(' ', '-').replace(',', ''))}.html"
                emit(by_column, group, label, variant, path, sample or made_up)
    if segment_column != "rfm_segment" and fallbacks:
        for value in library.rfm_segments:
            members = [r for r in rows if r.get("rfm_segment") == value]
            row = members[0] if members else _sample_row(rows, "rfm_segment", value)
            emit(
                "RFM blocks",
                value,
                "member" if members else "sample",
                row,
                out / "rfm" / f"{safe_name(value)}.html",
                not members,
            )

    sections: dict[str, dict[str, list[Preview]]] = {}
    for preview in previews:
        sections.setdefault(preview.section, {}).setdefault(preview.group, []).append(preview)
    page = env.get_template("index.html.j2").render(
        sections=sections,
        total=len(written),
        generic_total=sum(1 for p in previews if p.generic),
        segment_column=segment_column,
        template=template,
        offline_images=offline_images,
    )
    index_path = out / "index.html"
    index_path.write_text(page, encoding="utf-8")
    return [index_path, *written]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m activation.previews", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--warehouse", required=True, help="DuckDB warehouse file")
    parser.add_argument("--out", required=True, help="folder for the HTML files")
    parser.add_argument("--per-segment", type=int, default=3)
    parser.add_argument("--table", default=DEFAULT_TABLE)
    parser.add_argument("--segment-column", default="rfm_segment")
    parser.add_argument("--template", default=DEFAULT_TEMPLATE)
    parser.add_argument(
        "--destination",
        choices=DESTINATION_NAMES,
        help="render every e-mail for this ESP's merge tags (default: each row's destination)",
    )
    parser.add_argument("--no-fallbacks", action="store_true", help="members only: no variants or samples")
    parser.add_argument("--remote-images", action="store_true", help="show the real product images")
    args = parser.parse_args(argv)
    try:
        audience = load_audience(args.warehouse, args.table)
        paths = render_previews(
            audience,
            args.out,
            per_segment=args.per_segment,
            segment_column=args.segment_column,
            template=args.template,
            destination=args.destination,
            fallbacks=not args.no_fallbacks,
            offline_images=not args.remote_images,
        )
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths) - 1} previews and {paths[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
