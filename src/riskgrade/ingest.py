"""Reading record files straight into columns, as strictly as :mod:`riskgrade.records`.

:func:`read_records` reads the enterprises (JSON Lines, or CSV) and the events (JSON Lines)
into the arrays of :mod:`riskgrade._columns`, without a Python object per record. The events
are parsed by DuckDB's JSON reader where DuckDB is installed (on all cores, streamed in file
order; see "Events: the DuckDB path" below for why that is exactly as strict), else, like the
enterprises, in blocks of lines by pyarrow's JSON reader; the values are then checked column by
column with numpy. Every line the vectorised checks cannot vouch for, and every part of a file
the fast paths will not parse, goes through the record module's own parser
(:func:`~riskgrade.records.parse_event_line`), so a bad record gives exactly the error the
per-record path gives, naming the same file, line and field; and the checks between records
(unique ids, known enterprises, references, void cycles) report what
:class:`~riskgrade.records.RecordSet` reports.

The fast paths are conservative by design: lines holding a backslash (escapes), ``null``,
whitespace between tokens or a key the checks do not know, lines that do not start with ``{``
and end with ``}``, numbers that are not plain integers, strings whose first character might be
whitespace, are all handed to the strict parser. Without pyarrow installed the whole file goes
that way (slow but the same result).

CSV enterprises: a header row naming ``id``, ``scheme``, ``name``, ``region``, ``grid``,
``industry``, ``uscc``, ``registered_on`` and ``attributes.<name>`` columns; an empty cell is a
missing value; an attribute cell holding ``|`` is a list (``dairy|meat``). Each row is checked as
the JSON record it stands for would be.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from riskgrade._columns import (
    ENUMS,
    EVENT_TYPE_NAMES,
    NO_DATE,
    AttributeColumn,
    EnterpriseColumns,
    EventColumns,
    Records,
    StrColumn,
    attribute_codes,
    day_number,
    gather_ranges,
)
from riskgrade.errors import InputError
from riskgrade.records import (
    _EVENT_CLASSES,
    Enterprise,
    Event,
    Recheck,
    SpotCheck,
    _as_object,
    _check_void_cycles,
    _validate_enterprise,
    event_to_mapping,
    literal_values,
    parse_enterprise_line,
    parse_event_line,
    reference_problem,
)

__all__ = ["BLOCK_BYTES", "Progress", "read_records"]

B = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]
#: Integers of any width (int32 where the values allow, as the columns keep them).
Ints = npt.NDArray[np.signedinteger[Any]]
U8 = npt.NDArray[np.uint8]

BLOCK_BYTES: Final = 32 << 20
"""Bytes of lines read and parsed at a time (memory stays a few times this per block)."""

Progress = Callable[[str, int, int], None]
"""Called with (file name, bytes done, bytes in all) as reading advances."""

_BOM: Final = b"\xef\xbb\xbf"
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
_ENTERPRISE_STRINGS: Final = tuple(
    field for field in Enterprise.model_fields if field != "attributes"
)


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.json
    except ImportError:  # pragma: no cover - exercised only without the extra
        return None
    return pyarrow


# --------------------------------------------------------------------------------------------
# Blocks of lines


@dataclass
class _Block:
    data: bytes
    first_line: int
    #: Line number of each non-blank line, when the block needed a per-line look.
    lines: I64 | None = None
    #: Where the block starts in its file.
    offset: int = 0


def _blocks(
    path: Path,
    name: str,
    progress: Progress | None,
    size: int,
    start: int = 0,
    first_line: int = 1,
) -> Iterator[_Block]:
    """The file's lines in blocks of about ``size`` bytes, from byte ``start`` (the start of
    line ``first_line``) on."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        msg = f"cannot open: {exc.strerror or exc}"
        raise InputError(msg, file=name) from None
    total = os.fstat(handle.fileno()).st_size
    done = start
    line = first_line
    rest = b""
    with handle:
        handle.seek(start)
        while True:
            chunk = handle.read(size)
            if not chunk:
                break
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                rest += chunk
                continue
            # One copy of the block's bytes (not two): what was left over, then up to the cut.
            data = b"".join((rest, memoryview(chunk)[:cut])) if cut < len(chunk) or rest else chunk
            rest = chunk[cut:]
            yield _Block(data, line, offset=done)
            line += data.count(b"\n")
            done += len(data)
            if progress is not None:
                progress(name, done, total)
        if rest:
            yield _Block(rest, line, offset=done)
            if progress is not None:
                progress(name, total, total)


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # the reading reports it


def _read_json_block(data: bytes, schema: Any, threads: bool = False) -> Any:
    """Parse one block of JSON Lines with pyarrow against ``schema``: as one chunk, or with
    ``threads`` in chunks of 1 MiB parsed on pyarrow's threads.

    Unknown fields are inferred (not dropped) so that the strict checks after it can name them.
    """
    import pyarrow.json as pj

    options = (
        pj.ReadOptions(use_threads=True, block_size=1 << 20)
        if threads
        else pj.ReadOptions(use_threads=False, block_size=len(data) + 1)
    )
    return pj.read_json(
        io.BytesIO(data),
        read_options=options,
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"),
    )


def _shape(block: _Block) -> tuple[int, bool]:
    """Return the number of lines and whether every one is ``{...}`` with nothing around it."""
    data = block.data
    if not data:
        return 0, False
    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    if data.endswith(b"\n"):
        ends = newlines
        starts = np.concatenate(([0], newlines[:-1] + 1))
    else:
        ends = np.append(newlines, len(data))
        starts = np.concatenate(([0], newlines + 1))
    n = len(ends)
    tidy = (
        b"\r" not in data
        and bool((raw[starts] == 123).all())
        and bool((raw[np.maximum(ends - 1, 0)] == 125).all())
        and bool((ends > starts).all())
    )
    return n, tidy


def _suspicious_lines(data: bytes) -> I64:
    """0-based indices of lines the fast path leaves to the strict parser."""
    hits: list[int] = []
    for needle in (b"\\", b"null"):
        position = data.find(needle)
        while position >= 0:
            hits.append(position)
            position = data.find(needle, position + 1)
    if not hits:
        return np.zeros(0, dtype=np.int64)
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    return np.unique(np.searchsorted(newlines, np.array(hits, dtype=np.int64)))


def _line_texts(data: bytes) -> list[bytes]:
    return data.split(b"\n")


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


@dataclass
class _Sparse:
    """Strings present on few rows: which rows, and their values in row order."""

    present: B
    values: StrColumn

    @classmethod
    def of(cls, values: StrColumn, present: B) -> _Sparse:
        return cls(present, values.take(np.flatnonzero(present)))

    def get(self, row: int) -> str | None:
        if not self.present[row]:
            return None
        return self.values.get(int(np.count_nonzero(self.present[:row])))


@dataclass
class _Compact:
    """A chunk as kept until the end: enterprises resolved to rows, rare strings sparse."""

    lines: npt.NDArray[np.int32]
    ids: StrColumn
    ent: npt.NDArray[np.int32]
    unknown_enterprise: _Sparse
    of: _Sparse
    type: npt.NDArray[np.int8]
    date: npt.NDArray[np.int32]
    enums: dict[str, npt.NDArray[np.int8]]
    deadline: npt.NDArray[np.int32]
    flags: dict[str, B]
    amount: I64
    amount_exp: npt.NDArray[np.int8]
    amount_present: B
    item_counts: npt.NDArray[np.int32]
    item_kind: npt.NDArray[np.int8]
    item_name: StrColumn
    scores_present: B
    score_counts: npt.NDArray[np.int32]
    score_key: npt.NDArray[np.int32]
    score_value: I64
    score_exp: npt.NDArray[np.int8]
    description: _Sparse
    reason: _Sparse

    def __len__(self) -> int:
        return len(self.lines)


def _compact(chunk: _Chunk, ent_index: _Index, score_keys: dict[str, int]) -> _Compact:
    ent = ent_index.find(chunk.enterprise)
    vocab = chunk.score_key.to_list()
    local = np.array(
        [score_keys.setdefault(name, len(score_keys)) for name in vocab] or [0], dtype=np.int32
    )
    return _Compact(
        lines=chunk.lines.astype(np.int32, copy=False),
        ids=chunk.ids,
        ent=ent.astype(np.int32),
        unknown_enterprise=_Sparse.of(chunk.enterprise, ent < 0),
        of=_Sparse.of(chunk.of, chunk.of_present),
        type=chunk.type,
        date=chunk.date.astype(np.int32, copy=False),
        enums=chunk.enums,
        deadline=chunk.deadline.astype(np.int32, copy=False),
        flags=chunk.flags,
        amount=chunk.amount,
        amount_exp=chunk.amount_exp,
        amount_present=chunk.amount_present,
        item_counts=chunk.item_counts.astype(np.int32, copy=False),
        item_kind=chunk.item_kind,
        item_name=chunk.item_name,
        scores_present=chunk.scores_present,
        score_counts=chunk.score_counts.astype(np.int32, copy=False),
        score_key=local[chunk.score_code],
        score_value=chunk.score_value,
        score_exp=chunk.score_exp,
        description=_Sparse.of(chunk.description, chunk.description_present),
        reason=_Sparse.of(chunk.reason, chunk.reason_present),
    )


