"""Translation of pack conditions into durable-rules conditions (pure Python, no engine needed).

A rule condition of a pack (``count(failed_checks) >= 3 and not exists(passed_checks)``) reads
the pack scope at one re-grade date: record-set sizes, scores and enterprise attributes. Here it
becomes a condition of durable-rules' JSON ruleset language over one *fact* that carries those
features as plain fields:

==========================  =====================================================================
field                       value
==========================  =====================================================================
``count.<set>``             the number of records in the set (an integer)
``score.<score>``           the score as an exact integer in units of 10^-places (e.g. tenths)
``kind.<attribute>``        0 absent, 1 one text value, 2 a list of values
``attributes.<attribute>``  the text value ("" unless kind 1); for a list attribute, the list
``len.<attribute>``         for a list attribute: its number of values (0 when absent)
``t``                       always 1 (the catch-all rule and constant conditions test it)
==========================  =====================================================================

Every field is always present, so every test is total and ``not`` can be pushed down to the
tests (durable-rules negates whole facts, not single tests). Numbers are integers only:
durable-rules rejects numbers written in exponent form and never matches NaN, so a comparison
of scores is rescaled to integer units and, where a bound falls between two units, rounded the
way that keeps it exact (``x > 19.95`` in tenths is ``x > 199``).

The subset translated exactly: ``and``/``or``/``not``; ``count``/``exists`` of sets; ``has``;
comparisons of linear expressions over counts, scores and ``len()`` (constant factors, division
by constants whose decimal expansion terminates, ``max``/``min``); equality and ``in`` of text
attributes against literals; ``any``/``all`` of a list attribute with conditions on ``it``.
Anything else raises :class:`UntranslatableError`, which the caller turns into a
:class:`~riskgrade.errors.PackError` naming the rule: a pack is refused for this engine when it is
loaded, never half-run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Final, Literal, TypeAlias

from riskgrade import _expr

__all__ = [
    "TRUTH_FIELD",
    "And",
    "BoolIR",
    "Const",
    "ElemTest",
    "Items",
    "Or",
    "ScopeSpec",
    "Sum",
    "Test",
    "Translated",
    "UntranslatableError",
    "conj",
    "disj",
    "emit",
    "fields_of",
    "negate",
    "translate",
    "translated",
]

TRUTH_FIELD: Final = "t"
Op: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">="]
_OPS: Final[Mapping[str, Op]] = {op: op for op in ("==", "!=", "<", "<=", ">", ">=")}
_NEGATED: Final[Mapping[str, Op]] = {
    "==": "!=",
    "!=": "==",
    "<": ">=",
    ">=": "<",
    ">": "<=",
    "<=": ">",
}
_MIRRORED: Final[Mapping[str, Op]] = {
    "==": "==",
    "!=": "!=",
    "<": ">",
    ">": "<",
    "<=": ">=",
    ">=": "<=",
}
_DURABLE_OPS: Final[Mapping[str, str]] = {
    "!=": "$neq",
    "<": "$lt",
    "<=": "$lte",
    ">": "$gt",
    ">=": "$gte",
}


class UntranslatableError(Exception):
    """A condition uses something durable-rules cannot match exactly; ``pos`` is its offset."""

    def __init__(self, reason: str, pos: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


@dataclass(frozen=True)
class ScopeSpec:
    """What the pack scope holds, as far as translation needs it.

    ``scores`` maps each score to the decimal places of its integer unit (1 means tenths);
    ``attributes`` maps each attribute to whether it takes a list of values. ``scores`` is empty
    where conditions may not read scores (condition terms of scores).
    """

    sets: frozenset[str]
    scores: Mapping[str, int]
    attributes: Mapping[str, bool]


# --------------------------------------------------------------------------------------------
# The boolean form: tests on always-present fields, and/or, constants


@dataclass(frozen=True)
class Sum:
    """An integer expression over fields: ``constant + Σ coefficient * field``."""

    terms: tuple[tuple[int, str], ...]
    constant: int = 0


@dataclass(frozen=True)
class Test:
    """``field op value``: a comparison of one fact field with an integer, a text or a Sum."""

    field: str
    op: Op
    value: int | str | Sum


@dataclass(frozen=True)
class ElemTest:
    """Inside ``$iany``/``$iall``: the list element ``op`` a text."""

    op: Literal["==", "!="]
    value: str


@dataclass(frozen=True)
class Const:
    """A condition that holds always or never."""

    value: bool


@dataclass(frozen=True)
class And:
    """Every part holds."""

    parts: tuple[BoolIR, ...]


@dataclass(frozen=True)
class Or:
    """At least one part holds."""

    parts: tuple[BoolIR, ...]


@dataclass(frozen=True)
class Items:
    """durable-rules' list tests on ``field``: ``$iany`` (some element satisfies ``cond``) or,
    with ``every``, ``$iall`` (the list is non-empty and every element satisfies it)."""

    field: str
    every: bool
    cond: BoolIR  # built from ElemTest, Const, And, Or


BoolIR: TypeAlias = Const | Test | ElemTest | And | Or | Items


def conj(parts: list[BoolIR] | tuple[BoolIR, ...]) -> BoolIR:
    """Return the conjunction of ``parts``, flattened and with constants folded."""
    out: list[BoolIR] = []
    for part in parts:
        if isinstance(part, Const):
            if not part.value:
                return part
            continue
        items = part.parts if isinstance(part, And) else (part,)
        for item in items:
            if item not in out:
                out.append(item)
    if not out:
        return Const(True)
    return out[0] if len(out) == 1 else And(tuple(out))


def disj(parts: list[BoolIR] | tuple[BoolIR, ...]) -> BoolIR:
    """Return the disjunction of ``parts``, flattened and with constants folded."""
    out: list[BoolIR] = []
    for part in parts:
        if isinstance(part, Const):
            if part.value:
                return part
            continue
        items = part.parts if isinstance(part, Or) else (part,)
        for item in items:
            if item not in out:
                out.append(item)
    if not out:
        return Const(False)
    return out[0] if len(out) == 1 else Or(tuple(out))


def negate(ir: BoolIR) -> BoolIR:
    """Return the negation of ``ir`` in negation normal form (every field is always present)."""
    if isinstance(ir, Const):
        return Const(not ir.value)
    if isinstance(ir, Test):
        return Test(ir.field, _NEGATED[ir.op], ir.value)
    if isinstance(ir, ElemTest):
        return ElemTest("!=" if ir.op == "==" else "==", ir.value)
    if isinstance(ir, And):
        return disj([negate(p) for p in ir.parts])
    if isinstance(ir, Or):
        return conj([negate(p) for p in ir.parts])
    # not ∃c = empty ∨ ∀¬c;  not (non-empty ∧ ∀c) = empty ∨ ∃¬c
    empty = Test(_len_field_of(ir.field), "==", 0)
    return disj([empty, Items(ir.field, not ir.every, negate(ir.cond))])


def _len_field_of(list_field: str) -> str:
    return "len." + list_field.removeprefix("attributes.")


# --------------------------------------------------------------------------------------------
# Numbers: linear expressions over fields, with max/min atoms


@dataclass(frozen=True)
class _Field:
    name: str
    unit: Fraction  # the value of one integer unit of the field


@dataclass(frozen=True)
class _Extreme:
    kind: Literal["max", "min"]
    args: tuple[_Lin, ...]


_Atom: TypeAlias = _Field | _Extreme


@dataclass(frozen=True)
class _Lin:
    """``constant + Σ coefficient * atom``; None when an attribute in ``optional`` is absent."""

    terms: tuple[tuple[_Atom, Fraction], ...] = ()
    constant: Fraction = Fraction(0)
    optional: frozenset[str] = frozenset()

    @property
    def is_constant(self) -> bool:
        return not self.terms

    def scaled(self, factor: Fraction) -> _Lin:
        if factor == 0:
            return _Lin(constant=Fraction(0), optional=self.optional)
        return _Lin(
            tuple((atom, coef * factor) for atom, coef in self.terms),
            self.constant * factor,
            self.optional,
        )

    def plus(self, other: _Lin) -> _Lin:
        merged: dict[_Atom, Fraction] = dict(self.terms)
        for atom, coef in other.terms:
            merged[atom] = merged.get(atom, Fraction(0)) + coef
        terms = tuple((atom, coef) for atom, coef in merged.items() if coef != 0)
        return _Lin(terms, self.constant + other.constant, self.optional | other.optional)


def _terminating(value: Fraction) -> bool:
    """Whether ``value`` has a finite decimal expansion (so Decimal arithmetic keeps it exact)."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


