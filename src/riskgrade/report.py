"""The HTML report of a graded population: one self-contained page a supervisor can read.

:func:`build_report` grades every enterprise as of a date and returns one HTML document with
no network access and no external assets: the level distribution by region and by grid, the
transitions over time, the inspections due per month, and a section per enterprise with its
timeline (score and level over time, the records that moved it), its reasons and its treatment.
Charts are inline SVG drawn here; the only script is a few lines that filter the index, open
an enterprise's section when its link is followed, and record any page error on the ``<html>``
element (``data-errors``) for the browser test. Texts are in English or Chinese.

The timelines are the re-grades *as they were made at the time*
(:meth:`~riskgrade.evaluation.Evaluator.timeline`), so a correction shows where it happened.
The same records and date always give the same bytes: nothing depends on the clock.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from riskgrade.compiled import RulePack, Scheme
from riskgrade.dates import add_months
from riskgrade.decisions import Decision, Lang, render_cause, transition_word
from riskgrade.evaluation import Step
from riskgrade.grading import Grader
from riskgrade.records import Enterprise, Event, RecordSet, event_to_mapping

__all__ = ["EnterpriseReport", "build_report", "collect", "render_report"]


@dataclass(frozen=True)
class EnterpriseReport:
    """What the report shows of one enterprise: its decision and its timeline of re-grades."""

    enterprise: Enterprise
    scheme: Scheme
    decision: Decision
    timeline: tuple[Step, ...]
    events: tuple[Event, ...]


def collect(
    pack: RulePack, records: RecordSet, as_of: dt.date, *, lang: Lang = "en", engine: str = "python"
) -> list[EnterpriseReport]:
    """Grade every enterprise as of ``as_of`` and replay its timeline, in input order.

    Raises :class:`~riskgrade.errors.InputError` for an enterprise its scheme rejects.
    """
    grader = Grader(pack, engine=engine, lang=lang)
    out: list[EnterpriseReport] = []
    for enterprise in records.enterprises:
        events = records.events_of(enterprise.id)
        decision = grader.decide(enterprise, events, as_of)
        timeline = grader.evaluator.timeline(enterprise, events, as_of)
        scheme = pack.scheme_for(enterprise)
        out.append(EnterpriseReport(enterprise, scheme, decision, timeline, events))
    return out


def build_report(
    pack: RulePack,
    records: RecordSet,
    as_of: dt.date,
    *,
    lang: Lang = "en",
    title: str | None = None,
    engine: str = "python",
) -> str:
    """Grade ``records`` under ``pack`` as of ``as_of`` and return the report as HTML text."""
    entries = collect(pack, records, as_of, lang=lang, engine=engine)
    return render_report(
        entries, pack=pack, as_of=as_of, lang=lang, title=title, records=len(records.events)
    )


# --- words -----------------------------------------------------------------------------------

_WORDS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "Risk grading report",
        "as_of": "as of",
        "pack": "Rule pack",
        "enterprises": "enterprises",
        "records": "records",
        "graded": "graded",
        "ungraded": "not graded",
        "overdue": "overdue",
        "contents": "Contents",
        "summary": "Summary",
        "by_region": "Levels by region",
        "by_grid": "Levels by grid",
        "transitions": "Transitions over time",
        "transitions_note": "Re-grades that changed a level, per month, as made at the time "
        "(the last 36 months).",
        "workload": "Inspections due per month",
        "workload_note": "Projected from each treatment plan: the next inspection due (an "
        "overdue one counts in the first month), then every 12/frequency months.",
        "index": "All enterprises",
        "details": "Enterprises",
        "search": "Find by id, name, region, grid or level",
        "id": "id",
        "name": "name",
        "scheme": "scheme",
        "region": "region",
        "grid": "grid",
        "level": "level",
        "score": "score",
        "transition": "last transition",
        "step_transition": "transition",
        "due": "next inspection due",
        "count": "count",
        "none": "(none)",
        "unknown": "(unknown)",
        "level_over_time": "Level and score over time",
        "regrades": "Re-grades",
        "date": "date",
        "cause": "cause",
        "moved_by": "records of the day",
        "reasons": "Reasons",
        "points": "points",
        "evidence": "records",
        "treatment": "Treatment",
        "per_year": "inspections a year: {i}; sampling a year: {s}",
        "raw": "raw level",
        "assessed": "set on",
        "previous": "previous",
        "all": "all",
        "months_due": "due",
        "legend_score": "score",
        "legend_records": "records",
    },
    "zh": {
        "title": "风险分级报告",
        "as_of": "评定日",
        "pack": "规则包",
        "enterprises": "家企业",
        "records": "条记录",
        "graded": "已评定",
        "ungraded": "未评定",
        "overdue": "已逾期",
        "contents": "目录",
        "summary": "概况",
        "by_region": "按区域的等级分布",
        "by_grid": "按网格的等级分布",
        "transitions": "等级调整趋势",
        "transitions_note": "每月调整等级的评定次数（按当时的评定，近 36 个月）。",
        "workload": "每月应检查数",
        "workload_note": "按各企业的监管措施推算：下次应检查日期（已逾期的计入第一个月），"
        "此后每隔 12/频次 个月一次。",
        "index": "全部企业",
        "details": "企业详情",
        "search": "按编号、名称、区域、网格或等级查找",
        "id": "编号",
        "name": "名称",
        "scheme": "分级方案",
        "region": "区域",
        "grid": "网格",
        "level": "等级",
        "score": "分值",
        "transition": "最近调整",
        "step_transition": "调整",
        "due": "下次检查",
        "count": "数量",
        "none": "（无）",
        "unknown": "（未知）",
        "level_over_time": "等级与分值变化",
        "regrades": "评定记录",
        "date": "日期",
        "cause": "原因",
        "moved_by": "当日记录",
        "reasons": "依据",
        "points": "分",
        "evidence": "记录",
        "treatment": "监管措施",
        "per_year": "每年检查 {i} 次；每年抽样 {s} 次",
        "raw": "规则等级",
        "assessed": "评定日",
        "previous": "原等级",
        "all": "全部",
        "months_due": "应检查",
        "legend_score": "分值",
        "legend_records": "记录",
    },
}

_EVENT_WORDS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "spot_check": "spot check",
        "recheck": "re-test",
        "inspection": "inspection",
        "rectification": "rectification",
        "enforcement": "enforcement",
        "complaint": "complaint",
        "incident": "incident",
        "void": "void",
        "pass": "passed",
        "fail": "failed",
        "substantiated": "substantiated",
        "unsubstantiated": "not substantiated",
        "verified": "verified",
        "unverified": "not verified",
        "of": "of",
        "deadline": "deadline",
        "intentional": "intentional",
        "counterfeit": "counterfeit",
    },
    "zh": {
        "spot_check": "监督抽查",
        "recheck": "复检",
        "inspection": "日常检查",
        "rectification": "整改",
        "enforcement": "违法查处",
        "complaint": "投诉",
        "incident": "食品安全事故",
        "void": "作废",
        "pass": "合格",
        "fail": "不合格",
        "substantiated": "属实",
        "unsubstantiated": "不属实",
        "verified": "已验证",
        "unverified": "未验证",
        "of": "针对",
        "deadline": "期限",
        "intentional": "故意",
        "counterfeit": "假冒伪劣",
    },
}

#: Transitions drawn in the chart over time, with their colours.
_MOVES: tuple[tuple[str, str], ...] = (
    ("worsened", "#c62828"),
    ("improved", "#2e7d32"),
    ("corrected", "#6a1b9a"),
)
_RAMP = (
    (0x2E, 0x7D, 0x32),
    (0x9C, 0xCC, 0x65),
    (0xF9, 0xA8, 0x25),
    (0xEF, 0x6C, 0x00),
    (0xC6, 0x28, 0x28),
)
_GREY = "#9e9e9e"
_SCHEME_HUES = ("#1565c0", "#00838f", "#5e35b1", "#6d4c41", "#37474f")
_TRANSITION_MONTHS = 36
_WORKLOAD_MONTHS = 12


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(value: Decimal | None) -> str:
    if value is None:
        return "-"
    text = format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    return text.removesuffix(".0") if "." in text and text.endswith(".0") else text


def level_color(index: int | None, count: int) -> str:
    """Return the colour of level ``index`` of ``count`` (best green, worst red; null grey)."""
    if index is None:
        return _GREY
    position = 0.0 if count <= 1 else index / (count - 1) * (len(_RAMP) - 1)
    low = min(int(position), len(_RAMP) - 2)
    frac = position - low
    rgb = tuple(round(a + (b - a) * frac) for a, b in zip(_RAMP[low], _RAMP[low + 1], strict=True))
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _anchor(enterprise_id: str, index: int) -> str:
    if re.fullmatch(r"[A-Za-z0-9_.-]+", enterprise_id):
        return f"e-{enterprise_id}"
    return f"e-n{index}"


def _nice_ceiling(value: float, ticks: int = 4) -> float:
    """The smallest ``ticks`` times 1, 2 or 5 (times a power of ten) at or above ``value``."""
    step = 1.0
    while step * ticks < value:
        for factor in (2, 2.5, 2):  # 1 → 2 → 5 → 10 → 20 ...
            step *= factor
            if step * ticks >= value:
                break
    return step * ticks


# --- charts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Series:
    name: str
    color: str


def _legend(series: Sequence[_Series], left: float, right: float) -> tuple[str, int]:
    """The legend in rows from (``left``, 16), wrapped before ``right``; and the height used."""
    parts: list[str] = []
    x, y = left, 16
    for item in series:
        size = 24 + 6.5 * len(item.name) * (2 if _wide(item.name) else 1)
        if x > left and x + size > right:
            x, y = left, y + 16
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 9}" width="10" height="10" fill="{item.color}"/>'
            f'<text x="{x + 14:.1f}" y="{y}" class="lg">{_e(item.name)}</text>'
        )
        x += size
    return "".join(parts), y + 8


def _wide(text: str) -> bool:
    return any(ord(ch) > 0x2E80 for ch in text)


def hbar_chart(
    chart: str, rows: Sequence[tuple[str, Sequence[int]]], series: Sequence[_Series], title: str
) -> str:
    """A horizontal stacked bar chart: one row per label, one segment per series."""
    label_w, bar_w, row_h = 110, 330, 16
    width = label_w + bar_w + 60
    legend, legend_h = _legend(series, 8, width - 8)
    top = legend_h + 10
    height = top + row_h * max(1, len(rows)) + 8
    largest = max((sum(values) for _, values in rows), default=0) or 1
    out = [
        f'<svg class="chart" data-chart="{_e(chart)}" role="img" aria-label="{_e(title)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_e(title)}</title>",
        legend,
    ]
    for i, (label, values) in enumerate(rows):
        y = top + i * row_h
        out.append(
            f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end" class="lb">{_e(label)}</text>'
        )
        x = float(label_w)
        for value, item in zip(values, series, strict=True):
            if not value:
                continue
            w = bar_w * value / largest
            out.append(
                f'<rect class="bar" x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row_h - 4}" '
                f'fill="{item.color}"><title>{_e(label)} · {_e(item.name)}: {value}</title></rect>'
            )
            x += w
        out.append(f'<text x="{x + 6:.1f}" y="{y + 13}" class="n">{sum(values)}</text>')
    out.append("</svg>")
    return "".join(out)


def vbar_chart(
    chart: str,
    columns: Sequence[tuple[str, Sequence[int]]],
    series: Sequence[_Series],
    title: str,
) -> str:
    """A vertical stacked bar chart: one column per label (e.g. a month)."""
    left, plot_h, bottom = 40, 170, 46
    col_w = max(12.0, min(48.0, 660 / max(1, len(columns))))
    width = int(left + col_w * len(columns) + 20)
    legend, legend_h = _legend(series, left, width - 8)
    top = legend_h + 8
    height = top + plot_h + bottom
    largest = _nice_ceiling(max((sum(v) for _, v in columns), default=0))
    out = [
        f'<svg class="chart" data-chart="{_e(chart)}" role="img" aria-label="{_e(title)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_e(title)}</title>",
        legend,
    ]
    for tick in range(5):
        value = largest * tick / 4
        y = top + plot_h - plot_h * tick / 4
        out.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" class="ax">'
            f"{value:g}</text>"
        )
    for i, (label, values) in enumerate(columns):
        x = left + i * col_w
        y = float(top + plot_h)
        for value, item in zip(values, series, strict=True):
            if not value:
                continue
            h = plot_h * value / largest
            y -= h
            out.append(
                f'<rect class="bar" x="{x + 1:.1f}" y="{y:.1f}" width="{col_w - 2:.1f}" '
                f'height="{h:.1f}" fill="{item.color}">'
                f"<title>{_e(label)} · {_e(item.name)}: {value}</title></rect>"
            )
        if len(columns) <= 14 or i % 3 == 0:
            lx, ly = x + col_w / 2, top + plot_h + 12
            out.append(
                f'<text x="{lx:.1f}" y="{ly}" class="ax" text-anchor="end" '
                f'transform="rotate(-45 {lx:.1f} {ly})">{_e(label)}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def timeline_chart(entry: EnterpriseReport, as_of: dt.date, lang: Lang) -> str:
    """The level over time (a step line, worst at the top), the score below it (where the
    scheme has one) and the enterprise's records as ticks along the bottom."""
    scheme = entry.scheme
    levels = scheme.levels
    n = len(levels)
    steps = entry.timeline
    start = min([s.date for s in steps] + [e.date for e in entry.events if e.date <= as_of])
    end = as_of if as_of > start else start + dt.timedelta(days=30)
    span = max(1, (end - start).days)
    scores = [s.assessment.score for s in steps if s.assessment.score is not None]
    width, left, right, top = 660, 70, 40, 8
    plot_w = width - left - right
    level_h = 14 * n
    score_top = top + level_h + 10
    score_h = 48 if scores else 0
    base = score_top + score_h + (4 if scores else 0)
    height = base + 30
    w = _WORDS[lang]

    def x_of(day: dt.date) -> float:
        return left + plot_w * (day - start).days / span

    def y_level(index: int) -> float:
        return top + level_h - 14 * (index + 0.5)

    top_score = _nice_ceiling(float(max(scores)), 1) if scores else 1.0

    def y_score(value: Decimal) -> float:
        return score_top + score_h - score_h * float(value) / top_score

    out = [
        f'<svg class="tl" data-chart="timeline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{_e(w["level_over_time"])}">'
    ]
    for i, level in enumerate(levels):
        y = y_level(i)
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="ax" '
            f'fill="{level_color(i, n)}">{_e(level)}</text>'
        )
    # Each level holds from its step to the next; an ungraded stretch is a gap.
    path: list[str] = []
    for i, step in enumerate(steps):
        if step.level is None:
            continue
        nxt = steps[i + 1].date if i + 1 < len(steps) else end
        y = y_level(step.level)
        x0, x1 = x_of(step.date), x_of(max(nxt, step.date))
        joined = i > 0 and steps[i - 1].level is not None
        path.append(f"{'L' if joined else 'M'}{x0:.1f},{y:.1f} L{x1:.1f},{y:.1f}")
    if path:
        out.append(f'<path class="lvl" d="{" ".join(path)}"/>')
    for step in steps:
        if step.level is not None and step.transition in (
            "initial",
            "worsened",
            "improved",
            "corrected",
        ):
            out.append(
                f'<circle class="mv" cx="{x_of(step.date):.1f}" cy="{y_level(step.level):.1f}" '
                f'r="4" fill="{level_color(step.level, n)}"><title>{step.date} · '
                f"{_e(transition_word(step.transition, lang))} → {_e(levels[step.level])}"
                f"</title></circle>"
            )
    if scores:
        bottom = score_top + score_h
        out.append(
            f'<text x="{left - 6}" y="{score_top + score_h / 2 + 4:.1f}" text-anchor="end" '
            f'class="ax">{_e(w["score"])}</text>'
            f'<line x1="{left}" x2="{left + plot_w}" y1="{score_top}" y2="{score_top}" '
            f'class="grid"/><line x1="{left}" x2="{left + plot_w}" y1="{bottom}" y2="{bottom}" '
            f'class="grid"/><text x="{left + plot_w + 4}" y="{score_top + 4}" class="ax">'
            f'{top_score:g}</text><text x="{left + plot_w + 4}" y="{bottom + 4}" class="ax">0'
            "</text>"
        )
        line: list[str] = []
        dots: list[str] = []
        last_y: float | None = None
        for i, step in enumerate(steps):
            score = step.assessment.score
            if score is None:
                last_y = None
                continue
            x, y = x_of(step.date), y_score(score)
            # The score holds until the next re-grade, like the level.
            line.append(f"{'L' if last_y is not None else 'M'}{x:.1f},{y:.1f}")
            nxt = steps[i + 1].date if i + 1 < len(steps) else end
            line.append(f"L{x_of(max(nxt, step.date)):.1f},{y:.1f}")
            last_y = y
            dots.append(
                f'<circle class="sc" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                f"<title>{step.date} · {_e(w['score'])} {_num(score)}</title></circle>"
            )
        out.append(f'<path class="scl" d="{" ".join(line)}"/>')
        out.extend(dots)
    for event in entry.events:
        if event.date > as_of:
            continue
        x = x_of(event.date)
        out.append(
            f'<line class="rec rec-{event.type}" x1="{x:.1f}" x2="{x:.1f}" y1="{base + 2}" '
            f'y2="{base + 10}"><title>{event.date} {_e(event.id)}: '
            f"{_e(event_summary(event, lang))}</title></line>"
        )
    out.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" class="axis"/>'
        f'<text x="{left - 6}" y="{base + 10}" text-anchor="end" class="ax">'
        f"{_e(w['legend_records'])}</text>"
        f'<text x="{left}" y="{base + 24}" class="ax">{start}</text>'
        f'<text x="{left + plot_w}" y="{base + 24}" class="ax" text-anchor="end">{end}</text>'
        "</svg>"
    )
    return "".join(out)


