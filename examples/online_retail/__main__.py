"""`python -m examples.online_retail` (`make example-online-retail`): map the UCI Online Retail export
onto the raw-data contract, check the money in the landed files against the export, run the
pipeline into the example's own warehouse and summarize what it produced."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from examples.online_retail.mapping import DEFAULT_SOURCE, map_online_retail, read_source
from examples.online_retail.output import (
    header_matches_contract,
    landed_amounts,
    revenue_check,
    write_json,
    write_landing,
)
from examples.online_retail.pipeline import run_pipeline, summarize
from warehouse.context import PROJECT_DIR

DEFAULT_OUT = PROJECT_DIR / "data" / "examples" / "online_retail"
# The day after the last invoice (2011-12-09): recency is measured as the shop would have the next morning.
AS_OF = "2011-12-10T00:00:00Z"


def _print_mapping(report: dict, check: dict, seconds: float) -> None:
    c = report["cancellations"]["product_codes"]
    amounts = report["amounts_gbp"]
    print(f"Mapped {report['rows_in']:,} invoice lines in {seconds:.1f} s:")
    for category, count in report["lines_by_category"].items():
        if count:
            print(f"  {category:40} {count:>9,}")
    print(
        f"Product cancellations: {c['lines']:,} lines, {c['lines_fully_netted']:,} netted in full, "
        f"{c['lines_partly_netted']:,} in part, {c['lines_unmatched']:,} unmatched; "
        f"quantity {c['quantity_netted']:,} netted, {c['quantity_unmatched']:,} unmatched."
    )
    print(
        f"Product revenue £{amounts['source_product_revenue']:,.2f} "
        f"− netted £{amounts['netted_product_cancellations']:,.2f} "
        f"= £{amounts['expected_landed_product_revenue']:,.2f}; "
        f"landed files balance to the penny: {check['balanced_to_the_penny']}."
    )
    for name, rows in report["rows_out"].items():
        print(f"  {name:40} {rows:>9,} rows")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--source",
        type=Path,
        default=Path(os.environ.get("AW_ONLINE_RETAIL_PATH", DEFAULT_SOURCE)),
        help="online_retail.parquet (default: $AW_ONLINE_RETAIL_PATH or the shared datasets folder)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder for landing/, the report and the warehouse"
    )
    parser.add_argument(
        "--map-only", action="store_true", help="write the landing files and report, skip the pipeline"
    )
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"{args.source}: not found. Point --source or AW_ONLINE_RETAIL_PATH at online_retail.parquet.")
        return 2

    started = time.perf_counter()
    mapping = map_online_retail(read_source(args.source))
    landing_dir = args.out / "landing"
    write_landing(mapping.tables, landing_dir)
    check = revenue_check(landed_amounts(landing_dir), mapping.expected)
    mapped_seconds = time.perf_counter() - started
    report = {
        "source_file": str(args.source),
        **mapping.report,
        "landing_dir": str(landing_dir.resolve()),
        "headers_match_contract": header_matches_contract(landing_dir),
        "revenue_check": check,
        "mapping_seconds": round(mapped_seconds, 1),
    }
    write_json(args.out / "mapping_report.json", report)
    _print_mapping(mapping.report, check, mapped_seconds)
    print(f"Report: {args.out / 'mapping_report.json'}")
    if not check["balanced_to_the_penny"] or not all(report["headers_match_contract"].values()):
        print("The landed files do not reconcile with the export: not running the pipeline.", file=sys.stderr)
        return 1
    if args.map_only:
        return 0

    warehouse = args.out / "warehouse.duckdb"
    pipeline_started = time.perf_counter()
    status = run_pipeline(landing_dir, warehouse, AS_OF)
    pipeline_seconds = time.perf_counter() - pipeline_started
    if status != 0:
        return status
    print(f"\nWhat the pipeline made of it (warehouse {warehouse}, as_of {AS_OF}):")
    for line in summarize(warehouse):
        print(line)
    print(
        f"\nWall time: mapping {mapped_seconds:.1f} s, pipeline {pipeline_seconds:.1f} s, "
        f"total {time.perf_counter() - started:.1f} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
