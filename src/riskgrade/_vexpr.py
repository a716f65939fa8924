"""Rule-pack expressions over columns: numpy translations of :mod:`riskgrade._expr`.

The native evaluator runs an expression once per record or re-grade point; the batch evaluator
runs it once per rule, over arrays holding every record (or point) at once. This module walks
the syntax tree of an expression that :func:`riskgrade._expr.compile_expression` has already
type-checked and evaluates each node over whole columns, keeping the language's rules for
missing values exactly (``None`` propagates through arithmetic, orderings with ``None`` are
false, ``==`` compares normally, ``and``/``or``/``not`` read ``None`` as false).

Numbers are exact: scaled 64-bit integers with a decimal exponent, never binary floats.
Anything that cannot be evaluated that way, or whose meaning would depend on Python details the
columns do not keep (division, free-text comparisons, a list attribute given as a bare string),
raises :class:`UnsupportedError`; the batch evaluator then refuses the pack rather than risk
another answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from riskgrade import _expr
from riskgrade.errors import EngineUnavailableError

__all__ = [
    "Frame",
    "UnsupportedError",
    "V",
    "align",
    "evaluate",
    "scaled_constant",
    "truthy",
]

B = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.integer[Any]]

_LIMIT: Final = 1 << 62


class UnsupportedError(EngineUnavailableError):
    """The numpy engine cannot evaluate this pack (or these records) exactly."""


class _NoConst:
    __slots__ = ()


NOCONST: Final = _NoConst()


class V:
    """A value over a frame of ``n`` rows.

    ``kind`` is one of ``bool``, ``num``, ``str``, ``date``, ``null``, ``text`` (a free text:
    only its presence is known), ``list``, ``record``, ``set`` or ``attr`` (an enterprise
    attribute: a string or a list of strings). ``present`` is ``None`` when every row has a
    value. A literal has ``const`` set and no arrays.
    """

    __slots__ = ("const", "elements", "exp", "kind", "offsets", "present", "record", "val", "vocab")

    def __init__(
        self,
        kind: str,
        val: npt.NDArray[np.generic] | None = None,
        present: B | None = None,
        *,
        exp: int = 0,
        vocab: tuple[str, ...] = (),
        const: object = NOCONST,
        offsets: I64 | None = None,
        elements: Frame | None = None,
        record: Frame | None = None,
    ) -> None:
        self.kind = kind
        self.val = val
        self.present = present
        self.exp = exp
        self.vocab = vocab
        self.const = const
        self.offsets = offsets
        self.elements = elements
        self.record = record

    @property
    def is_const(self) -> bool:
        return self.const is not NOCONST


class Frame:
    """What names mean over ``size`` rows; subclasses resolve them to :class:`V` values."""

    size: int
    #: Values of the syntax trees already evaluated over this frame, where the frame keeps
    #: them (a frame several filters read, over the same rows): equal trees are evaluated once.
    memo: dict[_expr.Node, V] | None = None

    def name(self, name: str) -> V:
        """Return the value of ``name`` (absent when the frame does not know it)."""
        raise NotImplementedError

    def element(self) -> V:
        """Return ``it``, the element itself, inside ``any()`` and ``all()``."""
        raise UnsupportedError("'it' is not available here")

    def count(self, name: str) -> I64:
        """Return the size of record set ``name`` on each row (top-level frames only)."""
        raise UnsupportedError(f"record set {name!r} is not available here")


def absent(n: int) -> V:
    """A value missing on every row."""
    return V("null", const=None)


def scaled_constant(value: Decimal) -> tuple[int, int]:
    """Return ``(mantissa, exponent)`` with ``value == mantissa * 10**-exponent``."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):
        raise UnsupportedError(f"the number {value} is not finite")
    exp = max(0, -exponent)
    scaled = value.scaleb(exp)
    mantissa = int(scaled)
    if Decimal(mantissa) != scaled or abs(mantissa) >= _LIMIT:
        raise UnsupportedError(f"the number {value} cannot be held as a scaled integer")
    return mantissa, exp


def _check(values: I64) -> I64:
    if len(values) and int(np.abs(values).max(initial=0)) >= _LIMIT:
        raise UnsupportedError("a number grew too large for exact 64-bit arithmetic")
    return values


def align(a: I64, a_exp: int, b_exp: int) -> I64:
    """Rescale mantissas ``a`` from exponent ``a_exp`` to ``b_exp`` (``b_exp >= a_exp``)."""
    if b_exp == a_exp:
        return a
    factor = 10 ** (b_exp - a_exp)
    if len(a) and int(np.abs(a).max(initial=0)) >= _LIMIT // factor:
        raise UnsupportedError("a number grew too large for exact 64-bit arithmetic")
    return a * np.int64(factor)


