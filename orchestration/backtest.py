"""`python -m orchestration.backtest` (`make backtest AS_OF=2011-09-09 HORIZON=30,90`): build the
warehouse at a past as_of from the full landing data, in a warehouse file of the backtest's own,
train and score there, and compare the scores with what happened after (the `backtest` job).

A backtest never touches the working warehouse: its membership history only moves forward and
its champions were trained on the present. Each backtest gets a folder (warehouse, models,
report), rebuilt from nothing on every run so no model trained at a later as_of is ever its
champion."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from warehouse import context

BACKTESTS_DIR = "data/backtests"
MARKER = "backtest.json"


@dataclass(frozen=True)
class BacktestRun:
    """Where one backtest reads and writes, and what it is asked."""

    as_of: str
    horizons: str
    landing: Path
    out: Path
    reporting_currency: str = ""
    title: str = ""
    report: Path | None = None

    @property
    def warehouse(self) -> Path:
        return self.out / "warehouse.duckdb"

    @property
    def report_path(self) -> Path:
        return self.report or self.out / "backtest_report.md"

    def environment(self) -> dict[str, str]:
        """The variables every part of the pipeline reads its places and settings from."""
        env = {
            context.LANDING_ENV: str(self.landing),
            context.WAREHOUSE_ENV: str(self.warehouse),
            context.MODELS_ENV: str(self.out / "models"),
            context.PUBLISHED_ENV: str(self.out / "published" / self.warehouse.name),
            context.ACTIVATION_FILES_ENV: str(self.out / "activation"),
            context.AS_OF_ENV: self.as_of,
            "AW_BACKTEST_HORIZONS": self.horizons,
            "AW_BACKTEST_REPORT": str(self.report_path),
            "AW_BACKTEST_TITLE": self.title,
        }
        if self.reporting_currency:
            env[context.REPORTING_CURRENCY_ENV] = self.reporting_currency
        return env


class BacktestSetupError(ValueError):
    """The backtest would write where it must not."""


def prepare(run: BacktestRun) -> None:
    """Refuse the working warehouse; empty the backtest's own folder of an earlier backtest's
    warehouse and models (only a folder this module made, recognized by its marker)."""
    working = {context.resolve_path(context.DEFAULTS[context.WAREHOUSE_ENV])}
    if os.environ.get(context.WAREHOUSE_ENV):
        working.add(context.warehouse_path())
    if run.warehouse.resolve() in {path.resolve() for path in working}:
        raise BacktestSetupError(
            f"{run.warehouse} is the working warehouse: a backtest needs a folder of its own (--out)"
        )
    if run.out.exists() and any(run.out.iterdir()) and not (run.out / MARKER).exists():
        raise BacktestSetupError(f"{run.out} holds files no backtest made: choose another --out")
    for path in (run.warehouse, run.warehouse.with_name(run.warehouse.name + ".wal")):
        path.unlink(missing_ok=True)
    shutil.rmtree(run.out / "models", ignore_errors=True)
    run.out.mkdir(parents=True, exist_ok=True)
    (run.out / MARKER).write_text(
        json.dumps({"as_of": run.as_of, "horizons": run.horizons, "landing": str(run.landing)}, indent=2)
        + "\n"
    )


def run_backtest(run: BacktestRun, verbose: bool = False) -> int:
    """The `backtest` job in this process, in the backtest's own places; 0 when it succeeded."""
    prepare(run)
    from orchestration.run_pipeline import main

    with context.environment_set(run.environment()):
        status = main(["--as-of", run.as_of, "--job", "backtest", *(["-v"] if verbose else [])])
    if status == 0:
        print(f"\nreport: {run.report_path}\n")
        print(run.report_path.read_text())
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", required=True, help="the past as_of, an ISO date or date-time")
    parser.add_argument("--horizons", default="30,90", help="days after as_of, e.g. 30,90")
    parser.add_argument(
        "--landing", type=Path, default=None, help="the full landing data (default: AW_LANDING_DIR)"
    )
    parser.add_argument("--out", type=Path, default=None, help=f"default: {BACKTESTS_DIR}/<as_of date>")
    parser.add_argument("--reporting-currency", default="", help="default: the dbt var reporting_currency")
    parser.add_argument("--report", type=Path, default=None, help="the markdown report (default: in --out)")
    parser.add_argument("--title", default="", help="the report's title")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    try:
        as_of = context.parse_as_of(args.as_of)
    except context.AsOfError as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 2
    out = (
        context.resolve_path(args.out)
        if args.out
        else context.resolve_path(f"{BACKTESTS_DIR}/{as_of.date()}")
    )
    run = BacktestRun(
        as_of=as_of.isoformat(),
        horizons=args.horizons,
        landing=context.resolve_path(args.landing) if args.landing else context.landing_dir(),
        out=out,
        reporting_currency=args.reporting_currency,
        title=args.title,
        report=context.resolve_path(args.report) if args.report else None,
    )
    try:
        return run_backtest(run, verbose=args.verbose)
    except BacktestSetupError as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
