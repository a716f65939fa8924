"""The numpy batch evaluator gives the native evaluator's decisions, byte for byte.

Differential properties over generated populations under every shipped pack, plus the pieces
the batch engine rebuilds (calendar arithmetic, expressions over columns) against the native
ones, and the engine choice (``numpy``, ``auto``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskgrade import Grader, RecordSet, RulePack, _columns, load_pack
from riskgrade._batch_eval import add_months, before, earliest_on_or_after, type_mask
from riskgrade._columns import (
    EVENT_TYPE_NAMES,
    StrColumn,
    columns_from_records,
    day_number,
    from_day_number,
)
from riskgrade.batch import (
    AUTO_THRESHOLD,
    AutoEvaluator,
    BatchEvaluator,
    UnsupportedError,
    partition,
)
from riskgrade.dates import Duration
from riskgrade.dates import add_months as native_add_months
from riskgrade.dates import earliest_on_or_after as native_earliest
from riskgrade.errors import EvaluationError
from riskgrade.grading import ENGINES
from riskgrade.packs import AttributeSpec
from riskgrade.synthetic import CountySpec, generate_county
from riskgrade.testing import dates, dates_near, histories

RULES = Path(__file__).resolve().parent.parent / "rules"
PACKS = sorted(p.name for p in RULES.iterdir() if (p / "pack.yaml").is_file())
Record = dict[str, object]


@cache
def _pack(name: str) -> RulePack:
    return load_pack(RULES / name)


@cache
def _batch(name: str) -> BatchEvaluator:
    return BatchEvaluator(_pack(name))


@cache
def _parted(name: str) -> BatchEvaluator:
    """The batch engine cutting every scheme into parts of a few events, on two threads."""
    return BatchEvaluator(_pack(name), workers=2, part_events=7)


def _native_lines(
    pack: RulePack, records: RecordSet, as_of: dt.date, lang: str = "en"
) -> list[str]:
    grader = Grader(pack, engine="python", lang=lang)  # type: ignore[arg-type]
    return [d.to_json() for d in grader.grade(records, as_of)]


def _batch_lines(name: str, records: RecordSet, as_of: dt.date, lang: str = "en") -> list[str]:
    """The batch engine's decisions as JSON, checking that both ways of writing them agree."""
    evaluator = _batch(name)
    objects = [d.to_json() for d in evaluator.grade_records(records, as_of, lang)]  # type: ignore[arg-type]
    columns = columns_from_records(records)
    grades = evaluator.evaluate(columns, as_of)
    assert list(grades.lines(lang)) == objects  # type: ignore[arg-type]
    # In parts on threads, with the JSON pieces built beside the grading; the second time
    # they are built afresh.
    parted = _parted(name).evaluate(columns, as_of, json_lang=lang)  # type: ignore[arg-type]
    assert list(parted.lines(lang)) == objects  # type: ignore[arg-type]
    assert list(parted.lines(lang)) == objects  # type: ignore[arg-type]
    # Streamed, window by window, as the parts are graded.
    streamed = b"".join(_parted(name).json_stream(columns, as_of, lang))  # type: ignore[arg-type]
    assert streamed == "".join(line + "\n" for line in objects).encode("utf-8")
    return objects


def _assert_same(name: str, records: RecordSet, as_of: dt.date, lang: str = "en") -> None:
    expected = _native_lines(_pack(name), records, as_of, lang)
    actual = _batch_lines(name, records, as_of, lang)
    assert len(expected) == len(actual)
    for want, got in zip(expected, actual, strict=True):
        assert want == got


# --------------------------------------------------------------------------------------------
# Populations for any pack, drawn from its own schemes and attributes


def _attribute_value(spec: AttributeSpec) -> st.SearchStrategy[object]:
    values = list(spec.values)
    if spec.other_values == "allow":
        values.append("unlisted")
    one = st.sampled_from(values)
    if spec.multiple:
        value = st.one_of(one, st.lists(one, min_size=1, max_size=3))
    else:
        value = st.one_of(one, st.lists(one, min_size=1, max_size=1))
    return value if spec.required else st.one_of(st.none(), value)


@st.composite
def _enterprise(draw: st.DrawFn, pack: RulePack, enterprise_id: str) -> Record:
    names = list(pack.schemes)
    name = draw(st.sampled_from(names))
    record: Record = {"id": enterprise_id}
    if len(names) > 1 or draw(st.booleans()):
        record["scheme"] = name
    attributes: dict[str, object] = {}
    for key, spec in pack.schemes[name].attributes.items():
        value = draw(_attribute_value(spec))
        if value is not None:
            attributes[key] = value
    if attributes:
        record["attributes"] = attributes
    return record


