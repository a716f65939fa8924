"""Events through DuckDB: its batches parsed into checked columns, and the lines' ends found.

:class:`_DuckStream` streams DuckDB's rows of an events file; :func:`_chunk_from_duck` turns a
batch into a :class:`~riskgrade._ingest_columns._Chunk` with the rows the checks cannot vouch
for; :func:`_line_ends` matches rows with the file's lines. The reader that uses them is
:class:`riskgrade.ingest._EventReader`; the comment below says why this path is exactly as
strict as the record module's parser.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from riskgrade._columns import ENUMS, EVENT_TYPE_NAMES, NO_DATE, StrColumn, gather_ranges
from riskgrade._ingest_columns import (
    _ALLOWED,
    _EVENT_BOOLS,
    _EVENT_STRINGS,
    _RESULTS,
    I64,
    U8,
    B,
    _Chunk,
    _day_numbers,
    _words,
)

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