# --------------------------------------------------------------------------------------------
# The translator


def translate(source: str, scope: ScopeSpec) -> BoolIR:
    """Translate the type-checked boolean expression ``source`` over ``scope``.

    Raises :class:`UntranslatableError` for anything outside the exactly translatable subset.
    """
    return _Translator(scope).boolean(_expr.syntax_tree(source))


_Sort: TypeAlias = Literal["number", "string", "bool", "null", "list", "record", "set"]


class _Translator:
    def __init__(self, scope: ScopeSpec) -> None:
        self.scope = scope

    # -- what a node is --------------------------------------------------------------------
    def sort(self, node: _expr.Node) -> _Sort:
        if isinstance(node, _expr.LiteralNode):
            value = node.value
            if value is None:
                return "null"
            if isinstance(value, bool):
                return "bool"
            return "string" if isinstance(value, str) else "number"
        if isinstance(node, _expr.ListNode):
            return "list"
        if isinstance(node, _expr.PathNode):
            return self.path_sort(node)
        if isinstance(node, _expr.CallNode):
            return "number" if node.name in ("count", "len", "max", "min") else "bool"
        if isinstance(node, _expr.UnaryNode):
            return "bool" if node.op == "not" else "number"
        if isinstance(node, _expr.BinaryNode):
            return "number" if node.op in ("+", "-", "*", "/") else "bool"
        return "bool"

    def path_sort(self, node: _expr.PathNode) -> _Sort:
        parts = node.parts
        head = parts[0]
        if head == "attributes":
            if len(parts) == 1:
                return "record"
            if len(parts) == 2 and parts[1] in self.scope.attributes:
                return "list" if self.scope.attributes[parts[1]] else "string"
        elif head == "score":
            if len(parts) == 1:
                return "record"
            if len(parts) == 2 and parts[1] in self.scope.scores:
                return "number"
        elif head in self.scope.sets and len(parts) == 1:
            return "set"
        raise UntranslatableError(f"unknown name {node.text!r}", node.pos)

    # -- conditions ------------------------------------------------------------------------
    def boolean(self, node: _expr.Node) -> BoolIR:
        if isinstance(node, _expr.LiteralNode) and isinstance(node.value, bool):
            return Const(node.value)
        if isinstance(node, _expr.LogicNode):
            parts = [self.boolean(operand) for operand in node.operands]
            return conj(parts) if node.op == "and" else disj(parts)
        if isinstance(node, _expr.UnaryNode) and node.op == "not":
            return negate(self.boolean(node.operand))
        if isinstance(node, _expr.BinaryNode):
            if node.op in ("in", "not in"):
                found = self.membership(node)
                return negate(found) if node.op == "not in" else found
            if node.op in _OPS:
                return self.comparison(node.left, _OPS[node.op], node.right, node.op_pos)
        if isinstance(node, _expr.CallNode):
            return self.call(node)
        raise UntranslatableError("not a condition the durable engine can match", node.pos)

    def call(self, node: _expr.CallNode) -> BoolIR:
        name = node.name
        if name == "exists":
            return Test(self.set_field(node), ">", 0)
        if name == "has":
            return self.is_null(node.args[0], node.pos, negated=True)
        if name in ("any", "all"):
            return self.quantifier(node)
        reason = f"function {name}() is not supported by the durable engine"
        raise UntranslatableError(reason, node.pos)

    def set_field(self, node: _expr.CallNode) -> str:
        argument = node.args[0]
        if not isinstance(argument, _expr.PathNode) or self.sort(argument) != "set":
            raise UntranslatableError(f"{node.name}() needs a record set", node.pos)
        return "count." + argument.parts[0]

    # -- null ------------------------------------------------------------------------------
    def is_null(self, node: _expr.Node, pos: int, *, negated: bool = False) -> BoolIR:
        """``node == null`` (or, ``negated``, ``has(node)``)."""
        sort = self.sort(node)
        result: BoolIR
        if sort == "null":
            result = Const(True)
        elif isinstance(node, _expr.PathNode) and sort in ("string", "list"):
            result = Test("kind." + node.parts[1], "==", 0)
        elif sort == "number":
            result = self.none(self.number(node))
        elif sort in ("string", "bool", "record", "list"):
            # literals, conditions, the attribute and score records are never missing
            literal = isinstance(node, _expr.LiteralNode | _expr.ListNode)
            if sort in ("string", "list") and not literal:
                raise UntranslatableError("cannot tell whether this value is missing", pos)
            result = Const(False)
        else:
            raise UntranslatableError("cannot tell whether this value is missing", pos)
        return negate(result) if negated else result

    def none(self, lin: _Lin) -> BoolIR:
        """Whether a number is missing: one of its ``len()`` lists is absent."""
        return disj([Test("kind." + name, "==", 0) for name in sorted(lin.optional)])

    # -- comparisons -----------------------------------------------------------------------
    def comparison(self, left: _expr.Node, op: Op, right: _expr.Node, pos: int) -> BoolIR:
        left_sort, right_sort = self.sort(left), self.sort(right)
        if left_sort == "null" or right_sort == "null":
            other = right if left_sort == "null" else left
            found = self.is_null(other, pos)
            return negate(found) if op == "!=" else found
        if left_sort == "number" and right_sort == "number":
            return self.numeric(self.number(left), op, self.number(right), pos)
        if left_sort == "string" and right_sort == "string":
            found = self.text_equality(left, right, pos)
            return negate(found) if op == "!=" else found
        if left_sort == "bool" and right_sort == "bool":
            a, b = self.boolean(left), self.boolean(right)
            same = disj([conj([a, b]), conj([negate(a), negate(b)])])
            return negate(same) if op == "!=" else same
        raise UntranslatableError(f"cannot compare {left_sort} with {right_sort} here", pos)

    def text_equality(self, left: _expr.Node, right: _expr.Node, pos: int) -> BoolIR:
        if isinstance(left, _expr.LiteralNode) and isinstance(right, _expr.LiteralNode):
            return Const(left.value == right.value)
        if isinstance(left, _expr.LiteralNode):
            left, right = right, left
        if not isinstance(left, _expr.PathNode) or not isinstance(right, _expr.LiteralNode):
            reason = "compare an attribute with a literal text, not with another attribute"
            raise UntranslatableError(reason, pos)
        assert isinstance(right.value, str)
        name = left.parts[1]
        # A one-element list given for a single-valued attribute equals no text (kind 2).
        return conj([Test("kind." + name, "==", 1), Test("attributes." + name, "==", right.value)])

    def membership(self, node: _expr.BinaryNode) -> BoolIR:
        container = node.right
        if isinstance(container, _expr.ListNode):
            return disj(
                [self.comparison(node.left, "==", item, node.op_pos) for item in container.items]
            )
        if isinstance(container, _expr.PathNode) and self.sort(container) == "list":
            needle = node.left
            if not isinstance(needle, _expr.LiteralNode):
                reason = "only a literal can be looked for in a list attribute"
                raise UntranslatableError(reason, node.pos)
            if not isinstance(needle.value, str):
                return Const(False)  # the list holds texts only
            return Items("attributes." + container.parts[1], False, ElemTest("==", needle.value))
        raise UntranslatableError("'in' needs a list literal or a list attribute", node.right.pos)

    def quantifier(self, node: _expr.CallNode) -> BoolIR:
        sequence = node.args[0]
        if not (isinstance(sequence, _expr.PathNode) and self.sort(sequence) == "list"):
            reason = f"{node.name}() over anything but a list attribute is not supported"
            raise UntranslatableError(reason, sequence.pos)
        name = sequence.parts[1]
        cond = self.element(node.args[1])
        if node.name == "any":
            if isinstance(cond, Const):
                return Test("len." + name, ">", 0) if cond.value else cond
            return Items("attributes." + name, False, cond)
        if isinstance(cond, Const):
            return cond if cond.value else Test("len." + name, "==", 0)
        return disj([Test("len." + name, "==", 0), Items("attributes." + name, True, cond)])

    def element(self, node: _expr.Node) -> BoolIR:
        """A condition on ``it``, a text element of a list attribute."""
        if isinstance(node, _expr.LiteralNode) and isinstance(node.value, bool):
            return Const(node.value)
        if isinstance(node, _expr.LogicNode):
            parts = [self.element(operand) for operand in node.operands]
            return conj(parts) if node.op == "and" else disj(parts)
        if isinstance(node, _expr.UnaryNode) and node.op == "not":
            return negate(self.element(node.operand))
        if isinstance(node, _expr.CallNode) and node.name == "has" and _is_it(node.args[0]):
            return Const(True)
        if isinstance(node, _expr.BinaryNode):
            if node.op in ("==", "!="):
                found = self.element_equality(node.left, node.right, node.op_pos)
                return negate(found) if node.op == "!=" else found
            if node.op in ("in", "not in") and isinstance(node.right, _expr.ListNode):
                found = disj(
                    [
                        self.element_equality(node.left, item, node.op_pos)
                        for item in node.right.items
                    ]
                )
                return negate(found) if node.op == "not in" else found
        raise UntranslatableError("inside any()/all() only it == / != / in literal texts", node.pos)

    def element_equality(self, left: _expr.Node, right: _expr.Node, pos: int) -> BoolIR:
        if _is_it(right):
            left, right = right, left
        if isinstance(left, _expr.LiteralNode) and isinstance(right, _expr.LiteralNode):
            return Const(left.value == right.value)
        if not _is_it(left) or not isinstance(right, _expr.LiteralNode):
            raise UntranslatableError("inside any()/all() compare it with a literal", pos)
        if not isinstance(right.value, str):
            return Const(False)  # elements are texts, never null
        return ElemTest("==", right.value)

    # -- numbers ---------------------------------------------------------------------------
    def number(self, node: _expr.Node) -> _Lin:
        if isinstance(node, _expr.LiteralNode):
            assert isinstance(node.value, Decimal)
            return _Lin(constant=Fraction(node.value))
        if isinstance(node, _expr.PathNode):
            if self.sort(node) != "number":
                raise UntranslatableError(f"{node.text} is not a number", node.pos)
            name = node.parts[1]
            unit = Fraction(1, 10 ** self.scope.scores[name])
            return _Lin(((_Field("score." + name, unit), Fraction(1)),))
        if isinstance(node, _expr.UnaryNode) and node.op == "-":
            return self.number(node.operand).scaled(Fraction(-1))
        if isinstance(node, _expr.BinaryNode) and node.op in ("+", "-", "*", "/"):
            return self.arithmetic(node)
        if isinstance(node, _expr.CallNode):
            if node.name == "count":
                return _Lin(((_Field(self.set_field(node), Fraction(1)), Fraction(1)),))
            if node.name == "len":
                argument = node.args[0]
                if isinstance(argument, _expr.ListNode):
                    return _Lin(constant=Fraction(len(argument.items)))
                if isinstance(argument, _expr.PathNode) and self.sort(argument) == "list":
                    name = argument.parts[1]
                    field_ = _Field("len." + name, Fraction(1))
                    return _Lin(((field_, Fraction(1)),), optional=frozenset({name}))
            if node.name in ("max", "min"):
                return self.extreme(node)
        raise UntranslatableError("not a number the durable engine can compute", node.pos)

    def arithmetic(self, node: _expr.BinaryNode) -> _Lin:
        left, right = self.number(node.left), self.number(node.right)
        if node.op == "+":
            return left.plus(right)
        if node.op == "-":
            return left.plus(right.scaled(Fraction(-1)))
        if node.op == "*":
            if right.is_constant:
                return left.scaled(right.constant).plus(_Lin(optional=right.optional))
            if left.is_constant:
                return right.scaled(left.constant).plus(_Lin(optional=left.optional))
            reason = "durable-rules compares linear expressions only (multiply by a constant)"
            raise UntranslatableError(reason, node.op_pos)
        if not right.is_constant:
            raise UntranslatableError("divide by a constant only", node.op_pos)
        if right.constant == 0:
            raise UntranslatableError("division by zero", node.op_pos)
        factor = 1 / right.constant
        if not _terminating(factor):
            reason = (
                f"dividing by {right.constant} is not exact in decimal arithmetic, "
                "so no integer comparison can agree with it"
            )
            raise UntranslatableError(reason, node.op_pos)
        return left.scaled(factor).plus(_Lin(optional=right.optional))

    def extreme(self, node: _expr.CallNode) -> _Lin:
        args = tuple(self.number(argument) for argument in node.args)
        for argument, lin in zip(node.args, args, strict=True):
            if lin.optional:
                reason = f"{node.name}() of a value that may be missing (len) is not supported"
                raise UntranslatableError(reason, argument.pos)
        if all(arg.is_constant for arg in args):
            pick = max if node.name == "max" else min
            return _Lin(constant=pick(arg.constant for arg in args))
        kind: Literal["max", "min"] = "max" if node.name == "max" else "min"
        return _Lin(((_Extreme(kind, args), Fraction(1)),))

    def numeric(self, left: _Lin, op: Op, right: _Lin, pos: int) -> BoolIR:
        """``left op right``, with the null semantics of the expression language."""
        difference = left.plus(right.scaled(Fraction(-1)))
        if not difference.optional:
            return _compare(difference, op, pos)
        present = conj([Test("kind." + name, "!=", 0) for name in sorted(difference.optional)])
        if op not in ("==", "!="):
            return conj([present, _compare(difference, op, pos)])  # a missing side: false
        both_missing = (
            conj([self.none(left), self.none(right)])
            if left.optional and right.optional
            else Const(False)
        )
        equal = disj([both_missing, conj([present, _compare(difference, "==", pos)])])
        return equal if op == "==" else negate(equal)


