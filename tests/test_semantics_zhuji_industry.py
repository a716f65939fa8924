"""zhuji, scheme industry: classes A < B < C < D, the worst whose condition holds at t
(PACKS.md, "Scheme industry").

Each history starts from two passed spot checks in the window (so "fewer than 2 spot checks"
does not hold) unless the test is about that rule; the class is read as the raw level at a
re-grade point on T = 2010-06-15 (12 months: after 2009-06-15; 3 years: after 2007-06-15).
"""

from __future__ import annotations

import datetime as dt

import pytest

from zhuji_support import W03, W06, W10, History, T, d, decide, industry, raw_at


def checked() -> History:
    """Two passed spot checks in the window and the last 12 months: class A so far."""
    return History().passed_check(d("2010-01-10")).passed_check(d("2010-02-10"))


def test_two_passed_checks_and_nothing_else_is_class_a() -> None:
    assert "A" == raw_at(industry(), checked()).raw_level


# --- D --------------------------------------------------------------------------------------


@pytest.mark.parametrize("penalty", ["suspension", "revocation", "criminal_referral"])
def test_severe_enforcement_in_the_window_is_class_d(penalty: str) -> None:
    assert "D" == raw_at(industry(), checked().enforcement(W03, penalty)).raw_level


def test_counterfeit_enforcement_in_the_window_is_class_d() -> None:
    history = checked().enforcement(W03, "warning", counterfeit=True)
    assert "D" == raw_at(industry(), history).raw_level


def test_three_failed_checks_in_the_window_are_class_d() -> None:
    history = checked().failed_check(W03).failed_check(W06).failed_check(W10)  # 1 in 12 months
    assert "D" == raw_at(industry(), history).raw_level


def test_two_failed_checks_in_the_last_12_months_are_class_d() -> None:
    history = checked().failed_check(d("2009-06-16")).failed_check(W10)
    assert "D" == raw_at(industry(), history).raw_level


def test_failed_check_exactly_12_months_back_is_not_in_the_last_12_months() -> None:
    history = checked().failed_check(d("2009-06-15")).failed_check(W10)  # 2 in 3 years: C
    assert "C" == raw_at(industry(), history).raw_level


def test_failed_check_exactly_3_years_back_does_not_count() -> None:
    history = checked().failed_check(d("2007-06-15")).failed_check(W03).failed_check(W10)
    assert "C" == raw_at(industry(), history).raw_level  # 2 in the window


def test_failed_check_3_years_less_a_day_back_counts() -> None:
    history = checked().failed_check(d("2007-06-16")).failed_check(W03).failed_check(W10)
    assert "D" == raw_at(industry(), history).raw_level  # 3 in the window


def test_the_worst_class_whose_condition_holds_wins() -> None:
    history = checked().enforcement(W10, "fine").enforcement(W10, "suspension").complaint(W10)
    assert "D" == raw_at(industry(), history).raw_level  # C, D and B hold


# --- C --------------------------------------------------------------------------------------


def test_two_failed_checks_in_the_window_are_class_c() -> None:
    history = checked().failed_check(W03).failed_check(W10)
    assert "C" == raw_at(industry(), history).raw_level


@pytest.mark.parametrize("penalty", ["fine", "confiscation"])
def test_fine_or_confiscation_in_the_window_is_class_c(penalty: str) -> None:
    assert "C" == raw_at(industry(), checked().enforcement(W03, penalty)).raw_level


def test_overdue_inspection_rectification_is_class_c() -> None:
    history = checked().inspection(W10, "minor", deadline=d("2010-04-01"))
    assert "C" == raw_at(industry(), history).raw_level


def test_overdue_rectification_order_is_class_c() -> None:
    history = checked().enforcement(W06, "rectification_order", deadline=d("2009-04-01"))
    assert "C" == raw_at(industry(), history).raw_level  # B for the order, C for the overdue