def present(v: V, n: int) -> B:
    """Return where ``v`` has a value."""
    if v.is_const:
        return np.full(n, v.const is not None)
    if v.kind == "null":
        return np.zeros(n, dtype=bool)
    return np.ones(n, dtype=bool) if v.present is None else v.present


def truthy(v: V, n: int) -> B:
    """Return ``bool(value)`` per row for a boolean (``None`` reads as false)."""
    if v.is_const:
        return np.full(n, bool(v.const))
    if v.kind == "null":
        return np.zeros(n, dtype=bool)
    if v.kind != "bool":
        raise UnsupportedError(f"a {v.kind} used as a condition")
    assert v.val is not None
    val = v.val.astype(bool, copy=False)
    return val if v.present is None else val & v.present


def _num(v: V, n: int) -> tuple[I64, int, B]:
    """Return mantissas, exponent and presence of a number (literal or column)."""
    if v.is_const:
        if v.const is None:
            return np.zeros(n, dtype=np.int64), 0, np.zeros(n, dtype=bool)
        if not isinstance(v.const, Decimal | int) or isinstance(v.const, bool):
            raise UnsupportedError("a non-number in arithmetic")
        mantissa, exp = scaled_constant(Decimal(v.const))
        return np.full(n, mantissa, dtype=np.int64), exp, np.ones(n, dtype=bool)
    if v.kind == "null":
        return np.zeros(n, dtype=np.int64), 0, np.zeros(n, dtype=bool)
    if v.kind != "num":
        raise UnsupportedError(f"a {v.kind} where a number was expected")
    assert v.val is not None
    return v.val.astype(np.int64, copy=False), v.exp, present(v, n)


def _nums(a: V, b: V, n: int) -> tuple[I64, I64, int, B, B]:
    av, ae, ap = _num(a, n)
    bv, be, bp = _num(b, n)
    exp = max(ae, be)
    return align(av, ae, exp), align(bv, be, exp), exp, ap, bp


def _codes_for(v: V, n: int, vocab: Sequence[str]) -> tuple[npt.NDArray[np.int64], B]:
    """Return ``v``'s strings as codes into ``vocab`` (-2 for strings not in it, -1 absent or
    not a string) with presence."""
    index = {word: i for i, word in enumerate(vocab)}
    if v.is_const:
        if v.const is None:
            return np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool)
        if not isinstance(v.const, str):
            raise UnsupportedError("a non-string compared with a string")
        return np.full(n, index.get(v.const, -2), dtype=np.int64), np.ones(n, dtype=bool)
    if v.kind == "null":
        return np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=bool)
    if v.kind not in ("str", "attr"):
        raise UnsupportedError(f"a {v.kind} compared as a string")
    assert v.val is not None
    mapping = np.array([index.get(word, -2) for word in v.vocab] + [-1], dtype=np.int64)
    if v.val.dtype == np.int8 and len(v.vocab) < 128:
        # Small codes: one look-up, the negative ones (absent) wrapping to the table's end.
        table = np.full(256, -1, dtype=np.int64)
        table[: len(v.vocab)] = mapping[:-1]
        found: npt.NDArray[np.int64] = table[v.val.view(np.uint8)]
        return found, present(v, n)
    codes = v.val.astype(np.int64)
    return mapping[np.where(codes < 0, len(v.vocab), codes)], present(v, n)


def _equal(a: V, b: V, n: int) -> B:
    if a.is_const and b.is_const:
        return np.full(n, a.const == b.const)
    if b.kind == "null" or (b.is_const and b.const is None):
        return ~present(a, n)
    if a.kind == "null" or (a.is_const and a.const is None):
        return ~present(b, n)
    kinds = {a.kind, b.kind} - {"const"}
    column = a if not a.is_const else b
    other = b if column is a else a
    if column.kind == "str" and other.is_const and isinstance(other.const, str):
        return _words_in(column, (other.const,))
    if column.kind in ("str", "attr"):
        vocab = tuple(
            sorted(
                set(a.vocab) | set(b.vocab) | {c for c in (a.const, b.const) if isinstance(c, str)}
            )
        )
        ac, ap = _codes_for(a, n, vocab)
        bc, bp = _codes_for(b, n, vocab)
        if (
            a.kind == "attr"
            and b.kind == "attr"
            and bool(((ac == -1) & ap).any() & ((bc == -1) & bp).any())
        ):
            raise UnsupportedError("two list attributes compared with '=='")
        same: B = (ap & bp & (ac == bc) & (ac >= 0)) | (~ap & ~bp)
        return same
    if column.kind == "num":
        av, bv, _, ap, bp = _nums(a, b, n)
        equal: B = (ap & bp & (av == bv)) | (~ap & ~bp)
        return equal
    if column.kind in ("bool", "date"):
        av, ap = _plain(a, n, column.kind)
        bv, bp = _plain(b, n, column.kind)
        alike: B = (ap & bp & (av == bv)) | (~ap & ~bp)
        return alike
    raise UnsupportedError(f"'==' between {', '.join(sorted(kinds))} values")


