"""What if the pack changed? The same population graded under two packs, compared.

:func:`compare` grades every enterprise under pack A and pack B as of one date (with the numpy
batch engine where it can evaluate the pack, the native one otherwise; the decisions are the
same either way) and returns a :class:`Comparison`: the matrix of level transitions (how many
enterprises at each level under A are at each level under B) and, for every enterprise that
moves, the rule that moved it.

"The rule that moved it" is read off the two decisions' reasons, rules of the assessment
before the policy's own reasons (a held improvement follows from them): for an enterprise
graded worse under B, the first of B's reasons that A does not give; for one graded better,
the first of A's reasons that B no longer gives; when both give the same rules, the rule whose
points changed most; failing all that, the policy's reasons, then the cause of B's
transition.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from riskgrade.compiled import RulePack
from riskgrade.decisions import Decision, Lang

__all__ = ["Comparison", "Move", "compare", "compare_decisions"]


@dataclass(frozen=True)
class Move:
    """An enterprise graded differently under the two packs, and why."""

    enterprise_id: str
    scheme_a: str
    scheme_b: str
    level_a: str | None
    level_b: str | None
    direction: str
    rule: str | None
    why: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[tuple[str, float | None, float | None], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (stable key order)."""
        return {
            "enterprise_id": self.enterprise_id,
            "scheme_a": self.scheme_a,
            "scheme_b": self.scheme_b,
            "level_a": self.level_a,
            "level_b": self.level_b,
            "direction": self.direction,
            "rule": self.rule,
            "why": self.why,
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [
                {"rule": rule, "points_a": a, "points_b": b} for rule, a, b in self.changed
            ],
        }


