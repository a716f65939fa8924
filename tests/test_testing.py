"""riskgrade.testing: the helpers users test their own rule packs with."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import find, given, settings

import riskgrade.testing as testing
from riskgrade import Decision, Enterprise, InputError, RecordSet, SpotCheck, load_records
from riskgrade.testing import (
    History,
    assert_level,
    explain_one,
    grade_one,
    level_timeline,
    make_enterprise,
    make_event,
    record_set,
    to_jsonl,
)
from zhuji_support import PACK, ROOT

# --- make_enterprise / make_event -----------------------------------------------------------


def test_make_enterprise_returns_a_validated_enterprise() -> None:
    shop = make_enterprise("E7", scheme="food", attributes={"category": "meat"}, grid="G01")
    assert ("E7", "food", "meat", "G01") == (
        shop.id,
        shop.scheme,
        shop.attributes["category"],
        shop.grid,
    )


def test_make_enterprise_refuses_what_a_file_would_refuse() -> None:
    with pytest.raises(InputError) as raised:
        make_enterprise("E1", colour="red")
    assert "colour" == raised.value.field


def test_make_event_gives_an_id_from_type_and_date() -> None:
    event = make_event("spot_check", "2009-03-01", result="pass")
    assert ("spot_check@2009-03-01", dt.date(2009, 3, 1)) == (event.id, event.date)


def test_make_event_validates_its_fields() -> None:
    with pytest.raises(InputError) as raised:
        make_event("spot_check", "2009-03-01", result="fail")  # a fail needs items
    assert "items" == raised.value.field


def test_make_event_accepts_a_date_object_and_an_enterprise() -> None:
    event = make_event("incident", dt.date(2009, 3, 1), enterprise_id="E2", id="N1")
    assert ("N1", "E2", "incident") == (event.id, event.enterprise_id, event.type)


# --- History --------------------------------------------------------------------------------


def test_history_numbers_events_per_enterprise() -> None:
    history = History("E5").passed_check("2009-01-10").complaint("2009-02-01")
    assert ["E5.1", "E5.2"] == [record["id"] for record in history.dicts()]


def test_history_keeps_given_ids_and_reports_the_last() -> None:
    history = History().failed_check("2009-01-10", "safety", id="S1")
    assert "S1" == history.last_id


def test_history_failed_check_lists_one_item_per_kind() -> None:
    history = History().failed_check("2009-01-10", "safety", "labeling")
    event = history.events()[0]
    assert isinstance(event, SpotCheck)
    assert ("fail", ["safety", "labeling"]) == (event.result, [i.kind for i in event.items])


def test_history_failed_check_defaults_to_one_quality_item() -> None:
    event = History().failed_check("2009-01-10").events()[0]
    assert isinstance(event, SpotCheck)
    assert ["quality"] == [item.kind for item in event.items]


def test_history_builds_every_event_type() -> None:
    history = (
        History()
        .passed_check("2009-01-01", level="national")
        .failed_check("2009-01-02", id="S")
        .recheck("2009-01-03", of="S", result="upheld")
        .inspection("2009-01-04", "minor", deadline="2009-02-04", scores={"hygiene": 5}, id="I")
        .rectification("2009-01-05", of="I", verified=False)
        .enforcement("2009-01-06", "fine", counterfeit=True, intentional=True, amount=500)
        .complaint("2009-01-07", substantiated=False)
        .incident("2009-01-08", description="spoilt batch")
        .void("2009-01-09", of="S", reason="wrong enterprise")
    )
    expected = [
        "spot_check",
        "spot_check",
        "recheck",
        "inspection",
        "rectification",
        "enforcement",
        "complaint",
        "incident",
        "void",
    ]
    assert expected == [event.type for event in history.events()]


def test_history_leaves_out_optional_fields_not_given() -> None:
    record = History().inspection("2009-01-04").dicts()[0]
    assert ["id", "enterprise_id", "date", "type", "outcome"] == list(record)


def test_history_extend_appends_records_unchanged() -> None:
    other = History("E1").incident("2009-05-01", id="N")
    history = History().passed_check("2009-01-01").extend(other)
    assert (2, "N") == (len(history), history.last_id)


def test_history_reports_a_bad_field_when_used() -> None:
    history = History().add("complaint", "2009-01-01", substantiated="yes")
    with pytest.raises(InputError) as raised:
        history.events()
    assert ("substantiated", 1) == (raised.value.field, raised.value.line)


# --- grading --------------------------------------------------------------------------------


def test_grade_one_grades_a_history() -> None:
    shop = make_enterprise(scheme="food", attributes={"category": "packaged"})
    history = History().passed_check("2009-01-10").incident("2009-03-01")
    decision = grade_one(PACK, shop, history, "2009-07-01")
    assert ("high", "worsened", dt.date(2009, 3, 1)) == (
        decision.level,
        decision.transition,
        decision.assessed_on,
    )


def test_grade_one_accepts_a_pack_folder_dicts_and_models_alike() -> None:
    history = History().passed_check("2009-01-10").incident("2009-03-01")
    enterprise = {"id": "E1", "scheme": "food"}
    from_builder = grade_one(PACK, enterprise, history, dt.date(2009, 7, 1))
    from_models = grade_one(
        ROOT / "rules" / "zhuji", Enterprise(id="E1", scheme="food"), history.events(), "2009-07-01"
    )
    assert from_builder.to_json() == from_models.to_json()


def test_grade_one_checks_references_between_events() -> None:
    history = History().recheck("2009-01-10", of="nothing")
    with pytest.raises(InputError) as raised:
        grade_one(PACK, {"id": "E1", "scheme": "food"}, history, "2009-07-01")
    assert "of" == raised.value.field


def test_grade_one_refuses_events_of_another_enterprise() -> None:
    history = History("E2").passed_check("2009-01-10")
    with pytest.raises(InputError) as raised:
        grade_one(PACK, {"id": "E1", "scheme": "food"}, history, "2009-07-01")
    assert "enterprise_id" == raised.value.field


def test_grade_one_renders_texts_in_the_language_asked() -> None:
    decision = grade_one(PACK, {"id": "E1", "scheme": "food"}, [], "2009-07-01", lang="zh")
    assert decision.treatment is not None
    assert "加强监管" not in decision.treatment.measures  # measures, not the plan's label
    assert "培训" in decision.treatment.measures


def test_explain_one_returns_the_timeline() -> None:
    history = History().passed_check("2009-01-10").incident("2009-03-01")
    explanation = explain_one(PACK, {"id": "E1", "scheme": "food"}, history, "2009-07-01")
    assert ["initial", "worsened"] == [step.transition for step in explanation.timeline]


def test_level_timeline_lists_date_level_and_transition() -> None:
    history = History().passed_check("2009-01-10").incident("2009-03-01")
    steps = level_timeline(PACK, {"id": "E1", "scheme": "food"}, history, "2009-07-01")
    expected = [(dt.date(2009, 1, 10), "low", "initial"), (dt.date(2009, 3, 1), "high", "worsened")]
    assert expected == steps


def test_record_set_validates_enterprises_and_events_together() -> None:
    records = record_set([{"id": "E1"}], History().passed_check("2009-01-10"))
    assert isinstance(records, RecordSet)
    assert ("E1.1",) == tuple(event.id for event in records.events_of("E1"))


# --- assert_level ---------------------------------------------------------------------------


def medium_decision() -> Decision:
    return grade_one(PACK, {"id": "E1", "scheme": "food"}, [], "2009-07-01")


def test_assert_level_accepts_a_matching_decision() -> None:
    result = assert_level(  # type: ignore[func-returns-value]
        medium_decision(), "medium", transition="initial", raw_level="low", score="10.0"
    )
    assert result is None


def test_assert_level_compares_scores_as_exact_decimals() -> None:
    result = assert_level(medium_decision(), "medium", score=Decimal("10"))  # type: ignore[func-returns-value]
    assert result is None


def test_assert_level_names_every_differing_field() -> None:
    with pytest.raises(AssertionError) as raised:
        assert_level(medium_decision(), "low", transition="held", previous_level=None)
    message = str(raised.value)
    assert (True, True, False) == (
        "level: expected 'low', got 'medium'" in message,
        "transition: expected 'held', got 'initial'" in message,
        "previous_level" in message,
    )


def test_assert_level_shows_the_reasons_on_failure() -> None:
    with pytest.raises(AssertionError) as raised:
        assert_level(medium_decision(), "high")
    assert "food.floor.no_history" in str(raised.value)


# --- to_jsonl -------------------------------------------------------------------------------


def test_to_jsonl_round_trips_through_the_file_reader() -> None:
    shop = make_enterprise(scheme="food", attributes={"category": "meat"})
    history = (
        History()
        .failed_check("2009-01-10", "safety", id="S")
        .enforcement("2009-02-01", "fine", amount=Decimal("1250.50"))
    )
    records = load_records(io.StringIO(to_jsonl([shop])), io.StringIO(to_jsonl(history.events())))
    assert (history.events(), (shop,)) == (records.events, records.enterprises)


def test_to_jsonl_writes_dates_as_iso_text() -> None:
    text = to_jsonl([make_event("incident", dt.date(2009, 3, 1))])
    assert "2009-03-01" == json.loads(text)["date"]


# --- strategies, loaded lazily --------------------------------------------------------------


def test_importing_riskgrade_testing_does_not_import_hypothesis() -> None:
    code = "import sys, riskgrade.testing; print('hypothesis' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert "False" == result.stdout.strip()


def test_unknown_attribute_of_riskgrade_testing_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        testing.no_such_helper  # noqa: B018


def test_dates_strategy_reaches_29_february() -> None:
    leap = find(testing.dates(), lambda day: (day.month, day.day) == (2, 29))
    assert (2, 29) == (leap.month, leap.day)


@given(testing.dates_near(dt.date(2012, 2, 29)))
def test_dates_near_stays_at_the_window_edges(day: dt.date) -> None:
    edges = {
        dt.date(2012, 2, 29),
        dt.date(2012, 2, 28),
        *(
            dt.date(year, 2, 28) + dt.timedelta(days=k)
            for year in (2009, 2010, 2011)
            for k in (-1, 0, 1)
        ),
    }
    assert day in edges


@settings(max_examples=100, deadline=None)
@given(testing.histories("E1"))
def test_histories_are_valid_records(events: list[dict[str, object]]) -> None:
    records = RecordSet.from_dicts([{"id": "E1"}], events)
    assert len(events) == len(records.events)


@settings(max_examples=100, deadline=None)
@given(testing.histories("E1"))
def test_history_follow_ups_refer_to_earlier_events_they_may_follow(
    events: list[dict[str, object]],
) -> None:
    by_id = {event["id"]: event for event in events}
    wrong = []
    for event in events:
        if "of" not in event:
            continue
        target = by_id.get(event["of"])
        fits = target is not None and str(target["date"]) <= str(event["date"])
        if event["type"] == "recheck":
            fits = fits and target is not None and target.get("result") == "fail"
        if event["type"] == "rectification":
            fits = fits and target is not None and target["type"] in ("inspection", "enforcement")
        if not fits:
            wrong.append(event["id"])
    assert [] == wrong


@settings(max_examples=50, deadline=None)
@given(testing.populations(testing.enterprises(schemes=("food", "industry"))))
def test_populations_are_valid_record_sets(
    population: tuple[list[dict[str, object]], list[dict[str, object]]],
) -> None:
    enterprises, events = population
    records = RecordSet.from_dicts(enterprises, events)
    assert len(enterprises) == len(records.enterprises)


@given(testing.adverse_events(day=dt.date(2009, 3, 1)))
def test_adverse_events_are_adverse(event: dict[str, object]) -> None:
    adverse = (
        (event["type"] == "spot_check" and event["result"] == "fail")
        or event["type"] in ("enforcement", "incident")
        or (event["type"] == "complaint" and event["substantiated"] is True)
        or (event["type"] == "inspection" and event["outcome"] == "major")
    )
    assert (True, 1) == (adverse, len(RecordSet.from_dicts([{"id": "E1"}], [event]).events))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("failed_spot_check", "spot_check"),
        ("enforcement", "enforcement"),
        ("substantiated_complaint", "complaint"),
        ("incident", "incident"),
        ("major_inspection", "inspection"),
    ],
)
def test_adverse_events_can_be_narrowed_to_one_kind(kind: str, expected: str) -> None:
    event = find(testing.adverse_events(day=dt.date(2009, 3, 1), kinds=[kind]), lambda _: True)
    assert expected == event["type"]


def test_grade_one_refuses_an_unknown_engine() -> None:
    with pytest.raises(InputError) as raised:
        grade_one(PACK, {"id": "E1", "scheme": "food"}, [], "2009-07-01", engine="abacus")
    assert "engine" == raised.value.field


def test_the_module_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = testing.__doc__ or ""
    block = []
    for line in doc.split("::\n", 1)[1].splitlines():
        if line and not line.startswith("    "):
            break
        block.append(line.removeprefix("    "))
    code = "\n".join(block)
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    exec(code, namespace)
    assert "low" == namespace["decision"].level  # type: ignore[attr-defined]
