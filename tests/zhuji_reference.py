"""A deliberately naive reference implementation of the zhuji pack, written from PACKS.md alone.

It shares no code with riskgrade: plain dicts in (CONTRACT.md's JSON
shapes), every rule spelt out in Python, dates by hand, exact decimals. It is slow and simple
on purpose, so that the property tests can compare the real evaluator with it on generated
histories. The two readings of docs/semantics.md are followed: (a) the no-history floor asks
for a *passed* spot check; (b) overdue rectifications count whatever their age.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

Record = Mapping[str, object]

FOOD_LEVELS = ("low", "medium", "high")
INDUSTRY_LEVELS = ("A", "B", "C", "D")
CATEGORY_POINTS = {
    "infant": 20,
    "special": 20,
    "dairy": 15,
    "meat": 15,
    "perishable": 10,
    "packaged": 5,
}
FREQUENCY = {
    "low": 1,
    "medium": 2,
    "high": 4,
    "A": 1,
    "B": 2,
    "C": 4,
    "D": 12,
}


def months_later(day: dt.date, months: int) -> dt.date:
    """Same day ``months`` later (earlier when negative), the day clamped to the month's end."""
    total = day.year * 12 + day.month - 1 + months
    year, month = total // 12, total % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def years_before(day: dt.date, years: int) -> dt.date:
    """Return "n years before t": same month and day, 29 February becoming 28 February."""
    return months_later(day, -12 * years)


def date_of(record: Record) -> dt.date:
    return dt.date.fromisoformat(str(record["date"]))


@dataclass(frozen=True)
class Outcome:
    """What the reference says as of T."""

    level: str
    raw: str
    score: Decimal | None
    assessed_on: dt.date
    transition: str
    previous: str | None
    corrections_on_last: bool
    next_inspection_due: dt.date


class World:
    """The records dated ≤ horizon with every correction dated ≤ horizon applied."""

    def __init__(self, events: Sequence[Record], horizon: dt.date) -> None:
        seen = [e for e in events if date_of(e) <= horizon]
        voids: dict[object, list[object]] = {}
        for e in seen:
            if e["type"] == "void":
                voids.setdefault(e["of"], []).append(e["id"])

        def removed(event_id: object) -> bool:
            return any(not removed(v) for v in voids.get(event_id, []))

        kept = [e for e in seen if not removed(e["id"])]
        overturned = {
            e["of"] for e in kept if e["type"] == "recheck" and e["result"] == "overturned"
        }
        self.records: list[dict[str, object]] = []
        for e in kept:
            record = dict(e)
            if record["id"] in overturned:
                record["result"] = "pass"
            self.records.append(record)
        self.records.sort(key=lambda r: (date_of(r), str(r["id"])))

    def upto(self, t: dt.date) -> list[dict[str, object]]:
        return [r for r in self.records if date_of(r) <= t]


def in_window(record: Record, t: dt.date, years: int = 3) -> bool:
    return years_before(t, years) < date_of(record) <= t


def weight(record: Record, t: dt.date) -> Decimal:
    for years, w in ((1, "1.0"), (2, "0.6"), (3, "0.3")):
        if years_before(t, years) < date_of(record) <= t:
            return Decimal(w)
    return Decimal(0)


def failed(record: Record) -> bool:
    return record["type"] == "spot_check" and record["result"] == "fail"


def item_kinds(record: Record) -> set[str]:
    items = record.get("items") or []
    assert isinstance(items, list | tuple)
    return {str(item["kind"]) for item in items}


def overdue(record: Record, records: Sequence[Record], t: dt.date) -> bool:
    if "deadline" not in record or record.get("deadline") is None:
        return False
    if record["type"] == "inspection":
        if record["outcome"] not in ("minor", "major"):
            return False
    elif not (record["type"] == "enforcement" and record["penalty"] == "rectification_order"):
        return False
    if not dt.date.fromisoformat(str(record["deadline"])) < t:
        return False
    return not any(
        r["type"] == "rectification"
        and r["of"] == record["id"]
        and r.get("verified", True) is True
        and date_of(r) <= t
        for r in records
    )


def overdue_count(records: Sequence[Record], t: dt.date) -> int:
    return sum(1 for r in records if overdue(r, records, t))


def adverse(record: Record) -> bool:
    kind = record["type"]
    return (
        failed(record)
        or kind in ("enforcement", "incident")
        or (kind == "complaint" and record["substantiated"] is True)
        or (kind == "inspection" and record["outcome"] == "major")
    )


