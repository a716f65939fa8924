"""Reading files straight into columns: the same records, and the same errors, as the
record-by-record path (:func:`riskgrade.load_records`)."""

from __future__ import annotations

import datetime as dt
import json
from functools import partial
from pathlib import Path

import pytest

from riskgrade import Grader, InputError, RiskgradeError, load_pack, load_records
from riskgrade.batch import BatchEvaluator
from riskgrade.ingest import enterprise_at, read_records
from riskgrade.synthetic import CountySpec, generate_county

RULES = Path(__file__).resolve().parent.parent / "rules"
AS_OF = dt.date(2009, 7, 1)


def _write(path: Path, lines: list[str] | bytes) -> Path:
    if isinstance(lines, bytes):
        path.write_bytes(lines)
    else:
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _dump(record: dict[str, object]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _outcome(enterprises: Path, events: Path, **kwargs: int) -> tuple[str, str]:
    """What both readers make of the files: the error each raises, or the graded decisions."""
    pack = load_pack(RULES / "zhuji")
    try:
        records = load_records(enterprises, events)
        expected = "\n".join(d.to_json() for d in Grader(pack).grade(records, AS_OF))
    except RiskgradeError as exc:
        expected = f"{type(exc).__name__}: {exc.describe()} [{exc.event}]"
    try:
        columns = read_records(enterprises, events, **kwargs)
        evaluator = BatchEvaluator(pack)
        evaluator.check(columns.enterprises, partial(enterprise_at, columns))
        grades = evaluator.evaluate(columns, AS_OF)
        actual = "\n".join(grades.lines())
    except RiskgradeError as exc:
        actual = f"{type(exc).__name__}: {exc.describe()} [{exc.event}]"
    return expected, actual


def _county(tmp_path: Path, n: int = 60) -> tuple[list[str], list[str]]:
    enterprises, events = generate_county(CountySpec(enterprises=n, seed=3))
    return [_dump(e) for e in enterprises], [_dump(e) for e in events]


@pytest.mark.parametrize("block_size", [1 << 20, 4096])
def test_a_county_reads_and_grades_as_through_the_records_module(
    tmp_path: Path, block_size: int
) -> None:
    ents, evs = _county(tmp_path)
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", ents), _write(tmp_path / "v.jsonl", evs), block_size=block_size
    )
    assert expected.count("\n") == 59
    assert actual == expected


_E = '{"id":"E1","scheme":"food","attributes":{"category":"dairy"}}'


_COMPLAINT = '"type":"complaint","substantiated":true'


def _ev(fields: str, prefix: str = '{"id":"B","enterprise_id":"E1","date":"2009-01-05",') -> str:
    """An event line: the common start, then ``fields`` (JSON text), then ``}``."""
    return prefix + fields + "}"


_GOOD = (
    '{"id":"A","enterprise_id":"E1","date":"2009-01-05","type":"complaint","substantiated":true}'
)

