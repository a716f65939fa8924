"""Calendar arithmetic in whole days, as PACKS.md defines it.

"n years before t" is the same month and day n years earlier, with 29 February becoming
28 February; "n months after" likewise keeps the day, clamped to the end of a shorter month.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

__all__ = ["Duration", "add_months", "add_years", "earliest_on_or_after", "parse_date"]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(text: str) -> dt.date:
    """Parse a strict ``YYYY-MM-DD`` date; raise ``ValueError`` on anything else."""
    if not _ISO_DATE.fullmatch(text):
        msg = f"expected a date as YYYY-MM-DD, got {text!r}"
        raise ValueError(msg)
    return dt.date.fromisoformat(text)


def add_months(day: dt.date, months: int) -> dt.date:
    """Return the same day ``months`` later (negative: earlier), clamped to the month's end."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last))


def add_years(day: dt.date, years: int) -> dt.date:
    """Return the same month and day ``years`` later (negative: earlier); 29 Feb → 28 Feb."""
    return add_months(day, 12 * years)


class Duration:
    """A calendar length: years, months and days, applied in that order."""

    __slots__ = ("days", "months", "years")

    def __init__(self, years: int = 0, months: int = 0, days: int = 0) -> None:
        self.years = years
        self.months = months
        self.days = days

    def before(self, day: dt.date) -> dt.date:
        """Return ``day`` minus this duration (years and months first, then days)."""
        return add_months(day, -(12 * self.years + self.months)) - dt.timedelta(days=self.days)

    def after(self, day: dt.date) -> dt.date:
        """Return ``day`` plus this duration (years and months first, then days)."""
        return add_months(day, 12 * self.years + self.months) + dt.timedelta(days=self.days)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Duration):
            return NotImplemented
        return (self.years, self.months, self.days) == (other.years, other.months, other.days)

    def __hash__(self) -> int:
        return hash((self.years, self.months, self.days))

    def __repr__(self) -> str:
        return f"Duration(years={self.years}, months={self.months}, days={self.days})"

    def describe(self) -> str:
        """Return a short English form such as ``3y`` or ``1y6m``."""
        text = "".join(
            f"{n}{unit}"
            for n, unit in ((self.years, "y"), (self.months, "m"), (self.days, "d"))
            if n
        )
        return text or "0d"


def earliest_on_or_after(start: dt.date, length: Duration) -> dt.date:
    """Return the earliest date t with ``length.before(t) >= start``.

    This is the first day on which a record dated ``start`` has left a window ``(t - length, t]``;
    29 February makes it differ from ``length.after(start)`` by a day.
    """
    candidate = length.after(start)
    while length.before(candidate) < start:
        candidate += dt.timedelta(days=1)
    return candidate
