"""Decisions from the batch engine's arrays: the reasons, evidence, cause and treatment of each
enterprise's last step, assembled exactly as :func:`riskgrade.decisions.decision_from_step`
assembles them from a native replay.

The arrays say, for every rule that can appear among a decision's reasons (a "slot", in the
order the native evaluator lists them), which enterprises it applies to, with what points and
which records; only the final assembly is per enterprise.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from riskgrade._batch_eval import (
    C_CORRECTED,
    C_DIRECT,
    C_HELD_ADVERSE,
    C_HELD_STOOD,
    C_IMPROVED,
    C_INITIAL,
    C_INITIAL_FLOOR,
    C_UNCHANGED,
    C_UNGRADED,
    C_WORSENED,
    C_YEARLY_CLEAN,
    C_YEARLY_LOWER,
    C_YEARLY_RAISE,
    C_YEARLY_WAIT,
    CAUSES,
    TRANSITIONS,
    SchemeResult,
    _pick,
    _weight_at,
    add_months,
    earliest_on_or_after,
    keys,
)
from riskgrade._columns import from_day_number
from riskgrade.compiled import AttributeTermC, ConditionTermC, EachTermC, RuleC, Scheme
from riskgrade.decisions import Decision, Lang, Reason, TreatmentPlan, render_cause
from riskgrade.evaluation import Cause
from riskgrade.packs import HysteresisPolicy, PackRef, Text, YearlyPolicy

__all__ = ["SchemeDecisions"]

B = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.integer[Any]]


@dataclass
class _Slot:
    """A rule that may be among the reasons: where it applies, its points and evidence."""

    rule: str
    text: Text
    policy: bool
    active: B
    points: I64 | None = None
    exp: int = 0
    #: Evidence as positions of the run's table, grouped by enterprise (``offsets`` over them).
    offsets: I64 | None = None
    positions: I64 | None = None
    detail: I64 | None = None
    details: Sequence[str | None] = ()
    #: The slot's own cause (a held improvement's blockers), rendered as its text.
    cause_of: Callable[[int], Cause] | None = None


def _grouped(run_ent: I64, positions: I64, m: int) -> tuple[I64, I64]:
    """Offsets (per enterprise) of sorted positions."""
    ents = run_ent[positions]
    return np.searchsorted(ents, np.arange(m + 1, dtype=np.int64)).astype(np.int64), positions


class SchemeDecisions:
    """Turns one scheme's result into decisions."""

    def __init__(self, result: SchemeResult, pack: PackRef, as_of: dt.date) -> None:
        self.result = result
        self.run = result.run
        self.scheme: Scheme = result.run.scheme
        self.pack = pack
        self.as_of = as_of
        self.m = self.run.n_ents
        self._id_text: dict[int, str] | None = None
        self.slots = self._slots()
        self._due()

    # -- evidence ---------------------------------------------------------------------------
    def _members(self, sets: Sequence[str]) -> tuple[I64, I64]:
        run = self.run
        parts = [run.members_at(name, self.result.outcome.day) for name in sets]
        positions = _union(parts)
        return _grouped(run.table.ent, positions, self.m)

    def _rule_slot(self, rule: RuleC, active: B, *, policy: bool = False) -> _Slot:
        offsets, positions = self._members(sorted(rule.when.sets))
        return _Slot(rule.rule, rule.text, policy, active, offsets=offsets, positions=positions)

    def _term_evidence(self, term: EachTermC | ConditionTermC) -> tuple[I64, I64]:
        """The records behind a term's points at each enterprise's last point."""
        found = self._evidence_cache.get(term.rule)
        if found is not None:
            return found
        run = self.run
        day = self.result.outcome.day
        if isinstance(term, ConditionTermC):
            found = self._members(sorted(term.when.sets))
        elif term.pick != "all":
            p_ent = np.arange(self.m, dtype=np.int64)
            picked, ok = _pick(run, term, p_ent, day, keys(p_ent, day))
            pos = picked[ok]
            weight, _ = _weight_at(run, term, pos, day[ok])
            found = _grouped(run.table.ent, np.sort(pos[weight != 0]), self.m)
        else:
            wi = run.weighted(term)
            ent = run.table.ent[wi.pos]
            t = day[ent]
            positions = _union([wi.pos[(wi.start <= t) & (t < wi.end)]], sort=True)
            found = _grouped(run.table.ent, positions, self.m)
        self._evidence_cache[term.rule] = found
        return found

    # -- the slots, in the native order -----------------------------------------------------
    def _slots(self) -> list[_Slot]:
        scheme = self.scheme
        result = self.result
        assessed = result.assessed
        outcome = result.outcome
        m = self.m
        self._evidence_cache: dict[str, tuple[I64, I64]] = {}
        ok = np.ones(m, dtype=bool) if assessed.requires is None else assessed.requires
        slots: list[_Slot] = []
        if scheme.requires is not None:
            slots.append(self._rule_slot(scheme.requires, ~ok))
        if scheme.band_tables:
            used: list[str] = []
            for name, _ in scheme.band_tables:
                if name not in used:
                    used.append(name)
            for name in used:
                for term in scheme.scores[name].terms:
                    points, exp = assessed.term_last[term.rule]
                    if isinstance(term, AttributeTermC):
                        detail, details = self.run.attribute_details[term.rule]
                        slots.append(
                            _Slot(
                                term.rule,
                                term.text,
                                False,
                                ok & (points != 0),
                                points,
                                exp,
                                detail=detail,
                                details=details,
                            )
                        )
                        continue
                    offsets, positions = self._term_evidence(term)
                    # A term that read records is a reason even at 0 points.
                    active = ok & ((points != 0) | (np.diff(offsets) > 0))
                    if isinstance(term, ConditionTermC):
                        active &= assessed.holds[term.rule]
                    slots.append(
                        _Slot(term.rule, term.text, False, active, points, exp, offsets, positions)
                    )
        else:
            assert assessed.class_level is not None
            for level, rules in scheme.classes:
                chosen = ok & (assessed.class_level == level)
                for rule in rules:
                    slots.append(self._rule_slot(rule, chosen & assessed.holds[rule.rule]))
        for rule in scheme.overrides:
            slots.append(self._rule_slot(rule, ok & assessed.holds[rule.rule]))
        for rule in scheme.floors:
            assert rule.level is not None
            active = outcome.floors & assessed.holds[rule.rule] & (rule.level > outcome.raw)
            slots.append(self._rule_slot(rule, active))
        slots.extend(self._policy_slots())
        for rule in scheme.flags:
            slots.append(self._flag_slot(rule, ok & assessed.holds[rule.rule]))
        return slots

    def _policy_slots(self) -> list[_Slot]:
        scheme = self.scheme
        outcome = self.result.outcome
        policy = scheme.policy
        base_cause = outcome.extra["policy_cause"]
        assert isinstance(base_cause, np.ndarray)
        if isinstance(policy, HysteresisPolicy):
            offsets, positions = self._members([policy.clean])
            self.adverse = (offsets, positions)
            return [
                _Slot(
                    "regrade.held.adverse",
                    policy.text,
                    True,
                    outcome.held_adverse,
                    offsets=offsets,
                    positions=positions,
                    cause_of=self._held_cause(True),
                ),
                _Slot(
                    "regrade.held.stood",
                    policy.text,
                    True,
                    outcome.held_stood,
                    cause_of=self._held_cause(False),
                ),
            ]
        if isinstance(policy, YearlyPolicy):
            offsets, positions = self._members([policy.trigger])
            self.triggers = (offsets, positions)
            return [
                _Slot(
                    "regrade.yearly.trigger",
                    policy.text,
                    True,
                    base_cause == C_YEARLY_RAISE,
                    offsets=offsets,
                    positions=positions,
                ),
                _Slot(
                    "regrade.yearly.clean",
                    policy.text,
                    True,
                    (base_cause == C_YEARLY_LOWER) | (base_cause == C_YEARLY_CLEAN),
                ),
            ]
        return []

    def _held_cause(self, adverse: bool) -> Callable[[int], Cause]:
        """The cause of a held improvement's blocker (adverse records, or time not stood)."""
        outcome = self.result.outcome
        policy = self.scheme.policy
        assert isinstance(policy, HysteresisPolicy)
        names = self.scheme.levels
        lv_a = outcome.extra["policy_a"]
        lv_b = outcome.extra["policy_b"]
        assert isinstance(lv_a, np.ndarray)
        assert isinstance(lv_b, np.ndarray)
        held = outcome.held_adverse | outcome.held_stood
        ready_day = np.zeros(self.m, dtype=np.int64)
        rows = np.flatnonzero(held)
        ready_day[rows] = earliest_on_or_after(outcome.since[rows], policy.stood.to_duration())
        table = self.run.table

        def cause(i: int) -> Cause:
            since = int(outcome.since[i])
            ready = from_day_number(int(ready_day[i]))
            levels = (names[int(lv_a[i])], names[int(lv_b[i])])
            if adverse:
                offsets, positions = self.adverse
                mine = positions[offsets[i] : offsets[i + 1]]
                ids = tuple(self.id_text[x] for x in mine.tolist())
                last = from_day_number(int(table.date[mine[-1]]))
                return Cause("held_adverse", dates=(last, ready), evidence=ids, levels=levels)
            return Cause("held_stood", dates=(from_day_number(since), ready), levels=levels)

        return cause

    def _flag_slot(self, rule: RuleC, active: B) -> _Slot:
        """A flag: its sets' records, then (when it reads ``score``) every score's records."""
        offsets, positions = self._members(sorted(rule.when.sets))
        if "score" not in rule.when.names:
            return _Slot(rule.rule, rule.text, False, active, offsets=offsets, positions=positions)
        terms = [
            term
            for score in self.scheme.scores.values()
            for term in score.terms
            if isinstance(term, EachTermC | ConditionTermC)
        ]
        sources = [self._term_evidence(term) for term in terms]
        holds = self.result.assessed.holds
        lists: list[list[int]] = []
        counts = np.zeros(self.m, dtype=np.int64)
        for i in np.flatnonzero(active).tolist():
            chosen = positions[offsets[i] : offsets[i + 1]].tolist()
            seen = set(chosen)
            for term, (o, p) in zip(terms, sources, strict=True):
                if isinstance(term, ConditionTermC) and not holds[term.rule][i]:
                    continue  # a condition term that does not hold has no hit
                for x in p[o[i] : o[i + 1]].tolist():
                    if x not in seen:
                        seen.add(x)
                        chosen.append(x)
            counts[i] = len(chosen)
            lists.append(chosen)
        flat = np.array([x for chosen in lists for x in chosen], dtype=np.int64)
        new_offsets = np.zeros(self.m + 1, dtype=np.int64)
        np.cumsum(counts, out=new_offsets[1:])
        return _Slot(rule.rule, rule.text, False, active, offsets=new_offsets, positions=flat)

    def _due(self) -> None:
        """Next inspection due and the treatment of each enterprise."""
        run = self.run
        scheme = self.scheme
        t = run.table
        due_types = np.array(sorted(_type_code(x) for x in scheme.due_from), dtype=np.int64)
        chosen = np.flatnonzero(run.live & np.isin(t.type, due_types))
        last = np.full(self.m, -(1 << 40), dtype=np.int64)
        np.maximum.at(last, t.ent[chosen], t.date[chosen])
        level = self.result.outcome.level
        treatment = np.where(level >= 0, level, -1)
        if scheme.requires_treatment is not None:
            treatment = np.where(level >= 0, level, -2)
        self.treatment = treatment
        frequencies = [tr.spec.inspections_per_year for tr in scheme.treatments]
        freq = np.array(frequencies, dtype=np.int64)
        req = scheme.requires_treatment
        months = np.where(
            treatment >= 0,
            12 // freq[np.maximum(treatment, 0)],
            12 // (req.spec.inspections_per_year if req is not None else 1),
        )
        has_last = last > -(1 << 40)
        due = np.full(self.m, _day(self.as_of), dtype=np.int64)
        if bool(has_last.any()):
            due[has_last] = add_months(last[has_last], months[has_last])
        self.due = due

    # -- assembly ---------------------------------------------------------------------------
    def render(
        self,
        ids: Sequence[str],
        lang: Lang,
        *,
        as_json: bool,
        explainer: Callable[[int, Lang], str] | None = None,
        rows: Sequence[int] = (),
    ) -> Iterator[Decision | str]:
        """Yield each enterprise's decision in the group's order: a :class:`Decision`, or with
        ``as_json`` its :meth:`Decision.to_json` text, built directly (same bytes).

        ``ids`` are the group's enterprise ids; ``rows`` their rows in the input, handed to
        ``explainer`` for the decisions' ``explain()``.
        """
        scheme = self.scheme
        result = self.result
        outcome = result.outcome
        slots = self.slots
        m = self.m
        # Which slots apply to whom, enterprise by enterprise.
        if slots:
            pairs_ent = np.concatenate([np.flatnonzero(s.active) for s in slots])
            pairs_slot = np.concatenate(
                [np.full(int(s.active.sum()), i, dtype=np.int64) for i, s in enumerate(slots)]
            )
        else:
            pairs_ent = pairs_slot = np.zeros(0, dtype=np.int64)
        order = np.lexsort((pairs_slot, pairs_ent))
        pair_start = np.searchsorted(pairs_ent[order], np.arange(m + 1, dtype=np.int64)).tolist()
        pair_slot = pairs_slot[order].tolist()
        encode = _encode_string
        id_text = self.id_text
        id_json = {k: encode(v) for k, v in id_text.items()} if as_json else {}
        slot_offsets = [None if s.offsets is None else s.offsets.tolist() for s in slots]
        slot_positions = [None if s.positions is None else s.positions.tolist() for s in slots]
        slot_points = [None if s.points is None else s.points.tolist() for s in slots]
        slot_detail = [None if s.detail is None else s.detail.tolist() for s in slots]
        slot_text = [s.text.get(lang) for s in slots]
        cause_texts = self._cause_texts(lang)
        own_texts: list[dict[int, str] | None] = []
        for s in slots:
            if s.cause_of is None:
                own_texts.append(None)
                continue
            texts_of: dict[int, str] = {}
            for i in np.flatnonzero(s.active).tolist():
                texts_of[i] = render_cause(s.cause_of(i), scheme, lang)
            own_texts.append(texts_of)
        requires_ok = result.assessed.requires
        ok = [True] * m if requires_ok is None else requires_ok.tolist()
        score = result.assessed.score
        score_values = None if score is None else score[0].tolist()
        score_exp = 0 if score is None else score[1]
        names = scheme.levels
        level = outcome.level.tolist()
        previous = outcome.previous.tolist()
        raw = outcome.raw.tolist()
        transition = outcome.transition.tolist()
        day = outcome.day.tolist()
        treatment = self.treatment.tolist()
        due = self.due.tolist()
        unmet_text = None if scheme.requires is None else scheme.requires.text.get(lang)
        numbers: dict[tuple[int, int], Decimal] = {}
        dates: dict[int, str] = {}
        plans = _Plans(scheme, lang, self.as_of)
        level_name = [None, *names]
        level_json = ["null", *(encode(n) for n in names)]
        transition_json = ["null" if t is None else encode(t) for t in TRANSITIONS]
        head = f',"scheme":{encode(scheme.name)},"as_of":"{self.as_of.isoformat()}","assessed_on":"'
        pack = self.pack
        pack_json = (
            f',"pack":{{"id":{encode(pack.id)},"version":{encode(pack.version)},'
            f'"digest":{encode(pack.digest)}}},"cause":'
        )
        states: dict[tuple[int, int, int, int, int, int], str] = {}
        fragments: dict[tuple[int, str, int, int], str] = {}

        def number(key: tuple[int, int]) -> Decimal:
            found = numbers.get(key)
            if found is None:
                found = numbers[key] = Decimal(key[0]).scaleb(-key[1])
            return found

        for i in range(m):
            cause_text = cause_texts[i]
            reasons: list[Any] = []
            for p in range(pair_start[i], pair_start[i + 1]):
                k = pair_slot[p]
                slot = slots[k]
                offsets = slot_offsets[k]
                if offsets is None:
                    mine: list[int] = []
                else:
                    positions = slot_positions[k]
                    assert positions is not None
                    mine = positions[offsets[i] : offsets[i + 1]]
                own = own_texts[k]
                if own is not None:
                    text = own[i]
                elif slot.policy:
                    text = cause_text
                else:
                    text = slot_text[k]
                    details = slot_detail[k]
                    if details is not None:
                        extra = slot.details[details[i]]
                        if extra:
                            text = f"{text} ({extra})"
                values = slot_points[k]
                if as_json:
                    key = (k, text, 0, 0) if values is None else (k, text, values[i], slot.exp)
                    fragment = fragments.get(key)
                    if fragment is None:
                        points = "null" if values is None else _float_json(number(key[2:]))
                        fragment = fragments[key] = (
                            f'{{"rule":{encode(slot.rule)},"text":{encode(text)},'
                            f'"points":{points},"evidence":['
                        )
                    reasons.append(fragment + ",".join([id_json[x] for x in mine]) + "]}")
                else:
                    reasons.append(
                        _lean(
                            Reason,
                            {
                                "rule": slot.rule,
                                "text": text,
                                "points": None if values is None else number((values[i], slot.exp)),
                                "evidence": tuple([id_text[x] for x in mine]),
                            },
                        )
                    )
            unmet = not ok[i]
            score_key = None if score_values is None or unmet else (score_values[i], score_exp)
            final_cause = unmet_text if unmet else cause_text
            assessed = dates.get(day[i])
            if assessed is None:
                assessed = dates[day[i]] = from_day_number(day[i]).isoformat()
            if as_json:
                state_key = (
                    level[i],
                    previous[i],
                    raw[i],
                    transition[i],
                    -1 if score_key is None else score_key[0],
                    score_exp if score_key is not None else -1,
                )
                state = states.get(state_key)
                if state is None:
                    score_json = "null" if score_key is None else _float_json(number(score_key))
                    state = states[state_key] = (
                        f'","level":{level_json[level[i] + 1]},'
                        f'"previous_level":{level_json[previous[i] + 1]},'
                        f'"raw_level":{level_json[raw[i] + 1]},"score":{score_json},'
                        f'"transition":{transition_json[transition[i]]},"reasons":['
                    )
                yield (
                    '{"enterprise_id":'
                    + encode(ids[i])
                    + head
                    + assessed
                    + state
                    + ",".join(reasons)
                    + '],"treatment":'
                    + plans.json(treatment[i], due[i])
                    + pack_json
                    + ("null" if final_cause is None else encode(final_cause))
                    + "}"
                )
                continue
            decision = _lean(
                Decision,
                {
                    "enterprise_id": ids[i],
                    "scheme": scheme.name,
                    "as_of": self.as_of,
                    "assessed_on": from_day_number(day[i]),
                    "level": level_name[level[i] + 1],
                    "previous_level": level_name[previous[i] + 1],
                    "raw_level": level_name[raw[i] + 1],
                    "score": None if score_key is None else number(score_key),
                    "transition": TRANSITIONS[transition[i]],
                    "reasons": tuple(reasons),
                    "treatment": plans.plan(treatment[i], due[i]),
                    "pack": pack,
                    "cause": final_cause,
                },
                None if explainer is None or not rows else partial(explainer, rows[i]),
            )
            yield decision

    @property
    def id_text(self) -> dict[int, str]:
        """Every id any reason or cause names, by table position, decoded once."""
        found = self._id_text
        if found is None:
            needed = [
                s.positions for s in self.slots if s.positions is not None and len(s.positions)
            ]
            positions = _union(needed)
            texts = self.run.table.events.ids.to_list(self.run.table.rows[positions])
            found = self._id_text = dict(zip(positions.tolist(), texts, strict=True))
        return found

    def _cause_texts(self, lang: Lang) -> list[str]:
        """Each enterprise's cause, rendered; the native evaluator's Cause, built only when it
        holds records or dates of that enterprise."""
        scheme = self.scheme
        outcome = self.result.outcome
        run = self.run
        names = scheme.levels
        policy = scheme.policy
        id_text = self.id_text
        code = outcome.cause.tolist()
        a = outcome.cause_a.tolist()
        b = outcome.cause_b.tolist()
        number = outcome.number.tolist()
        day = outcome.day.tolist()

        def name(level: int) -> str:
            return "-" if level < 0 else names[level]

        held = {
            C_HELD_ADVERSE: self._held_cause(True)
            if isinstance(policy, HysteresisPolicy)
            else None,
            C_HELD_STOOD: self._held_cause(False) if isinstance(policy, HysteresisPolicy) else None,
        }
        trigger_ids: dict[int, tuple[str, ...]] = {}
        if isinstance(policy, YearlyPolicy):
            offsets, positions = self.triggers
            for i in np.flatnonzero(outcome.cause == C_YEARLY_RAISE).tolist():
                trigger_ids[i] = tuple(
                    id_text[x] for x in positions[offsets[i] : offsets[i + 1]].tolist()
                )
        corrected_ids: dict[int, tuple[str, ...]] = {}
        fixed = np.flatnonzero(outcome.cause == C_CORRECTED)
        if len(fixed):
            t = run.table
            mask = run.correction & np.isin(t.ent, fixed)
            mask &= t.date == outcome.day[t.ent]
            chosen = np.flatnonzero(mask)
            texts = t.events.ids.to_list(t.rows[chosen])
            for position, text in zip(chosen.tolist(), texts, strict=True):
                i = int(t.ent[position])
                corrected_ids[i] = (*corrected_ids.get(i, ()), text)
        simple: dict[tuple[int, int, int, int], str] = {}
        out: list[str] = []
        for i in range(self.m):
            c = code[i]
            if c in (
                C_UNGRADED,
                C_UNCHANGED,
                C_INITIAL,
                C_INITIAL_FLOOR,
                C_WORSENED,
                C_IMPROVED,
                C_DIRECT,
                C_YEARLY_WAIT,
            ):
                key = (c, a[i], b[i], number[i] if c == C_YEARLY_WAIT else 0)
                known = simple.get(key)
                if known is None:
                    known = simple[key] = render_cause(
                        _simple_cause(CAUSES[c], name(a[i]), name(b[i]), number[i]), scheme, lang
                    )
                out.append(known)
                continue
            if c in held:
                make = held[c]
                assert make is not None
                cause = make(i)
            elif c == C_CORRECTED:
                cause = Cause(
                    "corrected",
                    dates=(from_day_number(day[i]),),
                    evidence=corrected_ids.get(i, ()),
                    levels=(name(a[i]), name(b[i])),
                )
            elif c == C_YEARLY_RAISE:
                cause = Cause(
                    "yearly_raise",
                    dates=(from_day_number(day[i]),),
                    evidence=trigger_ids.get(i, ()),
                    levels=(name(a[i]), name(b[i])),
                    number=number[i],
                )
            elif c == C_YEARLY_LOWER:
                cause = Cause(
                    "yearly_lower",
                    dates=(from_day_number(day[i]),),
                    levels=(name(a[i]), name(b[i])),
                    number=number[i],
                )
            else:
                cause = Cause(CAUSES[c], dates=(from_day_number(day[i]),), number=number[i])
            out.append(render_cause(cause, scheme, lang))
        return out


