"""Per-enterprise evaluation: the grade as a pure function of (pack, enterprise, records, date).

The pipeline for one enterprise and an as-of date T:

1. :class:`World` — the records dated on or before T, with every correction dated on or before
   T applied (voids remove, overturned re-tests turn a failed spot check into a passed one).
   Corrections rewrite history: the replay below sees the corrected records from the start.
2. Re-grade points — every distinct record date, the periodic reviews (last point + 1y, + 2y, …
   while no record intervenes) and the policy's anniversaries, up to T.
3. :meth:`Evaluator.assess` — at each point, the pack's sets, scores and rules give the raw
   level and the reasons.
4. The policy fold — initial assessment, then worsen at once / improve with hysteresis, or set
   afresh, or move yearly — gives the level at each point. The grade as of T is the level set at
   the last point.

Nothing here keeps state between calls; an :class:`Evaluator` holds only its compiled pack.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal, TypeAlias

from riskgrade.compiled import (
    AttributeTermC,
    CompiledSet,
    ConditionTermC,
    EachTermC,
    RuleC,
    RulePack,
    Scheme,
    ScoreC,
)
from riskgrade.dates import Duration, add_years, earliest_on_or_after
from riskgrade.errors import EvaluationError
from riskgrade.packs import DirectPolicy, HysteresisPolicy, Text, YearlyPolicy
from riskgrade.records import Enterprise, Event, event_to_mapping

__all__ = [
    "Assessment",
    "Cause",
    "Evaluator",
    "Hit",
    "Outlook",
    "Rec",
    "Replay",
    "Step",
    "World",
    "next_scheduled_point",
]

ONE_DAY = dt.timedelta(days=1)
#: Whether a rule's or a condition term's condition holds at one date (see ``Evaluator._matcher``).
Matcher: TypeAlias = Callable[[RuleC | ConditionTermC], bool]
PointKind = Literal["record", "review", "anniversary", "as_of"]
Transition = Literal["initial", "worsened", "improved", "held", "unchanged", "corrected"]


@dataclass(frozen=True, slots=True)
class Rec:
    """One effective record as rules see it: its fields as a mapping, after corrections."""

    id: str
    type: str
    date: dt.date
    data: Mapping[str, object]

    @property
    def sort_key(self) -> tuple[dt.date, str]:
        """Records are ordered by date, then id."""
        return (self.date, self.id)


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule that contributed, with its points and the ids of the records behind it."""

    rule: str
    text: Text
    points: Decimal | None
    evidence: tuple[str, ...]
    detail: str | None = None
    level: int | None = None
    #: For the policy's own reasons (a held improvement, a yearly raise): why, in detail.
    cause: Cause | None = None


@dataclass(frozen=True, slots=True)
class Cause:
    """Why a transition happened: a code with its parameters, rendered per language later."""

    code: str
    dates: tuple[dt.date, ...] = ()
    evidence: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    number: int | None = None


class World:
    """The effective records of one enterprise as known on ``horizon`` (corrections applied)."""

    def __init__(self, events: Sequence[Event], horizon: dt.date) -> None:
        self.horizon = horizon
        seen = [e for e in events if e.date <= horizon]
        by_id = {e.id: e for e in seen}
        voided = _voided(seen, by_id)
        overturned = {
            e.of
            for e in seen
            if e.type == "recheck" and e.id not in voided and e.result == "overturned"
        }
        records: list[Rec] = []
        verified: dict[str, list[dt.date]] = {}
        for event in seen:
            if event.id in voided:
                continue
            data = event_to_mapping(event)
            if event.id in overturned:
                data = {**data, "result": "pass"}
            records.append(Rec(event.id, event.type, event.date, data))
            if event.type == "rectification" and event.verified:
                verified.setdefault(event.of, []).append(event.date)
        records.sort(key=lambda r: (r.date, r.id))
        self.records: tuple[Rec, ...] = tuple(records)
        self.voided = frozenset(voided)
        self.overturned = frozenset(overturned)
        self.verified = {key: sorted(days) for key, days in verified.items()}
        self.dates: tuple[dt.date, ...] = tuple(sorted({r.date for r in records}))
        self.corrections_on: dict[dt.date, tuple[str, ...]] = {}
        # Only what changes the history is a correction: an upheld re-test "changes nothing"
        # (PACKS.md), so a level change on its day keeps its own transition.
        for event in seen:
            effective = event.type == "void" or (
                event.type == "recheck" and event.result == "overturned"
            )
            if effective and event.id not in voided:
                self.corrections_on.setdefault(event.date, ())
                self.corrections_on[event.date] += (event.id,)

    def overdue(self, rec: Rec, t: dt.date) -> bool:
        """PACKS.md: a minor/major inspection or a rectification order with a deadline before t
        and no verified rectification of it dated on or before t."""
        deadline = rec.data.get("deadline")
        if not isinstance(deadline, dt.date) or deadline >= t:
            return False
        if rec.type == "inspection":
            if rec.data.get("outcome") not in ("minor", "major"):
                return False
        elif rec.type != "enforcement" or rec.data.get("penalty") != "rectification_order":
            return False
        days = self.verified.get(rec.id, ())
        return not (days and days[0] <= t)


