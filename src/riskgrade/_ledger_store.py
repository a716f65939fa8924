"""The ledger's SQLite schema and its append-only row writer.

Every table is append-only: triggers abort any UPDATE or DELETE, so even a bug cannot rewrite
history, and each row carries ``prev_hash`` and ``hash`` so that a change made behind the
triggers' back (or with them dropped) shows up in :meth:`riskgrade.ledger.Ledger.verify`.
Records, enterprises and pack versions each form one chain in arrival order; decisions and
supersessions together form one chain per enterprise, ordered by ``pos``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from riskgrade._ledger_codec import GENESIS, chain_hash

__all__ = [
    "APPLICATION_ID",
    "SCHEMA",
    "SCHEMA_VERSION",
    "TABLES",
    "append_row",
    "enterprise_chain_head",
    "global_chain_head",
    "next_seq",
    "row_hash",
]

#: ``PRAGMA application_id`` of a riskgrade ledger ("RGL1"), so that ``open`` can tell one apart.
APPLICATION_ID = 0x52474C31
SCHEMA_VERSION = "1"

#: Tables and the columns each row's hash covers (besides ``prev_hash``), in schema order.
TABLES: Mapping[str, tuple[str, ...]] = {
    "pack_versions": ("seq", "digest", "pack_id", "version", "effective", "recorded_at"),
    "enterprises": (
        "seq", "id", "scheme", "region", "grid", "content", "content_hash", "recorded_at",
    ),
    "records": (
        "seq", "id", "enterprise_id", "date", "type", "content", "content_hash", "recorded_at",
    ),
    "decisions": (
        "seq", "enterprise_id", "pos", "assessed_on", "point", "level", "next_due",
        "next_point", "pack_digest", "inputs", "inputs_digest", "decision", "state", "cause",
        "recorded_at",
    ),
    "supersessions": (
        "seq", "enterprise_id", "pos", "decision_seq", "decision_hash", "cause", "recorded_at",
    ),
}  # fmt: skip

_APPEND_ONLY = ("meta", "pack_files", *TABLES)

SCHEMA = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE pack_files (
    digest TEXT NOT NULL,
    path TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (digest, path)
) WITHOUT ROWID;

CREATE TABLE pack_versions (
    seq INTEGER PRIMARY KEY,
    digest TEXT NOT NULL,
    pack_id TEXT NOT NULL,
    version TEXT NOT NULL,
    effective TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE enterprises (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    scheme TEXT,
    region TEXT,
    grid TEXT,
    content TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE records (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    date TEXT NOT NULL,
    type TEXT NOT NULL,
    content TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX records_by_enterprise ON records (enterprise_id, seq);

CREATE TABLE decisions (
    seq INTEGER PRIMARY KEY,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    pos INTEGER NOT NULL,
    assessed_on TEXT NOT NULL,
    point TEXT NOT NULL,
    level TEXT,
    next_due TEXT,
    next_point TEXT,
    pack_digest TEXT NOT NULL,
    inputs TEXT NOT NULL,
    inputs_digest TEXT NOT NULL,
    decision TEXT NOT NULL,
    state TEXT NOT NULL,
    cause TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (enterprise_id, pos)
);
CREATE INDEX decisions_by_point ON decisions (enterprise_id, assessed_on);

CREATE TABLE supersessions (
    seq INTEGER PRIMARY KEY,
    enterprise_id TEXT NOT NULL REFERENCES enterprises (id),
    pos INTEGER NOT NULL,
    decision_seq INTEGER NOT NULL UNIQUE REFERENCES decisions (seq),
    decision_hash TEXT NOT NULL,
    cause TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (enterprise_id, pos)
);

CREATE VIEW current_decisions AS
    SELECT d.* FROM decisions AS d
    WHERE NOT EXISTS (SELECT 1 FROM supersessions AS s WHERE s.decision_seq = d.seq);
""" + "".join(
    f"""
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
    BEGIN SELECT RAISE(ABORT, 'riskgrade ledger: {table} is append-only'); END;
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
    BEGIN SELECT RAISE(ABORT, 'riskgrade ledger: {table} is append-only'); END;
"""
    for table in _APPEND_ONLY
)


def global_chain_head(conn: sqlite3.Connection, table: str) -> tuple[int, str]:
    """Return ``(next seq, hash of the last row)`` of a table chained in arrival order."""
    row = conn.execute(f"SELECT seq, hash FROM {table} ORDER BY seq DESC LIMIT 1").fetchone()
    return (1, GENESIS) if row is None else (int(row[0]) + 1, str(row[1]))


def enterprise_chain_head(conn: sqlite3.Connection, enterprise_id: str) -> tuple[int, str]:
    """Return ``(next pos, hash of the last link)`` of an enterprise's decision chain."""
    row = conn.execute(
        "SELECT pos, hash FROM ("
        " SELECT pos, hash FROM decisions WHERE enterprise_id = ?1"
        " UNION ALL SELECT pos, hash FROM supersessions WHERE enterprise_id = ?1"
        ") ORDER BY pos DESC LIMIT 1",
        (enterprise_id,),
    ).fetchone()
    return (0, GENESIS) if row is None else (int(row[0]) + 1, str(row[1]))


def next_seq(conn: sqlite3.Connection, table: str) -> int:
    """Return the seq the next row of ``table`` gets."""
    row = conn.execute(f"SELECT max(seq) FROM {table}").fetchone()
    return 1 if row[0] is None else int(row[0]) + 1


def row_hash(table: str, row: Mapping[str, object], prev_hash: str) -> str:
    """Return the chain hash of a row of ``table`` (its hashed columns and ``prev_hash``)."""
    return chain_hash(prev_hash, {"table": table, **{name: row[name] for name in TABLES[table]}})


def append_row(
    conn: sqlite3.Connection, table: str, row: Mapping[str, object], prev_hash: str
) -> str:
    """Insert a row, chained to ``prev_hash``; return its hash."""
    digest = row_hash(table, row, prev_hash)
    columns = (*TABLES[table], "prev_hash", "hash")
    values = [row[name] for name in TABLES[table]] + [prev_hash, digest]
    placeholders = ", ".join("?" for _ in columns)
    conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
        values,
    )
    return digest
