"""Verifying a ledger: recompute every chain and hash, and re-grade with the pure function.

This module reads the database directly, never the ledger's caches, and re-grades with
``Evaluator.replay`` (the pure grading function) rather than with the incremental engine that
made the decisions, so that a bug in the one shows up as a difference against the other.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from riskgrade._ledger_codec import (
    GENESIS,
    content_hash,
    decode_state,
    inputs_digest,
)
from riskgrade._ledger_regrade import PackSchedule
from riskgrade._ledger_store import APPLICATION_ID, TABLES, row_hash
from riskgrade.compiled import RulePack, load_pack_files
from riskgrade.decisions import Decision, Lang, decision_from_step
from riskgrade.errors import RiskgradeError
from riskgrade.evaluation import Evaluator, next_scheduled_point
from riskgrade.ledger import Problem, VerifyReport
from riskgrade.packs import PackFiles
from riskgrade.records import Enterprise, Event, RecordSet, parse_enterprise_line, parse_event_line

__all__ = ["verify_ledger"]


class Report(Protocol):
    """Adds one problem to the report being built."""

    def __call__(
        self,
        kind: str,
        message: str,
        table: str | None = None,
        seq: int | None = None,
        enterprise_id: str | None = None,
    ) -> None: ...


_MAX_SHOWN = 120


def verify_ledger(
    conn: sqlite3.Connection,
    *,
    name: str,
    lang: Lang,
    regrade: bool,
    only: frozenset[str] | None,
) -> VerifyReport:
    """Check everything in the ledger behind ``conn`` and return a ``VerifyReport``."""
    problems: list[Problem] = []

    def report(
        kind: str,
        message: str,
        table: str | None = None,
        seq: int | None = None,
        enterprise_id: str | None = None,
    ) -> None:
        problems.append(Problem(kind, message, table, seq, enterprise_id))

    counts: dict[str, int] = {}
    _check_schema(conn, report)
    packs = _check_packs(conn, report)
    schedule_rows = _check_chain(conn, "pack_versions", report)
    counts["pack versions"] = len(schedule_rows)
    versions: list[tuple[dt.date, RulePack]] = []
    for row in schedule_rows:
        pack = packs.get(row["digest"])
        if pack is None:
            report(
                "pack",
                f"version names pack {row['digest']}, whose files are missing or bad",
                "pack_versions",
                row["seq"],
            )
            continue
        if (pack.ref.id, pack.ref.version) != (row["pack_id"], row["version"]):
            report(
                "pack",
                f"says {row['pack_id']} {row['version']},"
                f" the files are {pack.ref.id} {pack.ref.version}",
                "pack_versions",
                row["seq"],
            )
        versions.append((dt.date.fromisoformat(row["effective"]), pack))
    schedule = PackSchedule(versions) if versions else None

    enterprise_rows = _check_chain(conn, "enterprises", report)
    record_rows = _check_chain(conn, "records", report)
    counts["enterprises"] = len(enterprise_rows)
    counts["records"] = len(record_rows)
    enterprises = _parse_enterprises(enterprise_rows, report)
    events = _parse_events(record_rows, report)
    record_hash = {row["id"]: row["content_hash"] for row in record_rows}
    try:
        records = RecordSet.build(enterprises.values(), events.values())
    except RiskgradeError as exc:
        report("reference", exc.describe(), "records")
        records = None

    decision_rows = _rows(conn, "decisions")
    supersession_rows = _rows(conn, "supersessions")
    counts["decisions"] = len(decision_rows)
    counts["supersessions"] = len(supersession_rows)
    by_seq = {row["seq"]: row for row in decision_rows}
    superseded = {row["decision_seq"] for row in supersession_rows}
    chains: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in decision_rows:
        chains[row["enterprise_id"]].append({"table": "decisions", **row})
    for row in supersession_rows:
        chains[row["enterprise_id"]].append({"table": "supersessions", **row})
    heads: list[str] = []
    for enterprise_id, links in sorted(chains.items()):
        links.sort(key=lambda link: (link["pos"], link["table"]))
        heads.append(f"{enterprise_id}\0{links[-1]['hash']}")
        _check_enterprise_chain(enterprise_id, links, by_seq, report)

    current_by_enterprise: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in decision_rows:
        _check_decision_row(row, record_hash, report)
        if row["seq"] not in superseded:
            current_by_enterprise[row["enterprise_id"]].append(row)
    counts["current decisions"] = sum(len(rows) for rows in current_by_enterprise.values())

    events_of: dict[str, list[Event]] = defaultdict(list)
    for event in events.values():
        events_of[event.enterprise_id].append(event)
    regraded = 0
    for enterprise_id, enterprise in enterprises.items():
        current = sorted(
            current_by_enterprise.get(enterprise_id, []), key=lambda r: r["assessed_on"]
        )
        history = sorted(events_of.get(enterprise_id, []), key=lambda e: (e.date, e.id))
        _check_current(enterprise_id, current, history, schedule, report)
        if (
            regrade
            and schedule is not None
            and records is not None
            and (only is None or enterprise_id in only)
        ):
            regraded += _regrade(enterprise, current, history, schedule, lang, report)
    if regrade:
        counts["decisions re-graded"] = regraded

    tails = [
        f"{table}\0{rows[-1]['hash'] if rows else GENESIS}"
        for table, rows in (
            ("pack_versions", schedule_rows),
            ("enterprises", enterprise_rows),
            ("records", record_rows),
        )
    ]
    anchor = content_hash("\n".join(tails + heads))
    return VerifyReport(problems=tuple(problems), counts=counts, anchor=anchor)


# ---------------------------------------------------------------------------------------------


def _rows(conn: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    cursor = conn.execute(f"SELECT * FROM {table} ORDER BY seq")
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _check_schema(conn: sqlite3.Connection, report: Report) -> None:
    if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        report("schema", "the SQLite application_id is not a riskgrade ledger's")
    triggers = {
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    }
    for table in ("meta", "pack_files", *TABLES):
        for action in ("update", "delete"):
            if f"{table}_no_{action}" not in triggers:
                report(
                    "schema",
                    f"the trigger that forbids {action.upper()} on {table} is missing",
                    table,
                )


def _check_packs(conn: sqlite3.Connection, report: Report) -> dict[str, RulePack]:
    files: dict[str, dict[str, bytes]] = defaultdict(dict)
    for digest, path, data in conn.execute("SELECT digest, path, data FROM pack_files"):
        files[digest][path] = bytes(data)
    packs: dict[str, RulePack] = {}
    for digest, contents in sorted(files.items()):
        stored = PackFiles(files=contents)
        if stored.digest != digest:
            report(
                "pack",
                f"the files stored for pack {digest} now digest to {stored.digest}"
                " (a pack file changed)",
                "pack_files",
            )
            continue
        try:
            packs[digest] = load_pack_files(stored, name=f"ledger#{digest}")
        except RiskgradeError as exc:
            report("pack", f"pack {digest} no longer compiles: {exc.describe()}", "pack_files")
    return packs


def _check_chain(conn: sqlite3.Connection, table: str, report: Report) -> list[dict[str, Any]]:
    """Check a table chained in arrival order; return its rows."""
    rows = _rows(conn, table)
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        if row["seq"] != expected_seq:
            report(
                "chain",
                f"seq {row['seq']} where {expected_seq} was expected (a row is missing)",
                table,
                row["seq"],
            )
        if row["prev_hash"] != prev:
            report(
                "chain",
                "prev_hash does not link to the row before"
                " (a row was removed, inserted or reordered)",
                table,
                row["seq"],
            )
        if row_hash(table, row, row["prev_hash"]) != row["hash"]:
            report(
                "hash",
                "the row's hash does not match its content (the row was changed)",
                table,
                row["seq"],
            )
        if "content_hash" in row and content_hash(row["content"]) != row["content_hash"]:
            report("hash", "content_hash does not match the stored content", table, row["seq"])
        prev = row["hash"]
    return rows


def _parse_enterprises(rows: Sequence[dict[str, Any]], report: Report) -> dict[str, Enterprise]:
    parsed: dict[str, Enterprise] = {}
    for row in rows:
        try:
            record = parse_enterprise_line(row["content"], file="enterprises", line=row["seq"])
        except RiskgradeError as exc:
            report("content", f"unreadable: {exc.describe()}", "enterprises", row["seq"])
            continue
        columns = {
            "id": record.id,
            "scheme": record.scheme,
            "region": record.region,
            "grid": record.grid,
        }
        _check_columns(row, columns, "enterprises", report)
        parsed[record.id] = record
    return parsed


def _parse_events(rows: Sequence[dict[str, Any]], report: Report) -> dict[str, Event]:
    parsed: dict[str, Event] = {}
    for row in rows:
        try:
            record = parse_event_line(row["content"], file="records", line=row["seq"])
        except RiskgradeError as exc:
            report("content", f"unreadable: {exc.describe()}", "records", row["seq"])
            continue
        columns = {
            "id": record.id,
            "enterprise_id": record.enterprise_id,
            "date": record.date.isoformat(),
            "type": record.type,
        }
        _check_columns(row, columns, "records", report)
        parsed[record.id] = record
    return parsed


def _check_columns(
    row: Mapping[str, Any], columns: Mapping[str, object], table: str, report: Report
) -> None:
    wrong = [key for key, value in columns.items() if row[key] != value]
    if wrong:
        report(
            "content",
            f"column(s) {', '.join(wrong)} disagree with the stored content",
            table,
            row["seq"],
        )


def _check_enterprise_chain(
    enterprise_id: str,
    links: Sequence[Mapping[str, Any]],
    decisions: Mapping[int, Mapping[str, Any]],
    report: Report,
) -> None:
    prev = GENESIS
    for expected_pos, link in enumerate(links):
        table, seq = link["table"], link["seq"]
        if link["pos"] != expected_pos:
            report(
                "chain",
                f"position {link['pos']} where {expected_pos} was expected"
                " (a link is missing or doubled)",
                table,
                seq,
                enterprise_id,
            )
        if link["prev_hash"] != prev:
            report(
                "chain",
                "prev_hash does not link to the enterprise's previous decision or supersession",
                table,
                seq,
                enterprise_id,
            )
        row = {key: value for key, value in link.items() if key != "table"}
        if row_hash(table, row, link["prev_hash"]) != link["hash"]:
            report(
                "hash",
                "the row's hash does not match its content (the row was changed)",
                table,
                seq,
                enterprise_id,
            )
        if table == "supersessions":
            target = decisions.get(link["decision_seq"])
            if (
                target is None
                or target["enterprise_id"] != enterprise_id
                or target["pos"] >= link["pos"]
            ):
                report(
                    "chain",
                    f"supersedes decision {link['decision_seq']},"
                    " which is not an earlier decision of this enterprise",
                    table,
                    seq,
                    enterprise_id,
                )
            elif target["hash"] != link["decision_hash"]:
                report(
                    "hash",
                    f"records hash {link['decision_hash']} for decision {link['decision_seq']},"
                    " which now has another",
                    table,
                    seq,
                    enterprise_id,
                )
        prev = link["hash"]


def _check_decision_row(
    row: Mapping[str, Any], record_hash: Mapping[str, str], report: Report
) -> None:
    seq, enterprise_id = row["seq"], row["enterprise_id"]
    try:
        decision = Decision.from_json(row["decision"])
    except ValueError as exc:
        report("content", f"the decision is unreadable: {exc}", "decisions", seq, enterprise_id)
        return
    treatment = decision.treatment
    expected = {
        "enterprise_id": decision.enterprise_id,
        "assessed_on": decision.assessed_on.isoformat(),
        "level": decision.level,
        "next_due": None if treatment is None else treatment.next_inspection_due.isoformat(),
        "pack_digest": decision.pack.digest,
    }
    if (
        row["next_due"] is None
        and treatment is not None
        and treatment.next_inspection_due == decision.as_of
    ):
        expected["next_due"] = None  # no record fixes the due date yet: due on any as-of date
    for key, value in expected.items():
        if row[key] != value:
            report(
                "content",
                f"column {key} is {row[key]!r} but the decision says {value!r}",
                "decisions",
                seq,
                enterprise_id,
            )
    if decision.as_of != decision.assessed_on:
        report(
            "content",
            "a stored decision must be as of its own re-grade point",
            "decisions",
            seq,
            enterprise_id,
        )
    try:
        decode_state(row["state"], where="decisions")
    except RiskgradeError as exc:
        report("content", exc.message, "decisions", seq, enterprise_id)
    try:
        inputs = json.loads(row["inputs"])
    except ValueError:
        report("content", "the inputs are not a JSON list", "decisions", seq, enterprise_id)
        return
    missing = [item for item in inputs if item not in record_hash]
    if missing:
        report(
            "inputs",
            f"inputs name records not in the ledger: {', '.join(missing[:5])}",
            "decisions",
            seq,
            enterprise_id,
        )
        return
    if inputs_digest((item, record_hash[item]) for item in inputs) != row["inputs_digest"]:
        report(
            "inputs",
            "the inputs digest does not match the stored records (an input record changed)",
            "decisions",
            seq,
            enterprise_id,
        )


def _check_current(
    enterprise_id: str,
    current: Sequence[Mapping[str, Any]],
    history: Sequence[Event],
    schedule: PackSchedule | None,
    report: Report,
) -> None:
    """Each current decision must be graded from every record dated on or before it."""
    seen: set[str] = set()
    for row in current:
        if row["assessed_on"] in seen:
            report(
                "chain",
                f"two current decisions at {row['assessed_on']}",
                "decisions",
                row["seq"],
                enterprise_id,
            )
        seen.add(row["assessed_on"])
        day = dt.date.fromisoformat(row["assessed_on"])
        expected = [event.id for event in history if event.date <= day]
        try:
            inputs = json.loads(row["inputs"])
        except ValueError:
            continue
        if sorted(inputs) != sorted(expected):
            extra = sorted(set(expected) - set(inputs))
            report(
                "inputs",
                f"current decision ignores records {', '.join(extra[:5]) or '-'}"
                " dated on or before it"
                + (" and names others" if set(inputs) - set(expected) else ""),
                "decisions",
                row["seq"],
                enterprise_id,
            )
        if schedule is not None:
            try:
                in_force = schedule.at(day).ref.digest
            except RiskgradeError:
                in_force = None
            if in_force != row["pack_digest"]:
                report(
                    "pack",
                    f"graded under {row['pack_digest']}, but {in_force} is in force on {day}",
                    "decisions",
                    row["seq"],
                    enterprise_id,
                )
    if history:
        latest = max(event.date for event in history)
        if not current or current[-1]["assessed_on"] < latest.isoformat():
            report(
                "missing",
                f"no current decision on or after its latest record ({latest})",
                "decisions",
                None,
                enterprise_id,
            )


def _pure_points(
    enterprise: Enterprise,
    history: Sequence[Event],
    until: dt.date,
    schedule: PackSchedule,
    lang: Lang,
) -> dict[str, Decision]:
    """The decisions made at every re-grade point up to ``until``, each by a replay from scratch.

    A day is a re-grade point when the replay as of that day ends with a step on that day;
    candidates are the record dates, the next review or anniversary the replay's state names,
    and the days a pack version takes effect.
    """
    raw = sorted({event.date for event in history if event.date <= until})
    if not raw:
        return {}
    switches = sorted(day for day in schedule.dates[1:] if day <= until)
    points: dict[str, Decision] = {}
    day = raw[0]
    while True:
        pack = schedule.at(day)
        evaluator = Evaluator(pack)
        replay = evaluator.replay(enterprise, history, day)
        last = replay.steps[-1]
        if last.kind != "as_of" and last.date == day:
            points[day.isoformat()] = decision_from_step(replay, last, pack.ref, lang)
        candidates = [d for d in raw if d > day][:1] + [d for d in switches if d > day][:1]
        if last.kind != "as_of":
            upcoming = next_scheduled_point(replay.scheme, replay.state, day)
            candidates += [upcoming] if upcoming is not None and upcoming > day else []
        candidates = [d for d in candidates if d <= until]
        if not candidates:
            return points
        day = min(candidates)


def _regrade(
    enterprise: Enterprise,
    current: Sequence[Mapping[str, Any]],
    history: Sequence[Event],
    schedule: PackSchedule,
    lang: Lang,
    report: Report,
) -> int:
    if not current:
        return 0
    until = dt.date.fromisoformat(current[-1]["assessed_on"])
    try:
        expected = _pure_points(enterprise, history, until, schedule, lang)
    except RiskgradeError as exc:
        report("regrade", f"cannot be re-graded: {exc.describe()}", None, None, enterprise.id)
        return 0
    stored = {row["assessed_on"]: row for row in current}
    for day in sorted(set(expected) | set(stored)):
        row = stored.get(day)
        decision = expected.get(day)
        if row is None:
            report(
                "regrade",
                f"no current decision at the re-grade point {day}",
                "decisions",
                None,
                enterprise.id,
            )
        elif decision is None:
            report(
                "regrade",
                f"a current decision at {day}, which is not a re-grade point",
                "decisions",
                row["seq"],
                enterprise.id,
            )
        elif decision.to_json() != row["decision"]:
            report(
                "regrade",
                f"differs from the re-grade at {day}: "
                + _difference(row["decision"], decision.to_json()),
                "decisions",
                row["seq"],
                enterprise.id,
            )
    return len(stored)


def _difference(stored: str, fresh: str) -> str:
    try:
        old, new = json.loads(stored), json.loads(fresh)
    except ValueError:
        return "stored text is not JSON"
    for key in new:
        if old.get(key) != new.get(key):
            shown_old = json.dumps(old.get(key), ensure_ascii=False)[:_MAX_SHOWN]
            shown_new = json.dumps(new.get(key), ensure_ascii=False)[:_MAX_SHOWN]
            return f"{key} is {shown_old}, the re-grade gives {shown_new}"
    return "the stored text is not in canonical form"
