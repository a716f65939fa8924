"""``riskgrade demo``: a synthetic county, graded end to end with the default pack."""

from __future__ import annotations

import collections
import datetime as dt
import json
import sys
from pathlib import Path

from riskgrade.compiled import load_pack
from riskgrade.dates import add_months, parse_date
from riskgrade.decisions import Decision, Lang
from riskgrade.grading import Grader
from riskgrade.records import load_records
from riskgrade.synthetic import CountySpec, generate_county

__all__ = ["run_demo", "summarise"]


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    tmp.replace(path)


def summarise(decisions: list[Decision], as_of: dt.date, lang: Lang = "en") -> str:
    """Return the demo's summary: levels per scheme, transitions and inspections due."""
    zh = lang == "zh"
    lines: list[str] = []
    by_scheme: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    transitions: collections.Counter[str] = collections.Counter()
    due_month = overdue = 0
    month_end = add_months(as_of, 1)
    for d in decisions:
        by_scheme[d.scheme][d.level or "-"] += 1
        transitions[d.transition or "-"] += 1
        if d.treatment is not None:
            overdue += d.treatment.overdue
            due_month += d.treatment.next_inspection_due < month_end
    for scheme, counts in sorted(by_scheme.items()):
        parts = ", ".join(f"{level} {n}" for level, n in sorted(counts.items()))
        lines.append(f"  {scheme}: {parts}")
    lines.append(
        ("  最近一次调整：" if zh else "  last transitions: ")
        + ", ".join(f"{t} {n}" for t, n in sorted(transitions.items()))
    )
    lines.append(
        f"  {as_of} 起一个月内应检查 {due_month} 家，其中已逾期 {overdue} 家"
        if zh
        else f"  inspections due within a month of {as_of}: {due_month} "
        f"(already overdue: {overdue})"
    )
    return "\n".join(lines)


def run_demo(*, out_dir: str, as_of: str, lang: Lang = "en", seed: int = 2009) -> int:
    """Generate, grade and summarise a synthetic county; return the exit code."""
    day = parse_date(as_of)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    spec = CountySpec(seed=seed, as_of=day)
    enterprises, events = generate_county(spec)
    ent_path, ev_path = folder / "enterprises.jsonl", folder / "events.jsonl"
    _write_jsonl(ent_path, enterprises)
    _write_jsonl(ev_path, events)
    from riskgrade.cli import atomic_output, default_pack_dir

    pack = load_pack(default_pack_dir())
    records = load_records(ent_path, ev_path)
    grader = Grader(pack, lang=lang)
    decisions = grader.grade(records, day)
    out_path = folder / "decisions.jsonl"
    with atomic_output(str(out_path)) as out:
        for decision in decisions:
            out.write(decision.to_json() + "\n")
    grids = {e.get("grid") for e in enterprises}
    header = (
        f"riskgrade 演示：合成县域 {len(enterprises)} 家企业，{len(grids)} 个网格，"
        f"{len(events)} 条记录，"
        f"规则包 {pack.ref.id} {pack.ref.version}，评定日 {day}"
        if lang == "zh"
        else f"riskgrade demo: a synthetic county of {len(enterprises)} enterprises "
        f"in {len(grids)} grids, "
        f"{len(events)} records; pack {pack.ref.id} {pack.ref.version}; graded as of {day}"
    )
    sys.stdout.write(header + "\n")
    sys.stdout.write(summarise(decisions, day, lang) + "\n")
    worst = next((d for d in decisions if d.level in ("high", "D")), decisions[0])
    sys.stdout.write(
        ("\n示例说明：\n" if lang == "zh" else "\nOne enterprise, explained:\n")
        + worst.explain(lang)
    )
    sys.stdout.write(
        f"\nwrote {ent_path}, {ev_path} and {out_path}\n"
        f"try: riskgrade explain --pack zhuji --enterprises {ent_path} "
        f"--events {ev_path} --as-of {day} --id {worst.enterprise_id}\n"
    )
    from riskgrade.report import build_report

    report_path = folder / "report.html"
    with atomic_output(str(report_path)) as out:
        out.write(build_report(pack, records, day, lang=lang))
    sys.stdout.write(
        f"\n报告（HTML）：{report_path.resolve()}\n"
        if lang == "zh"
        else f"\nreport (HTML): {report_path.resolve()}\n"
    )
    return 0
