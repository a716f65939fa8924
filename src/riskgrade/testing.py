"""Helpers for testing rule packs: build records tersely, grade one enterprise, assert on it.

Meant for the tests of people who write their own packs (as ``structlog.testing`` is for
structlog users)::

    from riskgrade import load_pack
    from riskgrade.testing import History, assert_level, grade_one, make_enterprise

    pack = load_pack("rules/zhuji")
    shop = make_enterprise("E1", scheme="food", attributes={"category": "dairy"})
    history = (
        History("E1")
        .passed_check("2009-01-10")
        .failed_check("2009-03-01", "safety", id="S1")
        .recheck("2009-04-01", of="S1", result="overturned")
    )
    decision = grade_one(pack, shop, history, "2009-04-01")
    assert_level(decision, "low", transition="corrected", previous_level="medium")

Everything goes through the same validation as files do (:meth:`RecordSet.from_dicts`), so a
mistyped field fails the test with the usual error naming the field.

Hypothesis strategies for records (:func:`dates`, :func:`dates_near`, :func:`enterprises`,
:func:`histories`, :func:`adverse_events`, :func:`populations`) are available from this module
too when hypothesis is installed; they are imported on first use, so this module itself never
needs hypothesis.
"""

from __future__ import annotations

import datetime as dt
import enum
import importlib
import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskgrade.compiled import RulePack, load_pack
from riskgrade.dates import parse_date
from riskgrade.decisions import Decision, Lang
from riskgrade.grading import Explanation, Grader
from riskgrade.records import Enterprise, Event, RecordSet, _events_from_mappings

if TYPE_CHECKING:
    from riskgrade._strategies import (
        ADVERSE_KINDS,
        adverse_events,
        dates,
        dates_near,
        enterprises,
        histories,
        populations,
    )

__all__ = [
    "ADVERSE_KINDS",
    "History",
    "adverse_events",
    "assert_level",
    "dates",
    "dates_near",
    "enterprises",
    "explain_one",
    "grade_one",
    "histories",
    "level_timeline",
    "make_enterprise",
    "make_event",
    "populations",
    "record_set",
    "to_jsonl",
]

Record = dict[str, object]
DateLike = dt.date | str
PackLike = RulePack | str | Path
EventLike = Event | Mapping[str, object]

_STRATEGIES = frozenset(
    {
        "ADVERSE_KINDS",
        "adverse_events",
        "dates",
        "dates_near",
        "enterprises",
        "histories",
        "populations",
    }
)


