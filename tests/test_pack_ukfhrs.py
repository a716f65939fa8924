"""The shipped pack ``rules/uk-fhrs``: the Food Hygiene Rating Scheme.

The rating is the lower of the rating by the total and the rating by the largest single score
(each cap of DOMAIN.md's table is tested at its boundary, and every valid score triple against
the table as written); "broadly compliant" is a flag; each inspection sets the rating afresh;
an establishment never inspected has no rating.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from riskgrade import Decision, Grader, RecordSet, RulePack, load_pack
from riskgrade.cli import main

PACK_DIR = Path(__file__).resolve().parent.parent / "rules" / "uk-fhrs"
BROADLY_COMPLIANT = "fhrs.broadly_compliant"


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_pack(PACK_DIR)


def scored(
    event_id: str, date: str, hygiene: int, structure: int, management: int
) -> dict[str, object]:
    return {
        "id": event_id,
        "enterprise_id": "E1",
        "date": date,
        "type": "inspection",
        "outcome": "compliant",
        "scores": {"hygiene": hygiene, "structure": structure, "management": management},
    }


def decide(pack: RulePack, events: Sequence[Mapping[str, object]], as_of: str) -> Decision:
    records = RecordSet.from_dicts([{"id": "E1"}], events)
    subject = records.enterprises[0]
    return Grader(pack).decide(subject, records.events_of(subject.id), dt.date.fromisoformat(as_of))


def rate(pack: RulePack, hygiene: int, structure: int, management: int) -> str | None:
    return decide(
        pack, [scored("i1", "2020-03-01", hygiene, structure, management)], "2020-06-01"
    ).level


def reference_rating(scores: tuple[int, int, int]) -> str:
    """DOMAIN.md's table, as written."""
    total, largest = sum(scores), max(scores)
    for rating, most, highest in (
        ("5", 15, 5),
        ("4", 20, 10),
        ("3", 30, 10),
        ("2", 40, 15),
        ("1", 50, 20),
    ):
        if total <= most and largest <= highest:
            return rating
    return "0"


def test_the_pack_checks_clean() -> None:
    assert main(["check", str(PACK_DIR)]) == 0


@pytest.mark.parametrize(
    ("scores", "rating"),
    [
        ((0, 0, 0), "5"),
        ((5, 5, 5), "5"),  # total 15, none above 5
        ((10, 5, 0), "4"),  # total 15 with a 10 → 4
        ((10, 10, 0), "4"),  # total 20, none above 10
        ((10, 10, 5), "3"),  # total 25 → 3
        ((10, 10, 10), "3"),  # total 30, none above 10
        ((15, 0, 0), "2"),  # total 15 but a 15 → 2
        ((15, 15, 10), "2"),  # total 40, none above 15
        ((15, 15, 15), "1"),  # total 45 → 1
        ((20, 0, 0), "1"),  # a 20 → 1
        ((20, 20, 10), "1"),  # total 50, none above 20
        ((20, 20, 15), "0"),  # total 55 → 0
        ((25, 0, 0), "0"),  # a 25 → 0
        ((0, 0, 30), "0"),  # a 30 → 0
    ],
)
def test_each_cap_of_the_table(pack: RulePack, scores: tuple[int, int, int], rating: str) -> None:
    assert rate(pack, *scores) == rating


def test_the_lower_rating_wins_when_the_largest_score_is_worse(pack: RulePack) -> None:
    # By the total (25) the rating is 3; by the largest score (25) it is 0.
    assert rate(pack, 25, 0, 0) == "0"


def test_the_lower_rating_wins_when_the_total_is_worse(pack: RulePack) -> None:
    # By the largest score (10) the rating is 4; by the total (30) it is 3.
    assert rate(pack, 10, 10, 10) == "3"


def test_every_valid_score_triple_follows_the_table(pack: RulePack) -> None:
    grader = Grader(pack)
    triples = list(itertools.product(range(0, 30, 5), range(0, 30, 5), range(0, 35, 5)))
    events = [
        scored(f"i{n}", "2020-03-01", *triple) | {"enterprise_id": f"E{n}"}
        for n, triple in enumerate(triples)
    ]
    records = RecordSet.from_dicts([{"id": f"E{n}"} for n in range(len(triples))], events)
    decisions = grader.grade(records, dt.date(2020, 6, 1))
    assert [d.level for d in decisions] == [reference_rating(t) for t in triples]