BAD_EVENT_LINES = {
    "invalid json": '{"id":"B","enterprise_id":"E1",',
    "not an object": "[1, 2]",
    "unknown field": _ev('"type":"complaint","substantiated":true,"x":1'),
    "field of another type": _ev('"type":"complaint","substantiated":true,"penalty":"fine"'),
    "string for a boolean": _ev('"type":"complaint","substantiated":"true"'),
    "missing required": _ev('"type":"complaint"'),
    "not a calendar date": _ev(_COMPLAINT, '{"id":"B","enterprise_id":"E1","date":"2009-02-29",'),
    "date with time": _ev(_COMPLAINT, '{"id":"B","enterprise_id":"E1","date":"2009-02-01T00:00",'),
    "unknown type": _ev('"type":"complain","substantiated":true'),
    "failed check without items": _ev('"type":"spot_check","result":"fail"'),
    "unknown item kind": _ev(
        '"type":"spot_check","result":"fail","items":[{"name":"x","kind":"taste"}]'
    ),
    "blank id": _ev(_COMPLAINT, '{"id":"  ","enterprise_id":"E1","date":"2009-01-05",'),
    "ideographic space id": _ev(
        _COMPLAINT, '{"id":"\u3000","enterprise_id":"E1","date":"2009-01-05",'
    ),
    "negative amount": _ev('"type":"enforcement","penalty":"fine","amount":-5'),
    "explicit null for a default": _ev('"type":"spot_check","result":"pass","level":null'),
    "duplicate key": _ev('"type":"complaint","substantiated":true,"substantiated":false'),
    "two objects on a line": _GOOD.replace('"A"', '"B"') + " " + _GOOD.replace('"A"', '"C"'),
    "NaN amount": _ev('"type":"enforcement","penalty":"fine","amount":NaN'),
    "duplicate id": _GOOD,
    "unknown enterprise": _ev(_COMPLAINT, '{"id":"B","enterprise_id":"E2","date":"2009-01-05",'),
    "reference to nothing": _ev('"type":"void","of":"Z","reason":"r"'),
    "recheck of a complaint": _ev('"type":"recheck","of":"A","result":"upheld"'),
    "rectification of a complaint": _ev('"type":"rectification","of":"A"'),
    "correction dated before its target": _ev(
        '"type":"void","of":"A","reason":"r"', '{"id":"B","enterprise_id":"E1","date":"2009-01-04",'
    ),
    "escaped lone surrogate": _ev(
        _COMPLAINT, '{"id":"B\\ud800","enterprise_id":"E1","date":"2009-01-05",'
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_EVENT_LINES))
def test_a_bad_event_line_is_reported_as_the_records_module_reports_it(
    tmp_path: Path, case: str
) -> None:
    ents = [_E]
    evs = [_GOOD, BAD_EVENT_LINES[case], _GOOD.replace('"A"', '"Q"')]
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", ents), _write(tmp_path / "v.jsonl", evs)
    )
    assert expected.startswith(("InputError", "EvaluationError")), expected
    assert actual == expected


GOOD_ODDITIES = {
    "explicit null deadline": _ev('"type":"inspection","outcome":"minor","deadline":null'),
    "escaped text": _ev('"type":"incident","description":"a \\"quoted\\" \\u4e8b\\u6545"'),
    "decimal amount": _ev('"type":"enforcement","penalty":"fine","amount":1234.50'),
    "exponent amount": _ev('"type":"enforcement","penalty":"fine","amount":1E3'),
    "decimal scores": _ev(
        '"type":"inspection","outcome":"compliant","scores":{"hygiene":2.5,"other":7}'
    ),
    "spaces around tokens": _ev(
        _COMPLAINT + " ", '{ "id" : "B", "enterprise_id":"E1","date":"2009-01-05",'
    ),
    "a tab inside": _ev(_COMPLAINT, '{"id":"B",\t"enterprise_id":"E1","date":"2009-01-05",'),
    "chinese item names": _ev(
        '"type":"spot_check","result":"fail","items":[{"name":"菌落总数","kind":"safety"}]'
    ),
}


@pytest.mark.parametrize("case", sorted(GOOD_ODDITIES))
def test_unusual_but_valid_lines_read_as_the_records_module_reads_them(
    tmp_path: Path, case: str
) -> None:
    ents = [_E]
    evs = [_GOOD, GOOD_ODDITIES[case]]
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", ents), _write(tmp_path / "v.jsonl", evs)
    )
    assert expected.startswith("{"), expected
    assert actual == expected


def test_a_byte_order_mark_blank_lines_and_crlf_are_read_as_usual(tmp_path: Path) -> None:
    ents = b"\xef\xbb\xbf" + _E.encode() + b"\r\n\r\n"
    evs = (_GOOD + "\r\n\n   \n" + _GOOD.replace('"A"', '"B"') + "\r\n").encode()
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", ents), _write(tmp_path / "v.jsonl", evs)
    )
    assert expected.startswith("{")
    assert actual == expected


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    evs = (_GOOD + "\n" + _GOOD.replace('"A"', '"B\xff"') + "\n").encode("latin-1")
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", [_E]), _write(tmp_path / "v.jsonl", evs)
    )
    assert "UTF-8" in expected
    assert actual == expected