# --- texts -----------------------------------------------------------------------------------


def event_summary(event: Event, lang: Lang) -> str:
    """A short description of a record for a person, e.g. ``spot check failed (national)``."""
    w = _EVENT_WORDS[lang]
    data = event_to_mapping(event)
    kind = w.get(event.type, event.type)
    if event.type == "spot_check":
        found = data.get("items")
        listed = found if isinstance(found, tuple | list) else ()
        items = ", ".join(str(i["name"]) for i in listed if isinstance(i, Mapping))
        text = f"{kind} {w[str(data['result'])]} ({data.get('level')})"
        return f"{text}: {items}" if items else text
    if event.type == "inspection":
        text = f"{kind} {data['outcome']}"
        scores = data.get("scores")
        if isinstance(scores, Mapping) and scores:
            text += (
                " [" + ", ".join(f"{k} {_num(Decimal(str(v)))}" for k, v in scores.items()) + "]"
            )
        if data.get("deadline"):
            text += f"; {w['deadline']} {data['deadline']}"
        return text
    if event.type == "enforcement":
        flags = [w[f] for f in ("intentional", "counterfeit") if data.get(f)]
        text = f"{kind} {data['penalty']}"
        return f"{text} ({', '.join(flags)})" if flags else text
    if event.type == "complaint":
        return f"{kind} {w['substantiated' if data.get('substantiated') else 'unsubstantiated']}"
    if event.type == "rectification":
        state = w["verified" if data.get("verified") else "unverified"]
        return f"{kind} {w['of']} {data['of']} ({state})"
    if event.type == "recheck":
        return f"{kind} {w['of']} {data['of']}: {data['result']}"
    if event.type == "void":
        return f"{kind} {w['of']} {data['of']}: {data['reason']}"
    description = data.get("description")
    return f"{kind}: {description}" if description else kind


