"""Render sample e-mails per segment to HTML files plus an index.html, for a human to look at.

    python -m activation.previews --warehouse data/warehouse.duckdb --out data/previews --per-segment 3

Reads `restricted.audience_export` (read-only); `render_previews` takes a DataFrame instead."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import pandas as pd

from activation.content import DEFAULT_TEMPLATE, environment, render_email
from activation.destinations.file import safe_name
from activation.errors import InputError

DEFAULT_TABLE = "restricted.audience_export"


def load_audience(warehouse: str | Path, table: str = DEFAULT_TABLE) -> pd.DataFrame:
    if not Path(warehouse).exists():
        raise InputError(f"warehouse {warehouse} does not exist")
    if not all(part.replace("_", "").isalnum() for part in table.split(".")):
        raise InputError(f"table name {table!r} is not a plain [schema.]name")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {table}").df()
    except duckdb.CatalogException as error:
        raise InputError(f"{table} not found in {warehouse}: build the audience marts first") from error
    finally:
        con.close()


def render_previews(
    audience: pd.DataFrame,
    out_dir: str | Path,
    *,
    per_segment: int = 3,
    segment_column: str = "rfm_segment",
    template: str = DEFAULT_TEMPLATE,
    strict: bool = True,
) -> list[Path]:
    """Write `per_segment` e-mails for each value of `segment_column` (the first customers by
    customer key, so the sample is the same every time) and an index.html; returns the paths."""
    if "customer_key" not in audience.columns:
        raise InputError("the audience needs a customer_key column")
    if per_segment < 1:
        raise InputError("per_segment must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = environment(strict)
    frame = audience.copy()
    frame["_segment"] = (
        frame[segment_column].fillna("unknown").astype(str) if segment_column in frame.columns else "all"
    )
    frame = frame.sort_values(["_segment", "customer_key"], kind="stable").drop_duplicates("customer_key")
    written: list[Path] = []
    index: dict[str, list[dict[str, str]]] = {}
    for segment, rows in frame.groupby("_segment", sort=True):
        folder = out / safe_name(str(segment))
        folder.mkdir(parents=True, exist_ok=True)
        for row in rows.head(per_segment).drop(columns="_segment").to_dict("records"):
            email = render_email(row, template, env=env)
            path = folder / f"{safe_name(str(row['customer_key']))}.html"
            path.write_text(email.html, encoding="utf-8")
            written.append(path)
            index.setdefault(str(segment), []).append(
                {
                    "href": path.relative_to(out).as_posix(),
                    "customer_key": str(row["customer_key"]),
                    "subject": email.subject,
                }
            )
    page = env.get_template("index.html.j2").render(
        segments=index, total=len(written), segment_column=segment_column, template=template
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
    args = parser.parse_args(argv)
    try:
        audience = load_audience(args.warehouse, args.table)
        paths = render_previews(
            audience,
            args.out,
            per_segment=args.per_segment,
            segment_column=args.segment_column,
            template=args.template,
        )
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths) - 1} previews and {paths[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
