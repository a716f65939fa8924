"""The batch evaluator's engine: every enterprise of one scheme graded at once, with numpy.

It computes what :class:`riskgrade.evaluation.Evaluator` computes, in the same order, but over
arrays:

1. **World.** Events sorted by (enterprise, date, id); those dated after each enterprise's
   horizon dropped; voids resolved by iterating "removed if an effective void targets it" to a
   fixed point (chains of voids settle one link per round); overturned rechecks turn their spot
   check's ``result`` into ``pass``; the first verified rectification of each record found.
2. **Points.** The distinct record dates of each enterprise, the reviews between them
   (anchor + n * ``review_every`` while before the next date), an ``as_of`` point for an
   enterprise without records, and for the yearly policy the anniversaries after the initial
   assessment.
3. **Sets as intervals.** A record belongs to a set from its date until it leaves the window,
   and, for filters that read ``overdue``, only while (or while not) overdue; recency weights
   split these intervals further. Each interval becomes a range of points: its first point
   is its record's own (a record's date is a point), its end is searched once per set and
   window length. A set's size, or a term's weighted sum, at every point is then one sweep:
   +value at a range's first point, -value at its end, ``bincount``, ``cumsum``. Filters
   are evaluated once per distinct expression over the records of the same types.
4. **Rules.** Scores, bands, classes, overrides, floors and ``requires`` evaluated over all
   points with :mod:`riskgrade._vexpr`.
5. **Fold.** The policy (hysteresis, direct or yearly) advanced in lock-step: step ``k`` moves
   every enterprise that has a ``k``-th point at once.
6. **The last step.** Reasons with their evidence, the cause, the level that stood before a
   correction (a second run with the horizon the day before, as ``_mark_correction`` does).

Dates are day numbers (``int64``); ``INF`` is "never".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from riskgrade import _expr
from riskgrade._columns import (
    ENUMS,
    EVENT_TYPE_NAMES,
    NO_DATE,
    EnterpriseColumns,
    EventColumns,
    EventOrder,
    gather_ranges,
)
from riskgrade._vexpr import (
    Frame,
    UnsupportedError,
    V,
    align,
    evaluate,
    scaled_constant,
    truthy,
)
from riskgrade.compiled import (
    AttributeTermC,
    CompiledSet,
    ConditionTermC,
    EachTermC,
    RuleC,
    Scheme,
    Window,
)
from riskgrade.dates import Duration
from riskgrade.packs import DirectPolicy, HysteresisPolicy, YearlyPolicy

__all__ = ["INF", "Outcome", "SchemePlan", "Table", "run_scheme"]

B = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.integer[Any]]  # day numbers, positions, counts: int32 or int64
I8 = npt.NDArray[np.int8]

INF: Final = (1 << 31) - 2
_BIAS: Final = 1 << 31
_EXACT: Final = 1 << 53

_TYPE = {name: i for i, name in enumerate(EVENT_TYPE_NAMES)}
_RESULT = {name: i for i, name in enumerate(ENUMS["result"])}
_OUTCOME = {name: i for i, name in enumerate(ENUMS["outcome"])}
_PENALTY = {name: i for i, name in enumerate(ENUMS["penalty"])}

# Point kinds, transitions and causes as small integers.
RECORD, REVIEW, AS_OF, ANNIVERSARY = 0, 1, 2, 3
TRANSITIONS: Final = (None, "initial", "worsened", "improved", "held", "unchanged", "corrected")
T_NONE, T_INITIAL, T_WORSENED, T_IMPROVED, T_HELD, T_UNCHANGED, T_CORRECTED = range(7)
CAUSES: Final = (
    "ungraded",
    "initial",
    "initial_floor",
    "worsened",
    "improved",
    "held_adverse",
    "held_stood",
    "unchanged",
    "direct",
    "yearly_wait",
    "yearly_raise",
    "yearly_lower",
    "yearly_clean",
    "corrected",
)
(
    C_UNGRADED,
    C_INITIAL,
    C_INITIAL_FLOOR,
    C_WORSENED,
    C_IMPROVED,
    C_HELD_ADVERSE,
    C_HELD_STOOD,
    C_UNCHANGED,
    C_DIRECT,
    C_YEARLY_WAIT,
    C_YEARLY_RAISE,
    C_YEARLY_LOWER,
    C_YEARLY_CLEAN,
    C_CORRECTED,
) = range(14)


# --------------------------------------------------------------------------------------------
# Calendar arithmetic over arrays (dates.py, vectorised)


def _civil(days: I64) -> tuple[I64, I64, I64]:
    """Year, month, day of day numbers (proleptic Gregorian; H. Hinnant's algorithm)."""
    z = days.astype(np.int64) + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    return year, month, day


def _days(year: I64, month: I64, day: I64) -> I64:
    """Day numbers of dates (the inverse of :func:`_civil`)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    out: I64 = era * 146097 + doe - 719468
    return out


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _tabulated(days: I64) -> tuple[int, int] | None:
    """``(low, high)`` when a function of the day is cheaper computed once per day of the
    range ``[low, high]`` and looked up than computed for every element of ``days``."""
    n = len(days)
    if n < 4096:
        return None
    low, high = int(days.min()), int(days.max())
    if high - low + 1 > n // 2 or low < -(1 << 29) or high > (1 << 29):
        return None
    return low, high


def add_months(days: I64, months: int | I64) -> I64:
    """``dates.add_months`` over day numbers: same day of the month, clamped to its end."""
    if len(days) == 0:
        return days.astype(np.int64)
    if isinstance(months, int):
        span = _tabulated(days)
        if span is not None:
            low, high = span
            table = _add_months(np.arange(low, high + 1, dtype=np.int64), months)
            out: I64 = table[days - low]
            return out
    return _add_months(days, months)


def _add_months(days: I64, months: int | I64) -> I64:
    year, month, day = _civil(days)
    index = year * 12 + (month - 1) + np.asarray(months, dtype=np.int64)
    new_year = index // 12
    new_month = index - new_year * 12 + 1
    leap = ((new_year % 4 == 0) & (new_year % 100 != 0)) | (new_year % 400 == 0)
    last = _MONTH_DAYS[new_month - 1] + ((new_month == 2) & leap)
    return _days(new_year, new_month, np.minimum(day, last))


def before(days: I64, length: Duration) -> I64:
    """``Duration.before`` over day numbers."""
    return add_months(days, -(12 * length.years + length.months)) - length.days


def after(days: I64, length: Duration, times: int | I64 = 1) -> I64:
    """``Duration.after`` of ``length`` times ``times``, over day numbers."""
    if isinstance(times, int):
        return add_months(days, (12 * length.years + length.months) * times) + length.days * times
    months = (12 * length.years + length.months) * np.asarray(times, dtype=np.int64)
    return add_months(days, months) + length.days * np.asarray(times, dtype=np.int64)


def earliest_on_or_after(start: I64, length: Duration) -> I64:
    """``dates.earliest_on_or_after`` over day numbers."""
    span = _tabulated(start)
    if span is not None:
        low, high = span
        out: I64 = _earliest(np.arange(low, high + 1, dtype=np.int64), length)[start - low]
        return out
    return _earliest(start, length)


def _earliest(start: I64, length: Duration) -> I64:
    candidate = after(start, length)
    while True:
        short = before(candidate, length) < start
        if not bool(short.any()):
            return candidate
        candidate = candidate + short


def type_mask(types: I8, wanted: Sequence[int]) -> B:
    """``np.isin(types, wanted)`` for event type codes: by a comparison or three (with the
    types not wanted where fewer), else by a look-up table."""
    chosen = set(wanted)
    others = set(range(len(EVENT_TYPE_NAMES))) - chosen
    if len(chosen) <= 3 or len(others) <= 3:
        out = np.zeros(len(types), dtype=bool)
        for code in sorted(chosen if len(chosen) <= 3 else others):
            out |= types == code
        if len(chosen) <= 3:
            return out
        return ~out & (types >= 0) & (types < len(EVENT_TYPE_NAMES))
    table = np.zeros(256, dtype=bool)
    table[np.asarray(sorted(chosen), dtype=np.int64) & 0xFF] = True
    codes = types.view(np.uint8) if types.dtype.itemsize == 1 else types.astype(np.uint8)
    found: B = table[codes]
    return found


def keys(ent: I64, day: I64) -> I64:
    """Sort keys ordering by enterprise, then day (``INF`` stays within its enterprise)."""
    return (ent.astype(np.int64) << 32) + (day.astype(np.int64) + _BIAS)


# --------------------------------------------------------------------------------------------
# The compiled plan of a scheme


@dataclass(frozen=True)
class SetPlan:
    """A record set as the engine uses it."""

    name: str
    types: tuple[int, ...]
    where: _expr.Node | None
    time_dependent: bool
    window: Window | None


class SchemePlan:
    """A scheme's sets, terms and rules with their syntax trees, checked for the engine."""

    def __init__(self, scheme: Scheme) -> None:
        self.scheme = scheme
        self.sets = {name: _set_plan(s) for name, s in scheme.sets.items()}
        self.trees: dict[str, _expr.Node] = {}
        for rule in self.rules():
            self.trees[rule.when.source] = _expr.syntax_tree(rule.when.source)
        for score in scheme.scores.values():
            for term in score.terms:
                if isinstance(term, ConditionTermC):
                    self.trees[term.when.source] = _expr.syntax_tree(term.when.source)
                elif isinstance(term, EachTermC):
                    if isinstance(term.points, _expr.Compiled):
                        self.trees[term.points.source] = _expr.syntax_tree(term.points.source)
                    if term.pick != "all" and self.sets[term.set].time_dependent:
                        msg = (
                            f"rule {term.rule}: 'pick: {term.pick}' over a set whose filter "
                            "reads 'overdue' cannot be vectorised"
                        )
                        raise UnsupportedError(msg, rule=term.rule)
        policy = scheme.policy
        if isinstance(policy, YearlyPolicy):
            self.anniversary = tuple(int(x) for x in policy.anniversary.split("-"))

    def rules(self) -> list[RuleC]:
        """Every condition rule of the scheme."""
        scheme = self.scheme
        out = [r for _, rules in scheme.classes for r in rules]
        out += [*scheme.overrides, *scheme.floors, *scheme.flags]
        if scheme.requires is not None:
            out.append(scheme.requires)
        return out

    def tree(self, compiled: _expr.Compiled) -> _expr.Node:
        return self.trees[compiled.source]


def _set_plan(compiled: CompiledSet) -> SetPlan:
    where = None if compiled.where is None else _expr.syntax_tree(compiled.where.source)
    types = tuple(sorted(_TYPE[t] for t in compiled.types))
    return SetPlan(compiled.name, types, where, compiled.time_dependent, compiled.window)


# --------------------------------------------------------------------------------------------
# The events of one scheme's enterprises, sorted


@dataclass(eq=False)
class Table:
    """The events of a group of enterprises sorted by (enterprise, date, id), with the fields
    the engine reads. ``ent`` is the enterprise's index within the group."""

    events: EventColumns
    enterprises: EnterpriseColumns
    #: Global enterprise rows of the group, ascending.
    ent_rows: I64
    rows: I64
    ent: I64
    date: I64
    type: I8
    target: I64
    starts: I64

    @classmethod
    def build(
        cls,
        events: EventColumns,
        enterprises: EnterpriseColumns,
        ent_rows: I64,
        index: EventIndex,
    ) -> Table:
        """The table of the enterprises at ``ent_rows`` (ascending), cut from ``index`` (made
        once for the tables of many groups of the same events) at the cost of the group's
        size, not the events'."""
        counts = index.start[ent_rows + 1] - index.start[ent_rows]
        sorted_at = gather_ranges(index.start[ent_rows], counts)
        rows = sorted_at if index.order is None else index.order.at(sorted_at, ascending=True)
        ent = np.repeat(np.arange(len(ent_rows), dtype=np.intp), counts)
        local_start = np.cumsum(counts) - counts
        # A correction or a rectification refers to a record of its own enterprise (the
        # records module and the reader refuse anything else): its position in the table is
        # its enterprise's first position there plus its place among that enterprise's events.
        of = events.of[rows].astype(np.int64)
        refers = of >= 0
        target = np.full(len(rows), -1, dtype=np.int64)
        if bool(refers.any()):
            owner = ent[refers]
            rank = of[refers] if index.order is None else index.order.rank(of[refers])
            place = rank - index.start[ent_rows[owner]]
            if bool(((place < 0) | (place >= counts[owner])).any()):
                raise ValueError("a record refers to a record of another enterprise")
            target[refers] = local_start[owner] + place
        return cls._make(events, enterprises, ent_rows, rows, ent, target)

    @classmethod
    def _make(
        cls,
        events: EventColumns,
        enterprises: EnterpriseColumns,
        ent_rows: I64,
        rows: I64,
        ent: npt.NDArray[np.integer[Any]],
        target: I64,
    ) -> Table:
        starts = np.searchsorted(ent, np.arange(len(ent_rows) + 1, dtype=ent.dtype))
        return cls(
            events=events,
            enterprises=enterprises,
            ent_rows=ent_rows,
            rows=rows.astype(np.intp, copy=False),
            ent=ent.astype(np.intp, copy=False),
            date=events.date[rows],
            type=events.type[rows],
            target=target.astype(np.intp, copy=False),
            starts=starts.astype(np.int64),
        )

    def subset(self, chosen: I64) -> Table:
        """Return the table of the group's enterprises at indices ``chosen`` (ascending)."""
        counts = self.starts[chosen + 1] - self.starts[chosen]
        keep = gather_ranges(self.starts[chosen], counts)
        remap = np.full(len(self.rows), -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep), dtype=np.int64)
        old = self.target[keep]
        target = np.where(old >= 0, remap[np.maximum(old, 0)], -1)
        ent = np.repeat(np.arange(len(chosen), dtype=np.intp), counts)
        return Table._make(
            self.events, self.enterprises, self.ent_rows[chosen], self.rows[keep], ent, target
        )


