"""Render decisions and explanations for a person, in English or Chinese."""

from __future__ import annotations

from typing import TYPE_CHECKING

from riskgrade.decisions import Decision, Lang, render_cause, transition_word

if TYPE_CHECKING:
    from riskgrade.compiled import Scheme
    from riskgrade.grading import Explanation

__all__ = ["render_decision", "render_explanation"]

_WORDS = {
    "en": {
        "title": "Enterprise {id} ({scheme}) as of {as_of}",
        "level": "Level",
        "raw": "raw level of the rules",
        "score": "score",
        "assessed": "set at the re-grade of",
        "transition": "Transition",
        "previous": "previous level",
        "reasons": "Reasons",
        "none": "(none)",
        "points": "points",
        "evidence": "records",
        "treatment": "Treatment",
        "per_year": "inspections a year: {i}; sampling a year: {s}",
        "due": "next inspection due {due}{overdue}",
        "overdue": " (OVERDUE)",
        "timeline": "Timeline of re-grades",
        "outlook": "Next better level",
        "outlook_at": "{level} on {date} at the earliest, if nothing new happens",
        "outlook_never": "not reachable by time alone: new records (e.g. a verified "
        "rectification or passed checks) are needed",
        "outlook_best": "already at the best level",
        "blocked": "what stands in the way",
        "pack": "Pack {id} {version} ({digest})",
        "ungraded": "not graded",
    },
    "zh": {
        "title": "企业 {id}（{scheme}），截至 {as_of}",
        "level": "等级",
        "raw": "规则等级",
        "score": "分值",
        "assessed": "评定日",
        "transition": "调整",
        "previous": "原等级",
        "reasons": "依据",
        "none": "（无）",
        "points": "分",
        "evidence": "记录",
        "treatment": "监管措施",
        "per_year": "每年检查 {i} 次；每年抽样 {s} 次",
        "due": "下次检查应于 {due}{overdue}",
        "overdue": "（已逾期）",
        "timeline": "评定时间线",
        "outlook": "改善至更优等级",
        "outlook_at": "如无新记录，最早于 {date} 调整为 {level}",
        "outlook_never": "仅靠时间无法改善：需有新的记录（如整改验证通过或抽查合格）",
        "outlook_best": "已处于最优等级",
        "blocked": "阻碍因素",
        "pack": "规则包 {id} {version}（{digest}）",
        "ungraded": "未评定",
    },
}


def render_decision(decision: Decision, lang: Lang = "en", *, scheme: Scheme | None = None) -> str:
    """Render one decision: level, reasons with evidence, transition and cause, treatment.

    With the decision's ``scheme``, levels and treatments are shown with their labels.
    """
    w = _WORDS[lang]
    lines = [
        w["title"].format(id=decision.enterprise_id, scheme=decision.scheme, as_of=decision.as_of)
    ]
    level = decision.level if decision.level is not None else w["ungraded"]
    if scheme is not None and decision.level is not None:
        level = (
            f"{level} ({scheme.level_specs[scheme.levels.index(decision.level)].label.get(lang)})"
        )
    extra = [f"{w['raw']}: {decision.raw_level or '-'}"]
    if decision.score is not None:
        extra.append(f"{w['score']}: {decision.score}")
    extra.append(f"{w['assessed']} {decision.assessed_on}")
    lines.append(f"{w['level']}: {level}  ({'; '.join(extra)})")
    lines.append(
        f"{w['transition']}: {transition_word(decision.transition, lang)}"
        f" ({w['previous']}: {decision.previous_level or '-'})"
    )
    if decision.cause:
        lines.append(f"  {decision.cause}")
    lines.append(f"{w['reasons']}:")
    if not decision.reasons:
        lines.append(f"  {w['none']}")
    for reason in decision.reasons:
        points = "" if reason.points is None else f" [{reason.points} {w['points']}]"
        lines.append(f"  - {reason.rule}: {reason.text}{points}")
        if reason.evidence:
            lines.append(f"      {w['evidence']}: {', '.join(reason.evidence)}")
    if decision.treatment is not None:
        t = decision.treatment
        name = t.name
        if scheme is not None:
            labels = {tr.name: tr.spec.label.get(lang) for tr in scheme.treatments}
            if scheme.requires_treatment is not None:
                labels[scheme.requires_treatment.name] = scheme.requires_treatment.spec.label.get(
                    lang
                )
            name = labels.get(t.name, t.name)
        lines.append(f"{w['treatment']}: {name}")
        lines.append("  " + w["per_year"].format(i=t.inspections_per_year, s=t.sampling_per_year))
        for measure in t.measures:
            lines.append(f"  - {measure}")
        overdue = w["overdue"] if t.overdue else ""
        lines.append("  " + w["due"].format(due=t.next_inspection_due, overdue=overdue))
    pack = decision.pack
    lines.append(w["pack"].format(id=pack.id, version=pack.version, digest=pack.digest))
    return "\n".join(lines) + "\n"


def render_explanation(explanation: Explanation, lang: Lang = "en") -> str:
    """Render a decision with its timeline of re-grades and its outlook."""
    w = _WORDS[lang]
    parts = [render_decision(explanation.decision, lang, scheme=explanation.replay.scheme)]
    parts.append(f"{w['timeline']}:")
    for d in explanation.timeline:
        level = d.level if d.level is not None else w["ungraded"]
        score = "" if d.score is None else f" ({w['score']} {d.score})"
        parts.append(
            f"  {d.assessed_on}  {level:<8}{transition_word(d.transition, lang):<10} "
            f"{d.cause or ''}{score}"
        )
    parts.append(f"{w['outlook']}:")
    outlook = explanation.outlook
    scheme = explanation.replay.scheme
    if (
        explanation.decision.level is not None
        and scheme.levels.index(explanation.decision.level) == 0
    ):
        parts.append(f"  {w['outlook_best']}")
    elif outlook.better_level is not None and outlook.earliest is not None:
        parts.append(
            "  " + w["outlook_at"].format(level=outlook.better_level, date=outlook.earliest)
        )
        if outlook.cause is not None:
            parts.append(f"  ({render_cause(outlook.cause, scheme, lang)})")
    else:
        parts.append(f"  {w['outlook_never']}")
    if outlook.blockers:
        parts.append(f"  {w['blocked']}:")
        for hit in outlook.blockers:
            evidence = f" [{', '.join(hit.evidence)}]" if hit.evidence else ""
            parts.append(f"    - {hit.rule}: {hit.text.get(lang)}{evidence}")
    return "\n".join(parts) + "\n"
