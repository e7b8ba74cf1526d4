"""`python -m landing`: register the landing files for analysts who run dbt without Dagster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from landing.files import LandingError
from landing.register import register_for_engine
from warehouse.context import landing_dir, warehouse_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warehouse", type=Path, default=warehouse_path())
    parser.add_argument("--landing-dir", type=Path, default=landing_dir())
    parser.add_argument("--quiet", action="store_true", help="print only warnings and errors")
    args = parser.parse_args(argv)
    try:
        report = register_for_engine(args.warehouse, args.landing_dir)
    except LandingError as error:
        print(error, file=sys.stderr)
        return 1
    for table in report.tables:
        state = f"{len(table.files)} file(s)" if table.present else "absent (empty view)"
        counts = f"parsed {table.rows_parsed:>10,}  rejected {table.rows_rejected:>6,}"
        if not args.quiet:
            print(f"{table.table.name:24} {state:22} {counts}")
        for path in table.files_read_line_by_line:
            print(
                f"note: {path} has lines DuckDB cannot read exactly; it was read line by line",
                file=sys.stderr,
            )
    for path in report.unclaimed:
        print(f"warning: {path} matches no contract table and was not read", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