@dataclass(frozen=True, eq=False)
class EventIndex:
    """Events in (enterprise, date, id) order, found by enterprise: made once, shared by the
    tables of every part."""

    #: Where each enterprise row's events start in sorted order (``n + 1`` offsets).
    start: I64
    #: The events' sorted order (``None``: the events are in that order already).
    order: EventOrder | None

    @classmethod
    def of(cls, events: EventColumns, n_enterprises: int) -> EventIndex:
        counts = np.bincount(events.ent, minlength=n_enterprises)
        start = np.zeros(n_enterprises + 1, dtype=np.int64)
        np.cumsum(counts, out=start[1:])
        order = events.sorted_order()
        return cls(start, None if order.identity else order)


# --------------------------------------------------------------------------------------------
# Frames: what names mean over records, items, scores, points


class _RecordFrame(Frame):
    """The fields of records (positions ``pos`` of a run) as expressions see them."""

    def __init__(
        self, run: _Run, pos: I64, overdue: bool | None, types: Sequence[int] | None = None
    ) -> None:
        self.run = run
        self.pos = pos
        self.size = len(pos)
        self.overdue = overdue
        #: The types the records are known to have (``None``: any).
        self.types = None if types is None else frozenset(types)

    @cached_property
    def rows(self) -> I64:
        rows: I64 = self.run.table.rows[self.pos]
        return rows

    @cached_property
    def type(self) -> I8:
        typed: I8 = self.run.table.type[self.pos]
        return typed

    def _typed(self, *names: str) -> B | None:
        """Where the records have one of the types ``names`` (``None``: everywhere)."""
        wanted = {_TYPE[n] for n in names}
        if self.types is not None and self.types <= wanted:
            return None
        if self.types is not None and not self.types & wanted:
            return np.zeros(self.size, dtype=bool)
        return type_mask(self.type, sorted(wanted))

    def _enum(self, column: I8, vocab: str, values: I8 | None = None) -> V:
        codes = column[self.rows] if values is None else values
        return V("str", codes, codes >= 0, vocab=ENUMS[vocab])

    def name(self, name: str) -> V:
        ev = self.run.table.events
        rows = self.rows
        if name == "type":
            return V("str", self.type, None, vocab=EVENT_TYPE_NAMES)
        if name == "date":
            return V("date", self.run.table.date[self.pos])
        if name in ("id", "enterprise_id"):
            return V("text")
        if name == "of":
            return V("text", present=self._typed("recheck", "rectification", "void"))
        if name == "result":
            return self._enum(ev.result, "result", self.run.result[self.pos])
        if name in ("level", "outcome", "penalty"):
            column: I8 = getattr(ev, name)
            return self._enum(column, name)
        if name == "deadline":
            days = ev.deadline[rows].astype(np.int64)
            return V("date", days, days != NO_DATE)
        if name == "verified":
            return V("bool", ev.verified[rows], self._typed("rectification"))
        if name in ("counterfeit", "intentional"):
            return V("bool", getattr(ev, name)[rows], self._typed("enforcement"))
        if name == "substantiated":
            return V("bool", ev.substantiated[rows], self._typed("complaint"))
        if name == "amount":
            return V("num", ev.amount[rows], ev.amount_present[rows], exp=ev.amount_exp)
        if name == "description":
            return V("text", present=ev.description_present[rows])
        if name == "reason":
            return V("text", present=ev.reason_present[rows])
        if name == "items":
            counts = ev.item_offsets[rows + 1] - ev.item_offsets[rows]
            offsets = np.zeros(self.size + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            items = gather_ranges(ev.item_offsets[rows], counts)
            return V(
                "list",
                present=self._typed("spot_check"),
                offsets=offsets,
                elements=_ItemFrame(ev, items),
            )
        if name == "scores":
            return V("record", present=ev.scores_present[rows], record=_ScoresFrame(ev, rows))
        if name == "overdue" and self.overdue is not None:
            return V("const", const=self.overdue)
        return V("null", const=None)


class _ItemFrame(Frame):
    def __init__(self, events: EventColumns, items: I64) -> None:
        self.events = events
        self.items = items
        self.size = len(items)

    def name(self, name: str) -> V:
        if name == "kind":
            return V("str", self.events.item_kind[self.items], None, vocab=ENUMS["kind"])
        if name == "name":
            return V("text")
        return V("null", const=None)

    def element(self) -> V:
        return V("record", record=self)


class _ScoresFrame(Frame):
    def __init__(self, events: EventColumns, rows: I64) -> None:
        self.events = events
        self.rows = rows
        self.size = len(rows)

    def name(self, name: str) -> V:
        ev = self.events
        if name not in ev.score_keys:
            return V("null", const=None)
        code = ev.score_keys.index(name)
        counts = ev.score_offsets[self.rows + 1] - ev.score_offsets[self.rows]
        entries = gather_ranges(ev.score_offsets[self.rows], counts)
        parent = np.repeat(np.arange(self.size, dtype=np.int64), counts)
        hit = ev.score_key[entries] == code
        values = np.zeros(self.size, dtype=np.int64)
        found = np.zeros(self.size, dtype=bool)
        values[parent[hit]] = ev.score_value[entries[hit]]
        found[parent[hit]] = True
        return V("num", values, found, exp=ev.score_exp)


class _PointFrame(Frame):
    """The top-level scope at the re-grade points ``idx`` of a run: sets, attributes, scores."""

    def __init__(self, run: _Run, idx: I64 | None = None) -> None:
        self.run = run
        self.idx = idx
        self.size = run.n_points if idx is None else len(idx)
        self.scores: dict[str, tuple[I64, int]] = {}

    def name(self, name: str) -> V:
        if name in self.run.plan.sets:
            return V("set")
        if name == "attributes":
            return V("record", record=_AttributeFrame(self))
        if name == "score":
            return V("record", record=_ScoreRecord(self))
        return V("null", const=None)

    def point_ents(self) -> I64:
        ents = self.run.p_ent
        return ents if self.idx is None else ents[self.idx]

    def count(self, name: str) -> I64:
        counts = self.run.set_count(name)
        return counts if self.idx is None else counts[self.idx]


class _ScoreRecord(Frame):
    def __init__(self, top: _PointFrame) -> None:
        self.top = top
        self.size = top.size

    def name(self, name: str) -> V:
        values, exp = self.top.scores[name]
        return V("num", values, None, exp=exp)


class _AttributeFrame(Frame):
    def __init__(self, top: _PointFrame) -> None:
        self.top = top
        self.size = top.size

    def name(self, name: str) -> V:
        run = self.top.run
        column = run.table.enterprises.attributes.get(name)
        n = self.size
        if column is None:
            return V("null", const=None)
        ents = run.table.ent_rows[self.top.point_ents()]
        kind = column.kind[ents]
        if bool((kind == 3).any()):
            raise UnsupportedError(f"attribute {name!r} holds a value that is not text")
        first = (
            column.codes[np.minimum(column.offsets[ents], max(len(column.codes) - 1, 0))]
            if len(column.codes)
            else np.zeros(n, dtype=np.int32)
        )
        codes = np.where(kind == 1, first, -1).astype(np.int64)
        counts = np.where(kind == 2, column.offsets[ents + 1] - column.offsets[ents], 0)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        items = gather_ranges(column.offsets[ents], counts)
        elements = _StringList(column.codes[items].astype(np.int64), column.vocab)
        return V("attr", codes, kind != 0, vocab=column.vocab, offsets=offsets, elements=elements)


class _StringList(Frame):
    def __init__(self, codes: I64, vocab: tuple[str, ...]) -> None:
        self.codes = codes
        self.vocab = vocab
        self.size = len(codes)

    def name(self, name: str) -> V:
        return V("null", const=None)

    def element(self) -> V:
        return V("str", self.codes, None, vocab=self.vocab)


# --------------------------------------------------------------------------------------------
# Member intervals and sweeps


@dataclass(frozen=True)
class Intervals:
    """Record ``pos[i]`` is a member for t in ``[start[i], end[i])``; sorted by position."""

    pos: I64
    start: I64
    end: I64
    #: When every interval starts on its record's date plus this many days (0 or 1).
    start_shift: int | None = None
    #: When every interval ends where its record leaves a window: ``(length, shift)`` of
    #: :meth:`_Run.exits`.
    exit: tuple[Duration, int] | None = None

    def __post_init__(self) -> None:
        # Positions index other arrays: numpy's own index type gathers fastest. Days fit in 32
        # bits.
        object.__setattr__(self, "pos", np.asarray(self.pos, dtype=np.intp))
        for name in ("start", "end"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.int32))


