"""Reading record files straight into columns, as strictly as :mod:`riskgrade.records`.

:func:`read_records` reads the enterprises (JSON Lines, or CSV) and the events (JSON Lines)
into the arrays of :mod:`riskgrade._columns`, without a Python object per record. The events
are parsed by DuckDB's JSON reader where DuckDB is installed (on all cores, streamed in file
order; see :mod:`riskgrade._ingest_duck` for why that is exactly as strict), else, like the
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

Layout: this module keeps the readers (blocks of lines, the pyarrow path, the event and
enterprise readers) and the checks between records; the DuckDB path (its batches as checked
columns, the lines' ends) is :mod:`riskgrade._ingest_duck`, and the column helpers both share
(Arrow arrays and bytes to numpy, the events' ``_Chunk``) are :mod:`riskgrade._ingest_columns`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
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
    SparseTexts,
    StrColumn,
    attribute_codes,
    gather_ranges,
)
from riskgrade._ingest_columns import (
    _ALLOWED,
    _EVENT_BOOLS,
    _EVENT_STRINGS,
    _RESULTS,
    I64,
    B,
    _bools,
    _Chunk,
    _chunk_from_events,
    _codes,
    _concat_chunks,
    _concat_strings,
    _dates,
    _not_blank,
    _strings,
    _take_chunk,
    _words,
)
from riskgrade._ingest_duck import (
    _DUCK_AHEAD,
    _AbandonedError,
    _chunk_from_duck,
    _duckdb,
    _DuckStream,
    _escaped_rows,
    _line_ends,
)
from riskgrade.errors import InputError
from riskgrade.records import (
    Enterprise,
    Event,
    _as_object,
    _check_void_cycles,
    _validate_enterprise,
    parse_enterprise_line,
    parse_event_line,
    reference_problem,
)

__all__ = ["BLOCK_BYTES", "Progress", "read_records"]

BLOCK_BYTES: Final = 32 << 20
"""Bytes of lines read and parsed at a time (memory stays a few times this per block)."""

Progress = Callable[[str, int, int], None]
"""Called with (file name, bytes done, bytes in all) as reading advances."""

_BOM: Final = b"\xef\xbb\xbf"
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
# Events: one block as columns


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
# Events: the reader


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

    def texts(sparse: _Sparse) -> SparseTexts:
        return SparseTexts(np.flatnonzero(sparse.present), sparse.values)

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
        description=texts(chunk.description),
        reason=texts(chunk.reason),
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
