"""The batch evaluator: a whole population graded at once with numpy, identical decisions.

:class:`BatchEvaluator` (engine ``numpy``) grades every enterprise of a scheme together: records
become columns, windows become intervals, a set's size at every re-grade point of every
enterprise is one sweep over sorted arrays, and the grading policy advances in lock-step across
enterprises. Its decisions are byte for byte those of the native
:class:`~riskgrade.evaluation.Evaluator`; a pack it cannot evaluate exactly is refused with
:class:`UnsupportedError` when the evaluator is made. ``explain`` and timelines use the native
evaluator (one enterprise is fast enough there).

:class:`AutoEvaluator` (engine ``auto``) grades with numpy from :data:`AUTO_THRESHOLD`
enterprises up, and natively below that or when the pack (or, rarely, the data: a number too
large for exact 64-bit arithmetic) is beyond the numpy engine.

See ``docs/batch.md`` for the design and the measured figures.
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, BinaryIO, Final, NoReturn, TextIO, TypeVar, cast

import numpy as np

from riskgrade._batch_eval import (
    EventIndex,
    NativeNeeded,
    SchemePlan,
    SchemeResult,
    Table,
    run_scheme,
)
from riskgrade._batch_out import JsonPieces, Plans, SchemeDecisions
from riskgrade._columns import (
    EnterpriseColumns,
    EventColumns,
    Records,
    StrColumn,
    columns_from_records,
    day_number,
    history,
)
from riskgrade._vexpr import UnsupportedError
from riskgrade.compiled import RulePack
from riskgrade.decisions import Decision, Lang
from riskgrade.errors import InputError
from riskgrade.evaluation import Evaluator

if TYPE_CHECKING:
    from riskgrade.records import Enterprise, RecordSet

__all__ = [
    "AUTO_THRESHOLD",
    "AutoEvaluator",
    "BatchEvaluator",
    "BatchGrades",
    "UnsupportedError",
    "check_enterprises",
    "grade_files",
    "tune_allocator",
]

AUTO_THRESHOLD: Final = 2_000
"""From this many enterprises up, engine ``auto`` grades with numpy.

Below it the native evaluator is as fast (the batch engine's fixed cost, a few tens of
milliseconds per scheme, dominates a small county) and decisions come one by one."""

PART_EVENTS: Final = 1 << 19
"""Events graded together at most: a scheme's enterprises are cut into parts of about this
many events (whole enterprises), graded on threads, and memory stays proportional to a part.

