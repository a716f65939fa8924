"""Follow-up assessments with hysteresis, corrections that rewrite history, and late records
(PACKS.md, "Follow-up assessment", "Corrections rewrite history").

Worsen at once, any number of steps. Improve by exactly one step, and only when there was no
adverse event in the last 12 months (failed spot check, any enforcement, substantiated
complaint, incident, inspection `major`) and the level has stood since a date ≤ t - 1y;
otherwise `held`, saying which condition held it back.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from riskgrade import Grader
from riskgrade.testing import explain_one, record_set
from zhuji_support import PACK, History, d, decide, food, industry, timeline

# --- worsening ------------------------------------------------------------------------------


def test_food_worsens_from_low_to_high_in_one_regrade() -> None:
    history = History().passed_check(d("2008-01-10")).incident(d("2008-02-01"))
    decision = decide(food(), history, d("2008-02-01"))
    assert ("high", "low", "worsened") == (
        decision.level,
        decision.previous_level,
        decision.transition,
    )


def test_worsening_does_not_wait_for_the_level_to_stand_12_months() -> None:
    history = History().passed_check(d("2008-01-10")).enforcement(d("2008-01-20"), "fine")
    decision = decide(food(), history, d("2008-01-20"))  # 5 + 15 = 20, ten days after low
    assert ("medium", "worsened") == (decision.level, decision.transition)


def test_same_raw_level_is_unchanged() -> None:
    history = History().passed_check(d("2008-01-10")).complaint(d("2008-02-01"))  # 7: low
    decision = decide(food(), history, d("2008-02-01"))
    assert ("low", "low", "unchanged") == (
        decision.level,
        decision.previous_level,
        decision.transition,
    )


# --- improving ------------------------------------------------------------------------------


def fined() -> History:
    """Low from 2008-01-10; a fine on 2008-03-01 makes it medium (5 + 15 = 20)."""
    return History().passed_check(d("2008-01-10")).enforcement(d("2008-03-01"), "fine")


def test_level_improves_at_the_review_after_12_clean_months() -> None:
    # Review 2009-03-01: the fine now weighs 0.6 (5 + 9 = 14, low); it is not within the last
    # 12 months (2008-03-01 is not after t − 1y), and medium has stood since 2008-03-01.
    decision = decide(food(), fined(), d("2009-03-01"))
    assert ("low", "medium", "low", "improved") == (
        decision.level,
        decision.previous_level,
        decision.raw_level,
        decision.transition,
    )


def test_level_stands_until_the_review() -> None:
    decision = decide(food(), fined(), d("2009-02-28"))
    assert (d("2008-03-01"), "medium") == (decision.assessed_on, decision.level)


def overdue_four_times() -> History:
    """High from the review of 2008-02-01 (4 overdue rectifications: 5 + 40 = 45), all
    rectifications verified on 2009-03-01 (raw low again: 5)."""
    history = History().passed_check(d("2007-01-10"))
    for n in range(1, 5):
        history.inspection(d("2007-02-01"), "minor", deadline=d("2007-03-01"), id=f"I{n}")
    for n in range(1, 5):
        history.rectification(d("2009-03-01"), of=f"I{n}")
    return history


def test_overdue_rectifications_make_the_review_high() -> None:
    decision = decide(food(), overdue_four_times(), d("2008-02-01"))
    assert ("high", "worsened") == (decision.level, decision.transition)


def test_improvement_is_exactly_one_step_even_when_raw_is_two_better() -> None:
    decision = decide(food(), overdue_four_times(), d("2009-03-01"))
    assert ("medium", "high", "low", "improved") == (
        decision.level,
        decision.previous_level,
        decision.raw_level,
        decision.transition,
    )


def test_second_step_comes_after_another_12_months() -> None:
    decision = decide(food(), overdue_four_times(), d("2010-03-01"))
    assert ("low", "medium", "improved") == (
        decision.level,
        decision.previous_level,
        decision.transition,
    )


# Industry: A on 2008-01-10, C from 2008-04-01 (inspection I's rectification overdue since
# 2008-03-01); verified rectification on 2009-05-01 leaves the rules better than C.


def class_c_until_rectified(extra: History | None = None) -> History:
    history = (
        History()
        .passed_check(d("2008-01-10"), id="P1")
        .passed_check(d("2008-01-10"), id="P2")
        .inspection(d("2008-02-01"), "minor", deadline=d("2008-03-01"), id="I")
        .passed_check(d("2008-04-01"), id="P3")
    )
    if extra is not None:
        history.extend(extra)
    return history.rectification(d("2009-05-01"), of="I", id="R")


def test_industry_becomes_c_when_the_rectification_is_overdue() -> None:
    decision = decide(industry(), class_c_until_rectified(), d("2008-04-01"))
    assert ("C", "worsened") == (decision.level, decision.transition)


def test_industry_improves_one_class_after_a_clean_year() -> None:
    decision = decide(industry(), class_c_until_rectified(), d("2009-05-01"))
    assert ("B", "C", "A", "improved") == (
        decision.level,
        decision.previous_level,
        decision.raw_level,
        decision.transition,
    )


ADVERSE = {
    "failed spot check": History("E1").failed_check(d("2009-01-15"), id="X"),
    "warning": History("E1").enforcement(d("2009-01-15"), "warning", id="X"),
    "rectification order": History("E1").enforcement(
        d("2009-01-15"), "rectification_order", id="X"
    ),
    "substantiated complaint": History("E1").complaint(d("2009-01-15"), id="X"),
    "incident": History("E1").incident(d("2009-01-15"), id="X"),
    "major inspection": History("E1").inspection(d("2009-01-15"), "major", id="X"),
}


@pytest.mark.parametrize("kind", list(ADVERSE))
def test_adverse_event_in_the_last_12_months_holds_improvement(kind: str) -> None:
    decision = decide(industry(), class_c_until_rectified(ADVERSE[kind]), d("2009-05-01"))
    assert ("C", "held") == (decision.level, decision.transition)


NOT_ADVERSE = {
    "passed spot check": History("E1").passed_check(d("2009-01-15"), id="X"),
    "unsubstantiated complaint": History("E1").complaint(
        d("2009-01-15"), substantiated=False, id="X"
    ),
    "minor inspection": History("E1").inspection(d("2009-01-15"), "minor", id="X"),
    "compliant inspection": History("E1").inspection(d("2009-01-15"), id="X"),
}


@pytest.mark.parametrize("kind", list(NOT_ADVERSE))
def test_non_adverse_event_does_not_hold_improvement(kind: str) -> None:
    decision = decide(industry(), class_c_until_rectified(NOT_ADVERSE[kind]), d("2009-05-01"))
    assert ("B", "improved") == (decision.level, decision.transition)


def test_held_decision_names_the_adverse_record_and_its_date() -> None:
    history = class_c_until_rectified(ADVERSE["incident"])
    cause = decide(industry(), history, d("2009-05-01")).cause or ""
    assert (True, True) == ("held" in cause, "2009-01-15" in cause)


def test_adverse_event_exactly_12_months_back_does_not_hold_improvement() -> None:
    extra = History("E1").incident(d("2008-05-01"), id="X")
    decision = decide(industry(), class_c_until_rectified(extra), d("2009-05-01"))
    assert ("B", "improved") == (decision.level, decision.transition)


def test_adverse_event_12_months_less_a_day_back_holds_improvement() -> None:
    extra = History("E1").incident(d("2008-05-02"), id="X")
    decision = decide(industry(), class_c_until_rectified(extra), d("2009-05-01"))
    assert ("C", "held") == (decision.level, decision.transition)


def test_voided_adverse_event_does_not_hold_improvement() -> None:
    extra = History("E1").incident(d("2009-01-15"), id="X").void(d("2009-02-01"), of="X")
    decision = decide(industry(), class_c_until_rectified(extra), d("2009-05-01"))
    assert ("B", "improved") == (decision.level, decision.transition)


def test_food_improvement_held_by_a_major_inspection() -> None:
    # Medium from the fine of 2008-03-01. On 2009-03-05 the fine weighs 0.6 (5 + 9 = 14, low),
    # medium has stood a year, but the major inspection of 2008-12-01 is within 12 months.
    history = fined().inspection(d("2008-12-01"), "major").inspection(d("2009-03-05"))
    decision = decide(food(), history, d("2009-03-05"))
    assert ("medium", "low", "held") == (decision.level, decision.raw_level, decision.transition)


def test_adverse_event_of_29_february_holds_improvement_on_28_february_next_year() -> None:
    # t = 2009-02-28: t − 1y = 2008-02-28 < 2008-02-29, so the incident is within 12 months.
    history = (
        History()
        .passed_check(d("2007-01-10"), id="P1")
        .passed_check(d("2007-01-10"), id="P2")
        .inspection(d("2007-02-01"), "minor", deadline=d("2007-03-01"), id="I")
        .passed_check(d("2007-04-01"), id="P3")  # C from here
        .incident(d("2008-02-29"), id="X")
        .rectification(d("2009-02-28"), of="I")
    )
    decision = decide(industry(), history, d("2009-02-28"))
    assert ("C", "held") == (decision.level, decision.transition)


def test_adverse_event_of_29_february_is_past_12_months_on_1_march_next_year() -> None:
    history = (
        History()
        .passed_check(d("2007-01-10"), id="P1")
        .passed_check(d("2007-01-10"), id="P2")
        .inspection(d("2007-02-01"), "minor", deadline=d("2007-03-01"), id="I")
        .passed_check(d("2007-04-01"), id="P3")
        .incident(d("2008-02-29"), id="X")
        .rectification(d("2009-03-01"), of="I")
    )
    decision = decide(industry(), history, d("2009-03-01"))
    assert ("B", "improved") == (decision.level, decision.transition)


def recently_c() -> History:
    """C since 2008-04-01 (overdue); no adverse record at all."""
    return (
        History()
        .passed_check(d("2008-01-10"), id="P1")
        .passed_check(d("2008-01-10"), id="P2")
        .inspection(d("2008-02-01"), "minor", deadline=d("2008-03-01"), id="I")
        .passed_check(d("2008-04-01"), id="P3")
    )


def test_level_that_has_not_stood_12_months_holds_improvement() -> None:
    # 2009-03-01: t − 1y = 2008-03-01 is before 2008-04-01, when C was set.
    history = recently_c().rectification(d("2009-03-01"), of="I")
    decision = decide(industry(), history, d("2009-03-01"))
    assert ("C", "A", "held") == (decision.level, decision.raw_level, decision.transition)


def test_held_for_standing_names_the_date_the_level_was_set() -> None:
    history = recently_c().rectification(d("2009-03-01"), of="I")
    cause = decide(industry(), history, d("2009-03-01")).cause or ""
    assert (True, True) == ("held" in cause, "2008-04-01" in cause)


def test_level_set_exactly_12_months_ago_has_stood_long_enough() -> None:
    history = recently_c().rectification(d("2009-04-01"), of="I")
    decision = decide(industry(), history, d("2009-04-01"))
    assert ("B", "improved") == (decision.level, decision.transition)


def test_held_level_improves_at_the_next_review() -> None:
    history = recently_c().rectification(d("2009-03-01"), of="I")
    decision = decide(industry(), history, d("2010-03-01"))
    assert (d("2010-03-01"), "B", "C", "improved") == (
        decision.assessed_on,
        decision.level,
        decision.previous_level,
        decision.transition,
    )


def test_holding_does_not_restart_the_standing_period() -> None:
    # Held on 2009-03-01 (C since 2008-04-01); a passed check on 2009-04-02 finds C standing
    # since 2008-04-01 ≤ 2008-04-02, so it improves.
    history = recently_c().rectification(d("2009-03-01"), of="I").passed_check(d("2009-04-02"))
    decision = decide(industry(), history, d("2009-04-02"))
    assert ("B", "improved") == (decision.level, decision.transition)


# --- corrections ----------------------------------------------------------------------------


def voided_incident() -> History:
    """Low from 2008-01-10; an incident on 2008-06-01 (high), voided on 2008-09-01."""
    return (
        History()
        .passed_check(d("2008-01-10"))
        .incident(d("2008-06-01"), id="N")
        .void(d("2008-09-01"), of="N", id="V")
    )


def test_grade_the_day_before_a_correction_is_unchanged() -> None:
    decision = decide(food(), voided_incident(), d("2008-08-31"))
    assert (d("2008-06-01"), "high") == (decision.assessed_on, decision.level)


def test_void_removes_the_event_from_its_date_on() -> None:
    decision = decide(food(), voided_incident(), d("2008-09-01"))
    assert (d("2008-09-01"), "low", "high", "corrected") == (
        decision.assessed_on,
        decision.level,
        decision.previous_level,
        decision.transition,
    )


def test_timeline_keeps_the_grades_made_before_a_correction() -> None:
    steps = timeline(food(), voided_incident(), d("2008-09-01"))
    assert [
        (d("2008-01-10"), "low", "initial"),
        (d("2008-06-01"), "high", "worsened"),
        (d("2008-09-01"), "low", "corrected"),
    ] == steps


def test_voided_event_is_gone_from_the_replayed_history() -> None:
    # As of a year on, the incident never happened: no high, nothing held.
    decision = decide(food(), voided_incident(), d("2009-09-01"))
    assert ("low", "low") == (decision.level, decision.raw_level)


def failed_then_rechecked(result: str) -> History:
    """Low from 2008-01-10; a failed safety check on 2008-03-01 (5 + 15 = 20, medium);
    a recheck of it on 2008-05-01."""
    return (
        History()
        .passed_check(d("2008-01-10"))
        .failed_check(d("2008-03-01"), "safety", id="S")
        .recheck(d("2008-05-01"), of="S", result=result, id="R")
    )


def test_overturned_recheck_turns_the_failed_check_into_a_passed_one() -> None:
    decision = decide(food(), failed_then_rechecked("overturned"), d("2008-05-01"))
    assert ("low", "medium", "corrected", Decimal("5")) == (
        decision.level,
        decision.previous_level,
        decision.transition,
        decision.score,
    )


def test_upheld_recheck_changes_nothing() -> None:
    decision = decide(food(), failed_then_rechecked("upheld"), d("2008-05-01"))
    assert ("medium", "unchanged", Decimal("20")) == (
        decision.level,
        decision.transition,
        decision.score,
    )


def test_overturned_recheck_counts_as_a_passed_check_for_the_no_history_floor() -> None:
    # Replayed, the first day has a passed check (the overturned one): initial low.
    history = History().failed_check(d("2008-03-01"), id="S").recheck(d("2008-05-01"), of="S")
    decision = decide(food(), history, d("2008-05-01"))
    assert ("low", "medium", "corrected") == (
        decision.level,
        decision.previous_level,
        decision.transition,
    )


def test_overturned_recheck_removes_an_illegal_substance_override() -> None:
    history = (
        History()
        .passed_check(d("2008-01-10"))
        .failed_check(d("2008-03-01"), "illegal_substance", id="S")
        .recheck(d("2008-05-01"), of="S")
    )
    assert "low" == decide(food(), history, d("2008-05-01")).raw_level


def test_overturned_recheck_makes_the_check_pass_for_industry_counts() -> None:
    history = (
        History()
        .passed_check(d("2008-01-10"))
        .failed_check(d("2008-03-01"), id="S")
        .recheck(d("2008-05-01"), of="S")
    )
    assert "A" == decide(industry(), history, d("2008-05-01")).raw_level  # 2 checks, none failed


def test_corrected_history_is_replayed_with_hysteresis() -> None:
    # Medium from the fine of 2008-03-01; the major inspection of 2008-10-01 is adverse; the
    # illegal substance found on 2009-02-01 made it high. Overturned on 2009-04-01, the
    # replay gives: medium on 2009-02-01 (5 + 15), and on 2009-04-01 raw low (5 + 9) but held
    # by the major inspection within 12 months: medium, not low, and not the high that stood.
    history = (
        fined()
        .inspection(d("2008-10-01"), "major")
        .failed_check(d("2009-02-01"), "illegal_substance", id="S")
        .recheck(d("2009-04-01"), of="S")
    )
    decision = decide(food(), history, d("2009-04-01"))
    assert ("medium", "high", "low", "corrected") == (
        decision.level,
        decision.previous_level,
        decision.raw_level,
        decision.transition,
    )


def test_level_before_an_overturning_correction_is_the_uncorrected_one() -> None:
    history = (
        fined()
        .inspection(d("2008-10-01"), "major")
        .failed_check(d("2009-02-01"), "illegal_substance", id="S")
        .recheck(d("2009-04-01"), of="S")
    )
    assert "high" == decide(food(), history, d("2009-03-31")).level


def test_void_of_a_void_restores_the_event() -> None:
    history = voided_incident().void(d("2008-10-01"), of="V")
    decision = decide(food(), history, d("2008-10-01"))
    assert ("high", "low", "corrected") == (
        decision.level,
        decision.previous_level,
        decision.transition,
    )


def test_void_of_an_overturning_recheck_restores_the_failure() -> None:
    history = failed_then_rechecked("overturned").void(d("2008-07-01"), of="R")
    decision = decide(food(), history, d("2008-07-01"))
    assert ("medium", "low", "corrected") == (
        decision.level,
        decision.previous_level,
        decision.transition,
    )


def test_correction_that_does_not_change_the_level_is_not_corrected() -> None:
    history = (
        History()
        .passed_check(d("2008-01-10"))
        .complaint(d("2008-02-01"), substantiated=False, id="C")
        .void(d("2008-03-01"), of="C")
    )
    decision = decide(food(), history, d("2008-03-01"))
    assert ("low", "unchanged") == (decision.level, decision.transition)


# --- late records ---------------------------------------------------------------------------


def test_late_record_is_part_of_the_history_whatever_the_arrival_order() -> None:
    enterprise = food()
    in_order = fined().complaint(d("2008-05-01")).passed_check(d("2009-01-10")).dicts()
    late_first = [in_order[-2], *in_order[:-2], in_order[-1]]  # the complaint arrives first
    late_last = [*in_order[:2], in_order[3], in_order[2]]  # the complaint arrives last
    grader = Grader(PACK)
    decisions = []
    for events in (in_order, late_first, late_last):
        records = record_set([enterprise], events)
        decisions.append(grader.decide(enterprise, records.events, d("2009-06-01")).to_json())
    assert [decisions[0]] * 3 == decisions


def test_late_record_changes_grades_from_its_own_date() -> None:
    # A failed safety check dated 2008-05-01 but recorded after 2009's records: as of
    # 2008-05-01 it already counts (5 + 15 + 15 = 35, medium with the fine).
    history = fined().passed_check(d("2009-01-10")).failed_check(d("2008-05-01"), "safety")
    decision = decide(food(), history, d("2008-05-01"))
    assert (d("2008-05-01"), Decimal("35")) == (decision.assessed_on, decision.score)


def test_records_after_the_as_of_date_do_not_change_the_grade() -> None:
    # Later on: an incident, and a void of the fine of 2008-03-01 (its id is E1.2).
    later = fined().incident(d("2008-06-02")).void(d("2008-07-01"), of="E1.2")
    before = decide(food(), fined(), d("2008-06-01")).to_json()
    assert before == decide(food(), later, d("2008-06-01")).to_json()


def test_after_a_correction_the_level_has_stood_since_its_replayed_date() -> None:
    # Replayed, medium has stood since 2008-03-01 (not since the correction of 2009-04-01):
    # on 2009-10-02 the fine weighs 0.6 (5 + 9 = 14, low), the major inspection of
    # 2008-10-01 is past 12 months, so the level improves.
    history = (
        fined()
        .inspection(d("2008-10-01"), "major")
        .failed_check(d("2009-02-01"), "illegal_substance", id="S")
        .recheck(d("2009-04-01"), of="S")
        .inspection(d("2009-10-02"))
    )
    decision = decide(food(), history, d("2009-10-02"))
    assert ("low", "medium", "improved") == (
        decision.level,
        decision.previous_level,
        decision.transition,
    )


def test_regression_outlook_of_an_enterprise_without_records_is_not_reached_by_time() -> None:
    # Broke: the outlook simulated yearly reviews after the as-of date and promised "low on
    # 2010-02-28", but without records every date is assessed afresh: medium, whatever the date.
    explanation = explain_one(PACK, food(), History(), d("2008-02-29"))
    later = decide(food(), History(), d("2010-02-28"))
    assert (None, None, "medium") == (
        explanation.outlook.better_level,
        explanation.outlook.earliest,
        later.level,
    )


def test_outlook_gives_the_review_at_which_the_level_improves() -> None:
    # Medium from the fine of 2008-03-01; the review of 2009-03-01 improves it (see above).
    explanation = explain_one(PACK, food(), fined(), d("2008-06-01"))
    assert ("low", d("2009-03-01")) == (
        explanation.outlook.better_level,
        explanation.outlook.earliest,
    )


def test_regression_upheld_recheck_is_no_correction_an_improvement_that_day_is_improved() -> None:
    """An upheld re-test changes nothing (PACKS.md): a level change on its day isn't 'corrected'."""
    import datetime as dt

    import riskgrade

    pack = riskgrade.load_pack("rules/zhuji")
    records = riskgrade.RecordSet.from_dicts(
        [{"id": "F1", "scheme": "food", "attributes": {"category": "packaged"}}],
        [
            {
                "id": "p",
                "enterprise_id": "F1",
                "date": "2007-01-10",
                "type": "spot_check",
                "result": "pass",
            },
            {
                "id": "f",
                "enterprise_id": "F1",
                "date": "2007-06-01",
                "type": "spot_check",
                "result": "fail",
                "items": [{"name": "x", "kind": "safety"}],
            },
            {
                "id": "q",
                "enterprise_id": "F1",
                "date": "2007-09-01",
                "type": "spot_check",
                "result": "pass",
            },
            {
                "id": "r",
                "enterprise_id": "F1",
                "date": "2008-06-02",
                "type": "recheck",
                "of": "f",
                "result": "upheld",
            },
        ],
    )
    for engine in riskgrade.ENGINES:
        grader = riskgrade.Grader(pack, engine=engine)
        decision = grader.grade(records, dt.date(2008, 6, 2))[0]
        assert ("low", "medium", "improved") == (
            decision.level,
            decision.previous_level,
            decision.transition,
        ), engine
