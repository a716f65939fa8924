"""``riskgrade ledger ...``: the ledger's command line (registered in ``SUBCOMMAND_MODULES``).

``record`` prints each event's decision as soon as its transaction has committed, one JSON line
per event, and flushes: a consumer reading standard output only ever sees durable decisions,
and after a crash the same file can be sent again (stored records are skipped as duplicates).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import TextIO

from riskgrade._jsonl import iter_jsonl_lines
from riskgrade.cli import as_of_date, atomic_output
from riskgrade.compiled import load_pack
from riskgrade.dates import parse_date
from riskgrade.errors import InputError, StorageError
from riskgrade.ledger import BEGINNING, Ledger
from riskgrade.records import parse_enterprise_line, parse_event_line

__all__ = ["register"]

EPILOG = """\
examples:
  riskgrade ledger init county.db --pack rules/zhuji
  riskgrade ledger record county.db --enterprises ents.jsonl --events events.jsonl
  tail -f feed.jsonl | riskgrade ledger record county.db --events -
  riskgrade ledger grade county.db --as-of 2009-07-01 --out decisions.jsonl
  riskgrade ledger timeline county.db --id E000123 --superseded
  riskgrade ledger due county.db --by 2009-12-31 --region Datang
  riskgrade ledger verify county.db

