"""Laws of grading over generated histories (zhuji): what must hold for every input.

Arrival order does not matter; adding an adverse record never improves the grade at its date;
identical input gives identical bytes; records after T do not change the grade as of T; the
grade as of T is the level of the last re-grade point ≤ T in the timeline; decisions do not
depend on which Grader made them.
"""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskgrade import Decision, Grader, load_pack
from riskgrade.dates import add_years
from riskgrade.testing import dates, histories
from strategies import (
    ADVERSE_KINDS,
    Case,
    adverse_events,
    as_of_dates,
    build,
    cases,
    one_enterprise,
    zhuji_enterprises,
    zhuji_populations,
)
from zhuji_support import PACK, ROOT

# Each property runs in a few seconds; together well under a minute.
LAW = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
GRADER = Grader(PACK)


def grade(case: Case, events: list[dict[str, object]] | None = None) -> Decision:
    enterprise, history = one_enterprise(case.enterprise, case.events if events is None else events)
    return GRADER.decide(enterprise, history, case.as_of)


def rank(decision: Decision) -> int:
    """The level's position from best (0) to worst; an ungraded decision ranks lowest."""
    levels = PACK.schemes[decision.scheme].levels
    return -1 if decision.level is None else levels.index(decision.level)


@LAW
@given(case=cases(), seed=st.integers(0, 2**32 - 1))
def test_arrival_order_of_records_does_not_matter(case: Case, seed: int) -> None:
    shuffled = list(case.events)
    random.Random(seed).shuffle(shuffled)
    assert grade(case).to_json() == grade(case, shuffled).to_json()


@LAW
@given(case=cases(), seed=st.integers(0, 2**32 - 1))
def test_order_of_events_given_to_decide_does_not_matter(case: Case, seed: int) -> None:
    enterprise, history = one_enterprise(case.enterprise, case.events)
    shuffled = list(history)
    random.Random(seed).shuffle(shuffled)
    expected = GRADER.decide(enterprise, history, case.as_of).to_json()
    assert expected == GRADER.decide(enterprise, shuffled, case.as_of).to_json()


@st.composite
def with_adverse(draw: st.DrawFn) -> tuple[Case, dict[str, object]]:
    case = draw(cases())
    days = [dt.date.fromisoformat(str(e["date"])) for e in case.events]
    day = draw(
        st.one_of(
            st.sampled_from(days) if days else st.just(case.as_of),
            dates(add_years(case.as_of, -4), case.as_of),
        )
    )
    adverse = draw(
        adverse_events(str(case.enterprise["id"]), day=day, event_id="ADVERSE", kinds=ADVERSE_KINDS)
    )
    return Case(case.enterprise, case.events, day), adverse


@LAW
@given(with_adverse())
def test_adding_an_adverse_record_never_improves_the_grade_at_its_date(
    drawn: tuple[Case, dict[str, object]],
) -> None:
    case, adverse = drawn  # case.as_of is the adverse record's date
    without = grade(case)
    with_it = grade(case, [*case.events, adverse])
    assert rank(with_it) >= rank(without), (without.to_json(), with_it.to_json())


@LAW
@given(case=cases())
def test_identical_input_gives_identical_bytes(case: Case) -> None:
    assert grade(case).to_json().encode() == grade(case).to_json().encode()


@st.composite
def with_later_records(draw: st.DrawFn) -> tuple[Case, list[dict[str, object]]]:
    case = draw(cases())
    after = dates(case.as_of + dt.timedelta(days=1), add_years(case.as_of, 2))
    later = draw(histories(str(case.enterprise["id"]), dates=after, max_size=4, id_prefix="L"))
    # Corrections after T of records dated on or before T.
    known = [e for e in case.events if dt.date.fromisoformat(str(e["date"])) <= case.as_of]
    targets = draw(st.lists(st.sampled_from(known), max_size=2)) if known else []
    for n, target in enumerate(targets):
        kind = "recheck" if target.get("result") == "fail" and draw(st.booleans()) else "void"
        correction: dict[str, object] = {
            "id": f"LC-{n}",
            "enterprise_id": case.enterprise["id"],
            "date": draw(after).isoformat(),
            "type": kind,
            "of": target["id"],
        }
        if kind == "void":
            correction["reason"] = "recorded in error"
        else:
            correction["result"] = "overturned"
        later.append(correction)
    return case, later


@LAW
@given(with_later_records())
def test_records_after_t_do_not_change_the_grade_as_of_t(
    drawn: tuple[Case, list[dict[str, object]]],
) -> None:
    case, later = drawn
    assert grade(case).to_json() == grade(case, [*case.events, *later]).to_json()


@settings(LAW, max_examples=50)
@given(case=cases(max_size=6))
def test_grade_as_of_t_is_the_level_of_the_last_regrade_point_in_the_timeline(case: Case) -> None:
    enterprise, history = one_enterprise(case.enterprise, case.events)
    explanation = GRADER.explain(enterprise, history, case.as_of)
    last = explanation.timeline[-1]
    assert (last.assessed_on, last.level) == (
        explanation.decision.assessed_on,
        explanation.decision.level,
    )


@settings(LAW, max_examples=50)
@given(case=cases(max_size=6))
def test_timeline_points_are_increasing_and_not_after_t(case: Case) -> None:
    enterprise, history = one_enterprise(case.enterprise, case.events)
    days = [step.assessed_on for step in GRADER.explain(enterprise, history, case.as_of).timeline]
    assert (sorted(set(days)), True) == (days, days[-1] <= case.as_of)


OTHER_PACK = load_pack(ROOT / "rules" / "zhuji")


@LAW
@given(case=cases())
def test_decisions_are_the_same_from_any_grader(case: Case) -> None:
    enterprise, history = one_enterprise(case.enterprise, case.events)
    first = Grader(PACK).decide(enterprise, history, case.as_of).to_json()
    assert first == Grader(OTHER_PACK).decide(enterprise, history, case.as_of).to_json()


@settings(LAW, max_examples=30)
@given(as_of=as_of_dates(), data=st.data())
def test_grading_a_population_equals_grading_each_enterprise(
    as_of: dt.date, data: st.DataObject
) -> None:
    enterprises, events = data.draw(zhuji_populations(as_of))
    records = build(enterprises, events)
    one_by_one = [
        GRADER.decide(e, records.events_of(e.id), as_of).to_json() for e in records.enterprises
    ]
    assert one_by_one == [decision.to_json() for decision in GRADER.grade(records, as_of)]


@LAW
@given(enterprise=zhuji_enterprises, as_of=as_of_dates())
def test_enterprise_without_records_is_graded_at_t(
    enterprise: dict[str, object], as_of: dt.date
) -> None:
    decision = grade(Case(enterprise, [], as_of))
    assert (as_of, "initial") == (decision.assessed_on, decision.transition)


@settings(LAW, max_examples=50)
@given(case=cases(max_size=6))
def test_outlook_date_is_when_the_grade_improves_if_nothing_new_happens(case: Case) -> None:
    known = [e for e in case.events if dt.date.fromisoformat(str(e["date"])) <= case.as_of]
    enterprise, history = one_enterprise(case.enterprise, known)
    explanation = GRADER.explain(enterprise, history, case.as_of)
    outlook = explanation.outlook
    if outlook.earliest is None:
        return
    before = GRADER.decide(enterprise, history, outlook.earliest - dt.timedelta(days=1))
    on = GRADER.decide(enterprise, history, outlook.earliest)
    assert (explanation.decision.level, outlook.better_level) == (before.level, on.level)