def _voided(events: Sequence[Event], by_id: Mapping[str, Event]) -> set[str]:
    """Return the ids removed by effective voids; a void that is itself voided has no effect."""
    voids_of: dict[str, list[str]] = {}
    for event in events:
        if event.type == "void":
            voids_of.setdefault(event.of, []).append(event.id)
    memo: dict[str, bool] = {}

    def removed(event_id: str, depth: int = 0) -> bool:
        if event_id in memo:
            return memo[event_id]
        if depth > len(events):  # a cycle; RecordSet rejects these, so stay total here
            return False
        result = any(not removed(v, depth + 1) for v in voids_of.get(event_id, ()))
        memo[event_id] = result
        return result

    return {event_id for event_id in by_id if removed(event_id)}


@dataclass(frozen=True)
class Assessment:
    """What the rules say at one re-grade date, before the policy applies hysteresis."""

    date: dt.date
    raw: int | None
    score: Decimal | None
    scores: Mapping[str, Decimal]
    reasons: tuple[Hit, ...]
    floors: tuple[Hit, ...]
    members: Mapping[str, tuple[Rec, ...]]
    unmet: Hit | None = None
    #: The scheme's flags that hold (never while ungraded); they do not change the level.
    flags: tuple[Hit, ...] = ()


@dataclass(frozen=True)
class Step:
    """One re-grade point of a replay: the assessment and the level the policy set."""

    date: dt.date
    kind: PointKind
    assessment: Assessment
    level: int | None
    previous: int | None
    transition: Transition | None
    cause: Cause
    since: dt.date | None
    policy_hits: tuple[Hit, ...] = ()
    clean_years: int = 0


@dataclass(frozen=True)
class FoldState:
    """What the policy carries from one point to the next (resumable)."""

    level: int | None = None
    since: dt.date | None = None
    initial_on: dt.date | None = None
    clean_years: int = 0
    anchor: dt.date | None = None
    reviews: int = 0


@dataclass(frozen=True)
class Replay:
    """A full replay of one enterprise up to ``as_of`` in one world."""

    scheme: Scheme
    enterprise: Enterprise
    world: World
    as_of: dt.date
    steps: tuple[Step, ...]
    state: FoldState


@dataclass(frozen=True)
class Outlook:
    """What stands between the enterprise and the next better level, if nothing new happens."""

    better_level: str | None
    earliest: dt.date | None
    blockers: tuple[Hit, ...]
    cause: Cause | None


class _SetIndex:
    """A set's candidate records in one world, for fast windowed look-ups."""

    __slots__ = ("compiled", "dates", "records")

    def __init__(self, compiled: CompiledSet, world: World) -> None:
        self.compiled = compiled
        chosen = [r for r in world.records if r.type in compiled.types]
        if compiled.where is not None and not compiled.time_dependent:
            where = compiled.where
            chosen = [r for r in chosen if where.evaluate(r.data) is True]
        self.records: tuple[Rec, ...] = tuple(chosen)
        self.dates: list[dt.date] = [r.date for r in chosen]

    def at(self, t: dt.date, world: World) -> tuple[Rec, ...]:
        window = self.compiled.window
        hi = bisect.bisect_right(self.dates, t)
        if window is None:
            lo = 0
        else:
            start = window.length.before(t)
            lo = (bisect.bisect_left if window.lower_inclusive else bisect.bisect_right)(
                self.dates, start
            )
            if not window.upper_inclusive:
                hi = bisect.bisect_left(self.dates, t)
        chosen = self.records[lo:hi]
        if self.compiled.time_dependent and self.compiled.where is not None:
            where = self.compiled.where
            chosen = tuple(
                r
                for r in chosen
                if where.evaluate({**r.data, "overdue": world.overdue(r, t)}) is True
            )
        return chosen


