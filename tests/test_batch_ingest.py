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


# --------------------------------------------------------------------------------------------
# The DuckDB path (riskgrade.ingest reads events through DuckDB where it is installed) and its
# hazards: DuckDB drops keys it was not asked for, accepts trailing commas and NaN, re-writes
# numbers and strings; the length check must still send every such line to the strict parser.

_DUCKDB = "duckdb"
_PYARROW = "pyarrow"


class _Reader:
    """Which reader a test runs, and the batches the DuckDB path checked itself."""

    def __init__(self, duckdb: bool) -> None:
        self.duckdb = duckdb
        self.batches = 0


@pytest.fixture(params=[_DUCKDB, _PYARROW])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> _Reader:
    """Read through DuckDB (in batches of 5 rows, so that batches end everywhere) or, with
    DuckDB made unimportable, through pyarrow."""
    from riskgrade import _ingest_duck, ingest

    chosen = _Reader(request.param == _DUCKDB)
    if chosen.duckdb:
        pytest.importorskip("duckdb")
        monkeypatch.setattr(_ingest_duck, "_DUCK_ROWS", 5)  # read by _DuckStream
        checked = ingest._chunk_from_duck

        def counting(batch: object) -> object:
            chosen.batches += 1
            return checked(batch)

        monkeypatch.setattr(ingest, "_chunk_from_duck", counting)
    else:
        _without_duckdb(monkeypatch)
    return chosen