exit codes: 0 success; 2 bad input; 3 bad rule pack; 4 ledger storage inconsistent or tampered
"""


def _date_argument(text: str, flag: str) -> dt.date:
    try:
        return parse_date(text)
    except ValueError as exc:
        raise InputError(str(exc), field=flag) from None


def _cmd_init(args: argparse.Namespace) -> int:
    pack = load_pack(args.pack)
    effective = _date_argument(args.effective, "--effective") if args.effective else BEGINNING
    with Ledger.create(args.db, pack, effective=effective, lang=args.lang):
        pass
    sys.stdout.write(
        f"ok: ledger {args.db} graded by pack {pack.ref.id} {pack.ref.version} {pack.ref.digest}\n"
    )
    return 0


def _cmd_pack(args: argparse.Namespace) -> int:
    pack = load_pack(args.pack)
    effective = _date_argument(args.effective, "--effective")
    with Ledger.open(args.db) as ledger:
        version = ledger.add_pack(pack, effective=effective)
    sys.stdout.write(
        f"ok: pack {version.ref.id} {version.ref.version} {version.ref.digest} "
        f"in force from {version.effective.isoformat()}\n"
    )
    return 0


def _cmd_record(args: argparse.Namespace) -> int:
    with Ledger.open(args.db) as ledger:
        if args.enterprises is not None:
            locations: dict[str, tuple[str, int]] = {}
            enterprises = []
            for number, text in iter_jsonl_lines(args.enterprises):
                enterprise = parse_enterprise_line(text, file=args.enterprises, line=number)
                key = f"enterprise:{enterprise.id}"
                if key in locations:
                    # As for `riskgrade grade`: one file holds each enterprise once.
                    first = locations[key][1]
                    msg = f"duplicate enterprise id {enterprise.id!r} (first on line {first})"
                    raise InputError(msg, file=args.enterprises, line=number, field="id")
                locations[key] = (args.enterprises, number)
                enterprises.append(enterprise)
            ledger.add_enterprises(enterprises, locations=locations)
        source: str | TextIO = sys.stdin if args.events == "-" else args.events
        name = "<stdin>" if args.events == "-" else args.events
        for number, text in iter_jsonl_lines(source):
            event = parse_event_line(text, file=name, line=number)
            try:
                decision = ledger.record(event)
            except (InputError, StorageError) as exc:
                raise type(exc)(
                    exc.message,
                    file=name,
                    line=number,
                    field=exc.field,
                    event=event.id,
                    suggestion=exc.suggestion,
                ) from None
            # Written only after the commit, and flushed: what a reader sees is durable.
            sys.stdout.write(decision.to_json() + "\n")
            sys.stdout.flush()
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    as_of = as_of_date(args.as_of)
    with Ledger.open(args.db) as ledger:
        decisions = [ledger.grade(args.id, as_of)] if args.id else ledger.grade_all(as_of)
    with atomic_output(args.out) as out:
        for decision in decisions:
            out.write(decision.to_json() + "\n")
    return 0


def _cmd_timeline(args: argparse.Namespace) -> int:
    with Ledger.open(args.db) as ledger:
        entries = ledger.timeline(args.id, superseded=args.superseded)
    with atomic_output(args.out) as out:
        for entry in entries:
            out.write(json.dumps(entry.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n")
    return 0


def _cmd_due(args: argparse.Namespace) -> int:
    by = _date_argument(args.by, "--by")
    as_of = _date_argument(args.as_of, "--as-of") if args.as_of else None
    with Ledger.open(args.db) as ledger:
        due = ledger.due(by, as_of=as_of, region=args.region, grid=args.grid)
    with atomic_output(args.out) as out:
        for item in due:
            out.write(json.dumps(item.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n")
    return 0


def _cmd_level(args: argparse.Namespace) -> int:
    as_of = as_of_date(args.as_of)
    with Ledger.open(args.db) as ledger:
        ids = ledger.at_level(args.level, as_of, scheme=args.scheme)
    sys.stdout.write("".join(f"{enterprise_id}\n" for enterprise_id in ids))
    return 0


def _cmd_review(args: argparse.Namespace) -> int:
    through = _date_argument(args.through, "--through")
    with Ledger.open(args.db) as ledger:
        appended = ledger.apply_reviews(through)
    sys.stdout.write(f"ok: {appended} review decision(s) stored\n")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    with Ledger.open(args.db) as ledger:
        report = ledger.verify(regrade=not args.no_regrade, enterprise_ids=args.id or None)
    sys.stdout.write(report.render())
    if report.ok:
        return 0
    sys.stderr.write(
        f"riskgrade: error: {args.db}: the ledger does not verify"
        f" ({len(report.problems)} problem(s))\n"
    )
    return StorageError.exit_code


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``riskgrade ledger`` and its subcommands."""
    ledger = subparsers.add_parser(
        "ledger",
        help="an append-only ledger that re-grades as each record arrives",
        description="Keep packs, enterprises, records and every decision in an embedded, "
        "append-only, hash-chained SQLite ledger; re-grade the moment a record arrives.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="COMMAND")

    init = sub.add_parser("init", help="create a ledger graded by a rule pack")
    init.add_argument("db", metavar="DB", help="the ledger file to create")
    init.add_argument("--pack", required=True, metavar="DIR", help="rule pack folder")
    init.add_argument(
        "--effective", metavar="DATE", help="the pack grades from this date (default: always)"
    )
    init.add_argument(
        "--lang", default="en", choices=("en", "zh"), help="language of stored decisions"
    )
    init.set_defaults(handler=_cmd_init)

    pack = sub.add_parser("pack", help="add a pack version that grades from a date on")
    pack.add_argument("db", metavar="DB")
    pack.add_argument("--pack", required=True, metavar="DIR")
    pack.add_argument("--effective", required=True, metavar="DATE")
    pack.set_defaults(handler=_cmd_pack)

    record = sub.add_parser(
        "record",
        help="record enterprises, then events in arrival order; "
        "print each event's decision (JSON Lines)",
    )
    record.add_argument("db", metavar="DB")
    record.add_argument(
        "--enterprises",
        metavar="FILE",
        help="enterprises, JSON Lines (already stored ones are skipped)",
    )
    record.add_argument(
        "--events",
        required=True,
        metavar="FILE",
        help="events in arrival order, JSON Lines; - for standard input",
    )
    record.set_defaults(handler=_cmd_record)

    grade = sub.add_parser("grade", help="decisions as of a date (CONTRACT.md), one per enterprise")
    grade.add_argument("db", metavar="DB")
    grade.add_argument("--as-of", metavar="DATE", help="default: today")
    grade.add_argument("--id", metavar="ENTERPRISE", help="only this enterprise")
    grade.add_argument(
        "--out", metavar="FILE", help="write here instead of standard output (atomically)"
    )
    grade.set_defaults(handler=_cmd_grade)

    timeline = sub.add_parser(
        "timeline", help="an enterprise's stored decisions with their audit fields"
    )
    timeline.add_argument("db", metavar="DB")
    timeline.add_argument("--id", required=True, metavar="ENTERPRISE")
    timeline.add_argument("--superseded", action="store_true", help="include superseded decisions")
    timeline.add_argument("--out", metavar="FILE")
    timeline.set_defaults(handler=_cmd_timeline)

    due = sub.add_parser("due", help="enterprises whose next inspection falls due by a date")
    due.add_argument("db", metavar="DB")
    due.add_argument("--by", required=True, metavar="DATE")
    due.add_argument("--as-of", metavar="DATE", help="grade as of this date (default: --by)")
    due.add_argument("--region", help="only this region")
    due.add_argument("--grid", help="only this grid")
    due.add_argument("--out", metavar="FILE")
    due.set_defaults(handler=_cmd_due)

    level = sub.add_parser("level", help="ids of the enterprises at a level")
    level.add_argument("db", metavar="DB")
    level.add_argument("level", metavar="LEVEL")
    level.add_argument("--as-of", metavar="DATE", help="default: today")
    level.add_argument("--scheme", help="only enterprises of this scheme")
    level.set_defaults(handler=_cmd_level)

    review = sub.add_parser("review", help="store the periodic reviews due on or before a date")
    review.add_argument("db", metavar="DB")
    review.add_argument("--through", required=True, metavar="DATE")
    review.set_defaults(handler=_cmd_review)

    verify = sub.add_parser(
        "verify", help="check chains, hashes and packs; re-grade every current decision"
    )
    verify.add_argument("db", metavar="DB")
    verify.add_argument(
        "--no-regrade", action="store_true", help="check chains and hashes only (fast)"
    )
    verify.add_argument(
        "--id", action="append", metavar="ENTERPRISE", help="re-grade only these (repeatable)"
    )
    verify.set_defaults(handler=_cmd_verify)