@dataclass(frozen=True)
class Band:
    """The members of a set (indices into its intervals) that hold a term's recency band, as
    ranges of points ``[first, end)``, and the band's weight (a mantissa)."""

    members: I64
    first: I64
    end: I64
    weight: int


def _accumulate(n: int, pieces: Sequence[tuple[I64, I64, I64 | int]]) -> I64:
    """The sum at each of ``n`` points of the values of the pieces that hold there: a piece
    ``(first, end, value)`` holds at points ``[first, end)`` (``end`` at most ``n``), its
    ``value`` one number or one per element."""
    total = np.zeros(n + 1, dtype=np.int64)
    where: list[I64] = []
    values: list[I64] = []
    for first, end, value in pieces:
        empty = first >= end
        if bool(empty.any()):
            held = ~empty
            first, end = first[held], end[held]
            value = value if isinstance(value, int) else value[held]
        if isinstance(value, int):
            # Constant values land with a count of each point's starts and ends.
            total += np.bincount(first, minlength=n + 1) * value
            total -= np.bincount(end, minlength=n + 1) * value
        else:
            where += [first, end]
            values += [value, -value]
    if values:
        at = np.concatenate(where)
        deltas = np.concatenate(values)
        if int(np.abs(deltas).sum()) < _EXACT:  # float64 sums of integers stay exact
            total += np.rint(np.bincount(at, weights=deltas, minlength=n + 1)).astype(np.int64)
        else:
            np.add.at(total, at, deltas)
    return np.cumsum(total[:n])


# --------------------------------------------------------------------------------------------
# One run: a group of enterprises with their horizons


@dataclass
class Outcome:
    """The last step of each enterprise of a run, as arrays over the group."""

    point: I64
    day: I64
    kind: I64
    level: I64
    previous: I64
    raw: I64
    transition: I64
    cause: I64
    cause_a: I64
    cause_b: I64
    number: I64
    since: I64
    held_adverse: B
    held_stood: B
    floors: B
    extra: dict[str, object] = field(default_factory=dict)


