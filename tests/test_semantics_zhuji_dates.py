"""Dates, windows, recency weights, 29 February and re-grade points (PACKS.md, "Common semantics").

Window at t: t - 3y < date ≤ t. Last 12 months: t - 1y < date ≤ t. Weights: 1.0 in the last
year, 0.6 in the one before, 0.3 in the third. "n years before t" keeps month and day, with
29 February becoming 28 February.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from riskgrade.testing import explain_one
from zhuji_support import PACK, History, T, d, decide, food, industry, raw_at, timeline

# --- recency weights at their edges (failed quality check: 8 × w, plus 5 for packaged) -------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2010-06-15", "13"),  # t itself: 1.0
        ("2009-06-16", "13"),  # t − 1y + 1 day: 1.0
        ("2009-06-15", "9.8"),  # t − 1y exactly: 0.6
        ("2008-06-16", "9.8"),  # t − 2y + 1 day: 0.6
        ("2008-06-15", "7.4"),  # t − 2y exactly: 0.3
        ("2007-06-16", "7.4"),  # t − 3y + 1 day: 0.3, still in the window
        ("2007-06-15", "5"),  # t − 3y exactly: out of the window
    ],
)
def test_recency_weight_of_a_failed_check_at_the_edges(day: str, expected: str) -> None:
    assert Decimal(expected) == raw_at(food(), History().failed_check(d(day))).score


# --- the 3-year window for rules that count or test existence -------------------------------


def test_incident_exactly_3_years_back_is_out_of_the_window() -> None:
    assert "low" == raw_at(food(), History().incident(d("2007-06-15"))).raw_level


def test_incident_3_years_less_a_day_back_is_in_the_window() -> None:
    assert "high" == raw_at(food(), History().incident(d("2007-06-16"))).raw_level


def test_suspension_exactly_3_years_back_is_out_of_the_industry_window() -> None:
    history = History().passed_check(T).enforcement(d("2007-06-15"), "suspension")
    history.passed_check(d("2010-01-10"))
    assert "A" == raw_at(industry(), history).raw_level


def test_suspension_3_years_less_a_day_back_is_in_the_industry_window() -> None:
    history = History().passed_check(T).enforcement(d("2007-06-16"), "suspension")
    history.passed_check(d("2010-01-10"))
    assert "D" == raw_at(industry(), history).raw_level


def test_record_dated_after_t_is_not_in_the_window() -> None:
    history = History().passed_check(T).incident(T + dt.timedelta(days=1))
    assert "low" == decide(food(), history, T).raw_level


# --- 29 February ----------------------------------------------------------------------------

LEAP_T = dt.date(2012, 2, 29)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2011-03-01", "13"),  # after t − 1y = 2011-02-28: 1.0
        ("2011-02-28", "9.8"),  # t − 1y is 28 February: 0.6
        ("2010-03-01", "9.8"),  # after t − 2y = 2010-02-28: 0.6
        ("2010-02-28", "7.4"),  # t − 2y: 0.3
        ("2009-03-01", "7.4"),  # after t − 3y = 2009-02-28: in the window
        ("2009-02-28", "5"),  # t − 3y: out of the window
    ],
)
def test_years_before_29_february_end_on_28_february(day: str, expected: str) -> None:
    history = History().failed_check(d(day))
    assert Decimal(expected) == raw_at(food(), history, LEAP_T).score


def test_record_of_29_february_is_in_the_window_on_28_february_3_years_on() -> None:
    # t = 2011-02-28: t − 3y = 2008-02-28 < 2008-02-29, third year: 0.3.
    history = History().failed_check(d("2008-02-29"))
    assert Decimal("7.4") == raw_at(food(), history, d("2011-02-28")).score


def test_record_of_29_february_is_out_of_the_window_on_1_march_3_years_on() -> None:
    history = History().failed_check(d("2008-02-29"))
    assert Decimal("5") == raw_at(food(), history, d("2011-03-01")).score


def test_record_of_29_february_is_within_12_months_on_28_february_next_year() -> None:
    # t = 2009-02-28: t − 1y = 2008-02-28 < 2008-02-29: weight 1.0.
    history = History().failed_check(d("2008-02-29"))
    assert Decimal("13") == raw_at(food(), history, d("2009-02-28")).score


def test_periodic_reviews_after_29_february_fall_on_28_february_and_29_in_leap_years() -> None:
    # last point + 1y, + 2y, … : 2009-02-28, 2010-02-28, 2011-02-28 and 2012-02-29.
    expected = [
        d("2008-02-29"),
        d("2009-02-28"),
        d("2010-02-28"),
        d("2011-02-28"),
        d("2012-02-29"),
    ]
    steps = timeline(food(), History().passed_check(d("2008-02-29")), d("2012-06-01"))
    assert expected == [day for day, _, _ in steps]


def test_as_of_29_february_is_a_valid_grading_date() -> None:
    decision = decide(food(), History().passed_check(d("2011-02-28")), LEAP_T)
    assert (d("2012-02-28"), "low") == (decision.assessed_on, decision.level)


# --- re-grade points ------------------------------------------------------------------------


def test_grade_as_of_t_is_set_at_the_last_record_date_before_t() -> None:
    history = History().passed_check(d("2009-10-01")).complaint(d("2010-01-10"))
    assert d("2010-01-10") == decide(food(), history, T).assessed_on


def test_periodic_review_12_months_after_the_last_record() -> None:
    decision = decide(food(), History().passed_check(d("2009-01-10")), T)
    assert d("2010-01-10") == decision.assessed_on


def test_periodic_reviews_repeat_every_year_while_no_record_intervenes() -> None:
    steps = timeline(food(), History().passed_check(d("2007-01-10")), T)
    expected = [d("2007-01-10"), d("2008-01-10"), d("2009-01-10"), d("2010-01-10")]
    assert expected == [day for day, _, _ in steps]


def test_a_record_restarts_the_review_cycle() -> None:
    history = History().passed_check(d("2008-01-10")).complaint(d("2008-09-01"))
    steps = timeline(food(), history, T)
    assert [d("2008-01-10"), d("2008-09-01"), d("2009-09-01")] == [day for day, _, _ in steps]


def test_review_falling_on_the_as_of_date_counts() -> None:
    decision = decide(food(), History().passed_check(d("2009-06-15")), T)
    assert T == decision.assessed_on


def test_review_after_the_as_of_date_does_not_count() -> None:
    decision = decide(food(), History().passed_check(d("2009-06-15")), d("2010-06-14"))
    assert d("2009-06-15") == decision.assessed_on


def test_records_of_one_day_are_applied_together_in_one_regrade() -> None:
    # A failed check then a passed one the same day: applied one by one, the failed check
    # alone would meet the no-history floor (medium); together the day starts low.
    history = History().failed_check(d("2010-01-10"), id="A").passed_check(d("2010-01-10"), id="B")
    steps = timeline(food(), history, d("2010-01-10"))
    assert [(d("2010-01-10"), "low", "initial")] == steps


def test_enterprise_without_records_is_assessed_at_the_as_of_date() -> None:
    decision = decide(food(), History(), T)
    assert (T, "initial") == (decision.assessed_on, decision.transition)


def test_enterprise_with_records_only_after_t_is_assessed_at_t() -> None:
    history = History().passed_check(T + dt.timedelta(days=1))
    decision = decide(food(), history, T)
    assert (T, "medium", "initial") == (decision.assessed_on, decision.level, decision.transition)


def test_first_record_date_is_the_initial_assessment() -> None:
    history = History().passed_check(d("2009-01-10")).complaint(d("2009-05-01"))
    steps = timeline(food(), history, d("2009-05-01"))
    assert [(d("2009-01-10"), "low", "initial"), (d("2009-05-01"), "low", "unchanged")] == steps


def test_regression_explain_as_of_29_february_below_the_best_level() -> None:
    # Broke: the outlook computed "as_of + 10 years" with date.replace(year=...), which has no
    # 29 February in 2018 (ValueError).
    explanation = explain_one(PACK, food(), History(), LEAP_T)
    assert (LEAP_T, "medium") == (explanation.decision.assessed_on, explanation.decision.level)


def test_inspection_due_12_months_after_29_february_is_28_february() -> None:
    decision = decide(food(), History().passed_check(d("2008-02-29")), d("2008-06-01"))
    assert decision.treatment is not None
    assert d("2009-02-28") == decision.treatment.next_inspection_due
