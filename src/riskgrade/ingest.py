"""Reading record files straight into columns, as strictly as :mod:`riskgrade.records`.

:func:`read_records` reads the enterprises (JSON Lines, or CSV) and the events (JSON Lines)
in blocks of lines into the arrays of :mod:`riskgrade._columns`, without a Python object per
record: each block is parsed by pyarrow's JSON reader (C++), then checked column by column
with numpy. Every line the vectorised checks cannot vouch for, and every block pyarrow will not
parse, goes through the record module's own parser (:func:`~riskgrade.records.parse_event_line`),
so a bad record gives exactly the error the per-record path gives, naming the same file, line
and field; and the checks between records (unique ids, known enterprises, references, void
cycles) report what :class:`~riskgrade.records.RecordSet` reports.

The fast path is conservative by design: lines holding a backslash (escapes) or ``null``, lines
that do not start with ``{`` and end with ``}``, numbers that are not plain integers, strings
whose first character might be whitespace, are all handed to the strict parser. Without pyarrow
installed the whole file goes that way (slow but the same result).

CSV enterprises: a header row naming ``id``, ``scheme``, ``name``, ``region``, ``grid``,
``industry``, ``uscc``, ``registered_on`` and ``attributes.<name>`` columns; an empty cell is a
missing value; an attribute cell holding ``|`` is a list (``dairy|meat``). Each row is checked as
the JSON record it stands for would be.
"""

from __future__ import annotations

import csv
import io
import os
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
    day_number,
)
from riskgrade.errors import InputError
from riskgrade.records import (
    Enterprise,
    Event,
    _as_object,
    _check_void_cycles,
    _validate_enterprise,
    event_to_mapping,
    parse_enterprise_line,
    parse_event_line,
    reference_problem,
)

__all__ = ["BLOCK_BYTES", "Progress", "read_records"]

B = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]
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
#: Fields each event type allows besides id, enterprise_id, date and type; required ones first.
_ALLOWED: Final[Mapping[str, tuple[frozenset[str], frozenset[str]]]] = {
    "spot_check": (frozenset({"result"}), frozenset({"result", "items", "level"})),
    "recheck": (frozenset({"of", "result"}), frozenset({"of", "result"})),
    "inspection": (frozenset({"outcome"}), frozenset({"outcome", "deadline", "scores"})),
    "rectification": (frozenset({"of"}), frozenset({"of", "verified"})),
    "enforcement": (
        frozenset({"penalty"}),
        frozenset({"penalty", "counterfeit", "intentional", "amount", "deadline"}),
    ),
    "complaint": (frozenset({"substantiated"}), frozenset({"substantiated"})),
    "incident": (frozenset(), frozenset({"description"})),
    "void": (frozenset({"of", "reason"}), frozenset({"of", "reason"})),
}
_RESULTS: Final = {"spot_check": ("pass", "fail"), "recheck": ("upheld", "overturned")}
_ENTERPRISE_STRINGS: Final = (
    "id",
    "scheme",
    "name",
    "region",
    "grid",
    "industry",
    "uscc",
    "registered_on",
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


def _blocks(path: Path, name: str, progress: Progress | None, size: int) -> Iterator[_Block]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        msg = f"cannot open: {exc.strerror or exc}"
        raise InputError(msg, file=name) from None
    total = os.fstat(handle.fileno()).st_size
    done = 0
    line = 1
    rest = b""
    with handle:
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


def _read_json_block(data: bytes, schema: Any) -> Any:
    """Parse one block of JSON Lines with pyarrow, as one chunk, against ``schema``.

    Unknown fields are inferred (not dropped) so that the strict checks after it can name them.
    """
    import pyarrow.json as pj

    return pj.read_json(
        io.BytesIO(data),
        read_options=pj.ReadOptions(use_threads=False, block_size=len(data) + 1),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"),
    )


def _shape(block: _Block) -> tuple[int, bool]:
    """Return the number of lines and whether every one is ``{...}`` with nothing around it."""
    data = block.data
    n = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if not data:
        return 0, False
    starts = data.count(b"\n{") + (1 if data[:1] == b"{" else 0)
    if data.endswith(b"\n"):
        ends = data.count(b"}\n")
    else:
        ends = data.count(b"}\n") + (1 if data.endswith(b"}") else 0)
    return n, starts == n and ends == n and b"\r" not in data


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


def _dates(column: StrColumn, valid: B) -> tuple[I64, B]:
    """Day numbers of ``YYYY-MM-DD`` strings, and where they are exactly that and real dates."""
    n = len(column)
    days = np.full(n, NO_DATE, dtype=np.int64)
    lengths = column.lengths()
    ok = valid & (lengths == 10)
    rows = np.flatnonzero(ok)
    if len(rows) == 0:
        return days, ok
    index = column.offsets[rows][:, None] + np.arange(10, dtype=np.int64)
    grid = column.data[index].astype(np.int64)
    digit = (grid >= 48) & (grid <= 57)
    shape = digit[:, [0, 1, 2, 3, 5, 6, 8, 9]].all(axis=1) & (grid[:, 4] == 45) & (grid[:, 7] == 45)
    values = grid - 48
    year = values[:, 0] * 1000 + values[:, 1] * 100 + values[:, 2] * 10 + values[:, 3]
    month = values[:, 5] * 10 + values[:, 6]
    day = values[:, 8] * 10 + values[:, 9]
    good = shape & (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
    month_start = ((np.where(good, year, 1970) - 1970) * 12 + np.where(good, month, 1) - 1).astype(
        "timedelta64[M]"
    ) + np.datetime64("1970-01", "M")
    length = (
        (month_start + np.timedelta64(1, "M")).astype("datetime64[D]")
        - month_start.astype("datetime64[D]")
    ).astype(np.int64)
    good &= day <= length
    days[rows[good]] = month_start[good].astype("datetime64[D]").astype(np.int64) + day[good] - 1
    ok[rows[~good]] = False
    return days, ok


# --------------------------------------------------------------------------------------------
# Events: one block as columns


@dataclass
class _Chunk:
    """Events of one block (or part of one) as columns, with their line numbers."""

    lines: I64
    ids: StrColumn
    enterprise: StrColumn
    of: StrColumn
    of_present: B
    type: npt.NDArray[np.int8]
    date: I64
    enums: dict[str, npt.NDArray[np.int8]]
    deadline: I64
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
        return _gather(starts[order], counts[order])

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


def _gather(starts: I64, counts: I64) -> I64:
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(total, dtype=np.int64)


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
        lines=chunk.lines.astype(np.int32),
        ids=chunk.ids,
        ent=ent.astype(np.int32),
        unknown_enterprise=_Sparse.of(chunk.enterprise, ent < 0),
        of=_Sparse.of(chunk.of, chunk.of_present),
        type=chunk.type,
        date=chunk.date.astype(np.int32),
        enums=chunk.enums,
        deadline=chunk.deadline.astype(np.int32),
        flags=chunk.flags,
        amount=chunk.amount,
        amount_exp=chunk.amount_exp,
        amount_present=chunk.amount_present,
        item_counts=chunk.item_counts.astype(np.int32),
        item_kind=chunk.item_kind,
        item_name=chunk.item_name,
        scores_present=chunk.scores_present,
        score_counts=chunk.score_counts.astype(np.int32),
        score_key=local[chunk.score_code],
        score_value=chunk.score_value,
        score_exp=chunk.score_exp,
        description=_Sparse.of(chunk.description, chunk.description_present),
        reason=_Sparse.of(chunk.reason, chunk.reason_present),
    )


def _concat_compact(parts: Sequence[_Compact]) -> _Compact:
    """Concatenate the blocks' columns, letting go of each block's field once copied (so that
    memory holds about one copy of the events, not two)."""

    def cat(name: str) -> Any:
        value = _cat(name)
        for part in parts:
            setattr(part, name, None)
        return value

    def _cat(name: str) -> Any:
        first = getattr(parts[0], name)
        if isinstance(first, StrColumn):
            return _concat_strings([getattr(p, name) for p in parts])
        if isinstance(first, _Sparse):
            return _Sparse(
                np.concatenate([getattr(p, name).present for p in parts]),
                _concat_strings([getattr(p, name).values for p in parts]),
            )
        if isinstance(first, dict):
            return {k: np.concatenate([getattr(p, name)[k] for p in parts]) for k in first}
        return np.concatenate([getattr(p, name) for p in parts])

    return _Compact(**{f: cat(f) for f in _Compact.__dataclass_fields__})


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


class _EventReader:
    """Reads an events file block by block into :class:`_Chunk` columns."""

    def __init__(
        self, path: Path, progress: Progress | None, block_size: int, ent_index: _Index
    ) -> None:
        self.path = path
        self.name = os.fspath(path)
        self.progress = progress
        self.block_size = block_size
        self.pa = _pyarrow()
        self.seen = _SeenIds("event", self.name)
        self.ent_index = ent_index
        self.score_keys: dict[str, int] = {}

    def read(self, processes: bool = False) -> _Compact:
        """Parse blocks on workers and check them here, in file order, so that errors come
        out as a line-by-line reader finds them.

        The workers are threads (pyarrow and numpy release the GIL, the checks between their
        calls hold it), or with ``processes`` forked processes, each reading its block from
        the file."""
        workers = max(1, min(4, os.cpu_count() or 1))
        chunks: list[_Compact] = []

        def keep(block: _Block, parsed: _Parsed | None) -> None:
            chunk = self._block(block, parsed)
            if len(chunk):
                chunks.append(_compact(chunk, self.ent_index, self.score_keys))

        context = _fork_context() if processes and self.pa is not None else None
        pool: Executor
        if context is not None:
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        else:
            pool = ThreadPoolExecutor(max_workers=workers)
        with pool:
            pending: deque[tuple[_Block, Future[_Parsed | None]]] = deque()
            for block in _blocks(self.path, self.name, self.progress, self.block_size):
                if context is not None:
                    future = pool.submit(
                        _parse_at, self.path, block.offset, len(block.data), block.first_line
                    )
                else:
                    future = pool.submit(_parse_block, block)
                pending.append((block, future))
                if len(pending) > workers:
                    first, future = pending.popleft()
                    keep(first, future.result())
            while pending:
                first, future = pending.popleft()
                keep(first, future.result())
        self.seen = _SeenIds("event", self.name)  # let go of the blocks' ids
        if self.pa is not None:
            self.pa.default_memory_pool().release_unused()
        if not chunks:
            empty = _chunk_from_events([], np.zeros(0, dtype=np.int64))
            return _compact(empty, self.ent_index, self.score_keys)
        return _concat_compact(chunks)

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
        self.seen.pending.clear()
        self.seen.add(chunk.ids, chunk.lines)
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
        chunk, bad = parsed.chunk, parsed.bad
        data = block.data
        if block.first_line == 1 and data.startswith(_BOM):
            data = data[len(_BOM) :]
        if not bool(bad.any()):
            self.seen.add(chunk.ids, chunk.lines)
            return chunk
        # The lines the checks could not vouch for, parsed strictly, in line order.
        texts = _line_texts(data)
        rows = np.flatnonzero(bad)
        good = np.flatnonzero(~bad)
        events: list[Event] = []
        numbers: list[int] = []
        for i in rows.tolist():
            number = block.first_line + i

            def context(i: int = i) -> None:
                before = good[good < i]
                self.seen.add(chunk.ids.take(before), chunk.lines[before])

            event = self._parse(texts[i], number, context)
            assert event is not None
            events.append(event)
            numbers.append(number)
        strict = _chunk_from_events(events, np.array(numbers, dtype=np.int64))
        merged = _concat_chunks([_take_chunk(chunk, good), strict])
        merged = _take_chunk(merged, np.argsort(merged.lines, kind="stable"))
        self.seen.pending.clear()
        self.seen.add(merged.ids, merged.lines)
        return merged


# --------------------------------------------------------------------------------------------
# Enterprises


@dataclass
class _Enterprises:
    lines: I64
    ids: StrColumn
    scheme: list[str | None]
    attributes: dict[str, AttributeColumn]


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
        self.seen = _SeenIds("enterprise", self.name)
        self.lines: list[I64] = []
        self.ids: list[StrColumn] = []
        self.scheme: list[str | None] = []
        self.values: dict[str, list[tuple[int, object]]] = {}
        self.count = 0

    def read(self) -> _Enterprises:
        if self.path.suffix.lower() == ".csv":
            self._csv()
        else:
            for block in _blocks(self.path, self.name, self.progress, self.block_size):
                self._block(block)
        attributes = {
            key: _attribute_column(self.count, entries) for key, entries in self.values.items()
        }
        ids = _concat_strings(self.ids)
        lines = np.concatenate(self.lines) if self.lines else np.zeros(0, dtype=np.int64)
        return _Enterprises(lines, ids, self.scheme, attributes)

    def _keep(self, enterprises: Sequence[Enterprise], lines: I64) -> None:
        base = self.count
        for i, enterprise in enumerate(enterprises):
            self.scheme.append(enterprise.scheme)
            for key, value in enterprise.attributes.items():
                self.values.setdefault(key, []).append((base + i, value))
        ids = StrColumn.from_strings(e.id for e in enterprises)
        self.ids.append(ids)
        self.lines.append(lines)
        self.seen.pending.clear()
        self.seen.add(ids, lines)
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

        try:
            table = _read_json_block(data, _enterprise_schema(pa))
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
        schemes = table.column("scheme").to_pylist()
        base = self.count
        self.scheme.extend(schemes)
        for key, entries in attributes.items():
            self.values.setdefault(key, []).extend((base + i, v) for i, v in entries)
        self.ids.append(ids)
        self.lines.append(lines)
        self.seen.add(ids, lines)
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


def _check_enterprises(table: Any, pa: Any) -> tuple[B, dict[str, list[tuple[int, object]]]]:
    """Rows the checks cannot vouch for, and the attribute values by name."""
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
    values: dict[str, list[tuple[int, object]]] = {}
    if "attributes" in names:
        attributes = table.column("attributes").combine_chunks()
        has = ~_isnull(attributes)
        if not pa.types.is_struct(attributes.type):
            bad |= has
            return bad, values
        for i in range(attributes.type.num_fields):
            key = attributes.type.field(i).name
            child = attributes.field(i)
            child_has = has & ~_isnull(child)
            rows = np.flatnonzero(child_has)
            if pa.types.is_string(child.type):
                texts = child.to_pylist()
                values[key] = [(r, texts[r]) for r in rows.tolist()]
            elif pa.types.is_list(child.type) and (
                pa.types.is_string(child.type.value_type) or pa.types.is_null(child.type.value_type)
            ):
                lists = child.to_pylist()
                entries: list[tuple[int, object]] = []
                for r in rows.tolist():
                    items = lists[r]
                    if any(item is None for item in items):
                        bad[r] = True
                    entries.append((r, tuple(str(x) for x in items)))
                values[key] = entries
            else:
                bad |= child_has
    return bad, values


def _attribute_column(n: int, entries: Sequence[tuple[int, object]]) -> AttributeColumn:
    vocab: dict[str, int] = {}
    kind = np.zeros(n, dtype=np.int8)
    counts = np.zeros(n, dtype=np.int64)
    rows_codes: list[tuple[int, list[int]]] = []
    for row, value in entries:
        if isinstance(value, str):
            kind[row] = 1
            items: tuple[str, ...] = (value,)
        elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            kind[row] = 2
            items = value
        else:
            kind[row] = 3
            items = ()
        counts[row] = len(items)
        rows_codes.append((row, [vocab.setdefault(item, len(vocab)) for item in items]))
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    codes = np.zeros(int(offsets[-1]), dtype=np.int32)
    for row, row_codes in rows_codes:
        codes[offsets[row] : offsets[row] + len(row_codes)] = row_codes
    return AttributeColumn(kind, offsets, codes, tuple(vocab))


# --------------------------------------------------------------------------------------------
# Between records: ids, references, void cycles


class _Index:
    """Rows of a string column by value."""

    def __init__(self, column: StrColumn) -> None:
        self.column = column
        self.keys, _, self.exact = _keys_for(column, column)
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
        keys, valid, _ = _keys_for(self.column, sub)
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


def _keys_for(reference: StrColumn, column: StrColumn) -> tuple[npt.NDArray[np.uint64], B, bool]:
    """Keys of ``column``'s strings comparable with ``reference``'s, and whether each can match.

    Exact (order-preserving) when ``reference`` has fixed-width strings differing in at most 8
    byte positions; otherwise a 64-bit hash."""
    n = len(reference)
    lengths = reference.lengths()
    if n and int(lengths[0]) > 0 and bool((lengths == lengths[0]).all()):
        width = int(lengths[0])
        grid = reference.data[: n * width].reshape(n, width)
        constant = [bool((grid[:, j] == grid[0, j]).all()) for j in range(width)]
        varying = [j for j in range(width) if not constant[j]]
        if len(varying) <= 8:
            m = len(column)
            own = column.lengths()
            valid = own == width
            rows = np.flatnonzero(valid)
            keys = np.zeros(m, dtype=np.uint64)
            if len(rows):
                other = column.data[
                    column.offsets[rows][:, None] + np.arange(width, dtype=np.int64)
                ]
                for j in range(width):
                    if constant[j]:
                        valid[rows[other[:, j] != grid[0, j]]] = False
                packed = np.zeros(len(rows), dtype=np.uint64)
                for j in varying:
                    packed = (packed << np.uint64(8)) | other[:, j].astype(np.uint64)
                keys[rows] = packed
            return keys, valid, True
    return _string_keys(column), np.ones(len(column), dtype=bool), False


def _same_pairs(a: StrColumn, ai: I64, b: StrColumn, bi: I64) -> B:
    out: B = (a.offsets[ai + 1] - a.offsets[ai]) == (b.offsets[bi + 1] - b.offsets[bi])
    for k in np.flatnonzero(out).tolist():
        sa, sb = int(a.offsets[ai[k]]), int(b.offsets[bi[k]])
        length = int(a.offsets[ai[k] + 1]) - sa
        out[k] = bool(np.array_equal(a.data[sa : sa + length], b.data[sb : sb + length]))
    return out


def _duplicates(index: _Index, lines: I64, kind: str, name: str) -> None:
    """Raise the duplicate-id error of a line-by-line reader, if two records share an id."""
    if len(index.sorted) < 2 or not bool((index.sorted[1:] == index.sorted[:-1]).any()):
        return
    _raise_duplicates(index.column, lines, kind, name)


def _reference_error(
    chunk: _Compact, row: int, ent_ids: StrColumn, event_index: _Index, target: I64, name: str
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


def _void_cycles(chunk: _Compact, target: I64, name: str, ent_ids: StrColumn) -> None:
    """Raise RecordSet's error for voids that void each other in a ring, if there are any."""
    void = EVENT_TYPE_NAMES.index("void")
    is_void = chunk.type == void
    nxt = np.where(is_void & (target >= 0), target, -1)
    nxt = np.where((nxt >= 0) & is_void[np.maximum(nxt, 0)], nxt, -1)
    current = np.flatnonzero(nxt >= 0)
    for _ in range(64):
        if len(current) == 0:
            return
        current = nxt[current]
        current = current[current >= 0]
        current = current[nxt[current] >= 0]
    voids = np.flatnonzero(is_void).tolist()
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
    The events are parsed on worker threads, or with ``processes`` in worker processes
    (``fork``, Linux; threads elsewhere): on two cores they measured no faster, the reading
    thread's own share (cutting blocks, resolving enterprises) being what bounds the rate.
    """
    ent_path, ev_path = Path(enterprises), Path(events)
    ents = _EnterpriseReader(ent_path, progress, block_size).read()
    ent_name = os.fspath(ent_path)
    ent_index = _Index(ents.ids)
    _duplicates(ent_index, ents.lines, "enterprise", ent_name)
    reader = _EventReader(ev_path, progress, block_size, ent_index)
    chunk = reader.read(processes)
    ev_name = os.fspath(ev_path)
    event_index = _Index(chunk.ids)
    _duplicates(event_index, chunk.lines.astype(np.int64), "event", ev_name)
    target = np.full(len(chunk), -1, dtype=np.int64)
    target[chunk.of.present] = event_index.find(chunk.of.values)
    problem = _reference_problems(chunk, target)
    if len(problem):
        raise _reference_error(chunk, int(problem[0]), ents.ids, event_index, target, ev_name)
    del event_index  # its keys and order: half a gigabyte at twenty million events
    _void_cycles(chunk, target, ev_name, ents.ids)
    return _assemble(ents, chunk, target, ent_name, ev_name, tuple(reader.score_keys))


def _reference_problems(chunk: _Compact, target: I64) -> I64:
    """Rows (in input order) whose references RecordSet refuses."""
    kind = chunk.type
    ent_rows = chunk.ent
    code = {name: EVENT_TYPE_NAMES.index(name) for name in EVENT_TYPE_NAMES}
    bad = ent_rows < 0
    refers = chunk.of.present
    bad |= refers & (target < 0)
    t = np.maximum(target, 0)
    ok_target = target >= 0
    fail = ENUMS["result"].index("fail")
    recheck = refers & ok_target & (kind == code["recheck"])
    bad |= recheck & ~((kind[t] == code["spot_check"]) & (chunk.enums["result"][t] == fail))
    fix = refers & ok_target & (kind == code["rectification"])
    bad |= fix & ~((kind[t] == code["inspection"]) | (kind[t] == code["enforcement"]))
    linked = refers & ok_target
    bad |= linked & (ent_rows[t] != ent_rows)
    bad |= linked & (chunk.date < chunk.date[t])
    return np.flatnonzero(bad)


def _assemble(
    ents: _Enterprises,
    chunk: _Compact,
    target: I64,
    ent_name: str,
    ev_name: str,
    score_keys: tuple[str, ...],
) -> Records:
    schemes = sorted({s for s in ents.scheme if s is not None})
    code = {name: i for i, name in enumerate(schemes)}
    scheme = np.array([-1 if s is None else code[s] for s in ents.scheme], dtype=np.int16)
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
        counts = np.zeros(n, dtype=np.int64)
        counts[sparse.present] = sparse.values.lengths()
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return StrColumn(sparse.values.data, offsets)

    events = EventColumns(
        ids=chunk.ids,
        ent=chunk.ent,
        date=chunk.date,
        type=chunk.type,
        of=target.astype(np.int32),
        result=chunk.enums["result"],
        level=chunk.enums["level"],
        outcome=chunk.enums["outcome"],
        penalty=chunk.enums["penalty"],
        deadline=chunk.deadline,
        verified=chunk.flags["verified"],
        counterfeit=chunk.flags["counterfeit"],
        intentional=chunk.flags["intentional"],
        substantiated=chunk.flags["substantiated"],
        amount=amount.astype(np.int64),
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
        score_value=score_value.astype(np.int64),
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
    """Ids of the lines read so far, to report a duplicate before a later bad line."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        self.parts: list[tuple[StrColumn, I64]] = []
        self.pending: list[tuple[str, int]] = []

    def add(self, ids: StrColumn, lines: npt.NDArray[np.integer[Any]]) -> None:
        self.parts.append((ids, lines.astype(np.int64)))

    def note(self, value: str, line: int) -> None:
        self.pending.append((value, line))

    def check_before(self, line: int) -> None:
        """Raise the duplicate-id error a line-by-line reader meets before ``line``."""
        parts = list(self.parts)
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
        lines = np.concatenate([p[1] for p in parts])
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
