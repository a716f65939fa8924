"""The ledger's re-grading engine: decisions at every re-grade point of a range, resumed from a
stored fold state, each equal to the pure grading function at its date.

The grade as of P is ``replay(pack in force at P, enterprise, records dated <= P, P)``. Replaying
from the start for every new record would cost the whole history each time; instead the policy
fold is resumed from the state stored with the last decision that still stands. That is exact
as long as the world the fold sees is the world of each point, which holds between two
*cuts*:

* a correction (void, recheck) at date c rewrites history from c on, so the point c is computed
  by a full replay at c (which also labels the step ``corrected``) and points before c must not
  see it;
* a pack version taking effect at E changes the rules, so the state is rebuilt by replaying the
  new pack up to the day before E.

Between cuts only new facts are added, and a fold over a world that also holds records dated
after a point assesses that point exactly as the world of the point would (every set, weight
and overdue test looks only at records dated on or before it).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

from riskgrade.compiled import RulePack
from riskgrade.decisions import Decision, Lang, decision_from_step
from riskgrade.errors import InputError
from riskgrade.evaluation import (
    Assessment,
    Cause,
    Evaluator,
    FoldState,
    Replay,
    Step,
    World,
    next_scheduled_point,
)
from riskgrade.records import CORRECTION_TYPES, Enterprise, Event

__all__ = ["Base", "PackSchedule", "Point", "rebase", "regrade"]

ONE_DAY = dt.timedelta(days=1)


class PackSchedule:
    """The compiled pack versions by the date each takes effect.

    ``versions`` are ``(effective, pack)`` in the order they were added; of two versions taking
    effect on the same day the later added wins.
    """

    def __init__(self, versions: Sequence[tuple[dt.date, RulePack]]) -> None:
        by_date: dict[dt.date, RulePack] = {}
        for effective, pack in versions:
            by_date[effective] = pack
        self.dates: tuple[dt.date, ...] = tuple(sorted(by_date))
        self.packs: tuple[RulePack, ...] = tuple(by_date[day] for day in self.dates)
        self._evaluators = MappingProxyType(
            {pack.ref.digest: Evaluator(pack) for pack in by_date.values()}
        )

    def at(self, day: dt.date) -> RulePack:
        """Return the pack in force on ``day``; ``InputError`` when none is yet."""
        index = bisect.bisect_right(self.dates, day) - 1
        if index < 0:
            first = self.dates[0].isoformat() if self.dates else "never"
            msg = f"no rule pack is in force on {day.isoformat()} (the first takes effect {first})"
            raise InputError(msg, field="date")
        return self.packs[index]

    def evaluator(self, pack: RulePack) -> Evaluator:
        """Return the (shared, stateless) evaluator of a scheduled pack."""
        return self._evaluators[pack.ref.digest]

    def switches(self, after: dt.date | None, until: dt.date) -> set[dt.date]:
        """Return the days in (after, until] on which one version replaces another."""
        return {day for day in self.dates[1:] if (after is None or day > after) and day <= until}


@dataclass(frozen=True)
class Base:
    """A stored decision that stands: its re-grade point and the fold state after it."""

    date: dt.date
    state: FoldState


@dataclass(frozen=True)
class Point:
    """One re-grade point's decision, the fold state after it and when the next review is due.

    ``floating_due`` is true when no record fixes the next inspection's due date yet, so that
    as of any later date the inspection is due on that date itself.
    """

    date: dt.date
    kind: str
    decision: Decision
    state: FoldState
    pack: RulePack
    next_point: dt.date | None
    floating_due: bool


def rebase(decision: Decision, as_of: dt.date, *, floating_due: bool) -> Decision:
    """Return a decision that stands at ``as_of`` (no re-grade point between) as of that date.

    Only ``as_of`` and the treatment's dates depend on the date itself: the next inspection is
    due at ``as_of`` while no record fixes it (``floating_due``), else on the date records set
    (none lie between the decision's point and ``as_of``), overdue once that has passed.
    """
    treatment = decision.treatment
    if treatment is not None:
        due = as_of if floating_due else treatment.next_inspection_due
        treatment = treatment.model_copy(
            update={"next_inspection_due": due, "overdue": due < as_of}
        )
    return decision.model_copy(update={"as_of": as_of, "treatment": treatment})


def _placeholder(day: dt.date, state: FoldState) -> Step:
    # The fold reads only the level of the step before the ones it adds (as ``previous``);
    # that level is the stored state's, so a stand-in step carries it.
    assessment = Assessment(
        date=day, raw=None, score=None, scores={}, reasons=(), floors=(), members={}
    )
    return Step(day, "record", assessment, state.level, None, None, Cause("resume"), state.since)


class _Run:
    """One re-grade of one enterprise over a range of dates."""

    def __init__(
        self, schedule: PackSchedule, enterprise: Enterprise, events: Sequence[Event], lang: Lang
    ) -> None:
        self.schedule = schedule
        self.enterprise = enterprise
        self.events = events
        self.lang: Lang = lang
        self.points: list[Point] = []

    def point(self, pack: RulePack, replay: Replay, step: Step, state: FoldState) -> None:
        scheme = replay.scheme
        decision = decision_from_step(replay, step, pack.ref, self.lang)
        upcoming = next_scheduled_point(scheme, state, step.date)
        # decisions.next_inspection_due: with no inspection or spot check yet, due "at T".
        floating = not any(
            rec.type in scheme.due_from and rec.date <= step.date for rec in replay.world.records
        )
        self.points.append(Point(step.date, step.kind, decision, state, pack, upcoming, floating))

    def segment(
        self, after: dt.date | None, end: dt.date, state: FoldState
    ) -> tuple[dt.date | None, FoldState]:
        """Fold the points in (after, end], where no cut falls; return the resume point."""
        world = World(self.events, end)
        if after is None and (not world.dates or world.dates[0] > end):
            return after, state  # nothing graded yet: keep starting from scratch
        if after is not None and end <= after:
            return after, state
        pack = self.schedule.at(end)
        evaluator = self.schedule.evaluator(pack)
        scheme = pack.scheme_for(self.enterprise)
        prior = () if after is None else (_placeholder(after, state),)
        steps, final = evaluator.resume(
            scheme, self.enterprise, world, end, state, prior, after=after
        )
        new = steps[len(prior) :]
        if new:
            self.schedule.at(new[0].date)  # raises when a point precedes the first pack
        # The fold returns only the state after its last point; each stored decision needs its
        # own (a late record resumes from it), so fold again point by point when there are several.
        current_after, current_state, current_prior = after, state, prior
        for index, step in enumerate(new):
            if index == len(new) - 1:
                step_state = final
            else:
                again, step_state = evaluator.resume(
                    scheme,
                    self.enterprise,
                    world,
                    step.date,
                    current_state,
                    current_prior,
                    after=current_after,
                )
                step = again[-1]
            replay = Replay(scheme, self.enterprise, world, step.date, (step,), step_state)
            self.point(pack, replay, step, step_state)
            current_after, current_state, current_prior = step.date, step_state, (step,)
        return end, final

    def full_replay(self, day: dt.date, pack: RulePack) -> tuple[dt.date | None, FoldState, Replay]:
        """Replay ``pack`` from the start up to ``day``; return the resume point and state."""
        replay = self.schedule.evaluator(pack).replay(self.enterprise, self.events, day)
        if replay.steps[-1].kind == "as_of":
            # Nothing graded on or before the day: the state must stay the empty one.
            return None, FoldState(), replay
        return day, replay.state, replay


def regrade(
    schedule: PackSchedule,
    enterprise: Enterprise,
    events: Sequence[Event],
    base: Base | None,
    until: dt.date,
    lang: Lang,
) -> list[Point]:
    """Return the decisions at the re-grade points in (base.date, until] (all, if no base).

    ``events`` are all of the enterprise's records (any order, later ones ignored per point).
    Each decision equals ``Grader(pack in force at its date).decide(enterprise, events, date)``.
    """
    ordered = sorted(events, key=lambda event: (event.date, event.id))
    run = _Run(schedule, enterprise, ordered, lang)
    after = None if base is None else base.date
    state = FoldState() if base is None else base.state
    corrections = {
        event.date
        for event in ordered
        if event.type in CORRECTION_TYPES
        and (after is None or event.date > after)
        and event.date <= until
    }
    for cut in sorted(corrections | schedule.switches(after, until)):
        after, state = run.segment(after, cut - ONE_DAY, state)
        if cut in corrections:
            # A correction rewrites history from its date: only a replay from the start is exact.
            pack = schedule.at(cut)
            after, state, replay = run.full_replay(cut, pack)
            last = replay.steps[-1]
            if after is not None and last.date == cut:
                run.point(pack, replay, last, replay.state)
        else:
            # A new pack version grades as if it had always been in force.
            after, state, _ = run.full_replay(cut - ONE_DAY, schedule.at(cut))
    run.segment(after, until, state)
    return run.points