def _step_cause(step: Step, scheme: Scheme, lang: Lang) -> str:
    if step.assessment.unmet is not None and step.level is None:
        return step.assessment.unmet.text.get(lang)
    return render_cause(step.cause, scheme, lang)


def _badge(level: str | None, scheme: Scheme, lang: Lang) -> str:
    if level is None:
        return (
            f'<span class="badge" style="background:{_GREY}">{_e(_WORDS[lang]["ungraded"])}</span>'
        )
    index = scheme.levels.index(level)
    color = level_color(index, len(scheme.levels))
    label = scheme.level_specs[index].label.get(lang)
    return f'<span class="badge" style="background:{color}" title="{_e(label)}">{_e(level)}</span>'


# --- the page --------------------------------------------------------------------------------

_CSS = """
:root{--ink:#1f2328;--muted:#656d76;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK SC",
"Microsoft YaHei","PingFang SC",sans-serif;color:var(--ink);background:#fff}
main{max-width:1120px;margin:0 auto;padding:16px 24px 64px}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid
var(--line);padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
.meta{color:var(--muted)}nav a{margin-right:14px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 14px;background:var(--bg)}
.card b{display:block;font-size:20px}
.charts{display:flex;flex-wrap:wrap;gap:8px 24px}
figure{margin:0 0 12px}figcaption{color:var(--muted);font-size:12px;max-width:720px}
svg text{font-size:11px;fill:var(--ink)}svg .ax{fill:var(--muted);font-size:10px}
svg .lg{font-size:11px}svg .n{fill:var(--muted)}svg .grid{stroke:#eaeef2}
svg .axis{stroke:#8c959f}svg .lvl{fill:none;stroke:#57606a;stroke-width:2}
svg .scl{fill:none;stroke:#0969da;stroke-width:1.5}svg .sc{fill:#0969da}
svg .mv{stroke:#fff;stroke-width:1}svg .rec{stroke:#8c959f;stroke-width:1.5}
svg .rec-spot_check,svg .rec-enforcement,svg .rec-incident{stroke:#cf222e}
table{border-collapse:collapse;width:100%;margin:6px 0 10px}
th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;min-width:22px;padding:0 6px;border-radius:10px;color:#fff;
text-align:center;font-weight:600;font-size:12px}
.od{color:#cf222e;font-weight:600}
details.ent{border:1px solid var(--line);border-radius:6px;margin:6px 0;padding:4px 12px}
details.ent>summary{cursor:pointer;font-weight:600}details.ent[open]{background:#fff}
.small{font-size:12px;color:var(--muted)}ul.rs{margin:4px 0;padding-left:18px}
input#q{width:100%;max-width:480px;padding:6px 8px;font:inherit;border:1px solid var(--line);
border-radius:6px;margin:4px 0 8px}
.idx{max-height:560px;overflow:auto;border:1px solid var(--line);border-radius:6px}
.idx table{margin:0}.idx th{position:sticky;top:0}
@media print{details.ent{break-inside:avoid}.idx{max-height:none}}
"""