def food_raw(enterprise: Record, records: Sequence[Record], t: dt.date) -> tuple[int, Decimal]:
    attributes = enterprise.get("attributes") or {}
    assert isinstance(attributes, Mapping)
    category = attributes.get("category")
    score = Decimal(CATEGORY_POINTS.get(str(category), 10) if category is not None else 10)
    window = [r for r in records if in_window(r, t)]
    complaints = Decimal(0)
    for r in window:
        w = weight(r, t)
        if failed(r):
            safety = item_kinds(r) & {"safety", "illegal_substance"}
            score += (15 if safety else 8) * w
        elif r["type"] == "enforcement":
            penalty = r["penalty"]
            if penalty in ("warning", "rectification_order"):
                score += 5 * w
            elif penalty in ("fine", "confiscation"):
                score += 15 * w
            elif penalty == "suspension":
                score += 25 * w
        elif r["type"] == "complaint" and r["substantiated"] is True:
            complaints += 2 * w
    score += min(complaints, Decimal(6))
    score += 10 * overdue_count(records, t)
    level = 0 if score < 20 else 1 if score < 40 else 2
    high = any(
        (failed(r) and "illegal_substance" in item_kinds(r))
        or (r["type"] == "enforcement" and r["penalty"] in ("revocation", "criminal_referral"))
        or r["type"] == "incident"
        for r in window
    )
    return (2 if high else level), score


def industry_raw(records: Sequence[Record], t: dt.date) -> int:
    window = [r for r in records if in_window(r, t)]
    year = [r for r in records if in_window(r, t, 1)]
    checks = [r for r in window if r["type"] == "spot_check"]
    fails = [r for r in checks if failed(r)]
    fails_year = [r for r in year if failed(r)]
    enforcement = [r for r in window if r["type"] == "enforcement"]
    penalties = {r["penalty"] for r in enforcement}
    if (
        penalties & {"suspension", "revocation", "criminal_referral"}
        or any(r.get("counterfeit") is True for r in enforcement)
        or len(fails) >= 3
        or len(fails_year) >= 2
    ):
        return 3
    if len(fails) == 2 or penalties & {"fine", "confiscation"} or overdue_count(records, t):
        return 2
    if (
        len(fails) == 1
        or penalties & {"warning", "rectification_order"}
        or any(r["type"] == "complaint" and r["substantiated"] is True for r in year)
        or len(checks) < 2
    ):
        return 1
    return 0


def regrade_points(world: World, as_of: dt.date) -> list[dt.date]:
    dates = sorted({date_of(r) for r in world.records if date_of(r) <= as_of})
    if not dates:
        return [as_of]
    points: list[dt.date] = []
    for n, day in enumerate(dates):
        points.append(day)
        stop = dates[n + 1] if n + 1 < len(dates) else as_of + dt.timedelta(days=1)
        k = 1
        while (review := months_later(day, 12 * k)) < stop:
            points.append(review)
            k += 1
    return points


def grade(enterprise: Record, events: Sequence[Record], as_of: dt.date) -> Outcome:
    """Return the reference decision for one enterprise as of ``as_of``."""
    scheme = enterprise.get("scheme")
    levels = FOOD_LEVELS if scheme == "food" else INDUSTRY_LEVELS
    world = World(events, as_of)
    level: int | None = None
    since = as_of
    previous: int | None = None
    transition = "initial"
    raw, score = 0, None
    point = as_of
    for point in regrade_points(world, as_of):
        records = world.upto(point)
        if scheme == "food":
            raw, score = food_raw(enterprise, records, point)
        else:
            raw, score = industry_raw(records, point), None
        previous = level
        if level is None:
            level, since, transition = raw, point, "initial"
            passed = any(
                r["type"] == "spot_check" and r["result"] == "pass" and in_window(r, point)
                for r in records
            )
            if scheme == "food" and not passed:
                level = max(level, 1)
        elif raw > level:
            level, since, transition = raw, point, "worsened"
        elif raw == level:
            transition = "unchanged"
        else:
            clean = not any(adverse(r) and in_window(r, point, 1) for r in records)
            stood = since <= years_before(point, 1)
            if clean and stood:
                level, since, transition = level - 1, point, "improved"
            else:
                transition = "held"
    assert level is not None
    name = levels[level]
    inspected = [date_of(r) for r in world.upto(as_of) if r["type"] in ("inspection", "spot_check")]
    due = months_later(max(inspected), 12 // FREQUENCY[name]) if inspected else as_of
    # A void or an overturned re-test rewrites history; an upheld re-test changes nothing
    # (docs/semantics.md).
    corrections = any(
        date_of(r) == point
        and (r["type"] == "void" or (r["type"] == "recheck" and r["result"] == "overturned"))
        for r in world.records
    )
    return Outcome(
        level=name,
        raw=levels[raw],
        score=score,
        assessed_on=point,
        transition=transition,
        previous=None if previous is None else levels[previous],
        corrections_on_last=corrections,
        next_inspection_due=due,
    )