def test_the_reported_score_is_the_total(pack: RulePack) -> None:
    decision = decide(pack, [scored("i1", "2020-03-01", 10, 5, 15)], "2020-06-01")
    assert decision.score == 30


@pytest.mark.parametrize(
    ("scores", "flagged"),
    [((10, 10, 10), True), ((0, 0, 0), True), ((15, 0, 0), False), ((0, 0, 15), False)],
)
def test_broadly_compliant_when_no_score_is_above_ten(
    pack: RulePack, scores: tuple[int, int, int], flagged: bool
) -> None:
    decision = decide(pack, [scored("i1", "2020-03-01", *scores)], "2020-06-01")
    assert (BROADLY_COMPLIANT in [r.rule for r in decision.reasons]) is flagged


def test_the_broadly_compliant_flag_has_no_points_and_names_the_inspection(
    pack: RulePack,
) -> None:
    events = [scored("i0", "2019-03-01", 20, 20, 20), scored("i1", "2020-03-01", 5, 5, 5)]
    flag = next(
        r for r in decide(pack, events, "2020-06-01").reasons if r.rule == BROADLY_COMPLIANT
    )
    assert (flag.points, flag.evidence) == (None, ("i1",))


def test_a_perfect_inspection_is_still_named_among_the_reasons(pack: RulePack) -> None:
    decision = decide(pack, [scored("i1", "2020-03-01", 0, 0, 0)], "2020-06-01")
    assert [(r.rule, r.points, r.evidence) for r in decision.reasons[:2]] == [
        ("fhrs.total", Decimal(0), ("i1",)),
        ("fhrs.largest", Decimal(0), ("i1",)),
    ]


def test_never_inspected_has_no_rating_and_says_why(pack: RulePack) -> None:
    decision = decide(pack, [], "2020-06-01")
    assert (decision.level, [r.rule for r in decision.reasons]) == (
        None,
        ["fhrs.requires.inspection"],
    )


def test_never_inspected_is_due_an_inspection_at_once(pack: RulePack) -> None:
    decision = decide(pack, [], "2020-06-01")
    assert decision.treatment is not None
    assert (decision.treatment.name, decision.treatment.next_inspection_due) == (
        "awaiting_inspection",
        dt.date(2020, 6, 1),
    )


def test_an_inspection_without_the_three_scores_does_not_rate(pack: RulePack) -> None:
    partial = scored("i1", "2020-03-01", 5, 5, 5)
    partial["scores"] = {"hygiene": 5, "structure": 5}
    assert decide(pack, [partial], "2020-06-01").level is None


def test_a_worse_inspection_lowers_the_rating_at_once(pack: RulePack) -> None:
    events = [scored("i1", "2020-03-01", 0, 0, 0), scored("i2", "2020-09-01", 15, 15, 15)]
    decision = decide(pack, events, "2020-09-01")
    assert (decision.previous_level, decision.level, decision.transition) == ("5", "1", "worsened")


def test_a_better_inspection_raises_the_rating_at_once(pack: RulePack) -> None:
    # No hysteresis: a revisit a week later sets the rating afresh.
    events = [scored("i1", "2020-03-01", 15, 15, 15), scored("i2", "2020-03-08", 0, 0, 0)]
    decision = decide(pack, events, "2020-03-08")
    assert (decision.previous_level, decision.level, decision.transition) == ("1", "5", "improved")


def test_the_latest_inspection_counts_whatever_the_arrival_order(pack: RulePack) -> None:
    events = [scored("i2", "2020-09-01", 15, 15, 15), scored("i1", "2020-03-01", 0, 0, 0)]
    assert decide(pack, events, "2020-12-01").level == "1"


def test_voiding_the_latest_inspection_restores_the_one_before(pack: RulePack) -> None:
    void = {
        "id": "v1",
        "enterprise_id": "E1",
        "date": "2020-10-01",
        "type": "void",
        "of": "i2",
        "reason": "entered against the wrong premises",
    }
    events = [scored("i1", "2020-03-01", 0, 0, 0), scored("i2", "2020-09-01", 15, 15, 15), void]
    decision = decide(pack, events, "2020-10-01")
    assert (decision.level, decision.transition) == ("5", "corrected")
