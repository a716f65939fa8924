"""Records as columns: the batch evaluator's view of enterprises and events.

One numpy array per field instead of one Python object per record. Strings are stored as one
UTF-8 byte buffer with offsets (like Arrow), enumerations as small integer codes, dates as day
numbers (days since 1970-01-01, as ``datetime64[D]`` counts them), exact numbers as scaled
integers (``value = mantissa * 10**-exponent``). Fields a record's type does not have, or that
it leaves out, are "absent": the code ``-1``, the date :data:`NO_DATE`, or a false presence flag.

Columns come from a :class:`~riskgrade.records.RecordSet` (:func:`columns_from_records`) or
straight from files (:mod:`riskgrade.ingest`); both give the same arrays for the same records.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from riskgrade.records import (
    EVENT_TYPES,
    Enforcement,
    Inspection,
    Recheck,
    SpotCheck,
    SpotCheckItem,
    event_to_mapping,
    literal_values,
)

if TYPE_CHECKING:
    from riskgrade.records import Enterprise, Event, RecordSet

__all__ = [
    "ENUMS",
    "EVENT_TYPE_NAMES",
    "NO_DATE",
    "AttributeColumn",
    "EnterpriseColumns",
    "EventColumns",
    "Records",
    "StrColumn",
    "columns_from_records",
    "day_number",
    "from_day_number",
]

I8 = npt.NDArray[np.int8]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]
U8 = npt.NDArray[np.uint8]

_EPOCH = dt.date(1970, 1, 1).toordinal()
NO_DATE = int(np.iinfo(np.int32).min)
"""The day number standing for an absent date."""

EVENT_TYPE_NAMES: tuple[str, ...] = tuple(EVENT_TYPES)
"""Event type names in code order: ``type`` column value ``i`` is ``EVENT_TYPE_NAMES[i]``."""

#: The vocabulary of each enumerated event field, in code order. ``result`` serves both spot
#: checks (pass, fail) and rechecks (upheld, overturned).
ENUMS: Mapping[str, tuple[str, ...]] = {
    "result": literal_values(SpotCheck, "result") + literal_values(Recheck, "result"),
    "level": literal_values(SpotCheck, "level"),
    "outcome": literal_values(Inspection, "outcome"),
    "penalty": literal_values(Enforcement, "penalty"),
    "kind": literal_values(SpotCheckItem, "kind"),
}


def day_number(day: dt.date) -> int:
    """Return the day number of a date (days since 1970-01-01)."""
    return day.toordinal() - _EPOCH


def from_day_number(number: int) -> dt.date:
    """Return the date of a day number."""
    return dt.date.fromordinal(int(number) + _EPOCH)


@dataclass(frozen=True, eq=False)
class StrColumn:
    """Strings as one UTF-8 buffer and ``len + 1`` offsets; string ``i`` is
    ``data[offsets[i]:offsets[i + 1]]``."""

    data: U8
    offsets: I64

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_strings(cls, values: Iterable[str]) -> StrColumn:
        """Build a column from Python strings (for small inputs and tests)."""
        encoded = [value.encode("utf-8") for value in values]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        if encoded:
            np.cumsum([len(item) for item in encoded], out=offsets[1:])
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
        return cls(data, offsets)

    def get(self, index: int) -> str:
        """Return string ``index``."""
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        return self.data[start:end].tobytes().decode("utf-8")

    def to_list(self, indices: npt.NDArray[np.integer] | None = None) -> list[str]:
        """Return the strings at ``indices`` (all of them by default) as Python strings."""
        offsets = self.offsets
        if indices is None:
            starts, ends = offsets[:-1], offsets[1:]
        else:
            starts, ends = offsets[indices], offsets[np.asarray(indices) + 1]
        if len(starts) == 0:
            return []
        low, high = int(starts.min()), int(ends.max())
        if indices is not None and high - low > 4 * int((ends - starts).sum()) + 4096:
            # Few strings scattered over a large buffer: gather their bytes first.
            return self.take(indices).to_list()
        window = self.data[low:high]
        raw = window.tobytes()
        if not bool((window >= 0x80).any()):
            # ASCII: decode once, then slice the text (character and byte offsets agree).
            text = raw.decode("ascii")
            return [
                text[s:e]
                for s, e in zip((starts - low).tolist(), (ends - low).tolist(), strict=True)
            ]
        return [
            raw[s:e].decode("utf-8")
            for s, e in zip((starts - low).tolist(), (ends - low).tolist(), strict=True)
        ]

    def take(self, indices: npt.NDArray[np.integer]) -> StrColumn:
        """Return a new column holding the strings at ``indices``, in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        starts = self.offsets[indices]
        lengths = self.offsets[indices + 1] - starts
        offsets = np.zeros(len(indices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        total = int(offsets[-1])
        if total == 0:
            return StrColumn(np.zeros(0, dtype=np.uint8), offsets)
        # Gather the bytes: for each output byte, the source byte it comes from.
        source = np.repeat(starts - offsets[:-1], lengths) + np.arange(total, dtype=np.int64)
        return StrColumn(self.data[source], offsets)

    def lengths(self) -> I64:
        """Return each string's length in bytes."""
        return np.diff(self.offsets)

    def fixed_keys(self) -> npt.NDArray[np.uint64] | None:
        """Return order-preserving 64-bit keys when every string can have one, else ``None``.

        Possible when all strings have the same length and differ in at most 8 byte positions:
        the varying bytes, big-endian, give integers that sort as the strings do (byte order is
        code point order in UTF-8) and are equal exactly when the strings are.
        """
        n = len(self)
        if n == 0:
            return np.zeros(0, dtype=np.uint64)
        lengths = self.lengths()
        width = int(lengths[0])
        if width == 0 or not bool((lengths == width).all()):
            return None
        grid = self.data[: n * width].reshape(n, width)
        varying = [j for j in range(width) if not bool((grid[:, j] == grid[0, j]).all())]
        if len(varying) > 8:
            return None
        keys = np.zeros(n, dtype=np.uint64)
        for j in varying:
            keys = (keys << np.uint64(8)) | grid[:, j].astype(np.uint64)
        return keys


def _string_column(values: Sequence[str | None]) -> tuple[StrColumn, B]:
    present = np.array([value is not None for value in values], dtype=bool)
    return StrColumn.from_strings(value or "" for value in values), present


@dataclass(frozen=True, eq=False)
class AttributeColumn:
    """One enterprise attribute across enterprises.

    ``kind``: 0 absent, 1 a string, 2 a list of strings, 3 anything else (a number or a
    boolean, which a scheme's attribute check refuses). Strings are codes into ``vocab``; the
    values of enterprise ``i`` are ``codes[offsets[i]:offsets[i + 1]]`` (one for a string).
    """

    kind: I8
    offsets: I64
    codes: I32
    vocab: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class EnterpriseColumns:
    """Enterprises in input order."""

    ids: StrColumn
    #: Code into ``schemes`` per enterprise, ``-1`` when the enterprise names none.
    scheme: npt.NDArray[np.int16]
    schemes: tuple[str, ...]
    attributes: Mapping[str, AttributeColumn]
    #: File and line of each enterprise, for messages (line 0: unknown).
    file: str | None = None
    lines: I32 | None = None

    def __len__(self) -> int:
        return len(self.scheme)

    def attribute_values(self, index: int) -> dict[str, object]:
        """Return enterprise ``index``'s attributes as the records module holds them."""
        out: dict[str, object] = {}
        for name, column in self.attributes.items():
            kind = int(column.kind[index])
            if kind == 0:
                continue
            start, end = int(column.offsets[index]), int(column.offsets[index + 1])
            values = tuple(column.vocab[c] for c in column.codes[start:end].tolist())
            if kind == 1:
                out[name] = values[0]
            elif kind == 2:
                out[name] = values
            else:
                out[name] = _OTHER
        return out


# Stands for an attribute value that is neither a string nor a list of strings.
_OTHER = Decimal(0)


@dataclass(frozen=True, eq=False)
class EventColumns:
    """Events in input order; see the module docstring for how absent values are held."""

    ids: StrColumn
    ent: I32
    date: I32
    type: I8
    #: The row of the event a void, recheck or rectification refers to; ``-1`` otherwise.
    of: I32
    result: I8
    level: I8
    outcome: I8
    penalty: I8
    deadline: I32
    verified: B
    counterfeit: B
    intentional: B
    substantiated: B
    amount: I64
    amount_present: B
    amount_exp: int
    description_present: B
    reason_present: B
    #: Spot check items: record ``i`` has items ``item_offsets[i]:item_offsets[i + 1]``.
    item_offsets: I64
    item_kind: I8
    item_name: StrColumn
    #: Inspection scores: an open record of numbers, held as (key, value) entries.
    scores_present: B
    score_offsets: I64
    score_key: I32
    score_keys: tuple[str, ...]
    score_value: I64
    score_exp: int
    #: Free texts kept for explanations: descriptions and void reasons (empty when absent).
    description: StrColumn | SparseTexts | None = None
    reason: StrColumn | SparseTexts | None = None
    file: str | None = None
    lines: I32 | None = None
    _order: list[EventOrder] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.date)

    def sorted_order(self) -> EventOrder:
        """Return the order of the events by (enterprise, date, id), computed once."""
        if not self._order:
            self._order.append(_sort_events(self))
        return self._order[0]


@dataclass(frozen=True, eq=False)
class SparseTexts:
    """Texts on a few rows of many: row ``rows[i]`` (ascending) holds ``values[i]``, any
    other row an empty text, as a :class:`StrColumn` with empty strings there would give;
    without offsets for every row (eight bytes a row, for a text most rows lack)."""

    rows: I64
    values: StrColumn

    def get(self, index: int) -> str:
        """Return the text of row ``index``."""
        at = int(np.searchsorted(self.rows, index))
        if at < len(self.rows) and int(self.rows[at]) == index:
            return self.values.get(at)
        return ""


@dataclass(eq=False)
class EventOrder:
    """The permutation sorting events by (enterprise, date, id).

    Files list events nearly in that order, so it is held as the identity with a few places
    changed (``places``, ascending, hold the events ``events``), which takes memory for the
    changes only; or, for events in no useful order, in full (``places`` is ``None``)."""

    n: int
    places: I64 | None
    events: I64
    _rank: list[I64] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _ranks(self) -> list[I64]:
        """What :meth:`rank` looks in, made once (by whichever thread asks first)."""
        with self._lock:
            if not self._rank:
                if self.places is None:
                    rank = np.empty(self.n, dtype=np.int64)
                    rank[self.events] = np.arange(self.n, dtype=np.int64)
                    self._rank.append(rank)
                else:
                    by = np.argsort(self.events, kind="stable")
                    self._rank += [self.events[by], self.places[by]]
            return self._rank

    @classmethod
    def full(cls, order: I64) -> EventOrder:
        return cls(len(order), None, order)

    @classmethod
    def changes(cls, n: int, places: I64, events: I64) -> EventOrder:
        """The identity with ``events`` at ``places`` (any order; a later change of a place
        wins), the places that change nothing left out."""
        if len(places) > 1:
            by = np.argsort(places, kind="stable")
            places, events = places[by], events[by]
            last = np.ones(len(places), dtype=bool)
            last[:-1] = places[1:] != places[:-1]
            places, events = places[last], events[last]
        real = places != events
        return cls(n, places[real], events[real])

    @property
    def identity(self) -> bool:
        return self.places is not None and len(self.places) == 0

    def at(self, places: I64, *, ascending: bool = False) -> I64:
        """The events at sorted ``places`` (``ascending`` when they are: then the few changes
        are looked for among the places, not each place among the changes)."""
        if self.places is None:
            found: I64 = self.events[places]
            return found
        out = np.asarray(places, dtype=np.int64).copy()
        if len(self.places) and len(out):
            # Only the changes within the span asked about (a part's events are a span).
            low, high = np.searchsorted(self.places, [out.min(), out.max() + 1])
            changed, moved = self.places[low:high], self.events[low:high]
            if ascending:
                at, hit = _found(out, changed)
                out[at] = moved[hit]
            else:
                at, hit = _found(changed, out)
                out[hit] = moved[at]
        return out

    def rank(self, events: I64) -> I64:
        """The sorted places of ``events``."""
        if self.places is None:
            found: I64 = self._ranks()[0][events]
            return found
        # An event is at its own place unless it moved, to the place that now holds it.
        moved, to = self._ranks()
        out = np.asarray(events, dtype=np.int64).copy()
        at, hit = _found(moved, out)
        out[hit] = to[at]
        return out


def _found(sorted_keys: I64, wanted: I64) -> tuple[I64, B]:
    """Which of ``wanted`` are among ``sorted_keys`` (``hit``), and where (``at``, one per hit)."""
    if len(sorted_keys) == 0 or len(wanted) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(len(wanted), dtype=bool)
    k = np.minimum(np.searchsorted(sorted_keys, wanted), len(sorted_keys) - 1)
    hit = sorted_keys[k] == wanted
    return k[hit], hit


@dataclass(frozen=True, eq=False)
class Records:
    """Enterprises and their events as columns, checked against each other."""

    enterprises: EnterpriseColumns
    events: EventColumns


def gather_ranges(
    starts: npt.NDArray[np.integer[Any]], counts: npt.NDArray[np.integer[Any]]
) -> I64:
    """Concatenate ``arange(start, start + count)`` for each pair: the elements of many
    ranges of an array, in one index."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts.astype(np.int64) - offsets, counts) + np.arange(total, dtype=np.int64)


_CHUNK: Final = 1 << 20


def _sort_events(events: EventColumns) -> EventOrder:
    """The order of the events by (enterprise, date, id).

    Files usually list each enterprise's events together, mostly by date: then only the
    events out of place are sorted (:func:`_misplaced`), and the order is held as the
    changes to the file's. The checks run chunk by chunk, on the 32-bit columns as they are,
    so that they take no memory the size of the events.
    """
    n = len(events)
    if n == 0:
        return EventOrder.changes(0, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    ent, date = events.ent, events.date
    ties: list[I64] = []  # i where events i and i + 1 are of one enterprise and one day
    together = in_order = True
    for low in range(0, n - 1, _CHUNK):
        high = min(low + _CHUNK, n - 1)
        a, b = slice(low, high), slice(low + 1, high + 1)
        if bool((ent[b] < ent[a]).any()):
            together = in_order = False
            break
        same = ent[b] == ent[a]
        in_order = in_order and not bool((same & (date[b] < date[a])).any())
        ties.append(np.flatnonzero(same & (date[b] == date[a])) + low)
    order: EventOrder
    if together:
        tied = np.concatenate(ties) if ties else np.zeros(0, dtype=np.int64)
        order = EventOrder.changes(n, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        if not in_order:
            # Only the events out of place move, among themselves; then the ties at the
            # places they moved to are found anew.
            rows = _misplaced(events)
            order = EventOrder.changes(
                n, rows, rows[np.argsort(_day_keys(events, rows), kind="stable")]
            )
            moved = np.zeros(n + 1, dtype=bool)
            moved[rows] = True
            tied = tied[~moved[tied] & ~moved[tied + 1]]
            at = np.flatnonzero(moved[: n - 1] | moved[1:n])  # i or i + 1 moved
            same = _day_keys(events, order.at(at)) == _day_keys(events, order.at(at + 1))
            mark = np.zeros(n, dtype=bool)
            mark[tied] = True
            mark[at[same]] = True
            tied = np.flatnonzero(mark)
    else:
        key = _day_keys(events, None)
        full = np.argsort(key, kind="stable")
        sorted_key = key[full]
        tied = np.flatnonzero(sorted_key[1:] == sorted_key[:-1])
        del key, sorted_key
        order = EventOrder.full(full)
    if len(tied) == 0:
        return order
    # Events of one enterprise on one day are ordered by id (code point order = UTF-8 byte order).
    mark = np.zeros(n, dtype=bool)
    mark[tied] = True
    mark[tied + 1] = True
    members = np.flatnonzero(mark)
    rows = order.at(members)
    ids = events.ids.take(rows)
    keys = ids.fixed_keys()
    if keys is not None:
        at = np.searchsorted(members, tied)  # tied + 1 is the next member
        if bool((keys[at] < keys[at + 1]).all()):
            return order  # already in id order (as files usually are)
        sub = np.lexsort((keys, _day_keys(events, rows)))
    else:
        names = np.array(ids.to_list(), dtype=object)
        sub = np.lexsort((names.astype(str), _day_keys(events, rows)))
    if order.places is None:
        order.events[members] = rows[sub]
        return order
    return EventOrder.changes(
        n, np.concatenate([order.places, members]), np.concatenate([order.events, rows[sub]])
    )


def _misplaced(events: EventColumns) -> I64:
    """The positions of the events a stable sort by (enterprise, date) moves, for events
    together by enterprise: those after an event that sorts after them or before one that
    sorts before them. The others are already where the sort puts them, so sorting the
    moved ones among themselves into their positions sorts all. Chunk by chunk, from the
    left with the greatest key so far, then from the right with the least."""
    n = len(events)
    starts = range(0, n, _CHUNK)
    found: list[I64] = []
    greatest: int | None = None
    for low in starts:
        key = _day_keys(events, slice(low, low + _CHUNK))
        running = np.maximum.accumulate(key)
        earlier = np.empty_like(running)
        earlier[1:] = running[:-1]
        earlier[0] = key[0] if greatest is None else greatest
        if greatest is not None:
            np.maximum(earlier, greatest, out=earlier)
        found.append(np.flatnonzero(key < earlier) + low)
        greatest = int(running[-1]) if greatest is None else max(greatest, int(running[-1]))
    least: int | None = None
    for low in reversed(starts):
        key = _day_keys(events, slice(low, low + _CHUNK))
        running = np.minimum.accumulate(key[::-1])[::-1]
        later = np.empty_like(running)
        later[:-1] = running[1:]
        later[-1] = key[-1] if least is None else least
        if least is not None:
            np.minimum(later, least, out=later)
        found.append(np.flatnonzero(key > later) + low)
        least = int(running[0]) if least is None else min(least, int(running[0]))
    mark = np.zeros(n, dtype=bool)
    for positions in found:
        mark[positions] = True
    return np.flatnonzero(mark)


def _day_keys(events: EventColumns, rows: I64 | slice | None) -> I64:
    """(enterprise, date) as one sortable 64-bit key, for the events at ``rows`` (all: None)."""
    ent = events.ent if rows is None else events.ent[rows]
    day = events.date if rows is None else events.date[rows]
    key: I64 = (ent.astype(np.int64) << 32) + (day.astype(np.int64) - NO_DATE)
    return key


# --------------------------------------------------------------------------------------------
# From records already parsed into objects


def columns_from_records(records: RecordSet) -> Records:
    """Return the columns of a validated record set (a loop over its objects)."""
    return Records(_enterprise_columns(records.enterprises), _event_columns(records))


def _enterprise_columns(enterprises: Sequence[Enterprise]) -> EnterpriseColumns:
    schemes: list[str] = sorted({e.scheme for e in enterprises if e.scheme is not None})
    scheme_code = {name: i for i, name in enumerate(schemes)}
    scheme = np.array(
        [-1 if e.scheme is None else scheme_code[e.scheme] for e in enterprises], dtype=np.int16
    )
    names = sorted({key for e in enterprises for key in e.attributes})
    attributes = {
        name: _attribute_column([e.attributes.get(name) for e in enterprises]) for name in names
    }
    ids = StrColumn.from_strings(e.id for e in enterprises)
    return EnterpriseColumns(ids, scheme, tuple(schemes), attributes)


def _attribute_column(values: Sequence[object]) -> AttributeColumn:
    vocab: dict[str, int] = {}
    kind, counts, codes = attribute_codes(values, vocab)
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return AttributeColumn(kind, offsets, codes.astype(np.int32), tuple(vocab))


def attribute_codes(
    values: Sequence[object], vocab: dict[str, int]
) -> tuple[npt.NDArray[np.int8], I64, I64]:
    """Each attribute value's kind (0 missing, 1 a string, 2 a tuple of strings, 3 anything
    else), its number of items, and every item's code in ``vocab`` (extended as met)."""
    kind = np.zeros(len(values), dtype=np.int8)
    counts = np.zeros(len(values), dtype=np.int64)
    codes: list[int] = []
    for i, value in enumerate(values):
        if value is None:
            continue
        if isinstance(value, str):
            kind[i] = 1
            items: tuple[str, ...] = (value,)
        elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            kind[i] = 2
            items = value
        else:
            kind[i] = 3
            items = ()
        counts[i] = len(items)
        codes.extend(vocab.setdefault(item, len(vocab)) for item in items)
    return kind, counts, np.array(codes, dtype=np.int64)