class Evaluator:
    """The native per-enterprise evaluator of one compiled pack.

    Every method is a pure function of its arguments: records dated after ``as_of`` are ignored,
    and the order in which records are given does not matter.
    """

    name = "python"

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack

    # -- the pure grading function ---------------------------------------------------------
    def replay(self, enterprise: Enterprise, events: Iterable[Event], as_of: dt.date) -> Replay:
        """Replay an enterprise's history up to ``as_of`` (records after it are ignored)."""
        scheme = self.pack.scheme_for(enterprise)
        ordered = sorted(events, key=lambda e: (e.date, e.id))
        world = World(ordered, as_of)
        steps, state = self._fold(scheme, enterprise, world, as_of, FoldState(), ())
        steps = self._mark_correction(scheme, enterprise, ordered, world, steps)
        return Replay(scheme, enterprise, world, as_of, steps, state)

    def _mark_correction(
        self,
        scheme: Scheme,
        enterprise: Enterprise,
        ordered: Sequence[Event],
        world: World,
        steps: tuple[Step, ...],
    ) -> tuple[Step, ...]:
        """Label the last step ``corrected`` where a correction on its date changed the level."""
        last = steps[-1]
        corrections = world.corrections_on.get(last.date)
        if not corrections or last.kind != "record":
            return steps
        before_day = last.date - ONE_DAY
        earlier = [e for e in ordered if e.date <= before_day]
        if not earlier:
            return steps
        before = World(earlier, before_day)
        prior_steps, _ = self._fold(scheme, enterprise, before, before_day, FoldState(), ())
        stood = prior_steps[-1].level
        if prior_steps[-1].transition is None and stood is None:
            return steps
        if stood != last.level:
            cause = Cause(
                "corrected",
                dates=(last.date,),
                evidence=corrections,
                levels=(_name(scheme, stood), _name(scheme, last.level)),
            )
            fixed = replace(last, previous=stood, transition="corrected", cause=cause)
        elif last.previous != stood:
            fixed = replace(last, previous=stood, transition="unchanged", cause=Cause("unchanged"))
        else:
            return steps
        return (*steps[:-1], fixed)

    def _fold(
        self,
        scheme: Scheme,
        enterprise: Enterprise,
        world: World,
        until: dt.date,
        state: FoldState,
        steps: tuple[Step, ...],
        *,
        after: dt.date | None = None,
        simulate: bool = False,
    ) -> tuple[tuple[Step, ...], FoldState]:
        """Advance the policy over the re-grade points in (after, until]."""
        index = _SetIndexes(scheme, world)
        dates = world.dates
        i = 0 if after is None else bisect.bisect_right(dates, after)
        out = list(steps)
        last_point = after
        if after is None and (not dates or dates[0] > until):
            # No record on or before the date: assessed at the date itself.
            if simulate:
                return tuple(out), state
            step, state = self._step(scheme, enterprise, world, index, until, "as_of", state, None)
            return (step,), state
        while True:
            candidates: list[tuple[dt.date, PointKind]] = []
            if i < len(dates):
                candidates.append((dates[i], "record"))
            if state.anchor is not None:
                review = _times(scheme.review_every, state.reviews + 1).after(state.anchor)
                candidates.append((review, "review"))
            anniversary = _next_anniversary(scheme, state, last_point)
            if anniversary is not None:
                candidates.append((anniversary, "anniversary"))
            if not candidates:
                break
            day = min(c[0] for c in candidates)
            if day > until:
                break
            kinds = {c[1] for c in candidates if c[0] == day}
            kind: PointKind = (
                "record"
                if "record" in kinds
                else "anniversary"
                if "anniversary" in kinds
                else "review"
            )
            if kind == "record":
                i += 1
            previous = out[-1].level if out else None
            step, state = self._step(
                scheme,
                enterprise,
                world,
                index,
                day,
                kind,
                state,
                previous,
                anniversary=("anniversary" in kinds),
            )
            out.append(step)
            last_point = day
        return tuple(out), state

    def _step(
        self,
        scheme: Scheme,
        enterprise: Enterprise,
        world: World,
        index: _SetIndexes,
        day: dt.date,
        kind: PointKind,
        state: FoldState,
        previous: int | None,
        *,
        anniversary: bool = False,
    ) -> tuple[Step, FoldState]:
        assessment = self.assess(scheme, enterprise, world, day, index)
        policy = scheme.policy
        if kind == "review":
            state = replace(state, reviews=state.reviews + 1)
        else:
            state = replace(state, anchor=day, reviews=0)
        level, since = state.level, state.since
        hits: tuple[Hit, ...] = ()
        if level is None:
            if assessment.raw is None:
                step = Step(day, kind, assessment, None, None, None, Cause("ungraded"), None)
                return step, state
            level = assessment.raw
            floors = [h for h in assessment.floors if h.level is not None and h.level > level]
            if floors:
                level = max(h.level for h in floors if h.level is not None)
                hits = tuple(floors)
            state = replace(state, level=level, since=day, initial_on=day, clean_years=0)
            cause = Cause("initial_floor" if floors else "initial", levels=(_name(scheme, level),))
            return Step(day, kind, assessment, level, None, "initial", cause, day, hits), state
        raw = assessment.raw
        if isinstance(policy, YearlyPolicy):
            return self._yearly(scheme, policy, assessment, day, kind, state, previous, anniversary)
        if raw is None:
            return Step(
                day, kind, assessment, level, previous, "unchanged", Cause("unchanged"), since
            ), state
        if isinstance(policy, DirectPolicy):
            if raw == level:
                return Step(
                    day, kind, assessment, level, previous, "unchanged", Cause("unchanged"), since
                ), state
            transition: Transition = "worsened" if raw > level else "improved"
            state = replace(state, level=raw, since=day)
            cause = Cause("direct", levels=(_name(scheme, level), _name(scheme, raw)))
            return Step(day, kind, assessment, raw, previous, transition, cause, day), state
        assert isinstance(policy, HysteresisPolicy)
        if raw > level:
            state = replace(state, level=raw, since=day)
            cause = Cause("worsened", levels=(_name(scheme, level), _name(scheme, raw)))
            return Step(day, kind, assessment, raw, previous, "worsened", cause, day), state
        if raw == level:
            return Step(
                day, kind, assessment, level, previous, "unchanged", Cause("unchanged"), since
            ), state
        adverse = assessment.members.get(policy.clean, ())
        stood = policy.stood.to_duration()
        assert since is not None
        stood_enough = since <= stood.before(day)
        if adverse or not stood_enough:
            levels = (_name(scheme, level), _name(scheme, raw))
            ready = earliest_on_or_after(since, stood)
            blockers: list[Hit] = []
            if adverse:
                ids = tuple(r.id for r in adverse)
                held_by_adverse = Cause(
                    "held_adverse", dates=(adverse[-1].date, ready), evidence=ids, levels=levels
                )
                blockers.append(
                    Hit("regrade.held.adverse", policy.text, None, ids, cause=held_by_adverse)
                )
            if not stood_enough:
                held_by_time = Cause("held_stood", dates=(since, ready), levels=levels)
                blockers.append(
                    Hit("regrade.held.stood", policy.text, None, (), cause=held_by_time)
                )
            first_cause = blockers[0].cause
            assert first_cause is not None
            cause = first_cause
            return Step(
                day, kind, assessment, level, previous, "held", cause, since, tuple(blockers)
            ), state
        new_level = max(raw, level - policy.steps)
        state = replace(state, level=new_level, since=day)
        cause = Cause("improved", levels=(_name(scheme, level), _name(scheme, new_level)))
        return Step(day, kind, assessment, new_level, previous, "improved", cause, day), state

    def _yearly(
        self,
        scheme: Scheme,
        policy: YearlyPolicy,
        assessment: Assessment,
        day: dt.date,
        kind: PointKind,
        state: FoldState,
        previous: int | None,
        anniversary: bool,
    ) -> tuple[Step, FoldState]:
        level = state.level
        assert level is not None
        if not anniversary or state.initial_on is None or day <= state.initial_on:
            cause = Cause("yearly_wait", number=state.clean_years)
            return Step(
                day,
                kind,
                assessment,
                level,
                previous,
                "unchanged",
                cause,
                state.since,
                clean_years=state.clean_years,
            ), state
        triggers = assessment.members.get(policy.trigger, ())
        worst = len(scheme.levels) - 1
        if triggers:
            new = min(worst, level + policy.raise_levels)
            hit = Hit("regrade.yearly.trigger", policy.text, None, tuple(r.id for r in triggers))
            state = replace(
                state, level=new, since=day if new != level else state.since, clean_years=0
            )
            transition: Transition = "worsened" if new != level else "unchanged"
            cause = Cause(
                "yearly_raise",
                dates=(day,),
                evidence=hit.evidence,
                levels=(_name(scheme, level), _name(scheme, new)),
                number=policy.raise_levels,
            )
            return Step(
                day, kind, assessment, new, previous, transition, cause, state.since, (hit,), 0
            ), state
        clean = state.clean_years + 1
        if clean >= policy.clean_years:
            new = max(0, level - policy.lower_steps)
            state = replace(
                state, level=new, since=day if new != level else state.since, clean_years=0
            )
            transition = "improved" if new != level else "unchanged"
            cause = Cause(
                "yearly_lower",
                dates=(day,),
                levels=(_name(scheme, level), _name(scheme, new)),
                number=clean,
            )
            hit = Hit("regrade.yearly.clean", policy.text, None, (), detail=str(clean))
            return Step(
                day, kind, assessment, new, previous, transition, cause, state.since, (hit,), 0
            ), state
        state = replace(state, clean_years=clean)
        cause = Cause("yearly_clean", dates=(day,), number=clean)
        hit = Hit("regrade.yearly.clean", policy.text, None, (), detail=str(clean))
        return Step(
            day, kind, assessment, level, previous, "unchanged", cause, state.since, (hit,), clean
        ), state

    # -- the rules at one date -------------------------------------------------------------
    def _matcher(self, scheme: Scheme, scope: Mapping[str, object]) -> Matcher:
        """Return the test of the scheme's conditions against one date's ``scope``.

        :meth:`assess` asks it about condition terms (``scope`` without ``score``) and then about
        rules (``scope`` with ``score``). Here each condition is evaluated when asked; an engine
        that matches conditions elsewhere (``riskgrade.durable``) overrides this and must agree.
        """

        def holds(rule: RuleC | ConditionTermC) -> bool:
            return rule.when.evaluate(scope) is True

        return holds

    def assess(
        self,
        scheme: Scheme,
        enterprise: Enterprise,
        world: World,
        t: dt.date,
        index: _SetIndexes | None = None,
    ) -> Assessment:
        """Apply the scheme's sets, scores and rules at ``t`` (no hysteresis)."""
        index = index or _SetIndexes(scheme, world)
        members = {name: idx.at(t, world) for name, idx in index.sets.items()}
        attributes = dict(enterprise.attributes)
        scores: dict[str, Decimal] = {}
        hits_by_score: dict[str, list[Hit]] = {}
        base_scope: dict[str, object] = {**members, "attributes": attributes}
        term_holds = self._matcher(scheme, base_scope)
        for name, score in scheme.scores.items():
            value, hits = _score(score, members, attributes, term_holds, t)
            scores[name] = value
            hits_by_score[name] = hits
        scope = {**base_scope, "score": scores}
        holds = self._matcher(scheme, scope)
        reasons: list[Hit] = []
        unmet = None
        raw: int | None
        if scheme.requires is not None and not holds(scheme.requires):
            unmet = _hit(scheme.requires, members)
            raw = None
        elif scheme.band_tables:
            raw = 0
            used: list[str] = []
            for score_name, bands in scheme.band_tables:
                value = scores[score_name]
                level = next(b.level for b in bands if b.holds(value))
                raw = max(raw, level)
                if score_name not in used:
                    used.append(score_name)
            for score_name in used:
                # A term that read records is a reason even at 0 points: an FHRS rating of 5
                # from a 0/0/0 inspection must still name the inspection behind it.
                reasons.extend(h for h in hits_by_score[score_name] if h.points or h.evidence)
        else:
            raw = scheme.otherwise
            for level, rules in scheme.classes:
                holding = [_hit(r, members) for r in rules if holds(r)]
                if holding:
                    raw = level
                    reasons.extend(holding)
                    break
        if raw is not None:
            for rule in scheme.overrides:
                if holds(rule):
                    reasons.append(_hit(rule, members))
                    assert rule.level is not None
                    raw = max(raw, rule.level)
        floors = tuple(_hit(r, members) for r in scheme.floors if holds(r))
        flags: tuple[Hit, ...] = ()
        if raw is not None:
            flags = tuple(_flag_hit(r, members, hits_by_score) for r in scheme.flags if holds(r))
        reported = scores.get(scheme.reported_score) if scheme.reported_score else None
        return Assessment(
            date=t,
            raw=raw,
            score=reported if unmet is None else None,
            scores=scores,
            reasons=tuple(reasons),
            floors=floors,
            members=members,
            unmet=unmet,
            flags=flags,
        )

    # -- views built on replays ------------------------------------------------------------
    def timeline(
        self, enterprise: Enterprise, events: Iterable[Event], as_of: dt.date
    ) -> tuple[Step, ...]:
        """Return the re-grades as they were made at the time, up to ``as_of``.

        Each step is the last step of a replay as of its own date, so corrections show where
        they happened and decisions before them stay as they were.
        """
        ordered = sorted(events, key=lambda e: (e.date, e.id))
        all_dates = sorted({e.date for e in ordered if e.date <= as_of})
        if not all_dates:
            return (self.replay(enterprise, ordered, as_of).steps[-1],)
        out: list[Step] = []
        day = all_dates[0]
        while day <= as_of:
            replay = self.replay(enterprise, ordered, day)
            out.append(replay.steps[-1])
            upcoming: list[dt.date] = []
            j = bisect.bisect_right(all_dates, day)
            if j < len(all_dates):
                upcoming.append(all_dates[j])
            upcoming.extend(self._next_points(replay, day))
            if not upcoming:
                break
            day = min(upcoming)
        return tuple(out)

    def _next_points(self, replay: Replay, day: dt.date) -> list[dt.date]:
        """The next non-record re-grade point after ``day`` in a replay's world."""
        found = next_scheduled_point(replay.scheme, replay.state, day)
        return [] if found is None else [found]

    def resume(
        self,
        scheme: Scheme,
        enterprise: Enterprise,
        world: World,
        until: dt.date,
        state: FoldState,
        prior: tuple[Step, ...],
        *,
        after: dt.date | None,
    ) -> tuple[tuple[Step, ...], FoldState]:
        """Advance the policy from a saved ``state`` over the re-grade points in (after, until].

        The incremental path (the ledger): with ``after`` the date of the last point folded and
        ``state`` the state after it, the result equals a full :meth:`replay` as long as
        ``world`` holds no record dated on or before ``after`` that the saved state did not
        see. ``prior`` steps are returned in front of the new ones.
        """
        return self._fold(scheme, enterprise, world, until, state, prior, after=after)

    def outlook(self, replay: Replay, *, horizon_years: int = 10) -> Outlook:
        """Simulate future re-grades with no new records: when could the level improve?"""
        scheme = replay.scheme
        last = replay.steps[-1]
        if last.level is None or last.level == 0:
            return Outlook(None, None, (), None)
        blockers = tuple(last.assessment.reasons) + tuple(last.policy_hits)
        if last.kind == "as_of":
            # No record yet: each later date is assessed afresh on that date (PACKS.md), so
            # time alone never moves the level; only a first record can.
            return Outlook(None, None, blockers, None)
        # add_years, not date.replace: 29 February has no counterpart in most years.
        until = add_years(replay.as_of, min(horizon_years, 9000 - replay.as_of.year))
        steps, _ = self._fold(
            scheme,
            replay.enterprise,
            replay.world,
            until,
            replay.state,
            (last,),
            after=last.date,
            simulate=True,
        )
        for step in steps[1:]:
            if step.level is not None and step.level < last.level:
                return Outlook(_name(scheme, step.level), step.date, blockers, step.cause)
        return Outlook(None, None, blockers, None)