def _plain(v: V, n: int, kind: str) -> tuple[npt.NDArray[np.int64], B]:
    if v.is_const:
        if v.const is None:
            return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
        if kind == "bool" and isinstance(v.const, bool):
            return np.full(n, int(v.const), dtype=np.int64), np.ones(n, dtype=bool)
        raise UnsupportedError(f"a literal where a {kind} was expected")
    if v.kind == "null":
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    if v.kind != kind:
        raise UnsupportedError(f"a {v.kind} where a {kind} was expected")
    assert v.val is not None
    return v.val.astype(np.int64), present(v, n)


_ORDER: Final[Mapping[str, Callable[[I64, I64], B]]] = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def _ordering(op: str, a: V, b: V, n: int) -> B:
    av: I64
    bv: I64
    kind = a.kind if not a.is_const else b.kind
    if kind == "date":
        av, ap = _plain(a, n, "date")
        bv, bp = _plain(b, n, "date")
    else:
        av, bv, _, ap, bp = _nums(a, b, n)
    return ap & bp & _ORDER[op](av, bv)


def _arithmetic(op: str, a: V, b: V, n: int) -> V:
    if op == "/":
        raise UnsupportedError("division ('/') is not exact in scaled integers")
    if op == "*":
        av, ae, ap = _num(a, n)
        bv, be, bp = _num(b, n)
        if len(av) and int(np.abs(av).max(initial=0)) * int(np.abs(bv).max(initial=0)) >= _LIMIT:
            raise UnsupportedError("a product grew too large for exact 64-bit arithmetic")
        return V("num", av * bv, ap & bp, exp=ae + be)
    av, bv, exp, ap, bp = _nums(a, b, n)
    out = av + bv if op == "+" else av - bv
    return V("num", _check(out), ap & bp, exp=exp)


def _words_in(v: V, words: Sequence[str]) -> B:
    """Where string column ``v`` holds one of ``words`` (false where it is absent): what
    ``v == word`` or ``v in [words]`` give, by one look-up in a table over ``v``'s vocabulary."""
    assert v.val is not None
    hit = np.array([word in words for word in v.vocab] + [False], dtype=bool)
    codes = np.flatnonzero(hit)
    if len(codes) <= 2:  # a comparison or two is cheaper than a look-up per row
        equal = np.zeros(len(v.val), dtype=bool)
        for code in codes.tolist():
            equal |= v.val == code
        return equal if v.present is None else equal & v.present
    if v.val.dtype == np.int8 and len(v.vocab) < 128:
        table = np.zeros(256, dtype=bool)  # negative codes (absent) wrap past the vocabulary
        table[: len(v.vocab)] = hit[:-1]
        found: B = table[v.val.view(np.uint8)]
    else:
        codes = v.val.astype(np.int64)
        found = hit[np.where(codes < 0, len(v.vocab), codes)]
    return found if v.present is None else found & v.present


def _membership(left: V, right: V, negate: bool, n: int) -> B:
    if right.is_const:
        assert isinstance(right.const, tuple)
        if left.kind == "str" and all(isinstance(member, str) for member in right.const):
            hit = _words_in(left, right.const)
            return ~hit if negate else hit
        found = np.zeros(n, dtype=bool)
        for member in right.const:
            found |= _equal(left, V("const", const=member), n)
        return ~found if negate else found
    if right.kind == "null":
        return np.full(n, negate)
    if right.kind == "attr":
        right = _as_list(right)
    if right.kind != "list" or right.offsets is None or right.elements is None:
        raise UnsupportedError("'in' over a value that is not a list")
    element = right.elements.element()
    parent = _parents(right.offsets)
    m = len(parent)
    lifted = _take(left, parent, m)
    matches = _equal(lifted, element, m)
    found = np.bincount(parent[matches], minlength=n)[:n] > 0
    has_list = present(right, n)
    result = found if not negate else ~found
    return np.where(has_list, result, negate)


