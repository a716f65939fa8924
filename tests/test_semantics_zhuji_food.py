"""zhuji, scheme food: every score row, the category table, bands, exact decimals, overrides and
the no-history floor (PACKS.md, "Scheme food").

Scores are read at a re-grade point on T (see ``zhuji_support.raw_at``); a packaged-food
enterprise carries 5 static points, so each row's points show as ``5 + points``.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from zhuji_support import W03, W06, W10, History, T, d, decide, food, raw_at

# --- failed spot checks ---------------------------------------------------------------------


def test_failed_check_with_only_quality_items_scores_8_times_weight() -> None:
    decision = raw_at(food(), History().failed_check(W10, "quality"))
    assert Decimal("13") == decision.score  # 5 + 8 × 1.0


def test_failed_check_with_only_labeling_items_scores_8_times_weight() -> None:
    decision = raw_at(food(), History().failed_check(W10, "labeling"))
    assert Decimal("13") == decision.score  # 5 + 8 × 1.0


def test_failed_check_with_quality_and_labeling_items_scores_8_once() -> None:
    decision = raw_at(food(), History().failed_check(W10, "quality", "labeling", "quality"))
    assert Decimal("13") == decision.score  # one check, 8 points, whatever its item count


def test_failed_check_with_a_safety_item_scores_15_times_weight() -> None:
    decision = raw_at(food(), History().failed_check(W10, "quality", "safety"))
    assert Decimal("20") == decision.score  # 5 + 15 × 1.0, not 8 + 15


def test_failed_check_with_an_illegal_substance_item_scores_15_as_safety() -> None:
    decision = raw_at(food(), History().failed_check(W10, "illegal_substance"))
    assert Decimal("20") == decision.score  # 5 + 15 × 1.0


def test_failed_quality_check_weighs_0_6_in_its_second_year() -> None:
    decision = raw_at(food(), History().failed_check(W06, "quality"))
    assert Decimal("9.8") == decision.score  # 5 + 8 × 0.6


def test_failed_safety_check_weighs_0_3_in_its_third_year() -> None:
    decision = raw_at(food(), History().failed_check(W03, "safety"))
    assert Decimal("9.5") == decision.score  # 5 + 15 × 0.3


def test_each_failed_check_scores_on_its_own() -> None:
    history = History().failed_check(W10, "quality").failed_check(W10, "safety")
    assert Decimal("28") == raw_at(food(), history).score  # 5 + 8 + 15


def test_passed_check_scores_nothing() -> None:
    decision = raw_at(food(), History().passed_check(W10))
    assert Decimal("5") == decision.score


# --- enforcement ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("penalty", "expected"),
    [
        ("warning", "10"),  # 5 + 5
        ("rectification_order", "10"),  # 5 + 5 (no deadline, so never overdue)
        ("fine", "20"),  # 5 + 15
        ("confiscation", "20"),  # 5 + 15
        ("suspension", "30"),  # 5 + 25
    ],
)
def test_enforcement_penalty_scores_its_points(penalty: str, expected: str) -> None:
    decision = raw_at(food(), History().enforcement(W10, penalty))
    assert Decimal(expected) == decision.score


@pytest.mark.parametrize(
    ("day", "expected"),
    [(W10, "30"), (W06, "20.0"), (W03, "12.5")],  # 5 + 25 × 1.0 / 0.6 / 0.3
)
def test_suspension_is_weighted_by_recency(day: dt.date, expected: str) -> None:
    decision = raw_at(food(), History().enforcement(day, "suspension"))
    assert Decimal(expected) == decision.score


@pytest.mark.parametrize("penalty", ["revocation", "criminal_referral"])
def test_revocation_and_criminal_referral_add_no_points(penalty: str) -> None:
    decision = raw_at(food(), History().enforcement(W10, penalty))
    assert Decimal("5") == decision.score


def test_counterfeit_flag_adds_no_food_points() -> None:
    decision = raw_at(food(), History().enforcement(W10, "warning", counterfeit=True))
    assert Decimal("10") == decision.score  # 5 + 5: counterfeit matters to industry only


# --- complaints -----------------------------------------------------------------------------


def test_substantiated_complaint_scores_2_times_weight() -> None:
    decision = raw_at(food(), History().complaint(W10).complaint(W06))
    assert Decimal("8.2") == decision.score  # 5 + 2 × 1.0 + 2 × 0.6


def test_unsubstantiated_complaint_scores_nothing() -> None:
    decision = raw_at(food(), History().complaint(W10, substantiated=False))
    assert Decimal("5") == decision.score


def test_three_complaints_reach_the_cap_of_6() -> None:
    history = History().complaint(W10).complaint(W10).complaint(W10)
    assert Decimal("11") == raw_at(food(), history).score  # 5 + 6


def test_complaints_are_capped_at_6_in_all() -> None:
    history = History().complaint(W10).complaint(W10).complaint(W10).complaint(W10)
    assert Decimal("11") == raw_at(food(), history).score  # 5 + min(8, 6)


def test_complaint_cap_applies_to_the_weighted_sum() -> None:
    history = History().complaint(W10).complaint(W10).complaint(W06).complaint(W06)
    assert Decimal("11") == raw_at(food(), history).score  # 5 + min(2 + 2 + 1.2 + 1.2, 6)


# --- overdue rectifications -----------------------------------------------------------------


def test_overdue_rectifications_score_10_each_without_recency_weight() -> None:
    history = (
        History()
        .inspection(d("2009-03-01"), "minor", deadline=d("2009-04-01"))  # second year: still 10
        .inspection(d("2010-01-10"), "minor", deadline=d("2010-02-10"))
    )
    assert Decimal("25") == raw_at(food(), history).score  # 5 + 10 + 10


# --- the category table ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("infant", "20"),
        ("special", "20"),
        ("dairy", "15"),
        ("meat", "15"),
        ("perishable", "10"),
        ("packaged", "5"),
        (None, "10"),  # missing
        ("bakery", "10"),  # any other value
    ],
)
def test_category_gives_its_static_points(category: str | None, expected: str) -> None:
    decision = decide(food(category), History(), T)  # no records: the score is the category's
    assert Decimal(expected) == decision.score


# --- bands and exact arithmetic -------------------------------------------------------------


def test_score_19_9_is_low() -> None:
    history = (
        History().failed_check(W10, "quality").failed_check(W03, "safety").failed_check(W03)
    )  # 5 + 8 + 15 × 0.3 + 8 × 0.3 = 19.9
    decision = raw_at(food(), history)
    assert (Decimal("19.9"), "low") == (decision.score, decision.raw_level)


def test_score_20_from_8x0_6_plus_15x0_6_plus_2x0_6_is_medium() -> None:
    history = History().failed_check(W06, "quality").failed_check(W06, "safety").complaint(W06)
    decision = raw_at(food(), history)  # 5 + 4.8 + 9 + 1.2 = 20.0
    assert (Decimal("20.0"), "medium") == (decision.score, decision.raw_level)


def test_score_20_from_three_times_0_6_is_medium() -> None:
    # 5 × (0.6 + 0.6 + 0.6 + 0.3 + 0.3 + 0.3 + 0.3) + 5 = 20.0; in binary floating point the
    # weights sum to 2.9999999999999996 and the score to 19.999999999999996, which is low.
    history = History()
    for _ in range(3):
        history.enforcement(W06, "warning")
    for _ in range(4):
        history.enforcement(W03, "warning")
    decision = raw_at(food(), history)
    assert (Decimal("20.0"), "medium") == (decision.score, decision.raw_level)


def test_score_20_from_three_quality_checks_at_0_6_is_medium() -> None:
    history = History().failed_check(W06).failed_check(W06).failed_check(W06).complaint(W03)
    decision = raw_at(food(), history)  # 5 + 3 × 4.8 + 0.6 = 20.0
    assert (Decimal("20.0"), "medium") == (decision.score, decision.raw_level)


def test_score_39_9_is_medium() -> None:
    history = (
        History().failed_check(W10).failed_check(W10).failed_check(W03).enforcement(W03, "warning")
    )  # infant 20 + 8 + 8 + 2.4 + 1.5 = 39.9
    decision = raw_at(food("infant"), history)
    assert (Decimal("39.9"), "medium") == (decision.score, decision.raw_level)


def test_score_40_from_weighted_sum_with_missing_category_is_high() -> None:
    history = (
        History()
        .failed_check(W06, "quality")
        .failed_check(W10, "safety")
        .failed_check(W06, "safety")
        .complaint(W06)
    )  # missing category 10 + 4.8 + 15 + 9 + 1.2 = 40.0
    decision = raw_at(food(None), history)
    assert (Decimal("40.0"), "high") == (decision.score, decision.raw_level)


def test_score_40_from_three_safety_checks_at_0_6_is_high() -> None:
    # 15 × (0.6 + 0.6 + 0.6 + 0.3) = 31.499999999999996 in floating point; exactly 31.5 here.
    history = (
        History()
        .failed_check(W06, "safety")
        .failed_check(W06, "safety")
        .failed_check(W06, "safety")
        .failed_check(W03, "safety")
        .enforcement(W03, "warning")
        .complaint(W10)
    )  # 5 + 27 + 4.5 + 1.5 + 2 = 40.0
    decision = raw_at(food(), history)
    assert (Decimal("40.0"), "high") == (decision.score, decision.raw_level)


def test_score_of_exactly_20_is_written_as_20_in_json() -> None:
    history = History().failed_check(W06, "quality").failed_check(W06, "safety").complaint(W06)
    decision = raw_at(food(), history)
    assert 20 == json.loads(decision.to_json())["score"]


# --- overrides to high ----------------------------------------------------------------------


def test_illegal_substance_in_the_window_overrides_to_high() -> None:
    decision = raw_at(food(), History().failed_check(W03, "illegal_substance"))
    assert (Decimal("9.5"), "high") == (decision.score, decision.raw_level)  # 5 + 4.5, yet high


@pytest.mark.parametrize("penalty", ["revocation", "criminal_referral"])
def test_revocation_or_criminal_referral_in_the_window_overrides_to_high(penalty: str) -> None:
    decision = raw_at(food(), History().enforcement(W03, penalty))
    assert "high" == decision.raw_level


def test_incident_in_the_window_overrides_to_high() -> None:
    decision = raw_at(food(), History().incident(W03))
    assert "high" == decision.raw_level


def test_override_raises_the_level_at_once() -> None:
    history = History().passed_check(d("2010-01-10")).incident(d("2010-02-01"))
    decision = decide(food(), history, d("2010-02-01"))
    assert ("high", "low", "worsened") == (
        decision.level,
        decision.previous_level,
        decision.transition,
    )


# --- the no-history floor -------------------------------------------------------------------


def test_no_history_floor_puts_an_enterprise_without_records_at_medium() -> None:
    decision = decide(food(), History(), T)
    assert ("medium", "low", "initial") == (
        decision.level,
        decision.raw_level,
        decision.transition,
    )


def test_no_history_floor_is_lifted_by_a_passed_check_on_the_first_day() -> None:
    decision = decide(food(), History().passed_check(W10), T)
    assert ("low", "initial") == (decision.level, decision.transition)


def test_no_history_floor_reading_a_a_failed_check_alone_does_not_lift_it() -> None:
    # Reading (a), docs/semantics.md: "no PASSED spot check in the window → at least medium".
    # Score 5 + 8 = 13 is low, but an enterprise may not start better for failing a check.
    decision = decide(food(), History().failed_check(W10, "quality"), W10)
    assert ("medium", "low") == (decision.level, decision.raw_level)


def test_no_history_floor_reading_a_other_records_do_not_lift_it() -> None:
    history = History().inspection(W10).complaint(W10, substantiated=False)
    decision = decide(food(), history, W10)
    assert "medium" == decision.level


def test_no_history_floor_does_not_lower_a_high_raw_level() -> None:
    decision = decide(food(), History().incident(W10), W10)
    assert ("high", "initial") == (decision.level, decision.transition)


def test_no_history_floor_applies_only_at_the_initial_assessment() -> None:
    # The passed check of 2006-01-10 leaves the window at the review of 2009-01-10
    # (t − 3y = 2006-01-10 is not < the date); the follow-up assessment has no floor.
    decision = decide(food(), History().passed_check(d("2006-01-10")), d("2009-06-15"))
    assert (d("2009-01-10"), "low", "unchanged") == (
        decision.assessed_on,
        decision.level,
        decision.transition,
    )


# --- reasons --------------------------------------------------------------------------------


def test_score_reason_gives_points_and_evidence() -> None:
    decision = raw_at(food(), History().failed_check(W10, "safety", id="S1"))
    assert [(Decimal("15"), ("S1",))] == [
        (r.points, r.evidence) for r in decision.reasons if "S1" in r.evidence
    ]


def test_override_reason_gives_its_evidence() -> None:
    decision = raw_at(food(), History().incident(W03, id="N1"))
    assert 1 == len([r for r in decision.reasons if r.evidence == ("N1",)])


def test_initial_assessment_has_no_previous_level() -> None:
    assert None is decide(food(), History().passed_check(W10), W10).previous_level
