"""`make query SQL="select ..."`: run one query against the warehouse read-only and print the result
as a table — no Python or DuckDB setup needed. PUBLISHED=1 (`--published`) reads the BI snapshot,
which never blocks a run."""

from __future__ import annotations

import argparse
import sys

import duckdb

from warehouse.context import connect, lock_holder, published_path, warehouse_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sql")
    parser.add_argument("--published", action="store_true", help="query the published snapshot")
    parser.add_argument("--max-rows", type=int, default=100)
    args = parser.parse_args(argv)
    path = published_path() if args.published else warehouse_path()
    if not path.exists():
        print(f"make query: {path} does not exist yet (make run builds it)", file=sys.stderr)
        return 1
    try:
        with connect(path, read_only=True) as con:
            relation = con.sql(args.sql)
            if relation is None:
                return 0
            relation.show(max_rows=args.max_rows, max_width=200)
    except duckdb.IOException:
        print(
            f"make query: {path} is locked by {lock_holder(path)}; query the published snapshot "
            "with PUBLISHED=1, or wait",
            file=sys.stderr,
        )
        return 1
    except duckdb.Error as error:
        print(f"make query: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
