"""Compute the core marts with one reference and write them as Parquet, with the seconds the
computation took (reading the files included; Python's start-up and the writing of the results
not), so that bench/bench_references.py can time it in a process of its own and compare its rows.

    python -m bench.references floor --landing data/landing --out data/bench/floor
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from bench.references.floor import run_floor
from bench.references.inputs import inputs_for
from bench.references.pandas_marts import run_pandas

AS_OF = "2026-06-30T00:00:00"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("reference", choices=("floor", "pandas"))
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for <mart>.parquet and seconds.json")
    parser.add_argument("--as-of", default=AS_OF, help=f"ISO time, default {AS_OF}")
    args = parser.parse_args()
    as_of = dt.datetime.fromisoformat(args.as_of.replace("Z", "+00:00")).replace(tzinfo=None)
    started = time.perf_counter()
    inputs = inputs_for(args.landing, as_of)
    if args.reference == "floor":
        marts = run_floor(inputs, spill_beside=args.out / "floor.duckdb")
    else:
        marts = run_pandas(inputs)
    seconds = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    for name, frame in marts.items():
        frame.to_parquet(args.out / f"{name}.parquet", index=False)
    (args.out / "seconds.json").write_text(json.dumps({"compute_seconds": round(seconds, 2)}) + "\n")


if __name__ == "__main__":
    main()
