"""Hypothesis strategies for records shaped as CONTRACT.md's JSON (reached via riskgrade.testing).

This module imports hypothesis, a test dependency only; :mod:`riskgrade.testing` loads it on
first use. Every strategy draws plain dicts (dates as ``YYYY-MM-DD`` strings, numbers as ``int``
or ``Decimal``) that :meth:`riskgrade.RecordSet.from_dicts` accepts, so the same values can be
graded directly or written to JSON Lines.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence

from hypothesis import strategies as st

from riskgrade.dates import add_years
from riskgrade.records import Enforcement, Inspection, SpotCheck, SpotCheckItem, literal_values

__all__ = [
    "ADVERSE_KINDS",
    "adverse_events",
    "dates",
    "dates_near",
    "enterprises",
    "histories",
    "populations",
]

Record = dict[str, object]

_ITEM_KINDS = literal_values(SpotCheckItem, "kind")
_LEVELS = literal_values(SpotCheck, "level")
_PENALTIES = literal_values(Enforcement, "penalty")
_OUTCOMES = literal_values(Inspection, "outcome")
# Weighted as records come in practice: spot checks most often, incidents rarely.
_FACT_KINDS = (
    *("spot_check",) * 4,
    *("inspection",) * 2,
    *("enforcement",) * 2,
    *("complaint",) * 2,
    "incident",
)

#: The adverse events of PACKS.md's re-grade policy, by the name :func:`adverse_events` uses.
ADVERSE_KINDS = (
    "failed_spot_check",
    "enforcement",
    "substantiated_complaint",
    "incident",
    "major_inspection",
)

_DEFAULT_START = dt.date(2005, 1, 1)
_DEFAULT_END = dt.date(2012, 12, 31)


def dates(
    min_value: dt.date = _DEFAULT_START, max_value: dt.date = _DEFAULT_END
) -> st.SearchStrategy[dt.date]:
    """Dates in ``[min_value, max_value]``, with every 29 February in range drawn often.

    29 February is where "n years before t" differs from plain day arithmetic, so uniform
    dates would almost never test it.
    """
    leap_days = [
        dt.date(year, 2, 29)
        for year in range(min_value.year, max_value.year + 1)
        if calendar.isleap(year) and min_value <= dt.date(year, 2, 29) <= max_value
    ]
    uniform = st.dates(min_value=min_value, max_value=max_value)
    if not leap_days:
        return uniform
    return st.one_of(uniform, st.sampled_from(leap_days))


def dates_near(anchor: dt.date, *, years: Sequence[int] = (1, 2, 3)) -> st.SearchStrategy[dt.date]:
    """Dates on and next to the window edges of ``anchor``: ``anchor - n years`` ± 1 day.

    Also ``anchor`` itself and the day before it. These are the dates where an inclusive or
    exclusive bound, or 29 February, changes which window a record falls in.
    """
    edges = {anchor, anchor - dt.timedelta(days=1)}
    for n in years:
        edge = add_years(anchor, -n)
        edges.update(edge + dt.timedelta(days=delta) for delta in (-1, 0, 1))
    return st.sampled_from(sorted(edges))


# ``histories`` and ``populations`` take a ``dates`` argument, which hides the function there.
_any_dates = dates


def _iso(day: dt.date) -> str:
    return day.isoformat()


@st.composite
def enterprises(
    draw: st.DrawFn,
    *,
    ids: st.SearchStrategy[str] | None = None,
    schemes: Sequence[str | None] = (None,),
    attributes: Mapping[str, st.SearchStrategy[object]] | None = None,
    industries: Sequence[str] = (),
) -> Record:
    """An enterprise record.

    ``schemes`` lists the values ``scheme`` may take (``None`` leaves it out, for one-scheme
    packs). ``attributes`` maps each attribute name to a strategy for its value; a drawn
    ``None`` leaves the attribute out (a missing value). ``industries``, when given, are the
    values of the optional ``industry`` field.
    """
    record: Record = {"id": draw(ids if ids is not None else st.just("E1"))}
    scheme = draw(st.sampled_from(list(schemes)))
    if scheme is not None:
        record["scheme"] = scheme
    industry = draw(st.none() | st.sampled_from(list(industries))) if industries else None
    if industry is not None:
        record["industry"] = industry
    drawn: dict[str, object] = {}
    for name, strategy in (attributes or {}).items():
        value = draw(strategy)
        if value is not None:
            drawn[name] = value
    if drawn:
        record["attributes"] = drawn
    return record


def _fact(draw: st.DrawFn, enterprise_id: str, event_id: str, day: dt.date) -> Record:
    """One event that states a fact (not a correction or a follow-up)."""
    kind = draw(st.sampled_from(_FACT_KINDS))
    record: Record = {
        "id": event_id,
        "enterprise_id": enterprise_id,
        "date": _iso(day),
        "type": kind,
    }
    if kind == "spot_check":
        result = draw(st.sampled_from(["pass", "pass", "fail"]))
        record["result"] = result
        if result == "fail":
            kinds = draw(st.lists(st.sampled_from(_ITEM_KINDS), min_size=1, max_size=3))
            record["items"] = [
                {"name": f"item {n}", "kind": item_kind} for n, item_kind in enumerate(kinds)
            ]
        if draw(st.booleans()):
            record["level"] = draw(st.sampled_from(_LEVELS))
    elif kind == "inspection":
        record["outcome"] = draw(st.sampled_from(_OUTCOMES))
        if draw(st.booleans()):
            record["deadline"] = _iso(day + dt.timedelta(days=draw(_delays())))
    elif kind == "enforcement":
        record["penalty"] = draw(st.sampled_from(_PENALTIES))
        if draw(st.booleans()):
            record["counterfeit"] = draw(st.booleans())
        if draw(st.booleans()):
            record["intentional"] = draw(st.booleans())
        if draw(st.booleans()):
            record["amount"] = draw(
                st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False)
            )
        if draw(st.booleans()):
            record["deadline"] = _iso(day + dt.timedelta(days=draw(_delays())))
    elif kind == "complaint":
        record["substantiated"] = draw(st.booleans())
    elif draw(st.booleans()):
        record["description"] = "incident"
    return record


def _may_follow(kind: str, target: Record) -> bool:
    """Say whether a follow-up of ``kind`` may refer to ``target`` (CONTRACT.md)."""
    if kind == "recheck":
        return target["type"] == "spot_check" and target.get("result") == "fail"
    if kind == "rectification":
        return target["type"] in ("inspection", "enforcement")
    return True


def _delays() -> st.SearchStrategy[int]:
    # Same day, the next day and whole years are the interesting delays; the rest is spread.
    return st.one_of(st.sampled_from([0, 1, 30, 365, 366]), st.integers(0, 1200))


@st.composite
def histories(
    draw: st.DrawFn,
    enterprise_id: str = "E1",
    *,
    dates: st.SearchStrategy[dt.date] | None = None,
    min_size: int = 0,
    max_size: int = 10,
    max_follow_ups: int = 4,
    id_prefix: str | None = None,
) -> list[Record]:
    """A plausible history of one enterprise, as event records in date order.

    First ``min_size``..``max_size`` facts (spot checks, inspections, enforcement cases,
    complaints, incidents) on dates drawn from ``dates``; then up to ``max_follow_ups``
    follow-ups, each referring to an earlier event of the same enterprise and dated on or after
    it: voids of any event (voids included), rechecks of failed spot checks only,
    rectifications of inspections and enforcement cases only. Ids are ``<prefix>-<n>``, the
    prefix defaulting to the enterprise id, so histories of different enterprises never clash.
    """
    day_strategy = dates if dates is not None else _any_dates()
    prefix = id_prefix if id_prefix is not None else enterprise_id
    events: list[Record] = []
    for n in range(draw(st.integers(min_size, max_size))):
        events.append(_fact(draw, enterprise_id, f"{prefix}-{n}", draw(day_strategy)))
    if events:
        for _ in range(draw(st.integers(0, max_follow_ups))):
            kind = draw(st.sampled_from(["void", "recheck", "rectification"]))
            eligible = [event for event in events if _may_follow(kind, event)]
            if not eligible:
                kind, eligible = "void", events
            target = draw(st.sampled_from(eligible))
            day = dt.date.fromisoformat(str(target["date"])) + dt.timedelta(days=draw(_delays()))
            record: Record = {
                "id": f"{prefix}-{len(events)}",
                "enterprise_id": enterprise_id,
                "date": _iso(day),
                "type": kind,
                "of": target["id"],
            }
            if kind == "void":
                record["reason"] = "recorded in error"
            elif kind == "recheck":
                record["result"] = draw(st.sampled_from(["upheld", "overturned"]))
            elif draw(st.booleans()):
                record["verified"] = draw(st.booleans())
            events.append(record)
    return sorted(events, key=lambda e: (str(e["date"]), str(e["id"])))


@st.composite
def adverse_events(
    draw: st.DrawFn,
    enterprise_id: str = "E1",
    *,
    day: dt.date,
    event_id: str = "adverse",
    kinds: Sequence[str] = ADVERSE_KINDS,
) -> Record:
    """One adverse event of PACKS.md's re-grade policy, dated ``day``.

    A failed spot check, any enforcement case, a substantiated complaint, an incident or an
    inspection with outcome ``major``; ``kinds`` (names from :data:`ADVERSE_KINDS`) narrows
    the choice.
    """
    kind = draw(st.sampled_from(list(kinds)))
    record: Record = {"id": event_id, "enterprise_id": enterprise_id, "date": _iso(day)}
    if kind == "failed_spot_check":
        items = draw(st.lists(st.sampled_from(_ITEM_KINDS), min_size=1, max_size=2))
        record.update(
            type="spot_check",
            result="fail",
            items=[{"name": f"item {n}", "kind": item} for n, item in enumerate(items)],
        )
    elif kind == "enforcement":
        record.update(
            type="enforcement",
            penalty=draw(st.sampled_from(_PENALTIES)),
            counterfeit=draw(st.booleans()),
        )
    elif kind == "substantiated_complaint":
        record.update(type="complaint", substantiated=True)
    elif kind == "incident":
        record.update(type="incident")
    elif kind == "major_inspection":
        record.update(type="inspection", outcome="major")
    else:
        msg = f"unknown adverse kind {kind!r}; choose from {', '.join(ADVERSE_KINDS)}"
        raise ValueError(msg)
    return record


@st.composite
def populations(
    draw: st.DrawFn,
    enterprise: st.SearchStrategy[Record] | None = None,
    *,
    min_size: int = 1,
    max_size: int = 4,
    dates: st.SearchStrategy[dt.date] | None = None,
    max_events: int = 8,
) -> tuple[list[Record], list[Record]]:
    """Enterprises (ids ``E1``, ``E2``, …) and all their events: ``(enterprises, events)``.

    ``enterprise`` draws one enterprise record (its ``id`` is replaced); the default is an
    enterprise without scheme or attributes.
    """
    one = enterprise if enterprise is not None else enterprises()
    records: list[Record] = []
    events: list[Record] = []
    for n in range(1, draw(st.integers(min_size, max_size)) + 1):
        record = {**draw(one), "id": f"E{n}"}
        records.append(record)
        events.extend(draw(histories(f"E{n}", dates=dates, max_size=max_events)))
    return records, events