Small enough that a part's re-grade points stay in the processor's cache while the sweeps
search them: on the benchmark (one thread, 1M enterprises) parts of 2^19 events graded in
8.5 s, of 2^21 in 12 s, of 2^18 in 10 s (more parts, more fixed cost)."""

MAX_WORKERS: Final = 4
"""Threads grading parts at once, at most (fewer where the machine has fewer cores)."""

Progress = Callable[[int], None]
ReadProgress = Callable[[str, int, int], None]


class BatchEvaluator(Evaluator):
    """Grades whole populations at once with numpy; identical decisions to the native evaluator.

    Raises :class:`UnsupportedError` (an :class:`~riskgrade.errors.EngineUnavailableError`,
    exit code 2) when the pack uses something it cannot evaluate exactly: division, comparisons
    of free texts such as ids, or ``pick`` over a set whose filter reads ``overdue``.
    """

    name = "numpy"

    def __init__(
        self,
        pack: RulePack,
        *,
        workers: int | None = None,
        part_events: int | None = None,
    ) -> None:
        super().__init__(pack)
        #: Threads grading parts at once (numpy lets go of the GIL in its loops): the
        #: machine's cores, at most :data:`MAX_WORKERS`.
        self.workers = workers or min(MAX_WORKERS, os.cpu_count() or 1)
        #: Events a part holds at most (a part is never smaller than one enterprise):
        #: :data:`PART_EVENTS` unless given.
        self.part_events = part_events or PART_EVENTS
        self.plans = {name: SchemePlan(scheme) for name, scheme in pack.schemes.items()}
        self._dry_run()

    def _dry_run(self) -> None:
        """Evaluate every expression once over an empty population, to refuse a pack whose
        expressions use anything the engine cannot translate."""
        for name in self.plans:
            enterprises = EnterpriseColumns(
                ids=StrColumn.from_strings(["dry-run"]),
                scheme=np.zeros(1, dtype=np.int16),
                schemes=(name,),
                attributes={},
            )
            records = Records(enterprises, _no_events())
            try:
                self._results(records, dt.date(2000, 1, 1))
            except NativeNeeded:
                pass  # data the empty population does not have (a required attribute)
            except UnsupportedError as exc:
                msg = f"the numpy engine cannot evaluate scheme {name!r}: {exc.message}"
                raise UnsupportedError(msg, rule=exc.rule) from None

    # -- grading ----------------------------------------------------------------------------
    def evaluate(
        self,
        records: Records,
        as_of: dt.date,
        *,
        json_lang: Lang | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> BatchGrades:
        """Grade every enterprise of ``records`` as of ``as_of``; return the results as arrays.

        With ``json_lang`` each part's JSON pieces in that language are also built on the
        worker that graded it, right after grading, so that the interpreter-bound work of
        building them overlaps other parts' numpy work; :meth:`BatchGrades.json_blocks` in
        that language then only lays them out. ``progress`` gets (enterprises graded,
        enterprises in all) on the calling thread as parts are done.

        Enterprises must already have been checked against their schemes. Raises
        :class:`UnsupportedError` when the data is beyond the engine (numbers too large for
        exact 64-bit arithmetic).
        """
        try:
            parts = self._results(records, as_of, json_lang, progress)
        except NativeNeeded as exc:
            self._native_error(records, int(exc.ent_rows.min()), as_of)
        return BatchGrades(self, records, as_of, parts)

    def _results(
        self,
        records: Records,
        as_of: dt.date,
        json_lang: Lang | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Part]:
        """Grade every part (:meth:`_jobs`) on :attr:`workers` threads; the parts in the order
        of their first enterprise."""
        index = EventIndex.of(records.events, len(records.enterprises))  # shared by the parts
        grade = self._grader(records, index, as_of, json_lang)
        jobs = self._jobs(records, index)
        done = 0

        def finished(index: int) -> None:
            nonlocal done
            done += len(jobs[index][1])
            if progress is not None:
                progress(done, len(records.enterprises))

        outcomes = _map(grade, jobs, self.workers, finished)
        natives = [o.ent_rows for o in outcomes if isinstance(o, NativeNeeded)]
        if natives:
            raise NativeNeeded(np.concatenate(natives))
        return [o for o in outcomes if isinstance(o, Part)]

    def _jobs(self, records: Records, index: EventIndex) -> list[tuple[str, np.ndarray]]:
        """The parts to grade: each scheme's enterprises cut into runs of whole enterprises
        holding about :attr:`part_events` events (:func:`partition`), all schemes' parts in
        the order of their first enterprise, so that the output's first stretches are graded
        first."""
        counts = np.diff(index.start)
        jobs = [
            (name, part)
            for name, rows in self.groups(records.enterprises).items()
            for part in partition(rows, counts, self.part_events)
        ]
        jobs.sort(key=lambda job: int(job[1][0]))
        return jobs

    def _grader(
        self, records: Records, index: EventIndex, as_of: dt.date, json_lang: Lang | None
    ) -> Callable[[tuple[str, np.ndarray]], Part]:
        """Grades one part: the work each thread does, JSON pieces included with ``json_lang``."""
        day = day_number(as_of)
        plans = {
            name: Plans(self.pack.schemes[name], json_lang, as_of)
            for name in self.plans
            if json_lang is not None
        }

        def grade(job: tuple[str, np.ndarray]) -> Part:
            name, rows = job
            table = Table.build(records.events, records.enterprises, rows, index)
            result = run_scheme(self.plans[name], table, day)
            json = None
            if json_lang is not None:
                decisions = SchemeDecisions(result, self.pack.ref, as_of)
                pieces = decisions.json_pieces(
                    records.enterprises.ids, rows, json_lang, plans[name]
                )
                json = (json_lang, pieces)
            return Part(name, rows, result, json)

        return grade

    def json_stream(
        self,
        records: Records,
        as_of: dt.date,
        lang: Lang = "en",
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Iterator[bytes]:
        """Grade every enterprise of ``records`` as of ``as_of`` and yield the decisions as
        JSON Lines (the bytes of ``to_json()`` plus ``"\\n"`` each), in input order, as they
        are graded: a block each time the enterprises graded reach further into the input.

        The parts (:meth:`_jobs`) are graded in the order of their first enterprise, a few at
        once, and a block is written while the next parts are graded; memory holds a few
        parts' decisions, not the population's. ``progress`` gets (enterprises graded,
        enterprises in all) as parts are done.

        Enterprises must already have been checked against their schemes; one without a
        scheme of the pack raises :class:`InputError` before anything is yielded. Where an
        enterprise meets a case only the native evaluator reports, its error is raised (the
        first such enterprise in input order) once the parts holding earlier enterprises are
        graded: the blocks before it have been yielded, so write to a file you can discard
        (``riskgrade grade`` does).
        """
        for block, _ in self._json_stream(records, as_of, lang, progress):
            yield block

    def _json_stream(
        self,
        records: Records,
        as_of: dt.date,
        lang: Lang,
        progress: Callable[[int, int], None] | None,
    ) -> Iterator[tuple[bytes, int]]:
        """:meth:`json_stream`'s blocks, each with its number of lines."""
        n = len(records.enterprises)
        _require_schemes(self.pack, records.enterprises, self.groups(records.enterprises).values())
        index = EventIndex.of(records.events, n)  # shared by the parts
        jobs = self._jobs(records, index)
        firsts = [int(rows[0]) for _, rows in jobs] + [n]
        grade = self._grader(records, index, as_of, lang)
        ahead = 2 * max(1, self.workers) + len(self.pack.schemes)  # parts in flight at most

        def attempt(job: tuple[str, np.ndarray]) -> Part | NativeNeeded:
            try:
                return grade(job)
            except NativeNeeded as exc:
                return exc

        pool = ThreadPoolExecutor(max_workers=max(1, self.workers))
        futures: deque[Future[Part | NativeNeeded]] = deque()
        submitted = 0

        def next_outcome() -> Part | NativeNeeded:
            nonlocal submitted
            while submitted < len(jobs) and len(futures) < ahead:
                futures.append(pool.submit(attempt, jobs[submitted]))
                submitted += 1
            return futures.popleft().result()

        try:
            graded: list[_Graded] = []  # parts graded and not yet all written
            written = done = 0
            for i in range(len(jobs)):
                outcome = next_outcome()
                if isinstance(outcome, NativeNeeded):
                    # The first failing enterprise in input order may be in a later part
                    # whose first enterprise comes before this one's failing one.
                    first = int(outcome.ent_rows.min())
                    for j in range(i + 1, len(jobs)):
                        if firsts[j] > first:
                            break
                        later = next_outcome()
                        if isinstance(later, NativeNeeded):
                            first = min(first, int(later.ent_rows.min()))
                    self._native_error(records, first, as_of)
                assert outcome.json is not None
                graded.append(_Graded(outcome.rows, outcome.json[1]))
                outcome.json = None
                done += len(outcome.rows)
                if progress is not None:
                    progress(done, n)
                del outcome
                # Every enterprise before the next part's first one is graded.
                if firsts[i + 1] > written:
                    pieces_pool, _, pieces = _lay_out(graded, written, firsts[i + 1])
                    lines, written = firsts[i + 1] - written, firsts[i + 1]
                    graded = [part for part in graded if part.rows[-1] >= written]
                    yield b"".join(pieces_pool[pieces].tolist()), lines
                    del pieces_pool, pieces
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def check(
        self,
        enterprises: EnterpriseColumns,
        enterprise_at: Callable[[int], Enterprise],
        *,
        locate: bool = False,
    ) -> None:
        """Check every enterprise against its scheme (:func:`check_enterprises`)."""
        check_enterprises(self.pack, enterprises, enterprise_at, locate=locate)

    def groups(self, enterprises: EnterpriseColumns) -> dict[str, np.ndarray]:
        """The enterprise rows of each scheme (ascending)."""
        schemes = list(self.pack.schemes)
        codes = enterprises.scheme.astype(np.int64)
        out: dict[str, np.ndarray] = {}
        for name in schemes:
            wanted = [i for i, s in enumerate(enterprises.schemes) if s == name]
            mask = np.isin(codes, wanted)
            if len(schemes) == 1:
                mask |= codes < 0
            out[name] = np.flatnonzero(mask)
        return out

    def _native_error(self, records: Records, row: int, as_of: dt.date) -> NoReturn:
        enterprise, events = history(records, row)
        self.replay(enterprise, events, as_of)  # raises the native evaluator's error
        msg = f"the numpy engine could not grade enterprise {enterprise.id!r}"
        raise UnsupportedError(msg)

    def grade_records(
        self,
        records: RecordSet,
        as_of: dt.date,
        lang: Lang = "en",
        progress: Progress | None = None,
    ) -> Iterator[Decision]:
        """Yield one decision per enterprise, in input order (what ``Grader.iter_grade`` calls).

        Checks every enterprise against its scheme first, raising the error the native path
        would raise for the first that fails.
        """
        columns = columns_from_records(records)
        self.check(columns.enterprises, records.enterprises.__getitem__)
        grades = self.evaluate(columns, as_of)
        explain = _RecordSetExplainer(self.pack, records, as_of, lang)
        yield from grades.decisions(lang, progress, explain)


