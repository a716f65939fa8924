"""The synthetic county: deterministic, plausible, and every record within the contract."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskgrade.dates import add_years
from riskgrade.errors import InputError
from riskgrade.synthetic import CountySpec, generate_county, iter_population, write_population

Record = dict[str, Any]
ROOT = Path(__file__).resolve().parents[1]

# --- an independent checker of CONTRACT.md's record shapes ------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

ENTERPRISE_FIELDS = {
    "id", "scheme", "name", "region", "grid", "industry", "uscc", "registered_on", "attributes",
}  # fmt: skip
REGIONS = {"Datang", "Diankou", "Shanxiahu", "Jiyang", "Taozhu", "Huandong"}
INDUSTRIES = {"socks", "hardware", "plumbing", "pearls"}
CATEGORIES = {"infant", "special", "dairy", "meat", "perishable", "packaged"}
COMMON = {"id", "enterprise_id", "date", "type"}
EVENT_FIELDS = {
    "spot_check": ({"result"}, {"items", "level"}),
    "recheck": ({"of", "result"}, set()),
    "inspection": ({"outcome"}, {"deadline", "scores"}),
    "rectification": ({"of"}, {"verified"}),
    "enforcement": ({"penalty"}, {"counterfeit", "intentional", "amount", "deadline"}),
    "complaint": ({"substantiated"}, set()),
    "incident": (set(), {"description"}),
    "void": ({"of", "reason"}, set()),
}
ITEM_KINDS = {"safety", "quality", "labeling", "illegal_substance"}
CHECK_LEVELS = {"national", "provincial", "municipal", "county"}
PENALTIES = {
    "warning", "rectification_order", "fine", "confiscation", "suspension", "revocation",
    "criminal_referral",
}  # fmt: skip


def uscc_is_valid(code: str) -> bool:
    if len(code) != 18 or any(char not in USCC_ALPHABET for char in code):
        return False
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(code[:17], USCC_WEIGHTS, strict=True))
    return code[17] == USCC_ALPHABET[(31 - total % 31) % 31]


def parse_date(text: object) -> dt.date:
    assert isinstance(text, str), text
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", text), text
    return dt.date.fromisoformat(text)


def check_enterprise(record: Record, as_of: dt.date) -> None:
    assert set(record) <= ENTERPRISE_FIELDS, record
    assert isinstance(record["id"], str)
    assert re.fullmatch(r"E\d{6,}", record["id"])
    assert record["scheme"] in {"food", "industry"}
    assert isinstance(record["name"], str)
    assert record["name"]
    assert record["region"] in REGIONS
    assert re.fullmatch(re.escape(record["region"]) + r"-\d{2,}", record["grid"])
    if record["scheme"] == "industry":
        assert record["industry"] in INDUSTRIES
        assert "attributes" not in record
    else:
        assert "industry" not in record
        assert set(record.get("attributes", {})) <= {"category"}
        assert record.get("attributes", {}).get("category", "infant") in CATEGORIES
    if "uscc" in record:
        assert uscc_is_valid(record["uscc"]), record["uscc"]
        assert record["uscc"][:2] == "91"
        assert record["uscc"][2:8] in {"330681", "330600"}
    if "registered_on" in record:
        assert parse_date(record["registered_on"]) < as_of


def check_event(event: Record) -> None:
    kind = event["type"]
    assert kind in EVENT_FIELDS, kind
    required, optional = EVENT_FIELDS[kind]
    assert COMMON | required <= set(event) <= COMMON | required | optional, event
    assert re.fullmatch(r"V\d{8,}", event["id"])
    if kind == "spot_check":
        assert event["result"] in {"pass", "fail"}
        assert event.get("level", "county") in CHECK_LEVELS
        items = event.get("items", [])
        assert isinstance(items, list)
        if event["result"] == "fail":
            assert items, event
        for item in items:
            assert set(item) == {"name", "kind"}
            assert isinstance(item["name"], str)
            assert item["kind"] in ITEM_KINDS
    elif kind == "recheck":
        assert event["result"] in {"upheld", "overturned"}
    elif kind == "inspection":
        assert event["outcome"] in {"compliant", "minor", "major"}
        if "deadline" in event:
            assert event["outcome"] != "compliant"
            assert parse_date(event["deadline"]) > parse_date(event["date"])
        scores = event.get("scores", {})
        for name, limit in (("hygiene", 25), ("structure", 25), ("management", 30)):
            if name in scores:
                assert scores[name] in range(0, limit + 1, 5), scores
        if "dynamic" in scores:
            assert scores["dynamic"] in range(61), scores
    elif kind == "rectification":
        assert isinstance(event.get("verified", True), bool)
    elif kind == "enforcement":
        assert event["penalty"] in PENALTIES
        assert isinstance(event.get("counterfeit", False), bool)
        assert isinstance(event.get("intentional", False), bool)
        if "amount" in event:
            assert isinstance(event["amount"], int | float)
            assert event["amount"] >= 0
        if "deadline" in event:
            assert parse_date(event["deadline"]) > parse_date(event["date"])
    elif kind == "complaint":
        assert isinstance(event["substantiated"], bool)
    elif kind == "incident":
        assert isinstance(event.get("description", ""), str)
    elif kind == "void":
        assert isinstance(event["reason"], str)
        assert event["reason"]


def check_population(spec: CountySpec, enterprises: list[Record], events: list[Record]) -> None:
    """Every record within the contract and the spec; every reference sound."""
    first = add_years(spec.as_of, -spec.years)
    ids = [record["id"] for record in enterprises]
    assert len(ids) == len(set(ids)) == spec.enterprises
    for record in enterprises:
        check_enterprise(record, spec.as_of)
    by_id: dict[str, Record] = {}
    for event in events:
        check_event(event)
        assert event["id"] not in by_id, event["id"]
        by_id[event["id"]] = event
        assert first < parse_date(event["date"]) <= spec.as_of, event
    known = set(ids)
    registered = {r["id"]: r["registered_on"] for r in enterprises if "registered_on" in r}
    schemes = {record["id"]: record["scheme"] for record in enterprises}
    for event in events:
        assert event["enterprise_id"] in known
        assert registered.get(event["enterprise_id"], "") < event["date"]
        if event["type"] == "incident":
            assert schemes[event["enterprise_id"]] == "food"
        if "of" not in event:
            continue
        target = by_id[event["of"]]
        assert target["enterprise_id"] == event["enterprise_id"], event
        assert target["date"] <= event["date"], event
        if event["type"] == "recheck":
            assert target["type"] == "spot_check"
            assert target["result"] == "fail"
            assert target["date"] < event["date"]
        elif event["type"] == "rectification":
            assert target["type"] in {"inspection", "enforcement"}
            assert "deadline" in target
        else:
            assert target["type"] not in {"void", "recheck"}, event


def lines(path: Path) -> list[Record]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def county() -> tuple[list[Record], list[Record]]:
    return generate_county()


SMALL = CountySpec(seed=7, enterprises=120, grids=12)

# --- tests -------------------------------------------------------------------------------------


def test_default_county_matches_the_contract(county: tuple[list[Record], list[Record]]) -> None:
    check_population(CountySpec(), *county)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=-(2**40), max_value=2**40),
    enterprises=st.integers(min_value=0, max_value=25),
    grids=st.integers(min_value=6, max_value=300),
    as_of=st.dates(min_value=dt.date(1995, 1, 1), max_value=dt.date(2035, 12, 31)),
    years=st.integers(min_value=1, max_value=5),
    records=st.floats(min_value=0, max_value=40),
    food_share=st.floats(min_value=0, max_value=1),
    late_share=st.floats(min_value=0, max_value=1),
    correction_share=st.floats(min_value=0, max_value=1),
    with_scores=st.booleans(),
)
def test_any_spec_gives_records_within_the_contract(
    seed: int,
    enterprises: int,
    grids: int,
    as_of: dt.date,
    years: int,
    records: float,
    food_share: float,
    late_share: float,
    correction_share: float,
    with_scores: bool,
) -> None:
    spec = CountySpec(
        seed=seed,
        enterprises=enterprises,
        grids=grids,
        as_of=as_of,
        years=years,
        records_per_enterprise=records,
        food_share=food_share,
        late_share=late_share,
        correction_share=correction_share,
        with_scores=with_scores,
    )
    check_population(spec, *generate_county(spec))


def test_the_same_spec_gives_the_same_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        write_population(SMALL, tmp_path / name / "e.jsonl", tmp_path / name / "v.jsonl")
    for file in ("e.jsonl", "v.jsonl"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    assert generate_county(SMALL) == generate_county(SMALL)


def test_another_seed_gives_another_county() -> None:
    other = CountySpec(seed=8, enterprises=120, grids=12)
    assert generate_county(SMALL) != generate_county(other)


def test_every_scheme_and_event_type_occurs_in_the_default_county(
    county: tuple[list[Record], list[Record]],
) -> None:
    enterprises, events = county
    assert {e["scheme"] for e in enterprises} == {"food", "industry"}
    assert {e["type"] for e in events} == set(EVENT_FIELDS)
    assert {e["region"] for e in enterprises} == REGIONS
    assert {e["industry"] for e in enterprises if "industry" in e} == INDUSTRIES
    categories = {e.get("attributes", {}).get("category") for e in enterprises}
    assert categories == CATEGORIES | {None}
    assert {e["penalty"] for e in events if e["type"] == "enforcement"} == PENALTIES
    assert {e["outcome"] for e in events if e["type"] == "inspection"} == {
        "compliant", "minor", "major",
    }  # fmt: skip
    assert {e["result"] for e in events if e["type"] == "recheck"} == {"upheld", "overturned"}
    kinds = {item["kind"] for e in events for item in e.get("items", [])}
    assert kinds == ITEM_KINDS


def test_the_default_county_has_the_documented_size(
    county: tuple[list[Record], list[Record]],
) -> None:
    enterprises, events = county
    assert len(enterprises) == 400
    assert len({e["grid"] for e in enterprises}) > 50
    assert 0.85 * 8 * 400 < len(events) < 1.15 * 8 * 400
    assert 0.4 < sum("uscc" in e for e in enterprises) / 400 < 0.6
    assert 0.45 < sum(e["scheme"] == "food" for e in enterprises) / 400 < 0.65


def test_records_per_enterprise_is_the_mean() -> None:
    for mean in (8.0, 20.0):
        spec = CountySpec(enterprises=3000, records_per_enterprise=mean, grids=300)
        count = sum(len(events) for _, events in iter_population(spec))
        assert 0.93 * mean < count / spec.enterprises < 1.07 * mean


def test_corrections_are_about_their_share() -> None:
    spec = CountySpec(enterprises=3000, records_per_enterprise=20, correction_share=0.05)
    types = Counter(e["type"] for _, events in iter_population(spec) for e in events)
    share = (types["void"] + types["recheck"]) / sum(types.values())
    assert 0.03 < share < 0.07


def test_most_enterprises_are_good_and_a_tail_is_bad(
    county: tuple[list[Record], list[Record]],
) -> None:
    enterprises, events = county
    failed = Counter(e["enterprise_id"] for e in events if e.get("result") == "fail")
    assert sum(1 for e in enterprises if failed[e["id"]] == 0) > 0.5 * len(enterprises)
    assert sum(1 for e in enterprises if failed[e["id"]] >= 3) > 0.03 * len(enterprises)


def test_scores_are_optional() -> None:
    spec = CountySpec(enterprises=100, with_scores=False)
    _, events = generate_county(spec)
    assert not any("scores" in e for e in events)
    _, events = generate_county(CountySpec(enterprises=100))
    assert any("scores" in e for e in events)


def test_population_events_are_sorted_by_date_with_increasing_ids() -> None:
    for _, events in iter_population(SMALL):
        assert [e["date"] for e in events] == sorted(e["date"] for e in events)
        assert [e["id"] for e in events] == sorted(e["id"] for e in events)


def test_a_smaller_population_is_a_prefix_of_a_larger_one() -> None:
    small = list(iter_population(CountySpec(enterprises=40)))
    large = list(iter_population(CountySpec(enterprises=80)))
    assert small == large[:40]


def test_arrival_order_differs_from_date_order_when_records_are_late(
    county: tuple[list[Record], list[Record]],
) -> None:
    _, events = county
    dates = [e["date"] for e in events]
    assert dates != sorted(dates)
    _, on_time = generate_county(CountySpec(late_share=0.0))
    assert [e["date"] for e in on_time] == sorted(e["date"] for e in on_time)


def test_late_share_changes_the_order_only() -> None:
    def by_id(events: list[Record]) -> list[Record]:
        return sorted(events, key=lambda e: e["id"])

    on_time = generate_county(CountySpec(late_share=0.0))
    late = generate_county(CountySpec(late_share=0.3))
    assert on_time[0] == late[0]
    assert by_id(on_time[1]) == by_id(late[1])


def test_a_reference_never_arrives_before_its_target() -> None:
    _, events = generate_county(CountySpec(late_share=0.5, correction_share=0.2))
    position = {e["id"]: index for index, e in enumerate(events)}
    for index, event in enumerate(events):
        if "of" in event:
            assert position[event["of"]] < index


def test_the_streamed_files_hold_what_generate_county_returns(tmp_path: Path) -> None:
    enterprises_path, events_path = tmp_path / "enterprises.jsonl", tmp_path / "events.jsonl"
    seen: list[int] = []
    counts = write_population(SMALL, enterprises_path, events_path, progress=seen.append)
    enterprises, events = generate_county(SMALL)
    streamed = lines(events_path)
    assert counts == (len(enterprises), len(events))
    assert lines(enterprises_path) == enterprises
    assert sorted(streamed, key=lambda e: e["id"]) == sorted(events, key=lambda e: e["id"])
    for enterprise in enterprises:
        mine = [e for e in events if e["enterprise_id"] == enterprise["id"]]
        assert [e for e in streamed if e["enterprise_id"] == enterprise["id"]] == mine
    assert seen[-1] == SMALL.enterprises
    assert sorted(path.name for path in tmp_path.iterdir()) == ["enterprises.jsonl", "events.jsonl"]


def test_each_line_is_compact_utf8_json(tmp_path: Path) -> None:
    write_population(SMALL, tmp_path / "e.jsonl", tmp_path / "v.jsonl")
    for name in ("e.jsonl", "v.jsonl"):
        text = (tmp_path / name).read_bytes().decode("utf-8")
        assert text.endswith("\n")
        for line in text.splitlines():
            record = json.loads(line)
            assert line == json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    assert "诸暨" in (tmp_path / "e.jsonl").read_text(encoding="utf-8")


def test_an_empty_population_writes_empty_files(tmp_path: Path) -> None:
    spec = CountySpec(enterprises=0)
    assert write_population(spec, tmp_path / "e.jsonl", tmp_path / "v.jsonl") == (0, 0)
    assert (tmp_path / "e.jsonl").read_bytes() == b""
    assert (tmp_path / "v.jsonl").read_bytes() == b""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("enterprises", -1),
        ("grids", 5),
        ("years", 0),
        ("records_per_enterprise", -1.0),
        ("food_share", 1.5),
        ("late_share", -0.1),
        ("correction_share", 2.0),
    ],
)
def test_a_bad_spec_names_its_field(field: str, value: float) -> None:
    arguments: dict[str, Any] = {field: value}
    with pytest.raises(InputError) as caught:
        CountySpec(**arguments)
    assert caught.value.field == field


def test_the_benchmark_script_writes_both_files(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "generate_population.py"),
            *("--enterprises", "30", "--records-per-enterprise", "5", "--seed", "3"),
            *("--as-of", "2010-01-01", "--out", str(tmp_path)),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "30 enterprises" in done.stderr
    spec = CountySpec(
        seed=3, enterprises=30, grids=6, as_of=dt.date(2010, 1, 1), records_per_enterprise=5
    )
    enterprises, events = generate_county(spec)
    assert lines(tmp_path / "enterprises.jsonl") == enterprises
    assert len(lines(tmp_path / "events.jsonl")) == len(events)