def _take(v: V, rows: I64, m: int) -> V:
    """Return ``v`` with its rows picked by ``rows`` (a literal stays a literal)."""
    if v.is_const or v.kind == "null":
        return v
    if v.kind in ("list", "record", "set"):
        raise UnsupportedError(f"a {v.kind} inside any()/all() refers to the outer scope")
    assert v.val is not None
    return V(
        v.kind,
        v.val[rows],
        None if v.present is None else v.present[rows],
        exp=v.exp,
        vocab=v.vocab,
    )


def _parents(offsets: I64) -> I64:
    counts = np.diff(offsets)
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def _as_list(v: V) -> V:
    """Return an attribute value used as a list: its values as a list of strings."""
    if v.kind != "attr":
        return v
    assert v.val is not None
    assert v.offsets is not None
    assert v.elements is not None
    is_string = v.val == -3
    if bool(is_string.any()):
        raise UnsupportedError("a list attribute given as a single string is used as a list")
    return V("list", present=v.present, offsets=v.offsets, elements=v.elements)


def _quantifier(every: bool, sequence: V, condition: _expr.Node, n: int) -> B:
    if sequence.kind == "null" or (sequence.is_const and sequence.const is None):
        return np.full(n, every)
    sequence = _as_list(sequence)
    if sequence.kind != "list" or sequence.offsets is None or sequence.elements is None:
        raise UnsupportedError("any()/all() over a value that is not a list")
    frame = sequence.elements
    parent = _parents(sequence.offsets)
    holds = truthy(evaluate(condition, frame), frame.size)
    if every:
        failing = np.bincount(parent[~holds], minlength=n)[:n] > 0
        return ~failing
    return np.bincount(parent[holds], minlength=n)[:n] > 0


def _extreme(name: str, args: Sequence[V], n: int) -> V:
    kinds = {a.kind for a in args if not a.is_const and a.kind != "null"}
    values: list[tuple[I64, B]]
    if kinds == {"date"}:
        values = [_plain(a, n, "date") for a in args]
        exp = 0
        kind = "date"
    else:
        nums = [_num(a, n) for a in args]
        exp = max(e for _, e, _ in nums)
        values = [(align(v, e, exp), p) for v, e, p in nums]
        kind = "num"
    best = values[0][0].copy()
    has = values[0][1].copy()
    better = np.greater if name == "max" else np.less
    for value, pres in values[1:]:
        take = pres & (~has | better(value, best))
        best = np.where(take, value, best)
        has |= pres
    if kind == "date":
        return V("date", best.astype(np.int32), has)
    return V("num", best, has, exp=exp)


def evaluate(node: _expr.Node, frame: Frame) -> V:
    """Evaluate a type-checked syntax tree over every row of ``frame``."""
    memo = frame.memo
    if memo is None:
        return _evaluate(node, frame)
    found = memo.get(node)
    if found is None:
        found = memo[node] = _evaluate(node, frame)
    return found


def _evaluate(node: _expr.Node, frame: Frame) -> V:
    n = frame.size
    if isinstance(node, _expr._Literal):
        return V("const", const=node.value)
    if isinstance(node, _expr._ListNode):
        items = [evaluate(item, frame) for item in node.items]
        if not all(item.is_const for item in items):
            raise UnsupportedError("a list literal with computed items")
        return V("const", const=tuple(item.const for item in items))
    if isinstance(node, _expr._PathNode):
        return _path(node, frame)
    if isinstance(node, _expr._UnaryNode):
        operand = evaluate(node.operand, frame)
        if node.op == "not":
            if operand.is_const:
                return V("const", const=not operand.const)
            return V("bool", ~truthy(operand, n))
        if operand.is_const:
            return V("const", const=None if operand.const is None else -operand.const)  # type: ignore[operator]
        values, exp, pres = _num(operand, n)
        return V("num", -values, pres, exp=exp)
    if isinstance(node, _expr._LogicNode):
        operands = [evaluate(operand, frame) for operand in node.operands]
        if all(o.is_const for o in operands):
            if node.op == "and":
                return V("const", const=all(bool(o.const) for o in operands))
            return V("const", const=any(bool(o.const) for o in operands))
        result = truthy(operands[0], n).copy()
        for operand in operands[1:]:
            if node.op == "and":
                result &= truthy(operand, n)
            else:
                result |= truthy(operand, n)
        return V("bool", result)
    if isinstance(node, _expr._BinaryNode):
        return _binary(node, frame)
    assert isinstance(node, _expr._CallNode)
    return _call(node, frame)