# Records page errors on <html data-errors> (read by the browser test); filters the index;
# opens an enterprise's section when its link is followed.
_SCRIPT_HEAD = (
    "window.addEventListener('error',function(e){var d=document.documentElement;"
    "d.setAttribute('data-errors',(d.getAttribute('data-errors')||'')+(e.message||'error')+'\\n');});"
)
_SCRIPT_TAIL = """
(function(){
  var q=document.getElementById('q'),rows=document.querySelectorAll('#index tbody tr');
  q.addEventListener('input',function(){
    var t=q.value.trim().toLowerCase();
    for(var i=0;i<rows.length;i++){
      var r=rows[i];r.style.display=!t||r.getAttribute('data-k').indexOf(t)>=0?'':'none';
    }
  });
  function openHash(){
    var id=decodeURIComponent(location.hash.slice(1)),el=id&&document.getElementById(id);
    if(el&&el.tagName==='DETAILS'){el.open=true;el.scrollIntoView();}
  }
  window.addEventListener('hashchange',openHash);openHash();
  document.documentElement.setAttribute('data-ready','1');
})();
"""


def render_report(
    entries: Sequence[EnterpriseReport],
    *,
    pack: RulePack,
    as_of: dt.date,
    lang: Lang = "en",
    title: str | None = None,
    records: int | None = None,
) -> str:
    """Return the report of ``entries`` (see :func:`collect`) as one HTML document."""
    w = _WORDS[lang]
    colon = "：" if lang == "zh" else ": "
    heading = title or f"{w['title']}{colon}{pack.manifest.title.get(lang)}"
    graded = sum(1 for x in entries if x.decision.level is not None)
    overdue = sum(1 for x in entries if x.decision.treatment and x.decision.treatment.overdue)
    schemes = _schemes_in(entries)
    body: list[str] = []
    body.append(f"<h1>{_e(heading)}</h1>")
    body.append(
        f'<p class="meta">{_e(w["as_of"])} <b>{as_of}</b> · {_e(w["pack"])} '
        f"<b>{_e(pack.ref.id)} {_e(pack.ref.version)}</b> "
        f'<span class="small">{_e(pack.ref.digest)}</span></p>'
    )
    body.append(
        "<nav>"
        + "".join(
            f'<a href="#{target}">{_e(w[key])}</a>'
            for target, key in (
                ("summary", "summary"),
                ("by-region", "by_region"),
                ("transitions", "transitions"),
                ("workload", "workload"),
                ("by-grid", "by_grid"),
                ("index", "index"),
            )
        )
        + "</nav>"
    )
    cards = [
        (str(len(entries)), w["enterprises"]),
        (
            str(records) if records is not None else str(sum(len(x.events) for x in entries)),
            w["records"],
        ),
        (str(graded), w["graded"]),
        (str(len(entries) - graded), w["ungraded"]),
        (str(overdue), w["overdue"]),
    ]
    body.append('<section id="summary"><h2>' + _e(w["summary"]) + '</h2><div class="cards">')
    body.extend(f'<div class="card"><b>{_e(v)}</b>{_e(k)}</div>' for v, k in cards)
    body.append("</div>")
    body.append(_level_tables(entries, schemes, lang))
    body.append("</section>")
    body.append(f'<section id="by-region"><h2>{_e(w["by_region"])}</h2><div class="charts">')
    body.extend(_distribution(entries, scheme, "region", lang) for scheme in schemes)
    body.append("</div></section>")
    body.append(f'<section id="transitions"><h2>{_e(w["transitions"])}</h2>')
    body.append(_transitions(entries, as_of, lang))
    body.append("</section>")
    body.append(f'<section id="workload"><h2>{_e(w["workload"])}</h2>')
    body.append(_workload(entries, schemes, as_of, lang))
    body.append("</section>")
    body.append(f'<section id="by-grid"><h2>{_e(w["by_grid"])}</h2><div class="charts">')
    body.extend(_distribution(entries, scheme, "grid", lang) for scheme in schemes)
    body.append("</div></section>")
    body.append(f'<section id="index"><h2>{_e(w["index"])}</h2>')
    body.append(_index(entries, lang))
    body.append("</section>")
    body.append(f'<section id="details"><h2>{_e(w["details"])}</h2>')
    body.extend(_section(i, entry, as_of, lang) for i, entry in enumerate(entries))
    body.append("</section>")
    html_lang = "zh-CN" if lang == "zh" else "en"
    return (
        f'<!DOCTYPE html>\n<html lang="{html_lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="riskgrade">\n<title>{_e(heading)} · {as_of}</title>\n'
        f"<script>{_SCRIPT_HEAD}</script>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + f"\n</main>\n<script>{_SCRIPT_TAIL}</script>\n</body>\n</html>\n"
    )