def _scaled(values: Sequence[Decimal | None]) -> tuple[I64, int]:
    """Exact numbers as int64 mantissas with one exponent; raise OverflowError if impossible."""
    present = [v for v in values if v is not None]
    exp = max((max(0, -int(v.as_tuple().exponent)) for v in present), default=0)
    out = np.zeros(len(values), dtype=np.int64)
    limit = 1 << 62
    for i, value in enumerate(values):
        if value is None:
            continue
        scaled = value.scaleb(exp)
        if scaled != scaled.to_integral_value() or abs(scaled) >= limit:
            msg = f"the number {value} cannot be held exactly as a scaled 64-bit integer"
            raise OverflowError(msg)
        out[i] = int(scaled)
    return out, exp


def _event_columns(records: RecordSet) -> EventColumns:
    events = records.events
    n = len(events)
    ent_row = {e.id: i for i, e in enumerate(records.enterprises)}
    row_of = {e.id: i for i, e in enumerate(events)}
    type_code = {name: i for i, name in enumerate(EVENT_TYPE_NAMES)}
    codes = {name: {v: i for i, v in enumerate(vocab)} for name, vocab in ENUMS.items()}
    ent = np.empty(n, dtype=np.int32)
    date = np.empty(n, dtype=np.int32)
    typ = np.empty(n, dtype=np.int8)
    of = np.full(n, -1, dtype=np.int32)
    enum_cols = {
        name: np.full(n, -1, dtype=np.int8) for name in ("result", "level", "outcome", "penalty")
    }
    deadline = np.full(n, NO_DATE, dtype=np.int32)
    flags = {
        name: np.zeros(n, dtype=bool)
        for name in ("verified", "counterfeit", "intentional", "substantiated")
    }
    amounts: list[Decimal | None] = [None] * n
    description: list[str | None] = [None] * n
    reason: list[str | None] = [None] * n
    item_counts = np.zeros(n, dtype=np.int64)
    item_kind: list[int] = []
    item_name: list[str] = []
    scores_present = np.zeros(n, dtype=bool)
    score_counts = np.zeros(n, dtype=np.int64)
    score_key_codes: dict[str, int] = {}
    score_key: list[int] = []
    score_values: list[Decimal | None] = []
    for i, event in enumerate(events):
        ent[i] = ent_row[event.enterprise_id]
        date[i] = day_number(event.date)
        typ[i] = type_code[event.type]
        data = event_to_fields(event)
        target = data.get("of")
        if isinstance(target, str):
            of[i] = row_of[target]
        for name, column in enum_cols.items():
            value = data.get(name)
            if isinstance(value, str):
                column[i] = codes[name][value]
        day = data.get("deadline")
        if isinstance(day, dt.date):
            deadline[i] = day_number(day)
        for name, column in flags.items():
            value = data.get(name)
            if isinstance(value, bool):
                column[i] = value
        amount = data.get("amount")
        if isinstance(amount, Decimal):
            amounts[i] = amount
        text = data.get("description")
        if isinstance(text, str):
            description[i] = text
        text = data.get("reason")
        if isinstance(text, str):
            reason[i] = text
        items = data.get("items")
        if isinstance(items, tuple):
            item_counts[i] = len(items)
            for item in items:
                item_kind.append(codes["kind"][item["kind"]])
                item_name.append(item["name"])
        scores = data.get("scores")
        if isinstance(scores, dict):
            scores_present[i] = True
            score_counts[i] = len(scores)
            for key, value in scores.items():
                score_key.append(score_key_codes.setdefault(key, len(score_key_codes)))
                score_values.append(value)
    amount, amount_exp = _scaled(amounts)
    score_value, score_exp = _scaled(score_values)
    item_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(item_counts, out=item_offsets[1:])
    score_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(score_counts, out=score_offsets[1:])
    descriptions, description_present = _string_column(description)
    reasons, reason_present = _string_column(reason)
    return EventColumns(
        ids=StrColumn.from_strings(e.id for e in events),
        ent=ent,
        date=date,
        type=typ,
        of=of,
        result=enum_cols["result"],
        level=enum_cols["level"],
        outcome=enum_cols["outcome"],
        penalty=enum_cols["penalty"],
        deadline=deadline,
        verified=flags["verified"],
        counterfeit=flags["counterfeit"],
        intentional=flags["intentional"],
        substantiated=flags["substantiated"],
        amount=amount,
        amount_present=np.array([a is not None for a in amounts], dtype=bool),
        amount_exp=amount_exp,
        description_present=description_present,
        reason_present=reason_present,
        item_offsets=item_offsets,
        item_kind=np.array(item_kind, dtype=np.int8),
        item_name=StrColumn.from_strings(item_name),
        scores_present=scores_present,
        score_offsets=score_offsets,
        score_key=np.array(score_key, dtype=np.int32),
        score_keys=tuple(score_key_codes),
        score_value=score_value,
        score_exp=score_exp,
        description=descriptions,
        reason=reasons,
    )


