"""Decisions: what riskgrade says about one enterprise as of one date, and why.

:class:`Decision` is the stable JSON record of CONTRACT.md; serialising the same decision twice
gives the same bytes (:meth:`Decision.to_json`). Its texts are rendered in the language the
caller chose (English or Chinese) from the pack's own labels.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr

from riskgrade.compiled import Scheme
from riskgrade.dates import add_months
from riskgrade.evaluation import Cause, Hit, Replay, Step, World
from riskgrade.packs import HysteresisPolicy, PackRef, YearlyPolicy

__all__ = ["Decision", "Lang", "Reason", "TreatmentPlan", "decision_from_step", "render_cause"]

Lang = Literal["en", "zh"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Reason(_Out):
    """A rule that contributed to the decision, with its points and evidence (event ids)."""

    rule: str
    text: str
    points: Decimal | None
    evidence: tuple[str, ...]


class TreatmentPlan(_Out):
    """The treatment of the decided level, with the next inspection's due date."""

    name: str
    inspections_per_year: int
    sampling_per_year: int
    measures: tuple[str, ...]
    next_inspection_due: dt.date
    overdue: bool


class Decision(_Out):
    """The grade of one enterprise as of one date (CONTRACT.md, "Decision").

    ``cause`` extends the contract: the reason for the transition in words, e.g. "improvement
    held: adverse record on 2009-04-01 within 12 months".
    """

    enterprise_id: str
    scheme: str
    as_of: dt.date
    assessed_on: dt.date
    level: str | None
    previous_level: str | None
    raw_level: str | None
    score: Decimal | None
    transition: Literal["initial", "worsened", "improved", "held", "unchanged", "corrected"] | None
    reasons: tuple[Reason, ...]
    treatment: TreatmentPlan | None
    pack: PackRef
    cause: str | None = None

    _explainer: Callable[[Lang], str] | None = PrivateAttr(default=None)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready mapping, in the contract's field order."""
        return {
            "enterprise_id": self.enterprise_id,
            "scheme": self.scheme,
            "as_of": self.as_of.isoformat(),
            "assessed_on": self.assessed_on.isoformat(),
            "level": self.level,
            "previous_level": self.previous_level,
            "raw_level": self.raw_level,
            "score": _number(self.score),
            "transition": self.transition,
            "reasons": [
                {
                    "rule": r.rule,
                    "text": r.text,
                    "points": _number(r.points),
                    "evidence": list(r.evidence),
                }
                for r in self.reasons
            ],
            "treatment": None
            if self.treatment is None
            else {
                "name": self.treatment.name,
                "inspections_per_year": self.treatment.inspections_per_year,
                "sampling_per_year": self.treatment.sampling_per_year,
                "measures": list(self.treatment.measures),
                "next_inspection_due": self.treatment.next_inspection_due.isoformat(),
                "overdue": self.treatment.overdue,
            },
            "pack": {"id": self.pack.id, "version": self.pack.version, "digest": self.pack.digest},
            "cause": self.cause,
        }

    def to_json(self) -> str:
        """Return one compact line of JSON; the same decision always gives the same text."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Decision:
        """Parse a decision written by :meth:`to_json`."""
        data = json.loads(text, parse_float=Decimal)
        return cls.model_validate(data)

    def explain(self, lang: Lang = "en") -> str:
        """Render the decision for a person.

        A decision made by a :class:`~riskgrade.Grader` also renders the timeline of re-grades
        and what stands between the enterprise and the next better level; one read back from
        JSON renders what it holds.
        """
        if self._explainer is not None:
            return self._explainer(lang)
        from riskgrade.explain import render_decision

        return render_decision(self, lang)


def _number(value: Decimal | None) -> float | int | None:
    # Scores are exact decimals with at most a few places; a float prints them exactly
    # (shortest round-trip repr), so JSON stays a number, as the contract wants.
    if value is None:
        return None
    return float(value)


_LEVEL_WORDS = {"en": "level", "zh": "等级"}


_TRANSITION_WORDS: dict[str, dict[str, str]] = {
    "en": {},
    "zh": {
        "initial": "首次评定",
        "worsened": "风险升高",
        "improved": "风险降低",
        "held": "暂缓改善",
        "unchanged": "不变",
        "corrected": "更正",
    },
}


def transition_word(value: str | None, lang: Lang) -> str:
    """A transition as a person reads it: its name in English, its word in Chinese; ``-``
    for none."""
    if value is None:
        return "-"
    return _TRANSITION_WORDS[lang].get(value, value)


def render_cause(cause: Cause, scheme: Scheme, lang: Lang) -> str:
    """Render a transition's cause in English or Chinese."""
    zh = lang == "zh"
    lv = cause.levels
    ids = ", ".join(cause.evidence)
    policy = scheme.policy
    window = "12 months"
    window_zh = "12 个月"
    if isinstance(policy, HysteresisPolicy):
        window = (
            policy.stood.to_duration().describe().replace("y", " year(s)").replace("m", " month(s)")
        )
        if policy.stood.years == 1 and not policy.stood.months and not policy.stood.days:
            window, window_zh = "12 months", "12 个月"
        else:
            window_zh = window
    code = cause.code
    if code == "initial":
        return f"首次评定：{lv[0]}" if zh else f"initial assessment: {lv[0]}"
    if code == "initial_floor":
        return (
            f"首次评定：按无历史记录下限提高到 {lv[0]}"
            if zh
            else f"initial assessment: raised to the no-history floor, {lv[0]}"
        )
    if code == "worsened":
        return (
            f"规则等级 {lv[1]} 劣于当前 {lv[0]}：立即调整"
            if zh
            else f"the rules give {lv[1]}, worse than {lv[0]}: worsened at once"
        )
    if code == "improved":
        return (
            f"在 {lv[0]} 满 {window_zh} 且无不良记录：改善一级至 {lv[1]}"
            if zh
            else f"{window} at {lv[0]} with no adverse record: improved one step to {lv[1]}"
        )
    if code == "held_adverse":
        when = cause.dates[0].isoformat()
        return (
            f"暂缓改善至 {lv[1]}：{when} 有不良记录（{ids}），在 {window_zh} 内"
            if zh
            else f"improvement to {lv[1]} held: adverse record on {when} ({ids}) within {window}"
        )
    if code == "held_stood":
        since, ready = cause.dates[0].isoformat(), cause.dates[1].isoformat()
        return (
            f"暂缓改善至 {lv[1]}：{lv[0]} 自 {since} 起未满 {window_zh}（{ready} 起方满）"
            if zh
            else f"improvement to {lv[1]} held: {lv[0]} has stood only since {since}; "
            f"it must stand {window} (from {ready})"
        )
    if code == "corrected":
        when = cause.dates[0].isoformat()
        return (
            f"{when} 的更正（{ids}）改写了历史：{lv[0]} → {lv[1]}"
            if zh
            else f"correction on {when} ({ids}) rewrote the history: {lv[0]} → {lv[1]}"
        )
    if code == "direct":
        return f"按本次结果重新评定：{lv[0]} → {lv[1]}" if zh else f"set afresh: {lv[0]} → {lv[1]}"
    if code == "yearly_raise":
        return (
            f"{cause.dates[0].isoformat()} 年度评定：上一年度有触发记录（{ids}），"
            f"风险上调 {cause.number} 级：{lv[0]} → {lv[1]}"
            if zh
            else f"yearly review on {cause.dates[0].isoformat()}: trigger record(s) {ids} in the "
            f"year just ended raise the grade by {cause.number}: {lv[0]} → {lv[1]}"
        )
    if code == "yearly_lower":
        return (
            f"连续 {cause.number} 年无触发记录：风险下调一级 {lv[0]} → {lv[1]}"
            if zh
            else f"{cause.number} consecutive clean years: lowered one step {lv[0]} → {lv[1]}"
        )
    if code == "yearly_clean":
        needed = policy.clean_years if isinstance(policy, YearlyPolicy) else 0
        return (
            f"年度评定：无触发记录（连续第 {cause.number}/{needed} 年）"
            if zh
            else f"yearly review: a clean year ({cause.number} of {needed} in a row)"
        )
    if code == "yearly_wait":
        day = policy.anniversary if isinstance(policy, YearlyPolicy) else "01-01"
        return f"等级仅在每年 {day} 调整" if zh else f"the grade moves only on each {day} (MM-DD)"
    if code == "ungraded":
        return "尚不能评定" if zh else "cannot be graded yet"
    return "等级不变" if zh else "no change"


