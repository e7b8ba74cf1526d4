"""Command line: python -m datagen --scale small --seed 7 --out data/landing [options]."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from datagen.config import DEFAULT_AS_OF, FORMATS, SCALES, SOURCES, DirtConfig, GeneratorConfig
from datagen.generator import generate


def _as_of(value: str) -> dt.datetime:
    text = value.strip().replace("Z", "+00:00")
    moment = dt.datetime.fromisoformat(text)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _rate(value: str) -> tuple[str, float]:
    name, separator, number = value.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {value!r}")
    try:
        return name.strip(), float(number)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a number in {value!r}") from error


def parse_args(argv: list[str] | None = None) -> GeneratorConfig:
    parser = argparse.ArgumentParser(prog="python -m datagen", description=__doc__)
    parser.add_argument("--scale", choices=list(SCALES), default="small")
    parser.add_argument("--contacts", type=int, help="number of contacts (overrides the scale's count)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True, help="landing folder, e.g. data/landing")
    parser.add_argument("--as-of", type=_as_of, default=DEFAULT_AS_OF, help="ISO time, default 2026-06-30")
    parser.add_argument("--format", choices=FORMATS, default="mixed")
    parser.add_argument("--dirt", choices=("default", "none"), default="default")
    parser.add_argument(
        "--dirt-rate",
        type=_rate,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"override one dirt rate (after --dirt); kinds: {', '.join(DirtConfig.names())}",
    )
    parser.add_argument("--truth-out", type=Path, help="ground-truth folder (default: <out>/../ground_truth)")
    parser.add_argument("--sources", default=",".join(SOURCES), help="comma-separated subset of sources")
    parser.add_argument("--chunk-days", type=int, help="days of events per chunk file")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    try:
        dirt = DirtConfig.none() if args.dirt == "none" else DirtConfig()
        dirt = dirt.with_rates(dict(args.dirt_rate))
        return GeneratorConfig(
            out=args.out,
            scale=args.scale,
            seed=args.seed,
            as_of=args.as_of,
            format=args.format,
            dirt=dirt,
            truth_out=args.truth_out,
            sources=tuple(s.strip() for s in args.sources.split(",") if s.strip()),
            contacts=args.contacts,
            chunk_days=args.chunk_days,
            progress=not args.quiet,
        )
    except ValueError as error:
        parser.error(str(error))
        raise  # parser.error exits; this keeps type checkers aware


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    try:
        report = generate(config)
    except ValueError as error:
        print(f"datagen: error: {error}", file=sys.stderr)
        return 2
    rows = sum(stats.rows for stats in report.files.values())
    print(f"wrote {rows:,} rows in {len(report.files)} files under {report.out}")
    print(f"ground truth in {report.truth_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
