"""Reading JSON Lines sources line by line, keeping the line numbers that errors must name."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO, TypeAlias

from riskgrade.errors import InputError

__all__ = ["JsonlSource", "iter_jsonl_lines", "source_name"]

JsonlSource: TypeAlias = str | os.PathLike[str] | TextIO
"""A file path, or an open text stream (its ``name`` attribute, when a string, names it)."""

_BOM = "\ufeff"
# Only JSON's own whitespace makes a line blank: a line holding, say, an ideographic space is
# more likely a damaged record than an intentional gap, so it is left for the parser to reject.
_JSON_WHITESPACE = " \t\r\n"


def source_name(source: JsonlSource) -> str:
    """Return the name errors use for ``source``: the path, a stream's name, or ``<stream>``."""
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<stream>"


def iter_jsonl_lines(source: JsonlSource) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` for each non-blank line of ``source``, numbered from 1.

    A path is read as strict UTF-8; a byte sequence that is not UTF-8 raises ``InputError``
    naming the line. A byte order mark at the start is dropped, since spreadsheet exports add
    one. Lines are split on ``\\n`` only (a trailing ``\\r`` is removed), so the Unicode line
    separators that JSON allows inside strings never split a record. Blank lines are skipped
    but still counted. A path that cannot be opened raises ``InputError`` when iteration starts.
    """
    if isinstance(source, str | os.PathLike):
        return _iter_path(Path(source))
    return _iter_stream(source, source_name(source))


def _iter_path(path: Path) -> Iterator[tuple[int, str]]:
    name = os.fspath(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        msg = f"cannot open: {exc.strerror or exc}"
        raise InputError(msg, file=name) from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = raw[exc.start : exc.end]
                msg = f"not valid UTF-8 at byte {exc.start + 1} of the line ({bad!r})"
                raise InputError(msg, file=name, line=number) from None
            cleaned = _clean(text, number)
            if cleaned is not None:
                yield number, cleaned


def _iter_stream(stream: TextIO, name: str) -> Iterator[tuple[int, str]]:
    number = 0
    while True:
        try:
            text = stream.readline()
        except UnicodeDecodeError as exc:
            msg = f"cannot decode the text: {exc.reason}"
            raise InputError(msg, file=name, line=number + 1) from None
        if not text:
            return
        number += 1
        cleaned = _clean(text, number)
        if cleaned is not None:
            yield number, cleaned


def _clean(text: str, number: int) -> str | None:
    """Strip the line ending (and a leading byte order mark); ``None`` for a blank line."""
    if number == 1:
        text = text.removeprefix(_BOM)
    text = text.removesuffix("\n").removesuffix("\r")
    if not text.strip(_JSON_WHITESPACE):
        return None
    return text