def _schemes_in(entries: Sequence[EnterpriseReport]) -> list[Scheme]:
    seen: dict[str, Scheme] = {}
    for entry in entries:
        seen.setdefault(entry.scheme.name, entry.scheme)
    return [seen[name] for name in sorted(seen)]


def _level_series(scheme: Scheme, lang: Lang) -> list[_Series]:
    n = len(scheme.levels)
    series = [
        _Series(scheme.level_specs[i].label.get(lang), level_color(i, n))
        for i in range(len(scheme.levels))
    ]
    series.append(_Series(_WORDS[lang]["ungraded"], _GREY))
    return series


def _level_tables(
    entries: Sequence[EnterpriseReport], schemes: Sequence[Scheme], lang: Lang
) -> str:
    w = _WORDS[lang]
    out: list[str] = []
    for scheme in schemes:
        counts = Counter(x.decision.level for x in entries if x.scheme.name == scheme.name)
        out.append(f"<h3>{_e(scheme.spec.title.get(lang))}</h3><table><thead><tr>")
        out.append(f"<th>{_e(w['level'])}</th><th></th><th>{_e(w['treatment'])}</th>")
        out.append(f'<th class="num">{_e(w["count"])}</th></tr></thead><tbody>')
        for i, level in enumerate(scheme.levels):
            spec = scheme.level_specs[i]
            treatment = scheme.treatments[i].spec.label.get(lang)
            out.append(
                f"<tr><td>{_badge(level, scheme, lang)}</td><td>{_e(spec.label.get(lang))}</td>"
                f'<td>{_e(treatment)}</td><td class="num">{counts.get(level, 0)}</td></tr>'
            )
        if counts.get(None):
            out.append(
                f"<tr><td>{_badge(None, scheme, lang)}</td><td></td><td></td>"
                f'<td class="num">{counts[None]}</td></tr>'
            )
        out.append("</tbody></table>")
    return "".join(out)


