"""Input records: parsing, strict validation, located errors and cross-record checks."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from riskgrade._jsonl import iter_jsonl_lines
from riskgrade.errors import InputError
from riskgrade.records import (
    CORRECTION_TYPES,
    EVENT_TYPES,
    Complaint,
    Enforcement,
    Enterprise,
    Event,
    Incident,
    Inspection,
    Recheck,
    RecordSet,
    Rectification,
    SpotCheck,
    SpotCheckItem,
    Void,
    event_to_mapping,
    load_records,
    parse_enterprise_line,
    parse_event_line,
    read_enterprises,
    read_events,
    record_json_schema,
)

VALID_USCC = "91350100M000100Y43"

MINIMAL_EVENTS: dict[str, dict[str, object]] = {
    "spot_check": {"result": "pass"},
    "recheck": {"of": "S1", "result": "upheld"},
    "inspection": {"outcome": "compliant"},
    "rectification": {"of": "I1"},
    "enforcement": {"penalty": "warning"},
    "complaint": {"substantiated": False},
    "incident": {},
    "void": {"of": "X1", "reason": "entered twice"},
}


def event_line(type_name: str, **fields: object) -> str:
    record: dict[str, object] = {
        "id": "V1",
        "enterprise_id": "E1",
        "date": "2024-03-01",
        "type": type_name,
        **MINIMAL_EVENTS[type_name],
    }
    record.update(fields)
    return json.dumps(record)


def parse_event(text: str) -> Event:
    return parse_event_line(text, file="events.jsonl", line=7)


def event_error(text: str) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_event(text)
    return caught.value


def enterprise_error(text: str) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_enterprise_line(text, file="enterprises.jsonl", line=4)
    return caught.value


def where(error: InputError) -> tuple[str | None, int | None, str | None, str | None]:
    return error.file, error.line, error.field, error.event


def write(path: Path, *records: Mapping[str, object] | str) -> Path:
    lines = [record if isinstance(record, str) else json.dumps(record) for record in records]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def record(
    event_id: str, type_name: str, date: str, enterprise_id: str = "E1", **fields: object
) -> dict[str, object]:
    """Build an event as a plain mapping, for :meth:`RecordSet.from_dicts`."""
    common: dict[str, object] = {
        "id": event_id,
        "enterprise_id": enterprise_id,
        "date": date,
        "type": type_name,
    }
    return common | fields


def spot_check(event_id: str, result: str = "fail", **fields: object) -> dict[str, object]:
    items = [{"name": "nitrite", "kind": "safety"}] if result == "fail" else []
    base = record(event_id, "spot_check", "2024-01-10", result=result, items=items)
    return base | fields


def record_set_error(events: list[dict[str, object]]) -> InputError:
    with pytest.raises(InputError) as caught:
        RecordSet.from_dicts([{"id": "E1"}, {"id": "E2"}], events)
    return caught.value


# --- enterprises ------------------------------------------------------------------------------


def test_enterprise_line_parses_every_contract_field() -> None:
    text = json.dumps(
        {
            "id": "E1",
            "scheme": "food",
            "name": "Hill Dairy",
            "region": "Fengqiao",
            "grid": "G3",
            "industry": "dairy",
            "uscc": VALID_USCC,
            "registered_on": "2019-05-06",
            "attributes": {"category": "dairy"},
        }
    )

    expected = Enterprise(
        id="E1",
        scheme="food",
        name="Hill Dairy",
        region="Fengqiao",
        grid="G3",
        industry="dairy",
        uscc=VALID_USCC,
        registered_on=dt.date(2019, 5, 6),
        attributes={"category": "dairy"},
    )
    assert expected == parse_enterprise_line(text, file="enterprises.jsonl", line=1)


def test_enterprise_attributes_keep_lists_as_tuples_and_numbers_exact() -> None:
    text = '{"id": "E1", "attributes": {"lines": ["milk", "yoghurt"], "staff": 12, '
    text += '"area": 0.1, "export": true}}'

    enterprise = parse_enterprise_line(text, file="enterprises.jsonl", line=1)

    expected = {
        "lines": ("milk", "yoghurt"),
        "staff": Decimal("12"),
        "area": Decimal("0.1"),
        "export": True,
    }
    assert expected == enterprise.attributes


def test_enterprise_attribute_object_value_is_error_on_its_path() -> None:
    error = enterprise_error('{"id": "E1", "attributes": {"site": {"x": 1}}}')

    assert ("enterprises.jsonl", 4, "attributes.site", None) == where(error)
    assert "a list of strings, a number or true/false" in error.message


def test_enterprise_with_bad_check_character_names_expected_one() -> None:
    error = enterprise_error(json.dumps({"id": "E1", "uscc": VALID_USCC[:17] + "4"}))

    assert ("enterprises.jsonl", 4, "uscc", None) == where(error)
    assert "check character is '4', expected '3'" == error.message


def test_enterprise_unknown_field_suggests_the_close_one() -> None:
    error = enterprise_error('{"id": "E1", "regoin": "Fengqiao"}')

    assert ("enterprises.jsonl", 4, "regoin", None) == where(error)
    assert "unknown field 'regoin'" == error.message
    assert "region" == error.suggestion


def test_enterprise_with_empty_id_is_error_on_id() -> None:
    error = enterprise_error('{"id": ""}')

    assert ("enterprises.jsonl", 4, "id", None) == where(error)
    assert "must not be empty" == error.message


def test_enterprise_number_is_not_a_string() -> None:
    error = enterprise_error('{"id": "E1", "name": 12}')

    assert ("name", "expected a string, got the number 12") == (error.field, error.message)


# --- dates ------------------------------------------------------------------------------------


def test_leap_day_in_a_leap_year_is_a_date() -> None:
    event = parse_event(event_line("incident", date="2020-02-29"))

    assert dt.date(2020, 2, 29) == event.date


@pytest.mark.parametrize(
    "text",
    ["2021-02-29", "2021-2-3", "2021-02-03T00:00", "20210203", " 2021-02-03", "2021-13-01", ""],
)
def test_anything_but_a_calendar_date_as_yyyy_mm_dd_is_rejected(text: str) -> None:
    error = event_error(event_line("incident", date=text))

    assert ("events.jsonl", 7, "date", "V1") == where(error)


def test_impossible_date_message_says_it_is_not_in_the_calendar() -> None:
    error = event_error(event_line("incident", date="2021-02-29"))

    assert error.message.startswith("'2021-02-29' is not a date in the calendar")


def test_number_is_not_a_date() -> None:
    error = event_error(event_line("incident", date=20210203))

    assert ("date", "expected a date as YYYY-MM-DD, got the number 20210203") == (
        error.field,
        error.message,
    )


def test_optional_date_may_be_null() -> None:
    event = parse_event(event_line("inspection", deadline=None))

    assert isinstance(event, Inspection)
    assert None is event.deadline


def test_datetime_is_not_a_date_in_python_records() -> None:
    with pytest.raises(InputError) as caught:
        RecordSet.from_dicts(
            [{"id": "E1"}],
            [
                {
                    "id": "C1",
                    "enterprise_id": "E1",
                    "date": dt.datetime(2024, 1, 1, 9, 30),
                    "type": "complaint",
                    "substantiated": True,
                }
            ],
        )

    assert ("<memory:events>", 1, "date", "C1") == where(caught.value)


@given(st.dates())
def test_every_date_round_trips_through_its_iso_form(day: dt.date) -> None:
    event = parse_event(event_line("incident", date=day.isoformat()))

    assert day == event.date


# --- numbers ----------------------------------------------------------------------------------


def test_amount_keeps_the_decimal_digits_written() -> None:
    text = event_line("enforcement").replace('"warning"', '"fine", "amount": 0.1')

    event = parse_event(text)

    assert isinstance(event, Enforcement)
    assert ("0.1", Decimal("0.1")) == (str(event.amount), event.amount)


def test_digits_beyond_binary_float_precision_are_kept() -> None:
    written = "12345678901234567890.123456789"
    text = event_line("enforcement").replace('"warning"', f'"fine", "amount": {written}')

    event = parse_event(text)

    assert isinstance(event, Enforcement)
    assert Decimal(written) == event.amount


def test_integer_becomes_a_decimal() -> None:
    text = event_line("enforcement").replace('"warning"', '"fine", "amount": 5000')

    event = parse_event(text)

    assert isinstance(event, Enforcement)
    assert (Decimal, Decimal(5000)) == (type(event.amount), event.amount)


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_every_finite_decimal_is_read_exactly(number: Decimal) -> None:
    text = event_line("inspection").replace('"compliant"', f'"minor", "scores": {{"a": {number}}}')

    event = parse_event(text)

    assert isinstance(event, Inspection)
    assert event.scores is not None
    assert str(number) == str(event.scores["a"])


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_number_is_error_on_its_field(constant: str) -> None:
    text = event_line("enforcement").replace('"warning"', f'"fine", "amount": {constant}')

    error = event_error(text)

    assert ("events.jsonl", 7, "amount", "V1") == where(error)
    assert f"expected a finite number, got {constant}" == error.message


def test_negative_amount_is_error() -> None:
    error = event_error(event_line("enforcement", amount=-1))

    assert ("amount", "must not be negative, got -1") == (error.field, error.message)


def test_number_in_a_string_is_not_a_number() -> None:
    error = event_error(event_line("enforcement", amount="5"))

    assert ("amount", 'expected a number, got the string "5"') == (error.field, error.message)


def test_non_numeric_score_is_error_on_its_dotted_path() -> None:
    error = event_error(event_line("inspection", scores={"hygiene": "high"}))

    assert ("events.jsonl", 7, "scores.hygiene", "V1") == where(error)


def test_binary_float_in_python_records_is_refused() -> None:
    fine = record("F1", "enforcement", "2024-01-01", penalty="fine", amount=0.1)
    with pytest.raises(InputError) as caught:
        RecordSet.from_dicts([{"id": "E1"}], [fine])

    assert ("<memory:events>", 1, "amount", "F1") == where(caught.value)
    assert "use Decimal('0.1')" in caught.value.message


# --- strictness and messages ------------------------------------------------------------------


def test_string_true_is_not_a_bool() -> None:
    error = event_error(event_line("complaint", substantiated="true"))

    assert ("events.jsonl", 7, "substantiated", "V1") == where(error)
    assert 'expected true or false, got the string "true"' == error.message


def test_one_is_not_a_bool() -> None:
    error = event_error(event_line("complaint", substantiated=1))

    assert "expected true or false, got the number 1" == error.message


def test_wrong_case_choice_suggests_the_right_one() -> None:
    error = event_error(event_line("spot_check", result="PASS"))

    assert ("result", "expected 'pass' or 'fail', got the string \"PASS\"") == (
        error.field,
        error.message,
    )
    assert "pass" == error.suggestion


def test_misspelt_field_is_reported_as_unknown_with_suggestion() -> None:
    text = json.dumps(
        {"id": "V1", "enterprise_id": "E1", "date": "2024-03-01", "type": "complaint"}
        | {"substantiatd": True}
    )

    error = event_error(text)

    assert ("events.jsonl", 7, "substantiatd", "V1") == where(error)
    assert ("unknown field 'substantiatd'", "substantiated") == (error.message, error.suggestion)


def test_missing_required_field_is_error_on_it() -> None:
    text = json.dumps({"id": "V1", "enterprise_id": "E1", "date": "2024-03-01", "type": "void"})

    error = event_error(text)

    assert ("events.jsonl", 7, "of", "V1") == where(error)
    assert "required field is missing" == error.message


def test_void_reason_must_not_be_empty() -> None:
    error = event_error(event_line("void", reason=" "))

    assert ("reason", "must not be empty") == (error.field, error.message)


def test_unknown_event_type_suggests_a_close_one() -> None:
    error = event_error(event_line("incident", type="spotcheck"))

    assert ("events.jsonl", 7, "type", "V1") == where(error)
    assert ("unknown event type 'spotcheck'", "spot_check") == (error.message, error.suggestion)


def test_missing_event_type_is_error_on_type() -> None:
    error = event_error('{"id": "V1", "enterprise_id": "E1", "date": "2024-03-01"}')

    assert ("events.jsonl", 7, "type", "V1") == where(error)
    assert error.message.startswith("required field is missing")


def test_invalid_json_names_line_and_column() -> None:
    error = event_error('{"id": "V1",}')

    assert ("events.jsonl", 7, None, None) == where(error)
    assert error.message.startswith("invalid JSON at column 13:")


def test_line_that_is_not_an_object_is_error() -> None:
    error = event_error("[1, 2]")

    assert "expected a JSON object, got a list" == error.message


def test_repeated_key_is_error_on_that_key() -> None:
    error = event_error('{"id": "V1", "type": "incident", "type": "void"}')

    assert ("events.jsonl", 7, "type", "V1") == where(error)
    assert "this key appears twice in one object" == error.message


def test_error_message_reads_file_line_event_field() -> None:
    error = event_error(event_line("complaint", substantiated="yes"))

    assert (
        'events.jsonl:7: event V1: substantiated: expected true or false, got the string "yes"'
        == str(error)
    )


# --- spot checks and the event union -----------------------------------------------------------


def test_failed_spot_check_without_items_is_error_on_items() -> None:
    error = event_error(event_line("spot_check", result="fail"))

    assert ("events.jsonl", 7, "items", "V1") == where(error)
    assert "a failed spot check must list at least one item" == error.message


def test_failed_spot_check_with_empty_items_is_error_on_items() -> None:
    error = event_error(event_line("spot_check", result="fail", items=[]))

    assert "items" == error.field


def test_spot_check_items_are_tuples_of_items_and_level_defaults_to_county() -> None:
    items = [{"name": "nitrite", "kind": "safety"}, {"name": "label", "kind": "labeling"}]

    event = parse_event(event_line("spot_check", result="fail", items=items))

    assert isinstance(event, SpotCheck)
    expected = (
        SpotCheckItem(name="nitrite", kind="safety"),
        SpotCheckItem(name="label", kind="labeling"),
    )
    assert (expected, "county") == (event.items, event.level)


def test_unknown_item_field_is_error_on_its_dotted_path() -> None:
    error = event_error(
        event_line("spot_check", result="fail", items=[{"name": "nitrite", "knd": "safety"}])
    )

    assert ("events.jsonl", 7, "items.0.knd", "V1") == where(error)
    assert "kind" == error.suggestion


def test_unknown_item_kind_is_error_on_its_dotted_path() -> None:
    error = event_error(
        event_line("spot_check", result="fail", items=[{"name": "nitrite", "kind": "safty"}])
    )

    assert ("items.0.kind", "safety") == (error.field, error.suggestion)


EXPECTED_CLASSES = {
    "spot_check": SpotCheck,
    "recheck": Recheck,
    "inspection": Inspection,
    "rectification": Rectification,
    "enforcement": Enforcement,
    "complaint": Complaint,
    "incident": Incident,
    "void": Void,
}


@pytest.mark.parametrize("type_name", sorted(EXPECTED_CLASSES))
def test_each_event_type_parses_to_its_class(type_name: str) -> None:
    event = parse_event(event_line(type_name))

    assert EXPECTED_CLASSES[type_name] is type(event)


def test_event_types_map_each_name_to_the_class_of_that_type() -> None:
    assert EXPECTED_CLASSES == dict(EVENT_TYPES)
    assert all(cls.model_fields["type"].default == name for name, cls in EVENT_TYPES.items())


def test_event_types_cannot_be_changed() -> None:
    with pytest.raises(TypeError):
        EVENT_TYPES["other"] = Incident  # type: ignore[index]


def test_correction_types_are_void_and_recheck() -> None:
    assert frozenset({"void", "recheck"}) == CORRECTION_TYPES


def test_event_union_picks_the_class_named_by_type() -> None:
    adapter: TypeAdapter[Event] = TypeAdapter(Event)

    event = adapter.validate_python(
        {
            "id": "C1",
            "enterprise_id": "E1",
            "date": dt.date(2024, 1, 1),
            "type": "complaint",
            "substantiated": True,
        }
    )

    assert Complaint(id="C1", enterprise_id="E1", date=dt.date(2024, 1, 1), substantiated=True) == (
        event
    )


def test_events_are_frozen() -> None:
    event = parse_event(event_line("incident"))

    with pytest.raises(ValidationError):
        event.date = dt.date(2000, 1, 1)  # type: ignore[misc]


def test_enterprises_are_frozen() -> None:
    enterprise = parse_enterprise_line('{"id": "E1"}', file="e.jsonl", line=1)

    with pytest.raises(ValidationError):
        enterprise.name = "other"  # type: ignore[misc]


def test_event_to_mapping_gives_plain_python_values() -> None:
    event = parse_event(
        event_line("spot_check", result="fail", items=[{"name": "nitrite", "kind": "safety"}])
    )

    expected = {
        "id": "V1",
        "enterprise_id": "E1",
        "date": dt.date(2024, 3, 1),
        "type": "spot_check",
        "result": "fail",
        "items": ({"name": "nitrite", "kind": "safety"},),
        "level": "county",
    }
    assert expected == event_to_mapping(event)


def test_event_to_mapping_keeps_decimals_and_copies_scores() -> None:
    event = parse_event(
        event_line("inspection").replace('"compliant"', '"minor", "scores": {"a": 1.50}')
    )
    assert isinstance(event, Inspection)

    mapping = event_to_mapping(event)
    scores = mapping["scores"]
    assert isinstance(scores, dict)
    scores["a"] = Decimal(0)

    assert {"a": Decimal("1.50")} == event.scores


# --- reading files ----------------------------------------------------------------------------


def test_blank_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "x.jsonl", '{"a": 1}', "", "  \t", '{"b": 2}')

    assert [(1, '{"a": 1}'), (4, '{"b": 2}')] == list(iter_jsonl_lines(path))


def test_windows_line_endings_and_byte_order_mark_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n{"b": 2}\r\n')

    assert [(1, '{"a": 1}'), (2, '{"b": 2}')] == list(iter_jsonl_lines(path))


def test_line_separator_inside_a_string_does_not_split_the_record(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": "x\u2028y"}\n', encoding="utf-8")

    assert [(1, '{"a": "x\u2028y"}')] == list(iter_jsonl_lines(path))


def test_invalid_utf8_is_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": "\xff"}\n')

    with pytest.raises(InputError) as caught:
        list(iter_jsonl_lines(path))

    assert (str(path), 2) == (caught.value.file, caught.value.line)
    assert caught.value.message.startswith("not valid UTF-8 at byte 8")


def test_missing_file_is_input_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.jsonl"

    with pytest.raises(InputError) as caught:
        read_events(path)

    assert (str(path), None) == (caught.value.file, caught.value.line)


def test_text_stream_is_read_with_its_name() -> None:
    stream = io.StringIO('{"id": "E1"}\n\n{"id": "E2"}\n')

    enterprises = read_enterprises(stream)

    assert ["E1", "E2"] == [enterprise.id for enterprise in enterprises]


def test_read_events_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "events.jsonl",
        event_line("incident"),
        "",
        event_line("complaint", substantiated=None, id="C2"),
    )

    with pytest.raises(InputError) as caught:
        read_events(path)

    assert (str(path), 3, "substantiated", "C2") == where(caught.value)


def test_duplicate_enterprise_id_names_the_first_line(tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", {"id": "E1"}, {"id": "E2"}, {"id": "E1"})

    with pytest.raises(InputError) as caught:
        read_enterprises(path)

    assert (str(path), 3, "id", None) == where(caught.value)
    assert "duplicate enterprise id 'E1' (first on line 1)" == caught.value.message


def test_duplicate_event_id_names_the_first_line(tmp_path: Path) -> None:
    path = write(tmp_path / "v.jsonl", event_line("incident"), event_line("complaint"))

    with pytest.raises(InputError) as caught:
        read_events(path)

    assert (str(path), 2, "id", "V1") == where(caught.value)
    assert "duplicate event id 'V1' (first on line 1)" == caught.value.message


# --- the record set ---------------------------------------------------------------------------


def test_load_records_reads_both_files_in_input_order(tmp_path: Path) -> None:
    enterprises = write(tmp_path / "e.jsonl", {"id": "E2"}, {"id": "E1"})
    events = write(
        tmp_path / "v.jsonl",
        spot_check("S2", date="2024-02-01"),
        spot_check("S1", "pass", enterprise_id="E2"),
    )

    records = load_records(enterprises, events)

    assert (["E2", "E1"], ["S2", "S1"]) == (
        [enterprise.id for enterprise in records.enterprises],
        [event.id for event in records.events],
    )


def test_events_of_are_sorted_by_date_then_id() -> None:
    records = RecordSet.from_dicts(
        [{"id": "E1"}],
        [
            spot_check("S3", date="2024-01-02"),
            spot_check("S2", date="2024-01-01"),
            spot_check("S1", date="2024-01-02"),
        ],
    )

    assert ["S2", "S1", "S3"] == [event.id for event in records.events_of("E1")]


def test_enterprise_without_events_has_an_empty_history() -> None:
    records = RecordSet.from_dicts([{"id": "E1"}], [])

    assert () == records.events_of("E1")


def test_lookups_by_id() -> None:
    records = RecordSet.from_dicts([{"id": "E1", "name": "Hill Dairy"}], [spot_check("S1")])

    assert ("Hill Dairy", "S1") == (records.enterprise("E1").name, records.event("S1").id)


@pytest.mark.parametrize("lookup", ["enterprise", "event", "events_of"])
def test_lookup_of_unknown_id_is_key_error(lookup: str) -> None:
    records = RecordSet.from_dicts([{"id": "E1"}], [])

    with pytest.raises(KeyError):
        getattr(records, lookup)("nope")


def test_record_set_is_frozen() -> None:
    records = RecordSet.from_dicts([{"id": "E1"}], [])

    with pytest.raises(AttributeError):
        records.events = ()  # type: ignore[misc]


def test_event_of_unknown_enterprise_is_error_with_its_location(tmp_path: Path) -> None:
    enterprises = write(tmp_path / "e.jsonl", {"id": "E1"})
    events = write(tmp_path / "v.jsonl", spot_check("S1"), spot_check("S2", enterprise_id="E11"))

    with pytest.raises(InputError) as caught:
        load_records(enterprises, events)

    assert (str(events), 2, "enterprise_id", "S2") == where(caught.value)
    assert ("no enterprise has the id 'E11'", "E1") == (
        caught.value.message,
        caught.value.suggestion,
    )


def test_reference_to_unknown_event_is_error_on_of() -> None:
    recheck = record("R1", "recheck", "2024-02-01", of="S11", result="upheld")

    error = record_set_error([spot_check("S1"), recheck])

    assert ("<memory:events>", 2, "of", "R1") == where(error)
    assert ("no event has the id 'S11'", "S1") == (error.message, error.suggestion)


def test_recheck_of_a_passed_spot_check_is_error() -> None:
    recheck = record("R1", "recheck", "2024-02-01", of="S1", result="upheld")

    error = record_set_error([spot_check("S1", "pass"), recheck])

    assert ("<memory:events>", 2, "of", "R1") == where(error)
    expected = "a recheck must refer to a failed spot_check, but 'S1' is a passed spot_check"
    assert expected == error.message


def test_recheck_of_another_type_is_error() -> None:
    complaint = record("C1", "complaint", "2024-01-01", substantiated=True)
    recheck = record("R1", "recheck", "2024-02-01", of="C1", result="upheld")

    error = record_set_error([complaint, recheck])

    assert ("of", "R1") == (error.field, error.event)
    assert error.message.endswith("but 'C1' is a complaint")


def test_rectification_of_a_spot_check_is_error() -> None:
    rectification = record("R1", "rectification", "2024-02-01", of="S1")

    error = record_set_error([spot_check("S1"), rectification])

    assert ("<memory:events>", 2, "of", "R1") == where(error)
    assert error.message.startswith("a rectification must refer to an inspection or an enforcement")


@pytest.mark.parametrize("target", ["inspection", "enforcement"])
def test_rectification_of_inspection_or_enforcement_is_accepted(target: str) -> None:
    base = record("T1", target, "2024-01-01") | MINIMAL_EVENTS[target]
    rectification = record("R1", "rectification", "2024-01-02", of="T1", verified=False)

    records = RecordSet.from_dicts([{"id": "E1"}], [base, rectification])

    assert ["T1", "R1"] == [event.id for event in records.events_of("E1")]


def test_void_of_a_void_is_accepted() -> None:
    void1 = record("V1", "void", "2024-02-01", of="S1", reason="wrong enterprise")
    void2 = record("V2", "void", "2024-02-02", of="V1", reason="the void was the mistake")

    records = RecordSet.from_dicts([{"id": "E1"}], [spot_check("S1"), void1, void2])

    assert ["S1", "V1", "V2"] == [event.id for event in records.events_of("E1")]


def test_correction_dated_before_its_target_is_error_on_date() -> None:
    void = record("V1", "void", "2024-01-09", of="S1", reason="typo")

    error = record_set_error([spot_check("S1"), void])

    assert ("<memory:events>", 2, "date", "V1") == where(error)
    assert "dated 2024-01-09, before 'S1' (2024-01-10) which it refers to" == error.message


def test_correction_on_the_same_day_is_accepted() -> None:
    recheck = record("R1", "recheck", "2024-01-10", of="S1", result="overturned")

    records = RecordSet.from_dicts([{"id": "E1"}], [spot_check("S1"), recheck])

    assert ["R1", "S1"] == [event.id for event in records.events_of("E1")]


def test_correction_of_another_enterprises_event_is_error_on_of() -> None:
    void = record("V1", "void", "2024-02-01", enterprise_id="E2", of="S1", reason="typo")

    error = record_set_error([spot_check("S1"), void])

    assert ("<memory:events>", 2, "of", "V1") == where(error)
    assert "'S1' belongs to enterprise 'E1', not 'E2'" == error.message


def test_voids_in_a_cycle_are_error_at_the_first_of_them() -> None:
    voids = [
        record(event_id, "void", "2024-02-01", of=of, reason="loop")
        for event_id, of in [("V0", "V2"), ("V2", "V3"), ("V3", "V2")]
    ]

    error = record_set_error(voids)

    assert ("<memory:events>", 2, "of", "V2") == where(error)
    assert "voids form a cycle: V2 -> V3 -> V2" == error.message


def test_void_of_itself_is_a_cycle() -> None:
    void = record("V1", "void", "2024-02-01", of="V1", reason="loop")

    error = record_set_error([void])

    assert "voids form a cycle: V1 -> V1" == error.message


def test_build_rejects_duplicate_event_ids() -> None:
    event = parse_event(event_line("incident"))

    with pytest.raises(InputError) as caught:
        RecordSet.build([Enterprise(id="E1")], [event, event])

    assert ("id", "V1") == (caught.value.field, caught.value.event)


def test_build_rejects_duplicate_enterprise_ids() -> None:
    with pytest.raises(InputError) as caught:
        RecordSet.build([Enterprise(id="E1"), Enterprise(id="E1")], [])

    assert "duplicate enterprise id 'E1': enterprises number 1 and 2 (in input order) share it" == (
        caught.value.message
    )


def test_build_reports_locations_given_by_key() -> None:
    event = parse_event(event_line("incident", enterprise_id="E9"))

    with pytest.raises(InputError) as caught:
        RecordSet.build(
            [Enterprise(id="E1")], [event], locations={"event:V1": ("events.jsonl", 12)}
        )

    assert ("events.jsonl", 12, "enterprise_id", "V1") == where(caught.value)


def test_from_dicts_duplicate_id_names_the_first_position() -> None:
    with pytest.raises(InputError) as caught:
        RecordSet.from_dicts([{"id": "E1"}, {"id": "E1"}], [])

    assert ("<memory:enterprises>", 2, "id", None) == where(caught.value)


@given(st.permutations(["S1", "S2", "S3", "S4"]), st.permutations([1, 2, 3, 4]))
def test_history_does_not_depend_on_input_order(ids: list[str], days: list[int]) -> None:
    events = [
        spot_check(event_id, date=f"2024-01-0{day}")
        for event_id, day in zip(ids, days, strict=True)
    ]
    forward = RecordSet.from_dicts([{"id": "E1"}], events)
    backward = RecordSet.from_dicts([{"id": "E1"}], list(reversed(events)))

    assert forward.events_of("E1") == backward.events_of("E1")


# --- JSON Schema ------------------------------------------------------------------------------


def test_record_schema_requires_type_on_every_event() -> None:
    definitions = record_json_schema()["event"]["$defs"]

    missing = [
        name
        for name in EXPECTED_CLASSES.values()
        if "type" not in definitions[name.__name__]["required"]
    ]

    assert [] == missing


def test_record_schema_describes_amount_as_a_non_negative_number() -> None:
    amount = record_json_schema()["event"]["$defs"]["Enforcement"]["properties"]["amount"]

    assert [{"type": "number", "minimum": 0}, {"type": "null"}] == amount["anyOf"]


def test_record_schema_forbids_unknown_enterprise_fields() -> None:
    assert False is record_json_schema()["enterprise"]["additionalProperties"]