class _Growing:
    """An array appended to part by part, in room reserved ahead (room not yet written takes no
    memory), so that the events are written once, where they end up: joining them at the end
    would take as much fresh memory again, which is slow to come by on big files."""

    def __init__(self, dtype: npt.DTypeLike, room: int) -> None:
        self.array: npt.NDArray[Any] = np.empty(max(room, 16), dtype=dtype)
        self.size = 0

    def add(self, values: npt.NDArray[Any]) -> None:
        end = self.size + len(values)
        if end > len(self.array):
            bigger = np.empty(max(end, len(self.array) * 3 // 2), dtype=self.array.dtype)
            bigger[: self.size] = self.array[: self.size]
            self.array = bigger
        self.array[self.size : end] = values
        self.size = end

    def view(self) -> npt.NDArray[Any]:
        return self.array[: self.size]


class _GrowingStrings:
    def __init__(self, rows: int, data: int) -> None:
        self.data = _Growing(np.uint8, data)
        self.offsets = _Growing(np.int64, rows + 1)
        self.offsets.add(np.zeros(1, dtype=np.int64))

    def add(self, column: StrColumn) -> None:
        start, end = int(column.offsets[0]), int(column.offsets[-1])
        self.offsets.add(column.offsets[1:] + (self.data.size - start))
        self.data.add(column.data[start:end])

    def view(self) -> StrColumn:
        return StrColumn(self.data.view(), self.offsets.view())


class _Gathered:
    """The events' compact columns, gathered block by block (see :class:`_Growing`); room is
    reserved for the whole file as the first block's share of it foretells."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.rows = 0

    def add(self, part: _Compact, done: int, total: int) -> None:
        if not self.fields:
            self._reserve(part, done, total)
        for name, growing in self.fields.items():
            value = getattr(part, name)
            if isinstance(value, _Sparse):
                growing[0].add(value.present)
                growing[1].add(value.values)
            elif isinstance(value, dict):
                for key, array in value.items():
                    growing[key].add(array)
            else:
                growing.add(value)
        self.rows += len(part)

    def _reserve(self, part: _Compact, done: int, total: int) -> None:
        scale = total / max(done, 1)

        def room(count: int) -> int:
            return int(count * scale * 1.15) + 4096

        def growing(value: Any) -> Any:
            if isinstance(value, StrColumn):
                return _GrowingStrings(room(len(value)), room(len(value.data)))
            return _Growing(value.dtype, room(len(value)))

        for name in _Compact.__dataclass_fields__:
            value = getattr(part, name)
            if isinstance(value, _Sparse):
                self.fields[name] = (growing(value.present), growing(value.values))
            elif isinstance(value, dict):
                self.fields[name] = {key: growing(array) for key, array in value.items()}
            else:
                self.fields[name] = growing(value)

    def ids_and_lines(self) -> list[tuple[StrColumn, npt.NDArray[np.integer[Any]]]]:
        """The ids and line numbers of the events gathered so far."""
        if not self.rows:
            return []
        return [(self.fields["ids"].view(), self.fields["lines"].view())]

    def result(self) -> _Compact:
        def view(growing: Any) -> Any:
            if isinstance(growing, tuple):
                return _Sparse(growing[0].view(), growing[1].view())
            if isinstance(growing, dict):
                return {key: value.view() for key, value in growing.items()}
            return growing.view()

        return _Compact(**{name: view(growing) for name, growing in self.fields.items()})


# --------------------------------------------------------------------------------------------
# Events: the fast path


def _event_schema(pa: Any) -> Any:
    fields = [pa.field(name, pa.string()) for name in _EVENT_STRINGS]
    fields += [pa.field(name, pa.bool_()) for name in _EVENT_BOOLS]
    item = pa.struct([pa.field("name", pa.string()), pa.field("kind", pa.string())])
    fields.append(pa.field("items", pa.list_(item)))
    return pa.schema(fields)


def _isnull(array: Any) -> B:
    return np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _chunk_from_arrow(table: Any, lines: I64) -> tuple[_Chunk, B]:
    """Columns of a block parsed by pyarrow, and the rows the checks cannot vouch for."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows
    bad = np.zeros(n, dtype=bool)
    names = set(table.column_names)
    known = set(_EVENT_STRINGS) | set(_EVENT_BOOLS) | {"items", "amount", "scores"}
    for extra in names - known:
        bad |= ~_isnull(table.column(extra))  # an unknown field: the strict parser names it

    def col(name: str) -> Any:
        return table.column(name).combine_chunks()

    present = {name: ~_isnull(table.column(name)) for name in names}
    typ = _codes(col("type"), EVENT_TYPE_NAMES).astype(np.int8)
    bad |= typ < 0
    ids, ids_ok = _strings(col("id"))
    bad |= ~_not_blank(ids, ids_ok)
    enterprise, ent_ok = _strings(col("enterprise_id"))
    bad |= ~_not_blank(enterprise, ent_ok)
    date_text, date_ok = _strings(col("date"))
    date, date_good = _dates(date_text, date_ok)
    bad |= ~date_good
    for type_name, (required, allowed) in _ALLOWED.items():
        rows = typ == EVENT_TYPE_NAMES.index(type_name)
        if not bool(rows.any()):
            continue
        for name in names & (known - {"id", "enterprise_id", "date", "type"}):
            if name not in allowed:
                bad |= rows & present[name]
        for name in required:
            bad |= rows & ~present.get(name, np.zeros(n, dtype=bool))
    enums: dict[str, npt.NDArray[np.int8]] = {}
    result = _codes(col("result"), ENUMS["result"])
    for type_name, allowed_values in _RESULTS.items():
        rows = typ == EVENT_TYPE_NAMES.index(type_name)
        allowed_codes = [ENUMS["result"].index(v) for v in allowed_values]
        bad |= rows & present["result"] & ~np.isin(result, allowed_codes)
    enums["result"] = result
    for name in ("level", "outcome", "penalty"):
        codes = _codes(col(name), ENUMS[name])
        bad |= present[name] & (codes < 0)
        enums[name] = codes
    spot = typ == EVENT_TYPE_NAMES.index("spot_check")
    enums["level"] = np.where(
        spot & ~present["level"], ENUMS["level"].index("county"), enums["level"]
    ).astype(np.int8)
    deadline_text, deadline_ok = _strings(col("deadline"))
    deadline, deadline_good = _dates(deadline_text, deadline_ok)
    bad |= deadline_ok & ~deadline_good
    flags: dict[str, B] = {}
    for name in _EVENT_BOOLS:
        values, _ = _bools(col(name))
        flags[name] = values
    rect = typ == EVENT_TYPE_NAMES.index("rectification")
    flags["verified"] = np.where(rect & ~present["verified"], True, flags["verified"])
    of, of_ok = _strings(col("of"))
    bad |= of_ok & ~_not_blank(of, of_ok)
    reason, reason_ok = _strings(col("reason"))
    bad |= reason_ok & ~_not_blank(reason, reason_ok)
    description, description_ok = _strings(col("description"))
    # Items: a list of {name, kind}; a failed check lists at least one.
    items = col("items")
    item_counts = np.zeros(n, dtype=np.int64)
    items_present = present["items"]
    item_kind = np.zeros(0, dtype=np.int8)
    item_name = StrColumn.from_strings([])
    if bool(items_present.any()):
        lengths = pc.list_value_length(items).fill_null(0)
        item_counts = np.asarray(lengths.to_numpy(zero_copy_only=False), dtype=np.int64)
        flat = pc.list_flatten(items)
        struct_fields = {flat.type.field(i).name for i in range(flat.type.num_fields)}
        parent = np.repeat(np.arange(n, dtype=np.int64), item_counts)
        if struct_fields != {"name", "kind"} or flat.null_count:
            bad[np.unique(parent)] = True  # unknown or missing item fields
        else:
            kind = _codes(flat.field("kind"), ENUMS["kind"])
            name_col, name_ok = _strings(flat.field("name"))
            wrong = (kind < 0) | ~_not_blank(name_col, name_ok)
            bad[parent[wrong]] = True
            item_kind = kind
            item_name = name_col
    failed = spot & (result == ENUMS["result"].index("fail"))
    bad |= failed & (item_counts == 0)
    # Numbers: only plain integers are taken here; anything else is parsed strictly.
    amount = np.zeros(n, dtype=np.int64)
    amount_present = present.get("amount", np.zeros(n, dtype=bool))
    if "amount" in names:
        column = col("amount")
        if pa.types.is_integer(column.type):
            amount = np.asarray(column.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
            bad |= amount_present & (amount < 0)
        else:
            bad |= amount_present
    scores_present = present.get("scores", np.zeros(n, dtype=bool))
    score_counts = np.zeros(n, dtype=np.int64)
    score_key = StrColumn.from_strings([])
    score_code = np.zeros(0, dtype=np.int64)
    score_value = np.zeros(0, dtype=np.int64)
    if "scores" in names:
        scores = col("scores")
        if not pa.types.is_struct(scores.type):
            bad |= scores_present
        else:
            keys_list: list[I64] = []
            values_list: list[I64] = []
            parents: list[I64] = []
            for i in range(scores.type.num_fields):
                child = scores.field(i)
                child_present = ~_isnull(child) & scores_present
                if not pa.types.is_integer(child.type):
                    bad |= child_present
                    continue
                rows = np.flatnonzero(child_present)
                parents.append(rows)
                keys_list.append(np.full(len(rows), i, dtype=np.int64))
                values_list.append(
                    np.asarray(child.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)[
                        rows
                    ]
                )
            if parents:
                parent = np.concatenate(parents)
                key_index = np.concatenate(keys_list)
                value = np.concatenate(values_list)
                order = np.lexsort((key_index, parent))
                parent, key_index, value = parent[order], key_index[order], value[order]
                score_counts = np.bincount(parent, minlength=n).astype(np.int64)
                names_of = [scores.type.field(i).name for i in range(scores.type.num_fields)]
                score_key = StrColumn.from_strings(names_of)
                score_code = key_index
                score_value = value
    columns = _Chunk(
        lines=lines,
        ids=ids,
        enterprise=enterprise,
        of=of,
        of_present=of_ok,
        type=typ,
        date=date,
        enums=enums,
        deadline=np.where(deadline_ok, deadline, NO_DATE),
        flags=flags,
        amount=amount,
        amount_exp=np.zeros(n, dtype=np.int8),
        amount_present=amount_present,
        item_counts=item_counts,
        item_kind=item_kind.astype(np.int8),
        item_name=item_name,
        scores_present=scores_present,
        score_counts=score_counts,
        score_key=score_key,
        score_code=score_code,
        score_value=score_value,
        score_exp=np.zeros(len(score_value), dtype=np.int8),
        description=description,
        description_present=description_ok,
        reason=reason,
        reason_present=reason_ok,
    )
    return columns, bad


@dataclass
class _Parsed:
    """A block as pyarrow parsed it and the rows the checks left to the strict parser."""

    data: bytes
    chunk: _Chunk
    bad: B


def _parse_block(block: _Block) -> _Parsed | None:
    """The fast path for one block of events, or ``None`` where only the strict parser will
    do."""
    data = block.data
    if block.first_line == 1 and data.startswith(_BOM):
        data = data[len(_BOM) :]
    n, tidy = _shape(_Block(data, block.first_line))
    pa = _pyarrow()
    if pa is None or not tidy:
        return None

    try:
        table = _read_json_block(data, _event_schema(pa))
        if table.num_rows != n:
            return None
        for name in table.column_names:
            column = table.column(name)
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                column.validate(full=True)
        lines = np.arange(block.first_line, block.first_line + n, dtype=np.int64)
        chunk, bad = _chunk_from_arrow(table, lines)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    bad[_suspicious_lines(data)] = True
    return _Parsed(data, chunk, bad)


def _parse_at(path: Path, offset: int, length: int, first_line: int) -> _Parsed | None:
    """:func:`_parse_block` in a worker process: the block read from the file itself; the
    result without the block's bytes (the reader holds them)."""
    with path.open("rb") as handle:
        data = os.pread(handle.fileno(), length, offset)
    parsed = _parse_block(_Block(data, first_line))
    if parsed is not None:
        parsed.data = b""
    return parsed


def _fork_context() -> Any:
    """The ``fork`` multiprocessing context where there is one (not on Windows or macOS by
    default), else ``None``: the reader then uses threads."""
    import multiprocessing
    import sys

    if sys.platform != "linux" or "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork")


# --------------------------------------------------------------------------------------------
# Events: the DuckDB path
#
# DuckDB's JSON reader parses the events file on all cores (C++, without the GIL), about two
# and a half times faster a line than pyarrow's, and streams its rows in file order. Every
# scalar field is read as DuckDB's type ``JSON``: the value re-written compactly as JSON text
# (``"V1"`` with its quotes, ``5``, ``true``), so that its JSON type is still visible; ``items``
# as a list of ``{name, kind}`` of such texts, ``scores`` (free keys) as one JSON text.
#
# Why this is exactly as strict as the per-record parser. DuckDB ignores keys it was not asked
# for, accepts trailing commas, ``NaN`` and ``Infinity``, and re-writes what it read, so its
# values alone cannot vouch for a line. The line's own length does:
#
# * For a row whose values all pass the checks below (strings without escapes, plain digit
#   integers, ``true``/``false``, items of strings), the compact text of what DuckDB captured,
#   ``{"k1":v1,"k2":v2,...}``, has a computable length C, and each captured member is at least
#   as long in the line as in that text (an escape only ever shortens when re-written; a
#   re-written number that is all digits was written as an integer, ``-0`` at worst).
# * The line's length R exceeds C by every byte of whitespace, every member DuckDB did not
#   capture (an unknown key, a second copy of a key, a ``null``), every trailing comma and
#   every value written longer than its compact form. So R == C holds exactly when the line *is*
#   the compact text of the captured values: only known keys, each once, no ``null``, no
#   whitespace; and that text parses in Python to the same values the checks saw.
# * A line with a backslash is handed to the strict parser whatever its length (its strings'
#   escapes would have to be decoded).
#
# R is found without scanning the file for newlines: rows and lines are matched one to one
# from the file's start (DuckDB yields one row per non-blank line, in order). If line i starts
# at s and its row passed the checks, the line is at least C long, so a newline at s + C proves
# R == C and gives the next line's start; a line that does not start with ``{`` might be blank
# (DuckDB skips those), so the match stops there. Rows that fail the checks or the newline test
# (and the rest of their batch) have their lines' ends found by scanning; a line ending in CR
# LF counts the CR out (the records module drops it).
#
# ``type``, ``result``, ``level``, ``outcome``, ``penalty`` and the items' ``kind`` are read as
# DuckDB ENUMs (see _DUCK_ENUMS), their compact text being ``"value"``. ``scores`` is parsed
# here from its compact text (see _json_scores). Fields other than the four every event has are
# checked on the rows that hold them.
#
# The rows whose lines are not vouched for go through the record module's parser (exact
# errors); where rows and lines can no longer be matched (a blank line, a line that does not
# start with ``{``), or DuckDB refuses the file (invalid JSON, a repeated key, an unknown event
# type, a list where an object is due), the rest of the file from the first line not yet taken
# is read by the pyarrow path, which ends in the strict parser's error where there is one.
# Lines are taken in file order either way, so the first error in the file is the one reported.

_DUCK_SCALARS: Final = (*_EVENT_STRINGS, *_EVENT_BOOLS, "amount")
#: Fields read as DuckDB ENUMs (cheaper than JSON texts). A value outside the vocabulary is
#: an error of the record models too (``Literal`` types), so DuckDB's refusing it only hands the
#: rest of the file to the pyarrow path, which reports it; an ENUM value came from a JSON string
#: (no number or boolean is a member), at least as long in the line as ``"value"``.
_DUCK_ENUMS: Final[Mapping[str, tuple[str, ...]]] = {
    "type": tuple(EVENT_TYPE_NAMES),
    "result": tuple(ENUMS["result"]),
    "level": tuple(ENUMS["level"]),
    "outcome": tuple(ENUMS["outcome"]),
    "penalty": tuple(ENUMS["penalty"]),
}
#: Rows per batch from DuckDB (about 16 MiB of events).
_DUCK_ROWS: Final = 1 << 17
#: Batches DuckDB may parse ahead of the checks (about 600 MB): enough for it to keep parsing
#: while the enterprises are read first.
_DUCK_QUEUE: Final = 32
#: DuckDB's threads (0: its default, one a core): measured alike with one thread on two cores.
_DUCK_THREADS: Final = 0
#: Batches whose columns are checked ahead of the one being kept.
_DUCK_AHEAD: Final = 2
_GLOB: Final = frozenset("*?[]{}")


def _duckdb() -> Any:
    """The duckdb module, or ``None`` where it is not installed (the pyarrow path is used)."""
    import importlib

    try:
        return importlib.import_module("duckdb")  # by name: type checking needs no duckdb
    except ImportError:
        return None


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _enum_type(vocab: Sequence[str]) -> str:
    return "ENUM(" + ", ".join(_sql_text(value) for value in vocab) + ")"


def _duck_query(source: str) -> str:
    types = {
        name: _enum_type(_DUCK_ENUMS[name]) if name in _DUCK_ENUMS else "JSON"
        for name in _DUCK_SCALARS
    }
    types["items"] = f"STRUCT(name JSON, kind {_enum_type(ENUMS['kind'])})[]"
    types["scores"] = "JSON"
    columns = ", ".join(f"{_sql_text(name)}: {_sql_text(kind)}" for name, kind in types.items())
    return (
        f"SELECT * FROM read_json({_sql_text(source)}, format = 'newline_delimited', "
        "records = 'true', compression = 'uncompressed', hive_partitioning = false, "
        f"columns = {{{columns}}})"
    )


def _duck_source(path: Path, fd: int) -> str | None:
    """The name DuckDB is to open: the file already open here where the system can name it (no
    glob, no quoting, the very file the checks read), else its absolute path, unless that has
    characters DuckDB would take as a pattern."""
    proc = f"/proc/self/fd/{fd}"
    if os.path.exists(proc):
        return proc
    absolute = os.fspath(path.resolve())
    return None if _GLOB & set(absolute) else absolute


class _AbandonedError(Exception):
    """DuckDB could not read the file (or stopped): the pyarrow path reads the rest."""


class _DuckStream:
    """DuckDB's rows of an events file in file order, fetched on a thread of their own so that
    DuckDB's parsing (on its threads, without the GIL) overlaps the checks on the reading
    thread; :data:`_DUCK_QUEUE` batches are held at most."""

    def __init__(self, duckdb: Any, path: Path) -> None:
        import queue
        import threading

        self.handle = path.open("rb")
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=_DUCK_QUEUE)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.con: Any = None
        source = _duck_source(path, self.handle.fileno())
        self.thread = threading.Thread(
            target=self._run, args=(duckdb, source), name="riskgrade-duckdb", daemon=True
        )
        self.thread.start()

    def _run(self, duckdb: Any, source: str | None) -> None:
        con = None
        if source is None:
            self._put(_AbandonedError("no name DuckDB can open"))
            return
        try:
            config: dict[str, object] = {"preserve_insertion_order": True}  # in file order
            if _DUCK_THREADS:
                config["threads"] = _DUCK_THREADS
            con = duckdb.connect(config=config)
            con.execute("SET enable_progress_bar = false")  # drawn for a long query otherwise
            with self.lock:
                if self.stop.is_set():
                    return
                self.con = con
            relation = con.sql(_duck_query(source))
            fetch = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
            for batch in fetch(_DUCK_ROWS):
                if not self._put(batch):
                    return
            self._put(None)
        except BaseException as exc:  # any failure: the pyarrow path reads on
            self._put(_AbandonedError(exc))
        finally:
            with self.lock:
                self.con = None
            if con is not None:
                con.close()

    def _put(self, item: object) -> bool:
        import queue

        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def next(self) -> Any:
        """The next batch (an Arrow record batch), ``None`` at the end; raises
        :class:`_AbandonedError` where DuckDB failed."""
        item = self.queue.get()
        if isinstance(item, _AbandonedError):
            raise item
        return item

    def close(self) -> None:
        import queue

        self.stop.set()
        with self.lock:
            if self.con is not None:
                self.con.interrupt()
        while self.thread.is_alive():
            try:
                self.queue.get(timeout=0.05)
            except queue.Empty:
                continue
        self.thread.join()
        self.handle.close()


@dataclass
class _Json:
    """A column of JSON texts as DuckDB writes them (compact; a string keeps its quotes)."""

    data: U8
    #: ``len + 1`` offsets into ``data``; an absent value (or ``null``) takes no bytes.
    offsets: I64
    length: I64
    #: The rows holding a value, in order.
    rows: I64

    @property
    def starts(self) -> I64:
        return self.offsets[:-1]

    @property
    def full(self) -> bool:
        """Whether every row has a value."""
        return len(self.rows) == len(self.length)

    @property
    def present(self) -> B:
        return np.asarray(self.length != 0)

    def heads(self, rows: I64) -> npt.NDArray[np.uint16]:
        """The first two bytes of the texts at ``rows`` (``"`` and the string's first byte, for
        a string; 0 past the data's end), as ``first | second << 8``."""
        words = _words(self.data, 2)
        if not len(words):
            return np.zeros(len(rows), dtype=np.uint16)
        at = self.starts[rows]
        return np.asarray(words[np.minimum(at, len(words) - 1)], dtype=np.uint16)

    def strings(self, rows: I64) -> B:
        """Where the values at ``rows`` are JSON strings."""
        if len(rows) == len(self.length) and self.full:  # every row has its (non-empty) text
            return np.asarray(self.data[self.starts] == 34)
        return np.asarray((self.length[rows] != 0) & (_at(self.data, self.starts[rows]) == 34))

    def not_blank(self, rows: I64) -> B:
        """Where the values at ``rows`` are strings that surely are not blank (see
        :func:`_not_blank`)."""
        heads = self.heads(rows)
        second = (heads >> 8).astype(np.uint8)
        safe = ((second >= 0x21) & (second <= 0x7E)) | (second >= 0xE4)
        return np.asarray(((heads & 0xFF) == 34) & (self.length[rows] >= 3) & safe, dtype=bool)

    def unquoted(self, rows: I64, strings: B) -> StrColumn:
        """A column of all rows: the strings at ``rows`` (where ``strings``) without their
        quotes; anything else empty."""
        n = len(self.length)
        take = rows[strings]
        if len(take) == n:
            lengths = self.length - 2
        else:
            lengths = np.zeros(n, dtype=np.int64)
            lengths[take] = self.length[take] - 2
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if len(take) == n and n:
            width = int(self.length[0])
            base = int(self.offsets[0])
            if width > 2 and bool((self.length == width).all()):
                # Fixed width, end to end (ids, the usual case): one strided copy.
                inner = np.ndarray(
                    (n,), dtype=f"S{width - 2}", buffer=self.data, offset=base + 1, strides=(width,)
                )
                return StrColumn(inner.copy().view(np.uint8), offsets)
            keep = np.ones(int(self.offsets[-1]) - base, dtype=bool)
            keep[self.offsets[:-1] - base] = False
            keep[self.offsets[1:] - base - 1] = False
            return StrColumn(self.data[base : int(self.offsets[-1])][keep], offsets)
        data = self.data[gather_ranges(self.starts[take] + 1, lengths[take])]
        return StrColumn(data, offsets)


def _at(data: U8, positions: I64) -> U8:
    """``data[positions]``, 0 where a position is past the end."""
    if not len(data):
        return np.zeros(len(positions), dtype=np.uint8)
    inside = (positions < len(data)).view(np.uint8)
    return np.asarray(data[np.minimum(positions, len(data) - 1)] * inside, dtype=np.uint8)


def _validity(array: Any) -> B:
    n = len(array)
    if not array.null_count:
        return np.ones(n, dtype=bool)
    bits = np.frombuffer(array.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little")[array.offset : array.offset + n].view(bool)


def _json_column(array: Any) -> _Json:
    import pyarrow as pa

    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = array.cast(pa.large_string())
    n = len(array)
    buffers = array.buffers()
    width = np.int32 if pa.types.is_string(array.type) else np.int64
    window = np.frombuffer(buffers[1], dtype=width)[array.offset : array.offset + n + 1]
    offsets: I64 = window.astype(np.int64)
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)
        if buffers[2] is not None
        else np.zeros(0, dtype=np.uint8)
    )
    length = np.diff(offsets)
    rows = np.flatnonzero(length)
    # The lengths make up the compact text's size (see above): an absent value must take no
    # bytes and a present one some, as DuckDB writes them (the rows with bytes are the rows
    # with a value); anything else, and DuckDB is not relied on for this file.
    if len(rows) != n - array.null_count or (
        array.null_count and not bool(_validity(array)[rows].all())
    ):
        msg = "DuckDB's JSON texts are not laid out as expected"
        raise _AbandonedError(msg)
    return _Json(data, offsets, length, rows)