_SCORE = st.sampled_from([0, 5, 10, 15, 20, 25, 30])


@st.composite
def _scores(draw: st.DrawFn) -> dict[str, object]:
    scores: dict[str, object] = {}
    for key in ("hygiene", "structure", "management"):
        if draw(st.integers(0, 9)):  # mostly all three, sometimes one missing
            scores[key] = draw(_SCORE)
    if draw(st.booleans()):
        scores["dynamic"] = draw(
            st.one_of(st.integers(0, 60), st.decimals(0, 60, places=1, allow_nan=False))
        )
    return scores


@st.composite
def _population(draw: st.DrawFn, pack: RulePack) -> tuple[list[Record], list[Record], dt.date]:
    as_of = draw(dates(dt.date(2008, 1, 1), dt.date(2013, 12, 31)))
    spread = dates(dt.date(as_of.year - 4, 1, 1), dt.date(as_of.year + 1, 12, 31))
    day = st.one_of(dates_near(as_of), spread)
    enterprises: list[Record] = []
    events: list[Record] = []
    for n in range(1, draw(st.integers(1, 5)) + 1):
        enterprise_id = f"E{n}"
        enterprises.append(draw(_enterprise(pack, enterprise_id)))
        history = draw(histories(enterprise_id, dates=day, max_size=9, max_follow_ups=4))
        for record in history:
            if record["type"] == "inspection" and draw(st.integers(0, 3)):
                record["scores"] = draw(_scores())
        events.extend(history)
    # Arrival order never matters: shuffle it.
    events = draw(st.permutations(events))
    return enterprises, events, as_of


_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("name", PACKS)
@_SETTINGS
@given(data=st.data())
def test_batch_decisions_equal_native_decisions(name: str, data: st.DataObject) -> None:
    pack = _pack(name)
    enterprises, events, as_of = data.draw(_population(pack))
    records = RecordSet.from_dicts(enterprises, events)
    _assert_same(name, records, as_of)


