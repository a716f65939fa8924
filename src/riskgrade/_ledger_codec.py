"""The ledger's byte-level encodings: canonical record JSON, chain hashes, fold states.

Everything the ledger hashes goes through here, so that the bytes behind a hash are defined in
one place. Records are stored as canonical JSON (sorted keys, exact decimals, ISO dates) that
:func:`riskgrade.records.parse_event_line` reads back into an equal record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal

from riskgrade.errors import StorageError
from riskgrade.evaluation import FoldState
from riskgrade.records import Enterprise, Event, event_to_mapping

__all__ = [
    "GENESIS",
    "canonical_record",
    "chain_hash",
    "content_hash",
    "decode_state",
    "encode_state",
    "inputs_digest",
]

#: The ``prev_hash`` of the first link of every chain.
GENESIS = "sha256:" + "0" * 64


def _write(value: object, out: list[str]) -> None:
    # A hand-written writer because json.dumps cannot print a Decimal as a number without
    # going through binary floating point, which would change the record's digits.
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Decimal | int):
        out.append(str(value))
    elif isinstance(value, dt.date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, key in enumerate(sorted(value)):
            if index:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:  # pragma: no cover - records hold only the types above
        msg = f"cannot store a value of type {type(value).__name__}"
        raise TypeError(msg)


def canonical_record(record: Enterprise | Event) -> str:
    """Return the record as canonical JSON: every field, keys sorted, numbers exact."""
    data = record.model_dump() if isinstance(record, Enterprise) else event_to_mapping(record)
    out: list[str] = []
    _write(data, out)
    return "".join(out)


def content_hash(text: str) -> str:
    """Return ``sha256:<hex>`` of UTF-8 text."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def chain_hash(prev_hash: str, payload: Mapping[str, object]) -> str:
    """Return the hash of a chain link: its payload (canonical JSON) and the previous hash."""
    text = json.dumps(
        {"prev": prev_hash, **payload}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return content_hash(text)


def inputs_digest(inputs: Iterable[tuple[str, str]]) -> str:
    """Return the digest of a decision's inputs, given ``(record id, content hash)`` in order."""
    return content_hash("".join(f"{record_id}\0{digest}\n" for record_id, digest in inputs))


_STATE_FIELDS = tuple(field.name for field in dataclasses.fields(FoldState))


def _int(value: object) -> int:
    if type(value) is not int:
        msg = f"expected an integer, got {value!r}"
        raise TypeError(msg)
    return value


def _optional_int(value: object) -> int | None:
    return None if value is None else _int(value)


def _optional_date(value: object) -> dt.date | None:
    if value is None:
        return None
    if not isinstance(value, str):
        msg = f"expected a date, got {value!r}"
        raise TypeError(msg)
    return dt.date.fromisoformat(value)


def encode_state(state: FoldState) -> str:
    """Return a fold state as compact JSON (dates as ``YYYY-MM-DD``)."""
    data: dict[str, object] = {}
    for name in _STATE_FIELDS:
        value = getattr(state, name)
        data[name] = value.isoformat() if isinstance(value, dt.date) else value
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def decode_state(text: str, *, where: str) -> FoldState:
    """Read a fold state written by :func:`encode_state`; ``StorageError`` if it is bad."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or set(data) != set(_STATE_FIELDS):
            # A FoldState with other fields means the core changed shape since this was stored;
            # resuming from a guess would silently grade wrongly, so refuse.
            found = sorted(data) if isinstance(data, dict) else data
            msg = f"stored fold state has fields {found!r}, expected {sorted(_STATE_FIELDS)}"
            raise StorageError(msg, file=where, field="state")
        return FoldState(
            level=_optional_int(data["level"]),
            since=_optional_date(data["since"]),
            initial_on=_optional_date(data["initial_on"]),
            clean_years=_int(data["clean_years"]),
            anchor=_optional_date(data["anchor"]),
            reviews=_int(data["reviews"]),
        )
    except (ValueError, TypeError) as exc:
        msg = f"unreadable stored fold state: {exc}"
        raise StorageError(msg, file=where, field="state") from None