def _json_integers(column: _Json, rows: I64) -> tuple[I64, B]:
    """The values at ``rows`` written as plain non-negative integers of at most 18 digits (so
    below 2**62, as the strict path's scaled integers must be), and where they are that."""
    starts, lengths = column.starts[rows], column.length[rows]
    values = np.zeros(len(rows), dtype=np.int64)
    ok = (lengths >= 1) & (lengths <= 18)
    index = gather_ranges(starts, lengths)
    if not len(index):
        return values, ok
    digits = (column.data[index] - np.uint8(48)).astype(np.int64)
    edges = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=edges[1:])
    wrong = np.zeros(len(index) + 1, dtype=np.int64)
    np.cumsum(digits >= 10, out=wrong[1:])
    ok &= wrong[edges[1:]] == wrong[edges[:-1]]
    place = np.repeat(edges[1:], lengths) - 1 - np.arange(len(index), dtype=np.int64)
    powers = 10 ** np.arange(19, dtype=np.int64)
    terms = (digits < 10) * digits * powers[np.minimum(place, 18)]
    total = np.zeros(len(index) + 1, dtype=np.int64)
    np.cumsum(terms, out=total[1:])
    values = ok * (total[edges[1:]] - total[edges[:-1]])
    return values, ok


@dataclass
class _Scores:
    ok: B
    counts: I64
    names: StrColumn
    code: I64
    value: I64


def _enum_codes(array: Any, vocab: Sequence[str]) -> npt.NDArray[np.int8]:
    """Codes of a DuckDB ENUM column (an Arrow dictionary array) in ``vocab``; -1 where
    absent."""
    import pyarrow as pa

    if not pa.types.is_dictionary(array.type) or array.dictionary.to_pylist() != list(vocab):
        msg = "DuckDB's ENUM column is not as declared"
        raise _AbandonedError(msg)
    indices = array.indices
    width = indices.type.bit_width // 8
    signed = pa.types.is_signed_integer(indices.type)
    dtype = np.dtype(f"{'i' if signed else 'u'}{width}")
    raw = np.frombuffer(indices.buffers()[1], dtype=dtype)
    codes = raw[indices.offset : indices.offset + len(indices)].astype(np.int8)
    if array.null_count:
        np.putmask(codes, ~_validity(array), -1)
    return codes


