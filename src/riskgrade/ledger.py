"""The ledger: re-grade the moment a record arrives, durably, with a verifiable audit trail.

A :class:`Ledger` is an embedded SQLite database (a file, or ``":memory:"``) holding the rule
pack versions, the enterprises, the records in arrival order and every decision ever made.
Nothing in it is updated or deleted (triggers refuse it): a decision that a late record or a
correction overturns stays, and a *supersession* row appended after it says so. Each row is
hash-chained to the one before it, and :meth:`Ledger.verify` recomputes the chains and re-grades
every current decision from the stored records under its stored pack.

:meth:`Ledger.record` validates a record as strictly as :class:`~riskgrade.records.RecordSet`
does, stores it and its decisions in one ``BEGIN IMMEDIATE`` transaction (WAL,
``synchronous=FULL`` by default, so a committed record survives a crash or power cut), and
returns the enterprise's new decision. A record dated after everything the enterprise has
resumes the policy fold from the stored state; a late record or a correction replays from the
right point and supersedes what it changes. Either way, every current decision equals
``Grader(pack in force at its date).decide(enterprise, records, date)``.

Several processes may write to one ledger file at once: SQLite serialises the transactions and
each waits up to ``timeout`` seconds for its turn.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from riskgrade._ledger_codec import (
    canonical_record,
    content_hash,
    decode_state,
    encode_state,
    inputs_digest,
)
from riskgrade._ledger_regrade import Base, PackSchedule, Point, rebase, regrade
from riskgrade._ledger_store import (
    APPLICATION_ID,
    SCHEMA,
    SCHEMA_VERSION,
    append_row,
    enterprise_chain_head,
    global_chain_head,
    next_seq,
)
from riskgrade.compiled import RulePack, load_pack, load_pack_files
from riskgrade.decisions import Decision, Lang, decision_from_step
from riskgrade.errors import InputError, PackError, StorageError
from riskgrade.packs import PackFiles, PackRef
from riskgrade.records import (
    Enterprise,
    Event,
    closest_match,
    parse_enterprise_line,
    parse_event_line,
    reference_problem,
)

__all__ = [
    "DueInspection",
    "Ledger",
    "PackVersion",
    "Problem",
    "Receipt",
    "StoredDecision",
    "VerifyReport",
]

_CHANGED = (
    "this {kind} id is already stored with different content"
    " (the ledger never changes a stored record)"
)

#: The effective date of a pack that is in force from the beginning of time.
BEGINNING = dt.date.min


# ---------------------------------------------------------------------------------------------
# What the ledger returns


@dataclass(frozen=True)
class PackVersion:
    """A rule pack version stored in the ledger and the date from which it grades."""

    seq: int
    effective: dt.date
    ref: PackRef
    recorded_at: str


@dataclass(frozen=True)
class Receipt:
    """What :meth:`Ledger.submit` did with one record.

    ``decision`` is the enterprise's latest decision afterwards. ``duplicate`` is true when the
    record was already stored with identical content (nothing was written). ``late`` is true
    when the record was dated on or before a decision already made, so decisions were replayed;
    ``resumed_from`` is the re-grade point the fold resumed from (``None``: from the start).
    ``appended`` and ``superseded`` count the decisions written and overturned.
    """

    decision: Decision
    duplicate: bool = False
    late: bool = False
    resumed_from: dt.date | None = None
    appended: int = 0
    superseded: int = 0


@dataclass(frozen=True)
class StoredDecision:
    """A decision as the ledger holds it, with its audit fields.

    ``inputs`` are the ids of the records it was graded from (every record of the enterprise
    dated on or before ``assessed_on`` when it was made); ``cause`` what appended it
    (``record:<id>``, ``pack:<seq>`` or ``review:<date>``); ``superseded_by`` the cause of the
    supersession that overturned it, or ``None`` while it stands.
    """

    seq: int
    enterprise_id: str
    assessed_on: dt.date
    point: str
    decision: Decision
    pack_digest: str
    inputs: tuple[str, ...]
    cause: str
    recorded_at: str
    hash: str
    superseded_by: str | None = None

    @property
    def superseded(self) -> bool:
        """True once a late record, a correction or a new pack version overturned it."""
        return self.superseded_by is not None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready mapping (``decision`` in CONTRACT.md's shape)."""
        return {
            "seq": self.seq,
            "enterprise_id": self.enterprise_id,
            "assessed_on": self.assessed_on.isoformat(),
            "point": self.point,
            "superseded": self.superseded,
            "superseded_by": self.superseded_by,
            "cause": self.cause,
            "pack_digest": self.pack_digest,
            "inputs": list(self.inputs),
            "recorded_at": self.recorded_at,
            "hash": self.hash,
            "decision": self.decision.to_dict(),
        }


