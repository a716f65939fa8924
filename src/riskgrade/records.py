"""The input records: enterprises and their events, as frozen, validated value objects.

Records arrive as JSON Lines (the integration contract fixes their shapes). Each line is parsed
with exact decimals, never through binary floating point, and validated strictly: ``"true"`` is
not a boolean, ``1`` is not a date, a date is exactly ``YYYY-MM-DD``, unknown fields and types
are errors. Any problem becomes one :class:`~riskgrade.errors.InputError` naming the file, the
line, the field (a dotted path such as ``items.0.kind``) and, for events, the event id.

:class:`RecordSet` then checks what no single line can: unique ids, events that name a known
enterprise, and events that refer to another (``void``, ``recheck``, ``rectification``) naming
one they may refer to.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import json
import re
import typing
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Any, Literal, Protocol, TypeAlias, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic.config import JsonDict
from pydantic_core import ErrorDetails

from riskgrade._jsonl import JsonlSource, iter_jsonl_lines, source_name
from riskgrade._uscc import check_uscc
from riskgrade.dates import parse_date
from riskgrade.errors import InputError

__all__ = [
    "CORRECTION_TYPES",
    "EVENT_TYPES",
    "Complaint",
    "Enforcement",
    "Enterprise",
    "Event",
    "Incident",
    "Inspection",
    "Recheck",
    "RecordSet",
    "Rectification",
    "SpotCheck",
    "SpotCheckItem",
    "Void",
    "closest_match",
    "event_to_mapping",
    "literal_values",
    "load_records",
    "parse_enterprise_line",
    "parse_event_line",
    "read_enterprises",
    "read_events",
    "record_json_schema",
    "reference_problem",
]

# ---------------------------------------------------------------------------------------------
# Field types. Dates, numbers and attribute values are converted by our own functions so that
# the same rules (and the same messages) apply whether a value came from JSON or from Python.

_DATE_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _to_date(value: object) -> dt.date:
    # ``type(...) is`` rather than isinstance: a datetime is a date subclass, and accepting one
    # would silently drop its time of day.
    if type(value) is dt.date:
        return value
    if not isinstance(value, str):
        msg = f"expected a date as YYYY-MM-DD, got {_describe(value)}"
        raise ValueError(msg)  # noqa: TRY004 - pydantic reports ValueError, not TypeError
    if not _DATE_SHAPE.fullmatch(value):
        msg = f"expected a date as YYYY-MM-DD, got {_describe(value)}"
        raise ValueError(msg)
    try:
        return parse_date(value)
    except ValueError as exc:
        msg = f"{value!r} is not a date in the calendar ({exc})"
        raise ValueError(msg) from None


def _to_number(value: object) -> Decimal:
    if isinstance(value, bool):
        msg = f"expected a number, got {_describe(value)}"
        raise ValueError(msg)  # noqa: TRY004 - pydantic reports ValueError, not TypeError
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # A binary float has already lost the decimal the author wrote; refuse rather than guess.
        msg = (
            f"expected an exact number, got the binary float {value!r}; use Decimal({str(value)!r})"
        )
        raise ValueError(msg)  # noqa: TRY004 - pydantic reports ValueError, not TypeError
    if not isinstance(value, Decimal):
        msg = f"expected a number, got {_describe(value)}"
        raise ValueError(msg)  # noqa: TRY004 - pydantic reports ValueError, not TypeError
    if not value.is_finite():
        msg = f"expected a finite number, got {value}"
        raise ValueError(msg)
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        msg = f"must not be negative, got {value}"
        raise ValueError(msg)
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        msg = "must not be empty"
        raise ValueError(msg)
    return value


def _to_attribute_value(value: object) -> str | tuple[str, ...] | Decimal | bool:
    if isinstance(value, str | bool):
        return value
    if isinstance(value, tuple | list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    if isinstance(value, int | float | Decimal):
        return _to_number(value)
    msg = f"expected a string, a list of strings, a number or true/false, got {_describe(value)}"
    raise ValueError(msg)


# BeforeValidator rather than PlainValidator: a plain validator on a date or Decimal makes
# pydantic warn on every JSON dump (pydantic/pydantic#10402). The strict core check after the
# conversion still rejects anything the converter let through unchanged.
Date: TypeAlias = Annotated[dt.date, BeforeValidator(_to_date)]
"""A calendar date, written exactly ``YYYY-MM-DD`` (a ``datetime.date`` from Python)."""

# The JSON schemas are stated outright: pydantic would describe a Decimal as "a number or a
# numeric string", and these records accept only numbers.
_NUMBER_SCHEMA: JsonDict = {"type": "number"}

Number: TypeAlias = Annotated[Decimal, BeforeValidator(_to_number), WithJsonSchema(_NUMBER_SCHEMA)]
"""An exact, finite number; JSON numbers arrive as ``Decimal`` with the digits as written."""

NonNegative: TypeAlias = Annotated[
    Number, AfterValidator(_non_negative), WithJsonSchema({"type": "number", "minimum": 0})
]
NonEmptyStr: TypeAlias = Annotated[
    str,
    AfterValidator(_not_blank),
    WithJsonSchema({"type": "string", "minLength": 1, "pattern": r"\S"}),
]
AttributeValue: TypeAlias = Annotated[
    str | tuple[str, ...] | Decimal | bool,
    BeforeValidator(_to_attribute_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}},
                _NUMBER_SCHEMA,
                {"type": "boolean"},
            ]
        }
    ),
]


class _Record(BaseModel):
    # Strict so that "true" is not a bool and 1 is not a string; extra="forbid" because the
    # contract makes an unknown field an error rather than something silently dropped.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


# ---------------------------------------------------------------------------------------------
# Enterprises


class Enterprise(_Record):
    """A supervised enterprise and its static attributes.

    ``attributes`` is a plain dict because pydantic has no frozen mapping; never mutate it.
    Lists in it become tuples. ``uscc``, when present, must pass the GB 32100-2015 check.
    """

    id: NonEmptyStr
    scheme: str | None = None
    name: str | None = None
    region: str | None = None
    grid: str | None = None
    industry: str | None = None
    uscc: str | None = None
    registered_on: Date | None = None
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)

    @field_validator("uscc")
    @classmethod
    def _check_uscc(cls, value: str | None) -> str | None:
        if value is not None:
            problem = check_uscc(value)
            if problem is not None:
                raise ValueError(problem)
        return value


# ---------------------------------------------------------------------------------------------
# Events


def _type_is_required(schema: JsonDict) -> None:
    # ``type`` has a default only so that Python code can build events without repeating it;
    # in JSON it is required, and the schema says so.
    required = schema.setdefault("required", [])
    if isinstance(required, list) and "type" not in required:
        required.append("type")


class _EventRecord(_Record):
    model_config = ConfigDict(json_schema_extra=_type_is_required)

    id: NonEmptyStr
    enterprise_id: NonEmptyStr
    date: Date


class SpotCheckItem(_Record):
    """One failing (or checked) item of a spot check."""

    name: NonEmptyStr
    kind: Literal["safety", "quality", "labeling", "illegal_substance"]


class SpotCheck(_EventRecord):
    """A sampling check; a ``fail`` must list at least one item."""

    type: Literal["spot_check"] = "spot_check"
    result: Literal["pass", "fail"]
    # validate_default so that a fail with the items left out is caught by the check below.
    items: tuple[SpotCheckItem, ...] = Field(default=(), validate_default=True)
    level: Literal["national", "provincial", "municipal", "county"] = "county"

    @field_validator("items")
    @classmethod
    def _fail_lists_items(
        cls, items: tuple[SpotCheckItem, ...], info: ValidationInfo
    ) -> tuple[SpotCheckItem, ...]:
        # ``result`` is declared first, so it is in info.data unless it was itself invalid.
        if not items and info.data.get("result") == "fail":
            msg = "a failed spot check must list at least one item"
            raise ValueError(msg)
        return items


class Recheck(_EventRecord):
    """A recheck of a failed spot check, which upholds or overturns it."""

    type: Literal["recheck"] = "recheck"
    of: NonEmptyStr
    result: Literal["upheld", "overturned"]


class Inspection(_EventRecord):
    """A routine inspection; ``scores`` is a plain dict, never mutate it."""

    type: Literal["inspection"] = "inspection"
    outcome: Literal["compliant", "minor", "major"]
    deadline: Date | None = None
    scores: dict[str, Number] | None = None


class Rectification(_EventRecord):
    """A rectification of the problems found by an inspection or an enforcement."""

    type: Literal["rectification"] = "rectification"
    of: NonEmptyStr
    verified: bool = True


class Enforcement(_EventRecord):
    """An administrative penalty."""

    type: Literal["enforcement"] = "enforcement"
    penalty: Literal[
        "warning",
        "rectification_order",
        "fine",
        "confiscation",
        "suspension",
        "revocation",
        "criminal_referral",
    ]
    counterfeit: bool = False
    intentional: bool = False
    amount: NonNegative | None = None
    deadline: Date | None = None


class Complaint(_EventRecord):
    """A complaint about the enterprise; whether it was substantiated is required."""

    type: Literal["complaint"] = "complaint"
    substantiated: bool


class Incident(_EventRecord):
    """A food-safety or production incident."""

    type: Literal["incident"] = "incident"
    description: str | None = None


class Void(_EventRecord):
    """The withdrawal of an event recorded in error (which may itself be a void)."""

    type: Literal["void"] = "void"
    of: NonEmptyStr
    reason: NonEmptyStr


Event: TypeAlias = Annotated[
    SpotCheck | Recheck | Inspection | Rectification | Enforcement | Complaint | Incident | Void,
    Field(discriminator="type"),
]
"""Any event; ``type`` says which class it is."""

_EventClass: TypeAlias = (
    type[SpotCheck]
    | type[Recheck]
    | type[Inspection]
    | type[Rectification]
    | type[Enforcement]
    | type[Complaint]
    | type[Incident]
    | type[Void]
)
_EVENT_CLASSES: Mapping[str, _EventClass] = MappingProxyType(
    {
        "spot_check": SpotCheck,
        "recheck": Recheck,
        "inspection": Inspection,
        "rectification": Rectification,
        "enforcement": Enforcement,
        "complaint": Complaint,
        "incident": Incident,
        "void": Void,
    }
)

EVENT_TYPES: Mapping[str, type[BaseModel]] = _EVENT_CLASSES
"""Each event type name and its class (read-only)."""

CORRECTION_TYPES = frozenset({"void", "recheck"})
"""Event types that change what another event means rather than adding a new fact."""


def record_json_schema() -> dict[str, Any]:
    """Return the JSON Schemas of the input records: ``{"enterprise": ..., "event": ...}``.

    The schemas describe shapes; rules they cannot state (the USCC check character, calendar
    dates, items required when a spot check fails, references between records) are enforced
    by parsing and by :class:`RecordSet`.
    """
    return {
        "enterprise": Enterprise.model_json_schema(),
        "event": TypeAdapter(Event).json_schema(),
    }


def literal_values(model: type[BaseModel], field: str) -> tuple[str, ...]:
    """Return the allowed values of an enumerated field of a record model, in declared order.

    The record models are the one place these vocabularies are written; other modules (the
    rule compiler, the columnar reader, test strategies) read them from here.
    """
    return tuple(str(value) for value in typing.get_args(model.model_fields[field].annotation))


def event_to_mapping(event: Event) -> dict[str, object]:
    """Return the event's fields as plain Python, in declaration order.

    Dates stay ``datetime.date``, numbers stay ``Decimal``, ``items`` is a tuple of
    ``{"name", "kind"}`` dicts and ``scores`` a fresh dict (or ``None``), so callers may keep
    the result without touching the event.
    """
    return event.model_dump()


# ---------------------------------------------------------------------------------------------
# Parsing one record, with its location


class _BadJsonError(Exception):
    """A problem in a record's JSON found before any field is validated; ``path`` locates it."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class _JsonObject:
    """A JSON object as its key/value pairs, so that a repeated key can still be seen."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, object]]) -> None:
        self.pairs = pairs


class _NonFinite:
    """Stands in for ``NaN`` / ``Infinity`` until the path to it is known."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _load_object(text: str, *, file: str, line: int, is_event: bool) -> dict[str, object]:
    try:
        value = json.loads(
            text,
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_NonFinite,
            object_pairs_hook=_JsonObject,
        )
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON at column {exc.colno}: {exc.msg}"
        raise InputError(msg, file=file, line=line) from None
    except RecursionError:
        msg = "invalid JSON: nested too deeply"
        raise InputError(msg, file=file, line=line) from None
    return _as_object(value, file=file, line=line, is_event=is_event)