class _Run:
    """Everything computed for one group of enterprises of one scheme."""

    def __init__(self, plan: SchemePlan, table: Table, horizon: I64) -> None:
        self.plan = plan
        self.scheme = plan.scheme
        self.table = table
        self.horizon = horizon
        self.n_ents = len(table.ent_rows)
        self._members: dict[str, Intervals] = {}
        self._counts: dict[str, I64] = {}
        self._exits: dict[tuple[int, int, int, int], I64] = {}
        self._of_types: dict[tuple[int, ...], I64] = {}
        self._frames: dict[tuple[tuple[int, ...], bool | None], _RecordFrame] = {}
        self._spans: dict[str, tuple[I64, I64]] = {}
        self._exit_points: dict[tuple[str, int, int, int, int], I64] = {}
        self._bands: dict[str, tuple[int, list[Band]]] = {}
        #: The point of each live record's date (by table position), where points were made
        #: from record dates and reviews only.
        self.record_point: I64 | None = None
        #: Attribute terms' detail (per enterprise, a code into the texts), set by assess().
        self.attribute_details: dict[str, tuple[I64, list[str | None]]] = {}
        self._world()

    def exits(self, length: Duration, shift: int = 0) -> I64:
        """``earliest_on_or_after(date + shift, length)`` for every event, computed once."""
        key = (length.years, length.months, length.days, shift)
        found = self._exits.get(key)
        if found is None:
            days = self.table.date.astype(np.int64) + shift
            found = self._exits[key] = earliest_on_or_after(days, length).astype(np.int32)
        return found

    # -- 1. the world -----------------------------------------------------------------------
    def _world(self) -> None:
        t = self.table
        ev = t.events
        n = len(t.rows)
        seen = t.date <= self.horizon[t.ent]
        voids = np.flatnonzero(seen & (t.type == _TYPE["void"]))
        void_target = t.target[voids]
        removed = np.zeros(n, dtype=bool)
        while len(voids):
            now = np.zeros(n, dtype=bool)
            now[void_target[~removed[voids]]] = True
            if np.array_equal(now, removed):
                break
            removed = now
        live = seen & ~removed
        self.live = live
        result = ev.result[t.rows].copy()
        rechecks = np.flatnonzero(
            live & (t.type == _TYPE["recheck"]) & (result == _RESULT["overturned"])
        )
        result[t.target[rechecks]] = _RESULT["pass"]
        self.result = result
        verified = np.full(n, INF, dtype=np.int32)
        fixes = np.flatnonzero(live & (t.type == _TYPE["rectification"]) & ev.verified[t.rows])
        np.minimum.at(verified, t.target[fixes], t.date[fixes])
        self.verified = verified
        # Voids and overturned re-tests rewrite history; an upheld re-test changes nothing.
        overturning = np.zeros(n, dtype=bool)
        overturning[rechecks] = True
        self.correction = live & ((t.type == _TYPE["void"]) | overturning)

    # -- 2. the points ----------------------------------------------------------------------
    def make_points(self, anniversaries: I64 | None = None) -> None:
        """Set the re-grade points; ``anniversaries`` gives each enterprise's initial
        assessment day (``INF`` for none) under the yearly policy."""
        t = self.table
        live = np.flatnonzero(self.live)
        ent: I64 = t.ent[live]
        day: I64 = t.date[live]
        distinct = np.ones(len(live), dtype=bool)
        distinct[1:] = (ent[1:] != ent[:-1]) | (day[1:] != day[:-1])
        a_ent: I64 = ent[distinct]
        a_day: I64 = day[distinct]
        anchor_of = np.cumsum(distinct) - 1  # each live record's anchor (its date's point)
        a_kind: I64 | None = None  # every anchor a record date, unless anniversaries join
        a_anniv: B | None = None
        if anniversaries is not None:
            y_ent, y_day = self._anniversaries(anniversaries)
            a_kind = np.full(len(a_ent), RECORD, dtype=np.int64)
            a_ent, a_day, a_kind, a_anniv = _merge_anniversaries(a_ent, a_day, a_kind, y_ent, y_day)
        # Reviews: anchor + n * review_every while before the next anchor (or up to the horizon).
        n_a = len(a_ent)
        limit = np.empty(n_a, dtype=np.int64)
        limit[:-1] = a_day[1:]
        ending = np.ones(n_a, dtype=bool)  # an enterprise's last anchor: up to its horizon
        ending[:-1] = a_ent[1:] != a_ent[:-1]
        limit[ending] = self.horizon[a_ent[ending]] + 1
        r_anchor: list[I64] = []
        r_day: list[I64] = []
        r_count = np.zeros(n_a, dtype=np.int64)
        anchors = np.arange(n_a, dtype=np.int64)
        times = 1
        every = self.scheme.review_every
        while len(anchors):
            candidate = after(a_day[anchors], every, times)
            ok = candidate < limit[anchors]
            anchors = anchors[ok]
            r_anchor.append(anchors)
            r_day.append(candidate[ok])
            r_count[anchors] += 1
            times += 1
        with_records = np.zeros(self.n_ents, dtype=bool)
        with_records[a_ent] = True
        empty = np.flatnonzero(~with_records)
        # Laid out in (enterprise, day) order without a sort: each anchor is followed by its
        # reviews (the n-th review of an anchor comes n after it, before the next anchor);
        # an enterprise without records has its one as-of point where its rows would be.
        anchor_block = np.arange(n_a, dtype=np.int64)
        empty_block = np.searchsorted(a_ent, empty) + np.arange(len(empty), dtype=np.int64)
        if len(empty):
            # An anchor's block comes after those of the enterprises without records before it.
            anchor_block += np.cumsum(~with_records)[a_ent]
        block_ent = np.empty(n_a + len(empty), dtype=np.intp)
        block_ent[anchor_block] = a_ent
        block_ent[empty_block] = empty
        sizes = np.ones(n_a + len(empty), dtype=np.int64)
        sizes[anchor_block] += r_count
        first = np.cumsum(sizes) - sizes
        total = int(sizes.sum())
        p_ent = np.repeat(block_ent, sizes)
        p_day = np.empty(total, dtype=np.int32)
        kind = np.full(total, REVIEW, dtype=np.int8)
        anniv = np.zeros(total, dtype=bool)
        at = first[anchor_block]
        p_day[at] = a_day
        self.record_point = None
        if a_kind is None or a_anniv is None:
            self.record_point = np.full(len(t.ent), -1, dtype=np.int64)
            self.record_point[live] = at[anchor_of]
            kind[at] = RECORD
        else:
            kind[at] = a_kind
            anniv[at] = a_anniv
        for times, (chosen, days) in enumerate(zip(r_anchor, r_day, strict=True), start=1):
            p_day[at[chosen] + times] = days
        where = first[empty_block]
        p_day[where] = self.horizon[empty]
        kind[where] = AS_OF
        self.p_ent = p_ent
        self.p_day = p_day
        self.p_kind = kind
        self.p_anniv = anniv
        self.p_keys = keys(p_ent, p_day)
        assert bool((self.p_keys[1:] > self.p_keys[:-1]).all()), "re-grade points out of order"
        self.n_points = total
        self.p_start = np.zeros(self.n_ents + 1, dtype=np.int64)
        np.cumsum(np.bincount(p_ent, minlength=self.n_ents), out=self.p_start[1:])
        self._counts = {}
        self._spans = {}
        self._exit_points = {}

    def _anniversaries(self, initial: I64) -> tuple[I64, I64]:
        month, day = self.plan.anniversary
        graded = np.flatnonzero(initial < INF)
        first = initial[graded]
        end = self.horizon[graded]
        first_year = first.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
        last_year = end.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
        counts = np.maximum(last_year - first_year + 1, 0)
        ent = np.repeat(graded, counts)
        years = gather_ranges(first_year, counts)
        months = (years - 1970) * 12 + (month - 1)
        days = (months.astype("timedelta64[M]") + np.datetime64("1970-01", "M")).astype(
            "datetime64[D]"
        ).astype(np.int64) + (day - 1)
        start = np.repeat(first, counts)
        stop = np.repeat(end, counts)
        keep = (days > start) & (days <= stop)
        return ent[keep], days[keep]

    # -- 3. sets ----------------------------------------------------------------------------
    def of_types(self, types: Sequence[int]) -> I64:
        """Positions (ascending) of the live records of the given types, computed once."""
        key = tuple(sorted(types))
        found = self._of_types.get(key)
        if found is None:
            found = np.flatnonzero(self.live & type_mask(self.table.type, key))
            self._of_types[key] = found
        return found

    def records(self, types: Sequence[int], overdue: bool | None) -> _RecordFrame:
        """The frame of the live records of the given types (:meth:`of_types`), made once:
        the filters of every set over those types share it, and the values it keeps."""
        key = (tuple(sorted(types)), overdue)
        found = self._frames.get(key)
        if found is None:
            found = _RecordFrame(self, self.of_types(types), overdue, types)
            self._frames[key] = found
            found.memo = {}
        return found

    def members(self, name: str) -> Intervals:
        """The member intervals of set ``name``."""
        found = self._members.get(name)
        if found is None:
            found = self._members[name] = self._intervals(self.plan.sets[name])
        return found

    def _intervals(self, plan: SetPlan) -> Intervals:
        t = self.table
        pos = self.of_types(plan.types)
        if plan.where is not None and not plan.time_dependent:
            pos = pos[truthy(evaluate(plan.where, self.records(plan.types, None)), len(pos))]
        day = t.date[pos]
        window = plan.window
        start: I64
        end: I64
        shift = 0
        leaves = None
        if window is None:
            start, end = day, np.full(len(pos), INF, dtype=np.int32)
        else:
            shift = 0 if window.upper_inclusive else 1
            start = day + shift
            leaves = (window.length, 1 if window.lower_inclusive else 0)
            end = self.exits(*leaves)[pos]
        if plan.where is None or not plan.time_dependent:
            return Intervals(pos, start, end, start_shift=shift, exit=leaves)
        when_overdue = truthy(evaluate(plan.where, self.records(plan.types, True)), len(pos))
        otherwise = truthy(evaluate(plan.where, self.records(plan.types, False)), len(pos))
        od_start, od_end = self._overdue_span(pos)
        capable = od_start < od_end
        pieces = [
            (when_overdue & otherwise, start, end),
            (
                when_overdue & ~otherwise & capable,
                np.maximum(start, od_start),
                np.minimum(end, od_end),
            ),
            (~when_overdue & otherwise & ~capable, start, end),
            (~when_overdue & otherwise & capable, start, np.minimum(end, od_start)),
            (~when_overdue & otherwise & capable, np.maximum(start, od_end), end),
        ]
        out_pos, out_start, out_end = [], [], []
        for chosen, s, e in pieces:
            keep = chosen & (s < e)
            out_pos.append(pos[keep])
            out_start.append(s[keep])
            out_end.append(e[keep])
        all_pos = np.concatenate(out_pos)
        order = np.argsort(all_pos, kind="stable")
        return Intervals(
            all_pos[order], np.concatenate(out_start)[order], np.concatenate(out_end)[order]
        )

    def _overdue_span(self, pos: I64) -> tuple[I64, I64]:
        """When each record is overdue: ``[deadline + 1, first verified rectification)``."""
        t = self.table
        ev = t.events
        rows = t.rows[pos]
        typ = t.type[pos]
        deadline = ev.deadline[rows].astype(np.int64)
        outcome = ev.outcome[rows]
        penalty = ev.penalty[rows]
        eligible = (deadline != NO_DATE) & (
            (
                (typ == _TYPE["inspection"])
                & ((outcome == _OUTCOME["minor"]) | (outcome == _OUTCOME["major"]))
            )
            | ((typ == _TYPE["enforcement"]) & (penalty == _PENALTY["rectification_order"]))
        )
        start = np.where(eligible, deadline + 1, INF)
        end = np.where(eligible, self.verified[pos], INF)
        return start, end

    # -- 3b. intervals of points ------------------------------------------------------------
    # A record is a member at the points from the first on or after its interval's start to
    # the first on or after its end (searched among its enterprise's points: an end of
    # ``INF`` is the next enterprise's first point). Searches are monotone, so the point of
    # the later of two days is the later of their points.

    def point_at(self, pos: I64, days: I64) -> I64:
        """The first point of record ``pos``'s enterprise on or after ``days``, or the next
        enterprise's first point."""
        where: I64 = np.searchsorted(self.p_keys, keys(self.table.ent[pos], days), "left")
        return where

    def exit_points(self, name: str, length: Duration, shift: int = 0) -> I64:
        """:meth:`point_at` the members of set ``name`` leave a window of ``length`` (days
        from :meth:`exits`), computed once."""
        key = (name, length.years, length.months, length.days, shift)
        found = self._exit_points.get(key)
        if found is None:
            iv = self.members(name)
            found = self.point_at(iv.pos, self.exits(length, shift)[iv.pos])
            self._exit_points[key] = found
        return found

    def spans(self, name: str) -> tuple[I64, I64]:
        """For each member interval of set ``name``, its first point and the point after its
        last, computed once."""
        found = self._spans.get(name)
        if found is None:
            iv = self.members(name)
            if iv.start_shift is not None and self.record_point is not None:
                # A record's own date is one of the points: no search for where it starts
                # (the day after is at the next point).
                first = self.record_point[iv.pos] + iv.start_shift
            else:
                first = self.point_at(iv.pos, iv.start)
            if iv.exit is not None:
                end = self.exit_points(name, *iv.exit)
            else:
                end = self.point_at(iv.pos, iv.end)
            found = self._spans[name] = (first, end)
        return found

    def set_count(self, name: str) -> I64:
        """The size of set ``name`` at every point."""
        found = self._counts.get(name)
        if found is None:
            first, end = self.spans(name)
            found = _accumulate(self.n_points, [(first, end, 1)]).astype(np.int32)
            self._counts[name] = found
        return found

    def members_at(self, name: str, days: I64) -> I64:
        """Positions (sorted) of the members of set ``name`` at one day per enterprise."""
        iv = self.members(name)
        day = days[self.table.ent[iv.pos]]
        chosen = (iv.start <= day) & (day < iv.end)
        return np.sort(iv.pos[chosen])

    def release(self, assessed: Assessed) -> None:
        """Drop what only the assessment and the fold needed (the arrays over all points);
        the last step's reasons need the sets' intervals and the table only."""
        self._counts = {}
        self._frames = {}
        self._spans = {}
        self._exit_points = {}
        for name in ("p_ent", "p_day", "p_kind", "p_anniv", "p_keys", "record_point"):
            setattr(self, name, None)
        assessed.raw = assessed.floor = None  # type: ignore[assignment]
        assessed.clean = None
        assessed.top.scores = {}

    # -- 4. scores and rules ----------------------------------------------------------------
    def term_bands(self, term: EachTermC) -> tuple[int, list[Band]]:
        """A term's recency bands as ranges of points, computed once and kept with the run
        (the reasons' evidence reads them after the points are let go): the bands of non-zero
        weight (the whole interval for a term without weights), and the exponent of their
        weights. Band ``k`` of a record holds from its exit from band ``k - 1`` (from its
        interval's start for the first) to its exit from band ``k``, within the interval."""
        found = self._bands.get(term.rule)
        if found is None:
            first, end = self.spans(term.set)
            if term.weight is None:
                found = (0, [Band(np.arange(len(first)), first, end, 1)])
            else:
                exp = max(scaled_constant(w)[1] for _, w in term.weight.bands)
                bands: list[Band] = []
                reach = first
                for length, weight in term.weight.bands:
                    mantissa, e = scaled_constant(weight)
                    exit_ = np.maximum(reach, self.exit_points(term.set, length))
                    if mantissa != 0:
                        stop = np.minimum(end, exit_)
                        held = np.flatnonzero(reach < stop)
                        band = Band(held, reach[held], stop[held], mantissa * 10 ** (exp - e))
                        bands.append(band)
                    reach = exit_
                found = (exp, bands)
            self._bands[term.rule] = found
        return found

    def base_points(self, term: EachTermC, pos: I64) -> tuple[I64, int, B]:
        """The points each record at ``pos`` is worth before its weight, with presence."""
        if isinstance(term.points, Decimal):
            mantissa, exp = scaled_constant(term.points)
            return np.full(len(pos), mantissa, dtype=np.int64), exp, np.ones(len(pos), dtype=bool)
        frame = _RecordFrame(self, pos, None, self.plan.sets[term.set].types)
        value = evaluate(self.plan.tree(term.points), frame)
        if value.is_const:
            if value.const is None:
                return np.zeros(len(pos), dtype=np.int64), 0, np.zeros(len(pos), dtype=bool)
            assert isinstance(value.const, Decimal)
            mantissa, exp = scaled_constant(value.const)
            return np.full(len(pos), mantissa, dtype=np.int64), exp, np.ones(len(pos), dtype=bool)
        if value.kind == "null":
            return np.zeros(len(pos), dtype=np.int64), 0, np.zeros(len(pos), dtype=bool)
        assert value.val is not None
        found = np.ones(len(pos), dtype=bool) if value.present is None else value.present
        return value.val.astype(np.int64), value.exp, found