def _hit_text(hit: Hit, step: Step, scheme: Scheme, lang: Lang) -> str:
    if hit.cause is not None:
        return render_cause(hit.cause, scheme, lang)
    if hit.rule.startswith("regrade."):
        return render_cause(step.cause, scheme, lang)
    text = hit.text.get(lang)
    if hit.detail:
        text = f"{text} ({hit.detail})"
    return text


def _reasons(step: Step, scheme: Scheme, lang: Lang) -> tuple[Reason, ...]:
    a = step.assessment
    hits: list[Hit] = []
    if a.unmet is not None:
        hits.append(a.unmet)
    hits.extend(a.reasons)
    hits.extend(step.policy_hits)
    hits.extend(a.flags)
    return tuple(
        Reason(
            rule=h.rule, text=_hit_text(h, step, scheme, lang), points=h.points, evidence=h.evidence
        )
        for h in hits
    )


def next_inspection_due(scheme: Scheme, world: World, frequency: int, as_of: dt.date) -> dt.date:
    """Last inspection or spot check on or before ``as_of`` plus 12/frequency months; else as_of."""
    last = None
    for rec in world.records:
        if rec.type in scheme.due_from and rec.date <= as_of:
            last = rec.date
    if last is None:
        return as_of
    return add_months(last, 12 // frequency)


def decision_from_step(replay: Replay, step: Step, pack: PackRef, lang: Lang = "en") -> Decision:
    """Build the contract's decision for ``step`` of a replay as of ``replay.as_of``."""
    scheme = replay.scheme
    treatment = None
    source = None
    if step.level is not None:
        source = scheme.treatments[step.level]
    elif scheme.requires_treatment is not None:
        source = scheme.requires_treatment
    if source is not None:
        spec = source.spec
        due = next_inspection_due(scheme, replay.world, spec.inspections_per_year, replay.as_of)
        treatment = TreatmentPlan(
            name=source.name,
            inspections_per_year=spec.inspections_per_year,
            sampling_per_year=spec.sampling_per_year,
            measures=tuple(m.get(lang) for m in spec.measures),
            next_inspection_due=due,
            overdue=due < replay.as_of,
        )
    names = scheme.levels
    return Decision(
        enterprise_id=replay.enterprise.id,
        scheme=scheme.name,
        as_of=replay.as_of,
        assessed_on=step.date,
        level=None if step.level is None else names[step.level],
        previous_level=None if step.previous is None else names[step.previous],
        raw_level=None if step.assessment.raw is None else names[step.assessment.raw],
        score=step.assessment.score,
        transition=step.transition,
        reasons=_reasons(step, scheme, lang),
        treatment=treatment,
        pack=pack,
        cause=render_cause(step.cause, scheme, lang)
        if step.assessment.unmet is None
        else step.assessment.unmet.text.get(lang),
    )


def write_jsonl(decisions: Sequence[Decision]) -> str:
    """Return decisions as JSON Lines text."""
    return "".join(d.to_json() + "\n" for d in decisions)