@pytest.mark.parametrize("name", PACKS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_batch_decisions_equal_native_decisions_in_chinese(name: str, data: st.DataObject) -> None:
    pack = _pack(name)
    enterprises, events, as_of = data.draw(_population(pack))
    records = RecordSet.from_dicts(enterprises, events)
    _assert_same(name, records, as_of, "zh")


def _county_for(pack: RulePack, spec: CountySpec) -> tuple[list[Record], list[Record]]:
    """A synthetic county reshaped for ``pack``: its schemes and required attributes."""
    enterprises, events = generate_county(spec)
    names = list(pack.schemes)
    out: list[Record] = []
    for n, record in enumerate(enterprises):
        if "zhuji" == pack.ref.id:
            out.append(record)
            continue
        scheme = pack.schemes[names[n % len(names)]]
        reshaped: Record = {"id": record["id"]}
        attributes = {
            key: spec_.values[(n * 7 + i) % len(spec_.values)]
            for i, (key, spec_) in enumerate(scheme.attributes.items())
        }
        if attributes:
            reshaped["attributes"] = attributes
        out.append(reshaped)
    return out, events


@pytest.mark.parametrize("name", PACKS)
def test_a_synthetic_county_is_graded_identically(name: str) -> None:
    pack = _pack(name)
    enterprises, events = _county_for(pack, CountySpec(enterprises=300, seed=7))
    records = RecordSet.from_dicts(enterprises, events)
    for as_of in (dt.date(2009, 7, 1), dt.date(2008, 2, 29), dt.date(2010, 1, 1)):
        _assert_same(name, records, as_of)


# --------------------------------------------------------------------------------------------
# Hand-picked histories: corrections, late records, 29 February, window edges


def _zhuji_case(events: list[Record], as_of: str, *, scheme: str = "food") -> None:
    enterprise: Record = {"id": "E1", "scheme": scheme}
    records = RecordSet.from_dicts([enterprise], events)
    _assert_same("zhuji", records, dt.date.fromisoformat(as_of))


def _check(day: str, event_id: str, result: str = "fail", kind: str = "safety") -> Record:
    record: Record = {
        "id": event_id,
        "enterprise_id": "E1",
        "date": day,
        "type": "spot_check",
        "result": result,
    }
    if result == "fail":
        record["items"] = [{"name": "x", "kind": kind}]
    return record


def test_a_void_on_the_last_day_is_a_correction() -> None:
    events = [
        _check("2008-02-29", "S1"),
        _check("2008-06-01", "S2", "pass"),
        {
            "id": "V1",
            "enterprise_id": "E1",
            "date": "2009-03-01",
            "type": "void",
            "of": "S1",
            "reason": "entered twice",
        },
    ]
    _zhuji_case(events, "2009-03-01")
    _zhuji_case(events, "2009-03-02")


def test_a_void_of_a_void_restores_the_record() -> None:
    events = [
        _check("2008-02-29", "S1"),
        {
            "id": "V1",
            "enterprise_id": "E1",
            "date": "2008-05-01",
            "type": "void",
            "of": "S1",
            "reason": "wrong",
        },
        {
            "id": "V2",
            "enterprise_id": "E1",
            "date": "2008-06-01",
            "type": "void",
            "of": "V1",
            "reason": "the void was wrong",
        },
        {
            "id": "V3",
            "enterprise_id": "E1",
            "date": "2008-06-01",
            "type": "void",
            "of": "V2",
            "reason": "and that one too",
        },
    ]
    for as_of in ("2008-05-01", "2008-05-31", "2008-06-01", "2009-02-28", "2011-03-01"):
        _zhuji_case(events, as_of)


def test_an_overturned_recheck_is_a_pass_from_the_start() -> None:
    events = [
        _check("2007-03-01", "S1"),
        _check("2008-03-01", "S2", kind="quality"),
        {
            "id": "R1",
            "enterprise_id": "E1",
            "date": "2008-04-01",
            "type": "recheck",
            "of": "S2",
            "result": "overturned",
        },
    ]
    for as_of in ("2008-03-31", "2008-04-01", "2008-04-02", "2010-03-01"):
        _zhuji_case(events, as_of)
        _zhuji_case(events, as_of, scheme="industry")


def test_window_edges_and_29_february() -> None:
    events = [_check("2008-02-29", "S1"), _check("2009-02-28", "S2", kind="quality")]
    for as_of in ("2009-02-28", "2010-02-28", "2011-02-28", "2011-03-01", "2012-02-29"):
        _zhuji_case(events, as_of)
        _zhuji_case(events, as_of, scheme="industry")


def test_an_overdue_rectification_counts_until_it_is_verified() -> None:
    events = [
        {
            "id": "I1",
            "enterprise_id": "E1",
            "date": "2008-01-10",
            "type": "inspection",
            "outcome": "major",
            "deadline": "2008-02-29",
        },
        {
            "id": "F1",
            "enterprise_id": "E1",
            "date": "2008-03-05",
            "type": "rectification",
            "of": "I1",
            "verified": False,
        },
        {
            "id": "F2",
            "enterprise_id": "E1",
            "date": "2008-06-01",
            "type": "rectification",
            "of": "I1",
        },
    ]
    for as_of in ("2008-02-29", "2008-03-01", "2008-03-05", "2008-05-31", "2008-06-01"):
        _zhuji_case(events, as_of)
        _zhuji_case(events, as_of, scheme="industry")


def test_no_records_at_all_is_assessed_at_the_date() -> None:
    _zhuji_case([], "2009-07-01")
    _zhuji_case([], "2009-07-01", scheme="industry")


# --------------------------------------------------------------------------------------------
# The pieces: calendar arithmetic and expressions over columns


@given(day=dates(dt.date(1999, 1, 1), dt.date(2030, 12, 31)), months=st.integers(-60, 60))
def test_vectorised_add_months_is_add_months(day: dt.date, months: int) -> None:
    got = add_months(np.array([day_number(day)], dtype=np.int64), months)
    assert from_day_number(int(got[0])) == native_add_months(day, months)


_LENGTHS = st.builds(Duration, st.integers(0, 3), st.integers(0, 13), st.integers(0, 40)).filter(
    lambda d: bool(d.years or d.months or d.days)
)


@given(day=dates(dt.date(1999, 1, 1), dt.date(2030, 12, 31)), length=_LENGTHS)
def test_vectorised_window_arithmetic_is_the_native_one(day: dt.date, length: Duration) -> None:
    start = np.array([day_number(day)], dtype=np.int64)
    assert from_day_number(int(before(start, length)[0])) == length.before(day)
    assert from_day_number(int(earliest_on_or_after(start, length)[0])) == native_earliest(
        day, length
    )


def test_the_engines_are_registered() -> None:
    assert ENGINES["numpy"] == "riskgrade.batch:BatchEvaluator"
    assert ENGINES["auto"] == "riskgrade.batch:AutoEvaluator"


def test_every_shipped_pack_is_accepted_by_the_batch_engine() -> None:
    for name in PACKS:
        assert isinstance(_batch(name), BatchEvaluator)


def _pack_with(tmp_path: Path, condition: str) -> Path:
    source = RULES / "zhuji"
    target = tmp_path / "pack"
    target.mkdir()
    for path in source.iterdir():
        text = path.read_text(encoding="utf-8")
        if path.name == "industry.yaml":
            text = text.replace("when: count(spot_checks) < 2", f"when: {condition}")
        target.joinpath(path.name).write_text(text, encoding="utf-8")
    return target


def test_a_pack_with_division_is_refused_with_the_rule(tmp_path: Path) -> None:
    pack = load_pack(_pack_with(tmp_path, "count(spot_checks) / 3 < 1"))
    with pytest.raises(UnsupportedError) as caught:
        BatchEvaluator(pack)
    assert "industry" in caught.value.message
    assert "division" in caught.value.message
    assert caught.value.exit_code == 2


def test_auto_falls_back_to_the_native_evaluator_for_a_refused_pack(tmp_path: Path) -> None:
    pack = load_pack(_pack_with(tmp_path, "count(spot_checks) / 3 < 1"))
    auto = AutoEvaluator(pack)
    assert auto.batch is None
    assert auto.refused is not None
    enterprises, events = generate_county(CountySpec(enterprises=AUTO_THRESHOLD // 100))
    records = RecordSet.from_dicts(enterprises, events)
    as_of = dt.date(2009, 7, 1)
    expected = _native_lines(pack, records, as_of)
    assert [d.to_json() for d in Grader(pack, engine="auto").grade(records, as_of)] == expected


def test_auto_uses_numpy_from_the_threshold_up(monkeypatch: pytest.MonkeyPatch) -> None:
    import riskgrade.batch as batch

    pack = _pack("zhuji")
    enterprises, events = generate_county(CountySpec(enterprises=50))
    records = RecordSet.from_dicts(enterprises, events)
    calls: list[int] = []
    original = batch.BatchEvaluator.grade_records

    def spy(self: BatchEvaluator, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(batch.BatchEvaluator, "grade_records", spy)
    monkeypatch.setattr(batch, "AUTO_THRESHOLD", 50)
    as_of = dt.date(2009, 7, 1)
    lines = [d.to_json() for d in Grader(pack, engine="auto").grade(records, as_of)]
    assert calls == [1]
    assert lines == _native_lines(pack, records, as_of)
    monkeypatch.setattr(batch, "AUTO_THRESHOLD", 51)
    calls.clear()
    assert [d.to_json() for d in Grader(pack, engine="auto").grade(records, as_of)] == lines
    assert calls == []


def test_a_batch_decision_explains_itself_like_a_native_one() -> None:
    pack = _pack("zhuji")
    enterprises, events = generate_county(CountySpec(enterprises=20))
    records = RecordSet.from_dicts(enterprises, events)
    as_of = dt.date(2009, 7, 1)
    native = Grader(pack).grade(records, as_of)
    batch = Grader(pack, engine="numpy").grade(records, as_of)
    assert [d.explain("zh") for d in batch[:3]] == [d.explain("zh") for d in native[:3]]


def test_columns_from_records_keep_exact_numbers() -> None:
    enterprises = [{"id": "E1"}]
    events = [
        {
            "id": "A",
            "enterprise_id": "E1",
            "date": "2009-01-01",
            "type": "enforcement",
            "penalty": "fine",
            "amount": Decimal("1234.56"),
        },
        {
            "id": "B",
            "enterprise_id": "E1",
            "date": "2009-01-02",
            "type": "enforcement",
            "penalty": "fine",
            "amount": 7,
        },
    ]
    columns = columns_from_records(RecordSet.from_dicts(enterprises, events))
    amounts = columns.events.amount
    assert columns.events.amount_exp == 2
    assert amounts.tolist() == [123456, 700]


def _mapping_values(mapping: Mapping[str, object]) -> dict[str, object]:
    return dict(mapping)


@given(
    counts=st.lists(st.integers(0, 30), max_size=60),
    part_events=st.integers(1, 50),
    data=st.data(),
)
def test_partition_cuts_whole_enterprises_in_order(
    counts: list[int], part_events: int, data: st.DataObject
) -> None:
    events = np.array(counts, dtype=np.int64)
    chosen = data.draw(st.sets(st.integers(0, max(len(counts) - 1, 0)))) if counts else set()
    rows = np.array(sorted(chosen), dtype=np.int64)
    parts = partition(rows, events, part_events)
    assert all(len(part) for part in parts)
    joined = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    assert joined.tolist() == rows.tolist()
    for part in parts:
        assert len(part) == 1 or int(events[part].sum()) <= part_events
    # Greedy: no part could have taken the next part's first enterprise.
    for part, following in itertools.pairwise(parts):
        assert int(events[part].sum()) + int(events[following[0]]) > part_events


@given(
    codes=st.lists(st.integers(-1, len(EVENT_TYPE_NAMES)), max_size=40),
    wanted=st.sets(st.integers(0, len(EVENT_TYPE_NAMES) - 1)),
)
def test_type_mask_is_isin(codes: list[int], wanted: set[int]) -> None:
    """By comparisons, by the complement's comparisons or by a table: always ``np.isin``."""
    types = np.array(codes, dtype=np.int8)
    found = type_mask(types, sorted(wanted))
    assert found.tolist() == np.isin(types, sorted(wanted)).tolist()


class _SortableEvents:
    """What the event sort reads of event columns: enterprise, date and id."""

    def __init__(self, ent: list[int], date: list[int], ids: list[str]) -> None:
        self.ent = np.array(ent, dtype=np.int32)
        self.date = np.array(date, dtype=np.int32)
        self.ids = StrColumn.from_strings(ids)

    def __len__(self) -> int:
        return len(self.ent)


@given(
    rows=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 6)), max_size=80),
    together=st.booleans(),
    same_width=st.booleans(),
    chunk=st.integers(1, 9),
    data=st.data(),
)
def test_the_event_sort_is_a_stable_sort_by_enterprise_date_and_id(
    rows: list[tuple[int, int]],
    together: bool,
    same_width: bool,
    chunk: int,
    data: st.DataObject,
) -> None:
    """Files list an enterprise's events together (mostly by date) or not at all; ids of one
    width or not (two ways of ordering ties); chunks of any size (the checks run by chunk)."""
    if together:
        rows = sorted(rows, key=lambda row: row[0])
    numbers = data.draw(st.permutations(range(len(rows))))
    ids = [f"E{n:03d}" if same_width else "E" + "x" * (n % 3) + str(n) for n in numbers]
    events = _SortableEvents([e for e, _ in rows], [d for _, d in rows], ids)
    expected = sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][1], ids[i]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_columns, "_CHUNK", chunk)
        order = _columns._sort_events(events)  # type: ignore[arg-type]
    places = np.arange(len(rows), dtype=np.int64)
    assert order.at(places).tolist() == expected
    assert order.at(places, ascending=True).tolist() == expected
    some = np.array(sorted(data.draw(st.sets(st.sampled_from(range(len(rows)))))) if rows else [])
    assert order.at(some.astype(np.int64), ascending=True).tolist() == [
        expected[i] for i in some.tolist()
    ]
    assert order.identity == (expected == list(range(len(rows))))
    # Each event's place is where the order holds it.
    assert order.rank(np.array(expected, dtype=np.int64)).tolist() == places.tolist()