@dataclass(eq=False)
class Part:
    """Some enterprises of one scheme, graded together: the scheme, their rows (ascending)
    and the result; with the JSON pieces built beside it (``evaluate(json_lang=...)``), in
    that language, until they are laid out."""

    scheme: str
    rows: np.ndarray
    result: SchemeResult
    json: tuple[Lang, JsonPieces] | None = None


def partition(rows: np.ndarray, events: np.ndarray, part_events: int) -> list[np.ndarray]:
    """Cut ``rows`` (ascending) into runs of whole enterprises holding at most ``part_events``
    events each (an enterprise with more is a part of its own); no part for no rows.
    ``events`` is the number of events of every enterprise row."""
    if len(rows) == 0:
        return []
    total = np.cumsum(events[rows])
    cuts: list[int] = []
    low = 0
    while low < len(rows):
        base = int(total[low - 1]) if low else 0
        high = int(np.searchsorted(total, base + part_events, side="right"))
        high = max(high, low + 1)
        cuts.append(high)
        low = high
    return np.split(rows, cuts[:-1])


_T = TypeVar("_T")
_R = TypeVar("_R")


def _map(
    work: Callable[[_T], _R],
    jobs: Sequence[_T],
    workers: int,
    finished: Callable[[int], None] | None = None,
) -> list[_R | NativeNeeded]:
    """``work`` over ``jobs`` on up to ``workers`` threads; the results in the jobs' order. A
    job that needs the native evaluator gives its :class:`NativeNeeded` in place of a result.
    ``finished`` gets each job's index as it is done, on the calling thread."""

    def attempt(job: _T) -> _R | NativeNeeded:
        try:
            return work(job)
        except NativeNeeded as exc:
            return exc

    results: list[_R | NativeNeeded] = []
    if workers <= 1 or len(jobs) <= 1:
        for index, job in enumerate(jobs):
            results.append(attempt(job))
            if finished is not None:
                finished(index)
        return results
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(attempt, job): index for index, job in enumerate(jobs)}
        for future in as_completed(futures):
            if finished is not None:
                finished(futures[future])
        return [future.result() for future in futures]