def _enum_text(vocab: Sequence[str]) -> I64:
    """Bytes of ``"value"`` by code, 0 for -1 (absent)."""
    return np.array([len(value.encode()) + 2 for value in vocab] + [0], dtype=np.int64)


_SCORES_SHAPE: Final = re.compile(rb'\{"[^"\\0-9]+":[0-9]{1,18}(?:,"[^"\\0-9]+":[0-9]{1,18})*\}')


def _scores_alike(column: _Json, rows: I64) -> _Scores | None:
    """:func:`_json_scores` where every object has the first one's names in its order (the
    usual case), else ``None``.

    The first object is matched as ``{"name":digits,...}`` with names free of digits; another
    object has the same names in the same order exactly when, digits taken out, it is the same
    text and it holds as many runs of digits as names: its values are not empty (DuckDB wrote
    valid JSON), hold no other byte than digits (there is none to spare), so each takes one run,
    and no name has a digit left."""
    base = int(column.starts[rows[0]])
    text = column.data[base : int(column.offsets[rows[-1] + 1])]
    start = column.starts[rows] - base
    first = text[start[0] : start[0] + column.length[rows[0]]].tobytes()
    if not _SCORES_SHAPE.fullmatch(first):
        return None
    names = [name.decode() for name in re.findall(rb'"([^"]*)":', first)]
    if len(set(names)) != len(names):
        return None
    skeleton = np.frombuffer(re.sub(rb"[0-9]", b"", first), dtype=np.uint8)
    k, width = len(skeleton), len(names)
    digit = (text - np.uint8(48)) < 10
    # Where digits start and stop, alternately (every object starts and ends with a brace).
    turns = np.flatnonzero(digit[1:] != digit[:-1]) + 1
    if len(turns) != 2 * width * len(rows):
        return None
    begin = turns[0::2].reshape(-1, width)
    stop = turns[1::2].reshape(-1, width)
    end = start + column.length[rows]
    # Each object's runs inside it: with as many runs in all as names in all, each has its own.
    if not bool(((begin[:, 0] > start) & (stop[:, -1] < end)).all()):
        return None
    length = (stop - begin).reshape(-1)
    if int(length.max()) > 18:
        return None
    if not bool((column.length[rows] - (stop - begin).sum(axis=1) == k).all()):
        return None
    if not bool((text[~digit].reshape(-1, k) == skeleton).all()):
        return None
    at = begin.reshape(-1)
    value = np.zeros(len(at), dtype=np.int64)
    for j in range(int(length.max())):
        more = length > j
        digit_j = text[np.minimum(at + j, len(text) - 1)].astype(np.int64) - 48
        value += more * (value * 9 + digit_j)
    n = len(column.length)
    counts_out = np.zeros(n, dtype=np.int64)
    counts_out[rows] = len(names)
    code = np.tile(np.arange(len(names), dtype=np.int64), len(rows))
    return _Scores(np.ones(n, dtype=bool), counts_out, StrColumn.from_strings(names), code, value)


def _json_scores(column: _Json) -> _Scores:
    """Parse ``scores`` objects written compactly: ``{"name":digits,...}`` (a value that is not
    a plain integer, a repeated name, anything else: the row is not ok)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(column.length)
    ok = ~column.present
    counts = np.zeros(n, dtype=np.int64)
    rows = column.rows
    nothing = np.zeros(0, dtype=np.int64)
    if not len(rows):
        return _Scores(ok, counts, StrColumn.from_strings([]), nothing, nothing)
    alike = _scores_alike(column, rows)
    if alike is not None:
        return alike
    base = int(column.starts[rows[0]])
    text = column.data[base : int(column.offsets[rows[-1] + 1])]
    start = column.starts[rows] - base
    end = start + column.length[rows]
    shape = (text[start] == 123) & (text[end - 1] == 125)  # {...}
    quotes = np.flatnonzero(text == 34)
    owner = np.searchsorted(start, quotes, side="right") - 1
    per_row = np.bincount(owner, minlength=len(rows))
    rank = np.arange(len(quotes), dtype=np.int64) - (np.cumsum(per_row) - per_row)[owner]
    shape &= per_row % 2 == 0
    shape &= (per_row > 0) | (end - start == 2)
    pair = np.flatnonzero((rank % 2 == 0) & (rank + 1 < per_row[owner]))
    opening, closing, entry_row = quotes[pair], quotes[pair + 1], owner[pair]
    m = len(pair)
    if m == 0:
        ok[rows] = shape
        return _Scores(ok, counts, StrColumn.from_strings([]), nothing, nothing)
    # "name":digits, then "," and the next name, or the closing "}".
    last = np.ones(m, dtype=bool)
    last[:-1] = entry_row[1:] != entry_row[:-1]
    first = np.ones(m, dtype=bool)
    first[1:] = last[:-1]
    value_end = np.empty(m, dtype=np.int64)
    value_end[:-1] = opening[1:] - 1
    value_end[last] = end[entry_row[last]] - 1
    entry_ok = last | (text[value_end] == 44)
    entry_ok &= text[np.minimum(closing + 1, len(text) - 1)] == 58
    entry_ok &= ~first | (opening == start[entry_row] + 1)
    value_start = closing + 2
    value_length = np.maximum(value_end - value_start, 0)
    value_offsets = np.empty(m + 1, dtype=np.int64)
    value_offsets[:-1] = value_start
    value_offsets[-1] = value_start[-1] + value_length[-1]
    numbers = _Json(text, value_offsets, value_length, np.flatnonzero(value_length))
    values, numbers_ok = _json_integers(numbers, np.arange(m, dtype=np.int64))
    entry_ok &= numbers_ok
    # The names, end to end, coded in order of first appearance.
    name_length = closing - opening - 1
    name_offsets = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(name_length, out=name_offsets[1:])
    name_bytes = text[gather_ranges(opening + 1, name_length)]
    names = pa.Array.from_buffers(
        pa.large_string(), m, [None, pa.py_buffer(name_offsets), pa.py_buffer(name_bytes)]
    )
    encoded = pc.dictionary_encode(names)
    code = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    vocab = encoded.dictionary.to_pylist()
    entry_counts = np.bincount(entry_row, minlength=len(rows))
    if not _distinct_per_row(code, entry_row, entry_counts, len(vocab)):
        keyed = entry_row * len(vocab) + code
        order = np.sort(keyed)
        twice = order[1:][order[1:] == order[:-1]]
        shape[np.unique(twice // len(vocab))] = False  # a name twice: the strict error
    row_ok = shape
    row_ok[entry_row[~entry_ok]] = False
    ok[rows] = row_ok
    counts[rows] = entry_counts
    return _Scores(ok, counts, StrColumn.from_strings(vocab), code, values)


def _distinct_per_row(code: I64, row: I64, counts: I64, width: int) -> bool:
    """Whether no row repeats a code, quickly where every row has the same distinct codes in
    the same order (the usual case: one set of score names)."""
    k = int(counts[0]) if len(counts) else 0
    if k == 0 or not bool((counts == k).all()):
        return False
    head = code[:k]
    if len(np.unique(head)) != k:
        return False
    return bool((code.reshape(-1, k) == head).all())


_COMMON: Final = ("id", "enterprise_id", "date", "type")


def _field_tables() -> tuple[dict[str, B], dict[str, npt.NDArray[np.uint8]], npt.NDArray[np.uint8]]:
    """Per field besides the common four, by event type code: whether the type allows it and
    whether it requires it; and per type, how many fields it requires."""
    fields = (*_DUCK_SCALARS, "items", "scores")
    count = len(EVENT_TYPE_NAMES)
    allowed = {name: np.zeros(count, dtype=bool) for name in fields}
    required = {name: np.zeros(count, dtype=np.uint8) for name in fields}
    needs = np.zeros(count, dtype=np.uint8)
    for type_name, (needed, permitted) in _ALLOWED.items():
        code = EVENT_TYPE_NAMES.index(type_name)
        for name in permitted:
            allowed[name][code] = True
        for name in needed:
            required[name][code] = 1
        needs[code] = len(needed)
    return allowed, required, needs


_ALLOWS, _REQUIRES, _NEEDS = _field_tables()


def _result_table() -> B:
    """Whether a ``result`` code (+ 2: -2 wrong, -1 absent) is right for an event type."""
    table = np.ones((len(EVENT_TYPE_NAMES), len(ENUMS["result"]) + 2), dtype=bool)
    table[:, 0] = False
    for name, values in _RESULTS.items():
        row = table[EVENT_TYPE_NAMES.index(name)]
        for code, value in enumerate(ENUMS["result"]):
            row[code + 2] = value in values
    return table


_RESULT_OK: Final = _result_table()
_DUCK_TEXTS: Final = tuple(name for name in _DUCK_SCALARS if name not in _DUCK_ENUMS)
#: Bytes of ``"field":"value",`` by code of an ENUM field, 0 for -1 (absent).
_ENUM_TEXT: Final = {
    name: np.array([len(name) + len(v.encode()) + 6 for v in vocab] + [0], dtype=np.int64)
    for name, vocab in _DUCK_ENUMS.items()
}
_KIND_TEXT: Final = _enum_text(ENUMS["kind"])


def _chunk_from_duck(batch: Any) -> tuple[_Chunk, B, I64]:
    """Columns of a batch DuckDB parsed, the rows the checks cannot vouch for, and for each row
    the length of the compact JSON text of the values DuckDB captured (see above).

    Most fields are on few rows: they are checked on the rows that hold them."""
    n = batch.num_rows
    every = np.arange(n, dtype=np.int64)
    json = {name: _json_column(batch.column(name)) for name in (*_DUCK_TEXTS, "scores")}
    codes = {name: _enum_codes(batch.column(name), vocab) for name, vocab in _DUCK_ENUMS.items()}
    typ = codes["type"]
    kind = np.maximum(typ, 0)
    bad = typ < 0
    # The compact text's size: "{" + the values' texts + per key "key": and a comma.
    total = np.zeros(n + 1, dtype=np.int64)
    for column in json.values():
        total += column.offsets
    size = np.diff(total)
    size += 1 + sum(len(name) + 4 for name in _COMMON if name in json)
    for name, table in _ENUM_TEXT.items():
        size += table[codes[name]]
    # Fields the event's type does not allow, and how many it requires are there.
    needs = np.zeros(n, dtype=np.uint8)

    def held(name: str, rows: I64, text: bool = True) -> None:
        kinds = kind[rows]
        bad[rows[~_ALLOWS[name][kinds]]] = True
        needs[rows] += _REQUIRES[name][kinds]
        if text:
            size[rows] += len(name) + 4

    for name, column in json.items():
        if name not in _COMMON:
            held(name, column.rows)
    enum_rows = {name: np.flatnonzero(codes[name] >= 0) for name in _DUCK_ENUMS if name != "type"}
    for name, rows in enum_rows.items():
        held(name, rows, text=False)
    bad |= ~json["id"].not_blank(every)
    bad |= ~json["enterprise_id"].not_blank(every)
    dates = json["date"]
    date, date_ok = _day_numbers(
        dates.data, dates.starts + 1, dates.strings(every) & (dates.length == 12)
    )
    bad |= ~date_ok
    result = codes["result"]
    rows = enum_rows["result"]
    bad[rows[~_RESULT_OK[kind[rows], result[rows] + 2]]] = True
    enums = {name: codes[name] for name in ("result", "level", "outcome", "penalty")}
    spot = typ == EVENT_TYPE_NAMES.index("spot_check")
    enums["level"][spot & (enums["level"] == -1)] = ENUMS["level"].index("county")
    deadlines = json["deadline"]
    deadline = np.full(n, NO_DATE, dtype=np.int32)
    rows = deadlines.rows
    if len(rows):
        days, ok = _day_numbers(
            deadlines.data,
            deadlines.starts[rows] + 1,
            deadlines.strings(rows) & (deadlines.length[rows] == 12),
        )
        deadline[rows] = days
        bad[rows[~ok]] = True
    flags: dict[str, B] = {}
    for name in _EVENT_BOOLS:
        column = json[name]
        rows = column.rows
        first = column.data[column.starts[rows]]
        true = first == 116  # compact JSON: "true" is the only text starting with t
        bad[rows[~true & (first != 102)]] = True  # nor "false" (f): not a boolean
        flags[name] = np.zeros(n, dtype=bool)
        flags[name][rows[true]] = True
    rect = typ == EVENT_TYPE_NAMES.index("rectification")
    flags["verified"] |= rect & ~json["verified"].present
    texts: dict[str, StrColumn] = {}
    for name in ("of", "reason", "description"):
        column = json[name]
        rows = column.rows
        strings = column.strings(rows)
        if name != "description":
            bad[rows[~column.not_blank(rows)]] = True
        else:
            bad[rows[~strings]] = True
        texts[name] = column.unquoted(rows, strings)
    # Items: a list of {name, kind}, a string and an ENUM.
    items = batch.column("items")
    items_present = _validity(items)
    list_offsets = np.frombuffer(items.buffers()[1], dtype=np.int32)[
        items.offset : items.offset + n + 1
    ].astype(np.int64)
    item_counts = np.diff(list_offsets) * items_present
    item_kind = np.zeros(0, dtype=np.int8)
    item_name = StrColumn.from_strings([])
    rows = np.flatnonzero(items_present)
    if len(rows):
        held("items", rows)
        parent = np.repeat(every, item_counts)
        low, high = int(list_offsets[0]), int(list_offsets[-1])
        if high - low == int(item_counts.sum()):  # no items behind a null list
            flat = items.values.slice(low, high - low)
        else:
            flat = items.flatten()
        name_array, kind_array = flat.field("name"), flat.field("kind")
        if flat.null_count:
            name_array, kind_array = flat.flatten()  # a null item: its fields null too
        names = _json_column(name_array)
        item_kind = _enum_codes(kind_array, ENUMS["kind"])
        everything = np.arange(len(item_kind), dtype=np.int64)
        named = names.not_blank(everything)
        bad[parent[(item_kind < 0) | ~named]] = True
        item_name = names.unquoted(everything, names.strings(everything))
        # [{"name":N,"kind":K},...]: 17 bytes an item besides N and K, commas between.
        each = names.length + _KIND_TEXT[item_kind] + 18
        total = np.zeros(len(each) + 1, dtype=np.int64)
        np.cumsum(each, out=total[1:])
        count = item_counts[rows]
        start = np.cumsum(item_counts)[rows] - count
        size[rows] += 2 + total[start + count] - total[start] - (count > 0)
    bad |= needs != _NEEDS[kind]
    # A failed spot check lists at least one item.
    rows = enum_rows["result"]
    failed = rows[spot[rows] & (result[rows] == ENUMS["result"].index("fail"))]
    bad[failed[item_counts[failed] == 0]] = True
    # Numbers: plain integers here; anything else is parsed strictly.
    amount = np.zeros(n, dtype=np.int64)
    rows = json["amount"].rows
    if len(rows):
        values, ok = _json_integers(json["amount"], rows)
        amount[rows] = values
        bad[rows[~ok]] = True
    scores = _json_scores(json["scores"])
    bad |= ~scores.ok
    ids = json["id"]
    enterprise = json["enterprise_id"]
    columns = _Chunk(
        lines=np.zeros(n, dtype=np.int32),
        ids=ids.unquoted(every, ids.strings(every)),
        enterprise=enterprise.unquoted(every, enterprise.strings(every)),
        of=texts["of"],
        of_present=json["of"].present,
        type=typ,
        date=date,
        enums=enums,
        deadline=deadline,
        flags=flags,
        amount=amount,
        amount_exp=np.zeros(n, dtype=np.int8),
        amount_present=json["amount"].present,
        item_counts=item_counts,
        item_kind=item_kind.astype(np.int8),
        item_name=item_name,
        scores_present=json["scores"].present,
        score_counts=scores.counts,
        score_key=scores.names,
        score_code=scores.code,
        score_value=scores.value,
        score_exp=np.zeros(len(scores.value), dtype=np.int8),
        description=texts["description"],
        description_present=json["description"].present,
        reason=texts["reason"],
        reason_present=json["reason"].present,
    )
    return columns, bad, size


def _scan_ends(raw: U8, start: int, count: int) -> I64:
    """Where the next ``count`` lines from ``start`` end (their newline, or the file's end for
    a last line without one); fewer where the file ends first."""
    found: list[I64] = []
    have = 0
    window = 1 << 20
    at = start
    while have < count and at < len(raw):
        hits = np.flatnonzero(raw[at : at + window] == 10) + at
        found.append(hits[: count - have])
        have += min(len(hits), count - have)
        at += window
        window = min(window * 2, 64 << 20)
    ends = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    if have < count:
        last = int(ends[-1]) + 1 if len(ends) else start
        if last < len(raw):
            ends = np.append(ends, len(raw))
    return ends.astype(np.int64)


def _line_ends(raw: U8, start: int, size: I64, bad: B) -> I64:
    """The end (newline) of the line of each row, from the row of the line at ``start`` on,
    as far as rows and lines are surely matched one to one; marks rows whose line is not
    exactly ``size`` bytes long as ``bad``. See the section's comment for why this holds."""
    n = len(size)
    total = len(raw)
    if total == 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    # Predicted: every line the compact text of its row.
    ends = start + np.cumsum(size + 1) - 1
    starts = ends - size
    inside = ends < total
    newline = np.where(inside, _at(raw, ends) == 10, ends == total)
    opens = _at(raw, starts) == 123
    good = ~bad & newline & opens
    first = n if bool(good.all()) else int(np.argmin(good))
    if first == n:
        return ends
    # From the first row that is not as predicted: the lines' real ends.
    begin = start if first == 0 else int(ends[first - 1]) + 1
    real = _scan_ends(raw, begin, n - first)
    line_starts = np.concatenate(([begin], real[:-1] + 1)).astype(np.int64)
    opens = _at(raw, line_starts) == 123
    opens &= line_starts < total
    stop = len(real) if bool(opens.all()) else int(np.argmin(opens))
    real, line_starts = real[:stop], line_starts[:stop]
    # A line may end in CR LF: the records module drops the CR, as JSON's whitespace it is.
    length = real - line_starts
    crlf = (length > 0) & (_at(raw, np.maximum(real - 1, 0)) == 13)
    bad[first : first + stop] |= (length - crlf) != size[first : first + stop]
    return np.concatenate((ends[:first], real))


