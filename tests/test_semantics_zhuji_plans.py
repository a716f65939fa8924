"""Overdue rectifications, treatment plans, the next inspection due, and the pack's identity in
every decision (PACKS.md, "Overdue rectification", "Treatment plans"; CONTRACT.md, "Decision").

Overdue at t: an inspection (minor/major) or a rectification order with a `deadline` < t and no
`rectification` with `verified: true` referring to it dated ≤ t. For food each one scores 10:
a packaged-food enterprise (5) with one overdue rectification scores 15.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from riskgrade import Decision, load_pack
from riskgrade.testing import grade_one
from zhuji_support import PACK, ROOT, History, T, d, decide, food, industry, raw_at

DEADLINE = d("2010-03-01")


def inspected(outcome: str = "minor", *, deadline: dt.date | None = DEADLINE) -> History:
    return History().inspection(d("2010-01-10"), outcome, deadline=deadline, id="I")


# --- overdue rectification ------------------------------------------------------------------


def test_rectification_is_not_overdue_on_its_deadline() -> None:
    assert Decimal("5") == raw_at(food(), inspected(), DEADLINE).score


def test_rectification_is_overdue_the_day_after_its_deadline() -> None:
    assert Decimal("15") == raw_at(food(), inspected(), d("2010-03-02")).score


def test_major_inspection_with_a_deadline_can_be_overdue() -> None:
    assert Decimal("15") == raw_at(food(), inspected("major")).score


def test_compliant_inspection_with_a_deadline_is_never_overdue() -> None:
    assert Decimal("5") == raw_at(food(), inspected("compliant")).score


def test_inspection_without_a_deadline_is_never_overdue() -> None:
    assert Decimal("5") == raw_at(food(), inspected(deadline=None)).score


def test_rectification_order_past_its_deadline_is_overdue() -> None:
    history = History().enforcement(d("2010-01-10"), "rectification_order", deadline=DEADLINE)
    assert Decimal("20") == raw_at(food(), history).score  # 5 + 5 + 10


@pytest.mark.parametrize(("penalty", "expected"), [("warning", "10"), ("fine", "20")])
def test_other_penalties_with_a_deadline_are_never_overdue(penalty: str, expected: str) -> None:
    history = History().enforcement(d("2010-01-10"), penalty, deadline=DEADLINE)
    assert Decimal(expected) == raw_at(food(), history).score


def test_verified_rectification_dated_t_clears_it() -> None:
    history = inspected().rectification(T, of="I")
    assert Decimal("5") == raw_at(food(), history).score


def test_verified_rectification_after_the_deadline_clears_it() -> None:
    history = inspected().rectification(d("2010-04-01"), of="I")
    assert Decimal("5") == raw_at(food(), history).score


def test_verified_rectification_after_t_does_not_clear_it_at_t() -> None:
    history = inspected().rectification(T + dt.timedelta(days=1), of="I")
    assert Decimal("15") == raw_at(food(), history).score


def test_unverified_rectification_does_not_clear_it() -> None:
    history = inspected().rectification(d("2010-04-01"), of="I", verified=False)
    assert Decimal("15") == raw_at(food(), history).score


def test_voided_rectification_does_not_clear_it() -> None:
    history = (
        inspected().rectification(d("2010-04-01"), of="I", id="R").void(d("2010-05-01"), of="R")
    )
    assert Decimal("15") == raw_at(food(), history).score


def test_rectification_of_another_inspection_does_not_clear_it() -> None:
    history = (
        inspected()
        .inspection(d("2010-01-20"), "minor", id="J")
        .rectification(d("2010-04-01"), of="J")
    )
    assert Decimal("15") == raw_at(food(), history).score


def test_reading_b_overdue_rectification_counts_beyond_the_three_year_window() -> None:
    # Reading (b), docs/semantics.md: an unrectified order is a state at t, not a past event.
    history = History().inspection(d("2006-01-10"), "minor", deadline=d("2006-02-10"))
    assert Decimal("15") == raw_at(food(), history).score


def test_reading_b_old_overdue_rectification_keeps_industry_in_class_c() -> None:
    history = (
        History()
        .enforcement(d("2006-01-10"), "rectification_order", deadline=d("2006-02-10"))
        .passed_check(d("2010-01-10"))
        .passed_check(d("2010-02-10"))
    )
    assert "C" == raw_at(industry(), history).raw_level


def test_overdue_is_judged_at_regrade_points_only() -> None:
    # No record or review between the deadline and T: the grade stands from 2010-01-10.
    decision = decide(food(), inspected().passed_check(d("2010-01-10")), T)
    assert (d("2010-01-10"), Decimal("5")) == (decision.assessed_on, decision.score)


# --- treatment plans ------------------------------------------------------------------------

PLANS = {
    "low": (History().passed_check(T), "routine", 1, 1),
    "medium": (History(), "enhanced", 2, 2),
    "high": (History().incident(T), "key_supervision", 4, 4),
    "A": (History().passed_check(T).passed_check(T), "cultivate", 1, 1),
    "B": (History(), "assist", 2, 2),
    "C": (History().passed_check(T).passed_check(T).enforcement(T, "fine"), "standardize", 4, 4),
    "D": (History().enforcement(T, "suspension"), "guard", 12, 6),
}
MEASURES = {
    "low": ["self-inspection reporting", "credit incentives"],
    "medium": ["technical guidance visit", "training"],
    "high": ["key-supervision list", "follow-up visit within 30 days", "responsibility interview"],
    "A": [
        "brand and quality-award cultivation",
        "invite to standard setting",
        "fewer on-site checks",
    ],
    "B": [
        "technical guidance visit",
        "help build a quality management system",
        "training",
    ],
    "C": [
        "rectification order with deadline",
        "follow-up visit within 30 days",
        "responsibility interview",
    ],
    "D": ["key-supervision list", "joint enforcement", "public risk warning", "licence review"],
}


def planned(level: str) -> Decision:
    history = PLANS[level][0]
    enterprise = food() if level in ("low", "medium", "high") else industry()
    decision = decide(enterprise, history, T)
    assert level == decision.level
    return decision


@pytest.mark.parametrize("level", list(PLANS))
def test_treatment_plan_of_each_level(level: str) -> None:
    treatment = planned(level).treatment
    assert treatment is not None
    _, name, inspections, sampling = PLANS[level]
    assert (name, inspections, sampling, MEASURES[level]) == (
        treatment.name,
        treatment.inspections_per_year,
        treatment.sampling_per_year,
        list(treatment.measures),
    )


def due(decision: Decision) -> tuple[dt.date, bool]:
    assert decision.treatment is not None
    return decision.treatment.next_inspection_due, decision.treatment.overdue


def test_next_inspection_due_after_12_months_for_one_a_year() -> None:
    decision = decide(food(), History().passed_check(d("2010-01-31")), T)  # low: 1 a year
    assert (d("2011-01-31"), False) == due(decision)


def test_next_inspection_due_after_6_months_clamped_to_the_month_end() -> None:
    decision = decide(industry(), History().passed_check(d("2009-08-31")), T)  # B: 2 a year
    assert ("B", d("2010-02-28"), True) == (decision.level, *due(decision))


def test_next_inspection_due_after_3_months_for_four_a_year() -> None:
    history = History().passed_check(d("2009-11-30")).incident(d("2010-01-10"))  # high
    assert (d("2010-02-28"), True) == due(decide(food(), history, T))


def test_next_inspection_due_after_1_month_for_twelve_a_year() -> None:
    history = History().enforcement(d("2010-01-10"), "suspension").inspection(d("2010-01-31"))
    decision = decide(industry(), history, d("2010-02-27"))  # D: 12 a year
    assert ("D", d("2010-02-28"), False) == (decision.level, *due(decision))


def test_inspection_due_on_the_as_of_date_is_not_overdue() -> None:
    history = History().enforcement(d("2010-01-10"), "suspension").inspection(d("2010-01-31"))
    assert (d("2010-02-28"), False) == due(decide(industry(), history, d("2010-02-28")))


def test_inspection_due_before_the_as_of_date_is_overdue() -> None:
    history = History().enforcement(d("2010-01-10"), "suspension").inspection(d("2010-01-31"))
    assert (d("2010-02-28"), True) == due(decide(industry(), history, d("2010-03-01")))


def test_without_inspection_or_spot_check_the_inspection_is_due_at_t() -> None:
    assert (T, False) == due(decide(food(), History().complaint(d("2010-01-10")), T))


def test_other_records_do_not_count_as_inspections() -> None:
    history = (
        History()
        .passed_check(d("2009-01-10"))
        .complaint(d("2010-01-10"), substantiated=False)
        .enforcement(d("2010-02-10"), "warning")
    )  # low (5 + 5 = 10): due a year after the spot check
    assert (d("2010-01-10"), True) == due(decide(food(), history, T))


def test_voided_inspection_does_not_count() -> None:
    history = (
        History()
        .passed_check(d("2009-01-10"))
        .inspection(d("2010-01-10"), id="I")
        .void(d("2010-02-01"), of="I")
    )
    assert (d("2010-01-10"), True) == due(decide(food(), history, T))


def test_inspection_after_t_does_not_count() -> None:
    history = History().passed_check(d("2009-01-10")).inspection(T + dt.timedelta(days=1))
    assert (d("2010-01-10"), True) == due(decide(food(), history, T))


def test_latest_inspection_or_spot_check_counts() -> None:
    history = History().passed_check(d("2009-01-10")).inspection(d("2009-10-05"))
    assert (d("2010-10-05"), False) == due(decide(food(), history, T))


# --- the pack in every decision -------------------------------------------------------------


def test_decision_names_the_pack_id_and_version() -> None:
    pack = decide(food(), History(), T).pack
    assert ("zhuji", "1.0.0") == (pack.id, pack.version)


def test_decision_carries_the_digest_of_the_loaded_pack() -> None:
    assert PACK.ref.digest == decide(food(), History(), T).pack.digest


def test_pack_digest_is_a_sha256() -> None:
    assert re.fullmatch("sha256:[0-9a-f]{64}", PACK.ref.digest)


def test_pack_digest_is_computed_over_the_pack_files() -> None:
    # As documented in riskgrade.packs.pack_digest: per file in path order, its POSIX path,
    # NUL, its length in decimal, NUL, its bytes.
    folder = ROOT / "rules" / "zhuji"
    hasher = hashlib.sha256()
    for path in sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()):
        data = (folder / path).read_bytes()
        hasher.update(f"{path}\0{len(data)}\0".encode() + data)
    assert "sha256:" + hasher.hexdigest() == PACK.ref.digest


def test_pack_digest_does_not_depend_on_the_folder(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "rules" / "zhuji", tmp_path / "elsewhere")
    assert PACK.ref.digest == load_pack(tmp_path / "elsewhere").ref.digest


def test_pack_digest_changes_with_any_byte_of_a_pack_file(tmp_path: Path) -> None:
    copy = tmp_path / "zhuji"
    shutil.copytree(ROOT / "rules" / "zhuji", copy)
    with (copy / "food.yaml").open("a", encoding="utf-8") as handle:
        handle.write("# edited\n")
    edited = grade_one(copy, food(), History(), T)
    assert (True, "1.0.0") == (PACK.ref.digest != edited.pack.digest, edited.pack.version)


def test_voided_overdue_inspection_does_not_count() -> None:
    history = inspected().void(d("2010-04-01"), of="I")
    assert Decimal("5") == raw_at(food(), history).score
