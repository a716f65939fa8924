"""The evaluator against an independent, naive reading of PACKS.md (``zhuji_reference``), on
generated zhuji histories: level, raw level, score, re-grade point, transition and the next
inspection due must all agree.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings

import zhuji_reference as reference
from riskgrade import Grader
from strategies import Case, cases, one_enterprise
from zhuji_support import PACK

AGREE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GRADER = Grader(PACK)


def decide(case: Case) -> tuple[object, ...]:
    enterprise, history = one_enterprise(case.enterprise, case.events)
    decision = GRADER.decide(enterprise, history, case.as_of)
    assert decision.treatment is not None
    return (
        decision.level,
        decision.raw_level,
        decision.score,
        decision.assessed_on,
        decision.treatment.next_inspection_due,
        decision.transition,
        decision.previous_level,
    )


@AGREE
@given(cases())
def test_evaluator_agrees_with_the_reference(case: Case) -> None:
    expected = reference.grade(case.enterprise, case.events, case.as_of)
    actual = decide(case)
    wanted: tuple[object, ...] = (
        expected.level,
        expected.raw,
        expected.score,
        expected.assessed_on,
        expected.next_inspection_due,
    )
    if expected.corrections_on_last:
        # On a correction's date the transition is judged against the level that stood the
        # day before (next test), not against the replay.
        actual = actual[:5]
    else:
        wanted = (*wanted, expected.transition, expected.previous)
    assert wanted == actual


@AGREE
@given(cases())
def test_correction_that_changes_the_level_is_corrected_from_the_level_that_stood(
    case: Case,
) -> None:
    expected = reference.grade(case.enterprise, case.events, case.as_of)
    day_before = expected.assessed_on - dt.timedelta(days=1)
    earlier = [e for e in case.events if reference.date_of(e) <= day_before]
    if not (expected.corrections_on_last and earlier):
        return
    stood = reference.grade(case.enterprise, case.events, day_before).level
    if stood == expected.level:
        return
    level, _, _, _, _, transition, previous = decide(case)
    assert (expected.level, "corrected", stood) == (level, transition, previous)