def _distribution(entries: Sequence[EnterpriseReport], scheme: Scheme, key: str, lang: Lang) -> str:
    w = _WORDS[lang]
    series = _level_series(scheme, lang)
    rows: dict[str, list[int]] = {}
    for entry in entries:
        if entry.scheme.name != scheme.name:
            continue
        label = getattr(entry.enterprise, key) or w["unknown"]
        counts = rows.setdefault(label, [0] * len(series))
        level = entry.decision.level
        counts[scheme.levels.index(level) if level is not None else -1] += 1
    if not any(counts[-1] for counts in rows.values()):
        series = series[:-1]
        rows = {label: counts[:-1] for label, counts in rows.items()}
    title = f"{scheme.spec.title.get(lang)} · {w['by_region' if key == 'region' else 'by_grid']}"
    chart = hbar_chart(f"levels-by-{key}", sorted(rows.items()), series, title)
    return f"<figure>{chart}<figcaption>{_e(title)}</figcaption></figure>"


def _months(first: dt.date, count: int) -> list[dt.date]:
    start = first.replace(day=1)
    return [add_months(start, i) for i in range(count)]


def _transitions(entries: Sequence[EnterpriseReport], as_of: dt.date, lang: Lang) -> str:
    w = _WORDS[lang]
    months = _months(add_months(as_of, -(_TRANSITION_MONTHS - 1)), _TRANSITION_MONTHS)
    index = {(m.year, m.month): i for i, m in enumerate(months)}
    moves = [name for name, _ in _MOVES]
    grid = [[0] * len(moves) for _ in months]
    for entry in entries:
        for step in entry.timeline:
            if step.transition in moves:
                slot = index.get((step.date.year, step.date.month))
                if slot is not None:
                    grid[slot][moves.index(step.transition)] += 1
    series = [_Series(transition_word(name, lang), color) for name, color in _MOVES]
    columns = [(f"{m:%Y-%m}", grid[i]) for i, m in enumerate(months)]
    chart = vbar_chart("transitions", columns, series, w["transitions"])
    return f"<figure>{chart}<figcaption>{_e(w['transitions_note'])}</figcaption></figure>"


