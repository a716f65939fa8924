"""The ledger: incremental re-grading equal to the pure function, an append-only audit trail
that verifies, queries, and pack versions."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskgrade._ledger_codec import canonical_record, decode_state, encode_state
from riskgrade.compiled import RulePack, load_pack, load_pack_files
from riskgrade.errors import InputError, PackError, StorageError
from riskgrade.evaluation import Evaluator, FoldState
from riskgrade.grading import Grader
from riskgrade.ledger import Ledger
from riskgrade.packs import PackFiles
from riskgrade.records import (
    Enterprise,
    Event,
    RecordSet,
    parse_enterprise_line,
    parse_event_line,
)
from riskgrade.synthetic import CountySpec, generate_county
from riskgrade.testing import histories as shared_histories

ROOT = Path(__file__).resolve().parents[1]
Record = dict[str, Any]


# --- packs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zhuji() -> RulePack:
    return load_pack(ROOT / "rules" / "zhuji")


def _variant(pack: RulePack) -> RulePack:
    """Zhuji with stricter food bands (version 1.1.0): a second pack version to switch to."""
    files = dict(pack.files.files)
    food = files["food.yaml"].decode("utf-8")
    stricter = (
        food.replace("{level: low, below: 20}", "{level: low, below: 12}")
        .replace("{level: medium, from: 20, below: 40}", "{level: medium, from: 12, below: 30}")
        .replace("{level: high, from: 40}", "{level: high, from: 30}")
    )
    assert stricter != food
    files["food.yaml"] = stricter.encode("utf-8")
    files["pack.yaml"] = files["pack.yaml"].replace(b'version: "1.0.0"', b'version: "1.1.0"')
    return load_pack_files(PackFiles(files=files), name="zhuji-variant")


PACKS: dict[str, RulePack] = {
    name: load_pack(ROOT / "rules" / name)
    for name in ("zhuji", "cn-2016", "uk-fhrs")
    if (ROOT / "rules" / name / "pack.yaml").is_file()
}
VARIANT = _variant(PACKS["zhuji"])

SCHEMES: dict[str, tuple[tuple[str, dict[str, object]], ...]] = {
    "zhuji": (("food", {"category": "dairy"}), ("industry", {}), ("food", {})),
    "cn-2016": (
        (
            "health_food",
            {
                "main_ingredient": "novel",
                "formula": "single",
                "claim": "other",
                "unsuitable": "none",
                "storage": "ambient",
            },
        ),
    ),
    "uk-fhrs": (("fhrs", {}),),
}


# --- strategies ----------------------------------------------------------------------------

DAY0 = dt.date(2006, 1, 1)
PENALTIES = ("warning", "rectification_order", "fine", "confiscation", "suspension", "revocation")


def _enterprise(index: int, scheme: str, attributes: dict[str, object]) -> Record:
    return {
        "id": f"E{index}",
        "scheme": scheme,
        "region": "Datang" if index % 2 else "Diankou",
        "grid": f"G{index % 3}",
        "attributes": attributes,
    }


@st.composite
def histories(draw: st.DrawFn, pack_name: str) -> tuple[list[Record], list[Record]]:
    """Enterprises and events (with corrections and rectifications) in an arrival order in
    which every reference follows its target, but dates arrive in any order."""
    schemes = SCHEMES[pack_name]
    count = draw(st.integers(1, 2))
    enterprises = [_enterprise(i, *draw(st.sampled_from(schemes))) for i in range(count)]
    events: list[Record] = []
    for number in range(draw(st.integers(1, 12))):
        owner = f"E{draw(st.integers(0, count - 1))}"
        day = DAY0 + dt.timedelta(
            days=37 * draw(st.integers(0, 40)) + draw(st.sampled_from((0, 0, 5)))
        )
        base: Record = {"id": f"V{number}", "enterprise_id": owner, "date": day.isoformat()}
        own = [e for e in events if e["enterprise_id"] == owner]
        later = day + dt.timedelta(days=draw(st.integers(0, 200)))
        kind = draw(
            st.sampled_from(
                (
                    "spot_check",
                    "spot_check",
                    "inspection",
                    "enforcement",
                    "complaint",
                    "incident",
                    "rectification",
                    "recheck",
                    "void",
                )
            )
        )
        if kind == "rectification":
            targets = [e for e in own if e["type"] in ("inspection", "enforcement")]
            if targets:
                target = draw(st.sampled_from(targets))
                events.append(
                    {
                        **base,
                        "type": "rectification",
                        "of": target["id"],
                        "date": max(later, dt.date.fromisoformat(target["date"])).isoformat(),
                        "verified": draw(st.booleans()),
                    }
                )
                continue
            kind = "inspection"
        if kind == "recheck":
            targets = [e for e in own if e["type"] == "spot_check" and e["result"] == "fail"]
            if targets:
                target = draw(st.sampled_from(targets))
                events.append(
                    {
                        **base,
                        "type": "recheck",
                        "of": target["id"],
                        "date": max(later, dt.date.fromisoformat(target["date"])).isoformat(),
                        "result": draw(st.sampled_from(("upheld", "overturned"))),
                    }
                )
                continue
            kind = "spot_check"
        if kind == "void":
            if own:
                target = draw(st.sampled_from(own))
                events.append(
                    {
                        **base,
                        "type": "void",
                        "of": target["id"],
                        "reason": "entered in error",
                        "date": max(later, dt.date.fromisoformat(target["date"])).isoformat(),
                    }
                )
                continue
            kind = "complaint"
        if kind == "spot_check":
            failed = draw(st.booleans())
            record: Record = {
                **base,
                "type": "spot_check",
                "result": "fail" if failed else "pass",
                "level": draw(st.sampled_from(("national", "county"))),
            }
            if failed:
                item_kind = draw(
                    st.sampled_from(("quality", "labeling", "safety", "illegal_substance"))
                )
                record["items"] = [{"name": "item", "kind": item_kind}]
        elif kind == "inspection":
            record = {
                **base,
                "type": "inspection",
                "outcome": draw(st.sampled_from(("compliant", "minor", "major"))),
            }
            if draw(st.booleans()):
                record["deadline"] = (
                    day + dt.timedelta(days=draw(st.integers(10, 120)))
                ).isoformat()
            if draw(st.booleans()):
                record["scores"] = {
                    "dynamic": draw(st.integers(0, 60)),
                    "hygiene": 5 * draw(st.integers(0, 5)),
                    "structure": 5 * draw(st.integers(0, 5)),
                    "management": 5 * draw(st.integers(0, 6)),
                }
        elif kind == "enforcement":
            record = {
                **base,
                "type": "enforcement",
                "penalty": draw(st.sampled_from(PENALTIES)),
                "intentional": draw(st.booleans()),
                "counterfeit": draw(st.booleans()),
            }
            if draw(st.booleans()):
                record["deadline"] = (day + dt.timedelta(days=60)).isoformat()
        elif kind == "complaint":
            record = {**base, "type": "complaint", "substantiated": draw(st.booleans())}
        else:
            record = {**base, "type": "incident"}
        events.append(record)
    # Arrival order: random, except that a reference never arrives before its target.
    return enterprises, _references_after_targets(draw(st.permutations(events)))


def _references_after_targets(shuffled: list[Record]) -> list[Record]:
    """Keep the shuffled order, but hold back each reference until its target has arrived."""
    placed: set[str] = set()
    arrival: list[Record] = []
    pending = list(shuffled)
    while pending:
        index = next(i for i, e in enumerate(pending) if e.get("of") in (None, *placed))
        event = pending.pop(index)
        arrival.append(event)
        placed.add(str(event["id"]))
    return arrival


def _parse(enterprises: list[Record], events: list[Record]) -> RecordSet:
    return RecordSet.from_dicts(enterprises, events)


def _ledger(pack: RulePack, path: str = ":memory:") -> Ledger:
    return Ledger.create(path, pack, durable=False)


def _assert_matches_pure_function(
    ledger: Ledger, records: RecordSet, pack_at: Callable[[dt.date], RulePack]
) -> None:
    graders: dict[str, Grader] = {}

    def decide(enterprise: Enterprise, day: dt.date) -> str:
        pack = pack_at(day)
        grader = graders.setdefault(pack.ref.digest, Grader(pack))
        return grader.decide(enterprise, records.events_of(enterprise.id), day).to_json()

    for enterprise in records.enterprises:
        stored = ledger.timeline(enterprise.id)
        for entry in stored:
            assert entry.decision.to_json() == decide(enterprise, entry.assessed_on), (
                enterprise.id,
                entry.assessed_on,
            )
        dates = [e.date for e in records.events_of(enterprise.id)]
        probes = [DAY0 - dt.timedelta(days=1), *dates, dt.date(2011, 6, 30), dt.date(2013, 1, 2)]
        probes += [d + dt.timedelta(days=200) for d in dates]
        for day in probes:
            assert ledger.grade(enterprise.id, day).to_json() == decide(enterprise, day), (
                enterprise.id,
                day,
            )
    report = ledger.verify()
    assert report.ok, report.render()


# --- the law: whatever the arrival order, every stored decision is the pure function's -----


@pytest.mark.parametrize("pack_name", sorted(PACKS))
@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_current_decision_equals_grader_whatever_the_arrival_order(
    pack_name: str, data: st.DataObject
) -> None:
    enterprises, events = data.draw(histories(pack_name))
    records = _parse(enterprises, events)
    pack = PACKS[pack_name]
    with _ledger(pack) as ledger:
        ledger.add_enterprises(records.enterprises)
        for event in records.events:
            ledger.record(event)
        _assert_matches_pure_function(ledger, records, lambda _day: pack)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    effective=st.integers(0, 1500).map(lambda days: DAY0 + dt.timedelta(days=days)),
)
def test_pack_versions_grade_from_their_effective_date(
    data: st.DataObject, effective: dt.date
) -> None:
    enterprises, events = data.draw(histories("zhuji"))
    records = _parse(enterprises, events)
    added_after = data.draw(st.integers(0, len(records.events)))
    original = PACKS["zhuji"]
    with _ledger(original) as ledger:
        ledger.add_enterprises(records.enterprises)
        for number, event in enumerate(records.events):
            if number == added_after:
                ledger.add_pack(VARIANT, effective=effective)
            ledger.record(event)
        if added_after == len(records.events):
            ledger.add_pack(VARIANT, effective=effective)
        _assert_matches_pure_function(
            ledger, records, lambda day: VARIANT if day >= effective else original
        )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), scheme=st.sampled_from(("food", "industry")))
def test_arrival_order_does_not_matter_on_the_shared_histories(
    data: st.DataObject, scheme: str
) -> None:
    # riskgrade.testing's histories: wider dates, whole-year delays and 29 February.
    history = data.draw(shared_histories("E0", max_size=8, max_follow_ups=4))
    arrival = _references_after_targets(data.draw(st.permutations(history)))
    records = _parse([_enterprise(0, scheme, {})], arrival)
    pack = PACKS["zhuji"]
    with _ledger(pack) as ledger:
        ledger.add_enterprises(records.enterprises)
        for event in records.events:
            ledger.record(event)
        _assert_matches_pure_function(ledger, records, lambda _day: pack)


# --- incremental, late, corrections --------------------------------------------------------


def _events(*records: Record) -> list[Event]:
    return [parse_event_line(json.dumps(r), file="test", line=n) for n, r in enumerate(records, 1)]


FOOD = Enterprise(
    id="F1", scheme="food", region="Datang", grid="Datang-01", attributes={"category": "dairy"}
)
WORKS = Enterprise(id="W1", scheme="industry", region="Diankou", grid="Diankou-02")
PASS_2008 = {
    "id": "p1",
    "enterprise_id": "F1",
    "date": "2008-01-10",
    "type": "spot_check",
    "result": "pass",
}
FAIL_2008 = {
    "id": "f1",
    "enterprise_id": "F1",
    "date": "2008-03-01",
    "type": "spot_check",
    "result": "fail",
    "items": [{"name": "melamine", "kind": "illegal_substance"}],
}
PASS_2009 = {
    "id": "p2",
    "enterprise_id": "F1",
    "date": "2009-02-01",
    "type": "spot_check",
    "result": "pass",
}


@pytest.fixture
def ledger(zhuji: RulePack) -> Iterator[Ledger]:
    with _ledger(zhuji) as opened:
        opened.add_enterprises([FOOD, WORKS])
        yield opened


def test_record_returns_the_decision_grader_gives(ledger: Ledger, zhuji: RulePack) -> None:
    events = _events(PASS_2008, FAIL_2008)
    decisions = [ledger.record(event) for event in events]
    grader = Grader(zhuji)
    assert decisions[0].to_json() == grader.decide(FOOD, events, dt.date(2008, 1, 10)).to_json()
    assert decisions[1].to_json() == grader.decide(FOOD, events, dt.date(2008, 3, 1)).to_json()
    assert decisions[1].level == "high"


def test_in_order_record_resumes_the_fold_without_replaying_history(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = _events(PASS_2008, FAIL_2008, PASS_2009)
    ledger.record(first)
    ledger.record(second)

    def no_replay(*args: object, **kwargs: object) -> None:
        raise AssertionError("an in-order record must not replay the history")

    monkeypatch.setattr(Evaluator, "replay", no_replay)
    receipt = ledger.submit(third)
    assert (receipt.late, receipt.resumed_from, receipt.superseded) == (
        False,
        dt.date(2008, 3, 1),
        0,
    )
    assert receipt.decision.assessed_on == dt.date(2009, 2, 1)


def test_reviews_that_came_due_are_stored_when_the_next_record_arrives(ledger: Ledger) -> None:
    first, later = _events(PASS_2008, {**PASS_2009, "date": "2010-06-01"})
    ledger.record(first)
    receipt = ledger.submit(later)
    points = [(d.assessed_on.isoformat(), d.point) for d in ledger.timeline("F1")]
    assert points == [
        ("2008-01-10", "record"),
        ("2009-01-10", "review"),
        ("2010-01-10", "review"),
        ("2010-06-01", "record"),
    ]
    assert receipt.appended == 3


def test_late_record_supersedes_the_decisions_it_changes_and_keeps_them(ledger: Ledger) -> None:
    passed, failed, passed_later = _events(PASS_2008, FAIL_2008, PASS_2009)
    ledger.record(passed)
    ledger.record(passed_later)
    before = {d.seq: d for d in ledger.timeline("F1")}
    receipt = ledger.submit(failed)  # dated between the two already recorded
    assert receipt.late
    assert receipt.resumed_from == dt.date(2008, 1, 10)
    everything = ledger.timeline("F1", superseded=True)
    superseded = [d for d in everything if d.superseded]
    assert {d.seq for d in superseded} == {
        seq for seq, d in before.items() if d.assessed_on >= dt.date(2008, 3, 1)
    }
    assert all(d.superseded_by == "record:f1" for d in superseded)
    assert superseded[0].decision == before[superseded[0].seq].decision  # kept, unchanged
    current = ledger.timeline("F1")
    assert [d.decision.level for d in current] == ["low", "high", "high"]
    assert "f1" in current[-1].inputs


def test_correction_is_a_corrected_transition_and_leaves_earlier_decisions(ledger: Ledger) -> None:
    passed, failed = _events(PASS_2008, FAIL_2008)
    ledger.record(passed)
    assert ledger.record(failed).level == "high"
    (void,) = _events(
        {
            "id": "x1",
            "enterprise_id": "F1",
            "date": "2008-05-01",
            "type": "void",
            "of": "f1",
            "reason": "sample mix-up",
        }
    )
    decision = ledger.record(void)
    assert (decision.transition, decision.previous_level, decision.level) == (
        "corrected",
        "high",
        "low",
    )
    assert [d.decision.level for d in ledger.timeline("F1")] == ["low", "high", "low"]


def test_same_id_same_content_is_a_no_op_returning_the_current_decision(ledger: Ledger) -> None:
    passed, failed = _events(PASS_2008, FAIL_2008)
    ledger.record(passed)
    current = ledger.record(failed)
    count = len(ledger.timeline("F1", superseded=True))
    receipt = ledger.submit(passed)
    assert receipt.duplicate
    assert receipt.decision.to_json() == current.to_json()
    assert len(ledger.timeline("F1", superseded=True)) == count


def test_same_id_different_content_is_an_error_naming_the_field(ledger: Ledger) -> None:
    (passed,) = _events(PASS_2008)
    ledger.record(passed)
    (changed,) = _events({**PASS_2008, "level": "national"})
    with pytest.raises(InputError) as caught:
        ledger.record(changed)
    assert (caught.value.field, caught.value.event) == ("level", "p1")


def test_same_enterprise_id_with_different_content_is_an_error(ledger: Ledger) -> None:
    assert ledger.add_enterprise(FOOD) is False
    with pytest.raises(InputError, match="already stored with different content") as caught:
        ledger.add_enterprise(FOOD.model_copy(update={"grid": "Datang-09"}))
    assert caught.value.field == "grid"


def test_record_naming_an_unknown_enterprise_suggests_the_closest(ledger: Ledger) -> None:
    (event,) = _events({**PASS_2008, "enterprise_id": "F11"})
    with pytest.raises(InputError) as caught:
        ledger.record(event)
    assert (caught.value.field, caught.value.suggestion) == ("enterprise_id", "F1")


@pytest.mark.parametrize(
    "bad",
    [
        {
            "id": "r1",
            "enterprise_id": "F1",
            "date": "2008-02-01",
            "type": "recheck",
            "of": "p1",
            "result": "overturned",
        },
        {
            "id": "v1",
            "enterprise_id": "F1",
            "date": "2007-01-01",
            "type": "void",
            "of": "p1",
            "reason": "x",
        },
        {
            "id": "v2",
            "enterprise_id": "W1",
            "date": "2009-01-01",
            "type": "void",
            "of": "p1",
            "reason": "x",
        },
        {
            "id": "v3",
            "enterprise_id": "F1",
            "date": "2009-01-01",
            "type": "void",
            "of": "p9",
            "reason": "x",
        },
        {
            "id": "c1",
            "enterprise_id": "F1",
            "date": "2009-01-01",
            "type": "rectification",
            "of": "p1",
        },
    ],
    ids=[
        "recheck-of-pass",
        "void-before-target",
        "other-enterprise",
        "unknown-target",
        "rectify-check",
    ],
)
def test_references_are_checked_as_recordset_checks_them(ledger: Ledger, bad: Record) -> None:
    (passed,) = _events(PASS_2008)
    ledger.record(passed)
    with pytest.raises(InputError) as expected:
        RecordSet.from_dicts([FOOD.model_dump(), WORKS.model_dump()], [PASS_2008, bad])
    (event,) = _events(bad)
    with pytest.raises(InputError) as caught:
        ledger.record(event)
    assert (caught.value.message, caught.value.field) == (
        expected.value.message,
        expected.value.field,
    )
    assert [e.id for e in ledger.events("F1")] == ["p1"]  # nothing stored


def test_grade_before_any_record_is_the_assessment_at_that_date(
    ledger: Ledger, zhuji: RulePack
) -> None:
    day = dt.date(2007, 5, 5)
    assert ledger.grade("W1", day).to_json() == Grader(zhuji).decide(WORKS, [], day).to_json()


def test_apply_reviews_stores_the_reviews_after_the_latest_record(ledger: Ledger) -> None:
    (passed,) = _events(PASS_2008)
    ledger.record(passed)
    assert ledger.apply_reviews(dt.date(2010, 3, 1)) == 2
    assert [d.point for d in ledger.timeline("F1")] == ["record", "review", "review"]
    assert ledger.apply_reviews(dt.date(2010, 3, 1)) == 0
    assert ledger.verify().ok


# --- queries -------------------------------------------------------------------------------


def test_at_level_and_due_agree_with_grader_on_a_county(zhuji: RulePack) -> None:
    enterprises, events = generate_county(CountySpec(enterprises=40, records_per_enterprise=8))
    records = RecordSet.from_dicts(enterprises, events)
    grader = Grader(zhuji)
    with _ledger(zhuji) as ledger:
        ledger.add_enterprises(records.enterprises)
        ledger.record_many(records.events)
        as_of, by = dt.date(2009, 7, 1), dt.date(2009, 9, 30)
        decisions = {
            e.id: grader.decide(e, records.events_of(e.id), as_of) for e in records.enterprises
        }
        assert ledger.at_level("C", as_of) == tuple(
            i for i, d in decisions.items() if d.level == "C"
        )
        assert ledger.at_level("high", as_of, scheme="food") == tuple(
            i for i, d in decisions.items() if d.level == "high"
        )
        due = ledger.due(by, as_of=as_of, region="Datang")
        expected = sorted(
            (d.treatment.next_inspection_due, e.grid or "", e.id)
            for e in records.enterprises
            if e.region == "Datang"
            and (d := decisions[e.id]).treatment is not None
            and d.treatment.next_inspection_due <= by
        )
        assert [(d.next_inspection_due, d.grid, d.enterprise_id) for d in due] == expected
        assert all(d.overdue == (d.next_inspection_due < as_of) for d in due)
        grid = due[0].grid
        assert ledger.due(by, as_of=as_of, region="Datang", grid=grid) == tuple(
            d for d in due if d.grid == grid
        )
        assert [d.to_json() for d in ledger.grade_all(as_of)] == [
            d.to_json() for d in decisions.values()
        ]


# --- the audit trail -----------------------------------------------------------------------


@pytest.fixture
def ledger_file(tmp_path: Path, zhuji: RulePack) -> Path:
    path = tmp_path / "county.db"
    passed, failed, passed_later = _events(PASS_2008, FAIL_2008, PASS_2009)
    with Ledger.create(path, zhuji) as ledger:
        ledger.add_enterprises([FOOD, WORKS])
        for event in (passed, passed_later, failed):  # failed arrives late: a supersession
            ledger.record(event)
    return path


def _tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for name in [
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
    ]:
        conn.execute(f"DROP TRIGGER {name}")
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def _kinds(path: Path) -> set[str]:
    with Ledger.open(path) as ledger:
        report = ledger.verify()
    return {p.kind for p in report.problems if p.kind != "schema"}


def test_a_fresh_ledger_verifies(ledger_file: Path) -> None:
    with Ledger.open(ledger_file) as ledger:
        report = ledger.verify()
    assert report.ok, report.render()
    assert report.counts["supersessions"] == 2
    assert report.counts["decisions re-graded"] == report.counts["current decisions"] == 3


def test_tables_refuse_update_and_delete(ledger_file: Path) -> None:
    conn = sqlite3.connect(ledger_file)
    for statement in (
        "UPDATE decisions SET level = 'low'",
        "DELETE FROM supersessions",
        "UPDATE records SET content = '{}'",
        "DELETE FROM pack_files",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    conn.close()


def test_verify_reports_dropped_triggers(ledger_file: Path) -> None:
    _tamper(ledger_file)
    with Ledger.open(ledger_file) as ledger:
        report = ledger.verify()
    assert {p.kind for p in report.problems} == {"schema"}


def test_verify_reports_an_edited_decision(ledger_file: Path) -> None:
    _tamper(
        ledger_file,
        "UPDATE decisions SET decision = replace(decision, '\"high\"', '\"low\"'),"
        " level = 'low' WHERE level = 'high'",
    )
    assert {"hash", "regrade"} <= _kinds(ledger_file)


def test_verify_reports_a_decision_edited_with_its_hash_recomputed(ledger_file: Path) -> None:
    from riskgrade._ledger_store import row_hash

    conn = sqlite3.connect(ledger_file)
    conn.row_factory = sqlite3.Row
    row = dict(
        conn.execute(
            "SELECT * FROM decisions WHERE level = 'high' ORDER BY pos DESC LIMIT 1"
        ).fetchone()
    )
    conn.close()
    row["decision"] = row["decision"].replace('"high"', '"low"')
    row["level"] = "low"
    forged = row_hash("decisions", row, row["prev_hash"])
    _tamper(
        ledger_file,
        f"UPDATE decisions SET decision = '{row['decision']}', level = 'low',"
        f" hash = '{forged}' WHERE seq = {row['seq']}",
    )
    assert "regrade" in _kinds(ledger_file)


def test_verify_reports_a_removed_supersession(ledger_file: Path) -> None:
    _tamper(ledger_file, "DELETE FROM supersessions WHERE seq = 1")
    assert {"chain", "regrade"} <= _kinds(ledger_file)


def test_verify_reports_an_edited_record(ledger_file: Path) -> None:
    _tamper(
        ledger_file,
        "UPDATE records SET content = replace(content, 'melamine', 'starch') WHERE id = 'f1'",
    )
    assert {"hash"} <= _kinds(ledger_file)


def test_verify_reports_a_deleted_record(ledger_file: Path) -> None:
    _tamper(ledger_file, "DELETE FROM records WHERE id = 'p2'")
    assert {"chain", "inputs"} <= _kinds(ledger_file)


def test_verify_reports_a_changed_pack_file_and_grading_refuses_it(ledger_file: Path) -> None:
    _tamper(
        ledger_file,
        "UPDATE pack_files SET data = CAST(replace(CAST(data AS TEXT), 'below: 20', 'below: 25')"
        " AS BLOB) WHERE path = 'food.yaml'",
    )
    assert "pack" in _kinds(ledger_file)
    with Ledger.open(ledger_file) as ledger, pytest.raises(StorageError, match="now digest to"):
        ledger.grade("F1", dt.date(2009, 1, 1))


# --- pack versions -------------------------------------------------------------------------


def test_new_pack_version_regrades_from_its_date_and_older_decisions_keep_theirs(
    ledger: Ledger, zhuji: RulePack
) -> None:
    for event in _events(PASS_2008, FAIL_2008, PASS_2009):
        ledger.record(event)
    version = ledger.add_pack(VARIANT, effective=dt.date(2008, 6, 1))
    assert [v.ref.version for v in ledger.packs()] == ["1.0.0", "1.1.0"]
    digests = [(d.assessed_on.isoformat(), d.pack_digest) for d in ledger.timeline("F1")]
    assert digests == [
        ("2008-01-10", zhuji.ref.digest),
        ("2008-03-01", zhuji.ref.digest),
        ("2009-02-01", VARIANT.ref.digest),
    ]
    superseded = [d for d in ledger.timeline("F1", superseded=True) if d.superseded]
    assert [d.superseded_by for d in superseded] == [f"pack:{version.seq}"]
    assert ledger.verify().ok


def test_a_pack_that_cannot_grade_a_stored_enterprise_is_refused(ledger: Ledger) -> None:
    if "uk-fhrs" not in PACKS:
        pytest.skip("uk-fhrs pack not present")
    with pytest.raises(PackError, match="cannot grade 'F1'"):
        ledger.add_pack(PACKS["uk-fhrs"], effective=dt.date(2009, 1, 1))
    assert len(ledger.packs()) == 1


def test_no_pack_in_force_is_an_input_error(zhuji: RulePack) -> None:
    with Ledger.create(":memory:", zhuji, effective=dt.date(2009, 1, 1)) as ledger:
        ledger.add_enterprise(FOOD)
        (early,) = _events(PASS_2008)
        with pytest.raises(InputError, match="no rule pack is in force on 2008-01-10"):
            ledger.record(early)
        assert ledger.events("F1") == ()


# --- opening, storage ----------------------------------------------------------------------


def test_open_refuses_a_file_that_is_not_a_ledger(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(StorageError, match="not a riskgrade ledger"):
        Ledger.open(other)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all, just text" * 100)
    with pytest.raises(StorageError):
        Ledger.open(garbage)
    with pytest.raises(InputError, match="no such file"):
        Ledger.open(tmp_path / "missing.db")


def test_create_refuses_an_existing_file(ledger_file: Path, zhuji: RulePack) -> None:
    with pytest.raises(InputError, match="already exists"):
        Ledger.create(ledger_file, zhuji)


def test_a_reopened_ledger_continues_where_it_stopped(ledger_file: Path, zhuji: RulePack) -> None:
    with Ledger.open(ledger_file) as ledger:
        (late,) = _events({**PASS_2009, "id": "p3", "date": "2009-05-05"})
        decision = ledger.record(late)
        assert ledger.lang == "en"
        assert ledger.verify().ok
    events = _events(
        PASS_2008, FAIL_2008, PASS_2009, {**PASS_2009, "id": "p3", "date": "2009-05-05"}
    )
    assert decision.to_json() == Grader(zhuji).decide(FOOD, events, dt.date(2009, 5, 5)).to_json()


def test_stored_records_read_back_equal(zhuji: RulePack) -> None:
    enterprises, events = generate_county(CountySpec(enterprises=30, records_per_enterprise=10))
    records = RecordSet.from_dicts(enterprises, events)
    for enterprise in records.enterprises:
        text = canonical_record(enterprise)
        assert parse_enterprise_line(text, file="t", line=1) == enterprise
    for event in records.events:
        text = canonical_record(event)
        assert parse_event_line(text, file="t", line=1) == event
        assert canonical_record(parse_event_line(text, file="t", line=1)) == text
    odd = parse_event_line(
        '{"id":"a","enterprise_id":"b","date":"2009-01-01","type":"enforcement",'
        '"penalty":"fine","amount":1.50E+3}',
        file="t",
        line=1,
    )
    assert parse_event_line(canonical_record(odd), file="t", line=1).amount == Decimal("1500")


def test_fold_state_round_trips_and_a_changed_shape_is_refused() -> None:
    state = FoldState(
        level=2,
        since=dt.date(2008, 1, 1),
        initial_on=dt.date(2007, 2, 28),
        clean_years=1,
        anchor=dt.date(2008, 3, 1),
        reviews=2,
    )
    assert decode_state(encode_state(state), where="t") == state
    with pytest.raises(StorageError, match="fields"):
        decode_state('{"level": 1}', where="t")


def test_due_date_follows_the_as_of_date_until_a_record_fixes_it(
    ledger: Ledger, zhuji: RulePack
) -> None:
    # Regression: a decision read back for a later date kept its own date as the due date.
    (complaint,) = _events(
        {"id": "c1", "enterprise_id": "W1", "date": "2008-02-02", "type": "complaint",
         "substantiated": False}
    )  # fmt: skip
    ledger.record(complaint)
    day = dt.date(2008, 3, 3)
    decision = ledger.grade("W1", day)
    assert decision.treatment is not None
    assert (decision.treatment.next_inspection_due, decision.treatment.overdue) == (day, False)
    assert decision.to_json() == Grader(zhuji).decide(WORKS, [complaint], day).to_json()
    (due,) = ledger.due(day, region="Diankou")
    assert (due.enterprise_id, due.next_inspection_due, due.overdue) == ("W1", day, False)
