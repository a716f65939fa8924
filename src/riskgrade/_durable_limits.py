"""A model of durable-rules 2.0.28's fixed-size tables, to refuse rulesets before they hang.

durable-rules compiles a ruleset into a network of test nodes held in fixed-size C arrays and
does not check every bound. Measured on 2.0.28 (see docs/durable.md):

* a node's table of follow-on tests has 512 slots, probed linearly: with 512 tests filled,
  matching a fact loops for ever, and registering a 513th hangs (the issue's "more than 512
  tests on one field"; in fact any fields, per node); at most 511 are safe;
* matching walks the network with a stack of 64 nodes: more tests that hold at once fail the
  fact with error 303, so the worst case must stay within 64;
* a node holds at most 256 rules' joins (error 108) and 128 existence tests (error 107); one
  rule at most 15 ``$and``/``$or`` groups (32 slots, two each; error 113); a ruleset 4,096 rules;
* a fact holds at most 254 keys (error 302), ``id`` and ``sid`` included;
* properties, node fields and state ids are told apart by a 32-bit FNV-1 hash only.

:class:`Network` replays durable-rules' network construction (``rete.c``: ``createAlpha``,
``findAlpha``, ``linkAlpha``) for the JSON this package emits, and :meth:`Network.problem`
says which bound a ruleset would break. The bounds are conservative where the exact answer
depends on the data (which tests hold at once).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "MAX_FACT_KEYS",
    "MAX_GROUPS_PER_RULE",
    "MAX_RULES",
    "Network",
    "fnv1_32",
]

MAX_CHILDREN: Final = 511  # 512 slots; a full table never ends a probe
MAX_EXISTS: Final = 127
MAX_JOINS: Final = 255
MAX_GROUPS_PER_RULE: Final = 15
MAX_STACK: Final = 64
MAX_RULES: Final = 4000
MAX_FACT_KEYS: Final = 254

_FORWARD: Final = "$forward"
_ORDERS: Final = frozenset({"==", "!=", "<", "<=", ">", ">="})
_COMPARISONS: Final = {
    "$lt": "<",
    "$lte": "<=",
    "$gt": ">",
    "$gte": ">=",
    "$neq": "!=",
    "$eq": "==",
}


def fnv1_32(text: str) -> int:
    """durable-rules' 32-bit FNV-1 hash of a name (its C ``char`` is signed on x86)."""
    value = 0x811C9DC5
    for byte in text.encode("utf-8"):
        signed = byte - 256 if byte >= 128 else byte
        value ^= signed & 0xFFFFFFFF
        value = (value * 16777619) & 0xFFFFFFFF
    return value


@dataclass(eq=False)
class _Node:
    """One test node: ``name op value`` (``value`` None for an expression or a forward)."""

    name: str
    op: str
    value: int | str | None
    forward: bool = False
    children: list[_Node] = field(default_factory=list)
    array_children: list[_Node] = field(default_factory=list)
    exists: list[_Node] = field(default_factory=list)
    joins: int = 0


