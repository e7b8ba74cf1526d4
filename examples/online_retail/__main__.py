"""`python -m examples.online_retail` (`make example-online-retail ARGS="..."`): map an invoice-line
export (by default the UCI Online Retail one) onto the raw-data contract as its mapping file says,
check the money in the landed files against the export, run the pipeline into the example's own
warehouse and summarize what it produced; or, with --backtest, score at a past as_of and compare
with what followed."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from examples.online_retail.config import DEFAULT_MAPPING, MappingError, load_mapping, read_export
from examples.online_retail.mapping import map_online_retail
from examples.online_retail.output import (
    header_matches_contract,
    landed_amounts,
    revenue_check,
    write_json,
    write_landing,
)
from examples.online_retail.pipeline import run_pipeline, summarize
from warehouse.context import AS_OF_ENV, AsOfError, parse_as_of, resolve_path


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


def _print_unknown_codes(report: dict) -> None:
    unknown = report["unknown_codes"]
    if not unknown:
        return
    print(f"Unknown stock codes (left out; give them a kind under `codes` in the mapping): {len(unknown)}")
    for code, found in list(unknown.items())[:20]:
        examples = "; ".join(
            f"{e['invoice']} {e['description']!r} x{e['quantity']}" for e in found["examples"]
        )
        print(f"  {code:20} {found['lines']:>7,} lines  £{found['amount_gbp']:>12,.2f}  e.g. {examples}")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mapping", type=Path, default=DEFAULT_MAPPING, help="the mapping file (YAML)")
    parser.add_argument(
        "--source", type=Path, default=None, help="the export (default: the mapping's source)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for landing/, the report and the warehouse"
    )
    parser.add_argument("--as-of", default="", help="default: AW_AS_OF, else the mapping's run.as_of")
    parser.add_argument(
        "--reporting-currency", default="", help="default: the mapping's run.reporting_currency"
    )
    parser.add_argument("--map-only", action="store_true", help="write the landing files and report only")
    parser.add_argument(
        "--backtest",
        default="",
        metavar="AS_OF",
        help="instead of a run: score at this past as_of and compare",
    )
    parser.add_argument(
        "--horizons", default="30,90", help="days after the backtest's as_of (with --backtest)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        config = load_mapping(args.mapping)
        source = resolve_path(args.source) if args.source else config.default_source()
        as_of = args.as_of or os.environ.get(AS_OF_ENV, "") or config.as_of
        parse_as_of(as_of)
        export = read_export(source, config)
    except (MappingError, AsOfError) as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 2
    out = resolve_path(args.out) if args.out else config.out
    currency = args.reporting_currency.upper() or config.reporting_currency

    started = time.perf_counter()
    mapping = map_online_retail(export, config)
    landing_dir = out / "landing"
    write_landing(mapping.tables, landing_dir)
    check = revenue_check(landed_amounts(landing_dir), mapping.expected)
    mapped_seconds = time.perf_counter() - started
    report = {
        "source_file": str(source),
        "mapping_file": str(config.path),
        **mapping.report,
        "landing_dir": str(landing_dir.resolve()),
        "headers_match_contract": header_matches_contract(landing_dir),
        "revenue_check": check,
        "mapping_seconds": round(mapped_seconds, 1),
    }
    write_json(out / "mapping_report.json", report)
    _print_mapping(mapping.report, check, mapped_seconds)
    _print_unknown_codes(mapping.report)
    print(f"Report: {out / 'mapping_report.json'}")
    if not check["balanced_to_the_penny"] or not all(report["headers_match_contract"].values()):
        print("The landed files do not reconcile with the export: not running the pipeline.", file=sys.stderr)
        return 1
    if args.map_only:
        return 0
    if args.backtest:
        from orchestration.backtest import BacktestRun, run_backtest

        backtest_as_of = parse_as_of(args.backtest)
        run = BacktestRun(
            as_of=backtest_as_of.isoformat(),
            horizons=args.horizons,
            landing=landing_dir.resolve(),
            out=out / "backtests" / str(backtest_as_of.date()),
            reporting_currency=currency,
            title=f"Backtest of the Online Retail example as of {backtest_as_of.date()}",
        )
        return run_backtest(run)

    warehouse = out / "warehouse.duckdb"
    pipeline_started = time.perf_counter()
    status = run_pipeline(out, as_of, currency)
    pipeline_seconds = time.perf_counter() - pipeline_started
    if status != 0:
        return status
    print(
        f"\nWhat the pipeline made of it (warehouse {warehouse}, as_of {as_of}, "
        f"reporting currency {currency or 'USD'}):"
    )
    for line in summarize(warehouse):
        print(line)
    print(
        f"\nWall time: mapping {mapped_seconds:.1f} s, pipeline {pipeline_seconds:.1f} s, "
        f"total {time.perf_counter() - started:.1f} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