def test_rectified_inspection_is_not_class_c() -> None:
    history = (
        checked()
        .inspection(W10, "minor", deadline=d("2010-04-01"), id="I1")
        .rectification(d("2010-04-15"), of="I1")
    )
    assert "A" == raw_at(industry(), history).raw_level


# --- B --------------------------------------------------------------------------------------


def test_one_failed_check_in_the_window_is_class_b() -> None:
    assert "B" == raw_at(industry(), checked().failed_check(W03)).raw_level


@pytest.mark.parametrize("penalty", ["warning", "rectification_order"])
def test_warning_or_rectification_order_in_the_window_is_class_b(penalty: str) -> None:
    assert "B" == raw_at(industry(), checked().enforcement(W03, penalty)).raw_level


def test_substantiated_complaint_in_the_last_12_months_is_class_b() -> None:
    assert "B" == raw_at(industry(), checked().complaint(d("2009-06-16"))).raw_level


def test_substantiated_complaint_exactly_12_months_back_is_class_a() -> None:
    assert "A" == raw_at(industry(), checked().complaint(d("2009-06-15"))).raw_level


def test_unsubstantiated_complaint_is_class_a() -> None:
    history = checked().complaint(W10, substantiated=False)
    assert "A" == raw_at(industry(), history).raw_level


def test_one_spot_check_in_the_window_is_fewer_than_two_class_b() -> None:
    assert "B" == raw_at(industry(), History().passed_check(W10)).raw_level


def test_no_spot_check_at_all_is_fewer_than_two_class_b() -> None:
    assert "B" == raw_at(industry(), History().inspection(W10)).raw_level


def test_spot_check_exactly_3_years_back_is_not_in_the_window_class_b() -> None:
    history = History().passed_check(d("2007-06-15")).passed_check(W10)
    assert "B" == raw_at(industry(), history).raw_level


def test_spot_check_3_years_less_a_day_back_is_in_the_window_class_a() -> None:
    history = History().passed_check(d("2007-06-16")).passed_check(W10)
    assert "A" == raw_at(industry(), history).raw_level


def test_failed_checks_count_as_spot_checks_for_the_fewer_than_two_rule() -> None:
    history = History().failed_check(W03).passed_check(W10)  # 2 checks, 1 failed: B, not A
    assert "B" == raw_at(industry(), history).raw_level


def test_incident_alone_does_not_change_the_industry_class() -> None:
    assert "A" == raw_at(industry(), checked().incident(W10)).raw_level


def test_major_inspection_without_deadline_does_not_change_the_industry_class() -> None:
    assert "A" == raw_at(industry(), checked().inspection(W10, "major")).raw_level


# --- initial assessment: no floor beyond the rules -------------------------------------------


def test_industry_enterprise_without_records_is_class_b() -> None:
    decision = decide(industry(), History(), T)
    assert ("B", "B", "initial") == (decision.level, decision.raw_level, decision.transition)


def test_industry_enterprise_with_two_passed_checks_on_its_first_day_starts_at_a() -> None:
    history = History().passed_check(W10).passed_check(W10)
    decision = decide(industry(), history, W10)
    assert ("A", "initial") == (decision.level, decision.transition)


def test_industry_enterprise_first_graded_on_a_suspension_starts_at_d() -> None:
    decision = decide(industry(), History().enforcement(W10, "suspension"), W10)
    assert ("D", "initial") == (decision.level, decision.transition)


def test_worsening_from_a_to_d_takes_one_regrade() -> None:
    history = History().passed_check(W06).passed_check(W06).enforcement(W10, "suspension")
    decision = decide(industry(), history, W10)
    assert ("D", "A", "worsened") == (
        decision.level,
        decision.previous_level,
        decision.transition,
    )


def test_class_as_of_a_date_without_records_is_the_one_set_before() -> None:
    history = History().passed_check(W06).passed_check(W06)
    decision = decide(industry(), history, dt.date(2009, 12, 1))
    assert (W06, "A") == (decision.assessed_on, decision.level)