class _SetIndexes:
    """Every set of a scheme indexed over one world."""

    __slots__ = ("sets",)

    def __init__(self, scheme: Scheme, world: World) -> None:
        self.sets = {name: _SetIndex(compiled, world) for name, compiled in scheme.sets.items()}


def next_scheduled_point(scheme: Scheme, state: FoldState, after: dt.date) -> dt.date | None:
    """Return the first review or anniversary after ``after`` if no record intervenes."""
    found: list[dt.date] = []
    if state.anchor is not None:
        found.append(_times(scheme.review_every, state.reviews + 1).after(state.anchor))
    anniversary = _next_anniversary(scheme, state, after)
    if anniversary is not None:
        found.append(anniversary)
    return min(found) if found else None


def _times(duration: Duration, n: int) -> Duration:
    return Duration(duration.years * n, duration.months * n, duration.days * n)


def _next_anniversary(scheme: Scheme, state: FoldState, after: dt.date | None) -> dt.date | None:
    policy = scheme.policy
    if not isinstance(policy, YearlyPolicy) or state.initial_on is None:
        return None
    start = max(state.initial_on, after) if after is not None else state.initial_on
    month, day = (int(x) for x in policy.anniversary.split("-"))
    # The compiler checked MM-DD against a common year, so every year has this day.
    candidate = dt.date(start.year, month, day)
    if candidate <= start:
        candidate = dt.date(start.year + 1, month, day)
    return candidate