def __getattr__(name: str) -> Any:
    # PEP 562: the strategies import hypothesis, which only the test extra installs.
    if name in _STRATEGIES:
        try:
            module = importlib.import_module("riskgrade._strategies")
        except ModuleNotFoundError as exc:
            msg = (
                f"riskgrade.testing.{name} needs hypothesis: "
                "pip install 'riskgrade[test]' (or hypothesis)"
            )
            raise ImportError(msg) from exc
        return getattr(module, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


# ---------------------------------------------------------------------------------------------
# Building records


def make_enterprise(
    id: str = "E1",  # noqa: A002 - the contract's field name
    *,
    scheme: str | None = None,
    attributes: Mapping[str, object] | None = None,
    **fields: object,
) -> Enterprise:
    """Return a validated enterprise; ``fields`` are further contract fields (``name``, ``grid``…).

    Raises :class:`~riskgrade.InputError` for anything a file would be refused for.
    """
    record: Record = {"id": id, **fields}
    if scheme is not None:
        record["scheme"] = scheme
    if attributes is not None:
        record["attributes"] = dict(attributes)
    return RecordSet.from_dicts([record], []).enterprises[0]


def make_event(
    type: str,  # noqa: A002 - the contract's field name
    date: DateLike,
    *,
    enterprise_id: str = "E1",
    id: str | None = None,  # noqa: A002 - the contract's field name
    **fields: object,
) -> Event:
    """Return one validated event; ``fields`` are its type's fields (``result``, ``penalty``…).

    Without ``id`` the id is ``<type>@<date>``, so give ids when one enterprise has two events
    of a type on a day, or when another event must refer to this one. References (``of``) are
    checked only when the event is graded with the events it refers to.
    """
    day = _iso(date)
    record: Record = {
        "id": id if id is not None else f"{type}@{day}",
        "enterprise_id": enterprise_id,
        "date": day,
        "type": type,
        **fields,
    }
    return _validate_events([record])[0]


class History:
    """A fluent builder of one enterprise's events, with automatic ids.

    Each method appends one event and returns the builder, so calls chain. Ids default to
    ``<enterprise id>.<n>`` (1, 2, …); pass ``id=`` for an event another one refers to, or use
    :attr:`last_id`. Dates are ``datetime.date`` or ``YYYY-MM-DD`` strings. Nothing is validated
    until the events are used (:meth:`events`, :func:`grade_one`), where errors name the
    field and the event's position as the line.
    """

    def __init__(self, enterprise_id: str = "E1") -> None:
        self.enterprise_id = enterprise_id
        self._records: list[Record] = []

    # -- the events of CONTRACT.md -------------------------------------------------------------
    def add(self, type: str, date: DateLike, *, id: str | None = None, **fields: object) -> History:  # noqa: A002
        """Append an event of any type with the given fields."""
        event_id = id if id is not None else f"{self.enterprise_id}.{len(self._records) + 1}"
        self._records.append(
            {
                "id": event_id,
                "enterprise_id": self.enterprise_id,
                "date": _iso(date),
                "type": type,
                **fields,
            }
        )
        return self

    def extend(self, records: Iterable[Mapping[str, object]]) -> History:
        """Append events given as complete records (e.g. another builder's), unchanged."""
        self._records.extend(dict(record) for record in records)
        return self

    def passed_check(
        self,
        date: DateLike,
        *,
        level: str | None = None,
        id: str | None = None,  # noqa: A002
    ) -> History:
        """Append a passed spot check."""
        return self.add("spot_check", date, id=id, result="pass", **_given(level=level))

    def failed_check(
        self,
        date: DateLike,
        *kinds: str,
        level: str | None = None,
        id: str | None = None,  # noqa: A002
    ) -> History:
        """Append a failed spot check with one item of each kind (default: one quality item)."""
        items = [
            {"name": f"item {n}", "kind": kind}
            for n, kind in enumerate(kinds or ("quality",), start=1)
        ]
        return self.add(
            "spot_check", date, id=id, result="fail", items=items, **_given(level=level)
        )

    def recheck(
        self,
        date: DateLike,
        *,
        of: str,
        result: str = "overturned",
        id: str | None = None,  # noqa: A002
    ) -> History:
        """Append a recheck of the failed spot check ``of`` (default result: overturned)."""
        return self.add("recheck", date, id=id, of=of, result=result)

    def inspection(
        self,
        date: DateLike,
        outcome: str = "compliant",
        *,
        deadline: DateLike | None = None,
        scores: Mapping[str, int | Decimal] | None = None,
        id: str | None = None,  # noqa: A002
    ) -> History:
        """Append a routine inspection (default outcome: compliant)."""
        extra = _given(
            deadline=None if deadline is None else _iso(deadline),
            scores=None if scores is None else dict(scores),
        )
        return self.add("inspection", date, id=id, outcome=outcome, **extra)

    def rectification(
        self,
        date: DateLike,
        *,
        of: str,
        verified: bool = True,
        id: str | None = None,  # noqa: A002
    ) -> History:
        """Append a rectification of the inspection or enforcement ``of``."""
        return self.add("rectification", date, id=id, of=of, verified=verified)

    def enforcement(
        self,
        date: DateLike,
        penalty: str = "warning",
        *,
        counterfeit: bool | None = None,
        intentional: bool | None = None,
        amount: int | Decimal | None = None,
        deadline: DateLike | None = None,
        id: str | None = None,  # noqa: A002
    ) -> History:
        """Append an enforcement case (default penalty: warning)."""
        extra = _given(
            counterfeit=counterfeit,
            intentional=intentional,
            amount=amount,
            deadline=None if deadline is None else _iso(deadline),
        )
        return self.add("enforcement", date, id=id, penalty=penalty, **extra)

    def complaint(
        self,
        date: DateLike,
        *,
        substantiated: bool = True,
        id: str | None = None,  # noqa: A002
    ) -> History:
        """Append a complaint (default: substantiated)."""
        return self.add("complaint", date, id=id, substantiated=substantiated)

    def incident(
        self,
        date: DateLike,
        *,
        description: str | None = None,
        id: str | None = None,  # noqa: A002
    ) -> History:
        """Append an incident."""
        return self.add("incident", date, id=id, **_given(description=description))

    def void(
        self,
        date: DateLike,
        *,
        of: str,
        reason: str = "recorded in error",
        id: str | None = None,  # noqa: A002
    ) -> History:
        """Append a void of the event ``of``."""
        return self.add("void", date, id=id, of=of, reason=reason)

    # -- reading it back -----------------------------------------------------------------------
    @property
    def last_id(self) -> str:
        """The id of the event appended last; ``IndexError`` while there is none."""
        return str(self._records[-1]["id"])

    def dicts(self) -> list[Record]:
        """Return the events as plain JSON-shaped dicts, in the order they were added."""
        return [dict(record) for record in self._records]

    def events(self) -> tuple[Event, ...]:
        """Return the events validated (each on its own; references are checked when graded)."""
        return _validate_events(self._records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.dicts())

    def __len__(self) -> int:
        return len(self._records)


# ---------------------------------------------------------------------------------------------
# Grading


def record_set(
    enterprises: Iterable[Enterprise | Mapping[str, object]], events: Iterable[EventLike]
) -> RecordSet:
    """Validate enterprises and events together (references included) into a :class:`RecordSet`.

    Accepts models, plain dicts and :class:`History` builders' events alike.
    """
    return RecordSet.from_dicts(
        [_enterprise_record(e) for e in enterprises], [_event_record(e) for e in events]
    )


def grade_one(
    pack: PackLike,
    enterprise: Enterprise | Mapping[str, object],
    events: Iterable[EventLike],
    as_of: DateLike,
    *,
    lang: Lang = "en",
    engine: str = "python",
) -> Decision:
    """Return the decision for one enterprise as of ``as_of``.

    ``pack`` is a loaded pack or its folder; ``events`` may be a :class:`History`, models or
    dicts. The records are validated together first, as a file would be. ``engine`` names the
    evaluator (see :data:`riskgrade.ENGINES`); every engine must give the same decision.
    """
    grader, subject, history = _prepare(pack, enterprise, events, lang, engine)
    return grader.decide(subject, history, _date(as_of))


def explain_one(
    pack: PackLike,
    enterprise: Enterprise | Mapping[str, object],
    events: Iterable[EventLike],
    as_of: DateLike,
    *,
    lang: Lang = "en",
    engine: str = "python",
) -> Explanation:
    """Return the explanation (decision, timeline of re-grades, outlook) for one enterprise."""
    grader, subject, history = _prepare(pack, enterprise, events, lang, engine)
    return grader.explain(subject, history, _date(as_of))


def level_timeline(
    pack: PackLike,
    enterprise: Enterprise | Mapping[str, object],
    events: Iterable[EventLike],
    as_of: DateLike,
    *,
    engine: str = "python",
) -> list[tuple[dt.date, str | None, str | None]]:
    """Return ``(re-grade date, level, transition)`` for every re-grade up to ``as_of``."""
    explanation = explain_one(pack, enterprise, events, as_of, engine=engine)
    return [(d.assessed_on, d.level, d.transition) for d in explanation.timeline]


class _Unset(enum.Enum):
    UNSET = enum.auto()


_UNSET = _Unset.UNSET


def assert_level(
    decision: Decision,
    level: str | None,
    *,
    transition: str | _Unset | None = _UNSET,
    previous_level: str | _Unset | None = _UNSET,
    raw_level: str | _Unset | None = _UNSET,
    score: int | Decimal | str | _Unset | None = _UNSET,
) -> None:
    """Assert a decision's level and, when given, its transition, previous/raw level and score.

    ``score`` compares as an exact decimal (``"20.0"``, ``20`` and ``Decimal("20")`` are equal).
    On failure the message shows every differing field and the decision's reasons and cause.
    """
    expected: dict[str, object] = {"level": level}
    actual: dict[str, object] = {"level": decision.level}
    for name, wanted in (
        ("transition", transition),
        ("previous_level", previous_level),
        ("raw_level", raw_level),
    ):
        if wanted is not _UNSET:
            expected[name] = wanted
            actual[name] = getattr(decision, name)
    if score is not _UNSET:
        expected["score"] = None if score is None else Decimal(str(score))
        actual["score"] = decision.score
    wrong = [name for name in expected if expected[name] != actual[name]]
    if wrong:
        lines = [
            f"decision for {decision.enterprise_id} as of {decision.as_of.isoformat()}:",
            *(f"  {name}: expected {expected[name]!r}, got {actual[name]!r}" for name in wrong),
            f"  assessed on {decision.assessed_on.isoformat()}; cause: {decision.cause}",
            "  reasons:",
            *(
                f"    - {r.rule} ({r.points} points) {', '.join(r.evidence)}"
                for r in decision.reasons
            ),
        ]
        raise AssertionError("\n".join(lines))


def to_jsonl(records: Iterable[Enterprise | EventLike]) -> str:
    """Return records as JSON Lines text (dates as ``YYYY-MM-DD``, decimals as JSON numbers)."""
    lines = []
    for record in records:
        mapping = (
            _enterprise_record(record) if isinstance(record, Enterprise) else _event_record(record)
        )
        lines.append(json.dumps(mapping, ensure_ascii=False, default=_json_default) + "\n")
    return "".join(lines)


# ---------------------------------------------------------------------------------------------
# Internals


def _prepare(
    pack: PackLike,
    enterprise: Enterprise | Mapping[str, object],
    events: Iterable[EventLike],
    lang: Lang,
    engine: str,
) -> tuple[Grader, Enterprise, tuple[Event, ...]]:
    compiled = pack if isinstance(pack, RulePack) else load_pack(pack)
    records = record_set([enterprise], events)
    subject = records.enterprises[0]
    return Grader(compiled, engine=engine, lang=lang), subject, records.events_of(subject.id)


def _validate_events(records: Iterable[Mapping[str, object]]) -> tuple[Event, ...]:
    # Each event on its own, as one line of a file: references are checked by RecordSet later.
    return tuple(event for event, _, _ in _events_from_mappings(records, "<memory:events>"))


def _enterprise_record(enterprise: Enterprise | Mapping[str, object]) -> Record:
    if isinstance(enterprise, Enterprise):
        return enterprise.model_dump(exclude_none=True)
    return dict(enterprise)


def _event_record(event: EventLike) -> Record:
    if isinstance(event, Mapping):
        return dict(event)
    return event.model_dump(exclude_none=True)


def _given(**fields: object) -> dict[str, object]:
    return {name: value for name, value in fields.items() if value is not None}


def _iso(day: DateLike) -> str:
    return day.isoformat() if isinstance(day, dt.date) else day


def _date(day: DateLike) -> dt.date:
    return day if isinstance(day, dt.date) else parse_date(day)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        # An integral decimal prints without a point; others keep their digits exactly.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    msg = f"cannot write {type(value).__name__} as JSON"
    raise TypeError(msg)