def _merge_anniversaries(
    a_ent: I64, a_day: I64, a_kind: I64, y_ent: I64, y_day: I64
) -> tuple[I64, I64, I64, B]:
    """Merge record dates and anniversaries; a date that is both is a record point flagged as
    an anniversary."""
    ent = np.concatenate([a_ent, y_ent])
    day = np.concatenate([a_day, y_day])
    is_anniv = np.concatenate([np.zeros(len(a_ent), dtype=bool), np.ones(len(y_ent), dtype=bool)])
    is_record = ~is_anniv
    order = np.lexsort((is_anniv, day, ent))
    ent, day, is_anniv, is_record = ent[order], day[order], is_anniv[order], is_record[order]
    head = np.ones(len(ent), dtype=bool)
    head[1:] = (ent[1:] != ent[:-1]) | (day[1:] != day[:-1])
    group = np.cumsum(head) - 1
    any_record = (
        np.bincount(group, weights=is_record, minlength=int(group[-1]) + 1 if len(group) else 0) > 0
    )
    any_anniv = (
        np.bincount(group, weights=is_anniv, minlength=int(group[-1]) + 1 if len(group) else 0) > 0
    )
    kind = np.where(any_record, RECORD, ANNIVERSARY)
    return ent[head], day[head], kind.astype(np.int64), any_anniv


# --------------------------------------------------------------------------------------------
# 4. Assessment at every point


@dataclass
class Assessed:
    """What the rules say at every point of a run (before the policy)."""

    raw: I64
    floor: I64
    clean: I64 | None
    top: _PointFrame
    #: The value of each score term at each enterprise's last point, and whether it holds.
    term_last: dict[str, tuple[I64, int]]
    holds: dict[str, B]
    requires: B | None
    class_level: I64 | None
    score: tuple[I64, int] | None


class NativeNeeded(Exception):  # noqa: N818 - a signal, not an error shown to users
    """Some enterprises meet a case only the native evaluator reports (an evaluation error)."""

    def __init__(self, ent_rows: I64) -> None:
        super().__init__("native evaluation needed")
        self.ent_rows = ent_rows


def _last_points(run: _Run) -> I64:
    return run.p_start[1:] - 1


def _term_value(run: _Run, term: EachTermC) -> tuple[I64, int]:
    """A term's points at every point (capped), exact."""
    if term.pick != "all":
        return _picked_value(run, term)
    iv = run.members(term.set)
    base, base_exp, found = run.base_points(term, iv.pos)
    if not bool(found.all()):
        _missing_points(run, iv, ~found)
    exp, bands = run.term_bands(term)
    pieces = [(b.first, b.end, base[b.members] * b.weight) for b in bands]
    return _capped(_accumulate(run.n_points, pieces), base_exp + exp, term.cap)


def _capped(total: I64, exp: int, cap: Decimal | None) -> tuple[I64, int]:
    if cap is None:
        return total, exp
    mantissa, cap_exp = scaled_constant(cap)
    common = max(exp, cap_exp)
    total = align(total, exp, common)
    limit = mantissa * 10 ** (common - cap_exp)
    return np.minimum(total, limit), common


