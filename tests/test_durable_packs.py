"""Differential tests under every shipped pack: the durable engine's decisions, explanations and
timelines are byte-identical to the native evaluator's, on synthetic counties and on histories
hypothesis writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from durable_support import (
    SHIPPED_PACKS,
    decisions,
    population,
    random_attributes,
    requires_durable,
)
from riskgrade import Grader, InputError, RecordSet, RulePack, load_pack
from riskgrade.testing import dates, histories

pytestmark = requires_durable

PACK_IDS = [path.name for path in SHIPPED_PACKS]


@pytest.fixture(scope="module", params=SHIPPED_PACKS, ids=PACK_IDS)
def graders(request: pytest.FixtureRequest) -> Iterator[tuple[RulePack, Grader, Grader]]:
    pack = load_pack(request.param)
    durable = Grader(pack, engine="durable")
    yield pack, Grader(pack), durable
    durable.evaluator.close()


def test_every_shipped_pack_is_tested() -> None:
    assert {"zhuji", "cn-2016", "uk-fhrs"} <= set(PACK_IDS)


@pytest.mark.parametrize("as_of", ["2008-01-01", "2009-07-01", "2011-12-31"])
def test_county_decisions_are_identical(
    graders: tuple[RulePack, Grader, Grader], as_of: str
) -> None:
    pack, native, durable = graders
    records = population(pack, enterprises=150, seed=len(pack.ref.id))
    day = dt.date.fromisoformat(as_of)
    assert decisions(durable, records, day) == decisions(native, records, day)


def test_explanations_and_timelines_are_identical(
    graders: tuple[RulePack, Grader, Grader],
) -> None:
    pack, native, durable = graders
    records = population(pack, enterprises=25, seed=7)
    day = dt.date(2009, 7, 1)
    for enterprise in records.enterprises:
        events = records.events_of(enterprise.id)
        expected = native.explain(enterprise, events, day)
        actual = durable.explain(enterprise, events, day)
        assert [d.to_json() for d in actual.timeline] == [d.to_json() for d in expected.timeline]
        assert actual.render("en") == expected.render("en")
        assert actual.render("zh") == expected.render("zh")


# -- hypothesis histories -----------------------------------------------------------------------

START, END = dt.date(2005, 1, 1), dt.date(2012, 12, 31)


@st.composite
def scored_histories(draw: st.DrawFn) -> list[dict[str, object]]:
    """The shared histories of one enterprise, with inspection scores for the packs that read
    them (FHRS steps of 5, a CFDA dynamic score, now and then half a point)."""
    events = draw(histories("E1", dates=dates(START, END)))
    points = st.one_of(
        st.integers(0, 6).map(lambda n: Decimal(5 * n)),
        st.sampled_from([Decimal("2.5"), Decimal("12.5")]),
    )
    for event in events:
        if event["type"] == "inspection" and draw(st.booleans()):
            event["scores"] = {
                "hygiene": draw(points),
                "structure": draw(points),
                "management": draw(points),
                "dynamic": draw(st.integers(0, 60).map(Decimal) | st.just(Decimal("30.5"))),
            }
    return events


@pytest.mark.parametrize("pack_dir", SHIPPED_PACKS, ids=PACK_IDS)
def test_histories_give_identical_decisions(pack_dir: Path) -> None:
    pack = load_pack(pack_dir)
    native, durable = Grader(pack), Grader(pack, engine="durable")

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        events=scored_histories(),
        seed=st.integers(0, 2**16),
        days=st.lists(dates(START, END), min_size=1, max_size=3),
    )
    def check(events: list[dict[str, object]], seed: int, days: list[int]) -> None:
        import random

        rng = random.Random(seed)
        scheme = rng.choice(list(pack.schemes.values()))
        enterprise = {
            "id": "E1",
            "scheme": scheme.name,
            "attributes": random_attributes(scheme, rng),
        }
        try:
            records = RecordSet.from_dicts([enterprise], events)
        except InputError:
            assume(False)  # e.g. a re-test of a voided check: not a valid history
            return
        for as_of in days:
            assert decisions(durable, records, as_of) == decisions(native, records, as_of)

    try:
        check()
    finally:
        durable.evaluator.close()