def test_a_county_graded_in_parts_on_threads_is_graded_as_in_one() -> None:
    pack = _pack("zhuji")
    enterprises, events = generate_county(CountySpec(enterprises=300, seed=11))
    records = RecordSet.from_dicts(enterprises, events)
    columns = columns_from_records(records)
    as_of = dt.date(2009, 7, 1)
    whole = BatchEvaluator(pack, workers=1, part_events=1 << 30).evaluate(columns, as_of)
    seen: list[tuple[int, int]] = []
    parted = BatchEvaluator(pack, workers=2, part_events=100).evaluate(
        columns, as_of, progress=lambda done, total: seen.append((done, total))
    )
    assert len(whole.parts) == len(pack.schemes)
    assert len(parted.parts) > 10
    # One report a part, on the calling thread, growing to every enterprise.
    assert len(seen) == len(parted.parts)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (len(enterprises), len(enterprises))
    assert list(parted.lines()) == list(whole.lines())
    assert np.array_equal(parted.levels()[0], whole.levels()[0])


def test_pieces_built_in_one_language_are_not_used_for_another() -> None:
    pack = _pack("zhuji")
    enterprises, events = generate_county(CountySpec(enterprises=120, seed=5))
    records = RecordSet.from_dicts(enterprises, events)
    as_of = dt.date(2009, 7, 1)
    evaluator = BatchEvaluator(pack, workers=2, part_events=200)
    grades = evaluator.evaluate(columns_from_records(records), as_of, json_lang="zh")
    assert len(grades.parts) > 3
    assert all(part.json is not None and part.json[0] == "zh" for part in grades.parts)
    assert list(grades.lines("en")) == _native_lines(pack, records, as_of, "en")
    assert all(part.json is None for part in grades.parts)  # let go of once laid out
    assert list(grades.lines("zh")) == _native_lines(pack, records, as_of, "zh")