def _require_schemes(
    pack: RulePack, enterprises: EnterpriseColumns, graded: Iterable[np.ndarray]
) -> None:
    """Raise :class:`InputError` for the first enterprise in none of the ``graded`` rows."""
    owner = np.zeros(len(enterprises), dtype=bool)
    for rows in graded:
        owner[rows] = True
    if not bool(owner.all()):
        missing = int(np.flatnonzero(~owner)[0])
        enterprise_id = enterprises.ids.get(missing)
        msg = f"enterprise {enterprise_id!r} has no scheme in pack {pack.ref.id!r}"
        raise InputError(msg, field="scheme")


class _Graded:
    """A part's JSON pieces, as laid out: its rows, each row's pieces, and their pool."""

    def __init__(self, rows: np.ndarray, built: JsonPieces) -> None:
        self.rows = rows
        self.counts = built.counts
        self.start = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(built.counts, out=self.start[1:])
        self.pieces = built.pieces
        self.pool = np.empty(len(built.pool), dtype=object)
        self.pool[:] = built.pool
        built.pool.clear()

    def within(self, low: int, high: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows from ``low`` to ``high``: which (a slice of :attr:`rows`), their piece
        counts and their pieces."""
        first, last = np.searchsorted(self.rows, (low, high)).tolist()
        start, end = int(self.start[first]), int(self.start[last])
        return self.rows[first:last], self.counts[first:last], self.pieces[start:end]


def _lay_out(
    graded: Sequence[_Graded], low: int, high: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The JSON pieces of rows ``low`` to ``high`` (each in one of the ``graded`` parts) in
    row order: the pool (an object array of bytes), each line's first piece (``high - low +
    1`` offsets) and the pieces."""
    taken = [(part, *part.within(low, high)) for part in graded]
    taken = [one for one in taken if len(one[1])]
    counts = np.zeros(high - low, dtype=np.int64)
    for _, rows, part_counts, _ in taken:
        counts[rows - low] = part_counts
    start = np.zeros(high - low + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    if len(taken) == 1 and len(taken[0][1]) == high - low:
        part, _, _, pieces = taken[0]  # one part holds every row: its pieces are in order
        return part.pool, start, pieces
    # numpy gathers fastest through intp; a whole population's layout keeps int32 (half the
    # memory) where its pool allows.
    size = sum(len(part.pool) for part, *_ in taken)
    small = int(start[-1]) < 1 << 24 or size >= 1 << 31
    order = np.empty(int(start[-1]), dtype=np.intp if small else np.int32)
    base = 0
    for part, rows, part_counts, pieces in taken:
        local = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(part_counts, out=local[1:])
        where = np.repeat(start[rows - low] - local[:-1], part_counts)
        where += np.arange(len(pieces), dtype=np.int64)
        order[where] = pieces + base
        base += len(part.pool)
    pool = np.concatenate([part.pool for part, *_ in taken]) if taken else np.empty(0, object)
    return pool, start, order


def check_enterprises(
    pack: RulePack,
    enterprises: EnterpriseColumns,
    enterprise_at: Callable[[int], Enterprise],
    *,
    locate: bool = False,
) -> None:
    """Check every enterprise against its scheme; raise the native check's error for the
    first that fails (with its file and line when ``locate``, as ``riskgrade grade`` does).

    The columns find the enterprises that may fail; ``enterprise_at`` gives the record of
    one of them, which :meth:`~riskgrade.compiled.Scheme.check_enterprise` then judges.
    """
    for row in _suspects(pack, enterprises).tolist():
        enterprise = enterprise_at(row)
        try:
            pack.scheme_for(enterprise).check_enterprise(enterprise)
        except InputError as exc:
            if not locate:
                raise
            file = enterprises.file
            line = None if enterprises.lines is None else int(enterprises.lines[row])
            raise InputError(
                exc.message, file=file, line=line, field=exc.field, suggestion=exc.suggestion
            ) from None


def _suspects(pack: RulePack, enterprises: EnterpriseColumns) -> np.ndarray:
    """Rows (ascending) of enterprises that may fail their scheme's check; the others pass."""
    n = len(enterprises)
    suspect = np.zeros(n, dtype=bool)
    codes = enterprises.scheme.astype(np.int64)
    names = list(pack.schemes)
    scheme_of = np.full(n, -1, dtype=np.int64)
    for i, name in enumerate(enterprises.schemes):
        if name in pack.schemes:
            scheme_of[codes == i] = names.index(name)
    if len(names) == 1:
        scheme_of[codes < 0] = 0
    suspect |= scheme_of < 0
    for index, name in enumerate(names):
        spec = pack.schemes[name]
        mine = scheme_of == index
        for key, column in enterprises.attributes.items():
            given = mine & (column.kind != 0)
            attribute = spec.attributes.get(key)
            if attribute is None:
                suspect |= given
                continue
            suspect |= given & (column.kind == 3)
            counts = np.diff(column.offsets)
            if not attribute.multiple:
                suspect |= given & (column.kind == 2) & (counts != 1)
            if attribute.required:
                suspect |= given & (counts == 0)
            if attribute.other_values == "error":
                allowed = np.array(
                    [v in attribute.values for v in column.vocab] + [True], dtype=bool
                )
                unknown = ~allowed[np.where(column.codes >= 0, column.codes, len(column.vocab))]
                owners = np.repeat(np.arange(n, dtype=np.int64), counts)
                suspect[owners[unknown & mine[owners]]] = True
        for key, attribute in spec.attributes.items():
            if attribute.required:
                found = enterprises.attributes.get(key)
                suspect |= mine & (True if found is None else found.kind == 0)
    return np.flatnonzero(suspect)


def _no_events() -> EventColumns:
    empty8 = np.zeros(0, dtype=np.int8)
    empty32 = np.zeros(0, dtype=np.int32)
    empty64 = np.zeros(0, dtype=np.int64)
    none = np.zeros(0, dtype=bool)
    return EventColumns(
        ids=StrColumn.from_strings([]),
        ent=empty32,
        date=empty32,
        type=empty8,
        of=empty32,
        result=empty8,
        level=empty8,
        outcome=empty8,
        penalty=empty8,
        deadline=empty32,
        verified=none,
        counterfeit=none,
        intentional=none,
        substantiated=none,
        amount=empty64,
        amount_present=none,
        amount_exp=0,
        description_present=none,
        reason_present=none,
        item_offsets=np.zeros(1, dtype=np.int64),
        item_kind=empty8,
        item_name=StrColumn.from_strings([]),
        scores_present=none,
        score_offsets=np.zeros(1, dtype=np.int64),
        score_key=empty32,
        score_keys=(),
        score_value=empty64,
        score_exp=0,
    )


@dataclass
class _RecordSetExplainer:
    """Explains decision ``index`` as ``Grader.decide`` does: a native explanation made in
    the grading language, rendered in the one asked for."""

    pack: RulePack
    records: RecordSet
    as_of: dt.date
    lang: Lang

    def __call__(self, index: int, lang: Lang) -> str:
        from riskgrade.grading import Grader

        enterprise = self.records.enterprises[index]
        grader = Grader(self.pack, engine="python", lang=self.lang)
        events = self.records.events_of(enterprise.id)
        return grader.explain(enterprise, events, self.as_of).render(lang)


@dataclass
class _ColumnsExplainer:
    """As :class:`_RecordSetExplainer`, rebuilding the enterprise's records from columns."""

    pack: RulePack
    records: Records
    as_of: dt.date
    lang: Lang

    def __call__(self, index: int, lang: Lang) -> str:
        from riskgrade.grading import Grader

        enterprise, events = history(self.records, index)
        grader = Grader(self.pack, engine="python", lang=self.lang)
        return grader.explain(enterprise, events, self.as_of).render(lang)


class BatchGrades:
    """The batch engine's results for a population: decisions on demand, levels as arrays."""

    def __init__(
        self,
        evaluator: BatchEvaluator,
        records: Records,
        as_of: dt.date,
        parts: Sequence[Part],
    ) -> None:
        self.evaluator = evaluator
        self.records = records
        self.as_of = as_of
        #: The enterprises graded together, each with its result.
        self.parts = tuple(parts)

    def __len__(self) -> int:
        return len(self.records.enterprises)

    def levels(self) -> tuple[np.ndarray, list[tuple[str, ...]]]:
        """Each enterprise's level as ``(scheme index, level index)``: an ``(n, 2)`` array with
        -1 for "no level", and the level names of each scheme in pack order."""
        names = list(self.evaluator.pack.schemes)
        out = np.full((len(self), 2), -1, dtype=np.int64)
        for part in self.parts:
            out[part.rows, 0] = names.index(part.scheme)
            out[part.rows, 1] = part.result.outcome.level
        return out, [self.evaluator.pack.schemes[n].levels for n in names]

    def decisions(
        self,
        lang: Lang = "en",
        progress: Progress | None = None,
        explain: Callable[[int, Lang], str] | None = None,
    ) -> Iterator[Decision]:
        """Yield the decisions in input order; each explains itself as a native one does."""
        explain = explain or _ColumnsExplainer(self.evaluator.pack, self.records, self.as_of, lang)
        yield from self._merge(lang, progress, explain)

    def lines(self, lang: Lang = "en", progress: Progress | None = None) -> Iterator[str]:
        """Yield each decision's ``to_json()`` text in input order, without building objects."""
        for block in self.json_blocks(lang, progress):
            yield from block.decode("utf-8").splitlines()

    def json_blocks(
        self, lang: Lang = "en", progress: Progress | None = None, *, lines: int = 1 << 15
    ) -> Iterator[bytes]:
        """Yield the decisions as JSON Lines (UTF-8, each line ending in a newline), in input
        order, ``lines`` decisions a block: the bytes of ``to_json()`` plus ``"\\n"``.

        The pieces of every line are laid out with numpy first (:meth:`SchemeDecisions.
        json_pieces`); a block is then one ``bytes.join``. ``progress`` gets the number of
        decisions done after each block.
        """
        pool, start, pieces = self._json_layout(lang)
        n = len(self)
        for low in range(0, n, lines):
            high = min(n, low + lines)
            yield b"".join(pool[pieces[start[low] : start[high]]].tolist())
            if progress is not None:
                progress(high)

    def write_json(self, out: BinaryIO, lang: Lang = "en", progress: Progress | None = None) -> int:
        """Write the decisions as JSON Lines to a binary file; return how many."""
        for block in self.json_blocks(lang, progress):
            out.write(block)
        return len(self)

    def _json_layout(self, lang: Lang) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every scheme's pieces merged into input order: the pool (an object array of
        bytes), each line's first piece (``n + 1`` offsets) and the pieces."""
        pack = self.evaluator.pack
        n = len(self)
        ids = self.records.enterprises.ids
        plans = {name: Plans(scheme, lang, self.as_of) for name, scheme in pack.schemes.items()}

        def build(part: Part) -> JsonPieces:
            ready, part.json = part.json, None  # laid out once: the pieces are let go of below
            if ready is not None and ready[0] == lang:
                return ready[1]
            decisions = SchemeDecisions(part.result, pack.ref, self.as_of)
            return decisions.json_pieces(ids, part.rows, lang, plans[part.scheme])

        built_parts = _map(build, self.parts, self.evaluator.workers)
        _require_schemes(pack, self.records.enterprises, (p.rows for p in self.parts))
        graded = []
        for part, pieces in zip(self.parts, built_parts, strict=True):
            assert not isinstance(pieces, NativeNeeded)
            graded.append(_Graded(part.rows, pieces))
        del built_parts
        return _lay_out(graded, 0, n)

    def _merge(
        self,
        lang: Lang,
        progress: Progress | None,
        explain: Callable[[int, Lang], str],
    ) -> Iterator[Decision]:
        pack = self.evaluator.pack
        n = len(self)
        streams: list[Iterator[Decision]] = []
        owner = np.full(n, -1, dtype=np.int64)
        ids = self.records.enterprises.ids
        for part in self.parts:
            rows = part.rows
            owner[rows] = len(streams)
            builder = SchemeDecisions(part.result, pack.ref, self.as_of)
            streams.append(
                builder.render(ids.to_list(rows), lang, explainer=explain, rows=rows.tolist())
            )
        if bool((owner < 0).any()):
            missing = int(np.flatnonzero(owner < 0)[0])
            enterprise_id = ids.get(missing)
            msg = f"enterprise {enterprise_id!r} has no scheme in pack {pack.ref.id!r}"
            raise InputError(msg, field="scheme")
        for count, stream in enumerate(owner.tolist(), start=1):
            yield next(streams[stream])
            if progress is not None:
                progress(count)


class AutoEvaluator(Evaluator):
    """Chooses per population: numpy from :data:`AUTO_THRESHOLD` enterprises, else native."""

    name = "auto"

    def __init__(self, pack: RulePack) -> None:
        super().__init__(pack)
        self.batch: BatchEvaluator | None
        self.refused: str | None = None
        try:
            self.batch = BatchEvaluator(pack)
        except UnsupportedError as exc:
            self.batch = None
            self.refused = exc.message

    def grade_records(
        self,
        records: RecordSet,
        as_of: dt.date,
        lang: Lang = "en",
        progress: Progress | None = None,
    ) -> Iterator[Decision]:
        """Yield decisions in input order, from the engine this population calls for."""
        if self.batch is not None and len(records.enterprises) >= AUTO_THRESHOLD:
            try:
                decisions = self.batch.grade_records(records, as_of, lang, progress)
                first = next(decisions, None)
            except UnsupportedError:
                pass
            else:
                if first is not None:
                    yield first
                    yield from decisions
                return
        from riskgrade.grading import Grader

        yield from Grader(self.pack, engine="python", lang=lang).iter_grade(
            records, as_of, progress=progress
        )


def grade_files(
    pack: RulePack,
    enterprises: str | os.PathLike[str],
    events: str | os.PathLike[str],
    as_of: dt.date,
    out: TextIO | BinaryIO,
    *,
    lang: Lang = "en",
    progress: Callable[[int, int], None] | None = None,
    read_progress: ReadProgress | None = None,
    grade_progress: Callable[[int, int], None] | None = None,
    engine: str = "numpy",
) -> int | None:
    """Grade the records in two files with the numpy engine and write the decisions to ``out``
    as JSON Lines (text or binary), in input order; return how many were written.

    The files are read straight into columns (:func:`riskgrade.ingest.read_records`), never
    as one object per record, and every enterprise is checked against its scheme; errors are
    those of ``riskgrade grade`` with the native engine, in the same order (the records' own
    errors, then the schemes' checks, then a pack the engine refuses: :class:`UnsupportedError`).

    Decisions are written as they are graded (:meth:`BatchEvaluator.json_stream`): where an
    enterprise meets a case only the native evaluator reports, its error is raised after the
    decisions before it were written, so write to a file you can discard, as ``riskgrade
    grade`` does (:func:`riskgrade.cli.atomic_output`).

    With ``engine="auto"`` nothing is written and ``None`` is returned where the native
    evaluator should grade instead: a pack the numpy engine refuses, fewer than
    :data:`AUTO_THRESHOLD` enterprises, or data beyond exact 64-bit arithmetic found before
    the first decisions are written.
    ``progress`` gets (decisions written, decisions in all), ``read_progress`` (file, bytes
    done, bytes in all) follows the reading and ``grade_progress`` (enterprises graded,
    enterprises in all) the grading.
    """
    from riskgrade.ingest import enterprise_at, read_records

    auto = engine == "auto"
    evaluator: BatchEvaluator | None = None
    if auto:
        try:
            evaluator = BatchEvaluator(pack)
        except UnsupportedError:
            return None
    try:
        records = read_records(enterprises, events, progress=read_progress)
    except OverflowError as exc:
        if auto:
            return None
        raise UnsupportedError(f"the numpy engine cannot hold the data exactly: {exc}") from None
    if auto and len(records.enterprises) < AUTO_THRESHOLD:
        return None
    check_enterprises(pack, records.enterprises, partial(enterprise_at, records), locate=True)
    if evaluator is None:
        evaluator = BatchEvaluator(pack)
    total = len(records.enterprises)
    blocks = evaluator._json_stream(records, as_of, lang, grade_progress)
    try:
        first = next(blocks, None)
    except UnsupportedError:
        if auto:
            return None
        raise
    write = _byte_writer(out)
    written = 0
    for block, lines in itertools.chain([] if first is None else [first], blocks):
        write(block)
        written += lines
        if progress is not None:
            progress(written, total)
    return total


def _byte_writer(out: TextIO | BinaryIO) -> Callable[[bytes], object]:
    """Write UTF-8 bytes to ``out``: as they are to a binary file, and to a UTF-8 text file's
    own buffer where lines need no translation (what the text layer would write: it is
    flushed first), so that the output is not decoded and encoded again; else as text."""
    if isinstance(out, io.BufferedIOBase | io.RawIOBase) or "b" in getattr(out, "mode", ""):
        return cast("BinaryIO", out).write
    buffer = getattr(out, "buffer", None)
    encoding = getattr(out, "encoding", None)
    utf8 = isinstance(encoding, str) and codecs.lookup(encoding).name == "utf-8"
    if buffer is not None and utf8 and os.linesep == "\n":
        out.flush()
        return cast("BinaryIO", buffer).write
    text = cast("TextIO", out)
    return lambda block: text.write(block.decode("utf-8"))


def tune_allocator() -> None:
    """Keep freed memory in the process heap (glibc ``mallopt``) and numpy's arrays on plain
    pages, for large batch runs.

    numpy's big temporaries otherwise come from fresh ``mmap`` pages each time, and faulting
    those in costs more than the arithmetic on them (about 2x overall on the benchmark). This
    is a process-wide setting: ``riskgrade grade --engine numpy|auto`` and the benchmark call
    it at their start, importing riskgrade never does; a library user may.
    Does nothing where glibc is not the allocator.
    """
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: blocks up to 1 GiB from the heap
        libc.mallopt(-1, (1 << 31) - 1)  # M_TRIM_THRESHOLD: do not hand the heap back
        # M_ARENA_MAX: the grading threads take memory from the one heap the reading let go
        # of, instead of each faulting in an arena of its own (2-3 s at a million enterprises
        # on the benchmark; the threads allocate a few large arrays, so the lock costs nothing).
        libc.mallopt(-8, 1)
    # numpy asks the kernel for huge pages for its big arrays; their first touch measured
    # three to four times slower than plain pages on the virtual machines this runs on.
    core = getattr(np, "_core", None) or getattr(np, "core", None)  # numpy 2, numpy 1
    setter = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    if setter is not None:
        setter(False)