def _missing_points(run: _Run, iv: Intervals, missing: B) -> None:
    """Records whose points are missing: the native evaluator raises if one is ever a member
    at a point; hand those enterprises over."""
    pos = iv.pos[missing]
    ent = run.table.ent[pos]
    first = np.searchsorted(run.p_keys, keys(ent, iv.start[missing]), "left")
    last = np.searchsorted(run.p_keys, keys(ent, iv.end[missing]), "left")
    hit = first < last
    if bool(hit.any()):
        raise NativeNeeded(run.table.ent_rows[np.unique(ent[hit])])


def _pick(run: _Run, term: EachTermC, p_ent: I64, p_day: I64, p_keys: I64) -> tuple[I64, B]:
    """The picked member (position, or -1) at each of the given points."""
    iv = run.members(term.set)
    ent = run.table.ent[iv.pos]
    if term.pick == "latest":
        j = np.searchsorted(keys(ent, iv.start), p_keys, "right") - 1
        jj = np.maximum(j, 0)
        ok = (
            (j >= 0) & (ent[jj] == p_ent) & (iv.end[jj] > p_day)
            if len(iv.pos)
            else np.zeros(len(p_keys), dtype=bool)
        )
    else:
        j = np.searchsorted(keys(ent, iv.end), p_keys, "right")
        jj = np.minimum(j, max(len(iv.pos) - 1, 0))
        ok = (
            (j < len(iv.pos)) & (ent[jj] == p_ent) & (iv.start[jj] <= p_day)
            if len(iv.pos)
            else np.zeros(len(p_keys), dtype=bool)
        )
    picked = np.where(ok, iv.pos[jj] if len(iv.pos) else -1, -1)
    return picked, ok


def _weight_at(run: _Run, term: EachTermC, pos: I64, day: I64) -> tuple[I64, int]:
    """The recency weight of records ``pos`` at days ``day`` (mantissas, exponent)."""
    if term.weight is None:
        return np.ones(len(pos), dtype=np.int64), 0
    exp = max(scaled_constant(w)[1] for _, w in term.weight.bands)
    record_day = run.table.date[pos]
    weight = np.zeros(len(pos), dtype=np.int64)
    decided = np.zeros(len(pos), dtype=bool)
    for length, value in term.weight.bands:
        mantissa, e = scaled_constant(value)
        holds = ~decided & (before(day, length) < record_day) & (record_day <= day)
        weight[holds] = mantissa * 10 ** (exp - e)
        decided |= holds
    return weight, exp


def _picked_value(run: _Run, term: EachTermC) -> tuple[I64, int]:
    picked, ok = _pick(run, term, run.p_ent, run.p_day, run.p_keys)
    pos = picked[ok]
    base, base_exp, found = run.base_points(term, pos)
    if not bool(found.all()):
        raise NativeNeeded(run.table.ent_rows[np.unique(run.table.ent[pos[~found]])])
    weight, w_exp = _weight_at(run, term, pos, run.p_day[ok])
    total = np.zeros(run.n_points, dtype=np.int64)
    total[ok] = base * weight
    return _capped(total, base_exp + w_exp, term.cap)


def _attribute_points(run: _Run, term: AttributeTermC) -> tuple[I64, int, I64, list[str | None]]:
    """A term's points per enterprise, its exponent, and a detail code per enterprise."""
    exps = [scaled_constant(v)[1] for v in term.points.values()]
    if term.otherwise is not None:
        exps.append(scaled_constant(term.otherwise)[1])
    exp = max(exps, default=0)
    m = run.n_ents
    column = run.table.enterprises.attributes.get(term.attribute)
    rows = run.table.ent_rows
    points = np.zeros(m, dtype=np.int64)
    detail = np.full(m, -1, dtype=np.int64)
    details: list[str | None] = []
    cache: dict[tuple[str, ...], tuple[int, int]] = {}

    def scaled(value: Decimal) -> int:
        mantissa, e = scaled_constant(value)
        return int(mantissa * 10 ** (exp - e))

    def resolve(values: tuple[str, ...]) -> tuple[int, int] | None:
        found = cache.get(values)
        if found is None:
            known = [term.points[v] for v in values if v in term.points]
            if known and len(known) == len(values):
                value = max(known)
            elif term.otherwise is None:
                return None  # the native evaluator raises here
            else:
                value = max([term.otherwise, *known])
            details.append(", ".join(values) if values else None)
            found = cache[values] = (scaled(value), len(details) - 1)
        return found

    failing: list[int] = []

    def assign(indices: I64, values: tuple[str, ...]) -> None:
        found = resolve(values)
        if found is None:
            failing.extend(indices.tolist())
        else:
            points[indices] = found[0]
            detail[indices] = found[1]

    if column is None:
        assign(np.arange(m, dtype=np.int64), ())
    else:
        kind = column.kind[rows]
        if bool((kind == 3).any()):
            raise NativeNeeded(rows[kind == 3])
        single = np.flatnonzero(kind == 1)
        codes = column.codes[column.offsets[rows[single]]]
        for code in np.unique(codes).tolist():
            assign(single[codes == code], (column.vocab[code],))
        assign(np.flatnonzero(kind == 0), ())
        for i in np.flatnonzero(kind == 2).tolist():
            row = rows[i]
            words = tuple(
                column.vocab[c]
                for c in column.codes[column.offsets[row] : column.offsets[row + 1]].tolist()
            )
            assign(np.array([i], dtype=np.int64), words)
    if failing:
        raise NativeNeeded(rows[np.array(failing, dtype=np.int64)])
    return points, exp, detail, details
    kind = column.kind[rows]
    if bool((kind == 3).any()):
        raise NativeNeeded(rows[kind == 3])
    # Single strings: one look-up per distinct value.
    single = np.flatnonzero(kind == 1)
    codes = column.codes[column.offsets[rows[single]]]
    table = np.array([resolve((word,))[0] for word in column.vocab] or [0], dtype=np.int64)
    table_detail = np.array([resolve((word,))[1] for word in column.vocab] or [0], dtype=np.int64)
    points[single] = table[codes]
    detail[single] = table_detail[codes]
    none = np.flatnonzero(kind == 0)
    if len(none):
        value, code = resolve(())
        points[none] = value
        detail[none] = code
    for i in np.flatnonzero(kind == 2).tolist():
        row = rows[i]
        words = tuple(
            column.vocab[c]
            for c in column.codes[column.offsets[row] : column.offsets[row + 1]].tolist()
        )
        value, code = resolve(words)
        points[i] = value
        detail[i] = code
    return points, exp, detail, details


def assess(run: _Run) -> Assessed:
    """Evaluate the scheme's scores and rules at every point of ``run``."""
    plan = run.plan
    scheme = run.scheme
    top = _PointFrame(run)
    n = run.n_points
    last = _last_points(run)
    term_last: dict[str, tuple[I64, int]] = {}
    holds: dict[str, B] = {}
    extra: dict[str, tuple[I64, list[str | None]]] = {}
    for name, score in scheme.scores.items():
        total: I64 = np.zeros(n, dtype=np.int64)
        total_exp = 0
        for term in score.terms:
            if isinstance(term, EachTermC):
                value, exp = _term_value(run, term)
            elif isinstance(term, AttributeTermC):
                per_ent, exp, detail, details = _attribute_points(run, term)
                value = per_ent[run.p_ent]
                extra[term.rule] = (detail, details)
            else:
                assert isinstance(term, ConditionTermC)
                ok = truthy(evaluate(plan.tree(term.when), top), n)
                holds[term.rule] = ok[last]
                mantissa, exp = scaled_constant(term.points)
                value = np.where(ok, mantissa, 0).astype(np.int64)
            term_last[term.rule] = (value[last], exp)
            if exp > total_exp:
                total = align(total, total_exp, exp)
                total_exp = exp
            total += align(value, exp, total_exp)
            del value
        top.scores[name] = (total, total_exp)
    run.attribute_details = extra

    def rule_holds(rule: RuleC) -> B:
        ok = truthy(evaluate(plan.tree(rule.when), top), n)
        holds[rule.rule] = ok[last]
        return ok

    raw = np.zeros(n, dtype=np.int64)
    class_level = None
    if scheme.band_tables:
        for score_name, bands in scheme.band_tables:
            values, exp = top.scores[score_name]
            level = _band_levels(values, exp, bands)
            raw = np.maximum(raw, level)
    else:
        assert scheme.otherwise is not None
        raw[:] = scheme.otherwise
        decided = np.zeros(n, dtype=bool)
        for level_index, rules in scheme.classes:
            any_rule = np.zeros(n, dtype=bool)
            for rule in rules:
                any_rule |= rule_holds(rule)
            raw[~decided & any_rule] = level_index
            decided |= any_rule
        class_level = raw[last].copy()
    for rule in scheme.overrides:
        assert rule.level is not None
        ok = rule_holds(rule)
        raw = np.where(ok, np.maximum(raw, rule.level), raw)
    requires = None
    if scheme.requires is not None:
        ok = rule_holds(scheme.requires)
        requires = ok[last]
        raw = np.where(ok, raw, -1)
    floor = np.full(n, -1, dtype=np.int64)
    for rule in scheme.floors:
        assert rule.level is not None
        ok = rule_holds(rule)
        floor = np.where(ok, np.maximum(floor, rule.level), floor)
    for rule in scheme.flags:
        rule_holds(rule)
    clean = None
    policy = scheme.policy
    if isinstance(policy, HysteresisPolicy):
        clean = run.set_count(policy.clean)
    elif isinstance(policy, YearlyPolicy):
        clean = run.set_count(policy.trigger)
    reported = None
    if scheme.reported_score is not None:
        values, exp = top.scores[scheme.reported_score]
        reported = (values[last], exp)
    return Assessed(raw, floor, clean, top, term_last, holds, requires, class_level, reported)