def _escaped_rows(mm: Any, start: int, ends: I64) -> I64:
    """Rows whose line (``start`` to ``ends``) holds a backslash."""
    rows: list[int] = []
    stop = int(ends[-1]) if len(ends) else start
    at = mm.find(b"\\", start, stop)
    while at >= 0:
        row = int(np.searchsorted(ends, at))
        rows.append(row)
        at = mm.find(b"\\", int(ends[row]) + 1, stop)
    return np.array(rows, dtype=np.int64)


class _EventReader:
    """Reads an events file into :class:`_Compact` columns: through DuckDB where it is
    installed, block by block through pyarrow otherwise (or for what DuckDB leaves), line by
    line through the record module for whatever the checks cannot vouch for."""

    def __init__(
        self, path: Path, progress: Progress | None, block_size: int, ent_index: _Index | None
    ) -> None:
        self.path = path
        self.name = os.fspath(path)
        self.progress = progress
        self.block_size = block_size
        self.pa = _pyarrow()
        self.gathered = _Gathered()
        self.seen = _SeenIds("event", self.name, self.gathered.ids_and_lines)
        self.ent_index = ent_index
        self.score_keys: dict[str, int] = {}
        self.stream: _DuckStream | None = None

    def start(self) -> None:
        """Set DuckDB parsing the file already (the enterprises are read meanwhile)."""
        duckdb = _duckdb() if self.pa is not None else None
        if duckdb is not None and self.stream is None:
            try:
                self.stream = _DuckStream(duckdb, self.path)
            except OSError:
                self.stream = None  # the pyarrow path reports what is wrong with the file

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def read(self, processes: bool = False) -> _Compact:
        """Read the events, checking them here in file order, so that errors come out as a
        line-by-line reader finds them."""
        gathered = self.gathered
        total = _file_size(self.path)

        def keep(chunk: _Chunk, done: int) -> None:
            if len(chunk):
                assert self.ent_index is not None
                gathered.add(_compact(chunk, self.ent_index, self.score_keys), done, total)

        resume: tuple[int, int] | None = (0, 1)
        try:
            self.start()
            if self.stream is not None:
                resume = self._read_duck(self.stream, keep)
        finally:
            self.close()
        if resume is not None:
            self._read_blocks(keep, processes, *resume)
        if self.pa is not None:
            self.pa.default_memory_pool().release_unused()
        if not gathered.rows:
            assert self.ent_index is not None
            empty = _chunk_from_events([], np.zeros(0, dtype=np.int64))
            return _compact(empty, self.ent_index, self.score_keys)
        return gathered.result()

    def _read_duck(
        self, stream: _DuckStream, keep: Callable[[_Chunk, int], None]
    ) -> tuple[int, int] | None:
        """Take DuckDB's rows while they are surely matched with the file's lines; return where
        the other path is to go on (byte offset, line number), ``None`` when all is read."""
        import mmap

        with self.path.open("rb") as handle:
            total = os.fstat(handle.fileno()).st_size
            if total == 0:
                return 0, 1
            mm = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            return self._take_rows(stream, mm, total, keep)
        finally:
            with contextlib.suppress(BufferError):  # an array still looks at it: GC closes it
                mm.close()

    def _take_rows(
        self, stream: _DuckStream, mm: Any, total: int, keep: Callable[[_Chunk, int], None]
    ) -> tuple[int, int] | None:
        raw = np.frombuffer(mm, dtype=np.uint8)
        pos = len(_BOM) if mm[: len(_BOM)] == _BOM else 0
        line = 1
        # A batch's columns are checked (_chunk_from_duck, numpy) on a thread of their own,
        # a batch or two ahead, while this thread matches lines and keeps the previous ones.
        pending: deque[tuple[Any, Future[tuple[_Chunk, B, I64]]]] = deque()
        ended = abandoned = False
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="riskgrade-check") as pool:
            while True:
                while not ended and len(pending) < _DUCK_AHEAD:
                    try:
                        batch = stream.next()
                    except _AbandonedError:
                        ended = abandoned = True
                        break
                    if batch is None:
                        ended = True
                        break
                    pending.append((batch, pool.submit(_chunk_from_duck, batch)))
                if not pending:
                    break
                batch, checked = pending.popleft()
                chunk, bad, size = checked.result()
                ends = _line_ends(raw, pos, size, bad)
                n = len(ends)
                if n < len(chunk):
                    chunk = _take_chunk(chunk, np.arange(n, dtype=np.int64))
                    bad = bad[:n]
                if n:
                    bad[_escaped_rows(mm, pos, ends)] = True
                    starts = np.concatenate(([pos], ends[:-1] + 1))
                    chunk.lines = np.arange(line, line + n, dtype=np.int32)

                    def text(i: int, starts: I64 = starts, ends: I64 = ends) -> bytes:
                        return bytes(mm[int(starts[i]) : int(ends[i])])

                    pos = min(int(ends[-1]) + 1, total)
                    keep(self._with_strict(chunk, bad, text), pos)
                    line += n
                    if self.progress is not None:
                        self.progress(self.name, pos, total)
                if n < batch.num_rows:
                    return (pos, line) if line > 1 else (0, 1)
        del raw
        if abandoned:
            return (pos, line) if line > 1 else (0, 1)
        return (pos, line) if pos < total else None

    def _read_blocks(
        self, keep: Callable[[_Chunk, int], None], processes: bool, start: int, line: int
    ) -> None:
        """Parse blocks from byte ``start`` (line ``line``) on workers, and check them here in
        file order.

        The workers are threads (pyarrow and numpy release the GIL, the checks between their
        calls hold it), or with ``processes`` forked processes, each reading its block from
        the file."""
        workers = max(1, min(4, os.cpu_count() or 1))
        context = _fork_context() if processes and self.pa is not None else None
        pool: Executor
        if context is not None:
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        else:
            pool = ThreadPoolExecutor(max_workers=workers)
        blocks = _blocks(self.path, self.name, self.progress, self.block_size, start, line)
        with pool:
            pending: deque[tuple[_Block, Future[_Parsed | None]]] = deque()
            for block in blocks:
                if context is not None:
                    future = pool.submit(
                        _parse_at, self.path, block.offset, len(block.data), block.first_line
                    )
                else:
                    future = pool.submit(_parse_block, block)
                pending.append((block, future))
                if len(pending) > workers:
                    first, future = pending.popleft()
                    keep(self._block(first, future.result()), first.offset + len(first.data))
            while pending:
                first, future = pending.popleft()
                keep(self._block(first, future.result()), first.offset + len(first.data))

    def _strict(self, block: _Block) -> _Chunk:
        """Parse a block line by line with the record module's parser (exact errors)."""
        texts = _line_texts(block.data)
        if texts and texts[-1] == b"":
            texts.pop()
        numbers: list[int] = []
        events: list[Event] = []
        for offset, raw in enumerate(texts):
            number = block.first_line + offset
            event = self._parse(raw, number)
            if event is None:
                continue
            numbers.append(number)
            events.append(event)
        chunk = _chunk_from_events(events, np.array(numbers, dtype=np.int64))
        self.seen.done()
        return chunk

    def _parse(
        self, raw: bytes, number: int, context: Callable[[], None] | None = None
    ) -> Event | None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if context is not None:
                context()
            self.seen.check_before(number)
            bad = raw[exc.start : exc.end]
            msg = f"not valid UTF-8 at byte {exc.start + 1} of the line ({bad!r})"
            raise InputError(msg, file=self.name, line=number) from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        text = text.removesuffix("\r")
        if not text.strip(" \t\r\n"):
            return None
        try:
            event = parse_event_line(text, file=self.name, line=number)
        except InputError:
            if context is not None:
                context()
            self.seen.check_before(number)
            raise
        self.seen.note(event.id, number)
        return event

    def _block(self, block: _Block, parsed: _Parsed | None) -> _Chunk:
        if parsed is None:
            return self._strict(block)
        data = block.data
        if block.first_line == 1 and data.startswith(_BOM):
            data = data[len(_BOM) :]
        texts: list[bytes] = []

        def text(i: int) -> bytes:
            if not texts:
                texts.extend(_line_texts(data))
            return texts[i]

        return self._with_strict(parsed.chunk, parsed.bad, text)

    def _with_strict(self, chunk: _Chunk, bad: B, text: Callable[[int], bytes]) -> _Chunk:
        """The chunk with its ``bad`` rows replaced by what the strict parser makes of their
        lines (``text(row)``), in line order: the first error is the first line's."""
        if not bool(bad.any()):
            self.seen.done()
            return chunk
        rows = np.flatnonzero(bad)
        good = np.flatnonzero(~bad)
        events: list[Event] = []
        numbers: list[int] = []
        for i in rows.tolist():
            number = int(chunk.lines[i])

            def context(i: int = i) -> None:
                before = good[good < i]
                self.seen.add(chunk.ids.take(before), chunk.lines[before])

            event = self._parse(text(i), number, context)
            assert event is not None
            events.append(event)
            numbers.append(number)
        strict = _chunk_from_events(events, np.array(numbers, dtype=np.int64))
        merged = _concat_chunks([_take_chunk(chunk, good), strict])
        merged = _take_chunk(merged, np.argsort(merged.lines, kind="stable"))
        self.seen.done()
        return merged