def _is_it(node: _expr.Node) -> bool:
    return isinstance(node, _expr.PathNode) and node.parts == ("it",)


def _compare(lin: _Lin, op: Op, pos: int) -> BoolIR:
    """``lin op 0`` for a linear expression whose fields are all present."""
    for atom, coef in lin.terms:
        if isinstance(atom, _Extreme):
            return _compare_extreme(lin, atom, coef, op, pos)
    return _compare_linear(lin, op, pos)


def _compare_extreme(lin: _Lin, atom: _Extreme, coef: Fraction, op: Op, pos: int) -> BoolIR:
    """Eliminate one max()/min(): ``c * max(A) + rest op 0`` by cases over the arguments."""
    if op == "!=":
        return negate(_compare_extreme(lin, atom, coef, "==", pos))
    rest = _Lin(tuple((a, c) for a, c in lin.terms if a != atom), lin.constant)
    kind, args = atom.kind, atom.args
    if coef < 0:  # c × max(A) = |c| × min(-A)
        kind = "min" if kind == "max" else "max"
        args = tuple(arg.scaled(Fraction(-1)) for arg in args)
        coef = -coef
    cases = [arg.scaled(coef).plus(rest) for arg in args]
    if op == "==":
        # max(A) + rest == 0: some A_i gives it, and A_i is the largest (smallest for min)
        order: Op = "<=" if kind == "max" else ">="
        return disj(
            [
                conj(
                    [
                        _compare(case, "==", pos),
                        *(
                            _compare(other.plus(args[i].scaled(Fraction(-1))), order, pos)
                            for j, other in enumerate(args)
                            if j != i
                        ),
                    ]
                )
                for i, case in enumerate(cases)
            ]
        )
    some = (kind == "max") == (op in (">", ">="))
    parts = [_compare(case, op, pos) for case in cases]
    return disj(parts) if some else conj(parts)