def _without_duckdb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make DuckDB unimportable for the reader; a batch read through it anyway fails."""
    from riskgrade import ingest

    def refused(batch: object) -> object:
        raise AssertionError("read through DuckDB")

    monkeypatch.setattr(ingest, "_duckdb", lambda: None)
    monkeypatch.setattr(ingest, "_chunk_from_duck", refused)


def _good(i: int) -> str:
    record: dict[str, object] = {
        "id": f"G{i:04d}",
        "enterprise_id": "E1",
        "date": "2009-01-05",
        "type": "complaint",
        "substantiated": i % 2 == 0,
    }
    return _dump(record)


def _surrounded(line: str, before: int = 12, after: int = 12) -> list[str]:
    """``line`` among good lines, in the middle of a batch and of the file."""
    return [_good(i) for i in range(before)] + [line] + [_good(i) for i in range(100, 100 + after)]


HAZARDS = {
    "unknown key": _ev('"type":"complaint","substantiated":true,"x":1'),
    "unknown key twice": _ev('"type":"complaint","substantiated":true,"x":1,"x":2'),
    "unknown key with null": _ev('"type":"complaint","substantiated":true,"x":null'),
    "duplicate key": _ev('"type":"complaint","substantiated":true,"substantiated":false'),
    "duplicate key same value": _ev('"type":"complaint","substantiated":true,"substantiated":true'),
    "number for a string": _ev('"type":"void","of":5,"reason":"r"'),
    "string for a number": _ev('"type":"enforcement","penalty":"fine","amount":"5"'),
    "string true for a boolean": _ev('"type":"complaint","substantiated":"true"'),
    "number for a boolean": _ev('"type":"complaint","substantiated":1'),
    "number for a date": _ev(_COMPLAINT, '{"id":"B","enterprise_id":"E1","date":20090105,'),
    "number for an enum": _ev('"type":"spot_check","result":1'),
    "null id": _ev(_COMPLAINT, '{"id":null,"enterprise_id":"E1","date":"2009-01-05",'),
    "null required": _ev('"type":"complaint","substantiated":null'),
    "null item": _ev('"type":"spot_check","result":"fail","items":[null]'),
    "null item kind": _ev('"type":"spot_check","result":"fail","items":[{"name":"x","kind":null}]'),
    "unknown item key": _ev(
        '"type":"spot_check","result":"fail","items":[{"name":"x","kind":"safety","y":1}]'
    ),
    "blank item name": _ev(
        '"type":"spot_check","result":"fail","items":[{"name":" ","kind":"safety"}]'
    ),
    "item not an object": _ev('"type":"spot_check","result":"fail","items":["x"]'),
    "items an object": _ev('"type":"spot_check","result":"fail","items":{"name":"x"}'),
    "null score": _ev('"type":"inspection","outcome":"minor","scores":{"hygiene":null}'),
    "string score": _ev('"type":"inspection","outcome":"minor","scores":{"hygiene":"5"}'),
    "duplicate score name": _ev('"type":"inspection","outcome":"minor","scores":{"a":1,"a":2}'),
    "scores a list": _ev('"type":"inspection","outcome":"minor","scores":[1,2]'),
    "trailing comma": _ev('"type":"complaint","substantiated":true,'),
    "trailing comma in items": _ev(
        '"type":"spot_check","result":"fail","items":[{"name":"x","kind":"safety"},]'
    ),
    "infinity amount": _ev('"type":"enforcement","penalty":"fine","amount":Infinity'),
    "date with a slash": _ev(_COMPLAINT, '{"id":"B","enterprise_id":"E1","date":"2009/01/05",'),
    "year zero": _ev(_COMPLAINT, '{"id":"B","enterprise_id":"E1","date":"0000-01-05",'),
    "deadline not a date": _ev('"type":"inspection","outcome":"minor","deadline":"soon"'),
    "empty object": "{}",
    "comment": _ev('"type":"complaint",/* c */"substantiated":true'),
    "upper-case key": _ev('"type":"complaint","Substantiated":true'),
    "control character": _ev('"type":"incident","description":"a\tb"'),
    "unknown enterprise": _ev(_COMPLAINT, '{"id":"B","enterprise_id":"E9","date":"2009-01-05",'),
}


@pytest.mark.parametrize("case", sorted(HAZARDS))
def test_a_hazard_for_the_columnar_readers_is_reported_as_the_records_module_reports_it(
    tmp_path: Path, case: str, reader: _Reader
) -> None:
    evs = _surrounded(HAZARDS[case])
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", [_E]), _write(tmp_path / "v.jsonl", evs)
    )
    assert actual == expected
    assert expected.startswith(("InputError", "EvaluationError")), expected


ODDITIES = {
    "spaces around a colon": _ev('"type":"complaint","substantiated" : true'),
    "space after the brace": _ev(
        _COMPLAINT, '{ "id":"B","enterprise_id":"E1","date":"2009-01-05",'
    ),
    "escaped id": _ev(_COMPLAINT, '{"id":"B\\u0031","enterprise_id":"E1","date":"2009-01-05",'),
    "escaped slash": _ev('"type":"incident","description":"a\\/b"'),
    "escaped key": _ev('"type":"complaint","substantiate\\u0064":true'),
    "keys in another order": '{"substantiated":false,"type":"complaint","date":"2009-01-05",'
    '"enterprise_id":"E1","id":"B"}',
    "float amount": _ev('"type":"enforcement","penalty":"fine","amount":1.0'),
    "float amount with exponent": _ev('"type":"enforcement","penalty":"fine","amount":25e-1'),
    "big amount": _ev('"type":"enforcement","penalty":"fine","amount":4611686018427387903'),
    "eighteen digits": _ev('"type":"enforcement","penalty":"fine","amount":999999999999999999'),
    "float score": _ev('"type":"inspection","outcome":"minor","scores":{"hygiene":5.0}'),
    "empty scores": _ev('"type":"inspection","outcome":"minor","scores":{}'),
    "score names in another order": _ev(
        '"type":"inspection","outcome":"minor","scores":{"b":1,"a":2}'
    ),
    "score name with a digit": _ev('"type":"inspection","outcome":"minor","scores":{"a1":1}'),
    "escaped score name": _ev('"type":"inspection","outcome":"minor","scores":{"\\u0061":1}'),
    "empty score name": _ev('"type":"inspection","outcome":"minor","scores":{"":1}'),
    "null deadline": _ev('"type":"inspection","outcome":"minor","deadline":null'),
    "null description": _ev('"type":"incident","description":null'),
    "empty description": _ev('"type":"incident","description":""'),
    "empty items on a pass": _ev('"type":"spot_check","result":"pass","items":[]'),
    "line separator in text": _ev('"type":"incident","description":"a\u2028b\u007fc"'),
    "leap day": _ev(_COMPLAINT, '{"id":"B","enterprise_id":"E1","date":"2008-02-29",'),
    "verified false": _ev('"type":"rectification","of":"S","verified":false'),
    "negative zero amount": _ev('"type":"enforcement","penalty":"fine","amount":-0'),
    "negative score": _ev('"type":"inspection","outcome":"minor","scores":{"hygiene":-5}'),
}


@pytest.mark.parametrize("case", sorted(ODDITIES))
def test_an_unusual_valid_line_reads_as_the_records_module_reads_it(
    tmp_path: Path, case: str, reader: _Reader
) -> None:
    scores = _dump(
        {
            "id": "S",
            "enterprise_id": "E1",
            "date": "2009-01-04",
            "type": "inspection",
            "outcome": "minor",
            "scores": {"a": 3, "b": 4},
        }
    )
    evs = [scores, *_surrounded(ODDITIES[case])]
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", [_E]), _write(tmp_path / "v.jsonl", evs)
    )
    assert expected.startswith("{"), expected
    assert actual == expected
    if reader.duckdb:  # DuckDB took the file: the odd line went to the strict parser alone
        assert reader.batches == 6


def test_errors_of_two_kinds_in_one_batch_do_not_cancel_out(
    tmp_path: Path, reader: _Reader
) -> None:
    # One line a byte longer than its values (a space), the next a byte shorter would be if
    # the check summed lines; each is judged alone, and the second one's error is reported.
    longer = _ev('"type":"complaint","substantiated" :true')
    shorter = _ev('"type":"void","of":5,"reason":"r"')
    evs = [_good(1), longer, shorter, _good(2)]
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", [_E]), _write(tmp_path / "v.jsonl", evs)
    )
    assert "v.jsonl:3:" in expected
    assert actual == expected


@pytest.mark.parametrize(
    "oddity",
    [b"\r\n", b"\n\n", b"\n   \n", b"\n\xef\xbb\xbf", b"\n \t"],
    ids=["crlf", "blank line", "spaces line", "bom inside", "leading whitespace"],
)
def test_lines_the_duckdb_path_leaves_midway_read_as_the_records_module_reads_them(
    tmp_path: Path, oddity: bytes, reader: _Reader
) -> None:
    lines = [_good(i).encode() for i in range(40)]
    data = b"\n".join(lines[:23]) + oddity + b"\n".join(lines[23:]) + b"\n"
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", [_E]), _write(tmp_path / "v.jsonl", data)
    )
    assert actual == expected


def test_a_bom_crlf_and_no_final_newline_read_as_the_records_module_reads_them(
    tmp_path: Path, reader: _Reader
) -> None:
    first = b"\xef\xbb\xbf" + b"\n".join(_good(i).encode() for i in range(12))
    for data in (first, first + b"\r\n", first + b"\n\n"):
        expected, actual = _outcome(
            _write(tmp_path / "e.jsonl", [_E]), _write(tmp_path / "v.jsonl", data)
        )
        assert expected.startswith("{")
        assert actual == expected


def test_a_syntax_error_in_a_big_file_names_its_line(tmp_path: Path, reader: _Reader) -> None:
    ents, evs = _county(tmp_path, 200)
    middle = len(evs) // 2
    evs = [*evs[:middle], evs[middle][:-3], *evs[middle + 1 :]]
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", ents), _write(tmp_path / "v.jsonl", evs)
    )
    assert f"v.jsonl:{middle + 1}:" in expected
    assert "invalid JSON" in expected
    assert actual == expected


def test_a_duplicate_before_an_error_duckdb_refuses_is_reported_first(
    tmp_path: Path, reader: _Reader
) -> None:
    ents, evs = _county(tmp_path, 60)
    evs = [*evs[:50], evs[3], *evs[50:100], evs[101].replace('"type":', '"type":"x","type":')]
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", ents), _write(tmp_path / "v.jsonl", evs)
    )
    assert "duplicate event id" in expected
    assert actual == expected


def test_the_duckdb_path_reads_a_clean_county_itself(tmp_path: Path, reader: _Reader) -> None:
    ents, evs = _county(tmp_path, 80)
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", ents), _write(tmp_path / "v.jsonl", evs)
    )
    assert actual == expected
    if reader.duckdb:  # it checked every batch itself
        assert reader.batches >= len(evs) // 5


def _same_columns(a: object, b: object, where: str = "records") -> None:
    """Assert two column structures hold equal arrays (dtypes included)."""
    import numpy as np

    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype, where
        assert np.array_equal(a, b), where
    elif hasattr(a, "__dataclass_fields__"):
        for name in a.__dataclass_fields__:
            if not name.startswith("_"):
                _same_columns(getattr(a, name), getattr(b, name), f"{where}.{name}")
    elif isinstance(a, dict):
        assert isinstance(b, dict), where
        assert a.keys() == b.keys(), where
        for key in a:
            _same_columns(a[key], b[key], f"{where}[{key}]")
    else:
        assert a == b, where


def test_descriptions_and_reasons_come_back_as_the_records_module_reads_them(
    tmp_path: Path, reader: _Reader
) -> None:
    """The free texts a few records carry are kept for those rows only; every event read
    back from the columns is the event the records module reads, texts included."""
    from riskgrade._columns import history

    enterprises, events = generate_county(CountySpec(enterprises=60, seed=5))
    events += [
        {
            "id": "T1",
            "enterprise_id": enterprises[0]["id"],
            "date": "2009-02-03",
            "type": "incident",
            "description": '事故 "quoted"',
        },
        {
            "id": "T2",
            "enterprise_id": enterprises[1]["id"],
            "date": "2009-02-04",
            "type": "incident",
        },
        {
            "id": "T3",
            "enterprise_id": enterprises[1]["id"],
            "date": "2009-02-05",
            "type": "void",
            "of": "T2",
            "reason": "entered twice",
        },
    ]
    ent_path = _write(tmp_path / "e.jsonl", [_dump(e) for e in enterprises])
    ev_path = _write(tmp_path / "v.jsonl", [_dump(e) for e in events])
    records = load_records(ent_path, ev_path)
    columns = read_records(ent_path, ev_path)
    texts = {e.id: e.model_dump() for row in (0, 1) for e in history(columns, row)[1]}
    assert texts["T1"]["description"] == '事故 "quoted"'
    assert texts["T2"].get("description") is None
    assert texts["T3"]["reason"] == "entered twice"
    for row, enterprise in enumerate(records.enterprises):
        _, back = history(columns, row)
        mine = [e for e in records.events if e.enterprise_id == enterprise.id]
        assert sorted(e.model_dump_json() for e in back) == sorted(
            e.model_dump_json() for e in mine
        )


def test_a_population_reads_alike_with_and_without_duckdb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("duckdb")
    from riskgrade import _ingest_duck, ingest

    enterprises, events = generate_county(CountySpec(enterprises=300, seed=11))
    ent_path = _write(tmp_path / "e.jsonl", [_dump(e) for e in enterprises])
    ev_path = _write(tmp_path / "v.jsonl", [_dump(e) for e in events])
    monkeypatch.setattr(_ingest_duck, "_DUCK_ROWS", 1000)  # read by _DuckStream
    batches: list[int] = []
    checked = ingest._chunk_from_duck
    monkeypatch.setattr(
        ingest, "_chunk_from_duck", lambda batch: batches.append(1) or checked(batch)
    )
    through_duckdb = read_records(ent_path, ev_path)
    assert len(batches) >= len(events) // 1000
    _without_duckdb(monkeypatch)
    through_pyarrow = read_records(ent_path, ev_path, block_size=1 << 16)
    assert len(through_duckdb.events) == len(events)
    _same_columns(through_duckdb, through_pyarrow)


def test_without_duckdb_the_pyarrow_path_reads_the_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskgrade import ingest

    monkeypatch.setattr(ingest, "_duckdb", lambda: None)
    started: list[int] = []
    monkeypatch.setattr(ingest, "_DuckStream", lambda *a: started.append(1))
    ents, evs = _county(tmp_path, 40)
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", ents), _write(tmp_path / "v.jsonl", evs), block_size=4096
    )
    assert actual == expected
    assert not started


def test_a_crlf_file_reads_as_the_records_module_reads_it(tmp_path: Path, reader: _Reader) -> None:
    ents, evs = _county(tmp_path, 40)
    data = "".join(line + "\r\n" for line in evs).encode()
    expected, actual = _outcome(
        _write(tmp_path / "e.jsonl", ents), _write(tmp_path / "v.jsonl", data)
    )
    assert expected.startswith("{")
    assert actual == expected
    if reader.duckdb:  # it kept on: a CR before the newline is no reason to leave
        assert reader.batches >= len(evs) // 5