def event_to_fields(event: Event) -> dict[str, object]:
    """Return an event's fields as plain values (items as dicts, scores as a dict)."""
    return event_to_mapping(event)


# --------------------------------------------------------------------------------------------
# Back to objects, for one enterprise at a time (explanations, native fallbacks)


def enterprise_object(enterprises: EnterpriseColumns, index: int) -> Enterprise:
    """Rebuild enterprise ``index`` with the fields grading reads (id, scheme, attributes)."""
    from riskgrade.records import Enterprise

    code = int(enterprises.scheme[index])
    attributes = enterprises.attribute_values(index)
    return Enterprise.model_construct(
        id=enterprises.ids.get(index),
        scheme=None if code < 0 else enterprises.schemes[code],
        attributes=attributes,  # type: ignore[arg-type] # values as the records module holds them
    )


def event_mapping(events: EventColumns, row: int, enterprise_id: str = "") -> dict[str, object]:
    """Return event ``row`` as the mapping its record would be parsed from."""
    kind = EVENT_TYPE_NAMES[int(events.type[row])]
    data: dict[str, object] = {
        "id": events.ids.get(row),
        "enterprise_id": enterprise_id or "?",
        "date": from_day_number(int(events.date[row])),
        "type": kind,
    }
    target = int(events.of[row])
    if target >= 0:
        data["of"] = events.ids.get(target)
    for name in ("result", "level", "outcome", "penalty"):
        code = int(getattr(events, name)[row])
        if code >= 0:
            data[name] = ENUMS[name][code]
    if int(events.deadline[row]) != NO_DATE:
        data["deadline"] = from_day_number(int(events.deadline[row]))
    if kind == "rectification":
        data["verified"] = bool(events.verified[row])
    if kind == "enforcement":
        data["counterfeit"] = bool(events.counterfeit[row])
        data["intentional"] = bool(events.intentional[row])
        if events.amount_present[row]:
            data["amount"] = Decimal(int(events.amount[row])).scaleb(-events.amount_exp)
    if kind == "complaint":
        data["substantiated"] = bool(events.substantiated[row])
    if kind == "incident" and events.description_present[row] and events.description is not None:
        data["description"] = events.description.get(row)
    if kind == "void" and events.reason is not None:
        data["reason"] = events.reason.get(row)
    if kind == "spot_check":
        start, end = int(events.item_offsets[row]), int(events.item_offsets[row + 1])
        data["items"] = tuple(
            {"name": events.item_name.get(j), "kind": ENUMS["kind"][int(events.item_kind[j])]}
            for j in range(start, end)
        )
    if kind == "inspection" and events.scores_present[row]:
        start, end = int(events.score_offsets[row]), int(events.score_offsets[row + 1])
        data["scores"] = {
            events.score_keys[int(events.score_key[j])]: Decimal(int(events.score_value[j])).scaleb(
                -events.score_exp
            )
            for j in range(start, end)
        }
    return data


def history(records: Records, index: int) -> tuple[Enterprise, list[Event]]:
    """Return enterprise ``index`` and its events as objects."""
    enterprise = enterprise_object(records.enterprises, index)
    rows = np.flatnonzero(records.events.ent == index).tolist()
    events: list[Event] = []
    from riskgrade.records import _EVENT_CLASSES

    for row in rows:
        data = event_mapping(records.events, row, enterprise.id)
        events.append(_EVENT_CLASSES[str(data["type"])].model_validate(data))
    return enterprise, events