# --------------------------------------------------------------------------------------------
# Enterprises


@dataclass
class _Enterprises:
    lines: I64
    ids: StrColumn
    #: Code of each enterprise's scheme in ``schemes`` (first seen first), -1 for none.
    scheme: npt.NDArray[np.int32]
    schemes: list[str]
    attributes: dict[str, AttributeColumn]


@dataclass
class _AttributePart:
    """One attribute's values in some enterprises (a block of them)."""

    rows: I64
    #: Per row: 1 a string, 2 a list of strings, 3 anything else (see AttributeColumn).
    kind: npt.NDArray[np.int8]
    #: Per row, its strings (one for a string); codes into ``vocab``, in order.
    counts: I64
    codes: I64
    vocab: list[str]


def _uscc_ok(column: StrColumn, valid: B) -> B:
    """Where a code surely passes :func:`riskgrade._uscc.check_uscc` (others go strict)."""
    from riskgrade._uscc import USCC_ALPHABET

    ok = np.asarray(valid & (column.lengths() == 18), dtype=bool)
    rows = np.flatnonzero(ok)
    if len(rows) == 0:
        return ok
    grid = column.data[column.offsets[rows][:, None] + np.arange(18, dtype=np.int64)]
    table = np.full(256, -1, dtype=np.int64)
    for value, char in enumerate(USCC_ALPHABET):
        table[ord(char)] = value
    values = table[grid]
    good = (values >= 0).all(axis=1)
    good &= ((grid[:, 2:8] >= 48) & (grid[:, 2:8] <= 57)).all(axis=1)
    weights = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
    total = (np.where(values[:, :17] >= 0, values[:, :17], 0) * weights).sum(axis=1)
    good &= values[:, 17] == (31 - total % 31) % 31
    ok[rows[~good]] = False
    return np.asarray(ok, dtype=bool)


def _enterprise_schema(pa: Any) -> Any:
    return pa.schema([pa.field(name, pa.string()) for name in _ENTERPRISE_STRINGS])


class _EnterpriseReader:
    def __init__(self, path: Path, progress: Progress | None, block_size: int) -> None:
        self.path = path
        self.name = os.fspath(path)
        self.progress = progress
        self.block_size = block_size
        self.pa = _pyarrow()
        self.lines: list[I64] = []
        self.ids: list[StrColumn] = []
        self.seen = _SeenIds(
            "enterprise", self.name, lambda: list(zip(self.ids, self.lines, strict=True))
        )
        self.scheme: list[npt.NDArray[np.int32]] = []
        self.schemes: dict[str, int] = {}
        self.parts: dict[str, list[_AttributePart]] = {}
        self.count = 0

    def read(self) -> _Enterprises:
        if self.path.suffix.lower() == ".csv":
            self._csv()
        else:
            for block in _blocks(self.path, self.name, self.progress, self.block_size):
                self._block(block)
        attributes = {
            key: _attribute_column(self.count, parts) for key, parts in self.parts.items()
        }
        ids = _concat_strings(self.ids)
        lines = np.concatenate(self.lines) if self.lines else np.zeros(0, dtype=np.int64)
        scheme = np.concatenate(self.scheme) if self.scheme else np.zeros(0, dtype=np.int32)
        return _Enterprises(lines, ids, scheme, list(self.schemes), attributes)

    def _schemes(self, local: npt.NDArray[np.int32], names: Sequence[str]) -> None:
        """Keep a block's scheme codes (into ``names``; -1 for none) as codes of the file."""
        known = np.array([self.schemes.setdefault(s, len(self.schemes)) for s in names] + [-1])
        self.scheme.append(known[local].astype(np.int32))

    def _keep(self, enterprises: Sequence[Enterprise], lines: I64) -> None:
        base = self.count
        names = [e.scheme for e in enterprises]
        vocab = list(dict.fromkeys(s for s in names if s is not None))
        code = {s: i for i, s in enumerate(vocab)}
        self._schemes(np.array([-1 if s is None else code[s] for s in names], np.int32), vocab)
        entries: dict[str, list[tuple[int, object]]] = {}
        for i, enterprise in enumerate(enterprises):
            for key, value in enterprise.attributes.items():
                entries.setdefault(key, []).append((base + i, value))
        for key, values in entries.items():
            self.parts.setdefault(key, []).append(_attribute_part(values))
        ids = StrColumn.from_strings(e.id for e in enterprises)
        self.ids.append(ids)
        self.lines.append(lines)
        self.seen.done()
        self.count += len(enterprises)

    def _parse(self, mapping_or_text: str | dict[str, object], number: int) -> Enterprise:
        try:
            if isinstance(mapping_or_text, str):
                return parse_enterprise_line(mapping_or_text, file=self.name, line=number)
            data = _as_object(mapping_or_text, file=self.name, line=number, is_event=False)
            return _validate_enterprise(data, file=self.name, line=number)
        except InputError:
            self.seen.check_before(number)
            raise

    def _strict(self, block: _Block) -> None:
        texts = _line_texts(block.data)
        if texts and texts[-1] == b"":
            texts.pop()
        parsed: list[Enterprise] = []
        numbers: list[int] = []
        for offset, raw in enumerate(texts):
            number = block.first_line + offset
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.seen.check_before(number)
                bad = raw[exc.start : exc.end]
                msg = f"not valid UTF-8 at byte {exc.start + 1} of the line ({bad!r})"
                raise InputError(msg, file=self.name, line=number) from None
            if number == 1:
                text = text.removeprefix("\ufeff")
            text = text.removesuffix("\r")
            if not text.strip(" \t\r\n"):
                continue
            enterprise = self._parse(text, number)
            self.seen.note(enterprise.id, number)
            parsed.append(enterprise)
            numbers.append(number)
        self._keep(parsed, np.array(numbers, dtype=np.int64))

    def _block(self, block: _Block) -> None:
        data = block.data
        if block.first_line == 1 and data.startswith(_BOM):
            data = data[len(_BOM) :]
        n, tidy = _shape(_Block(data, block.first_line))
        if self.pa is None or not tidy:
            self._strict(block)
            return
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            # On pyarrow's threads: DuckDB, parsing the events meanwhile, leaves cores idle
            # once it is far enough ahead.
            table = _read_json_block(data, _enterprise_schema(pa), threads=True)
            if table.num_rows != n:
                self._strict(block)
                return
            for name in table.column_names:
                column = table.column(name)
                if pa.types.is_string(column.type):
                    column.validate(full=True)
            bad, attributes = _check_enterprises(table, pa)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            self._strict(block)
            return
        bad[_suspicious_lines(data)] = True
        if bool(bad.any()):
            self._strict(block)  # rare: a whole block through the strict parser
            return
        lines = np.arange(block.first_line, block.first_line + n, dtype=np.int64)
        ids, _ = _strings(table.column("id").combine_chunks())
        schemes = pc.dictionary_encode(table.column("scheme").combine_chunks())
        local = np.asarray(
            schemes.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int32
        )
        self._schemes(local, schemes.dictionary.to_pylist())
        base = self.count
        for key, part in attributes.items():
            part.rows = part.rows + base
            self.parts.setdefault(key, []).append(part)
        self.ids.append(ids)
        self.lines.append(lines)
        self.seen.done()
        self.count += n

    def _csv(self) -> None:
        try:
            handle = self.path.open("r", encoding="utf-8-sig", newline="")
        except OSError as exc:
            msg = f"cannot open: {exc.strerror or exc}"
            raise InputError(msg, file=self.name) from None
        parsed: list[Enterprise] = []
        numbers: list[int] = []
        with handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                return
            start = reader.line_num + 1
            for row in reader:
                number = start
                start = reader.line_num + 1
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    self.seen.check_before(number)
                    msg = f"expected {len(header)} cells as in the header, got {len(row)}"
                    raise InputError(msg, file=self.name, line=number)
                record: dict[str, object] = {}
                attributes: dict[str, object] = {}
                for key, cell in zip(header, row, strict=True):
                    if cell == "":
                        continue
                    if key.startswith("attributes."):
                        name = key.removeprefix("attributes.")
                        attributes[name] = cell.split("|") if "|" in cell else cell
                    else:
                        record[key] = cell
                if attributes:
                    record["attributes"] = attributes
                enterprise = self._parse(record, number)
                self.seen.note(enterprise.id, number)
                parsed.append(enterprise)
                numbers.append(number)
        self._keep(parsed, np.array(numbers, dtype=np.int64))