def _as_object(value: object, *, file: str, line: int, is_event: bool) -> dict[str, object]:
    """Return parsed JSON or caller-built Python as a record dict, or raise ``InputError``."""
    if not isinstance(value, _JsonObject | Mapping):
        msg = f"expected a JSON object, got {_describe(value)}"
        raise InputError(msg, file=file, line=line)
    try:
        return _normalise_object(value, ())
    except _BadJsonError as exc:
        field = ".".join(str(part) for part in exc.path) or None
        event = _raw_id(value) if is_event else None
        raise InputError(exc.message, file=file, line=line, field=field, event=event) from None
    except RecursionError:
        msg = "nested too deeply"
        raise InputError(msg, file=file, line=line) from None


def _raw_id(value: _JsonObject | Mapping[Any, object]) -> str | None:
    """Return a record's ``id`` before validation, when it has a usable one, for error messages."""
    pairs = value.pairs if isinstance(value, _JsonObject) else list(value.items())
    ids = [item for key, item in pairs if key == "id"]
    return ids[0] if ids and isinstance(ids[0], str) and ids[0].strip() else None


def _normalise_object(
    value: _JsonObject | Mapping[Any, object], path: tuple[str | int, ...]
) -> dict[str, object]:
    pairs = value.pairs if isinstance(value, _JsonObject) else list(value.items())
    result: dict[str, object] = {}
    for key, item in pairs:
        if not isinstance(key, str):
            msg = f"field names must be strings, got {key!r}"
            raise _BadJsonError(msg, path)
        if key in result:
            # json.loads alone would keep the last of two equal keys and hide the first value.
            msg = "this key appears twice in one object"
            raise _BadJsonError(msg, (*path, key))
        result[key] = _normalise(item, (*path, key))
    return result