@dataclass(frozen=True)
class Comparison:
    """The population under pack A and pack B."""

    as_of: dt.date
    packs: tuple[Mapping[str, str], Mapping[str, str]]
    enterprises: int
    #: ``(scheme_a, level_a, scheme_b, level_b) -> count``; a missing level is ``None``.
    matrix: Mapping[tuple[str, str | None, str, str | None], int]
    moves: tuple[Move, ...]
    engines: tuple[str, str] = ("numpy", "numpy")
    levels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: matrix cells in a stable order, then every move."""
        worse = sum(m.direction == "worse" for m in self.moves)
        better = sum(m.direction == "better" for m in self.moves)
        return {
            "as_of": self.as_of.isoformat(),
            "packs": [dict(p) for p in self.packs],
            "engines": list(self.engines),
            "enterprises": self.enterprises,
            "matrix": [
                {"scheme_a": k[0], "level_a": k[1], "scheme_b": k[2], "level_b": k[3], "count": v}
                for k, v in sorted(self.matrix.items(), key=lambda kv: self._order(kv[0]))
            ],
            "moved": len(self.moves),
            "worse": worse,
            "better": better,
            "moves": [m.to_dict() for m in self.moves],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def _order(self, key: tuple[str, str | None, str, str | None]) -> tuple[object, ...]:
        def rank(scheme: str, level: str | None) -> int:
            names = self.levels.get(scheme, ())
            return -1 if level is None else names.index(level) if level in names else len(names)

        return (key[0], rank(key[0], key[1]), key[2], rank(key[2], key[3]))

    def table(self, *, limit: int = 50) -> str:
        """A readable report: one transition matrix per pair of schemes, then the moves."""
        a, b = self.packs
        lines = [
            f"riskgrade diff as of {self.as_of.isoformat()}, {self.enterprises} enterprises",
            f"  A: {a['id']} {a['version']} ({a['digest']})",
            f"  B: {b['id']} {b['version']} ({b['digest']})",
            "",
        ]
        pairs = sorted({(k[0], k[2]) for k in self.matrix})
        for scheme_a, scheme_b in pairs:
            cells = {k: v for k, v in self.matrix.items() if (k[0], k[2]) == (scheme_a, scheme_b)}
            rows = _levels(self.levels.get(scheme_a, ()), {k[1] for k in cells})
            cols = _levels(self.levels.get(scheme_b, ()), {k[3] for k in cells})
            title = scheme_a if scheme_a == scheme_b else f"{scheme_a} -> {scheme_b}"
            width = max(7, *(len(_show(c)) + 2 for c in cols))
            label = max(6, *(len(_show(r)) + 4 for r in rows))
            lines.append(f"scheme {title} (rows: A, columns: B)")
            lines.append(
                " " * label + "".join(f"{_show(c):>{width}}" for c in cols) + f"{'total':>{width}}"
            )
            for r in rows:
                counts = [cells.get((scheme_a, r, scheme_b, c), 0) for c in cols]
                lines.append(
                    f"{'  ' + _show(r):<{label}}"
                    + "".join(f"{n:>{width}}" for n in counts)
                    + f"{sum(counts):>{width}}"
                )
            lines.append("")
        worse = sum(m.direction == "worse" for m in self.moves)
        better = sum(m.direction == "better" for m in self.moves)
        lines.append(
            f"moved: {len(self.moves)} enterprises (worse {worse}, better {better}, "
            f"other {len(self.moves) - worse - better})"
        )
        for move in self.moves[:limit]:
            lines.append(
                f"  {move.enterprise_id}  {move.scheme_b}  {_show(move.level_a)} -> "
                f"{_show(move.level_b)}  {move.rule or '-'}: {move.why}"
            )
        if len(self.moves) > limit:
            lines.append(f"  ... and {len(self.moves) - limit} more (--limit, or --format json)")
        return "\n".join(lines) + "\n"


def _show(level: str | None) -> str:
    return "-" if level is None else level


def _levels(order: Sequence[str], present: set[str | None]) -> list[str | None]:
    out: list[str | None] = [None] if None in present else []
    out += [x for x in order if x in present]
    out += sorted(x for x in present if x is not None and x not in order)
    return out


def _points(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _move(a: Decision, b: Decision, levels_a: Sequence[str], levels_b: Sequence[str]) -> Move:
    if a.scheme == b.scheme and a.level is not None and b.level is not None:
        rank_a, rank_b = levels_a.index(a.level), levels_b.index(b.level)
        direction = "worse" if rank_b > rank_a else "better"
    elif a.level is None or b.level is None:
        direction = "graded" if a.level is None else "ungraded"
    else:
        direction = "other"
    reasons_a = {r.rule: r for r in a.reasons}
    reasons_b = {r.rule: r for r in b.reasons}
    added = tuple(r.rule for r in b.reasons if r.rule not in reasons_a)
    removed = tuple(r.rule for r in a.reasons if r.rule not in reasons_b)
    changed = tuple(
        (r.rule, _points(reasons_a[r.rule].points), _points(r.points))
        for r in b.reasons
        if r.rule in reasons_a and reasons_a[r.rule].points != r.points
    )
    # Rules of the assessment first; the policy's own reasons (a held improvement) follow from
    # them and come last.
    rules_added = [r for r in added if not r.startswith("regrade.")]
    rules_removed = [r for r in removed if not r.startswith("regrade.")]
    rule: str | None = None
    why: str
    if direction == "better" and rules_removed:
        rule = rules_removed[0]
        why = f"no longer applies: {reasons_a[rule].text}"
    elif direction != "better" and rules_added:
        rule = rules_added[0]
        why = reasons_b[rule].text
    elif changed:
        rule, before, after = max(changed, key=lambda c: abs((c[2] or 0.0) - (c[1] or 0.0)))
        why = f"{reasons_b[rule].text}: {before} -> {after} points"
    elif rules_removed or rules_added:
        rule = (rules_removed or rules_added)[0]
        why = reasons_a[rule].text if rule in reasons_a else reasons_b[rule].text
    elif added or removed:
        rule = (added or removed)[0]
        why = reasons_b[rule].text if rule in reasons_b else reasons_a[rule].text
    else:
        why = b.cause or (b.transition or "")
    return Move(
        a.enterprise_id,
        a.scheme,
        b.scheme,
        a.level,
        b.level,
        direction,
        rule,
        why,
        added,
        removed,
        changed,
    )


def compare_decisions(
    decisions_a: Iterator[Decision] | Sequence[Decision],
    decisions_b: Iterator[Decision] | Sequence[Decision],
    pack_a: RulePack,
    pack_b: RulePack,
    as_of: dt.date,
    *,
    engines: tuple[str, str] = ("python", "python"),
) -> Comparison:
    """Compare two graded populations (the same enterprises in the same order)."""
    matrix: dict[tuple[str, str | None, str, str | None], int] = {}
    moves: list[Move] = []
    count = 0
    for a, b in zip(decisions_a, decisions_b, strict=True):
        count += 1
        key = (a.scheme, a.level, b.scheme, b.level)
        matrix[key] = matrix.get(key, 0) + 1
        if a.level != b.level or a.scheme != b.scheme:
            moves.append(
                _move(a, b, pack_a.schemes[a.scheme].levels, pack_b.schemes[b.scheme].levels)
            )
    levels = {name: s.levels for name, s in pack_a.schemes.items()}
    for name, s in pack_b.schemes.items():
        levels.setdefault(name, s.levels)
    return Comparison(
        as_of=as_of,
        packs=(_ref(pack_a), _ref(pack_b)),
        enterprises=count,
        matrix=matrix,
        moves=tuple(moves),
        engines=engines,
        levels=levels,
    )


def _ref(pack: RulePack) -> dict[str, str]:
    return {"id": pack.ref.id, "version": pack.ref.version, "digest": pack.ref.digest}


def compare(
    pack_a: RulePack,
    pack_b: RulePack,
    enterprises: str,
    events: str,
    as_of: dt.date,
    *,
    lang: Lang = "en",
    engine: str = "auto",
) -> Comparison:
    """Grade the records in two files under both packs and compare.

    ``engine``: ``numpy`` (refuse a pack it cannot evaluate), ``python``, or ``auto`` (numpy
    where it can). Records are read once, columnar (:func:`riskgrade.ingest.read_records`)
    for the numpy engine; input errors are those of ``riskgrade grade``.
    """
    from functools import partial

    from riskgrade.batch import BatchEvaluator, UnsupportedError
    from riskgrade.ingest import enterprise_at, read_records

    batches: list[BatchEvaluator | None] = []
    for pack in (pack_a, pack_b):
        if engine == "python":
            batches.append(None)
            continue
        try:
            batches.append(BatchEvaluator(pack))
        except UnsupportedError:
            if engine == "numpy":
                raise
            batches.append(None)
    streams: list[Iterator[Decision]] = []
    names: list[str] = []
    columns = None
    record_set = None
    for pack, batch in zip((pack_a, pack_b), batches, strict=True):
        if batch is not None:
            if columns is None:
                columns = read_records(enterprises, events)
            batch.check(columns.enterprises, partial(enterprise_at, columns), locate=True)
            streams.append(batch.evaluate(columns, as_of).decisions(lang))
            names.append("numpy")
        else:
            from riskgrade.cli import check_schemes
            from riskgrade.grading import Grader
            from riskgrade.records import load_records

            if record_set is None:
                record_set = load_records(enterprises, events)
            check_schemes(pack, record_set)
            streams.append(Grader(pack, engine="python", lang=lang).iter_grade(record_set, as_of))
            names.append("python")
    return compare_decisions(
        streams[0], streams[1], pack_a, pack_b, as_of, engines=(names[0], names[1])
    )