@dataclass(frozen=True)
class DueInspection:
    """An enterprise whose next inspection falls due by a date, with its level and treatment."""

    enterprise_id: str
    name: str | None
    region: str | None
    grid: str | None
    scheme: str
    level: str | None
    treatment: str | None
    inspections_per_year: int | None
    next_inspection_due: dt.date
    overdue: bool

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready mapping."""
        return {
            "enterprise_id": self.enterprise_id,
            "name": self.name,
            "region": self.region,
            "grid": self.grid,
            "scheme": self.scheme,
            "level": self.level,
            "treatment": self.treatment,
            "inspections_per_year": self.inspections_per_year,
            "next_inspection_due": self.next_inspection_due.isoformat(),
            "overdue": self.overdue,
        }


@dataclass(frozen=True)
class Problem:
    """One difference :meth:`Ledger.verify` found: what, where, and what was expected."""

    kind: str
    message: str
    table: str | None = None
    seq: int | None = None
    enterprise_id: str | None = None

    def describe(self) -> str:
        """Return one line: ``kind table#seq enterprise: message``."""
        where = " ".join(
            part
            for part in (
                f"{self.table}#{self.seq}" if self.table and self.seq is not None else self.table,
                f"enterprise {self.enterprise_id}" if self.enterprise_id else None,
            )
            if part
        )
        return f"{self.kind}: {where + ': ' if where else ''}{self.message}"


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :meth:`Ledger.verify`: every problem found, and what was checked.

    ``anchor`` is a digest of every chain's last hash; write it down somewhere else, and a later
    ``verify`` whose ledger no longer reproduces it (with the same rows) shows rows were cut off.
    """

    problems: tuple[Problem, ...]
    counts: Mapping[str, int] = field(default_factory=dict)
    anchor: str = ""

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return not self.problems

    def render(self) -> str:
        """Return the report as text for a person."""
        counts = ", ".join(f"{value} {key}" for key, value in self.counts.items())
        lines = [f"checked: {counts}", f"anchor: {self.anchor}"]
        if self.ok:
            lines.append("ok: every chain, content hash, reference and decision checks")
        else:
            lines.append(f"{len(self.problems)} problem(s):")
            lines.extend(f"  {problem.describe()}" for problem in self.problems)
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Small helpers

_K = TypeVar("_K")
_V = TypeVar("_V")


class _Lru(Generic[_K, _V]):
    """A bounded least-recently-used cache, owned by one Ledger (never shared)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[_K, _V] = OrderedDict()

    def get(self, key: _K) -> _V | None:
        value = self.items.get(key)
        if value is not None:
            self.items.move_to_end(key)
        return value

    def put(self, key: _K, value: _V) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)

    def clear(self) -> None:
        self.items.clear()


@dataclass
class _History:
    """An enterprise's stored records: a prefix of the append-only table, up to ``last_seq``."""

    last_seq: int = 0
    events: list[Event] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Row:
    """The columns of a stored decision the re-grading needs."""

    seq: int
    assessed_on: dt.date
    pack_digest: str
    next_point: dt.date | None
    state: str
    hash: str
    decision: str
    level: str | None
    next_due: dt.date | None


_ROW_COLUMNS = "seq, assessed_on, pack_digest, next_point, state, hash, decision, level, next_due"


def _row(values: Sequence[Any]) -> _Row:
    return _Row(
        seq=int(values[0]),
        assessed_on=dt.date.fromisoformat(values[1]),
        pack_digest=values[2],
        next_point=None if values[3] is None else dt.date.fromisoformat(values[3]),
        state=values[4],
        hash=values[5],
        decision=values[6],
        level=values[7],
        next_due=None if values[8] is None else dt.date.fromisoformat(values[8]),
    )


class _EventIndex(Mapping[str, Event]):
    """Events by id for reference checks: the enterprise's own, then any stored one on demand."""

    def __init__(self, own: Mapping[str, Event], lookup: Callable[[str], Event | None]) -> None:
        self._own = own
        self._lookup = lookup

    def __getitem__(self, key: str) -> Event:
        found = self._own.get(key)
        if found is None:
            found = self._lookup(key)
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[str]:
        # Suggestions for a mistyped reference come from the enterprise's own records.
        return iter(self._own)

    def __len__(self) -> int:
        return len(self._own)


def _first_difference(old: BaseModel, new: BaseModel) -> str:
    before, after = old.model_dump(), new.model_dump()
    for key in [*before, *(k for k in after if k not in before)]:
        if before.get(key) != after.get(key):
            return key
    return "type"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _as_pack(pack: RulePack | str | os.PathLike[str]) -> RulePack:
    return pack if isinstance(pack, RulePack) else load_pack(os.fspath(pack))


# ---------------------------------------------------------------------------------------------
# The ledger