def _check_enterprises(table: Any, pa: Any) -> tuple[B, dict[str, _AttributePart]]:
    """Rows the checks cannot vouch for, and the attributes' values (rows of the block)."""
    import pyarrow.compute as pc

    n = table.num_rows
    bad = np.zeros(n, dtype=bool)
    names = set(table.column_names)
    for extra in names - set(_ENTERPRISE_STRINGS) - {"attributes"}:
        bad |= ~_isnull(table.column(extra))
    ids, ok = _strings(table.column("id").combine_chunks())
    bad |= ~_not_blank(ids, ok)
    uscc, present = _strings(table.column("uscc").combine_chunks())
    bad |= present & ~_uscc_ok(uscc, present)
    registered, present = _strings(table.column("registered_on").combine_chunks())
    _, good = _dates(registered, present)
    bad |= present & ~good
    parts: dict[str, _AttributePart] = {}
    if "attributes" not in names:
        return bad, parts
    attributes = table.column("attributes").combine_chunks()
    has = ~_isnull(attributes)
    if not pa.types.is_struct(attributes.type):
        bad |= has
        return bad, parts
    for i in range(attributes.type.num_fields):
        key = attributes.type.field(i).name
        child = attributes.field(i)
        child_has = has & ~_isnull(child)
        rows = np.flatnonzero(child_has)
        values = child.take(pa.array(rows))
        if pa.types.is_string(child.type):
            counts = np.ones(len(rows), dtype=np.int64)
            kind = np.ones(len(rows), dtype=np.int8)
        elif pa.types.is_list(child.type) and (
            pa.types.is_string(child.type.value_type) or pa.types.is_null(child.type.value_type)
        ):
            counts = np.asarray(
                pc.list_value_length(values).to_numpy(zero_copy_only=False), dtype=np.int64
            )
            kind = np.full(len(rows), 2, dtype=np.int8)
            values = values.flatten()
            if values.null_count:  # a list holding null: the strict parser's error
                bad[np.repeat(rows, counts)[_isnull(values)]] = True
                continue
        else:
            bad |= child_has
            continue
        encoded = pc.dictionary_encode(values.cast(pa.string()))
        codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        parts[key] = _AttributePart(rows, kind, counts, codes, encoded.dictionary.to_pylist())
    return bad, parts


def _attribute_part(entries: Sequence[tuple[int, object]]) -> _AttributePart:
    """The part of values the strict parser made (a string, a tuple of strings, else)."""
    vocab: dict[str, int] = {}
    kind, counts, codes = attribute_codes([value for _, value in entries], vocab)
    rows = np.array([row for row, _ in entries], dtype=np.int64)
    return _AttributePart(rows, kind, counts, codes, list(vocab))


def _attribute_column(n: int, parts: Sequence[_AttributePart]) -> AttributeColumn:
    """One attribute of all enterprises from its parts (in file order; strings coded in order of
    first appearance)."""
    vocab: dict[str, int] = {}
    kind = np.zeros(n, dtype=np.int8)
    counts = np.zeros(n, dtype=np.int64)
    known: list[I64] = []
    for part in parts:
        known.append(np.array([vocab.setdefault(v, len(vocab)) for v in part.vocab] + [0]))
        kind[part.rows] = part.kind
        counts[part.rows] = part.counts
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    codes = np.zeros(int(offsets[-1]), dtype=np.int32)
    for part, remap in zip(parts, known, strict=True):
        codes[gather_ranges(offsets[part.rows], part.counts)] = remap[part.codes]
    return AttributeColumn(kind, offsets, codes, tuple(vocab))


# --------------------------------------------------------------------------------------------
# Between records: ids, references, void cycles


class _Index:
    """Rows of a string column by value."""

    def __init__(self, column: StrColumn) -> None:
        self.column = column
        self.plan = _KeyPlan.of(column)
        self.keys, _, self.exact = self.plan.keys(column)
        self.order = np.argsort(self.keys, kind="stable")
        self.sorted = self.keys[self.order]

    def find(self, needles: StrColumn, wanted: B | None = None) -> I64:
        """The row of each needle (``-1`` when absent or not ``wanted``)."""
        n = len(needles)
        out = np.full(n, -1, dtype=np.int64)
        rows = np.arange(n, dtype=np.int64) if wanted is None else np.flatnonzero(wanted)
        if len(rows) == 0 or len(self.sorted) == 0:
            return out
        sub = needles.take(rows) if wanted is not None else needles
        keys, valid, _ = self.plan.keys(sub)
        # Consecutive needles often repeat (events grouped by enterprise): look up runs once.
        head = np.ones(len(keys), dtype=bool)
        head[1:] = keys[1:] != keys[:-1]
        run = np.cumsum(head) - 1
        heads = keys[head]
        order = np.argsort(heads, kind="stable")
        at = np.empty(len(heads), dtype=np.int64)
        at[order] = np.searchsorted(self.sorted, heads[order])
        at = np.minimum(at, len(self.sorted) - 1)
        found = self.order[at]
        hit = self.sorted[at] == heads
        rows_found = np.where(hit, found, -1)[run]
        rows_found[~valid] = -1
        if not self.exact:
            check = np.flatnonzero(rows_found >= 0)
            same = _same_pairs(sub, check, self.column, rows_found[check])
            rows_found[check[~same]] = -1
        out[rows] = rows_found
        return out


def _uniform_width(offsets: I64) -> int:
    """The common length of the strings at ``offsets``, 0 where they differ (or are empty)."""
    n = len(offsets) - 1
    if n < 1:
        return 0
    width = int(offsets[1] - offsets[0])
    if width == 0 or int(offsets[-1] - offsets[0]) != n * width:
        return 0
    step = 1 << 20  # in parts: no array as long as the column
    for start in range(0, n, step):
        if not bool((np.diff(offsets[start : start + step + 1]) == width).all()):
            return 0
    return width


@dataclass(frozen=True)
class _KeyPlan:
    """How to key strings looked up among a reference column's: exact (order-preserving) keys
    where the reference's strings have one width, up to 8 bytes (their bytes) or more with the
    positions that differ among them within 8 consecutive ones (those 8 bytes as a big-endian
    word, the other bytes checked against the reference's); otherwise 64-bit hashes."""

    #: Width of the reference's strings; 0 where keys are hashes.
    width: int = 0
    #: For a width of 8 or more: where the 8 bytes of the key start.
    low: int = 0
    #: For a width of 8 or more: (position, byte) of every byte outside the key.
    fixed: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, reference: StrColumn) -> _KeyPlan:
        n = len(reference)
        width = _uniform_width(reference.offsets)
        if not width:
            return cls()
        if width < 8:
            return cls(width)
        base = int(reference.offsets[0])
        data = reference.data[base : base + n * width]
        first = data[:width]
        # The last 8 bytes as the key where the others never differ (ids with a fixed prefix,
        # the usual case), else the first 8; each other byte position checked in one pass.
        for low in (width - 8, 0):
            outside = (*range(low), *range(low + 8, width))
            if all(bool((data[j::width] == first[j]).all()) for j in outside):
                return cls(width, low, tuple((j, int(first[j])) for j in outside))
        return cls()

    def keys(self, column: StrColumn) -> tuple[npt.NDArray[np.uint64], B, bool]:
        """Keys of ``column``'s strings, where each can match, and whether keys are exact."""
        width, low = self.width, self.low
        m = len(column)
        if width == 0:
            return _string_keys(column), np.ones(m, dtype=bool), False
        uniform = _uniform_width(column.offsets) == width
        valid = np.ones(m, dtype=bool) if uniform else column.lengths() == width
        start = int(column.offsets[0]) if m else 0
        if width >= 8 and bool(valid.all()) and len(column.data) >= start + m * width:
            # End to end, all of one width: read in place, no gather.
            words = np.ndarray(
                (m,), dtype=">u8", buffer=column.data, offset=start + low, strides=(width,)
            )
            for j, byte in self.fixed:
                valid &= column.data[start + j : start + m * width : width] == byte
            return words.astype(np.uint64), valid, True
        rows = np.flatnonzero(valid)
        keys = np.zeros(m, dtype=np.uint64)
        at = column.offsets[rows]
        if width >= 8:
            keys[rows] = _words(column.data, 8)[at + low].byteswap()
            for j, byte in self.fixed:
                valid[rows[column.data[at + j] != byte]] = False
            return keys, valid, True
        other = column.data[at[:, None] + np.arange(width, dtype=np.int64)]
        packed = np.zeros(len(rows), dtype=np.uint64)
        for j in range(width):
            packed = (packed << np.uint64(8)) | other[:, j].astype(np.uint64)
        keys[rows] = packed
        return keys, valid, True


def _same_pairs(a: StrColumn, ai: I64, b: StrColumn, bi: I64) -> B:
    out: B = (a.offsets[ai + 1] - a.offsets[ai]) == (b.offsets[bi + 1] - b.offsets[bi])
    for k in np.flatnonzero(out).tolist():
        sa, sb = int(a.offsets[ai[k]]), int(b.offsets[bi[k]])
        length = int(a.offsets[ai[k] + 1]) - sa
        out[k] = bool(np.array_equal(a.data[sa : sa + length], b.data[sb : sb + length]))
    return out


def _duplicates(index: _Index, lines: npt.NDArray[np.integer[Any]], kind: str, name: str) -> None:
    """Raise the duplicate-id error of a line-by-line reader, if two records share an id."""
    if len(index.sorted) < 2 or not bool((index.sorted[1:] == index.sorted[:-1]).any()):
        return
    _raise_duplicates(index.column, lines.astype(np.int64), kind, name)


def _reference_error(
    chunk: _Compact,
    row: int,
    ent_ids: StrColumn,
    event_index: _Index,
    target: npt.NDArray[np.int32],
    name: str,
) -> InputError:
    """The error ``RecordSet`` raises for event ``row``'s references, built by its own code."""
    from riskgrade.records import Enterprise as EnterpriseModel

    event = _event_object(chunk, row, ent_ids)
    enterprises: dict[str, object]
    if chunk.ent[row] < 0:
        enterprises = dict.fromkeys(ent_ids.to_list())
    else:
        enterprises = {event.enterprise_id: EnterpriseModel.model_construct(id=event.enterprise_id)}
    index: dict[str, object] = {}
    if target[row] >= 0:
        index[chunk.ids.get(int(target[row]))] = _event_object(chunk, int(target[row]), ent_ids)
    elif getattr(event, "of", None) is not None:
        index = dict.fromkeys(event_index.column.to_list())
    problem = reference_problem(event, enterprises, index)  # type: ignore[arg-type]
    assert problem is not None
    message, field_name, suggestion = problem
    return InputError(
        message,
        file=name,
        line=int(chunk.lines[row]),
        field=field_name,
        event=event.id,
        suggestion=suggestion,
    )


def _event_object(chunk: _Compact, row: int, ent_ids: StrColumn) -> Event:
    """Rebuild event ``row`` as its record object (for the messages of rare errors)."""
    from riskgrade.records import _EVENT_CLASSES

    kind = EVENT_TYPE_NAMES[int(chunk.type[row])]
    ent = int(chunk.ent[row])
    data: dict[str, object] = {
        "id": chunk.ids.get(row),
        "enterprise_id": ent_ids.get(ent) if ent >= 0 else chunk.unknown_enterprise.get(row),
        "date": _iso(int(chunk.date[row])),
        "type": kind,
    }
    allowed = _ALLOWED[kind][1]
    of = chunk.of.get(row)
    if of is not None:
        data["of"] = of
    for field_name, column in chunk.enums.items():
        code = int(column[row])
        if code >= 0 and field_name in allowed:
            data[field_name] = ENUMS[field_name][code]
    if kind == "spot_check":
        start = int(chunk.item_counts[:row].sum())
        count = int(chunk.item_counts[row])
        # A tuple: the models are strict, and a list is not their sequence type.
        data["items"] = tuple(
            {
                "name": chunk.item_name.get(start + j),
                "kind": ENUMS["kind"][int(chunk.item_kind[start + j])],
            }
            for j in range(count)
        )
    for field_name in _EVENT_BOOLS:
        if field_name in allowed:
            data[field_name] = bool(chunk.flags[field_name][row])
    if int(chunk.deadline[row]) != NO_DATE:
        data["deadline"] = _iso(int(chunk.deadline[row]))
    for field_name, sparse in (("reason", chunk.reason), ("description", chunk.description)):
        value = sparse.get(row)
        if value is not None:
            data[field_name] = value
    return _EVENT_CLASSES[kind].model_validate(data)


