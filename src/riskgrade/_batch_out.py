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
from typing import Any, Final

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
from riskgrade._columns import StrColumn, from_day_number, gather_ranges
from riskgrade.compiled import AttributeTermC, ConditionTermC, EachTermC, RuleC, Scheme
from riskgrade.decisions import Decision, Lang, Reason, TreatmentPlan, render_cause
from riskgrade.evaluation import Cause
from riskgrade.packs import HysteresisPolicy, PackRef, Text, YearlyPolicy

__all__ = ["JsonPieces", "SchemeDecisions"]

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
    #: The decision's cause code where the decision's cause is this slot's own.
    cause_code: int | None = None


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
        self._cause_codes: dict[str, tuple[I64, list[str]]] = {}
        self._members_cache: dict[tuple[str, ...], tuple[I64, I64]] = {}
        self.slots = self._slots()
        self._due()

    # -- evidence ---------------------------------------------------------------------------
    def _members(self, sets: Sequence[str]) -> tuple[I64, I64]:
        """The members of ``sets`` at each enterprise's last point, grouped (computed once)."""
        key = tuple(sets)
        found = self._members_cache.get(key)
        if found is None:
            run = self.run
            day = self.result.outcome.day
            parts = [run.members_at(name, day) for name in sets]
            found = _grouped(run.table.ent, _union(parts), self.m)
            self._members_cache[key] = found
        return found

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
            # The records of the bands that hold at each enterprise's last point.
            iv = run.members(term.set)
            last = self.result.outcome.point
            held: list[I64] = []
            for band in run.term_bands(term)[1]:
                pos = iv.pos[band.members]
                at = last[run.table.ent[pos]]
                held.append(pos[(band.first <= at) & (at < band.end)])
            found = _grouped(run.table.ent, _union(held, sort=True), self.m)
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
                    cause_code=C_HELD_ADVERSE,
                ),
                _Slot(
                    "regrade.held.stood",
                    policy.text,
                    True,
                    outcome.held_stood,
                    cause_of=self._held_cause(False),
                    cause_code=C_HELD_STOOD,
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
        id_of: dict[int, str] = {}
        if adverse:
            # The ids of every held enterprise's adverse records, decoded at once.
            offsets, positions = self.adverse
            chosen = np.flatnonzero(outcome.held_adverse)
            wanted = positions[
                gather_ranges(offsets[chosen], offsets[chosen + 1] - offsets[chosen])
            ]
            id_of = dict(zip(wanted.tolist(), self._ids(wanted), strict=True))

        def cause(i: int) -> Cause:
            since = int(outcome.since[i])
            ready = from_day_number(int(ready_day[i]))
            levels = (names[int(lv_a[i])], names[int(lv_b[i])])
            if adverse:
                offsets, positions = self.adverse
                mine = positions[offsets[i] : offsets[i + 1]].tolist()
                ids = tuple(id_of[x] if x in id_of else self._ids(np.array([x]))[0] for x in mine)
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
        chosen = run.of_types(due_types.tolist())
        last = np.full(self.m, -(1 << 40), dtype=np.int64)
        # Sorted by (enterprise, date): an enterprise's last chosen record is its latest.
        ents = t.ent[chosen]
        tail = np.ones(len(chosen), dtype=bool)
        tail[:-1] = ents[1:] != ents[:-1]
        last[ents[tail]] = t.date[chosen[tail]]
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
        explainer: Callable[[int, Lang], str] | None = None,
        rows: Sequence[int] = (),
    ) -> Iterator[Decision]:
        """Yield each enterprise's :class:`Decision` in the group's order (for JSON Lines,
        :meth:`json_pieces` builds the bytes without objects).

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
        id_text = self.id_text
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
        plans = Plans(scheme, lang, self.as_of)
        level_name = [None, *names]
        pack = self.pack

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

    def _ids(self, positions: I64) -> list[str]:
        """The ids of the records at table ``positions``."""
        table = self.run.table
        return table.events.ids.to_list(table.rows[np.asarray(positions, dtype=np.int64)])

    def _cause_texts(self, lang: Lang) -> list[str]:
        """Each enterprise's cause, rendered."""
        codes, texts = self.cause_codes(lang)
        return [texts[c] for c in codes.tolist()]

    def cause_codes(self, lang: Lang) -> tuple[I64, list[str]]:
        """Each enterprise's cause as a code into rendered texts. A cause that holds no records
        or dates of its enterprise is rendered once per distinct (kind, levels, count); the
        native evaluator's Cause is built only for the others."""
        found = self._cause_codes.get(lang)
        if found is not None:
            return found
        scheme = self.scheme
        outcome = self.result.outcome
        names = scheme.levels
        policy = scheme.policy
        code = outcome.cause

        def name(level: int) -> str:
            return "-" if level < 0 else names[level]

        out = np.zeros(self.m, dtype=np.int64)
        texts: list[str] = []
        simple = np.isin(code, _SIMPLE_CAUSES)
        chosen = np.flatnonzero(simple)
        if len(chosen):
            c = code[chosen]
            a = outcome.cause_a[chosen]
            b = outcome.cause_b[chosen]
            number = np.where(c == C_YEARLY_WAIT, outcome.number[chosen], 0)
            inverse, first = _group([c, a, b, number])
            for j in first.tolist():
                cause = _simple_cause(
                    CAUSES[int(c[j])], name(int(a[j])), name(int(b[j])), int(number[j])
                )
                texts.append(render_cause(cause, scheme, lang))
            out[chosen] = inverse
        others = np.flatnonzero(~simple)
        if len(others) == 0:
            self._cause_codes[lang] = (out, texts)
            return out, texts
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
                trigger_ids[i] = tuple(self._ids(positions[offsets[i] : offsets[i + 1]]))
        corrected_ids: dict[int, tuple[str, ...]] = {}
        fixed = np.flatnonzero(outcome.cause == C_CORRECTED)
        if len(fixed):
            t = self.run.table
            mask = self.run.correction & np.isin(t.ent, fixed)
            mask &= t.date == outcome.day[t.ent]
            chosen = np.flatnonzero(mask)
            for position, text in zip(chosen.tolist(), self._ids(chosen), strict=True):
                i = int(t.ent[position])
                corrected_ids[i] = (*corrected_ids.get(i, ()), text)
        a_list = outcome.cause_a.tolist()
        b_list = outcome.cause_b.tolist()
        number_list = outcome.number.tolist()
        day = outcome.day.tolist()
        code_list = code.tolist()
        out[others] = len(texts) + np.arange(len(others), dtype=np.int64)
        for i in others.tolist():
            c = code_list[i]
            a, b, number = a_list[i], b_list[i], number_list[i]
            if c in held:
                make = held[c]
                assert make is not None
                cause = make(i)
            elif c == C_CORRECTED:
                cause = Cause(
                    "corrected",
                    dates=(from_day_number(day[i]),),
                    evidence=corrected_ids.get(i, ()),
                    levels=(name(a), name(b)),
                )
            elif c == C_YEARLY_RAISE:
                cause = Cause(
                    "yearly_raise",
                    dates=(from_day_number(day[i]),),
                    evidence=trigger_ids.get(i, ()),
                    levels=(name(a), name(b)),
                    number=number,
                )
            elif c == C_YEARLY_LOWER:
                cause = Cause(
                    "yearly_lower",
                    dates=(from_day_number(day[i]),),
                    levels=(name(a), name(b)),
                    number=number,
                )
            else:
                cause = Cause(CAUSES[c], dates=(from_day_number(day[i]),), number=number)
            texts.append(render_cause(cause, scheme, lang))
        self._cause_codes[lang] = (out, texts)
        return out, texts

    # -- JSON Lines, assembled from pieces ---------------------------------------------------
    def json_pieces(
        self, ids: StrColumn, rows: I64, lang: Lang, plans: Plans | None = None
    ) -> JsonPieces:
        """Each enterprise's ``Decision.to_json()`` line (with its newline) as a sequence of
        byte pieces: the pieces shared by many lines (a state, a reason's rule, text and
        points, a treatment with its cause) are made once, as are the quoted ids; numpy lays
        out which piece goes where. ``ids`` are the enterprise ids, ``rows`` this group's rows
        among them; ``plans``, the treatment plans already rendered for other groups of the
        scheme in ``lang`` as of the same day (shared by the parts of a scheme)."""
        scheme = self.scheme
        result = self.result
        outcome = result.outcome
        slots = self.slots
        m = self.m
        encode = _encode_string
        pool: list[bytes] = [b","]
        # 1. '{"enterprise_id":"…"' per enterprise.
        a_base = len(pool)
        pool.extend(_quoted(ids, rows, b'{"enterprise_id":', b""))
        # 2. The scheme, the dates and the levels: one piece per distinct state.
        requires_ok = result.assessed.requires
        unmet = np.zeros(m, dtype=bool) if requires_ok is None else ~requires_ok
        score = result.assessed.score
        score_exp = 0 if score is None else score[1]
        has_score = np.zeros(m, dtype=bool) if score is None else ~unmet
        score_values = np.zeros(m, dtype=np.int64) if score is None else score[0]
        score_values = np.where(has_score, score_values, 0)
        names = scheme.levels
        level_json = ["null", *(encode(n) for n in names)]
        transition_json = ["null" if t is None else encode(t) for t in TRANSITIONS]
        head = f',"scheme":{encode(scheme.name)},"as_of":"{self.as_of.isoformat()}","assessed_on":"'
        # The day, then the levels and the score: one piece per distinct value of each.
        day_code, day_first = _group([outcome.day])
        b_base = len(pool)
        for j in day_first.tolist():
            pool.append(f'{head}{from_day_number(int(outcome.day[j])).isoformat()}",'.encode())
        day_piece = b_base + day_code
        state_columns = [
            outcome.level,
            outcome.previous,
            outcome.raw,
            outcome.transition,
            has_score,
            score_values,
        ]
        inverse, first = _group(state_columns)
        b_base = len(pool)
        for j in first.tolist():
            if has_score[j]:
                score_json = _float_json(Decimal(int(score_values[j])).scaleb(-score_exp))
            else:
                score_json = "null"
            text = (
                f'"level":{level_json[int(outcome.level[j]) + 1]},'
                f'"previous_level":{level_json[int(outcome.previous[j]) + 1]},'
                f'"raw_level":{level_json[int(outcome.raw[j]) + 1]},"score":{score_json},'
                f'"transition":{transition_json[int(outcome.transition[j])]},"reasons":['
            )
            pool.append(text.encode())
        state_piece = b_base + inverse
        # 3. The reasons: (enterprise, slot) pairs, each a piece per distinct (text, points).
        cause_code, cause_text = self.cause_codes(lang)
        pair_ent: list[I64] = []
        pair_slot: list[I64] = []
        pair_piece: list[I64] = []
        pair_evidence: list[I64] = []
        pair_count: list[I64] = []
        all_positions: list[I64] = []
        shift = 0
        for k, slot in enumerate(slots):
            ents = np.flatnonzero(slot.active)
            if len(ents) == 0:
                continue
            base_text = slot.text.get(lang)
            texts_of: Callable[[int], str]
            if slot.cause_of is not None:
                # Where the decision's cause is the slot's own, its text is rendered already.
                make = slot.cause_of
                same = outcome.cause[ents] == slot.cause_code
                own = [
                    cause_text[code] if shared else render_cause(make(i), scheme, lang)
                    for i, shared, code in zip(
                        ents.tolist(), same.tolist(), cause_code[ents].tolist(), strict=True
                    )
                ]
                text_code: I64 = np.arange(len(ents), dtype=np.int64)
                texts_of = own.__getitem__
            elif slot.policy:
                text_code = np.asarray(cause_code[ents], dtype=np.int64)
                texts_of = cause_text.__getitem__
            elif slot.detail is not None:
                text_code = slot.detail[ents].astype(np.int64)
                details = slot.details

                def texts_of(code: int, base: str = base_text, details: Any = details) -> str:
                    extra = details[code]
                    return f"{base} ({extra})" if extra else base

            else:
                text_code = np.zeros(len(ents), dtype=np.int64)

                def texts_of(code: int, base: str = base_text) -> str:
                    return base

            points = None if slot.points is None else slot.points[ents].astype(np.int64)
            inverse, first = _group([text_code] if points is None else [text_code, points])
            f_base = len(pool)
            rule_json = encode(slot.rule)
            for j in first.tolist():
                if points is None:
                    points_json = "null"
                else:
                    points_json = _float_json(Decimal(int(points[j])).scaleb(-slot.exp))
                fragment = (
                    f'{{"rule":{rule_json},"text":{encode(texts_of(int(text_code[j])))},'
                    f'"points":{points_json},"evidence":['
                ).encode()
                pool.append(fragment)
                pool.append(b"]}," + fragment)
            pair_ent.append(ents)
            pair_slot.append(np.full(len(ents), k, dtype=np.int64))
            pair_piece.append(f_base + 2 * inverse)
            if slot.offsets is None or slot.positions is None:
                pair_evidence.append(np.zeros(len(ents), dtype=np.int64))
                pair_count.append(np.zeros(len(ents), dtype=np.int64))
            else:
                offsets = np.asarray(slot.offsets, dtype=np.int64)
                pair_evidence.append(offsets[ents] + shift)
                pair_count.append(offsets[ents + 1] - offsets[ents])
                all_positions.append(np.asarray(slot.positions, dtype=np.int64))
                shift += len(slot.positions)
        if pair_ent:
            p_ent = np.concatenate(pair_ent)
            order = np.argsort(p_ent, kind="stable")  # by enterprise, then slot
            p_ent = p_ent[order]
            p_piece = np.concatenate(pair_piece)[order]
            p_start = np.concatenate(pair_evidence)[order]
            p_count = np.concatenate(pair_count)[order]
        else:
            p_ent = p_piece = p_start = p_count = np.zeros(0, dtype=np.int64)
        following = np.zeros(len(p_ent), dtype=bool)
        following[1:] = p_ent[1:] == p_ent[:-1]
        p_piece = p_piece + following
        reasons = np.bincount(p_ent, minlength=m)
        # 4. The treatment, the pack and the cause: one piece per distinct (reasons?, plan,
        # cause).
        final = np.where(unmet, len(cause_text), cause_code)
        unmet_text = None if scheme.requires is None else scheme.requires.text.get(lang)
        finals = [*cause_text, unmet_text]
        plans = plans or Plans(scheme, lang, self.as_of)
        pack = self.pack
        pack_json = (
            f',"pack":{{"id":{encode(pack.id)},"version":{encode(pack.version)},'
            f'"digest":{encode(pack.digest)}}},"cause":'
        )
        treatment = self.treatment
        due = self.due
        inverse, first = _group([reasons > 0, treatment, due, final])
        d_base = len(pool)
        for j in first.tolist():
            cause = finals[int(final[j])]
            text = (
                ("]}" if reasons[j] else "")
                + '],"treatment":'
                + plans.json(int(treatment[j]), int(due[j]))
                + pack_json
                + ("null" if cause is None else encode(cause))
                + "}\n"
            )
            pool.append(text.encode())
        tail_piece = d_base + inverse
        # 5. Evidence ids, quoted once each.
        if all_positions:
            positions = np.concatenate(all_positions)
            flat = gather_ranges(p_start, p_count)
            evidence = positions[flat]
            distinct = _union([evidence], sort=True)
            table = self.run.table
            e_base = len(pool)
            pool.extend(_quoted(table.events.ids, table.rows[distinct], b"", b""))
            evidence_piece = e_base + np.searchsorted(distinct, evidence)
        else:
            evidence_piece = np.zeros(0, dtype=np.int64)
        # 6. Where each piece goes.
        pair_pieces = np.maximum(1, 2 * p_count)
        per_line = 4 + np.bincount(p_ent, weights=pair_pieces, minlength=m).astype(np.int64)
        line_start = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(per_line, out=line_start[1:])
        pieces = np.zeros(int(line_start[-1]), dtype=np.int64)
        pieces[line_start[:-1]] = a_base + np.arange(m, dtype=np.int64)
        pieces[line_start[:-1] + 1] = day_piece
        pieces[line_start[:-1] + 2] = state_piece
        pieces[line_start[1:] - 1] = tail_piece
        if len(p_ent):
            ends = np.cumsum(pair_pieces)
            before = ends - pair_pieces
            first_of_line = np.searchsorted(p_ent, p_ent)  # first pair of each pair's line
            within = before - before[first_of_line]
            at = line_start[p_ent] + 3 + within
            pieces[at] = p_piece
            if len(evidence_piece):
                owner = np.repeat(np.arange(len(p_ent), dtype=np.int64), p_count)
                index = np.arange(len(owner), dtype=np.int64) - np.repeat(
                    np.cumsum(p_count) - p_count, p_count
                )
                spot = at[owner] + 1 + 2 * index
                pieces[spot] = evidence_piece
                later = index > 0
                pieces[spot[later] - 1] = 0  # the comma
        return JsonPieces(pool, per_line, pieces)