def _binary(node: _expr._BinaryNode, frame: Frame) -> V:
    n = frame.size
    left = evaluate(node.left, frame)
    right = evaluate(node.right, frame)
    op = node.op
    if left.is_const and right.is_const:
        return V("const", const=_fold(op, left.const, right.const))
    if op in ("+", "-", "*", "/"):
        return _arithmetic(op, left, right, n)
    if op in ("==", "!="):
        equal = _equal(left, right, n)
        return V("bool", equal if op == "==" else ~equal)
    if op in ("in", "not in"):
        return V("bool", _membership(left, right, op == "not in", n))
    return V("bool", _ordering(op, left, right, n))


def _fold(op: str, a: object, b: object) -> object:
    """Evaluate an operator on two literals as the native language does."""
    if op in ("+", "-", "*", "/"):
        if a is None or b is None:
            return None
        assert isinstance(a, Decimal)
        assert isinstance(b, Decimal)
        if op == "/":
            raise UnsupportedError("division ('/') is not exact in scaled integers")
        return a + b if op == "+" else a - b if op == "-" else a * b
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op in ("in", "not in"):
        found = b is not None and a in b  # type: ignore[operator]
        return found if op == "in" else (b is None or not found)
    if a is None or b is None:
        return False
    return (
        bool(_ORDER[op](np.array([a]), np.array([b]))[0])
        if not isinstance(a, Decimal)
        else {
            "<": a < b,  # type: ignore[operator]
            "<=": a <= b,  # type: ignore[operator]
            ">": a > b,  # type: ignore[operator]
            ">=": a >= b,  # type: ignore[operator]
        }[op]
    )


def _path(node: _expr._PathNode, frame: Frame) -> V:
    head = node.parts[0]
    value = frame.element() if head == "it" and _has_element(frame) else frame.name(head)
    for part in node.parts[1:]:
        if value.kind == "null" or (value.is_const and value.const is None):
            return V("null", const=None)
        if value.kind != "record" or value.record is None:
            raise UnsupportedError(f"field {part!r} of a {value.kind}")
        inner = value.record.name(part)
        if value.present is not None:
            inner = _mask(inner, value.present)
        value = inner
    return value


def _mask(v: V, where: B) -> V:
    """Return ``v`` absent wherever ``where`` is false."""
    if v.is_const or v.kind == "null":
        return v
    pres = where if v.present is None else v.present & where
    return V(
        v.kind,
        v.val,
        pres,
        exp=v.exp,
        vocab=v.vocab,
        offsets=v.offsets,
        elements=v.elements,
        record=v.record,
    )


def _has_element(frame: Frame) -> bool:
    try:
        frame.element()
    except UnsupportedError:
        return False
    return True


def _call(node: _expr._CallNode, frame: Frame) -> V:
    n = frame.size
    name = node.name
    if name in ("count", "exists"):
        argument = node.args[0]
        assert isinstance(argument, _expr._PathNode)
        counts = frame.count(argument.parts[0])
        if name == "count":
            return V("num", counts)
        return V("bool", counts > 0)
    if name in ("any", "all"):
        sequence = evaluate(node.args[0], frame)
        return V("bool", _quantifier(name == "all", sequence, node.args[1], n))
    if name == "has":
        value = evaluate(node.args[0], frame)
        if value.is_const:
            return V("const", const=value.const is not None)
        return V("bool", present(value, n))
    if name == "len":
        value = evaluate(node.args[0], frame)
        if value.kind == "null" or (value.is_const and value.const is None):
            return V("null", const=None)
        if value.is_const:
            assert isinstance(value.const, tuple)
            return V("const", const=Decimal(len(value.const)))
        value = _as_list(value)
        if value.kind != "list" or value.offsets is None:
            raise UnsupportedError("len() of a value that is not a list")
        return V("num", np.diff(value.offsets).astype(np.int64), value.present)
    if name in ("max", "min"):
        args = [evaluate(argument, frame) for argument in node.args]
        if all(a.is_const for a in args):
            known = [a.const for a in args if a.const is not None]
            if not known:
                return V("const", const=None)
            return V("const", const=max(known) if name == "max" else min(known))  # type: ignore[type-var]
        return _extreme(name, args, n)
    raise UnsupportedError(f"function {name}()")