def _iso(day: int) -> str:
    return str(np.datetime64(day, "D"))


def _void_cycles(
    chunk: _Compact, target: npt.NDArray[np.int32], name: str, ent_ids: StrColumn
) -> None:
    """Raise RecordSet's error for voids that void each other in a ring, if there are any."""
    void = EVENT_TYPE_NAMES.index("void")
    is_void = chunk.type == void
    rows = np.flatnonzero(is_void)
    # Among the voids (numbered 0, 1, ... in row order): the void each one voids, or -1.
    to = target[rows].astype(np.int64)
    chained = to >= 0
    chained[chained] = is_void[to[chained]]
    nxt = np.full(len(rows), -1, dtype=np.int64)
    nxt[chained] = np.searchsorted(rows, to[chained])
    current = np.flatnonzero(nxt >= 0)
    for _ in range(64):
        if len(current) == 0:
            return
        current = nxt[current]
        current = current[current >= 0]
        current = current[nxt[current] >= 0]
    voids = rows.tolist()
    events = tuple(_event_object(chunk, row, ent_ids) for row in voids)
    locations = {f"event:{chunk.ids.get(row)}": (name, int(chunk.lines[row])) for row in voids}
    _check_void_cycles(events, locations)


def read_records(
    enterprises: str | os.PathLike[str],
    events: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
    block_size: int = BLOCK_BYTES,
    processes: bool = False,
) -> Records:
    """Read an enterprises file (JSON Lines or ``.csv``) and an events file into columns.

    Raises :class:`~riskgrade.errors.InputError` exactly as :func:`riskgrade.load_records`
    would for the same files: the same message, file, line, field, event and suggestion.
    The events are parsed by DuckDB on its own threads where it is installed (it starts while
    the enterprises are read); otherwise, or for the part of a file DuckDB leaves, by pyarrow on
    worker threads, or with ``processes`` in worker processes (``fork``, Linux; threads
    elsewhere).
    """
    return _read_records(
        ent_path=Path(enterprises),
        ev_path=Path(events),
        progress=progress,
        block_size=block_size,
        processes=processes,
    )


def _read_records(
    *, ent_path: Path, ev_path: Path, progress: Progress | None, block_size: int, processes: bool
) -> Records:
    reader = _EventReader(ev_path, progress, block_size, None)
    try:
        reader.start()  # DuckDB parses events while the enterprises are read
        ents = _EnterpriseReader(ent_path, progress, block_size).read()
        ent_name = os.fspath(ent_path)
        ent_index = _Index(ents.ids)
        _duplicates(ent_index, ents.lines, "enterprise", ent_name)
        reader.ent_index = ent_index
        chunk = reader.read(processes)
    finally:
        reader.close()
    ev_name = os.fspath(ev_path)
    event_index = _Index(chunk.ids)
    _duplicates(event_index, chunk.lines, "event", ev_name)
    target = np.full(len(chunk), -1, dtype=np.int32)
    target[chunk.of.present] = event_index.find(chunk.of.values)
    problem = _reference_problems(chunk, target)
    if len(problem):
        raise _reference_error(chunk, int(problem[0]), ents.ids, event_index, target, ev_name)
    del event_index  # its keys and order: half a gigabyte at twenty million events
    _void_cycles(chunk, target, ev_name, ents.ids)
    return _assemble(ents, chunk, target, ent_name, ev_name, tuple(reader.score_keys))


def _reference_problems(chunk: _Compact, target: npt.NDArray[np.int32]) -> I64:
    """Rows (in input order) whose references RecordSet refuses."""
    kind = chunk.type
    ent_rows = chunk.ent
    code = {name: EVENT_TYPE_NAMES.index(name) for name in EVENT_TYPE_NAMES}
    # Only the rows that refer to another event (a few) are looked at beyond their enterprise.
    rows = np.flatnonzero(chunk.of.present)
    to = target[rows].astype(np.int64)
    bad = to < 0
    linked = ~bad
    t = np.maximum(to, 0)
    fail = ENUMS["result"].index("fail")
    own, theirs = kind[rows], kind[t]
    recheck = linked & (own == code["recheck"])
    bad |= recheck & ~((theirs == code["spot_check"]) & (chunk.enums["result"][t] == fail))
    fix = linked & (own == code["rectification"])
    bad |= fix & ~((theirs == code["inspection"]) | (theirs == code["enforcement"]))
    bad |= linked & (ent_rows[t] != ent_rows[rows])
    bad |= linked & (chunk.date[rows] < chunk.date[t])
    return np.union1d(np.flatnonzero(ent_rows < 0), rows[bad])


def _assemble(
    ents: _Enterprises,
    chunk: _Compact,
    target: npt.NDArray[np.int32],
    ent_name: str,
    ev_name: str,
    score_keys: tuple[str, ...],
) -> Records:
    schemes = sorted(ents.schemes)
    order = np.array([schemes.index(name) for name in ents.schemes] + [-1], dtype=np.int16)
    scheme = order[ents.scheme]
    enterprises = EnterpriseColumns(
        ids=ents.ids,
        scheme=scheme,
        schemes=tuple(schemes),
        attributes=ents.attributes,
        file=ent_name,
        lines=ents.lines.astype(np.int32),
    )
    n = len(chunk)
    amount_exp = int(chunk.amount_exp[chunk.amount_present].max(initial=0))
    amount = chunk.amount
    if amount_exp:
        amount = amount * (10 ** (amount_exp - chunk.amount_exp.astype(np.int64)))
    score_exp = int(chunk.score_exp.max(initial=0))
    score_value = chunk.score_value
    if score_exp:
        score_value = score_value * (10 ** (score_exp - chunk.score_exp.astype(np.int64)))
    item_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(chunk.item_counts, out=item_offsets[1:])
    score_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(chunk.score_counts, out=score_offsets[1:])

    def dense(sparse: _Sparse) -> StrColumn:
        offsets = np.zeros(n + 1, dtype=np.int64)
        offsets[1:][sparse.present] = sparse.values.lengths()
        np.cumsum(offsets, out=offsets)
        return StrColumn(sparse.values.data, offsets)

    events = EventColumns(
        ids=chunk.ids,
        ent=chunk.ent,
        date=chunk.date,
        type=chunk.type,
        of=target.astype(np.int32, copy=False),
        result=chunk.enums["result"],
        level=chunk.enums["level"],
        outcome=chunk.enums["outcome"],
        penalty=chunk.enums["penalty"],
        deadline=chunk.deadline,
        verified=chunk.flags["verified"],
        counterfeit=chunk.flags["counterfeit"],
        intentional=chunk.flags["intentional"],
        substantiated=chunk.flags["substantiated"],
        amount=amount.astype(np.int64, copy=False),
        amount_present=chunk.amount_present,
        amount_exp=amount_exp,
        description_present=chunk.description.present,
        reason_present=chunk.reason.present,
        item_offsets=item_offsets,
        item_kind=chunk.item_kind,
        item_name=chunk.item_name,
        scores_present=chunk.scores_present,
        score_offsets=score_offsets,
        score_key=chunk.score_key,
        score_keys=score_keys,
        score_value=score_value.astype(np.int64, copy=False),
        score_exp=score_exp,
        description=dense(chunk.description),
        reason=dense(chunk.reason),
        file=ev_name,
        lines=chunk.lines,
    )
    return Records(enterprises, events)


def enterprise_at(records: Records, row: int) -> Enterprise:
    """Read enterprise ``row`` of records read by :func:`read_records` back from its file, as
    the record module parses it (for checks that need the record itself)."""
    enterprises = records.enterprises
    if enterprises.file is None or enterprises.lines is None:
        msg = "these enterprises were not read from a file"
        raise ValueError(msg)
    path = Path(enterprises.file)
    line = int(enterprises.lines[row])
    name = enterprises.file
    if path.suffix.lower() == ".csv":
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            start = reader.line_num + 1
            for cells in reader:
                if start == line:
                    record: dict[str, object] = {}
                    attributes: dict[str, object] = {}
                    for key, cell in zip(header, cells, strict=True):
                        if cell == "":
                            continue
                        if key.startswith("attributes."):
                            attributes[key.removeprefix("attributes.")] = (
                                cell.split("|") if "|" in cell else cell
                            )
                        else:
                            record[key] = cell
                    if attributes:
                        record["attributes"] = attributes
                    data = _as_object(record, file=name, line=line, is_event=False)
                    return _validate_enterprise(data, file=name, line=line)
                start = reader.line_num + 1
    else:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if number == line:
                    text = raw.decode("utf-8")
                    if number == 1:
                        text = text.removeprefix("\ufeff")
                    text = text.removesuffix("\n").removesuffix("\r")
                    return parse_enterprise_line(text, file=name, line=line)
    msg = f"line {line} is no longer in the file"
    raise InputError(msg, file=name, line=line)


# --------------------------------------------------------------------------------------------
# Ids seen so far, and duplicates


class _SeenIds:
    """Ids of the lines read so far, to report a duplicate before a later bad line: those of
    the blocks kept (``kept``, read only when an error is raised) and of the block at hand."""

    def __init__(
        self,
        kind: str,
        name: str,
        kept: Callable[[], Sequence[tuple[StrColumn, npt.NDArray[np.integer[Any]]]]],
    ) -> None:
        self.kind = kind
        self.name = name
        self.kept = kept
        self.parts: list[tuple[StrColumn, npt.NDArray[np.integer[Any]]]] = []
        self.pending: list[tuple[str, int]] = []

    def add(self, ids: StrColumn, lines: npt.NDArray[np.integer[Any]]) -> None:
        """Ids of the block at hand, checked so far."""
        self.parts.append((ids, lines))

    def note(self, value: str, line: int) -> None:
        self.pending.append((value, line))

    def done(self) -> None:
        """The block at hand is kept: its ids are among ``kept`` from now on."""
        self.parts.clear()
        self.pending.clear()

    def check_before(self, line: int) -> None:
        """Raise the duplicate-id error a line-by-line reader meets before ``line``."""
        parts = [*self.kept(), *self.parts]
        if self.pending:
            parts.append(
                (
                    StrColumn.from_strings(v for v, _ in self.pending),
                    np.array([n for _, n in self.pending], dtype=np.int64),
                )
            )
        if not parts:
            return
        ids = _concat_strings([p[0] for p in parts])
        lines = np.concatenate([p[1].astype(np.int64) for p in parts])
        keep = np.flatnonzero(lines < line)
        _raise_duplicates(ids.take(keep), lines[keep], self.kind, self.name)


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


def _string_keys(column: StrColumn) -> npt.NDArray[np.uint64]:
    """64-bit hashes of strings (equal strings, equal keys; callers confirm matches)."""
    lengths = column.lengths()
    keys = lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    width = int(lengths.max(initial=0))
    prime = np.uint64(0x100000001B3)
    for j in range(width):
        has = lengths > j
        index = np.where(has, column.offsets[:-1] + j, 0)
        byte = column.data[index].astype(np.uint64)
        keys = np.where(has, (keys ^ byte) * prime, keys)
    return keys


def _raise_duplicates(ids: StrColumn, lines: I64, kind: str, name: str) -> None:
    """Raise ``duplicate <kind> id`` at the earliest line repeating an earlier id, if any."""
    if len(ids) < 2:
        return
    keys = _string_keys(ids)
    order = np.lexsort((lines, keys))
    sorted_keys = keys[order]
    equal = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
    if len(equal) == 0:
        return
    first, second = order[equal], order[equal + 1]
    real = _same_pairs(ids, first, ids, second)
    if not bool(real.any()):
        return
    second = second[real]
    at = int(second[np.argmin(lines[second])])
    value = ids.get(at)
    group = np.flatnonzero(keys == keys[at])
    group = group[_same_pairs(ids, group, ids, np.full(len(group), at, dtype=np.int64))]
    first_line = int(lines[group].min())
    msg = f"duplicate {kind} id {value!r} (first on line {first_line})"
    raise InputError(
        msg, file=name, line=int(lines[at]), field="id", event=value if kind == "event" else None
    )