def _normalise(value: object, path: tuple[str | int, ...]) -> object:
    """Bring one parsed JSON or caller-built Python value into the shape the strict models take.

    Objects become dicts, arrays tuples (records are immutable) and integers ``Decimal``
    (numbers are exact). Everything else is left for validation to judge.
    """
    if isinstance(value, _JsonObject | Mapping):
        return _normalise_object(value, path)
    if isinstance(value, list | tuple):
        return tuple(_normalise(item, (*path, index)) for index, item in enumerate(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, _NonFinite):
        msg = f"expected a finite number, got {value.name}"
        raise _BadJsonError(msg, path)
    if isinstance(value, str) and not _encodable(value):
        msg = f"the string {value!r} contains an unpaired surrogate escape"
        raise _BadJsonError(msg, path)
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_enterprise_line(text: str, *, file: str, line: int) -> Enterprise:
    """Parse one JSON Lines record as an :class:`Enterprise`.

    Raises ``InputError`` (with ``file``, ``line`` and, where one is to blame, ``field``) for
    invalid JSON, anything but an object, and every schema violation; only the first problem
    of a line is reported.
    """
    data = _load_object(text, file=file, line=line, is_event=False)
    return _validate_enterprise(data, file=file, line=line)


def parse_event_line(text: str, *, file: str, line: int) -> Event:
    """Parse one JSON Lines record as an event, choosing its class by ``type``.

    Raises ``InputError`` as :func:`parse_enterprise_line` does; ``event`` is set to the
    record's id whenever it has a usable one. A missing or unknown ``type`` is an error on the
    field ``type``, with a suggestion when the name is close to a known one.
    """
    return _validate_event(
        _load_object(text, file=file, line=line, is_event=True), file=file, line=line
    )


def _validate_enterprise(data: dict[str, object], *, file: str, line: int) -> Enterprise:
    try:
        return Enterprise.model_validate(data)
    except ValidationError as exc:
        raise _readable(exc, Enterprise, file=file, line=line, event=None) from None


def _validate_event(data: dict[str, object], *, file: str, line: int) -> Event:
    event_id = data.get("id")
    known_id = event_id if isinstance(event_id, str) and event_id.strip() else None
    if "type" not in data:
        msg = f"required field is missing (one of {', '.join(sorted(EVENT_TYPES))})"
        raise InputError(msg, file=file, line=line, field="type", event=known_id)
    type_name = data["type"]
    if not isinstance(type_name, str):
        msg = f"expected a string, got {_describe(type_name)}"
        raise InputError(msg, file=file, line=line, field="type", event=known_id)
    event_class = _EVENT_CLASSES.get(type_name)
    if event_class is None:
        msg = f"unknown event type {type_name!r}"
        raise InputError(
            msg,
            file=file,
            line=line,
            field="type",
            event=known_id,
            suggestion=closest_match(type_name, EVENT_TYPES),
        )
    try:
        return event_class.model_validate(data)
    except ValidationError as exc:
        raise _readable(exc, event_class, file=file, line=line, event=known_id) from None


# ---------------------------------------------------------------------------------------------
# Turning pydantic's report into one readable error


def _readable(
    exc: ValidationError,
    model: type[BaseModel],
    *,
    file: str,
    line: int,
    event: str | None,
) -> InputError:
    errors = exc.errors(include_url=False)
    # A misspelt field shows up twice: the real name missing and the typo unknown. The unknown
    # one carries the "did you mean", which explains both, so it goes first.
    unknown = [error for error in errors if error["type"] == "extra_forbidden"]
    error = unknown[0] if unknown else errors[0]
    path = ".".join(str(part) for part in error["loc"])
    message, suggestion = _explain(error, model)
    return InputError(
        message, file=file, line=line, field=path or None, event=event, suggestion=suggestion
    )


def _explain(error: ErrorDetails, model: type[BaseModel]) -> tuple[str, str | None]:
    kind = error["type"]
    given = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required field is missing", None
    if kind == "extra_forbidden":
        name = str(error["loc"][-1])
        allowed = _fields_at(model, error["loc"][:-1])
        return f"unknown field {name!r}", closest_match(name, allowed)
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        options = re.findall(r"'([^']*)'", expected)
        suggestion = closest_match(given, options) if isinstance(given, str) else None
        return f"expected {expected}, got {_describe(given)}", suggestion
    if kind == "value_error":
        return str(ctx.get("error", error["msg"])), None
    simple = {
        "string_type": "expected a string",
        "bool_type": "expected true or false",
        "tuple_type": "expected a list",
        "dict_type": "expected an object",
        "model_type": "expected an object",
        "model_attributes_type": "expected an object",
    }
    if kind in simple:
        return f"{simple[kind]}, got {_describe(given)}", None
    return error["msg"], None


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[str, ...]:
    """Return the field names allowed at ``loc`` (the path of an object) within ``model``."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        current = _nested_model(field.annotation) if field is not None else None
    return tuple(current.model_fields) if current is not None else ()


def _nested_model(annotation: object) -> type[BaseModel] | None:
    # Only tuples of models nest in these records (SpotCheck.items); follow them one level.
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        if isinstance(argument, type) and issubclass(argument, BaseModel):
            return argument
    return None


def closest_match(word: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to ``word`` for a "did you mean", if one is close."""
    options = list(candidates)
    matches = difflib.get_close_matches(word, options, n=1)
    if matches:
        return matches[0]
    # Case slips ("PASS" for "pass") can score too low for difflib on short words.
    folded = [option for option in options if option.lower() == word.lower()]
    return folded[0] if folded else None


def _describe(value: object) -> str:
    """Name a JSON value for an error message, quoting short strings and numbers."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {json.dumps(shown, ensure_ascii=False)}"
    if isinstance(value, int | Decimal):
        return f"the number {value}"
    if isinstance(value, float):
        return f"the float {value!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, dt.date):
        return f"the {type(value).__name__} {value.isoformat()}"
    return f"a {type(value).__name__}"


# ---------------------------------------------------------------------------------------------
# Reading files


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_R = TypeVar("_R", bound=_Identified)


def _unique(
    records: Iterable[tuple[_R, str, int]],
    kind: Literal["enterprise", "event"],
    locations: dict[str, tuple[str, int]],
) -> tuple[_R, ...]:
    """Collect records, recording where each came from as ``locations["<kind>:<id>"]``.

    A repeated id is an error at the second occurrence, saying where the first was.
    """
    collected: list[_R] = []
    for record, file, line in records:
        key = f"{kind}:{record.id}"
        first = locations.get(key)
        if first is not None:
            where = f"line {first[1]}" if first[0] == file else f"{first[0]}:{first[1]}"
            msg = f"duplicate {kind} id {record.id!r} (first on {where})"
            event = record.id if kind == "event" else None
            raise InputError(msg, file=file, line=line, field="id", event=event)
        locations[key] = (file, line)
        collected.append(record)
    return tuple(collected)


def _enterprises_from_mappings(
    records: Iterable[Mapping[str, object]], file: str
) -> Iterator[tuple[Enterprise, str, int]]:
    for number, data in enumerate(records, start=1):
        mapping = _as_object(data, file=file, line=number, is_event=False)
        yield _validate_enterprise(mapping, file=file, line=number), file, number


def _events_from_mappings(
    records: Iterable[Mapping[str, object]], file: str
) -> Iterator[tuple[Event, str, int]]:
    for number, data in enumerate(records, start=1):
        mapping = _as_object(data, file=file, line=number, is_event=True)
        yield _validate_event(mapping, file=file, line=number), file, number


def _parsed_enterprises(path: JsonlSource) -> Iterator[tuple[Enterprise, str, int]]:
    name = source_name(path)
    for number, text in iter_jsonl_lines(path):
        yield parse_enterprise_line(text, file=name, line=number), name, number


def _parsed_events(path: JsonlSource) -> Iterator[tuple[Event, str, int]]:
    name = source_name(path)
    for number, text in iter_jsonl_lines(path):
        yield parse_event_line(text, file=name, line=number), name, number


def read_enterprises(path: JsonlSource) -> tuple[Enterprise, ...]:
    """Read a JSON Lines file (or text stream) of enterprises, in file order.

    Blank lines are skipped. Raises ``InputError`` for the first bad line, or for an id seen
    before (at the second occurrence, naming the line of the first).
    """
    return _unique(_parsed_enterprises(path), "enterprise", {})


def read_events(path: JsonlSource) -> tuple[Event, ...]:
    """Read a JSON Lines file (or text stream) of events, in file order.

    Blank lines are skipped. Raises ``InputError`` as :func:`read_enterprises` does; event ids
    must be unique across the file. References between records are checked by
    :meth:`RecordSet.build`, not here.
    """
    return _unique(_parsed_events(path), "event", {})


def load_records(enterprises_path: JsonlSource, events_path: JsonlSource) -> RecordSet:
    """Read both files and build a validated :class:`RecordSet` whose errors name file and line."""
    locations: dict[str, tuple[str, int]] = {}
    enterprises = _unique(_parsed_enterprises(enterprises_path), "enterprise", locations)
    events = _unique(_parsed_events(events_path), "event", locations)
    return RecordSet.build(enterprises, events, locations=locations)


# ---------------------------------------------------------------------------------------------
# The validated set of records


def _empty_locations() -> Mapping[str, tuple[str, int]]:
    return MappingProxyType({})


@dataclasses.dataclass(frozen=True, slots=True)
class RecordSet:
    """All enterprises and events of one grading run, checked against each other.

    Construct with :meth:`build` (or :func:`load_records`); constructing directly validates
    too. ``enterprises`` and ``events`` keep input order. ``locations`` maps
    ``"enterprise:<id>"`` and ``"event:<id>"`` to ``(file, line)`` for error messages; records
    without an entry are reported without a location.
    """

    enterprises: tuple[Enterprise, ...]
    events: tuple[Event, ...]
    locations: Mapping[str, tuple[str, int]] = dataclasses.field(
        default_factory=_empty_locations, repr=False, compare=False
    )
    _enterprise_index: Mapping[str, Enterprise] = dataclasses.field(
        init=False, repr=False, compare=False
    )
    _event_index: Mapping[str, Event] = dataclasses.field(init=False, repr=False, compare=False)
    _events_by_enterprise: Mapping[str, tuple[Event, ...]] = dataclasses.field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Frozen: the derived indexes are set once, here, and never change afterwards.
        enterprises = tuple(self.enterprises)
        events = tuple(self.events)
        locations = MappingProxyType(dict(self.locations))
        enterprise_index = _index(enterprises, "enterprise", locations)
        event_index = _index(events, "event", locations)
        _check_references(enterprise_index, events, event_index, locations)
        _check_void_cycles(events, locations)
        grouped: dict[str, list[Event]] = {enterprise.id: [] for enterprise in enterprises}
        for event in sorted(events, key=lambda event: (event.date, event.id)):
            grouped[event.enterprise_id].append(event)
        setattr_ = object.__setattr__
        setattr_(self, "enterprises", enterprises)
        setattr_(self, "events", events)
        setattr_(self, "locations", locations)
        setattr_(self, "_enterprise_index", MappingProxyType(enterprise_index))
        setattr_(self, "_event_index", MappingProxyType(event_index))
        setattr_(
            self,
            "_events_by_enterprise",
            MappingProxyType({key: tuple(value) for key, value in grouped.items()}),
        )

    @classmethod
    def build(
        cls,
        enterprises: Iterable[Enterprise],
        events: Iterable[Event],
        *,
        locations: Mapping[str, tuple[str, int]] | None = None,
    ) -> RecordSet:
        """Check the records against each other and return them as a set.

        ``locations`` maps ``"enterprise:<id>"`` / ``"event:<id>"`` to ``(file, line)``.
        Raises ``InputError`` for: a duplicate id; an event whose ``enterprise_id`` names no
        enterprise; an ``of`` naming no event, or one it may not refer to (a recheck needs a
        failed spot check, a rectification an inspection or enforcement); a void, recheck or
        rectification of another enterprise's event or dated before it; voids in a cycle.
        """
        return cls(tuple(enterprises), tuple(events), locations or _empty_locations())

    @classmethod
    def from_dicts(
        cls,
        enterprises: Iterable[Mapping[str, object]],
        events: Iterable[Mapping[str, object]],
    ) -> RecordSet:
        """Validate plain mappings as records (as if read from files) and build the set.

        Meant for tests and demos. Errors name the file ``<memory:enterprises>`` or
        ``<memory:events>`` and the 1-based position as the line. Numbers must be ``int`` or
        ``Decimal`` (a ``float`` is refused as inexact); dates a ``datetime.date`` or a string.
        """
        locations: dict[str, tuple[str, int]] = {}
        parsed_enterprises = _unique(
            _enterprises_from_mappings(enterprises, "<memory:enterprises>"), "enterprise", locations
        )
        parsed_events = _unique(
            _events_from_mappings(events, "<memory:events>"), "event", locations
        )
        return cls.build(parsed_enterprises, parsed_events, locations=locations)

    def enterprise(self, enterprise_id: str) -> Enterprise:
        """Return the enterprise with this id; ``KeyError`` if there is none."""
        return self._enterprise_index[enterprise_id]

    def event(self, event_id: str) -> Event:
        """Return the event with this id; ``KeyError`` if there is none."""
        return self._event_index[event_id]

    def events_of(self, enterprise_id: str) -> tuple[Event, ...]:
        """Return an enterprise's events sorted by ``(date, id)``, voided ones included.

        ``KeyError`` if no enterprise has this id (an enterprise without events gives ``()``).
        """
        return self._events_by_enterprise[enterprise_id]


def _where(locations: Mapping[str, tuple[str, int]], key: str) -> tuple[str | None, int | None]:
    location = locations.get(key)
    return (None, None) if location is None else location


def _index(
    records: tuple[_R, ...],
    kind: Literal["enterprise", "event"],
    locations: Mapping[str, tuple[str, int]],
) -> dict[str, _R]:
    index: dict[str, _R] = {}
    positions: dict[str, int] = {}
    for position, record in enumerate(records, start=1):
        if record.id in index:
            # Locations are keyed by id, so they cannot tell the two apart; positions can.
            file, line = _where(locations, f"{kind}:{record.id}")
            msg = (
                f"duplicate {kind} id {record.id!r}: {kind}s number {positions[record.id]} and "
                f"{position} (in input order) share it"
            )
            event = record.id if kind == "event" else None
            raise InputError(msg, file=file, line=line, field="id", event=event)
        index[record.id] = record
        positions[record.id] = position
    return index


def _check_references(
    enterprises: Mapping[str, Enterprise],
    events: tuple[Event, ...],
    index: Mapping[str, Event],
    locations: Mapping[str, tuple[str, int]],
) -> None:
    for event in events:
        problem = reference_problem(event, enterprises, index)
        if problem is not None:
            message, field, suggestion = problem
            file, line = _where(locations, f"event:{event.id}")
            raise InputError(
                message, file=file, line=line, field=field, event=event.id, suggestion=suggestion
            )


def reference_problem(
    event: Event, enterprises: Mapping[str, Enterprise], index: Mapping[str, Event]
) -> tuple[str, str, str | None] | None:
    """Return ``(message, field, suggestion)`` for what is wrong with an event's references."""
    if event.enterprise_id not in enterprises:
        message = f"no enterprise has the id {event.enterprise_id!r}"
        return message, "enterprise_id", closest_match(event.enterprise_id, enterprises)
    if not isinstance(event, Recheck | Rectification | Void):
        return None
    target = index.get(event.of)
    if target is None:
        return f"no event has the id {event.of!r}", "of", closest_match(event.of, index)
    if isinstance(event, Recheck) and not (
        isinstance(target, SpotCheck) and target.result == "fail"
    ):
        what = "a passed spot_check" if isinstance(target, SpotCheck) else f"a {target.type}"
        return (
            f"a recheck must refer to a failed spot_check, but {target.id!r} is {what}",
            "of",
            None,
        )
    if isinstance(event, Rectification) and not isinstance(target, Inspection | Enforcement):
        message = (
            f"a rectification must refer to an inspection or an enforcement, but {target.id!r} "
            f"is a {target.type}"
        )
        return message, "of", None
    if target.enterprise_id != event.enterprise_id:
        message = (
            f"{target.id!r} belongs to enterprise {target.enterprise_id!r}, "
            f"not {event.enterprise_id!r}"
        )
        return message, "of", None
    if event.date < target.date:
        message = (
            f"dated {event.date.isoformat()}, before {target.id!r} "
            f"({target.date.isoformat()}) which it refers to"
        )
        return message, "date", None
    return None


def _check_void_cycles(events: tuple[Event, ...], locations: Mapping[str, tuple[str, int]]) -> None:
    """Reject voids that void each other in a ring, which leaves nothing standing to mean."""
    target_of = {event.id: event.of for event in events if isinstance(event, Void)}
    order = {event.id: position for position, event in enumerate(events)}
    finished: set[str] = set()
    for start in target_of:
        path: list[str] = []
        on_path: set[str] = set()
        node = start
        while node in target_of and node not in finished:
            if node in on_path:
                ring = path[path.index(node) :]
                # Report at the void that comes first in the input, for a stable message.
                first = min(range(len(ring)), key=lambda i: order[ring[i]])
                ring = ring[first:] + ring[:first]
                file, line = _where(locations, f"event:{ring[0]}")
                msg = "voids form a cycle: " + " -> ".join([*ring, ring[0]])
                raise InputError(msg, file=file, line=line, field="of", event=ring[0])
            on_path.add(node)
            path.append(node)
            node = target_of[node]
        finished.update(path)
