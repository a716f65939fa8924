"""``riskgrade diff``: the same population under two packs (what-if before a pack change)."""

from __future__ import annotations

import argparse
import sys

from riskgrade.compiled import load_pack

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``diff`` subcommand."""
    parser = subparsers.add_parser(
        "diff",
        help="grade one population under two packs; level transitions and who moves why",
        description="Grade the same enterprises under pack A and pack B as of a date: the matrix "
        "of level transitions (rows: A, columns: B) and every enterprise that moves, with the "
        "rule that moved it. Uses the numpy batch engine where it can.",
    )
    parser.add_argument(
        "--pack",
        action="append",
        required=True,
        metavar="DIR",
        help="rule pack folder; give it twice: A, then B",
    )
    parser.add_argument(
        "--enterprises", required=True, metavar="FILE", help="enterprises, JSON Lines (or .csv)"
    )
    parser.add_argument("--events", required=True, metavar="FILE", help="events, JSON Lines")
    parser.add_argument("--as-of", metavar="DATE", help="grade as of this date (default: today)")
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="a readable table (default) or JSON",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "numpy", "python"),
        default="auto",
        help="evaluator (default: auto, numpy where it can)",
    )
    parser.add_argument("--lang", default="en", choices=("en", "zh"), help="language of texts")
    parser.add_argument(
        "--limit",
        type=int,
        default=50,
        metavar="N",
        help="moves listed in the table (default 50; JSON lists all)",
    )
    parser.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    parser.set_defaults(handler=_cmd_diff)


def _cmd_diff(args: argparse.Namespace) -> int:
    from riskgrade.cli import as_of_date, atomic_output
    from riskgrade.errors import InputError
    from riskgrade.whatif import compare

    if len(args.pack) != 2:
        msg = f"give --pack exactly twice (A, then B), got {len(args.pack)}"
        raise InputError(msg, field="--pack")
    pack_a, pack_b = load_pack(args.pack[0]), load_pack(args.pack[1])
    as_of = as_of_date(args.as_of)
    comparison = compare(
        pack_a, pack_b, args.enterprises, args.events, as_of, lang=args.lang, engine=args.engine
    )
    text = (
        comparison.to_json() + "\n" if args.format == "json" else comparison.table(limit=args.limit)
    )
    if args.out is None:
        sys.stdout.write(text)
        return 0
    with atomic_output(args.out) as out:
        out.write(text)
    return 0
