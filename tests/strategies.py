"""Hypothesis strategies for the zhuji pack's enterprises and histories, and RecordSet helpers.

The generic, pack-independent strategies live in :mod:`riskgrade.testing` (users get them
too); this module narrows them to ``rules/zhuji``: food enterprises with every category value
(and a missing and an unknown one), regional-industry enterprises, and histories whose dates
crowd the window edges and 29 February around the as-of date being graded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hypothesis import strategies as st

from riskgrade import Enterprise, Event, RecordSet
from riskgrade.dates import add_years
from riskgrade.testing import (
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
    "CATEGORIES",
    "INDUSTRIES",
    "Case",
    "adverse_events",
    "as_of_dates",
    "build",
    "cases",
    "food_enterprises",
    "industry_enterprises",
    "one_enterprise",
    "zhuji_enterprises",
    "zhuji_histories",
    "zhuji_populations",
]

Record = dict[str, object]

#: Every category value of PACKS.md's food table, plus an unknown one (10 points, as missing).
CATEGORIES = ("infant", "special", "dairy", "meat", "perishable", "packaged", "bakery")
INDUSTRIES = ("socks", "hardware", "plumbing", "pearls")

food_enterprises = enterprises(
    schemes=("food",),
    attributes={"category": st.none() | st.sampled_from(CATEGORIES)},
)
industry_enterprises = enterprises(schemes=("industry",), industries=INDUSTRIES)
zhuji_enterprises = st.one_of(food_enterprises, industry_enterprises)

# Leap years on both sides, so that 29 February is both an event date and an as-of date.
_FIRST = dt.date(2006, 1, 1)
_LAST = dt.date(2013, 12, 31)


def as_of_dates() -> st.SearchStrategy[dt.date]:
    """As-of dates from 2008 to 2013, 29 February included."""
    return dates(dt.date(2008, 1, 1), _LAST)


def zhuji_histories(
    as_of: dt.date, enterprise_id: str = "E1", *, max_size: int = 8
) -> st.SearchStrategy[list[Record]]:
    """Histories whose dates crowd the 1-, 2- and 3-year edges of ``as_of`` (and spill past it)."""
    spread = dates(add_years(as_of, -4), add_years(as_of, 1))
    return histories(enterprise_id, dates=st.one_of(dates_near(as_of), spread), max_size=max_size)


def zhuji_populations(as_of: dt.date) -> st.SearchStrategy[tuple[list[Record], list[Record]]]:
    """A few food and industry enterprises with their histories."""
    spread = dates(add_years(as_of, -4), add_years(as_of, 1))
    return populations(
        zhuji_enterprises,
        max_size=3,
        dates=st.one_of(dates_near(as_of), spread),
        max_events=6,
    )


@dataclass(frozen=True)
class Case:
    """One enterprise, its history (JSON-shaped dicts) and the date to grade it as of."""

    enterprise: Record
    events: list[Record]
    as_of: dt.date


@st.composite
def cases(
    draw: st.DrawFn,
    enterprise: st.SearchStrategy[Record] | None = None,
    *,
    max_size: int = 8,
) -> Case:
    """An enterprise of either scheme (or of ``enterprise``), a history and an as-of date."""
    as_of = draw(as_of_dates())
    record = draw(enterprise if enterprise is not None else zhuji_enterprises)
    events = draw(zhuji_histories(as_of, str(record["id"]), max_size=max_size))
    return Case(record, events, as_of)


def build(
    enterprises: Iterable[Mapping[str, object]], events: Iterable[Mapping[str, object]]
) -> RecordSet:
    """Validate plain records into a :class:`RecordSet`, as files would be."""
    return RecordSet.from_dicts(list(enterprises), list(events))


def one_enterprise(
    enterprise: Mapping[str, object], events: Iterable[Mapping[str, object]]
) -> tuple[Enterprise, tuple[Event, ...]]:
    """Validate one enterprise's records; return the model and its events in date order."""
    records = build([enterprise], events)
    subject = records.enterprises[0]
    return subject, records.events_of(subject.id)
