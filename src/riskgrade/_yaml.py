"""Safe YAML for rule packs: exact decimals, line numbers, no duplicate keys.

Built on PyYAML's ``SafeLoader`` (no object construction from tags). Floats become
``Decimal`` from their source text, so ``0.6`` in a pack is exactly six tenths. Mappings are
loaded as :class:`LocatedDict`, which remembers the line of each key, so that every pack error
can name the file and line it comes from.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from riskgrade.errors import PackError

__all__ = ["LocatedDict", "LocatedList", "line_of", "load_yaml"]


class LocatedDict(dict[str, Any]):
    """A mapping from a YAML file that knows the line of itself and of each of its keys."""

    line: int = 0
    key_lines: dict[str, int]


class LocatedList(list[Any]):
    """A sequence from a YAML file that knows its line and the line of each item."""

    line: int = 0
    item_lines: list[int]


def line_of(node: object, key: str | int | None = None) -> int | None:
    """Return the 1-based line of ``node`` (or of its key or item), when it is known."""
    if isinstance(node, LocatedDict):
        if key is not None and isinstance(key, str) and key in node.key_lines:
            return node.key_lines[key]
        return node.line
    if isinstance(node, LocatedList):
        if isinstance(key, int) and 0 <= key < len(node.item_lines):
            return node.item_lines[key]
        return node.line
    return None


class _PackLoader(yaml.SafeLoader):
    """SafeLoader with exact decimals, located containers and duplicate-key errors."""


def _construct_float(loader: _PackLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        msg = f"line {node.start_mark.line + 1}: only finite numbers are allowed, got {text!r}"
        raise yaml.constructor.ConstructorError(None, None, msg, node.start_mark)
    return value


def _construct_mapping(loader: _PackLoader, node: yaml.MappingNode) -> LocatedDict:
    loader.flatten_mapping(node)
    result = LocatedDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            msg = f"keys must be text; quote {key!r} (line {line})"
            raise PackError(msg, line=line)
        if key in result:
            msg = f"duplicate key {key!r} (first on line {result.key_lines[key]})"
            raise PackError(msg, line=line, field=key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _PackLoader, node: yaml.SequenceNode) -> LocatedList:
    result = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _reject_timestamp(loader: _PackLoader, node: yaml.ScalarNode) -> str:
    # Dates in packs are plain text to keep one parser (riskgrade.dates) in charge of them.
    return str(loader.construct_scalar(node))


_PackLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_PackLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_PackLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_PackLoader.add_constructor("tag:yaml.org,2002:timestamp", _reject_timestamp)


def load_yaml(text: str, *, file: str) -> Any:
    """Parse one pack file; raise :class:`PackError` naming the file and line on any problem."""
    try:
        return yaml.load(text, Loader=_PackLoader)
    except PackError as exc:
        raise PackError(exc.message, file=file, line=exc.line, field=exc.field) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        msg = f"invalid YAML: {exc.problem or exc}"
        raise PackError(msg, file=file, line=line) from None
    except yaml.YAMLError as exc:
        msg = f"invalid YAML: {exc}"
        raise PackError(msg, file=file) from None