class Ledger:
    """An append-only, hash-chained ledger of records and decisions on SQLite.

    Create one with :meth:`create`, open an existing file with :meth:`open`; close it with
    :meth:`close` or use it as a context manager. One ``Ledger`` object belongs to one thread;
    open another in each thread or process (they may write concurrently). Its only state is the
    connection and caches of immutable stored rows, revalidated inside every transaction.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        name: str,
        *,
        lang: Lang,
        cache_size: int = 4096,
    ) -> None:
        """Wrap an open connection; use :meth:`create` or :meth:`open` instead."""
        self._conn = conn
        self.name = name
        self.lang: Lang = lang
        self._in_transaction = False
        self._histories: _Lru[str, _History] = _Lru(cache_size)
        self._enterprises: _Lru[str, Enterprise] = _Lru(cache_size)
        self._packs: dict[str, RulePack] = {}
        self._schedule_cache: tuple[int, PackSchedule] | None = None

    # -- opening and closing ---------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        pack: RulePack | str | os.PathLike[str],
        *,
        effective: dt.date = BEGINNING,
        lang: Lang = "en",
        durable: bool = True,
        timeout: float = 60.0,
        cache_size: int = 4096,
    ) -> Ledger:
        """Create a ledger in a new file (or ``":memory:"``) graded by ``pack`` from ``effective``.

        ``pack`` is a compiled :class:`RulePack` or a pack folder. ``lang`` fixes the language
        of every stored decision's texts. ``durable=False`` trades the fsync of each commit
        for speed (a power cut may then lose the last commits, never consistency).
        Raises :class:`InputError` if a non-empty file already exists at ``path``.
        """
        if lang not in ("en", "zh"):
            msg = f"unknown language {lang!r}; choose en or zh"
            raise InputError(msg, field="lang")
        compiled = _as_pack(pack)
        name = os.fspath(path)
        if name != ":memory:" and Path(name).exists() and Path(name).stat().st_size > 0:
            msg = "a file already exists here; a ledger is created in a new file"
            raise InputError(msg, file=name)
        conn = _connect(name, create=True, durable=durable, timeout=timeout)
        ledger = cls(conn, name, lang=lang, cache_size=cache_size)
        try:
            with ledger._write() as c:
                for statement in _statements(SCHEMA):
                    c.execute(statement)
                c.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                c.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("schema_version", SCHEMA_VERSION), ("lang", lang), ("created_at", _now())],
                )
                ledger._store_pack(c, compiled, effective)
        except BaseException:
            conn.close()
            raise
        return ledger

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        durable: bool = True,
        timeout: float = 60.0,
        cache_size: int = 4096,
    ) -> Ledger:
        """Open an existing ledger file.

        Raises :class:`InputError` when there is no file and :class:`StorageError` when the
        file is not a riskgrade ledger (or one of a newer schema).
        """
        name = os.fspath(path)
        if name == ":memory:" or not Path(name).is_file():
            msg = "no ledger here (no such file); create one with 'riskgrade ledger init'"
            raise InputError(msg, file=name)
        conn = _connect(name, create=False, durable=durable, timeout=timeout)
        try:
            application = conn.execute("PRAGMA application_id").fetchone()[0]
            meta = (
                {}
                if application != APPLICATION_ID
                else dict(conn.execute("SELECT key, value FROM meta").fetchall())
            )
        except sqlite3.Error as exc:
            conn.close()
            msg = f"cannot read the ledger: {exc}"
            raise StorageError(msg, file=name) from None
        if application != APPLICATION_ID:
            conn.close()
            msg = "not a riskgrade ledger (SQLite application_id does not match)"
            raise StorageError(msg, file=name)
        if meta.get("schema_version") != SCHEMA_VERSION:
            conn.close()
            found = meta.get("schema_version")
            msg = f"ledger schema version {found!r}; this riskgrade reads {SCHEMA_VERSION!r}"
            raise StorageError(msg, file=name, field="schema_version")
        lang = meta.get("lang", "en")
        return cls(conn, name, lang="zh" if lang == "zh" else "en", cache_size=cache_size)

    def close(self) -> None:
        """Close the connection (committed data is already durable)."""
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transactions ----------------------------------------------------------------------
    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: taken at once (BEGIN IMMEDIATE), all or nothing."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            msg = f"cannot start a write transaction: {exc}"
            raise StorageError(msg, file=self.name) from None
        self._in_transaction = True
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            # The caches may hold rows of the rolled-back transaction; drop them all.
            self._forget()
            if isinstance(exc, sqlite3.Error):
                msg = f"the ledger refused the write: {exc}"
                raise StorageError(msg, file=self.name) from None
            raise
        finally:
            self._in_transaction = False

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One consistent snapshot for a query (joins a write transaction already open)."""
        conn = self._conn
        if self._in_transaction:
            yield conn
            return
        try:
            conn.execute("BEGIN")
        except sqlite3.Error as exc:
            msg = f"cannot read the ledger: {exc}"
            raise StorageError(msg, file=self.name) from None
        self._in_transaction = True
        try:
            yield conn
        except sqlite3.Error as exc:
            msg = f"cannot read the ledger: {exc}"
            raise StorageError(msg, file=self.name) from None
        finally:
            self._in_transaction = False
            with contextlib.suppress(sqlite3.Error):
                conn.execute("COMMIT")

    def _forget(self) -> None:
        self._histories.clear()
        self._enterprises.clear()
        self._schedule_cache = None

    # -- packs ------------------------------------------------------------------------------
    def add_pack(
        self, pack: RulePack | str | os.PathLike[str], *, effective: dt.date
    ) -> PackVersion:
        """Store a pack version that grades every re-grade point on or after ``effective``.

        Decisions already stored for points on or after ``effective`` are superseded and made
        again under the new version, in the same transaction; earlier decisions keep the
        version they were made under. Raises :class:`PackError` when the pack cannot grade a
        stored enterprise (e.g. it lacks its scheme or refuses its attributes).
        """
        compiled = _as_pack(pack)
        with self._write() as conn:
            for enterprise in self._all_enterprises(conn):
                try:
                    compiled.scheme_for(enterprise).check_enterprise(enterprise)
                except InputError as exc:
                    ref = compiled.ref
                    msg = (
                        f"pack {ref.id} {ref.version} cannot grade {enterprise.id!r}: {exc.message}"
                    )
                    raise PackError(msg, field=exc.field, suggestion=exc.suggestion) from None
            version = self._store_pack(conn, compiled, effective)
            schedule = self._schedule(conn)
            affected = conn.execute(
                "SELECT DISTINCT enterprise_id FROM current_decisions WHERE assessed_on >= ?",
                (effective.isoformat(),),
            ).fetchall()
            for (enterprise_id,) in affected:
                enterprise = self._require_enterprise(conn, enterprise_id)
                self._regrade_from(conn, schedule, enterprise, effective, f"pack:{version.seq}")
        return version

    def packs(self) -> tuple[PackVersion, ...]:
        """Return the stored pack versions in the order they were added."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT seq, effective, pack_id, version, digest, recorded_at FROM pack_versions"
                " ORDER BY seq"
            ).fetchall()
        return tuple(
            PackVersion(
                seq=row[0],
                effective=dt.date.fromisoformat(row[1]),
                ref=PackRef(id=row[2], version=row[3], digest=row[4]),
                recorded_at=row[5],
            )
            for row in rows
        )

    def pack_at(self, day: dt.date) -> RulePack:
        """Return the compiled pack version in force on ``day``."""
        with self._read() as conn:
            return self._schedule(conn).at(day)

    def _store_pack(
        self, conn: sqlite3.Connection, pack: RulePack, effective: dt.date
    ) -> PackVersion:
        digest = pack.ref.digest
        if (
            conn.execute("SELECT 1 FROM pack_files WHERE digest = ? LIMIT 1", (digest,)).fetchone()
            is None
        ):
            conn.executemany(
                "INSERT INTO pack_files (digest, path, data) VALUES (?, ?, ?)",
                [(digest, path, data) for path, data in sorted(pack.files.files.items())],
            )
        seq, prev = global_chain_head(conn, "pack_versions")
        recorded_at = _now()
        append_row(
            conn,
            "pack_versions",
            {
                "seq": seq,
                "digest": digest,
                "pack_id": pack.ref.id,
                "version": pack.ref.version,
                "effective": effective.isoformat(),
                "recorded_at": recorded_at,
            },
            prev,
        )
        self._packs[digest] = pack
        self._schedule_cache = None
        return PackVersion(seq=seq, effective=effective, ref=pack.ref, recorded_at=recorded_at)

    def _pack(self, conn: sqlite3.Connection, digest: str) -> RulePack:
        cached = self._packs.get(digest)
        if cached is not None:
            return cached
        files = dict(
            conn.execute("SELECT path, data FROM pack_files WHERE digest = ?", (digest,)).fetchall()
        )
        stored = PackFiles(files={path: bytes(data) for path, data in files.items()})
        if stored.digest != digest:
            # Grading under altered rules would put a false digest in every decision.
            msg = f"the stored files of pack {digest} now digest to {stored.digest}"
            raise StorageError(msg, file=self.name, field="pack_files")
        pack = load_pack_files(stored, name=f"{self.name}#{digest}")
        self._packs[digest] = pack
        return pack

    def _schedule(self, conn: sqlite3.Connection) -> PackSchedule:
        top = conn.execute("SELECT max(seq) FROM pack_versions").fetchone()[0]
        if self._schedule_cache is not None and self._schedule_cache[0] == top:
            return self._schedule_cache[1]
        rows = conn.execute("SELECT effective, digest FROM pack_versions ORDER BY seq").fetchall()
        schedule = PackSchedule(
            [
                (dt.date.fromisoformat(effective), self._pack(conn, digest))
                for effective, digest in rows
            ]
        )
        self._schedule_cache = (int(top or 0), schedule)
        return schedule

    # -- enterprises -----------------------------------------------------------------------
    def add_enterprise(self, enterprise: Enterprise) -> bool:
        """Store an enterprise; return False if it was already stored with identical content.

        Raises :class:`InputError` when the id is stored with different content (enterprises
        are append-only) or when a stored pack version cannot grade it.
        """
        return self.add_enterprises([enterprise]) == 1

    def add_enterprises(
        self,
        enterprises: Iterable[Enterprise],
        *,
        locations: Mapping[str, tuple[str, int]] | None = None,
    ) -> int:
        """Store several enterprises in one transaction (all or none); return how many were new.

        ``locations`` maps ``"enterprise:<id>"`` to ``(file, line)``, as for
        :class:`~riskgrade.records.RecordSet`, so that an error names where the record came from.
        """
        added = 0
        with self._write() as conn:
            schedule = self._schedule(conn)
            for enterprise in enterprises:
                try:
                    added += self._add_enterprise(conn, schedule, enterprise)
                except InputError as exc:
                    file, line = (locations or {}).get(
                        f"enterprise:{enterprise.id}", (exc.file, exc.line)
                    )
                    msg = f"enterprise {enterprise.id!r}: {exc.message}"
                    raise InputError(
                        msg, file=file, line=line, field=exc.field, suggestion=exc.suggestion
                    ) from None
        return added

    def _add_enterprise(
        self, conn: sqlite3.Connection, schedule: PackSchedule, enterprise: Enterprise
    ) -> int:
        stored = self._enterprise(conn, enterprise.id)
        if stored is not None:
            if stored == enterprise:
                return 0
            where = _first_difference(stored, enterprise)
            msg = _CHANGED.format(kind="enterprise")
            raise InputError(msg, field=where)
        for pack in schedule.packs:
            pack.scheme_for(enterprise).check_enterprise(enterprise)
        content = canonical_record(enterprise)
        seq, prev = global_chain_head(conn, "enterprises")
        append_row(
            conn,
            "enterprises",
            {
                "seq": seq,
                "id": enterprise.id,
                "scheme": enterprise.scheme,
                "region": enterprise.region,
                "grid": enterprise.grid,
                "content": content,
                "content_hash": content_hash(content),
                "recorded_at": _now(),
            },
            prev,
        )
        self._enterprises.put(enterprise.id, enterprise)
        return 1

    def enterprise(self, enterprise_id: str) -> Enterprise:
        """Return a stored enterprise; :class:`InputError` (with a suggestion) if there is none."""
        with self._read() as conn:
            return self._require_enterprise(conn, enterprise_id)

    def enterprise_ids(self) -> tuple[str, ...]:
        """Return every stored enterprise id, in the order they were stored."""
        with self._read() as conn:
            return tuple(row[0] for row in conn.execute("SELECT id FROM enterprises ORDER BY seq"))

    def events(self, enterprise_id: str) -> tuple[Event, ...]:
        """Return an enterprise's stored records in arrival order."""
        with self._read() as conn:
            self._require_enterprise(conn, enterprise_id)
            return tuple(self._history(conn, enterprise_id).events)

    def _enterprise(self, conn: sqlite3.Connection, enterprise_id: str) -> Enterprise | None:
        cached = self._enterprises.get(enterprise_id)
        if cached is not None:
            return cached
        row = conn.execute(
            "SELECT seq, content FROM enterprises WHERE id = ?", (enterprise_id,)
        ).fetchone()
        if row is None:
            return None
        enterprise = self._parse_enterprise(row[1], row[0])
        self._enterprises.put(enterprise_id, enterprise)
        return enterprise

    def _require_enterprise(self, conn: sqlite3.Connection, enterprise_id: str) -> Enterprise:
        enterprise = self._enterprise(conn, enterprise_id)
        if enterprise is None:
            msg = f"no enterprise with id {enterprise_id!r} in the ledger"
            raise InputError(
                msg, file=self.name, field="id", suggestion=self._suggest(conn, enterprise_id)
            )
        return enterprise

    def _suggest(self, conn: sqlite3.Connection, enterprise_id: str) -> str | None:
        ids = [row[0] for row in conn.execute("SELECT id FROM enterprises")]
        return closest_match(enterprise_id, ids)

    def _all_enterprises(self, conn: sqlite3.Connection) -> Iterator[Enterprise]:
        for seq, content in conn.execute(
            "SELECT seq, content FROM enterprises ORDER BY seq"
        ).fetchall():
            yield self._parse_enterprise(content, seq)

    def _parse_enterprise(self, content: str, seq: int) -> Enterprise:
        try:
            return parse_enterprise_line(content, file=f"{self.name}#enterprises", line=seq)
        except InputError as exc:
            msg = f"a stored enterprise is unreadable: {exc.describe()}"
            raise StorageError(msg, file=self.name, line=seq, field="enterprises") from None

    # -- records ---------------------------------------------------------------------------
    def record(self, event: Event) -> Decision:
        """Validate and store a record; return the enterprise's new decision.

        The decision is the enterprise's latest (at its latest re-grade point, which may be
        later than the record's date when the record arrived late). A record already stored
        with identical content changes nothing and returns the current decision. Raises
        :class:`InputError` for a record that names no stored enterprise or event, refers to
        the wrong kind or date of event (as :class:`~riskgrade.records.RecordSet` would), or
        reuses a stored id with different content; nothing is stored then.
        """
        return self.submit(event).decision

    def submit(self, event: Event) -> Receipt:
        """Like :meth:`record`, but return a :class:`Receipt` saying what was done."""
        with self._write() as conn:
            return self._submit(conn, event)

    def record_many(self, events: Iterable[Event]) -> list[Receipt]:
        """Record several events in arrival order in one transaction (all or none).

        Faster than one :meth:`submit` each when loading history (one commit for all); the
        decisions are the same.
        """
        with self._write() as conn:
            return [self._submit(conn, event) for event in events]

    def _submit(self, conn: sqlite3.Connection, event: Event) -> Receipt:
        existing = conn.execute(
            "SELECT seq, enterprise_id, content FROM records WHERE id = ?", (event.id,)
        ).fetchone()
        if existing is not None:
            stored = self._parse_event(existing[2], existing[0])
            if stored != event:
                where = _first_difference(stored, event)
                msg = _CHANGED.format(kind="event")
                raise InputError(msg, field=where, event=event.id)
            return Receipt(
                decision=self._head_decision(conn, existing[1], stored.date), duplicate=True
            )
        enterprise = self._enterprise(conn, event.enterprise_id)
        if enterprise is None:
            msg = f"no enterprise has the id {event.enterprise_id!r}"
            suggestion = self._suggest(conn, event.enterprise_id)
            raise InputError(msg, field="enterprise_id", event=event.id, suggestion=suggestion)
        history = self._history(conn, enterprise.id)
        own = {stored.id: stored for stored in history.events}
        problem = reference_problem(
            event,
            {enterprise.id: enterprise},
            _EventIndex(own, lambda key: self._stored_event(conn, key)),
        )
        if problem is not None:
            message, where, suggestion = problem
            raise InputError(message, field=where, event=event.id, suggestion=suggestion)
        schedule = self._schedule(conn)
        schedule.at(event.date)  # fail before writing when no pack grades this date
        content = canonical_record(event)
        seq, prev = global_chain_head(conn, "records")
        append_row(
            conn,
            "records",
            {
                "seq": seq,
                "id": event.id,
                "enterprise_id": event.enterprise_id,
                "date": event.date.isoformat(),
                "type": event.type,
                "content": content,
                "content_hash": content_hash(content),
                "recorded_at": _now(),
            },
            prev,
        )
        return self._regrade_from(conn, schedule, enterprise, event.date, f"record:{event.id}")

    def _regrade_from(
        self,
        conn: sqlite3.Connection,
        schedule: PackSchedule,
        enterprise: Enterprise,
        day: dt.date,
        cause: str,
        until: dt.date | None = None,
    ) -> Receipt:
        """Supersede the enterprise's decisions at points on or after ``day`` and make them again.

        The fold resumes from the last decision before ``day`` and runs to the latest of
        ``day``, ``until`` and the enterprise's latest decision.
        """
        history = self._history(conn, enterprise.id)
        cursor = conn.execute(
            f"SELECT {_ROW_COLUMNS} FROM current_decisions WHERE enterprise_id = ?"
            " ORDER BY assessed_on DESC",
            (enterprise.id,),
        )
        affected: list[_Row] = []
        base_row: _Row | None = None
        for values in cursor:
            row = _row(values)
            if row.assessed_on < day:
                base_row = row
                break
            affected.append(row)
        cursor.close()
        head = affected[0].assessed_on if affected else base_row.assessed_on if base_row else None
        end = max(day if head is None else max(head, day), until or day)
        base = (
            None
            if base_row is None
            else Base(
                base_row.assessed_on,
                decode_state(base_row.state, where=f"{self.name}#decisions:{base_row.seq}"),
            )
        )
        points = regrade(schedule, enterprise, history.events, base, end, self.lang)
        self._append(conn, enterprise.id, affected, points, history, cause)
        if points:
            decision = points[-1].decision
        elif base_row is not None:
            decision = Decision.from_json(base_row.decision)
        else:
            decision = self._grade(conn, schedule, enterprise, None, day)
        return Receipt(
            decision=decision,
            late=bool(affected) or (head is not None and day <= head),
            resumed_from=None if base is None else base.date,
            appended=len(points),
            superseded=len(affected),
        )

    def _append(
        self,
        conn: sqlite3.Connection,
        enterprise_id: str,
        superseded: Sequence[_Row],
        points: Sequence[Point],
        history: _History,
        cause: str,
    ) -> None:
        """Append supersessions, then decisions, to the enterprise's chain."""
        pos, prev = enterprise_chain_head(conn, enterprise_id)
        recorded_at = _now()
        if superseded:
            seq = next_seq(conn, "supersessions")
            for row in sorted(superseded, key=lambda r: r.assessed_on):
                prev = append_row(
                    conn,
                    "supersessions",
                    {
                        "seq": seq,
                        "enterprise_id": enterprise_id,
                        "pos": pos,
                        "decision_seq": row.seq,
                        "decision_hash": row.hash,
                        "cause": cause,
                        "recorded_at": recorded_at,
                    },
                    prev,
                )
                seq += 1
                pos += 1
        if not points:
            return
        ordered = sorted(history.events, key=lambda event: (event.date, event.id))
        dates = [event.date for event in ordered]
        seq = next_seq(conn, "decisions")
        for point in points:
            inputs = ordered[: bisect.bisect_right(dates, point.date)]
            treatment = point.decision.treatment
            prev = append_row(
                conn,
                "decisions",
                {
                    "seq": seq,
                    "enterprise_id": enterprise_id,
                    "pos": pos,
                    "assessed_on": point.date.isoformat(),
                    "point": point.kind,
                    "level": point.decision.level,
                    # NULL while no record fixes the due date (then it is due on any as-of date).
                    "next_due": None
                    if treatment is None or point.floating_due
                    else treatment.next_inspection_due.isoformat(),
                    "next_point": _iso(point.next_point),
                    "pack_digest": point.pack.ref.digest,
                    "inputs": json.dumps(
                        [event.id for event in inputs], ensure_ascii=False, separators=(",", ":")
                    ),
                    "inputs_digest": inputs_digest(
                        (event.id, history.hashes[event.id]) for event in inputs
                    ),
                    "decision": point.decision.to_json(),
                    "state": encode_state(point.state),
                    "cause": cause,
                    "recorded_at": recorded_at,
                },
                prev,
            )
            seq += 1
            pos += 1

    def _history(self, conn: sqlite3.Connection, enterprise_id: str) -> _History:
        """Return the enterprise's stored records, reading only those appended since last time."""
        history = self._histories.get(enterprise_id)
        if history is None:
            history = _History()
        rows = conn.execute(
            "SELECT seq, content, content_hash FROM records"
            " WHERE enterprise_id = ? AND seq > ? ORDER BY seq",
            (enterprise_id, history.last_seq),
        ).fetchall()
        for seq, content, digest in rows:
            event = self._parse_event(content, seq)
            history.events.append(event)
            history.hashes[event.id] = digest
            history.last_seq = seq
        self._histories.put(enterprise_id, history)
        return history

    def _stored_event(self, conn: sqlite3.Connection, event_id: str) -> Event | None:
        row = conn.execute("SELECT seq, content FROM records WHERE id = ?", (event_id,)).fetchone()
        return None if row is None else self._parse_event(row[1], row[0])

    def _parse_event(self, content: str, seq: int) -> Event:
        try:
            return parse_event_line(content, file=f"{self.name}#records", line=seq)
        except InputError as exc:
            msg = f"a stored record is unreadable: {exc.describe()}"
            raise StorageError(msg, file=self.name, line=seq, field="records") from None

    def _head_decision(
        self, conn: sqlite3.Connection, enterprise_id: str, day: dt.date
    ) -> Decision:
        row = conn.execute(
            "SELECT decision FROM current_decisions WHERE enterprise_id = ?"
            " ORDER BY assessed_on DESC LIMIT 1",
            (enterprise_id,),
        ).fetchone()
        if row is not None:
            return Decision.from_json(row[0])
        enterprise = self._require_enterprise(conn, enterprise_id)
        return self._grade(conn, self._schedule(conn), enterprise, None, day)

    # -- reviews ---------------------------------------------------------------------------
    def apply_reviews(self, through: dt.date) -> int:
        """Store the periodic reviews (and anniversaries) that fall due on or before ``through``.

        Reviews between records are stored when the next record arrives; this stores those
        after each enterprise's latest record, e.g. from a nightly job, so that timelines and
        queries read them instead of computing them. Each enterprise is one transaction.
        Returns the number of decisions appended.
        """
        with self._read() as conn:
            schedule = self._schedule(conn)
            rows = conn.execute(
                "SELECT enterprise_id, max(assessed_on) FROM current_decisions"
                " GROUP BY enterprise_id"
            ).fetchall()
            pending = [
                enterprise_id
                for enterprise_id, head in rows
                if head < through.isoformat()
                and (
                    self._next_point_after(conn, enterprise_id) <= through.isoformat()
                    or schedule.switches(dt.date.fromisoformat(head), through)
                )
            ]
        appended = 0
        for enterprise_id in pending:
            with self._write() as conn:
                enterprise = self._require_enterprise(conn, enterprise_id)
                schedule = self._schedule(conn)
                head = conn.execute(
                    "SELECT max(assessed_on) FROM current_decisions WHERE enterprise_id = ?",
                    (enterprise_id,),
                ).fetchone()[0]
                if head is None or head >= through.isoformat():
                    continue  # another process got here first
                receipt = self._regrade_from(
                    conn,
                    schedule,
                    enterprise,
                    dt.date.fromisoformat(head) + dt.timedelta(days=1),
                    f"review:{through.isoformat()}",
                    until=through,
                )
                appended += receipt.appended
        return appended

    def _next_point_after(self, conn: sqlite3.Connection, enterprise_id: str) -> str:
        row = conn.execute(
            "SELECT next_point FROM current_decisions WHERE enterprise_id = ?"
            " ORDER BY assessed_on DESC LIMIT 1",
            (enterprise_id,),
        ).fetchone()
        return "9999-12-31" if row is None or row[0] is None else str(row[0])

    # -- queries ---------------------------------------------------------------------------
    def grade(self, enterprise_id: str, as_of: dt.date) -> Decision:
        """Return an enterprise's decision as of any date, as ``Grader.decide`` would give it.

        Reads the stored decision that stands on ``as_of`` where there is one, and computes
        only what no stored decision covers (reviews after the latest one, dates before the
        first record, a pack version taking effect after it).
        """
        with self._read() as conn:
            enterprise = self._require_enterprise(conn, enterprise_id)
            schedule = self._schedule(conn)
            return self._grade(
                conn, schedule, enterprise, self._standing(conn, enterprise_id, as_of), as_of
            )

    def grade_all(self, as_of: dt.date) -> list[Decision]:
        """Return every enterprise's decision as of ``as_of``, in the order they were stored."""
        with self._read() as conn:
            schedule = self._schedule(conn)
            return [
                self._grade(conn, schedule, enterprise, row, as_of)
                for enterprise, row in self._standing_all(conn, as_of)
            ]

    def timeline(
        self, enterprise_id: str, *, superseded: bool = False
    ) -> tuple[StoredDecision, ...]:
        """Return the decisions stored for an enterprise, by date (superseded ones on request).

        Superseded decisions appear beside the ones that replaced them, ordered by
        ``(assessed_on, seq)``; ``superseded_by`` names what overturned each.
        """
        with self._read() as conn:
            self._require_enterprise(conn, enterprise_id)
            rows = conn.execute(
                "SELECT d.seq, d.assessed_on, d.point, d.decision, d.pack_digest, d.inputs,"
                " d.cause,"
                " d.recorded_at, d.hash, s.cause FROM decisions AS d"
                " LEFT JOIN supersessions AS s ON s.decision_seq = d.seq"
                " WHERE d.enterprise_id = ? ORDER BY d.assessed_on, d.seq",
                (enterprise_id,),
            ).fetchall()
        return tuple(
            StoredDecision(
                seq=row[0],
                enterprise_id=enterprise_id,
                assessed_on=dt.date.fromisoformat(row[1]),
                point=row[2],
                decision=Decision.from_json(row[3]),
                pack_digest=row[4],
                inputs=tuple(json.loads(row[5])),
                cause=row[6],
                recorded_at=row[7],
                hash=row[8],
                superseded_by=row[9],
            )
            for row in rows
            if superseded or row[9] is None
        )

    def at_level(self, level: str, as_of: dt.date, *, scheme: str | None = None) -> tuple[str, ...]:
        """Return the ids of the enterprises at ``level`` on ``as_of`` (of ``scheme`` if given)."""
        found: list[str] = []
        with self._read() as conn:
            schedule = self._schedule(conn)
            pack = schedule.at(as_of)
            for enterprise, row in self._standing_all(conn, as_of):
                if scheme is not None and pack.scheme_for(enterprise).name != scheme:
                    continue
                if self._stands(schedule, row, as_of):
                    assert row is not None
                    current = row.level
                else:
                    current = self._grade(conn, schedule, enterprise, row, as_of).level
                if current == level:
                    found.append(enterprise.id)
        return tuple(found)

    def due(
        self,
        by: dt.date,
        *,
        as_of: dt.date | None = None,
        region: str | None = None,
        grid: str | None = None,
    ) -> tuple[DueInspection, ...]:
        """Return the enterprises whose next inspection falls due on or before ``by``.

        Each is graded as of ``as_of`` (default ``by``: the plan as things will stand then if
        nothing new is recorded). Filtered by ``region`` and ``grid`` when given; sorted by due
        date, region, grid and id. An enterprise never inspected is due at ``as_of``.
        """
        day = by if as_of is None else as_of
        out: list[DueInspection] = []
        with self._read() as conn:
            schedule = self._schedule(conn)
            pack = schedule.at(day)
            for enterprise, row in self._standing_all(conn, day, region=region, grid=grid):
                if self._stands(schedule, row, day):
                    assert row is not None
                    data = json.loads(row.decision)
                    treatment = data["treatment"]
                    due_on: dt.date | None = day if row.next_due is None else row.next_due
                else:
                    data = self._grade(conn, schedule, enterprise, row, day).to_dict()
                    treatment = data["treatment"]
                    due_on = (
                        None
                        if treatment is None
                        else dt.date.fromisoformat(treatment["next_inspection_due"])
                    )
                if treatment is None or due_on is None:
                    continue  # ungraded and the pack plans nothing for it
                if due_on > by:
                    continue
                out.append(
                    DueInspection(
                        enterprise_id=enterprise.id,
                        name=enterprise.name,
                        region=enterprise.region,
                        grid=enterprise.grid,
                        scheme=pack.scheme_for(enterprise).name,
                        level=data["level"],
                        treatment=treatment["name"],
                        inspections_per_year=treatment["inspections_per_year"],
                        next_inspection_due=due_on,
                        overdue=due_on < day,
                    )
                )
        out.sort(
            key=lambda d: (d.next_inspection_due, d.region or "", d.grid or "", d.enterprise_id)
        )
        return tuple(out)

    def _standing(
        self, conn: sqlite3.Connection, enterprise_id: str, as_of: dt.date
    ) -> _Row | None:
        values = conn.execute(
            f"SELECT {_ROW_COLUMNS} FROM current_decisions"
            " WHERE enterprise_id = ? AND assessed_on <= ?"
            " ORDER BY assessed_on DESC LIMIT 1",
            (enterprise_id, as_of.isoformat()),
        ).fetchone()
        return None if values is None else _row(values)

    def _standing_all(
        self,
        conn: sqlite3.Connection,
        as_of: dt.date,
        *,
        region: str | None = None,
        grid: str | None = None,
    ) -> Iterator[tuple[Enterprise, _Row | None]]:
        """Yield each enterprise with its latest current decision on or before ``as_of``."""
        columns = ", ".join(f"d.{name.strip()}" for name in _ROW_COLUMNS.split(","))
        rows = conn.execute(
            f"SELECT e.seq, e.id, e.content, {columns} FROM enterprises AS e"
            " LEFT JOIN decisions AS d ON d.seq = ("
            "  SELECT c.seq FROM current_decisions AS c"
            "  WHERE c.enterprise_id = e.id AND c.assessed_on <= ?"
            "  ORDER BY c.assessed_on DESC LIMIT 1)"
            " WHERE (?2 IS NULL OR e.region = ?2) AND (?3 IS NULL OR e.grid = ?3)"
            " ORDER BY e.seq",
            (as_of.isoformat(), region, grid),
        ).fetchall()
        for values in rows:
            enterprise = self._enterprises.get(values[1]) or self._parse_enterprise(
                values[2], values[0]
            )
            yield enterprise, None if values[3] is None else _row(values[3:])

    def _stands(self, schedule: PackSchedule, row: _Row | None, as_of: dt.date) -> bool:
        """True when a stored decision is still the grade on ``as_of`` (nothing falls between)."""
        return (
            row is not None
            and (row.next_point is None or as_of < row.next_point)
            and schedule.at(as_of).ref.digest == row.pack_digest
        )

    def _grade(
        self,
        conn: sqlite3.Connection,
        schedule: PackSchedule,
        enterprise: Enterprise,
        row: _Row | None,
        as_of: dt.date,
    ) -> Decision:
        pack = schedule.at(as_of)
        if row is not None and row.pack_digest == pack.ref.digest:
            if row.next_point is None or as_of < row.next_point:
                return rebase(
                    Decision.from_json(row.decision), as_of, floating_due=row.next_due is None
                )
            if not schedule.switches(row.assessed_on, as_of):
                # Only reviews lie between: resume the fold over them, as a record would.
                history = self._history(conn, enterprise.id)
                state = decode_state(row.state, where=f"{self.name}#decisions:{row.seq}")
                points = regrade(
                    schedule,
                    enterprise,
                    history.events,
                    Base(row.assessed_on, state),
                    as_of,
                    self.lang,
                )
                if points:
                    return rebase(points[-1].decision, as_of, floating_due=points[-1].floating_due)
                return rebase(
                    Decision.from_json(row.decision), as_of, floating_due=row.next_due is None
                )
        # Before any record, or under a pack version that took effect since: the pure function.
        events = self._history(conn, enterprise.id).events
        replay = schedule.evaluator(pack).replay(enterprise, events, as_of)
        return decision_from_step(replay, replay.steps[-1], pack.ref, self.lang)

    # -- audit -----------------------------------------------------------------------------
    def verify(
        self, *, regrade: bool = True, enterprise_ids: Iterable[str] | None = None
    ) -> VerifyReport:
        """Check the whole ledger and report every difference found.

        Recomputes every hash chain and content hash, the stored pack files against their
        digests, the references between records, each decision's inputs, and (unless
        ``regrade=False``) re-grades every enterprise's timeline with the pure grading function
        under the stored packs and compares it with the current decisions: a missing, extra or
        different decision is reported. ``enterprise_ids`` limits the re-grading (the costly
        part: one full replay per re-grade point) to those enterprises.
        """
        from riskgrade._ledger_verify import verify_ledger

        with self._read() as conn:
            return verify_ledger(
                conn,
                name=self.name,
                lang=self.lang,
                regrade=regrade,
                only=None if enterprise_ids is None else frozenset(enterprise_ids),
            )


def _statements(script: str) -> list[str]:
    """Split the schema into statements (executescript would commit the open transaction)."""
    out: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                out.append(buffer.strip())
            buffer = ""
    return out


def _connect(name: str, *, create: bool, durable: bool, timeout: float) -> sqlite3.Connection:
    try:
        if name == ":memory:":
            conn = sqlite3.connect(":memory:", isolation_level=None, timeout=timeout)
        elif create:
            conn = sqlite3.connect(name, isolation_level=None, timeout=timeout)
        else:
            uri = Path(name).absolute().as_uri() + "?mode=rw"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout)
        # WAL lets readers work while a record is being written, and with synchronous=FULL
        # each commit is fsynced before record() returns: a returned decision is durable.
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode not in ("wal", "memory"):
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        msg = f"cannot open the ledger: {exc}"
        raise StorageError(msg, file=name) from None
    return conn