class Network:
    """The test network of one ruleset, built rule by rule as durable-rules builds it."""

    def __init__(self) -> None:
        self.root = _Node("", "", None)
        self.rules = 0
        self.nodes: list[_Node] = [self.root]

    def add(self, condition: Mapping[str, object]) -> int:
        """Add one rule whose condition is ``condition`` (the value under ``"m"``).

        Returns the number of ``$and``/``$or`` groups the rule uses.
        """
        self.rules += 1
        groups = [0]
        last = self._alpha(condition, self.root, groups, to_array=False)
        last.joins += 1
        return groups[0]

    # -- construction, after rete.c --------------------------------------------------------
    def _alpha(
        self, condition: Mapping[str, object], parent: _Node, groups: list[int], *, to_array: bool
    ) -> _Node:
        ((key, body),) = condition.items()
        if key == "$and":
            groups[0] += 1
            node = parent
            for index, part in enumerate(_parts(body)):
                node = self._alpha(part, node, groups, to_array=to_array and index == 0)
            return node
        if key == "$or":
            groups[0] += 1
            forward = self._new(_Node(_FORWARD, "$nex", None, forward=True))
            for part in _parts(body):
                branch = self._alpha(part, parent, groups, to_array=to_array)
                branch.exists.append(forward)
            return forward
        if key in ("$iany", "$iall"):
            assert isinstance(body, Mapping)
            ((name, inner),) = body.items()
            node = self._new(_Node(name, key, None))
            self._link(parent, node, to_array=to_array)
            assert isinstance(inner, Mapping)
            self._alpha(inner, node, groups, to_array=True)
            return node
        if key in _COMPARISONS:
            assert isinstance(body, Mapping)
            ((name, value),) = body.items()
            return self._test(parent, name, _COMPARISONS[key], value, to_array=to_array)
        return self._test(parent, key, "==", body, to_array=to_array)

    def _test(self, parent: _Node, name: str, op: str, value: object, *, to_array: bool) -> _Node:
        constant = value if isinstance(value, int | str) and not isinstance(value, bool) else None
        if not to_array and constant is not None:
            for child in parent.children:
                if (child.name, child.op, child.value) == (name, op, constant):
                    return child
        node = self._new(_Node(name, op, constant))
        self._link(parent, node, to_array=to_array)
        return node

    def _new(self, node: _Node) -> _Node:
        self.nodes.append(node)
        return node

    @staticmethod
    def _link(parent: _Node, node: _Node, *, to_array: bool) -> None:
        if to_array and parent.op in ("$iany", "$iall"):
            parent.array_children.append(node)
        else:
            parent.children.append(node)

    # -- bounds ----------------------------------------------------------------------------
    def problem(self) -> str | None:
        """Return the first bound of durable-rules this network breaks, or None."""
        if self.rules > MAX_RULES:
            return f"{self.rules} rules in one ruleset (durable-rules takes {MAX_RULES})"
        for node in self.nodes:
            width = max(len(node.children), len(node.array_children))
            if width > MAX_CHILDREN:
                where = "the first test" if node is self.root else f"the test on {node.name!r}"
                return (
                    f"{width} tests follow {where}; durable-rules 2.0.28 hangs beyond "
                    f"{MAX_CHILDREN} (a table of 512 slots)"
                )
            if len(node.exists) > MAX_EXISTS:
                count = len(node.exists)
                return f"{count} 'or' groups end at one test (durable-rules takes {MAX_EXISTS})"
            if node.joins > MAX_JOINS:
                return f"{node.joins} rules end at one test (durable-rules takes {MAX_JOINS})"
        depth = _stack_depth(self.root, {})
        if depth > MAX_STACK:
            return (
                f"up to {depth} tests can hold at once while a fact is matched; durable-rules "
                f"walks them with a stack of {MAX_STACK} and fails the fact beyond"
            )
        return None


def _parts(body: object) -> list[Mapping[str, object]]:
    assert isinstance(body, list)
    return body


def _stack_depth(node: _Node, memo: dict[int, int]) -> int:
    """The most stack slots matching can use below ``node`` once it is popped (rete.c's
    ``handleAlpha``: every forward and every child whose test holds is pushed at once)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = 0  # the network is acyclic; this only guards against surprises
    pushed = len(node.exists) + _most_holding(node.children)
    below = [_stack_depth(child, memo) for child in (*node.exists, *node.children)]
    depth = max(pushed, pushed - 1 + max(below, default=0))
    memo[id(node)] = depth
    return depth


def _most_holding(children: Iterable[_Node]) -> int:
    """How many of ``children`` can hold for one fact: per field, the most constant tests one
    value satisfies together, plus every test against an expression."""
    by_field: dict[str, list[_Node]] = {}
    for child in children:
        by_field.setdefault(child.name, []).append(child)
    total = 0
    for tests in by_field.values():
        exact = [t for t in tests if t.value is not None and t.op in _ORDERS]
        total += len(tests) - len(exact) + _most_at_once(exact)
    return total


def _most_at_once(tests: list[_Node]) -> int:
    """The most of ``tests`` (constant comparisons on one field) that one value satisfies."""
    if not tests:
        return 0
    by_op: dict[str, list[Any]] = {}
    for test in tests:
        by_op.setdefault(test.op, []).append(test.value)
    numbers = all(isinstance(test.value, int) for test in tests)
    if not numbers and set(by_op) - {"==", "!="}:
        return len(tests)  # ordered texts are never emitted; assume the worst
    equal = Counter(by_op.get("==", ()))
    unequal = Counter(by_op.get("!=", ()))
    ordered = {op: sorted(by_op.get(op, ())) for op in ("<", "<=", ">", ">=")}
    candidates: set[Any] = set(equal) | set(unequal)
    if numbers:
        for test in tests:
            assert isinstance(test.value, int)
            candidates.update((test.value - 1, test.value, test.value + 1))
    best = unequal.total()  # a value that no test names
    for value in candidates:
        held = equal[value] + unequal.total() - unequal[value]
        if numbers:
            held += len(ordered["<"]) - bisect.bisect_right(ordered["<"], value)
            held += len(ordered["<="]) - bisect.bisect_left(ordered["<="], value)
            held += bisect.bisect_left(ordered[">"], value)
            held += bisect.bisect_right(ordered[">="], value)
        best = max(best, held)
    return best