def _fhrs_guarding_one_score(folder: Path) -> RulePack:
    """uk-fhrs twice over (schemes ``fhrs`` and ``fhrs2``), with a set that admits an
    inspection lacking a score its points add up: grading such an inspection is an
    evaluation error."""
    import shutil

    target = folder / "uk-fhrs"
    shutil.copytree(RULES / "uk-fhrs", target)
    fhrs = target / "fhrs.yaml"
    guard = "where: has(scores.hygiene) and has(scores.structure) and has(scores.management)"
    text = fhrs.read_text(encoding="utf-8")
    assert guard in text
    text = text.replace(guard, "where: has(scores.hygiene)")
    fhrs.write_text(text, encoding="utf-8")
    second = text.replace("scheme: fhrs", "scheme: fhrs2").replace("rule: fhrs.", "rule: fhrs2.")
    (target / "fhrs2.yaml").write_text(second, encoding="utf-8")
    pack = target / "pack.yaml"
    text = pack.read_text(encoding="utf-8")
    pack.write_text(text.replace("  fhrs: fhrs.yaml\n", "  fhrs: fhrs.yaml\n  fhrs2: fhrs2.yaml\n"))
    return load_pack(target)


def test_an_evaluation_error_is_the_native_one_when_streamed(tmp_path: Path) -> None:
    pack = _fhrs_guarding_one_score(tmp_path)
    assert list(pack.schemes) == ["fhrs", "fhrs2"]
    enterprises: list[Record] = [
        {"id": f"E{n:04d}", "scheme": ("fhrs", "fhrs2")[n % 2]} for n in range(300)
    ]
    events: list[Record] = []
    for n in range(300):
        for k, day in enumerate(("2008-03-01", "2009-05-02")):
            scores = {"hygiene": (n + k) % 4 * 5, "structure": 5, "management": 10}
            # Two fail: the first in input order (101, fhrs2) is reported, though the part
            # of the other (118, fhrs) begins before its part does.
            if n in (101, 118) and k == 1:
                del scores["structure"]
            events.append(
                {
                    "id": f"V{n:04d}{k}",
                    "enterprise_id": f"E{n:04d}",
                    "date": day,
                    "type": "inspection",
                    "outcome": "compliant",
                    "scores": scores,
                }
            )
    records = RecordSet.from_dicts(enterprises, events)
    as_of = dt.date(2009, 7, 1)
    with pytest.raises(EvaluationError) as native:
        _native_lines(pack, records, as_of)
    assert "V01011" in str(native.value)
    columns = columns_from_records(records)
    evaluator = BatchEvaluator(pack, workers=2, part_events=40)  # parts of 20 enterprises
    with pytest.raises(EvaluationError) as whole:
        evaluator.evaluate(columns, as_of)
    assert str(whole.value) == str(native.value)
    # Streamed: the decisions before the failing parts are yielded, then the error.
    blocks: list[bytes] = []
    with pytest.raises(EvaluationError) as streamed:
        blocks.extend(evaluator.json_stream(columns, as_of))
    assert str(streamed.value) == str(native.value)
    lines = b"".join(blocks).decode("utf-8").split("\n")[:-1]
    assert len(blocks) > 1
    assert 40 <= len(lines) <= 101
    head = RecordSet.from_dicts(enterprises[: len(lines)], events[: 2 * len(lines)])
    assert lines == _native_lines(pack, head, as_of)