def _name(scheme: Scheme, level: int | None) -> str:
    return "-" if level is None else scheme.levels[level]


def _evidence(sets: Iterable[str], members: Mapping[str, tuple[Rec, ...]]) -> tuple[str, ...]:
    chosen: dict[str, Rec] = {}
    for name in sets:
        for rec in members.get(name, ()):
            chosen[rec.id] = rec
    return tuple(r.id for r in sorted(chosen.values(), key=lambda r: (r.date, r.id)))


def _hit(rule: RuleC, members: Mapping[str, tuple[Rec, ...]]) -> Hit:
    return Hit(
        rule.rule, rule.text, None, _evidence(sorted(rule.when.sets), members), level=rule.level
    )


def _flag_hit(
    rule: RuleC, members: Mapping[str, tuple[Rec, ...]], hits_by_score: Mapping[str, list[Hit]]
) -> Hit:
    """A flag's evidence: its sets' records and, when it reads ``score``, the scores' records."""
    evidence = list(_evidence(sorted(rule.when.sets), members))
    if "score" in rule.when.names:
        for hits in hits_by_score.values():
            for hit in hits:
                evidence.extend(e for e in hit.evidence if e not in evidence)
    return Hit(rule.rule, rule.text, None, tuple(evidence))


def _score(
    score: ScoreC,
    members: Mapping[str, tuple[Rec, ...]],
    attributes: Mapping[str, object],
    holds: Matcher,
    t: dt.date,
) -> tuple[Decimal, list[Hit]]:
    total = Decimal(0)
    hits: list[Hit] = []
    for term in score.terms:
        if isinstance(term, EachTermC):
            records = members[term.set]
            if term.pick == "latest":
                records = records[-1:]
            elif term.pick == "earliest":
                records = records[:1]
            points = Decimal(0)
            evidence: list[str] = []
            for rec in records:
                if isinstance(term.points, Decimal):
                    base = term.points
                else:
                    value = term.points.evaluate(rec.data)
                    if not isinstance(value, Decimal):
                        msg = f"points {term.points.source!r} gave no number for record {rec.id}"
                        raise EvaluationError(msg, rule=term.rule, event=rec.id)
                    base = value
                weight = term.weight.weight(rec.date, t) if term.weight is not None else Decimal(1)
                if weight == 0:
                    continue
                points += base * weight
                evidence.append(rec.id)
            if term.cap is not None and points > term.cap:
                points = term.cap
            total += points
            hits.append(Hit(term.rule, term.text, points, tuple(evidence)))
        elif isinstance(term, AttributeTermC):
            value = attributes.get(term.attribute)
            values = (
                list(value) if isinstance(value, tuple | list) else [] if value is None else [value]
            )
            known = [term.points[v] for v in values if isinstance(v, str) and v in term.points]
            if known and len(known) == len(values):
                points = max(known)
            else:
                if term.otherwise is None:
                    msg = f"attribute {term.attribute!r} has no points for {value!r}"
                    raise EvaluationError(msg, rule=term.rule)
                points = max([term.otherwise, *known])
            detail = ", ".join(str(v) for v in values) if values else None
            total += points
            hits.append(Hit(term.rule, term.text, points, (), detail=detail))
        else:
            assert isinstance(term, ConditionTermC)
            if holds(term):
                total += term.points
                hits.append(
                    Hit(
                        term.rule,
                        term.text,
                        term.points,
                        _evidence(sorted(term.when.sets), members),
                    )
                )
    return total, hits
