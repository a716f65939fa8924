"""Low-level column helpers shared by :mod:`riskgrade.ingest` and :mod:`riskgrade._ingest_duck`.

Arrow arrays and raw bytes to numpy (strings, codes, booleans, dates as day numbers), the
:class:`_Chunk` of events as columns with what builds, joins and reorders it, and the tables of
the fields each event type allows, read from the record models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from riskgrade._columns import (
    ENUMS,
    EVENT_TYPE_NAMES,
    NO_DATE,
    StrColumn,
    day_number,
    gather_ranges,
)
from riskgrade.records import (
    _EVENT_CLASSES,
    Event,
    Recheck,
    SpotCheck,
    event_to_mapping,
    literal_values,
)

B = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]
#: Integers of any width (int32 where the values allow, as the columns keep them).
Ints = npt.NDArray[np.signedinteger[Any]]
U8 = npt.NDArray[np.uint8]

_EVENT_STRINGS: Final = (
    "id",
    "enterprise_id",
    "date",
    "type",
    "result",
    "level",
    "of",
    "outcome",
    "deadline",
    "penalty",
    "description",
    "reason",
)
_EVENT_BOOLS: Final = ("verified", "counterfeit", "intentional", "substantiated")
_COMMON_FIELDS: Final = frozenset({"id", "enterprise_id", "date", "type"})
#: Fields each event type allows besides id, enterprise_id, date and type; required ones first
#: (read from the record models, the one place they are written).
_ALLOWED: Final[Mapping[str, tuple[frozenset[str], frozenset[str]]]] = {
    name: (
        frozenset(
            field
            for field, info in model.model_fields.items()
            if field not in _COMMON_FIELDS and info.is_required()
        ),
        frozenset(model.model_fields) - _COMMON_FIELDS,
    )
    for name, model in _EVENT_CLASSES.items()
}
_RESULTS: Final = {
    "spot_check": literal_values(SpotCheck, "result"),
    "recheck": literal_values(Recheck, "result"),
}


# --------------------------------------------------------------------------------------------
# Arrow arrays to numpy


def _strings(array: Any) -> tuple[StrColumn, B]:
    """An Arrow string array as a :class:`StrColumn` (nulls empty) and its validity."""
    import pyarrow as pa

    array = array.cast(pa.large_string()) if array.type != pa.large_string() else array
    n = len(array)
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    start = int(offsets[0]) if n else 0
    end = int(offsets[-1]) if n else 0
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)[start:end].copy()
        if buffers[2] is not None
        else np.zeros(0, dtype=np.uint8)
    )
    valid = ~np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return StrColumn(data, (offsets - start).astype(np.int64)), valid


def _codes(array: Any, vocab: Sequence[str]) -> npt.NDArray[np.int8]:
    """Codes of an Arrow string array in ``vocab``; -1 for null, -2 for anything else."""
    import pyarrow as pa
    import pyarrow.compute as pc

    index = pc.index_in(array, value_set=pa.array(list(vocab), type=array.type))
    codes = np.asarray(index.fill_null(-2).to_numpy(zero_copy_only=False), dtype=np.int64)
    codes[np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = -1
    return codes.astype(np.int8)


def _bools(array: Any) -> tuple[B, B]:
    valid = ~np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    values = np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    return values, valid


def _not_blank(column: StrColumn, valid: B) -> B:
    """Where a string surely is not blank (``str.strip()`` would leave something): its first
    byte is printable ASCII or starts a character outside the Unicode space separators."""
    lengths = column.lengths()
    first = (
        column.data[np.minimum(column.offsets[:-1], max(len(column.data) - 1, 0))]
        if len(column.data)
        else np.zeros(len(lengths), dtype=np.uint8)
    )
    safe = ((first >= 0x21) & (first <= 0x7E)) | (first >= 0xE4)
    return valid & (lengths > 0) & safe


def _dates(column: StrColumn, valid: B) -> tuple[npt.NDArray[np.int32], B]:
    """Day numbers of ``YYYY-MM-DD`` strings, and where they are exactly that and real dates."""
    ok = valid & (column.lengths() == 10)
    return _day_numbers(column.data, column.offsets[:-1], ok)


def _words(data: U8, width: int) -> npt.NDArray[np.unsignedinteger[Any]]:
    """Little-endian words of ``width`` bytes starting at every byte of ``data`` (a view, no
    copy): ``_words(data, 8)[i]`` is bytes ``i`` to ``i + 7`` as one integer."""
    count = max(len(data) - width + 1, 0)
    if count == 0:
        return np.zeros(0, dtype=f"<u{width}")
    return np.ndarray((count,), dtype=f"<u{width}", buffer=data, strides=(1,))


_MONTH_DAYS: Final = np.array(
    [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0, 0, 0], np.int32
)
#: Days from 1 March to the first of each month (H. Hinnant's days_from_civil), by month.
_MARCH_DAYS: Final = np.array(
    [0, *((153 * (m + (-3 if m > 2 else 9)) + 2) // 5 for m in range(1, 13)), 0, 0, 0], np.int32
)


def _day_numbers(data: U8, starts: I64, ok: B) -> tuple[npt.NDArray[np.int32], B]:
    """Day numbers of the dates at ``starts`` (10 bytes each) where ``ok``, and where those
    bytes are exactly ``YYYY-MM-DD`` (ASCII digits) naming a real date, year 1 at least."""
    n = len(ok)
    days = np.full(n, NO_DATE, dtype=np.int32)
    ok = ok.copy()
    every = n > 1 and bool(ok.all())
    step = int(starts[1] - starts[0]) if every else 0
    if every and step >= 10 and int(starts[-1] - starts[0]) == step * (n - 1):
        step_ok = bool((np.diff(starts) == step).all())
    else:
        step_ok = False
    rows = np.arange(n, dtype=np.int64) if every else np.flatnonzero(ok)
    if len(rows) == 0:
        return days, ok
    # Whole words rather than bytes: bytes 0-7 (YYYY-MM-), then 8-9 (DD); for dates laid out
    # at equal steps (a column of them end to end) read in place, without a gather.
    if step_ok:
        base = int(starts[0])
        head = np.ndarray((n,), dtype="<u8", buffer=data, offset=base, strides=(step,))
        pair = np.ndarray((n,), dtype="<u2", buffer=data, offset=base + 8, strides=(step,))
    else:
        at = starts[rows]
        head = _words(data, 8)[at]
        pair = _words(data, 2)[at + 8]
    # Each xor "0": a digit becomes its value, "-" 0x1D, anything else something above 9.
    head = head ^ np.uint64(0x3030303030303030)
    tail = (pair ^ np.uint16(0x3030)).astype(np.uint64)
    digits = head & np.uint64(0x00FFFF00FFFFFFFF)
    good = (head & np.uint64(0xFF0000FF00000000)) == np.uint64(0x1D00001D00000000)
    good &= ((digits | tail) & np.uint64(0xF0F0F0F0F0F0F0F0)) == 0
    good &= ((digits + np.uint64(0x0606060606060606)) & np.uint64(0x1010101010101010)) == 0
    good &= ((tail + np.uint64(0x0606)) & np.uint64(0x1010)) == 0
    b = head.view(np.uint8).reshape(-1, 8)
    ten = np.int32(10)
    year = (b[:, 0] * ten + b[:, 1]) * np.int32(100) + (b[:, 2] * ten + b[:, 3])
    month = np.minimum(b[:, 5] * ten + b[:, 6], np.int32(15))
    d = tail.view(np.uint8).reshape(-1, 8)
    day = d[:, 0] * ten + d[:, 1]
    good &= (year >= 1) & (day >= 1) & (day <= _MONTH_DAYS[month])
    # 29 February: only in leap years.
    feb29 = np.flatnonzero((month == 2) & (day == 29))
    if len(feb29):
        y = year[feb29]
        good[feb29] &= (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    y = year - (month <= 2)
    number = y * np.int32(365) + y // 4 - y // 100 + y // 400 + _MARCH_DAYS[month] + day
    days[rows[good]] = number[good] - 719469
    ok[rows[~good]] = False
    return days, ok


# --------------------------------------------------------------------------------------------
# Events: one block as columns


@dataclass
class _Chunk:
    """Events of one block (or part of one) as columns, with their line numbers."""

    lines: Ints
    ids: StrColumn
    enterprise: StrColumn
    of: StrColumn
    of_present: B
    type: npt.NDArray[np.int8]
    date: Ints
    enums: dict[str, npt.NDArray[np.int8]]
    deadline: Ints
    flags: dict[str, B]
    amount: I64
    amount_exp: npt.NDArray[np.int8]
    amount_present: B
    item_counts: I64
    item_kind: npt.NDArray[np.int8]
    item_name: StrColumn
    scores_present: B
    score_counts: I64
    #: The score names of the chunk, and for each score entry the code of its name.
    score_key: StrColumn
    score_code: I64
    score_value: I64
    score_exp: npt.NDArray[np.int8]
    description: StrColumn
    description_present: B
    reason: StrColumn
    reason_present: B

    def __len__(self) -> int:
        return len(self.lines)


def _scaled(value: Decimal) -> tuple[int, int]:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    exp = max(0, -exponent)
    scaled = value.scaleb(exp)
    mantissa = int(scaled)
    if Decimal(mantissa) != scaled or abs(mantissa) >= 1 << 62 or exp > 18:
        msg = f"the number {value} cannot be held exactly as a scaled 64-bit integer"
        raise OverflowError(msg)
    return mantissa, exp


def _chunk_from_events(events: Sequence[Event], lines: I64) -> _Chunk:
    """Columns of events parsed by the record module (the strict path)."""
    n = len(events)
    texts: dict[str, list[str | None]] = {k: [] for k in ("of", "description", "reason")}
    typ = np.zeros(n, dtype=np.int8)
    date = np.zeros(n, dtype=np.int64)
    enums = {k: np.full(n, -1, dtype=np.int8) for k in ("result", "level", "outcome", "penalty")}
    deadline = np.full(n, NO_DATE, dtype=np.int64)
    flags = {k: np.zeros(n, dtype=bool) for k in _EVENT_BOOLS}
    amount = np.zeros(n, dtype=np.int64)
    amount_exp = np.zeros(n, dtype=np.int8)
    amount_present = np.zeros(n, dtype=bool)
    item_counts = np.zeros(n, dtype=np.int64)
    item_kind: list[int] = []
    item_name: list[str] = []
    scores_present = np.zeros(n, dtype=bool)
    score_counts = np.zeros(n, dtype=np.int64)
    score_names: dict[str, int] = {}
    score_code: list[int] = []
    score_value: list[int] = []
    score_exp: list[int] = []
    for i, event in enumerate(events):
        data = event_to_mapping(event)
        typ[i] = EVENT_TYPE_NAMES.index(event.type)
        date[i] = day_number(event.date)
        for name, column in enums.items():
            value = data.get(name)
            if isinstance(value, str):
                column[i] = ENUMS[name].index(value)
        day = data.get("deadline")
        if day is not None:
            deadline[i] = day_number(day)  # type: ignore[arg-type]
        for name, column in flags.items():
            value = data.get(name)
            column[i] = value is True
        value = data.get("amount")
        if isinstance(value, Decimal):
            amount[i], e = _scaled(value)
            amount_exp[i] = e
            amount_present[i] = True
        items = data.get("items")
        if isinstance(items, tuple):
            item_counts[i] = len(items)
            for item in items:
                item_kind.append(ENUMS["kind"].index(str(item["kind"])))
                item_name.append(str(item["name"]))
        scores = data.get("scores")
        if isinstance(scores, dict):
            scores_present[i] = True
            score_counts[i] = len(scores)
            for key, number in scores.items():
                mantissa, e = _scaled(number)
                score_code.append(score_names.setdefault(key, len(score_names)))
                score_value.append(mantissa)
                score_exp.append(e)
        for name, column_texts in texts.items():
            value = data.get(name)
            column_texts.append(value if isinstance(value, str) else None)

    def text(name: str) -> tuple[StrColumn, B]:
        values = texts[name]
        return (
            StrColumn.from_strings(v or "" for v in values),
            np.array([v is not None for v in values], dtype=bool),
        )

    of, of_present = text("of")
    description, description_present = text("description")
    reason, reason_present = text("reason")
    return _Chunk(
        lines=lines,
        ids=StrColumn.from_strings(e.id for e in events),
        enterprise=StrColumn.from_strings(e.enterprise_id for e in events),
        of=of,
        of_present=of_present,
        type=typ,
        date=date,
        enums=enums,
        deadline=deadline,
        flags=flags,
        amount=amount,
        amount_exp=amount_exp,
        amount_present=amount_present,
        item_counts=item_counts,
        item_kind=np.array(item_kind, dtype=np.int8),
        item_name=StrColumn.from_strings(item_name),
        scores_present=scores_present,
        score_counts=score_counts,
        score_key=StrColumn.from_strings(score_names),
        score_code=np.array(score_code, dtype=np.int64),
        score_value=np.array(score_value, dtype=np.int64),
        score_exp=np.array(score_exp, dtype=np.int8),
        description=description,
        description_present=description_present,
        reason=reason,
        reason_present=reason_present,
    )


def _concat_chunks(chunks: Sequence[_Chunk]) -> _Chunk:
    if len(chunks) == 1:
        return chunks[0]

    def cat(name: str) -> Any:
        first = getattr(chunks[0], name)
        if name == "score_code":  # codes into each chunk's names: into the names concatenated
            shifts = np.cumsum([0] + [len(c.score_key) for c in chunks[:-1]])
            return np.concatenate([c.score_code + s for c, s in zip(chunks, shifts, strict=True)])
        if isinstance(first, StrColumn):
            return _concat_strings([getattr(c, name) for c in chunks])
        if isinstance(first, dict):
            return {k: np.concatenate([getattr(c, name)[k] for c in chunks]) for k in first}
        return np.concatenate([getattr(c, name) for c in chunks])

    return _Chunk(**{f: cat(f) for f in _Chunk.__dataclass_fields__})


def _take_chunk(chunk: _Chunk, order: I64) -> _Chunk:
    """Reorder a chunk's events (their items and scores follow)."""

    def ranges(counts: I64) -> I64:
        starts = np.cumsum(counts) - counts
        return gather_ranges(starts[order], counts[order])

    items = ranges(chunk.item_counts)
    scores = ranges(chunk.score_counts)
    out: dict[str, Any] = {}
    for name in _Chunk.__dataclass_fields__:
        value = getattr(chunk, name)
        if name in ("item_kind",):
            out[name] = value[items]
        elif name == "item_name":
            out[name] = value.take(items)
        elif name in ("score_value", "score_exp", "score_code"):
            out[name] = value[scores]
        elif name == "score_key":
            out[name] = value
        elif isinstance(value, StrColumn):
            out[name] = value.take(order)
        elif isinstance(value, dict):
            out[name] = {k: v[order] for k, v in value.items()}
        else:
            out[name] = value[order]
    return _Chunk(**out)


def _concat_strings(parts: Sequence[StrColumn]) -> StrColumn:
    if not parts:
        return StrColumn.from_strings([])
    if len(parts) == 1:
        return parts[0]
    data = np.concatenate([p.data for p in parts])
    shifts = np.cumsum([0] + [len(p.data) for p in parts[:-1]])
    offsets = np.concatenate(
        [parts[0].offsets[:1]] + [p.offsets[1:] + s for p, s in zip(parts, shifts, strict=True)]
    )
    return StrColumn(data, offsets.astype(np.int64))
