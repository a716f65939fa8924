"""The condition language of rule packs: tokenizer, parser, type checker and closure compiler.

Rule packs are data; their conditions (``result == "fail" and all(items, kind == "quality")``,
``count(failed_checks) >= 2``) are written in this small language. An expression is parsed,
type-checked against a :data:`TypeEnv` and compiled into nested Python closures once, when the
pack is loaded, so that evaluation never meets a typo and never walks a syntax tree.

Grammar, lowest precedence first::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := sum [("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in") sum]
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := "-" unary | atom
    atom       := NUMBER | STRING | "true" | "false" | "null" | "[" [expr ("," expr)*] "]"
                | NAME ("." NAME)* | NAME "(" [expr ("," expr)*] ")" | "(" expr ")"

Comparisons do not chain (``a < b < c`` is an error). Numbers are exact ``decimal.Decimal``.

Missing values: a name or field absent from the scope evaluates to ``None``. Arithmetic with
``None`` gives ``None``; ordering comparisons with ``None`` are false; ``==`` and ``!=`` compare
normally (``x == null`` tests for absence, as does ``has(x)``); ``and``, ``or`` and ``not``
treat ``None`` as false. An expression of type :data:`BOOL` always evaluates to ``True`` or
``False``.

Built-in functions: ``any(list, cond)`` and ``all(list, cond)`` evaluate ``cond`` with each
element as the scope (a record element's fields are names there; ``it`` is the element itself;
names outside the element are not visible) and treat a missing list as empty; ``has(path)`` is
true when the value is present; ``max(a, b, ...)`` and ``min(a, b, ...)`` take numbers or dates
and skip missing values (``None`` when all are missing); ``len(list)`` is the number of elements
(``None`` for a missing list); ``count(set)`` and ``exists(set)`` take a :data:`SET` name (a
missing set counts as empty). Callers add more with :class:`Function`.

Arithmetic runs in the current thread's ``decimal`` context (28 significant digits by
default), so sums of values given to one decimal place are exact.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from riskgrade.errors import EvaluationError, PackError

__all__ = [
    "BOOL",
    "BUILTIN_FUNCTIONS",
    "DATE",
    "NULL",
    "NUMBER",
    "SET",
    "STRING",
    "Compiled",
    "ExpressionError",
    "Function",
    "ListType",
    "Node",
    "PrimitiveType",
    "RecordType",
    "StringType",
    "Type",
    "TypeEnv",
    "compile_expression",
    "describe",
    "one_of",
    "syntax_tree",
]


# --------------------------------------------------------------------------------------------
# Types


class Type:
    """Base of the static types of expressions; compare them with ``==``, name them with
    :func:`describe`."""

    __slots__ = ()


@dataclass(frozen=True)
class PrimitiveType(Type):
    """A type without parts; use the constants :data:`BOOL`, :data:`NUMBER`, :data:`DATE`,
    :data:`NULL` and :data:`SET` rather than making new ones."""

    name: str


@dataclass(frozen=True)
class StringType(Type):
    """A string; with ``values``, an enumeration that only ever holds one of them."""

    values: frozenset[str] | None = None


@dataclass(frozen=True)
class ListType(Type):
    """A list (at runtime a tuple or list) whose elements have type ``element``."""

    element: Type


@dataclass(frozen=True)
class RecordType(Type):
    """A mapping with known ``fields``; with ``extra``, any other key is also allowed and has
    that type (an "open" record such as ``scores``, where any key is a number).

    A field that may be absent needs no marking: absent values are ``None`` at runtime.
    """

    fields: Mapping[str, Type] = field(default_factory=dict, hash=False)
    extra: Type | None = None

    def __post_init__(self) -> None:
        # Freeze a private copy so that a caller mutating its dict cannot change the type.
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))


BOOL: Final = PrimitiveType("boolean")
NUMBER: Final = PrimitiveType("number")
DATE: Final = PrimitiveType("date")
NULL: Final = PrimitiveType("null")
SET: Final = PrimitiveType("record set")
"""A named record set of the pack; valid only as the argument of ``count`` and ``exists``."""
STRING: Final = StringType()

# The element type of the empty list literal: compatible with everything.
_NOTHING: Final = PrimitiveType("nothing")

TypeEnv: TypeAlias = Mapping[str, Type]
"""The names an expression may use and their types (an ordinary dict will do)."""


def one_of(*values: str) -> StringType:
    """Return the type of a string that is always one of ``values`` (an enumeration)."""
    return StringType(frozenset(values))


def describe(type_: Type) -> str:
    """Return a short English description of a type, for messages."""
    if isinstance(type_, PrimitiveType):
        return type_.name
    if isinstance(type_, StringType):
        if type_.values is None:
            return "string"
        return "string (one of " + ", ".join(sorted(type_.values)) + ")"
    if isinstance(type_, ListType):
        if type_.element == _NOTHING:
            return "empty list"
        return "list of " + describe(type_.element)
    if isinstance(type_, RecordType):
        if not type_.fields:
            return "mapping of names to " + describe(type_.extra or NULL)
        text = "record with fields " + ", ".join(sorted(type_.fields))
        if type_.extra is not None:
            text += " and other fields of type " + describe(type_.extra)
        return text
    return type(type_).__name__


def _scalar(type_: Type) -> bool:
    return isinstance(type_, StringType) or type_ in (BOOL, NUMBER, DATE, NULL, _NOTHING)


def _equatable(left: Type, right: Type) -> bool:
    """Whether ``==``/``!=``/``in`` may compare values of these types."""
    if left in (NULL, _NOTHING) or right in (NULL, _NOTHING):
        return True
    if isinstance(left, StringType) and isinstance(right, StringType):
        return True
    return left == right and left in (BOOL, NUMBER, DATE)


def _assignable(actual: Type, expected: Type) -> bool:
    """Whether a value of type ``actual`` may stand where ``expected`` is declared."""
    if isinstance(expected, StringType):
        return isinstance(actual, StringType)
    if isinstance(expected, ListType):
        return isinstance(actual, ListType) and (
            actual.element in (_NOTHING, NULL) or _assignable(actual.element, expected.element)
        )
    return actual == expected


# --------------------------------------------------------------------------------------------
# Errors


class ExpressionError(PackError):
    """An expression does not parse or does not type-check.

    ``column`` (1-based) and ``expression_line`` (1-based, for multi-line sources) locate the
    problem inside ``source``; ``offset`` is the 0-based index into it; ``reason`` is the message
    without its location. The message reads ``at column 12: unknown field ...``. A pack loader
    adds file, line and rule with :meth:`relocated`.
    """

    def __init__(
        self,
        reason: str,
        *,
        source: str,
        offset: int,
        suggestion: str | None = None,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.reason = reason
        self.source = source
        self.offset = offset
        self.expression_line = source.count("\n", 0, offset) + 1
        self.column = offset - (source.rfind("\n", 0, offset) + 1) + 1
        if "\n" in source:
            where = f"at line {self.expression_line}, column {self.column}"
        else:
            where = f"at column {self.column}"
        super().__init__(
            f"{where}: {reason}",
            file=file,
            line=line,
            field=field,
            rule=rule,
            suggestion=suggestion,
        )

    def relocated(
        self,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        rule: str | None = None,
    ) -> ExpressionError:
        """Return a copy with the given file, line, field and rule (the others are kept)."""
        return ExpressionError(
            self.reason,
            source=self.source,
            offset=self.offset,
            suggestion=self.suggestion,
            file=self.file if file is None else file,
            line=self.line if line is None else line,
            field=self.field if field is None else field,
            rule=self.rule if rule is None else rule,
        )


def _closest(word: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=1)
    return matches[0] if matches else None


# --------------------------------------------------------------------------------------------
# Tokenizer

_KEYWORDS: Final = frozenset({"and", "or", "not", "in", "true", "false", "null"})
_TWO_CHAR_SYMBOLS: Final = frozenset({"==", "!=", "<=", ">="})
_ONE_CHAR_SYMBOLS: Final = frozenset("<>+-*/()[],.")
_WHITESPACE: Final = frozenset(" \t\r\n\f")
_ESCAPABLE: Final = frozenset("\"'\\")
_HINTS: Final = {
    "=": "use '==' to compare",
    "!": "use 'not' for negation or '!=' to compare",
    "&": "use 'and'",
    "|": "use 'or'",
}

_NUMBER_TOKEN: Final = "number"
_STRING_TOKEN: Final = "string"
_NAME_TOKEN: Final = "name"
_KEYWORD_TOKEN: Final = "keyword"
_SYMBOL_TOKEN: Final = "symbol"
_END_TOKEN: Final = "end"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str  # the source text; for a string, its decoded value
    pos: int

    def describe(self) -> str:
        if self.kind == _END_TOKEN:
            return "the end of the expression"
        if self.kind == _STRING_TOKEN:
            return f"string {self.text!r}"
        if self.kind == _NUMBER_TOKEN:
            return f"number {self.text}"
        if self.kind == _NAME_TOKEN:
            return f"name {self.text!r}"
        return repr(self.text)


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _is_name_start(char: str) -> bool:
    return "a" <= char <= "z" or "A" <= char <= "Z" or char == "_"


def _is_name_char(char: str) -> bool:
    return _is_name_start(char) or _is_digit(char)


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    size = len(source)
    i = 0
    while i < size:
        char = source[i]
        if char in _WHITESPACE:
            i += 1
        elif _is_digit(char):
            j = i + 1
            while j < size and _is_digit(source[j]):
                j += 1
            if j + 1 < size and source[j] == "." and _is_digit(source[j + 1]):
                j += 2
                while j < size and _is_digit(source[j]):
                    j += 1
            if j < size and _is_name_char(source[j]):
                end = j
                while end < size and _is_name_char(source[end]):
                    end += 1
                reason = f"invalid number {source[i:end]!r}"
                raise ExpressionError(reason, source=source, offset=i)
            tokens.append(_Token(_NUMBER_TOKEN, source[i:j], i))
            i = j
        elif _is_name_start(char):
            j = i + 1
            while j < size and _is_name_char(source[j]):
                j += 1
            word = source[i:j]
            kind = _KEYWORD_TOKEN if word in _KEYWORDS else _NAME_TOKEN
            tokens.append(_Token(kind, word, i))
            i = j
        elif char in "\"'":
            value, i_end = _scan_string(source, i)
            tokens.append(_Token(_STRING_TOKEN, value, i))
            i = i_end
        elif source[i : i + 2] in _TWO_CHAR_SYMBOLS:
            tokens.append(_Token(_SYMBOL_TOKEN, source[i : i + 2], i))
            i += 2
        elif char in _ONE_CHAR_SYMBOLS:
            tokens.append(_Token(_SYMBOL_TOKEN, char, i))
            i += 1
        else:
            reason = f"unexpected character {char!r}"
            if char in _HINTS:
                reason += f"; {_HINTS[char]}"
            raise ExpressionError(reason, source=source, offset=i)
    tokens.append(_Token(_END_TOKEN, "", size))
    return tokens


def _scan_string(source: str, start: int) -> tuple[str, int]:
    """Decode the string literal opening at ``start``; return it and the index after it."""
    quote = source[start]
    chars: list[str] = []
    i = start + 1
    size = len(source)
    while i < size:
        char = source[i]
        if char == quote:
            return "".join(chars), i + 1
        if char == "\\":
            if i + 1 < size and source[i + 1] in _ESCAPABLE:
                chars.append(source[i + 1])
                i += 2
                continue
            if i + 1 < size:
                reason = (
                    f"unknown escape {source[i : i + 2]!r} in a string "
                    "(only \\\", \\' and \\\\ are allowed)"
                )
                raise ExpressionError(reason, source=source, offset=i)
            break
        chars.append(char)
        i += 1
    raise ExpressionError("unterminated string", source=source, offset=start)


# --------------------------------------------------------------------------------------------
# Syntax tree


@dataclass(frozen=True, slots=True)
class _Literal:
    pos: int
    value: Decimal | str | bool | None
    type: Type


@dataclass(frozen=True, slots=True)
class _ListNode:
    pos: int
    items: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _PathNode:
    pos: int
    parts: tuple[str, ...]
    positions: tuple[int, ...]

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class _CallNode:
    pos: int
    name: str
    args: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _UnaryNode:
    pos: int
    op: str
    operand: _Node


@dataclass(frozen=True, slots=True)
class _BinaryNode:
    pos: int
    op: str
    op_pos: int
    left: _Node
    right: _Node


@dataclass(frozen=True, slots=True)
class _LogicNode:
    pos: int
    op: str
    operands: tuple[_Node, ...]


_Node: TypeAlias = (
    _Literal | _ListNode | _PathNode | _CallNode | _UnaryNode | _BinaryNode | _LogicNode
)


# --------------------------------------------------------------------------------------------
# Parser

# Parentheses, list and call brackets and prefix operators deeper than this are refused, which
# keeps the recursive descent far from Python's recursion limit on hostile input.
_MAX_NESTING: Final = 40
_COMPARISONS: Final = frozenset({"==", "!=", "<", "<=", ">", ">="})


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0
        self.nesting = 0

    def error(self, offset: int, reason: str) -> ExpressionError:
        return ExpressionError(reason, source=self.source, offset=offset)

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, kind: str, text: str) -> bool:
        token = self.tokens[self.index]
        return token.kind == kind and token.text == text

    def at_next(self, kind: str, text: str) -> bool:
        if self.index + 1 >= len(self.tokens):
            return False
        token = self.tokens[self.index + 1]
        return token.kind == kind and token.text == text

    def expect_symbol(self, text: str, context: str) -> _Token:
        if not self.at(_SYMBOL_TOKEN, text):
            token = self.token
            raise self.error(token.pos, f"expected {text!r} {context}, got {token.describe()}")
        return self.advance()

    def enter(self, offset: int) -> None:
        self.nesting += 1
        if self.nesting > _MAX_NESTING:
            raise self.error(offset, f"expression nested more than {_MAX_NESTING} levels deep")

    def parse(self) -> _Node:
        if self.token.kind == _END_TOKEN:
            raise self.error(self.token.pos, "empty expression")
        node = self.expression()
        token = self.token
        if token.kind != _END_TOKEN:
            reason = f"unexpected {token.describe()} after a complete expression"
            if token.kind in (_NAME_TOKEN, _NUMBER_TOKEN, _STRING_TOKEN):
                reason += " (an operator is missing)"
            raise self.error(token.pos, reason)
        return node

    def expression(self) -> _Node:
        return self.logic("or", self.conjunction)

    def conjunction(self) -> _Node:
        return self.logic("and", self.negation)

    def logic(self, op: str, operand: Callable[[], _Node]) -> _Node:
        first = operand()
        operands = [first]
        while self.at(_KEYWORD_TOKEN, op):
            self.advance()
            operands.append(operand())
        if len(operands) == 1:
            return first
        return _LogicNode(first.pos, op, tuple(operands))

    def negation(self) -> _Node:
        if self.at(_KEYWORD_TOKEN, "not"):
            token = self.advance()
            self.enter(token.pos)
            operand = self.negation()
            self.nesting -= 1
            return _UnaryNode(token.pos, "not", operand)
        return self.comparison()

    def comparison_operator(self) -> tuple[str, int] | None:
        token = self.token
        if token.kind == _SYMBOL_TOKEN and token.text in _COMPARISONS:
            self.advance()
            return token.text, token.pos
        if token.kind == _KEYWORD_TOKEN and token.text == "in":
            self.advance()
            return "in", token.pos
        if self.at(_KEYWORD_TOKEN, "not") and self.at_next(_KEYWORD_TOKEN, "in"):
            self.index += 2
            return "not in", token.pos
        return None

    def comparison(self) -> _Node:
        left = self.sum()
        found = self.comparison_operator()
        if found is None:
            return left
        op, op_pos = found
        right = self.sum()
        again = self.comparison_operator()
        if again is not None:
            reason = f"comparisons cannot be chained ({again[0]!r} after {op!r}); use 'and'"
            raise self.error(again[1], reason)
        return _BinaryNode(left.pos, op, op_pos, left, right)

    def sum(self) -> _Node:
        return self.binary(("+", "-"), self.product)

    def product(self) -> _Node:
        return self.binary(("*", "/"), self.unary)

    def binary(self, ops: tuple[str, ...], operand: Callable[[], _Node]) -> _Node:
        left = operand()
        while self.token.kind == _SYMBOL_TOKEN and self.token.text in ops:
            token = self.advance()
            right = operand()
            left = _BinaryNode(left.pos, token.text, token.pos, left, right)
        return left

    def unary(self) -> _Node:
        if self.at(_SYMBOL_TOKEN, "-"):
            token = self.advance()
            self.enter(token.pos)
            operand = self.unary()
            self.nesting -= 1
            return _UnaryNode(token.pos, "-", operand)
        return self.atom()

    def atom(self) -> _Node:
        token = self.token
        if token.kind == _NUMBER_TOKEN:
            self.advance()
            return _Literal(token.pos, Decimal(token.text), NUMBER)
        if token.kind == _STRING_TOKEN:
            self.advance()
            return _Literal(token.pos, token.text, STRING)
        if token.kind == _KEYWORD_TOKEN and token.text in ("true", "false"):
            self.advance()
            return _Literal(token.pos, token.text == "true", BOOL)
        if token.kind == _KEYWORD_TOKEN and token.text == "null":
            self.advance()
            return _Literal(token.pos, None, NULL)
        if token.kind == _NAME_TOKEN:
            return self.name()
        if self.at(_SYMBOL_TOKEN, "("):
            self.advance()
            self.enter(token.pos)
            node = self.expression()
            self.nesting -= 1
            self.expect_symbol(")", f"to close the '(' at column {token.pos + 1}")
            return node
        if self.at(_SYMBOL_TOKEN, "["):
            self.advance()
            return _ListNode(token.pos, self.items("]", token.pos))
        raise self.error(token.pos, f"expected a value, got {token.describe()}")

    def items(self, closing: str, opening: int) -> tuple[_Node, ...]:
        """Parse comma-separated expressions up to ``closing`` (the opener is consumed)."""
        self.enter(opening)
        items: list[_Node] = []
        if not self.at(_SYMBOL_TOKEN, closing):
            items.append(self.expression())
            while self.at(_SYMBOL_TOKEN, ","):
                self.advance()
                items.append(self.expression())
        self.nesting -= 1
        bracket = self.source[opening]
        self.expect_symbol(closing, f"to close the {bracket!r} at column {opening + 1}")
        return tuple(items)

    def name(self) -> _Node:
        first = self.advance()
        if self.at(_SYMBOL_TOKEN, "("):
            paren = self.advance()
            return _CallNode(first.pos, first.text, self.items(")", paren.pos))
        parts = [first.text]
        positions = [first.pos]
        while self.at(_SYMBOL_TOKEN, "."):
            self.advance()
            token = self.token
            if token.kind != _NAME_TOKEN:
                raise self.error(
                    token.pos, f"expected a field name after '.', got {token.describe()}"
                )
            self.advance()
            parts.append(token.text)
            positions.append(token.pos)
        if self.at(_SYMBOL_TOKEN, "("):
            raise self.error(self.token.pos, f"{'.'.join(parts)!r} is not a function name")
        return _PathNode(first.pos, tuple(parts), tuple(positions))


# --------------------------------------------------------------------------------------------
# Functions


@dataclass(frozen=True)
class Function:
    """A function that expressions may call, supplied by a pack compiler.

    ``implementation`` receives the evaluated arguments positionally; any of them may be
    ``None`` (a missing value) and it must cope with that. It must be pure: calls are not cached
    but may be reordered or skipped by short-circuiting.

    Arguments are checked against ``params`` (with ``variadic``, the last parameter may repeat;
    at least ``len(params)`` arguments are needed): an argument fits a parameter of the same type,
    any string fits a string parameter (a string literal must be one of an enumeration's values)
    and ``null`` fits anything. A parameter of type :data:`SET` takes a record-set name and
    receives the set's collection. If ``checker`` is given it replaces that check: it is called
    with the argument types and returns ``None`` when they are acceptable or a message saying
    what is wrong. The result always has type ``returns``.
    """

    name: str
    returns: Type
    implementation: Callable[..., object]
    params: tuple[Type, ...] = ()
    variadic: bool = False
    checker: Callable[[tuple[Type, ...]], str | None] | None = None


BUILTIN_FUNCTIONS: Final = frozenset({"all", "any", "count", "exists", "has", "len", "max", "min"})
"""Names of the built-in functions; a caller's ``functions`` may not redefine them."""


# --------------------------------------------------------------------------------------------
# Compiler: type check and translation into closures, in one pass

_Code: TypeAlias = Callable[[Any], object]
_NO_VALUE: Final = object()
_EMPTY_SCOPE: Final[Mapping[str, object]] = MappingProxyType({})
# Deeper trees are refused: evaluation recurses once per level of the tree.
_MAX_DEPTH: Final = 100

_ARITHMETIC: Final[Mapping[str, Callable[[Any, Any], object]]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
_ORDERINGS: Final[Mapping[str, Callable[[Any, Any], object]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True, slots=True)
class _Out:
    """A compiled subexpression: its type, its code and, when known, its constant value."""

    type: Type
    code: _Code
    value: object = _NO_VALUE

    @property
    def constant(self) -> bool:
        return self.value is not _NO_VALUE


@dataclass(frozen=True, slots=True)
class _Scope:
    """What names mean where an expression is compiled: at the top, or inside any()/all()."""

    fields: Mapping[str, Type]
    extra: Type | None
    element: Type | None  # the type of `it`, inside any()/all()
    top: bool


def _constant(value: object) -> _Code:
    def run(scope: Any) -> object:
        return value

    return run


def _identity(scope: Any) -> object:
    return scope


def _name_getter(name: str) -> _Code:
    def run(scope: Any) -> object:
        return scope.get(name)

    return run


def _field_getter(inner: _Code, name: str) -> _Code:
    def run(scope: Any) -> object:
        value: Any = inner(scope)
        return None if value is None else value.get(name)

    return run


def _truth(inner: _Code) -> _Code:
    def run(scope: Any) -> object:
        return bool(inner(scope))

    return run


def _negation(inner: _Code) -> _Code:
    def run(scope: Any) -> object:
        return not inner(scope)

    return run


def _minus(inner: _Code) -> _Code:
    def run(scope: Any) -> object:
        value: Any = inner(scope)
        return None if value is None else -value

    return run


def _conjunction(codes: tuple[_Code, ...]) -> _Code:
    if len(codes) == 2:
        first, second = codes

        def run2(scope: Any) -> object:
            return bool(first(scope)) and bool(second(scope))

        return run2

    def run(scope: Any) -> object:
        return all(code(scope) for code in codes)

    return run


def _disjunction(codes: tuple[_Code, ...]) -> _Code:
    if len(codes) == 2:
        first, second = codes

        def run2(scope: Any) -> object:
            return bool(first(scope)) or bool(second(scope))

        return run2

    def run(scope: Any) -> object:
        return any(code(scope) for code in codes)

    return run


def _arithmetic(function: Callable[[Any, Any], object], left: _Code, right: _Code) -> _Code:
    def run(scope: Any) -> object:
        a = left(scope)
        if a is None:
            return None
        b = right(scope)
        return None if b is None else function(a, b)

    return run


def _equality(function: Callable[[Any, Any], object], left: _Code, right: _Code) -> _Code:
    def run(scope: Any) -> object:
        return function(left(scope), right(scope))

    return run


def _equality_to(function: Callable[[Any, Any], object], left: _Code, value: object) -> _Code:
    def run(scope: Any) -> object:
        return function(left(scope), value)

    return run


def _ordering(function: Callable[[Any, Any], object], left: _Code, right: _Code) -> _Code:
    def run(scope: Any) -> object:
        a = left(scope)
        if a is None:
            return False
        b = right(scope)
        return b is not None and bool(function(a, b))

    return run


def _ordering_to(function: Callable[[Any, Any], object], left: _Code, value: object) -> _Code:
    def run(scope: Any) -> object:
        a = left(scope)
        return a is not None and bool(function(a, value))

    return run


def _membership(left: _Code, right: _Code, negate: bool) -> _Code:
    def run(scope: Any) -> object:
        container: Any = right(scope)
        if container is None:
            return negate
        return (left(scope) in container) is not negate

    return run


def _membership_in(left: _Code, members: frozenset[object], negate: bool) -> _Code:
    if negate:

        def run_not(scope: Any) -> object:
            return left(scope) not in members

        return run_not

    def run(scope: Any) -> object:
        return left(scope) in members

    return run


def _list_builder(codes: tuple[_Code, ...]) -> _Code:
    def run(scope: Any) -> object:
        return tuple(code(scope) for code in codes)

    return run


def _quantifier(sequence: _Code, condition: _Code, every: bool) -> _Code:
    if every:

        def run_all(scope: Any) -> object:
            items: Any = sequence(scope)
            if items is not None:
                for item in items:
                    if not condition(item):
                        return False
            return True

        return run_all

    def run_any(scope: Any) -> object:
        items: Any = sequence(scope)
        if items is not None:
            for item in items:
                if condition(item):
                    return True
        return False

    return run_any


def _presence(inner: _Code) -> _Code:
    def run(scope: Any) -> object:
        return inner(scope) is not None

    return run


def _extreme(codes: tuple[_Code, ...], better: Callable[[Any, Any], object]) -> _Code:
    def run(scope: Any) -> object:
        best: Any = None
        for code in codes:
            value = code(scope)
            if value is not None and (best is None or better(value, best)):
                best = value
        return best

    return run


def _length(inner: _Code) -> _Code:
    def run(scope: Any) -> object:
        value: Any = inner(scope)
        return None if value is None else Decimal(len(value))

    return run


def _set_count(inner: _Code) -> _Code:
    def run(scope: Any) -> object:
        value: Any = inner(scope)
        return Decimal(0) if value is None else Decimal(len(value))

    return run


def _set_exists(inner: _Code) -> _Code:
    def run(scope: Any) -> object:
        value: Any = inner(scope)
        return value is not None and len(value) > 0

    return run


def _call(implementation: Callable[..., object], codes: tuple[_Code, ...]) -> _Code:
    if len(codes) == 1:
        (only,) = codes

        def run1(scope: Any) -> object:
            return implementation(only(scope))

        return run1

    def run(scope: Any) -> object:
        return implementation(*[code(scope) for code in codes])

    return run


def _arguments(count: int) -> str:
    return "1 argument" if count == 1 else f"{count} arguments"


class _Compiler:
    def __init__(self, source: str, env: TypeEnv, functions: Mapping[str, Function]) -> None:
        self.source = source
        self.functions = functions
        self.top = _Scope(env, None, None, top=True)
        self.sets: set[str] = set()
        self.names: set[str] = set()

    def error(self, offset: int, reason: str, suggestion: str | None = None) -> ExpressionError:
        return ExpressionError(reason, source=self.source, offset=offset, suggestion=suggestion)

    def fold(self, type_: Type, code: _Code, parts: Sequence[_Out], pos: int) -> _Out:
        """Evaluate ``code`` now when every part is a constant; it is pure."""
        if not all(part.constant for part in parts):
            return _Out(type_, code)
        try:
            value = code(_EMPTY_SCOPE)
        except ArithmeticError as exc:
            what = (
                "division by zero" if isinstance(exc, ZeroDivisionError) else "invalid arithmetic"
            )
            raise self.error(pos, what) from None
        return _Out(type_, _constant(value), value)

    def compile(self, node: _Node, scope: _Scope, depth: int, *, allow_set: bool = False) -> _Out:
        if depth > _MAX_DEPTH:
            raise self.error(node.pos, f"expression nested more than {_MAX_DEPTH} levels deep")
        if isinstance(node, _Literal):
            return _Out(node.type, _constant(node.value), node.value)
        if isinstance(node, _PathNode):
            return self.path(node, scope, allow_set=allow_set)
        if isinstance(node, _ListNode):
            return self.list_literal(node, scope, depth)
        if isinstance(node, _UnaryNode):
            return self.unary(node, scope, depth)
        if isinstance(node, _LogicNode):
            return self.logic(node, scope, depth)
        if isinstance(node, _BinaryNode):
            return self.binary(node, scope, depth)
        return self.call(node, scope, depth)

    # names

    def path(self, node: _PathNode, scope: _Scope, *, allow_set: bool) -> _Out:
        head = node.parts[0]
        code: _Code
        if head in scope.fields:
            type_ = scope.fields[head]
            code = _name_getter(head)
        elif head == "it" and scope.element is not None:
            type_ = scope.element
            code = _identity
        elif scope.extra is not None:
            type_ = scope.extra
            code = _name_getter(head)
        else:
            candidates = [*scope.fields, "true", "false", "null"]
            if scope.element is not None:
                candidates.append("it")
            reason = f"unknown name {head!r}"
            if not scope.top:
                reason += " (inside any() and all() names are fields of the list's elements)"
            raise self.error(node.pos, reason, _closest(head, candidates))
        if scope.top:
            self.names.add(head)
        if type_ == SET:
            if len(node.parts) > 1 or not allow_set:
                reason = f"{head!r} is a record set: use it as count({head}) or exists({head})"
                raise self.error(node.pos, reason)
            self.sets.add(head)
        for index in range(1, len(node.parts)):
            name = node.parts[index]
            owner = ".".join(node.parts[:index])
            if not isinstance(type_, RecordType):
                reason = f"{owner} is a {describe(type_)} and has no field {name!r}"
                raise self.error(node.positions[index], reason)
            if name in type_.fields:
                type_ = type_.fields[name]
            elif type_.extra is not None:
                type_ = type_.extra
            else:
                raise self.error(
                    node.positions[index],
                    f"unknown field {name!r} of {owner}",
                    _closest(name, type_.fields),
                )
            code = _field_getter(code, name)
        return _Out(type_, code)

    # literals and operators

    def list_literal(self, node: _ListNode, scope: _Scope, depth: int) -> _Out:
        items = [self.compile(item, scope, depth + 1) for item in node.items]
        element: Type = NULL if items else _NOTHING
        for item, item_node in zip(items, node.items, strict=True):
            if not _scalar(item.type):
                reason = (
                    "list items must be strings, numbers, booleans or dates, "
                    f"not {describe(item.type)}"
                )
                raise self.error(item_node.pos, reason)
            if item.type == NULL:
                continue
            if element in (_NOTHING, NULL):
                element = item.type
            elif not _equatable(element, item.type):
                reason = (
                    "list items must all be of one type, "
                    f"got {describe(element)} and {describe(item.type)}"
                )
                raise self.error(item_node.pos, reason)
            elif item.type != element:
                element = STRING  # an enumeration mixed with other strings
        type_ = ListType(element)
        if all(item.constant for item in items):
            value = tuple(item.value for item in items)
            return _Out(type_, _constant(value), value)
        return _Out(type_, _list_builder(tuple(item.code for item in items)))

    def unary(self, node: _UnaryNode, scope: _Scope, depth: int) -> _Out:
        operand = self.compile(node.operand, scope, depth + 1)
        if node.op == "not":
            if operand.type != BOOL:
                raise self.error(
                    node.operand.pos, f"'not' needs a boolean, got {describe(operand.type)}"
                )
            return self.fold(BOOL, _negation(operand.code), [operand], node.pos)
        if operand.type != NUMBER:
            raise self.error(node.operand.pos, f"'-' needs a number, got {describe(operand.type)}")
        return self.fold(NUMBER, _minus(operand.code), [operand], node.pos)

    def logic(self, node: _LogicNode, scope: _Scope, depth: int) -> _Out:
        operands = [self.compile(operand, scope, depth + 1) for operand in node.operands]
        for operand, operand_node in zip(operands, node.operands, strict=True):
            if operand.type != BOOL:
                reason = f"{node.op!r} needs booleans, got {describe(operand.type)}"
                raise self.error(operand_node.pos, reason)
        codes = tuple(operand.code for operand in operands)
        code = _conjunction(codes) if node.op == "and" else _disjunction(codes)
        return self.fold(BOOL, code, operands, node.pos)

    def binary(self, node: _BinaryNode, scope: _Scope, depth: int) -> _Out:
        left = self.compile(node.left, scope, depth + 1)
        right = self.compile(node.right, scope, depth + 1)
        op = node.op
        if op in _ARITHMETIC:
            if left.type != NUMBER or right.type != NUMBER:
                reason = (
                    f"{op!r} needs numbers, got {describe(left.type)} and {describe(right.type)}"
                )
                raise self.error(node.op_pos, reason)
            code = _arithmetic(_ARITHMETIC[op], left.code, right.code)
            return self.fold(NUMBER, code, [left, right], node.op_pos)
        if op in ("in", "not in"):
            return self.membership(node, left, right)
        if op in _ORDERINGS:
            return self.ordering(node, left, right)
        return self.equality(node, left, right)

    def equality(self, node: _BinaryNode, left: _Out, right: _Out) -> _Out:
        if not _equatable(left.type, right.type):
            reason = f"cannot compare {describe(left.type)} with {describe(right.type)}"
            if isinstance(left.type, ListType | RecordType):
                reason += " (use len() or 'in' for lists)"
            raise self.error(node.op_pos, reason)
        self.check_enum(left.type, node.left, node.right)
        self.check_enum(right.type, node.right, node.left)
        function = operator.eq if node.op == "==" else operator.ne
        if right.constant:
            code = _equality_to(function, left.code, right.value)
        elif left.constant:
            code = _equality_to(function, right.code, left.value)
        else:
            code = _equality(function, left.code, right.code)
        return self.fold(BOOL, code, [left, right], node.op_pos)

    def ordering(self, node: _BinaryNode, left: _Out, right: _Out) -> _Out:
        if NULL in (left.type, right.type):
            reason = f"null can only be compared with '==' or '!=', not {node.op!r}"
            raise self.error(node.op_pos, reason)
        if left.type != right.type or left.type not in (NUMBER, DATE):
            reason = (
                f"{node.op!r} needs two numbers or two dates, "
                f"got {describe(left.type)} and {describe(right.type)}"
            )
            raise self.error(node.op_pos, reason)
        function = _ORDERINGS[node.op]
        if right.constant:
            code = _ordering_to(function, left.code, right.value)
        else:
            code = _ordering(function, left.code, right.code)
        return self.fold(BOOL, code, [left, right], node.op_pos)

    def membership(self, node: _BinaryNode, left: _Out, right: _Out) -> _Out:
        if not isinstance(right.type, ListType):
            reason = f"{node.op!r} needs a list on its right, got {describe(right.type)}"
            raise self.error(node.right.pos, reason)
        if not _scalar(left.type) or not _equatable(left.type, right.type.element):
            reason = f"cannot look for a {describe(left.type)} in a {describe(right.type)}"
            raise self.error(node.op_pos, reason)
        if isinstance(node.right, _ListNode):
            for item in node.right.items:
                self.check_enum(left.type, node.left, item)
        self.check_enum(right.type.element, node.right, node.left)
        negate = node.op == "not in"
        if right.constant and isinstance(right.value, tuple):
            code = _membership_in(left.code, frozenset(right.value), negate)
        else:
            code = _membership(left.code, right.code, negate)
        return self.fold(BOOL, code, [left, right], node.op_pos)

    def check_enum(self, type_: Type, owner: _Node, literal: _Node) -> None:
        """Refuse a string literal that an enumeration ``owner`` can never equal."""
        if not isinstance(type_, StringType) or type_.values is None:
            return
        if not isinstance(literal, _Literal) or not isinstance(literal.value, str):
            return
        if literal.value in type_.values:
            return
        of = f" of {owner.text}" if isinstance(owner, _PathNode) else ""
        reason = (
            f"{literal.value!r} is not a possible value{of} "
            f"(one of {', '.join(sorted(type_.values))})"
        )
        raise self.error(literal.pos, reason, _closest(literal.value, type_.values))

    # calls

    def call(self, node: _CallNode, scope: _Scope, depth: int) -> _Out:
        name = node.name
        builtin = _BUILTINS.get(name)
        if builtin is not None:
            return builtin(self, node, scope, depth)
        function = self.functions.get(name)
        if function is None:
            candidates = [*BUILTIN_FUNCTIONS, *self.functions]
            raise self.error(node.pos, f"unknown function {name!r}", _closest(name, candidates))
        return self.user_call(function, node, scope, depth)

    def arity(self, node: _CallNode, least: int, most: int | None = None) -> None:
        count = len(node.args)
        if least <= count and (most is None or count <= most):
            return
        if most is None:
            wanted = f"at least {_arguments(least)}"
        elif least == most:
            wanted = _arguments(least)
        else:
            wanted = f"{least} to {most} arguments"
        raise self.error(node.pos, f"{node.name}() takes {wanted}, got {count}")

    def quantifier(self, node: _CallNode, scope: _Scope, depth: int) -> _Out:
        self.arity(node, 2, 2)
        sequence = self.compile(node.args[0], scope, depth + 1)
        element = sequence.type.element if isinstance(sequence.type, ListType) else None
        if element is None:
            reason = f"{node.name}() needs a list first, got {describe(sequence.type)}"
            raise self.error(node.args[0].pos, reason)
        if isinstance(element, RecordType):
            inner = _Scope(element.fields, element.extra, element, top=False)
        else:
            inner = _Scope({}, None, element, top=False)
        condition = self.compile(node.args[1], inner, depth + 1)
        if condition.type != BOOL:
            reason = f"{node.name}() needs a condition second, got {describe(condition.type)}"
            raise self.error(node.args[1].pos, reason)
        code = _quantifier(sequence.code, condition.code, every=node.name == "all")
        return self.fold(BOOL, code, [sequence, condition], node.pos)

    def presence(self, node: _CallNode, scope: _Scope, depth: int) -> _Out:
        self.arity(node, 1, 1)
        argument = node.args[0]
        if not isinstance(argument, _PathNode):
            raise self.error(argument.pos, "has() needs a name or a dotted path")
        return _Out(BOOL, _presence(self.compile(argument, scope, depth + 1).code))

    def extreme(self, node: _CallNode, scope: _Scope, depth: int) -> _Out:
        self.arity(node, 2)
        arguments = [self.compile(argument, scope, depth + 1) for argument in node.args]
        first = arguments[0].type
        for argument, argument_node in zip(arguments, node.args, strict=True):
            if argument.type not in (NUMBER, DATE) or argument.type != first:
                reason = (
                    f"{node.name}() needs numbers or dates, all of one type, "
                    f"got {describe(argument.type)}"
                )
                raise self.error(argument_node.pos, reason)
        better = operator.gt if node.name == "max" else operator.lt
        code = _extreme(tuple(argument.code for argument in arguments), better)
        return self.fold(first, code, arguments, node.pos)

    def length(self, node: _CallNode, scope: _Scope, depth: int) -> _Out:
        self.arity(node, 1, 1)
        argument = self.compile(node.args[0], scope, depth + 1)
        if not isinstance(argument.type, ListType):
            reason = f"len() needs a list, got {describe(argument.type)}"
            raise self.error(node.args[0].pos, reason)
        return self.fold(NUMBER, _length(argument.code), [argument], node.pos)

    def set_function(self, node: _CallNode, scope: _Scope, depth: int) -> _Out:
        self.arity(node, 1, 1)
        argument = self.compile(node.args[0], scope, depth + 1, allow_set=True)
        if argument.type != SET:
            reason = f"{node.name}() needs a record set, got {describe(argument.type)}"
            raise self.error(node.args[0].pos, reason)
        if node.name == "count":
            return _Out(NUMBER, _set_count(argument.code))
        return _Out(BOOL, _set_exists(argument.code))

    def user_call(self, function: Function, node: _CallNode, scope: _Scope, depth: int) -> _Out:
        arguments = [
            self.compile(argument, scope, depth + 1, allow_set=True) for argument in node.args
        ]
        types = tuple(argument.type for argument in arguments)
        if function.checker is not None:
            problem = function.checker(types)
            if problem is not None:
                raise self.error(node.pos, f"{node.name}(): {problem}")
        else:
            params = function.params
            if function.variadic:
                self.arity(node, len(params))
                params = params + (params[-1],) * (len(arguments) - len(params))
            else:
                self.arity(node, len(params), len(params))
            for index, (param, argument) in enumerate(zip(params, arguments, strict=True)):
                argument_node = node.args[index]
                if argument.type == SET and param != SET:
                    self.compile(argument_node, scope, depth + 1)  # raises the set message
                if argument.type != NULL and not _assignable(argument.type, param):
                    reason = (
                        f"argument {index + 1} of {node.name}() must be a {describe(param)}, "
                        f"got {describe(argument.type)}"
                    )
                    raise self.error(argument_node.pos, reason)
                self.check_enum(param, node, argument_node)
        code = _call(function.implementation, tuple(argument.code for argument in arguments))
        return _Out(function.returns, code)


_Builtin: TypeAlias = Callable[[_Compiler, _CallNode, _Scope, int], _Out]
_BUILTINS: Final[Mapping[str, _Builtin]] = {
    "all": _Compiler.quantifier,
    "any": _Compiler.quantifier,
    "count": _Compiler.set_function,
    "exists": _Compiler.set_function,
    "has": _Compiler.presence,
    "len": _Compiler.length,
    "max": _Compiler.extreme,
    "min": _Compiler.extreme,
}


# --------------------------------------------------------------------------------------------
# Public entry points


@dataclass(frozen=True)
class Compiled:
    """A type-checked expression, ready to evaluate many times.

    ``sets`` are the record-set names it uses (for evidence tracking); ``names`` are the
    top-level names it uses, sets included (names inside ``any``/``all`` conditions are fields
    of the list's elements and are not listed).
    """

    source: str
    type: Type
    sets: frozenset[str]
    names: frozenset[str]
    _code: _Code = field(repr=False, compare=False)

    def evaluate(self, scope: Mapping[str, object]) -> object:
        """Evaluate against ``scope`` (name → value; nested Mappings for records).

        Values are ``Decimal`` (or ``int``) for numbers, ``str``, ``bool``, ``None``,
        ``datetime.date``, tuples or lists, Mappings; a record set is any sized collection.
        A missing key reads as ``None``. Raises :class:`~riskgrade.errors.EvaluationError`
        when the data does not fit the declared types (e.g. a float or a string where a number
        was declared).
        """
        try:
            return self._code(scope)
        except (TypeError, AttributeError, ArithmeticError) as exc:
            msg = f"cannot evaluate {self.source!r}: {type(exc).__name__}: {exc}"
            raise EvaluationError(msg) from exc


def compile_expression(
    source: str,
    env: TypeEnv,
    *,
    expect: Type | None = None,
    functions: Mapping[str, Function] | None = None,
) -> Compiled:
    """Parse, type-check and compile ``source`` against the names in ``env``.

    With ``expect``, the expression must have that type (e.g. :data:`BOOL` for a condition).
    ``functions`` adds callable functions beyond the built-ins (``any``, ``all``, ``has``,
    ``max``, ``min``, ``len``, ``count``, ``exists``), keyed by their name. Raises
    :class:`ExpressionError` (a :class:`~riskgrade.errors.PackError`) on any syntax or type
    error, and ``ValueError`` if ``functions`` redefines a built-in or is keyed wrongly.
    """
    extra = functions or {}
    for name, function in extra.items():
        if name in BUILTIN_FUNCTIONS:
            msg = f"function {name!r} is built in and cannot be redefined"
            raise ValueError(msg)
        if name != function.name:
            msg = f"function {function.name!r} is registered under another name, {name!r}"
            raise ValueError(msg)
    node = _Parser(source).parse()
    compiler = _Compiler(source, env, extra)
    out = compiler.compile(node, compiler.top, 0)
    if expect is not None and not (out.type != NULL and _assignable(out.type, expect)):
        start = len(source) - len(source.lstrip())
        reason = f"expected a value of type {describe(expect)}, got {describe(out.type)}"
        raise ExpressionError(reason, source=source, offset=start)
    code = out.code
    if out.type == BOOL and isinstance(node, _PathNode | _CallNode):
        code = _truth(code)  # a bare field or a caller's function may give None
    return Compiled(
        source=source,
        type=out.type,
        sets=frozenset(compiler.sets),
        names=frozenset(compiler.names),
        _code=code,
    )


# --------------------------------------------------------------------------------------------
# The syntax tree, for back ends that translate expressions (batch, durable)

# Public names of the node classes, for isinstance() in translators (riskgrade.durable).
LiteralNode: TypeAlias = _Literal
ListNode: TypeAlias = _ListNode
PathNode: TypeAlias = _PathNode
CallNode: TypeAlias = _CallNode
UnaryNode: TypeAlias = _UnaryNode
BinaryNode: TypeAlias = _BinaryNode
LogicNode: TypeAlias = _LogicNode


Node: TypeAlias = _Node
"""A node of the syntax tree that :func:`syntax_tree` returns."""


def syntax_tree(source: str) -> Node:
    """Return the parsed syntax tree of ``source``, not type-checked.

    For other back ends that translate expressions already compiled by
    :func:`compile_expression` (the batch evaluator turns them into numpy operations). The
    nodes are this module's private ``_Literal``, ``_ListNode``, ``_PathNode``, ``_CallNode``,
    ``_UnaryNode``, ``_BinaryNode`` and ``_LogicNode``; they change with the language.
    """
    return _Parser(source).parse()