def test_a_duplicate_before_a_bad_line_is_reported_first_across_blocks(tmp_path: Path) -> None:
    ents, evs = _county(tmp_path, 30)
    evs = [*evs, evs[3], '{"broken":']
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", ents), _write(tmp_path / "v.jsonl", evs), block_size=2048
    )
    assert "duplicate event id" in expected
    assert actual == expected


def test_a_bad_line_before_a_duplicate_is_reported_first(tmp_path: Path) -> None:
    ents, evs = _county(tmp_path, 30)
    evs = [*evs[:10], '{"broken":', *evs[10:], evs[3]]
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", ents), _write(tmp_path / "v.jsonl", evs), block_size=2048
    )
    assert "invalid JSON" in expected
    assert actual == expected


def test_voids_in_a_ring_are_reported_as_the_record_set_reports_them(tmp_path: Path) -> None:
    evs = [
        _GOOD,
        '{"id":"V1","enterprise_id":"E1","date":"2009-01-06","type":"void","of":"V2","reason":"r"}',
        '{"id":"V2","enterprise_id":"E1","date":"2009-01-06","type":"void","of":"V1","reason":"r"}',
    ]
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", [_E]), _write(tmp_path / "v.jsonl", evs)
    )
    assert "cycle" in expected
    assert actual == expected


BAD_ENTERPRISES = {
    "bad check digit": '{"id":"E2","uscc":"91330681M1GRFXYFWQ"}',
    "lower-case code": '{"id":"E2","uscc":"91330681m1grfxyfwp"}',
    "number attribute": '{"id":"E2","attributes":{"category":5}}',
    "duplicate": _E,
    "unknown field": '{"id":"E2","rating":"A"}',
    "bad registration date": '{"id":"E2","registered_on":"2001-13-01"}',
}


@pytest.mark.parametrize("case", sorted(BAD_ENTERPRISES))
def test_a_bad_enterprise_line_is_reported_as_the_records_module_reports_it(
    tmp_path: Path, case: str
) -> None:
    ents = [_E, BAD_ENTERPRISES[case]]
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", ents), _write(tmp_path / "v.jsonl", [_GOOD])
    )
    assert actual == expected


def test_enterprises_from_csv_grade_as_from_json_lines(tmp_path: Path) -> None:
    enterprises, events = generate_county(CountySpec(enterprises=40, seed=5))
    header = [
        "id",
        "scheme",
        "name",
        "region",
        "grid",
        "industry",
        "uscc",
        "registered_on",
        "attributes.category",
    ]
    rows = [",".join(header)]
    for record in enterprises:
        attributes = record.get("attributes") or {}
        assert isinstance(attributes, dict)
        cells = [str(record.get(key, "")) for key in header[:-1]]
        cells.append(str(attributes.get("category", "")))
        rows.append(",".join(cells))
    csv_path = _write(tmp_path / "e.csv", rows)
    json_path = _write(tmp_path / "e.jsonl", [_dump(e) for e in enterprises])
    events_path = _write(tmp_path / "v.jsonl", [_dump(e) for e in events])
    pack = load_pack(RULES / "zhuji")
    expected = [
        d.to_json() for d in Grader(pack).grade(load_records(json_path, events_path), AS_OF)
    ]
    grades = BatchEvaluator(pack).evaluate(read_records(csv_path, events_path), AS_OF)
    assert list(grades.lines()) == expected


def test_a_bad_csv_row_names_its_line_and_field(tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "e.csv", ["id,uscc", "E1,", "E2,91330681M1GRFXYFWQ"])
    events_path = _write(tmp_path / "v.jsonl", [])
    with pytest.raises(InputError) as caught:
        read_records(csv_path, events_path)
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(csv_path), 3, "uscc")