def _band_levels(values: I64, exp: int, bands: Sequence[object]) -> I64:
    from riskgrade.compiled import BandC

    level = np.zeros(len(values), dtype=np.int64)
    for band in bands:
        assert isinstance(band, BandC)
        ok = np.ones(len(values), dtype=bool)
        if band.lower is not None:
            bound, e = scaled_constant(band.lower)
            common = max(exp, e)
            v = align(values, exp, common)
            b = bound * 10 ** (common - e)
            ok &= (v > b) | ((v == b) & band.lower_inclusive)
        if band.upper is not None:
            bound, e = scaled_constant(band.upper)
            common = max(exp, e)
            v = align(values, exp, common)
            b = bound * 10 ** (common - e)
            ok &= (v < b) | ((v == b) & band.upper_inclusive)
        level[ok] = band.level
    return level


# --------------------------------------------------------------------------------------------
# 5. The fold, in lock-step


@dataclass
class _Steps:
    """The points laid out step by step for the fold.

    Enterprises are ranked by their number of points, most first (``rank``: the enterprises
    in that order), so that the enterprises with a ``k``-th point are the first ``alive[k]``
    of the ranking and those for which it is the last are the slice
    ``[alive[k + 1], alive[k])``. A per-point column in step order (:meth:`column`) holds the
    ``k``-th points of those enterprises at ``[start[k], start[k] + alive[k])``: every step
    reads and writes contiguous slices, no gathers.
    """

    rank: I64
    #: Each ranked enterprise's number of points.
    counts: I64
    alive: I64
    start: I64
    #: Each point's place in step order.
    place: I64

    @classmethod
    def of(cls, run: _Run) -> _Steps:
        counts = np.diff(run.p_start)
        rank = np.argsort(-counts, kind="stable")
        ranked = counts[rank]
        most = int(ranked[0]) if len(ranked) else 0
        # alive[k]: how many enterprises have more than k points (ranked is non-increasing).
        alive = np.searchsorted(-ranked, -np.arange(most + 1, dtype=np.int64), "left")
        alive = alive.astype(np.int64)
        start = np.zeros(most + 1, dtype=np.int64)
        np.cumsum(alive[:-1], out=start[1:])
        position = np.empty(len(rank), dtype=np.int64)
        position[rank] = np.arange(len(rank), dtype=np.int64)
        ent = run.p_ent.astype(np.int64)
        step = np.arange(run.n_points, dtype=np.int64) - run.p_start[ent]
        place = start[step] + position[ent]
        return cls(rank, ranked, alive, start, place)

    def column(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """A per-point column in step order."""
        out = np.empty(len(values), dtype=values.dtype)
        out[self.place] = values
        return out


_STEP_FIELDS: Final = (
    "day",
    "kind",
    "level",
    "previous",
    "raw",
    "transition",
    "cause",
    "cause_a",
    "cause_b",
    "number",
    "since",
    "held_adverse",
    "held_stood",
    "floors",
)
"""The fields of :class:`Outcome` that a step of the fold sets."""


def fold(run: _Run, assessed: Assessed) -> Outcome:
    """Advance the policy over every point; return each enterprise's last step."""
    scheme = run.scheme
    policy = scheme.policy
    m = run.n_ents
    steps = _Steps.of(run)
    # The state and the last steps, by rank (see _Steps); put back in enterprise order below.
    level = np.full(m, -1, dtype=np.int64)
    since = np.zeros(m, dtype=np.int64)
    initial_on = np.full(m, INF, dtype=np.int64)
    clean_years = np.zeros(m, dtype=np.int64)
    out = Outcome(
        point=_last_points(run),
        day=np.zeros(m, dtype=np.int64),
        kind=np.zeros(m, dtype=np.int64),
        level=np.full(m, -1, dtype=np.int64),
        previous=np.full(m, -1, dtype=np.int64),
        raw=np.full(m, -1, dtype=np.int64),
        transition=np.zeros(m, dtype=np.int64),
        cause=np.zeros(m, dtype=np.int64),
        cause_a=np.full(m, -1, dtype=np.int64),
        cause_b=np.full(m, -1, dtype=np.int64),
        number=np.zeros(m, dtype=np.int64),
        since=np.zeros(m, dtype=np.int64),
        held_adverse=np.zeros(m, dtype=bool),
        held_stood=np.zeros(m, dtype=bool),
        floors=np.zeros(m, dtype=bool),
    )
    # The columns the steps read, as narrow as they go (levels fit in a byte; only whether
    # the clean set is empty matters): scattered into step order, the less the better.
    lean = not isinstance(policy, YearlyPolicy)
    p_day = steps.column(run.p_day)
    narrow = np.int8 if len(scheme.levels) < 100 else np.int64
    p_raw = steps.column(assessed.raw.astype(narrow))
    p_floor = steps.column(assessed.floor.astype(narrow))
    p_kind = run.p_kind[run.p_start[steps.rank + 1] - 1] if lean else steps.column(run.p_kind)
    p_clean = None if assessed.clean is None else steps.column(assessed.clean > 0)
    p_anniv = steps.column(run.p_anniv) if isinstance(policy, YearlyPolicy) else None
    p_stood = None
    if isinstance(policy, HysteresisPolicy):
        p_stood = before(p_day, policy.stood.to_duration())
    worst = len(scheme.levels) - 1
    alive = steps.alive

    def last_steps(low: int, high: int, base: int) -> None:
        """The full step (transition, cause, what held it) of the ranked enterprises
        ``[low, high)``, whose columns are at ``[base + low, base + high)``."""
        at = slice(base + low, base + high)
        mine = slice(low, high)
        day = p_day[at]
        r = p_raw[at]
        lv = level[mine].copy()  # a slice is a view: keep the level before the step
        new = lv < 0
        graded_now = new & (r >= 0)
        fl = p_floor[at]
        floored = graded_now & (fl > r)
        first_level = np.where(floored, fl, r)
        trans = np.where(new, np.where(graded_now, T_INITIAL, T_NONE), T_UNCHANGED)
        cause = np.where(
            new,
            np.where(graded_now, np.where(floored, C_INITIAL_FLOOR, C_INITIAL), C_UNGRADED),
            C_UNCHANGED,
        )
        new_level = np.where(graded_now, first_level, lv)
        cause_a = np.where(graded_now, first_level, -1)
        size = high - low
        cause_b = np.full(size, -1, dtype=np.int64)
        number = np.zeros(size, dtype=np.int64)
        held_adverse = np.zeros(size, dtype=bool)
        held_stood = np.zeros(size, dtype=bool)
        old_since = since[mine].copy()
        new_since = np.where(graded_now, day, old_since)
        old = ~new
        if isinstance(policy, YearlyPolicy):
            assert p_clean is not None
            assert p_anniv is not None
            anniv = p_anniv[at] & (day > initial_on[mine]) & old
            wait = old & ~anniv
            cause = np.where(wait, C_YEARLY_WAIT, cause)
            number = np.where(wait, clean_years[mine], number)
            trig = anniv & (p_clean[at] > 0)
            raised = np.minimum(worst, lv + policy.raise_levels)
            clean_now = anniv & ~trig
            grown = clean_years[mine] + 1
            lower = clean_now & (grown >= policy.clean_years)
            lowered = np.maximum(0, lv - policy.lower_steps)
            moved_level = np.where(trig, raised, np.where(lower, lowered, lv))
            changed = old & (moved_level != lv)
            new_level = np.where(old, moved_level, new_level)
            new_since = np.where(changed, day, new_since)
            trans = np.where(trig, np.where(changed, T_WORSENED, T_UNCHANGED), trans)
            trans = np.where(lower, np.where(changed, T_IMPROVED, T_UNCHANGED), trans)
            cause = np.where(trig, C_YEARLY_RAISE, cause)
            cause = np.where(lower, C_YEARLY_LOWER, cause)
            cause = np.where(clean_now & ~lower, C_YEARLY_CLEAN, cause)
            cause_a = np.where(trig | lower, lv, cause_a)
            cause_b = np.where(trig | lower, moved_level, cause_b)
            number = np.where(trig, policy.raise_levels, number)
            number = np.where(clean_now, grown, number)
            next_clean = np.where(trig | lower, 0, np.where(clean_now, grown, clean_years[mine]))
            clean_years[mine] = np.where(
                graded_now, 0, np.where(old, next_clean, clean_years[mine])
            )
        else:
            known = old & (r >= 0)
            worse = known & (r > lv)
            better = known & (r < lv)
            if isinstance(policy, DirectPolicy):
                moved = worse | better
                new_level = np.where(moved, r, new_level)
                new_since = np.where(moved, day, new_since)
                trans = np.where(worse, T_WORSENED, np.where(better, T_IMPROVED, trans))
                cause = np.where(moved, C_DIRECT, cause)
                cause_a = np.where(moved, lv, cause_a)
                cause_b = np.where(moved, r, cause_b)
            else:
                assert p_stood is not None
                assert p_clean is not None
                assert isinstance(policy, HysteresisPolicy)
                adverse = p_clean[at] > 0
                stood_ok = old_since <= p_stood[at]
                held = better & (adverse | ~stood_ok)
                improve = better & ~held
                improved_level = np.maximum(r, lv - policy.steps)
                new_level = np.where(worse, r, np.where(improve, improved_level, new_level))
                new_since = np.where(worse | improve, day, new_since)
                trans = np.where(
                    worse, T_WORSENED, np.where(improve, T_IMPROVED, np.where(held, T_HELD, trans))
                )
                cause = np.where(worse, C_WORSENED, cause)
                cause = np.where(improve, C_IMPROVED, cause)
                cause = np.where(held, np.where(adverse, C_HELD_ADVERSE, C_HELD_STOOD), cause)
                cause_a = np.where(worse | improve | held, lv, cause_a)
                cause_b = np.where(worse | held, r, np.where(improve, improved_level, cause_b))
                number = np.where(held & adverse & ~stood_ok, 1, number)
                held_adverse = held & adverse
                held_stood = held & ~stood_ok
        level[mine] = new_level
        since[mine] = new_since
        initial_on[mine] = np.where(graded_now, day, initial_on[mine])
        last_step = {
            "day": day,
            "kind": p_kind[at],
            "level": new_level,
            "previous": lv,
            "raw": r,
            "transition": trans,
            "cause": cause,
            "cause_a": cause_a,
            "cause_b": cause_b,
            "number": number,
            "since": new_since,
            "held_adverse": held_adverse,
            "held_stood": held_stood,
            "floors": floored,
        }
        for name, value in last_step.items():
            getattr(out, name)[mine] = value

    if lean:
        # Steps that are not an enterprise's last only move its state (level, since, initial
        # day); then every enterprise's last step at once, from its last point's columns.
        for k in range(len(alive) - 1):
            low = int(alive[k + 1])
            if low == 0:
                break
            at = slice(int(steps.start[k]), int(steps.start[k]) + low)
            _advance(
                policy,
                level[:low],
                since[:low],
                initial_on[:low],
                p_day[at],
                p_raw[at],
                p_floor[at],
                None if p_clean is None else p_clean[at],
                None if p_stood is None else p_stood[at],
            )
        assert bool((steps.counts > 0).all()), "every enterprise has a point"
        last = steps.start[steps.counts - 1] + np.arange(m, dtype=np.int64)
        p_day, p_raw, p_floor = p_day[last], p_raw[last], p_floor[last]
        p_clean = None if p_clean is None else p_clean[last]
        p_stood = None if p_stood is None else p_stood[last]
        last_steps(0, m, 0)
    else:
        # Under the yearly policy every step is a full one.
        for k in range(len(alive) - 1):
            last_steps(0, int(alive[k]), int(steps.start[k]))
    # Back from rank order to enterprise order.
    for name in _STEP_FIELDS:
        ranked = getattr(out, name)
        ordered = np.empty_like(ranked)
        ordered[steps.rank] = ranked
        setattr(out, name, ordered)
    for name, ranked in (("initial_on", initial_on), ("clean_years", clean_years)):
        ordered = np.empty_like(ranked)
        ordered[steps.rank] = ranked
        out.extra[name] = ordered
    out.extra["policy_cause"] = out.cause.copy()
    out.extra["policy_a"] = out.cause_a.copy()
    out.extra["policy_b"] = out.cause_b.copy()
    return out


def _advance(
    policy: object,
    level: I64,
    since: I64,
    initial_on: I64,
    day: I64,
    r: I64,
    fl: I64,
    clean: I64 | None,
    stood_before: I64 | None,
) -> None:
    """A step of :func:`fold` under the direct or the hysteresis policy for enterprises for
    which it is not the last, keeping only the state (``level``, ``since``, ``initial_on``,
    updated in place): the arrays are the enterprises' slices of the state and of the step."""
    lv = level.copy()
    new = lv < 0
    graded_now = new & (r >= 0)
    new_level = np.where(graded_now, np.where(fl > r, fl, r), lv)
    new_since = np.where(graded_now, day, since)
    known = ~new & (r >= 0)
    worse = known & (r > lv)
    better = known & (r < lv)
    if isinstance(policy, DirectPolicy):
        moved = worse | better
        new_level = np.where(moved, r, new_level)
        new_since = np.where(moved, day, new_since)
    else:
        assert isinstance(policy, HysteresisPolicy)
        assert stood_before is not None
        assert clean is not None
        adverse = clean > 0
        stood_ok = since <= stood_before
        improve = better & ~adverse & stood_ok
        improved_level = np.maximum(r, lv - policy.steps)
        new_level = np.where(worse, r, np.where(improve, improved_level, new_level))
        new_since = np.where(worse | improve, day, new_since)
    level[:] = new_level
    since[:] = new_since
    np.copyto(initial_on, day, where=graded_now)


def first_graded(run: _Run, assessed: Assessed) -> I64:
    """The day of each enterprise's initial assessment (the first point with a raw level)."""
    graded = np.flatnonzero(assessed.raw >= 0)
    first = np.full(run.n_ents, INF, dtype=np.int64)
    if len(graded):
        ent = run.p_ent[graded]
        head = np.ones(len(graded), dtype=bool)
        head[1:] = ent[1:] != ent[:-1]
        first[ent[head]] = run.p_day[graded[head]]
    return first


# --------------------------------------------------------------------------------------------
# A whole scheme: the run as of the date, and the runs the day before corrections


@dataclass
class SchemeResult:
    """One scheme's run and the last step of each of its enterprises."""

    run: _Run
    assessed: Assessed
    outcome: Outcome
    #: Where a correction on the last day changed the level: the level that stood before.
    corrected: B
    stood: I64


def evaluate_run(plan: SchemePlan, table: Table, horizon: I64) -> tuple[_Run, Assessed, Outcome]:
    """Build the world, points and assessment of a group and fold it."""
    run = _Run(plan, table, horizon)
    if isinstance(plan.scheme.policy, YearlyPolicy):
        run.make_points()
        first = first_graded(run, assess(run))
        run.make_points(first)
    else:
        run.make_points()
    assessed = assess(run)
    outcome = fold(run, assessed)
    run.release(assessed)
    return run, assessed, outcome


def run_scheme(plan: SchemePlan, table: Table, as_of: int) -> SchemeResult:
    """Grade a scheme's enterprises as of day ``as_of``, corrections marked as natively."""
    horizon = np.full(len(table.ent_rows), as_of, dtype=np.int64)
    run, assessed, outcome = evaluate_run(plan, table, horizon)
    m = run.n_ents
    corrected = np.zeros(m, dtype=bool)
    stood = np.full(m, -1, dtype=np.int64)
    # _mark_correction: the last step is a record step with a correction on its day, and
    # there are events before that day.
    t = table
    fix = t.ent[run.correction & (t.date == outcome.day[t.ent])]
    candidates = np.zeros(m, dtype=bool)
    candidates[fix] = True
    candidates &= outcome.kind == RECORD
    first_event = np.full(m, INF, dtype=np.int64)
    if len(t.ent):
        head = np.ones(len(t.ent), dtype=bool)
        head[1:] = t.ent[1:] != t.ent[:-1]
        first_event[t.ent[head]] = t.date[head]
    candidates &= first_event < outcome.day
    chosen = np.flatnonzero(candidates)
    if len(chosen):
        sub = table.subset(chosen)
        _, _, prior = evaluate_run(plan, sub, outcome.day[chosen] - 1)
        ungraded = (prior.transition == T_NONE) & (prior.level < 0)
        keep = ~ungraded
        chosen, prior_level = chosen[keep], prior.level[keep]
        differs = prior_level != outcome.level[chosen]
        marked = chosen[differs]
        corrected[marked] = True
        stood[marked] = prior_level[differs]
        # The level is the same, but the previous step was not: only `previous` changes.
        same = chosen[~differs]
        relabel = same[outcome.previous[same] != prior_level[~differs]]
        outcome.previous[relabel] = outcome.level[relabel]
        outcome.transition[relabel] = T_UNCHANGED
        outcome.cause[relabel] = C_UNCHANGED
        outcome.previous[marked] = stood[marked]
        outcome.transition[marked] = T_CORRECTED
        outcome.cause[marked] = C_CORRECTED
        outcome.cause_a[marked] = stood[marked]
        outcome.cause_b[marked] = outcome.level[marked]
    return SchemeResult(run, assessed, outcome, corrected, stood)