def _type_code(name: str) -> int:
    from riskgrade._columns import EVENT_TYPE_NAMES

    return EVENT_TYPE_NAMES.index(name)


def _day(day: dt.date) -> int:
    from riskgrade._columns import day_number

    return day_number(day)


_encode_string: Callable[[str], str] = json.encoder.encode_basestring  # what json.dumps uses


def _lean(cls: type[Any], values: dict[str, object], explainer: object = None) -> Any:
    """An instance of a frozen pydantic model from already valid values, without validation.

    ``model_construct`` costs tens of microseconds a call; a million decisions cannot afford
    it. The values come from the same computation as the native evaluator's, so validation
    would find nothing; the tests compare every field through ``to_json``.
    """
    obj = object.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    private = {"_explainer": explainer} if cls is Decision else None
    object.__setattr__(obj, "__pydantic_private__", private)
    return obj


class _Plans:
    """Treatment plans by (treatment, due day), as objects and as JSON, built once each."""

    def __init__(self, scheme: Scheme, lang: Lang, as_of: dt.date) -> None:
        self.scheme = scheme
        self.lang = lang
        self.as_of = as_of
        self.plans: dict[tuple[int, int], TreatmentPlan | None] = {}
        self.texts: dict[tuple[int, int], str] = {}

    def plan(self, index: int, due: int) -> TreatmentPlan | None:
        key = (index, due)
        if key in self.plans:
            return self.plans[key]
        found: TreatmentPlan | None = None
        if index != -1:
            scheme = self.scheme
            source = scheme.treatments[index] if index >= 0 else scheme.requires_treatment
            assert source is not None
            spec = source.spec
            day = from_day_number(due)
            found = _lean(
                TreatmentPlan,
                {
                    "name": source.name,
                    "inspections_per_year": spec.inspections_per_year,
                    "sampling_per_year": spec.sampling_per_year,
                    "measures": tuple(m.get(self.lang) for m in spec.measures),
                    "next_inspection_due": day,
                    "overdue": day < self.as_of,
                },
            )
        self.plans[key] = found
        return found

    def json(self, index: int, due: int) -> str:
        key = (index, due)
        text = self.texts.get(key)
        if text is None:
            plan = self.plan(index, due)
            if plan is None:
                text = "null"
            else:
                encode = _encode_string
                measures = ",".join(encode(m) for m in plan.measures)
                text = (
                    f'{{"name":{encode(plan.name)},'
                    f'"inspections_per_year":{plan.inspections_per_year},'
                    f'"sampling_per_year":{plan.sampling_per_year},"measures":[{measures}],'
                    f'"next_inspection_due":"{plan.next_inspection_due.isoformat()}",'
                    f'"overdue":{"true" if plan.overdue else "false"}}}'
                )
            self.texts[key] = text
        return text


def _float_json(value: Decimal) -> str:
    """A number as ``json.dumps`` writes ``float(value)``."""
    return repr(float(value))


def _simple_cause(code: str, a: str, b: str, number: int) -> Cause:
    """A cause that holds no records or dates: it depends on levels (and a count) only."""
    if code in ("ungraded", "unchanged"):
        return Cause(code)
    if code in ("initial", "initial_floor"):
        return Cause(code, levels=(a,))
    if code == "yearly_wait":
        return Cause(code, number=number)
    return Cause(code, levels=(a, b))


def _union(parts: Sequence[npt.NDArray[np.integer[Any]]], *, sort: bool = False) -> I64:
    """The sorted distinct values of arrays that are each sorted and distinct (``sort``: not
    necessarily sorted). A sort beats ``np.unique``'s hashing by far on these sizes."""
    if not parts:
        return np.zeros(0, dtype=np.int64)
    if len(parts) == 1 and not sort:
        return np.asarray(parts[0], dtype=np.int64)
    values = np.sort(np.concatenate(parts).astype(np.int64))
    if len(values) < 2:
        return values
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]