def _workload(
    entries: Sequence[EnterpriseReport], schemes: Sequence[Scheme], as_of: dt.date, lang: Lang
) -> str:
    w = _WORDS[lang]
    months = _months(as_of, _WORKLOAD_MONTHS)
    index = {(m.year, m.month): i for i, m in enumerate(months)}
    names = [s.name for s in schemes]
    grid = [[0] * (len(names) + 1) for _ in months]
    for entry in entries:
        plan = entry.decision.treatment
        if plan is None:
            continue
        due = plan.next_inspection_due
        if plan.overdue:
            grid[0][0] += 1
            due = add_months(as_of, 12 // plan.inspections_per_year)
        column = 1 + names.index(entry.scheme.name)
        while (slot := index.get((due.year, due.month))) is not None:
            grid[slot][column] += 1
            due = add_months(due, 12 // plan.inspections_per_year)
    series = [_Series(w["overdue"], "#cf222e")] + [
        _Series(f"{s.spec.title.get(lang)}", _SCHEME_HUES[i % len(_SCHEME_HUES)])
        for i, s in enumerate(schemes)
    ]
    columns = [(f"{m:%Y-%m}", grid[i]) for i, m in enumerate(months)]
    chart = vbar_chart("workload", columns, series, w["workload"])
    return f"<figure>{chart}<figcaption>{_e(w['workload_note'])}</figcaption></figure>"


def _index(entries: Sequence[EnterpriseReport], lang: Lang) -> str:
    w = _WORDS[lang]
    out = [
        f'<input id="q" type="search" placeholder="{_e(w["search"])}" '
        f'aria-label="{_e(w["search"])}">',
        '<div class="idx"><table><thead><tr>',
    ]
    for key in ("id", "name", "scheme", "region", "grid", "level", "score", "transition", "due"):
        out.append(f"<th>{_e(w[key])}</th>")
    out.append("</tr></thead><tbody>")
    order = sorted(
        range(len(entries)),
        key=lambda i: (
            entries[i].scheme.name,
            -(entries[i].scheme.levels.index(entries[i].decision.level) + 1)
            if entries[i].decision.level is not None
            else 1,
            entries[i].enterprise.id,
        ),
    )
    for i in order:
        entry = entries[i]
        e, d = entry.enterprise, entry.decision
        plan = d.treatment
        due = ""
        if plan is not None:
            due = str(plan.next_inspection_due)
            if plan.overdue:
                due = f'<span class="od">{due} ({_e(w["overdue"])})</span>'
        keys = " ".join(
            str(v).lower() for v in (e.id, e.name, e.region, e.grid, d.scheme, d.level) if v
        )
        transition = transition_word(d.transition, lang)
        out.append(
            f'<tr data-k="{_e(keys)}"><td><a href="#{_anchor(e.id, i)}">{_e(e.id)}</a></td>'
            f"<td>{_e(e.name or '')}</td><td>{_e(d.scheme)}</td><td>{_e(e.region or '')}</td>"
            f"<td>{_e(e.grid or '')}</td><td>{_badge(d.level, entry.scheme, lang)}</td>"
            f'<td class="num">{_num(d.score)}</td><td>{_e(transition)}</td><td>{due}</td></tr>'
        )
    out.append("</tbody></table></div>")
    return "".join(out)


def _section(index: int, entry: EnterpriseReport, as_of: dt.date, lang: Lang) -> str:
    w = _WORDS[lang]
    e, d, scheme = entry.enterprise, entry.decision, entry.scheme
    by_id = {event.id: event for event in entry.events}
    where = " / ".join(v for v in (e.region, e.grid) if v)
    out = [
        f'<details class="ent" id="{_anchor(e.id, index)}" data-level="{_e(d.level or "")}">',
        f"<summary>{_badge(d.level, scheme, lang)} {_e(e.id)} {_e(e.name or '')} "
        f'<span class="small">{_e(scheme.spec.title.get(lang))}'
        f"{' · ' + _e(where) if where else ''}</span></summary>",
    ]
    facts = [f"{w['score']} {_num(d.score)}", f"{w['raw']} {d.raw_level or '-'}"]
    facts.append(f"{w['assessed']} {d.assessed_on}")
    transition = transition_word(d.transition, lang)
    facts.append(f"{w['transition']}: {transition} ({w['previous']} {d.previous_level or '-'})")
    out.append(f'<p>{_e(" · ".join(facts))}<br><span class="small">{_e(d.cause or "")}</span></p>')
    out.append(f"<h3>{_e(w['level_over_time'])}</h3>")
    out.append(timeline_chart(entry, as_of, lang))
    out.append(_regrades(entry, by_id, lang))
    out.append(f"<h3>{_e(w['reasons'])}</h3>")
    if not d.reasons:
        out.append(f"<p>{_e(w['none'])}</p>")
    else:
        out.append('<ul class="rs">')
        for reason in d.reasons:
            points = (
                "" if reason.points is None else f" <b>{_num(reason.points)} {_e(w['points'])}</b>"
            )
            evidence = ""
            if reason.evidence:
                items = []
                for event_id in reason.evidence:
                    event = by_id.get(event_id)
                    text = f"{event.date} {event_summary(event, lang)}" if event else ""
                    items.append(f'<span title="{_e(text)}">{_e(event_id)}</span>')
                evidence = f'<br><span class="small">{_e(w["evidence"])}: {", ".join(items)}</span>'
            out.append(
                f"<li><code>{_e(reason.rule)}</code> {_e(reason.text)}{points}{evidence}</li>"
            )
        out.append("</ul>")
    plan = d.treatment
    if plan is not None:
        due = f"{w['due']}: {plan.next_inspection_due}"
        overdue = f' <span class="od">({_e(w["overdue"])})</span>' if plan.overdue else ""
        measures = "".join(f"<li>{_e(m)}</li>" for m in plan.measures)
        label = plan.name
        if d.level is not None:
            label = scheme.treatments[scheme.levels.index(d.level)].spec.label.get(lang)
        out.append(
            f"<h3>{_e(w['treatment'])}: {_e(label)}</h3><p>"
            + _e(w["per_year"].format(i=plan.inspections_per_year, s=plan.sampling_per_year))
            + f'<br>{_e(due)}{overdue}</p><ul class="rs">{measures}</ul>'
        )
    out.append("</details>")
    return "".join(out)


def _regrades(entry: EnterpriseReport, by_id: Mapping[str, Event], lang: Lang) -> str:
    """The re-grades that set, moved or held the level or changed the score, with the records
    dated that day."""
    w = _WORDS[lang]
    scheme = entry.scheme
    on_day: dict[dt.date, list[Event]] = {}
    for event in entry.events:
        on_day.setdefault(event.date, []).append(event)
    rows: list[str] = []
    previous: Step | None = None
    steps = entry.timeline
    for i, step in enumerate(steps):
        moved = (
            previous is None
            or i == len(steps) - 1
            or step.transition not in (None, "unchanged")
            or step.level != previous.level
            or step.assessment.score != previous.assessment.score
        )
        previous = step
        if not moved:
            continue
        records = _records_cell(on_day.get(step.date, ()) if step.kind == "record" else (), lang)
        level = scheme.levels[step.level] if step.level is not None else None
        transition = transition_word(step.transition, lang)
        rows.append(
            f"<tr><td>{step.date}</td><td>{_badge(level, scheme, lang)}</td>"
            f'<td class="num">{_num(step.assessment.score)}</td><td>{_e(transition)}</td>'
            f"<td>{_e(_step_cause(step, scheme, lang))}</td><td>{records}</td></tr>"
        )
    head = "".join(
        f"<th>{_e(w[k])}</th>"
        for k in ("date", "level", "score", "step_transition", "cause", "moved_by")
    )
    return f'<table class="rg"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _records_cell(events: Iterable[Event], lang: Lang) -> str:
    return "<br>".join(
        f'<span class="small">{_e(event.id)}</span> {_e(event_summary(event, lang))}'
        for event in events
    )