def _compare_linear(lin: _Lin, op: Op, pos: int) -> BoolIR:
    # Σ coef × (unit × T) + constant  op  0, with T the integer sent for each field.
    weights: dict[str, Fraction] = {}
    for atom, coef in lin.terms:
        assert isinstance(atom, _Field)
        weights[atom.name] = weights.get(atom.name, Fraction(0)) + coef * atom.unit
    weights = {name: w for name, w in weights.items() if w != 0}
    if not weights:
        return Const(_holds(lin.constant, op))
    scale = math.lcm(*(w.denominator for w in weights.values()))
    integers = {name: int(w * scale) for name, w in weights.items()}
    divisor = math.gcd(*integers.values())
    coefficients = {name: value // divisor for name, value in integers.items()}
    bound = -lin.constant * scale / divisor  # Σ coefficients × T  op  bound
    pivot = next((name for name, c in coefficients.items() if abs(c) == 1), None)
    if pivot is None:
        reason = (
            "durable-rules puts a single field on the left of a comparison; none here has a "
            "factor of 1 once the comparison is in whole units"
        )
        raise UntranslatableError(reason, pos)
    if coefficients[pivot] == -1:
        coefficients = {name: -c for name, c in coefficients.items()}
        bound = -bound
        op = _MIRRORED[op]
    # T_pivot + Σ others op bound, where the left side is an integer: round the bound to one.
    others = tuple((-c, name) for name, c in coefficients.items() if name != pivot)
    if op in ("==", "!="):
        if bound.denominator != 1:
            return Const(op == "!=")
        constant = int(bound)
    elif op in (">", "<="):
        constant = math.floor(bound)
    else:
        constant = math.ceil(bound)
    return Test(pivot, op, Sum(others, constant) if others else constant)


def _holds(value: Fraction, op: Op) -> bool:
    return {
        "==": value == 0,
        "!=": value != 0,
        "<": value < 0,
        "<=": value <= 0,
        ">": value > 0,
        ">=": value >= 0,
    }[op]


# --------------------------------------------------------------------------------------------
# Emission: the JSON of durable-rules' ruleset language


def emit(ir: BoolIR) -> dict[str, object]:
    """Return the durable-rules condition (the value under ``"m"``) for ``ir``."""
    if isinstance(ir, Const):
        return {TRUTH_FIELD: 1 if ir.value else 0}
    if isinstance(ir, Test):
        value = _sum_json(ir.value) if isinstance(ir.value, Sum) else ir.value
        if ir.op == "==":
            return {ir.field: value}
        return {_DURABLE_OPS[ir.op]: {ir.field: value}}
    if isinstance(ir, And):
        return {"$and": [emit(part) for part in ir.parts]}
    if isinstance(ir, Or):
        return {"$or": [emit(part) for part in ir.parts]}
    if isinstance(ir, Items):
        key = "$iall" if ir.every else "$iany"
        return {key: {ir.field: _emit_element(ir.cond)}}
    msg = f"an element test outside a list test: {ir!r}"
    raise AssertionError(msg)


def _emit_element(ir: BoolIR) -> dict[str, object]:
    if isinstance(ir, ElemTest):
        return {"$i": ir.value} if ir.op == "==" else {"$neq": {"$i": ir.value}}
    if isinstance(ir, And):
        return {"$and": [_emit_element(part) for part in ir.parts]}
    if isinstance(ir, Or):
        return {"$or": [_emit_element(part) for part in ir.parts]}
    msg = f"not an element condition: {ir!r}"
    raise AssertionError(msg)


def _sum_json(value: Sum) -> object:
    parts: list[object] = [
        {"$m": name} if coef == 1 else {"$mul": {"$l": {"$m": name}, "$r": coef}}
        for coef, name in value.terms
    ]
    if value.constant or not parts:
        parts.append(value.constant)
    total = parts[0]
    for part in parts[1:]:
        total = {"$add": {"$l": total, "$r": part}}
    return total


def fields_of(ir: BoolIR) -> Iterator[str]:
    """Yield the fact fields ``ir`` reads (with repeats)."""
    if isinstance(ir, Const):
        yield TRUTH_FIELD
    elif isinstance(ir, Test):
        yield ir.field
        if isinstance(ir.value, Sum):
            yield from (name for _, name in ir.value.terms)
    elif isinstance(ir, And | Or):
        for part in ir.parts:
            yield from fields_of(part)
    elif isinstance(ir, Items):
        yield ir.field


@dataclass(frozen=True)
class Translated:
    """One rule's condition: its boolean form and the durable-rules JSON of it."""

    rule: str
    ir: BoolIR
    condition: dict[str, object] = field(compare=False)
    fields: frozenset[str] = frozenset()


def translated(rule: str, ir: BoolIR) -> Translated:
    """Package ``ir`` as the condition of ``rule``."""
    return Translated(rule, ir, emit(ir), frozenset(fields_of(ir)))
