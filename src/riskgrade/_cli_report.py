"""``riskgrade report``: grade a population and write the self-contained HTML report.

Registered through :data:`riskgrade.cli.SUBCOMMAND_MODULES`. The file is written atomically
(nothing is left behind on an error); exit codes are the command line's: 2 bad input, 3 bad pack.
"""

from __future__ import annotations

import argparse
import sys
import time

from riskgrade.cli import add_records_arguments, as_of_date, atomic_output, check_schemes, open_pack
from riskgrade.records import load_records

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of a graded population",
        description="Grade every enterprise as of a date and write one HTML file (no network, "
        "no external assets): levels by region and grid, transitions over time, inspections due "
        "per month, and each enterprise's timeline, reasons and treatment.",
    )
    add_records_arguments(parser)
    parser.add_argument("--title", metavar="TEXT", help="the report's heading")
    parser.add_argument("--out", required=True, metavar="FILE", help="the HTML file to write")
    parser.set_defaults(handler=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    from riskgrade.report import build_report

    started = time.perf_counter()
    pack = open_pack(args.pack)
    records = load_records(args.enterprises, args.events)
    check_schemes(pack, records)
    as_of = as_of_date(args.as_of)
    text = build_report(pack, records, as_of, lang=args.lang, title=args.title, engine=args.engine)
    with atomic_output(args.out) as out:
        out.write(text)
    seconds = time.perf_counter() - started
    sys.stderr.write(
        f"wrote {args.out}: {len(records.enterprises)} enterprises as of {as_of} "
        f"in {seconds:.1f} s\n"
    )
    return 0
