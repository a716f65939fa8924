"""Write a synthetic population to DIR/enterprises.jsonl and DIR/events.jsonl.

    PYTHONPATH=src python benchmarks/generate_population.py \\
        --enterprises 1000000 --records-per-enterprise 20 --out /tmp/population

The benchmark scale (a million enterprises, twenty million records) streams in constant memory;
progress goes to standard error, the final counts and rate too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from riskgrade.errors import InputError
from riskgrade.synthetic import CountySpec, write_population


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        msg = f"expected a date as YYYY-MM-DD, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def _parser() -> argparse.ArgumentParser:
    defaults = CountySpec()
    parser = argparse.ArgumentParser(
        description="Generate a synthetic supervised population as JSON Lines."
    )
    parser.add_argument("--enterprises", type=int, default=1_000_000, metavar="N")
    parser.add_argument(
        "--records-per-enterprise", type=float, default=20.0, metavar="R", help="mean events"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, metavar="S")
    parser.add_argument("--as-of", type=_date, default=defaults.as_of, metavar="DATE")
    parser.add_argument("--years", type=int, default=defaults.years)
    parser.add_argument(
        "--grids",
        type=int,
        default=None,
        help="number of grids (default: about 15 enterprises a grid, at least 6)",
    )
    parser.add_argument("--food-share", type=float, default=defaults.food_share)
    parser.add_argument("--late-share", type=float, default=defaults.late_share)
    parser.add_argument("--correction-share", type=float, default=defaults.correction_share)
    parser.add_argument("--no-scores", action="store_true", help="omit inspection scores")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    grids = args.grids if args.grids is not None else max(6, round(args.enterprises * 0.15))
    try:
        spec = CountySpec(
            seed=args.seed,
            enterprises=args.enterprises,
            grids=grids,
            as_of=args.as_of,
            years=args.years,
            records_per_enterprise=args.records_per_enterprise,
            food_share=args.food_share,
            late_share=args.late_share,
            correction_share=args.correction_share,
            with_scores=not args.no_scores,
        )
    except InputError as error:
        print(f"generate_population: {error}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    total = spec.enterprises

    def progress(done: int) -> None:
        elapsed = time.perf_counter() - started
        share = done / total if total else 1.0
        rate = done / elapsed if elapsed > 0 else 0.0
        sys.stderr.write(
            f"\r{done:>12,} / {total:,} enterprises ({share:6.1%}), "
            f"{elapsed:7.1f} s, {rate:,.0f} enterprises/s"
        )
        sys.stderr.flush()

    enterprises, events = write_population(
        spec, args.out / "enterprises.jsonl", args.out / "events.jsonl", progress=progress
    )
    elapsed = time.perf_counter() - started
    sys.stderr.write(
        f"\nwrote {enterprises:,} enterprises and {events:,} events to {args.out} "
        f"in {elapsed:.1f} s ({events / max(elapsed, 1e-9):,.0f} records/s)\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
