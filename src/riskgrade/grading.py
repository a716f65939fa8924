"""Grading: the operations integrators call (CONTRACT.md's ``grade`` and ``explain``).

A :class:`Grader` holds one compiled pack and one evaluator; it has no other state, so one
grader may serve many threads and calls. Evaluators are chosen by name (``python`` is the
native one; others are added by their own modules and must give identical decisions).
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from riskgrade.compiled import RulePack
from riskgrade.decisions import Decision, Lang, decision_from_step
from riskgrade.errors import InputError
from riskgrade.evaluation import Evaluator, Outlook, Replay, Step
from riskgrade.records import Enterprise, Event, RecordSet

__all__ = ["ENGINES", "Explanation", "Grader", "make_evaluator"]

#: The evaluators a Grader can use: name → ``module:callable`` taking the compiled pack. Each
#: must give decisions identical to the native one; an evaluator that grades whole populations
#: at once also offers ``grade_records(records, as_of, lang, progress)``.
ENGINES: Mapping[str, str] = MappingProxyType(
    {
        "python": "riskgrade.evaluation:Evaluator",
        "durable": "riskgrade.durable:DurableEvaluator",
        "numpy": "riskgrade.batch:BatchEvaluator",
        "auto": "riskgrade.batch:AutoEvaluator",
    }
)


def make_evaluator(pack: RulePack, engine: str = "python") -> Evaluator:
    """Return the evaluator called ``engine`` for ``pack``.

    Raises :class:`InputError` for an unknown name and
    :class:`~riskgrade.errors.EngineUnavailableError` when its optional extra is missing.
    """
    if engine not in ENGINES:
        msg = f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}"
        raise InputError(msg, field="engine", suggestion=None)
    module_name, _, attribute = ENGINES[engine].partition(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    evaluator: Evaluator = factory(pack)
    return evaluator


@dataclass(frozen=True)
class Explanation:
    """A decision with its timeline of re-grades and its outlook, for a person to read."""

    decision: Decision
    timeline: tuple[Decision, ...]
    outlook: Outlook
    replay: Replay

    def render(self, lang: Lang = "en") -> str:
        """Render as text in English or Chinese."""
        from riskgrade.explain import render_explanation

        return render_explanation(self, lang)


class Grader:
    """Grade enterprises under one rule pack.

    ``engine`` names the evaluator (see :data:`ENGINES`); ``lang`` the language of the texts in
    decisions (``en`` or ``zh``).
    """

    def __init__(self, pack: RulePack, *, engine: str = "python", lang: Lang = "en") -> None:
        if lang not in ("en", "zh"):
            msg = f"unknown language {lang!r}; choose en or zh"
            raise InputError(msg, field="lang")
        self.pack = pack
        self.engine = engine
        self.lang: Lang = lang
        self.evaluator = make_evaluator(pack, engine)

    def decide(self, enterprise: Enterprise, events: Iterable[Event], as_of: dt.date) -> Decision:
        """Return the grade of one enterprise as of ``as_of`` from its records.

        Records dated after ``as_of`` are ignored; their order does not matter. The decision's
        :meth:`~riskgrade.Decision.explain` renders its timeline on demand.
        """
        history = tuple(events)
        self.pack.scheme_for(enterprise).check_enterprise(enterprise)
        replay = self._replay(enterprise, history, as_of)
        decision = decision_from_step(replay, replay.steps[-1], self.pack.ref, self.lang)
        decision._explainer = lambda lang: self.explain(enterprise, history, as_of).render(lang)
        return decision

    def grade(self, records: RecordSet, as_of: dt.date) -> list[Decision]:
        """Return one decision per enterprise, in the records' input order."""
        return list(self.iter_grade(records, as_of))

    def iter_grade(
        self,
        records: RecordSet,
        as_of: dt.date,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> Iterator[Decision]:
        """Yield decisions one enterprise at a time (for streaming output and progress bars)."""
        batch = getattr(self.evaluator, "grade_records", None)
        if batch is not None:
            yield from batch(records, as_of, self.lang, progress)
            return
        for count, enterprise in enumerate(records.enterprises, start=1):
            yield self.decide(enterprise, records.events_of(enterprise.id), as_of)
            if progress is not None:
                progress(count)

    def explain(
        self, enterprise: Enterprise, events: Iterable[Event], as_of: dt.date
    ) -> Explanation:
        """Return the decision with its timeline of re-grades and its outlook."""
        history = tuple(events)
        replay = self._replay(enterprise, history, as_of)
        decision = decision_from_step(replay, replay.steps[-1], self.pack.ref, self.lang)
        steps = self.evaluator.timeline(enterprise, history, as_of)
        timeline = tuple(self._at_time(enterprise, history, step) for step in steps)
        outlook = self.evaluator.outlook(replay)
        return Explanation(decision, timeline, outlook, replay)

    def _at_time(self, enterprise: Enterprise, history: tuple[Event, ...], step: Step) -> Decision:
        replay = self._replay(enterprise, history, step.date)
        return decision_from_step(replay, replay.steps[-1], self.pack.ref, self.lang)

    def _replay(self, enterprise: Enterprise, history: tuple[Event, ...], as_of: dt.date) -> Replay:
        return self.evaluator.replay(enterprise, history, as_of)