@dataclass
class JsonPieces:
    """A group's JSON lines as pieces: line ``i`` is the concatenation of
    ``pool[p]`` for ``p`` in ``pieces[start[i]:start[i + 1]]``, ``start`` the running sum of
    ``counts``."""

    pool: list[bytes]
    counts: I64
    pieces: I64


_SIMPLE_CAUSES: Final = np.array(
    [
        C_UNGRADED,
        C_UNCHANGED,
        C_INITIAL,
        C_INITIAL_FLOOR,
        C_WORSENED,
        C_IMPROVED,
        C_DIRECT,
        C_YEARLY_WAIT,
    ],
    dtype=np.int64,
)


def _group(columns: Sequence[npt.NDArray[Any]]) -> tuple[I64, I64]:
    """Group rows by their values in ``columns``: each row's group code (dense, from 0) and
    one row of each group."""
    n = len(columns[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for column in columns:
        values = np.asarray(column).astype(np.int64)
        low, high = int(values.min()), int(values.max())
        width = high - low + 1
        if width >= 1 << 40:
            _, values = np.unique(values, return_inverse=True)
            low, width = 0, int(values.max()) + 1
        if span * width >= 1 << 62:
            _, key = np.unique(key, return_inverse=True)
            span = int(key.max()) + 1
        key = key * width + (values - low)
        span *= width
    if span <= 4 * n + 4096:
        seen = np.zeros(span, dtype=bool)
        seen[key] = True
        code_of = np.cumsum(seen) - 1
        inverse = code_of[key]
        groups = int(code_of[-1]) + 1
    else:
        _, inverse = np.unique(key, return_inverse=True)
        inverse = inverse.reshape(-1)
        groups = int(inverse.max()) + 1
    first = np.zeros(groups, dtype=np.int64)
    first[inverse] = np.arange(n, dtype=np.int64)
    return inverse.astype(np.int64), first


def _quoted(column: StrColumn, rows: I64, before: bytes, after: bytes) -> list[bytes]:
    """``before + json.dumps(string) + after`` (as ``Decision.to_json`` writes strings) for
    the strings at ``rows``, as bytes; strings needing no escape are framed with numpy."""
    rows = np.asarray(rows, dtype=np.int64)
    n = len(rows)
    if n == 0:
        return []
    out = np.empty(n, dtype=object)
    starts = column.offsets[rows]
    lengths = column.offsets[rows + 1] - starts
    head = np.frombuffer(before + b'"', dtype=np.uint8)
    tail = np.frombuffer(b'"' + after, dtype=np.uint8)
    step = 1 << 16
    for width in np.unique(lengths).tolist():
        chosen = np.flatnonzero(lengths == width)
        for low in range(0, len(chosen), step):
            part = chosen[low : low + step]
            grid = column.data[starts[part][:, None] + np.arange(width, dtype=np.int64)]
            plain = ~((grid < 0x20) | (grid == 0x22) | (grid == 0x5C)).any(axis=1)
            size = len(head) + width + len(tail)
            framed = np.empty((len(part), size), dtype=np.uint8)
            framed[:, : len(head)] = head
            framed[:, len(head) : len(head) + width] = grid
            framed[:, len(head) + width :] = tail
            # Fixed-width byte strings to bytes objects (none ends in NUL: the last is '"'
            # or ``after``'s, which callers keep free of NUL).
            texts = framed.view(f"S{size}").reshape(-1).astype(object)
            out[part[plain]] = texts[plain]
            for index in part[~plain].tolist():
                start = int(starts[index])
                text = column.data[start : start + width].tobytes().decode("utf-8")
                out[index] = before + _encode_string(text).encode() + after
    found: list[bytes] = out.tolist()
    return found


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


class Plans:
    """Treatment plans by (treatment, due day), as objects and as JSON, built once each.

    Shared by the threads building the parts of a scheme: a plan two threads build at once
    is built twice, the same, and either is kept."""

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
