"""Compiled rule packs: packs type-checked against the record schema, ready to evaluate.

:func:`load_pack` reads a pack folder, validates every file against :mod:`riskgrade.packs`,
compiles every expression against the record types it will meet, and checks the pack as a
whole (levels, bands without gaps or overlaps, reachable levels, used sets). Anything wrong is a
:class:`~riskgrade.errors.PackError` naming the file, the line and the rule. What it returns,
:class:`RulePack`, is immutable and safe to share between threads and evaluators.
"""

from __future__ import annotations

import datetime as dt
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel

from riskgrade import _expr
from riskgrade._yaml import LocatedDict, line_of
from riskgrade.dates import Duration
from riskgrade.errors import InputError, PackError
from riskgrade.packs import (
    AttributeSpec,
    AttributeTerm,
    BandTable,
    ConditionRule,
    ConditionTerm,
    DirectPolicy,
    EachTerm,
    HysteresisPolicy,
    LeveledRule,
    LevelSpec,
    PackFiles,
    PackManifest,
    PackRef,
    Requirement,
    SchemeSpec,
    Text,
    TreatmentSpec,
    WindowSpec,
    YearlyPolicy,
    load_manifest,
    load_scheme,
    read_pack_files,
)
from riskgrade.records import EVENT_TYPES, Enterprise

__all__ = [
    "AttributeTermC",
    "BandC",
    "CompiledSet",
    "ConditionTermC",
    "EachTermC",
    "RuleC",
    "RulePack",
    "Scheme",
    "ScoreC",
    "Window",
    "load_pack",
    "load_pack_files",
]


@dataclass(frozen=True, slots=True)
class Window:
    """Records dated within ``length`` of t, with the ends included as ``bounds`` says."""

    length: Duration
    lower_inclusive: bool = False
    upper_inclusive: bool = True

    def contains(self, day: dt.date, t: dt.date) -> bool:
        """Say whether a record dated ``day`` is in this window at ``t``."""
        start = self.length.before(t)
        low_ok = day >= start if self.lower_inclusive else day > start
        high_ok = day <= t if self.upper_inclusive else day < t
        return low_ok and high_ok

    def describe(self) -> str:
        """Return e.g. ``(t-3y, t]``."""
        left = "[" if self.lower_inclusive else "("
        right = "]" if self.upper_inclusive else ")"
        return f"{left}t-{self.length.describe()}, t{right}"


@dataclass(frozen=True, slots=True)
class CompiledSet:
    """A named set of records: types, a compiled filter and a window."""

    name: str
    types: frozenset[str]
    where: _expr.Compiled | None
    window: Window | None
    #: True when the filter reads ``overdue``, whose value depends on the re-grade date.
    time_dependent: bool


@dataclass(frozen=True, slots=True)
class WeightTable:
    """Recency weights: the first band whose window holds the record's date."""

    name: str
    bands: tuple[tuple[Duration, Decimal], ...]

    def weight(self, day: dt.date, t: dt.date) -> Decimal:
        """Return the weight of a record dated ``day`` at ``t`` (zero outside every band)."""
        for length, weight in self.bands:
            if length.before(t) < day <= t:
                return weight
        return Decimal(0)


@dataclass(frozen=True, slots=True)
class EachTermC:
    """Points for each record of a set (see :class:`riskgrade.packs.EachTerm`)."""

    rule: str
    text: Text
    set: str
    points: Decimal | _expr.Compiled
    weight: WeightTable | None
    cap: Decimal | None
    pick: Literal["all", "latest", "earliest"]


@dataclass(frozen=True, slots=True)
class AttributeTermC:
    """Points from an attribute value (see :class:`riskgrade.packs.AttributeTerm`)."""

    rule: str
    text: Text
    attribute: str
    points: Mapping[str, Decimal]
    otherwise: Decimal | None


@dataclass(frozen=True, slots=True)
class ConditionTermC:
    """Fixed points while a condition holds."""

    rule: str
    text: Text
    when: _expr.Compiled
    points: Decimal


TermC = EachTermC | AttributeTermC | ConditionTermC


@dataclass(frozen=True, slots=True)
class ScoreC:
    """A named score: the sum of its terms."""

    name: str
    text: Text
    terms: tuple[TermC, ...]


@dataclass(frozen=True, slots=True)
class BandC:
    """A score band mapped to a level index; ``None`` bounds are open."""

    level: int
    lower: Decimal | None
    lower_inclusive: bool
    upper: Decimal | None
    upper_inclusive: bool

    def holds(self, score: Decimal) -> bool:
        """Say whether ``score`` falls in this band."""
        if self.lower is not None and (
            score < self.lower or (score == self.lower and not self.lower_inclusive)
        ):
            return False
        return not (
            self.upper is not None
            and (score > self.upper or (score == self.upper and not self.upper_inclusive))
        )


@dataclass(frozen=True, slots=True)
class RuleC:
    """A condition rule; ``level`` is the level it sets or raises to, where it has one."""

    rule: str
    text: Text
    when: _expr.Compiled
    level: int | None = None


@dataclass(frozen=True, slots=True)
class Treatment:
    """A treatment plan as compiled from the manifest."""

    name: str
    spec: TreatmentSpec


@dataclass(frozen=True)
class Scheme:
    """One compiled scheme: everything the evaluators need, resolved and type-checked."""

    name: str
    spec: SchemeSpec
    levels: tuple[str, ...]
    level_specs: tuple[LevelSpec, ...]
    treatments: tuple[Treatment, ...]
    sets: Mapping[str, CompiledSet]
    scores: Mapping[str, ScoreC]
    reported_score: str | None
    band_tables: tuple[tuple[str, tuple[BandC, ...]], ...]
    classes: tuple[tuple[int, tuple[RuleC, ...]], ...]
    otherwise: int | None
    overrides: tuple[RuleC, ...]
    floors: tuple[RuleC, ...]
    requires: RuleC | None
    requires_treatment: Treatment | None
    policy: HysteresisPolicy | DirectPolicy | YearlyPolicy
    review_every: Duration
    attributes: Mapping[str, AttributeSpec]
    due_from: frozenset[str]
    #: Rules reported among the reasons while they hold; they never change the level.
    flags: tuple[RuleC, ...] = ()

    def level_index(self, level: str) -> int:
        """Return the index of a level (0 is the best)."""
        return self.levels.index(level)

    def check_enterprise(self, enterprise: Enterprise) -> None:
        """Validate an enterprise's attributes against the scheme; raise :class:`InputError`."""
        for key, value in enterprise.attributes.items():
            if key not in self.attributes:
                close = difflib.get_close_matches(key, list(self.attributes), n=1)
                msg = f"attribute {key!r} is not used by scheme {self.name!r}"
                raise InputError(
                    msg,
                    field=f"attributes.{key}",
                    event=None,
                    suggestion=close[0] if close else None,
                )
            spec = self.attributes[key]
            values = value if isinstance(value, tuple | list) else (value,)
            if not values and spec.required:
                # An empty list names no option: as missing as no value at all.
                msg = f"attribute {key!r} is required by scheme {self.name!r}, got an empty list"
                raise InputError(msg, field=f"attributes.{key}")
            if isinstance(value, tuple | list) and not spec.multiple and len(values) != 1:
                msg = f"attribute {key!r} takes one value, got a list"
                raise InputError(msg, field=f"attributes.{key}")
            for item in values:
                if not isinstance(item, str):
                    msg = f"attribute {key!r} takes text values, got {item!r}"
                    raise InputError(msg, field=f"attributes.{key}")
                if item not in spec.values and spec.other_values == "error":
                    close = difflib.get_close_matches(item, spec.values, n=1)
                    msg = f"unknown value {item!r}; allowed: {', '.join(spec.values)}"
                    raise InputError(
                        msg, field=f"attributes.{key}", suggestion=close[0] if close else None
                    )
        for key, spec in self.attributes.items():
            if spec.required and key not in enterprise.attributes:
                msg = f"attribute {key!r} is required by scheme {self.name!r}"
                raise InputError(msg, field=f"attributes.{key}")


@dataclass(frozen=True)
class RulePack:
    """A loaded, compiled rule pack. Immutable; share it freely."""

    ref: PackRef
    manifest: PackManifest
    files: PackFiles
    schemes: Mapping[str, Scheme]
    source: str = field(default="")

    def scheme_for(self, enterprise: Enterprise) -> Scheme:
        """Return the scheme that grades ``enterprise``; raise :class:`InputError` if none."""
        if enterprise.scheme is None:
            if len(self.schemes) == 1:
                return next(iter(self.schemes.values()))
            msg = f"required: pack {self.ref.id!r} has schemes {', '.join(self.schemes)}"
            raise InputError(msg, field="scheme")
        try:
            return self.schemes[enterprise.scheme]
        except KeyError:
            close = difflib.get_close_matches(enterprise.scheme, list(self.schemes), n=1)
            known = ", ".join(self.schemes)
            msg = f"unknown scheme {enterprise.scheme!r}; pack {self.ref.id!r} has {known}"
            raise InputError(msg, field="scheme", suggestion=close[0] if close else None) from None


def load_pack(directory: str | Path) -> RulePack:
    """Read, validate and compile the rule pack in ``directory``."""
    files = read_pack_files(directory)
    return load_pack_files(files, name=str(directory))


def load_pack_files(files: PackFiles, *, name: str = "<pack>") -> RulePack:
    """Validate and compile a pack from its files (as the ledger stores them)."""
    manifest = load_manifest(files, name=name)
    referenced = {"pack.yaml", *manifest.schemes.values()}
    for path in files.files:
        if path.endswith((".yaml", ".yml")) and path not in referenced:
            msg = "pack file is not referenced by pack.yaml's 'schemes'"
            raise PackError(msg, file=f"{name}/{path}")
    unknown_types = [t for t in manifest.due_from if t not in EVENT_TYPES]
    if unknown_types:
        msg = f"unknown record type {unknown_types[0]!r}"
        raise PackError(
            msg,
            file=f"{name}/pack.yaml",
            field="due_from",
            suggestion=_close(unknown_types[0], EVENT_TYPES),
        )
    schemes: dict[str, Scheme] = {}
    for scheme_name, file_name in manifest.schemes.items():
        spec, raw = load_scheme(files, file_name, name=name)
        where = f"{name}/{file_name}"
        if spec.scheme != scheme_name:
            msg = (
                f"the file declares scheme {spec.scheme!r}, "
                f"but pack.yaml lists it as {scheme_name!r}"
            )
            raise PackError(msg, file=where, line=line_of(raw, "scheme"), field="scheme")
        schemes[scheme_name] = _SchemeCompiler(manifest, spec, raw, where).compile()
    ref = PackRef(id=manifest.id, version=manifest.version, digest=files.digest)
    return RulePack(
        ref=ref,
        manifest=manifest,
        files=files,
        schemes=MappingProxyType(schemes),
        source=name,
    )


def _close(word: str, options: object) -> str | None:
    matches = difflib.get_close_matches(word, [str(o) for o in options], n=1)  # type: ignore[attr-defined]
    return matches[0] if matches else None


# --- record types as the expression language sees them -------------------------------------


def _expr_type(annotation: object) -> _expr.Type:
    """Translate a record model's field annotation into the expression language's type."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _expr_type(args[0])
    if origin in (typing.Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        if len(present) == 1:
            return _expr_type(present[0])
    if origin is typing.Literal:
        return _expr.one_of(*(str(a) for a in args))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _expr.ListType(_expr_type(args[0]))
    if origin is dict:
        return _expr.RecordType({}, extra=_expr_type(args[1]))
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return _expr.RecordType(
                {name: _expr_type(f.annotation) for name, f in annotation.model_fields.items()}
            )
        for python_type, expr_type in _SCALARS:
            if issubclass(annotation, python_type):
                return expr_type
    msg = f"no expression type for record field annotation {annotation!r}"
    raise TypeError(msg)


# bool before int: bool is an int subclass.
_SCALARS: tuple[tuple[type, _expr.Type], ...] = (
    (bool, _expr.BOOL),
    (str, _expr.STRING),
    (Decimal, _expr.NUMBER),
    (int, _expr.NUMBER),
    (dt.date, _expr.DATE),
)

#: Fields rules may read that records do not carry: derived at the re-grade date t.
DERIVED_FIELDS: Mapping[str, Mapping[str, _expr.Type]] = MappingProxyType(
    {"inspection": {"overdue": _expr.BOOL}, "enforcement": {"overdue": _expr.BOOL}}
)

_COMMON = frozenset({"id", "enterprise_id", "date", "type"})


def _record_fields(event_type: str) -> dict[str, _expr.Type]:
    model = EVENT_TYPES[event_type]
    fields = {
        name: _expr_type(info.annotation)
        for name, info in model.model_fields.items()
        if name not in _COMMON
    }
    fields.update(DERIVED_FIELDS.get(event_type, {}))
    return fields


#: Every record type's own fields as rules see them, derived from the record models.
RECORD_FIELDS: Mapping[str, Mapping[str, _expr.Type]] = MappingProxyType(
    {name: MappingProxyType(_record_fields(name)) for name in EVENT_TYPES}
)


def record_env(types: Sequence[str]) -> dict[str, _expr.Type]:
    """Return the fields a set over ``types`` may read, plus ``type`` itself.

    A field of some of the types but not others reads as null on the others (guard it with
    ``type == ...`` or ``has(...)``); a field two types declare differently (enums excepted,
    which merge) cannot be read in a set over both.
    """
    env: dict[str, _expr.Type] = {
        "id": _expr.STRING,
        "enterprise_id": _expr.STRING,
        "date": _expr.DATE,
        "type": _expr.one_of(*sorted(types)),
    }
    fields: dict[str, _expr.Type] = {}
    clashing: set[str] = set()
    for name in types:
        for key, typ in RECORD_FIELDS[name].items():
            if key in clashing:
                continue
            if key in fields:
                combined = _merge_types(fields[key], typ)
                if combined is None:
                    clashing.add(key)
                    del fields[key]
                    continue
                typ = combined
            fields[key] = typ
    env.update(fields)
    return env


def _merge_types(left: _expr.Type, right: _expr.Type) -> _expr.Type | None:
    """The type of a field two record types share: equal types, or two enums merged."""
    if left == right:
        return left
    if isinstance(left, _expr.StringType) and isinstance(right, _expr.StringType):
        if left.values is None or right.values is None:
            return _expr.STRING
        return _expr.StringType(left.values | right.values)
    return None


def _child(node: object, step: str | int) -> object | None:
    """Return ``node[step]`` for a mapping key or a list index that exists, else None."""
    if isinstance(node, dict) and isinstance(step, str):
        value: object = node.get(step)
        return value
    if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
        item: object = node[step]
        return item
    return None


class _SchemeCompiler:
    """Compiles one scheme file; every error names the file, line and rule."""

    def __init__(self, manifest: PackManifest, spec: SchemeSpec, raw: LocatedDict, where: str):
        self.manifest = manifest
        self.spec = spec
        self.raw = raw
        self.where = where
        self.levels = tuple(level.id for level in spec.levels)
        self.used_sets: set[str] = set()
        self.rule_ids: dict[str, int | None] = {}

    # -- helpers ---------------------------------------------------------------------------
    def line(self, *path: str | int) -> int | None:
        node: object = self.raw
        line = self.raw.line
        for step in path:
            found = line_of(node, step)
            if found is None:
                break
            line = found
            child = _child(node, step)
            if child is None:
                break
            node = child
        return line

    def fail(
        self, message: str, *path: str | int, rule: str | None = None, suggestion: str | None = None
    ) -> PackError:
        field_path = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(
            ".[", "["
        )
        return PackError(
            message,
            file=self.where,
            line=self.line(*path),
            field=field_path or None,
            rule=rule,
            suggestion=suggestion,
        )

    def level(self, level: str, *path: str | int, rule: str | None = None) -> int:
        if level not in self.levels:
            msg = f"unknown level {level!r}; the scheme's levels are {', '.join(self.levels)}"
            raise self.fail(msg, *path, rule=rule, suggestion=_close(level, self.levels))
        return self.levels.index(level)

    def expression(
        self,
        source: str,
        env: Mapping[str, _expr.Type],
        expect: _expr.Type,
        *path: str | int,
        rule: str | None = None,
    ) -> _expr.Compiled:
        try:
            return _expr.compile_expression(source, dict(env), expect=expect)
        except _expr.ExpressionError as exc:
            raise self.fail(exc.message, *path, rule=rule, suggestion=exc.suggestion) from None

    def register_rule(self, rule: str, *path: str | int) -> None:
        if rule in self.rule_ids:
            msg = f"rule id {rule!r} is used twice (first on line {self.rule_ids[rule]})"
            raise self.fail(msg, *path, rule=rule)
        self.rule_ids[rule] = self.line(*path)

    def set_ref(self, name: str, *path: str | int, rule: str | None = None) -> str:
        if name not in self.spec.sets:
            msg = f"unknown set {name!r}"
            raise self.fail(msg, *path, rule=rule, suggestion=_close(name, self.spec.sets))
        self.used_sets.add(name)
        return name

    # -- the parts -------------------------------------------------------------------------
    def compile(self) -> Scheme:
        spec = self.spec
        if len(set(self.levels)) != len(self.levels):
            raise self.fail("level ids must be unique", "levels")
        treatments = self.manifest.treatments
        level_treatments = []
        for i, level_spec in enumerate(spec.levels):
            name = level_spec.treatment
            if name not in treatments:
                msg = f"unknown treatment {name!r}"
                raise self.fail(msg, "levels", i, "treatment", suggestion=_close(name, treatments))
            level_treatments.append(Treatment(name, treatments[name]))
        windows = {name: self.window(w) for name, w in spec.windows.items()}
        weights = self.weights()
        sets = {name: self.compile_set(name, s, windows) for name, s in spec.sets.items()}
        pack_env = self.pack_env(with_scores=False)
        scores = {
            name: self.compile_score(name, s, sets, weights, pack_env)
            for name, s in spec.scores.items()
        }
        rule_env = self.pack_env(with_scores=True)
        grade = spec.grade
        reported = grade.score
        if reported is not None and reported not in scores:
            raise self.fail(
                f"unknown score {reported!r}", "grade", "score", suggestion=_close(reported, scores)
            )
        band_tables = tuple(
            self.band_table(i, table, scores) for i, table in enumerate(grade.bands or ())
        )
        if reported is None and band_tables:
            reported = band_tables[0][0]
        classes: list[tuple[int, tuple[RuleC, ...]]] = []
        for level, rules in (grade.classes or {}).items():
            index = self.level(level, "grade", "classes", level)
            compiled = tuple(
                self.rule(r, rule_env, "grade", "classes", level, i, level=index)
                for i, r in enumerate(rules)
            )
            classes.append((index, compiled))
        classes.sort(key=lambda item: -item[0])  # worst first
        otherwise = self.level(grade.otherwise, "grade", "otherwise") if grade.otherwise else None
        overrides = tuple(
            self.rule(
                r,
                rule_env,
                "grade",
                "overrides",
                i,
                level=self.level(r.level, "grade", "overrides", i, "level"),
            )
            for i, r in enumerate(grade.overrides)
        )
        floors = tuple(
            self.rule(
                r,
                rule_env,
                "grade",
                "initial_floors",
                i,
                level=self.level(r.level, "grade", "initial_floors", i, "level"),
            )
            for i, r in enumerate(grade.initial_floors)
        )
        requires = None
        requires_treatment = None
        if grade.requires is not None:
            requires = self.rule(grade.requires, rule_env, "grade", "requires")
            if grade.requires.treatment is not None:
                name = grade.requires.treatment
                if name not in treatments:
                    raise self.fail(
                        f"unknown treatment {name!r}",
                        "grade",
                        "requires",
                        "treatment",
                        suggestion=_close(name, treatments),
                    )
                requires_treatment = Treatment(name, treatments[name])
        flags = tuple(
            self.rule(r, rule_env, "grade", "flags", i) for i, r in enumerate(grade.flags)
        )
        policy = spec.regrade
        if isinstance(policy, HysteresisPolicy):
            self.set_ref(policy.clean, "regrade", "clean")
        elif isinstance(policy, YearlyPolicy):
            self.set_ref(policy.trigger, "regrade", "trigger")
            month, day = (int(x) for x in policy.anniversary.split("-"))
            try:
                dt.date(2001, month, day)
            except ValueError:
                raise self.fail(
                    "not a valid MM-DD day of a common year", "regrade", "anniversary"
                ) from None
        for name in spec.sets:
            if name not in self.used_sets:
                raise self.fail(f"set {name!r} is defined but no rule uses it", "sets", name)
        self.check_reachable(band_tables, classes, otherwise, overrides, floors, policy)
        return Scheme(
            name=spec.scheme,
            spec=spec,
            levels=self.levels,
            level_specs=tuple(spec.levels),
            treatments=tuple(level_treatments),
            sets=MappingProxyType(sets),
            scores=MappingProxyType(scores),
            reported_score=reported,
            band_tables=band_tables,
            classes=tuple(classes),
            otherwise=otherwise,
            overrides=overrides,
            floors=floors,
            requires=requires,
            requires_treatment=requires_treatment,
            policy=policy,
            review_every=spec.review_every.to_duration(),
            attributes=MappingProxyType(dict(spec.attributes)),
            due_from=frozenset(self.manifest.due_from),
            flags=flags,
        )

    def window(self, spec: WindowSpec) -> Window:
        return Window(spec.last.to_duration(), spec.bounds[0] == "[", spec.bounds[1] == "]")

    def weights(self) -> dict[str, WeightTable]:
        tables = {}
        for name, bands in self.spec.weights.items():
            previous: Duration | None = None
            for i, band in enumerate(bands):
                length = band.within.to_duration()
                probe = dt.date(2001, 3, 1)
                if previous is not None and length.before(probe) >= previous.before(probe):
                    raise self.fail(
                        "weight bands must widen: each 'within' longer than the one before",
                        "weights",
                        name,
                        i,
                        "within",
                    )
                previous = length
            tables[name] = WeightTable(
                name, tuple((b.within.to_duration(), b.weight) for b in bands)
            )
        return tables

    def compile_set(self, name: str, spec: object, windows: Mapping[str, Window]) -> CompiledSet:
        from riskgrade.packs import SetSpec

        assert isinstance(spec, SetSpec)
        types = spec.types()
        for i, typ in enumerate(types):
            if typ not in EVENT_TYPES:
                path: tuple[str | int, ...] = (
                    ("sets", name, "type")
                    if isinstance(spec.type, str)
                    else ("sets", name, "type", i)
                )
                raise self.fail(
                    f"unknown record type {typ!r}", *path, suggestion=_close(typ, EVENT_TYPES)
                )
        where = None
        if spec.where is not None:
            where = self.expression(
                spec.where, record_env(types), _expr.BOOL, "sets", name, "where"
            )
        window: Window | None = None
        if isinstance(spec.window, str):
            if spec.window not in windows:
                raise self.fail(
                    f"unknown window {spec.window!r}",
                    "sets",
                    name,
                    "window",
                    suggestion=_close(spec.window, windows),
                )
            window = windows[spec.window]
        elif spec.window is not None:
            window = self.window(spec.window)
        time_dependent = where is not None and "overdue" in where.names
        return CompiledSet(name, frozenset(types), where, window, time_dependent)

    def pack_env(self, *, with_scores: bool) -> dict[str, _expr.Type]:
        env: dict[str, _expr.Type] = dict.fromkeys(self.spec.sets, _expr.SET)
        attributes: dict[str, _expr.Type] = {}
        for name, attr in self.spec.attributes.items():
            base = _expr.one_of(*attr.values) if attr.other_values == "error" else _expr.STRING
            attributes[name] = _expr.ListType(base) if attr.multiple else base
        env["attributes"] = _expr.RecordType(attributes)
        if with_scores:
            env["score"] = _expr.RecordType(dict.fromkeys(self.spec.scores, _expr.NUMBER))
        return env

    def compile_score(
        self,
        name: str,
        spec: object,
        sets: Mapping[str, CompiledSet],
        weights: Mapping[str, WeightTable],
        env: Mapping[str, _expr.Type],
    ) -> ScoreC:
        from riskgrade.packs import ScoreSpec

        assert isinstance(spec, ScoreSpec)
        terms: list[TermC] = []
        for i, term in enumerate(spec.terms):
            path = ("scores", name, "terms", i)
            self.register_rule(term.rule, *path)
            if isinstance(term, EachTerm):
                set_name = self.set_ref(term.each, *path, "each", rule=term.rule)
                points: Decimal | _expr.Compiled
                if isinstance(term.points, str):
                    env_types = sorted(sets[set_name].types)
                    points = self.expression(
                        term.points,
                        record_env(env_types),
                        _expr.NUMBER,
                        *path,
                        "points",
                        rule=term.rule,
                    )
                else:
                    points = term.points
                weight = None
                if term.weight is not None:
                    if term.weight not in weights:
                        raise self.fail(
                            f"unknown weights {term.weight!r}",
                            *path,
                            "weight",
                            rule=term.rule,
                            suggestion=_close(term.weight, weights),
                        )
                    weight = weights[term.weight]
                terms.append(
                    EachTermC(term.rule, term.text, set_name, points, weight, term.cap, term.pick)
                )
            elif isinstance(term, AttributeTerm):
                attr = self.spec.attributes.get(term.attribute)
                if attr is None:
                    raise self.fail(
                        f"unknown attribute {term.attribute!r}",
                        *path,
                        "attribute",
                        rule=term.rule,
                        suggestion=_close(term.attribute, self.spec.attributes),
                    )
                for value in term.points:
                    if value not in attr.values:
                        raise self.fail(
                            f"{value!r} is not a value of attribute {term.attribute!r}",
                            *path,
                            "points",
                            rule=term.rule,
                            suggestion=_close(value, attr.values),
                        )
                missing = [v for v in attr.values if v not in term.points]
                if missing and term.otherwise is None:
                    raise self.fail(
                        f"no points for value {missing[0]!r} and no 'otherwise'",
                        *path,
                        "points",
                        rule=term.rule,
                    )
                if (attr.other_values == "allow" or not attr.required) and term.otherwise is None:
                    raise self.fail(
                        "the attribute may be missing or take other values: give 'otherwise'",
                        *path,
                        rule=term.rule,
                    )
                terms.append(
                    AttributeTermC(
                        term.rule,
                        term.text,
                        term.attribute,
                        MappingProxyType(dict(term.points)),
                        term.otherwise,
                    )
                )
            else:
                assert isinstance(term, ConditionTerm)
                when = self.expression(term.when, env, _expr.BOOL, *path, "when", rule=term.rule)
                self.used_sets.update(when.sets)
                terms.append(ConditionTermC(term.rule, term.text, when, term.points))
        return ScoreC(name, spec.text, tuple(terms))

    def band_table(
        self, index: int, table: BandTable, scores: Mapping[str, ScoreC]
    ) -> tuple[str, tuple[BandC, ...]]:
        path: tuple[str | int, ...] = ("grade", "bands", index)
        if table.score not in scores:
            raise self.fail(
                f"unknown score {table.score!r}",
                *path,
                "score",
                suggestion=_close(table.score, scores),
            )
        bands: list[BandC] = []
        for i, band in enumerate(table.bands):
            bpath = (*path, "bands", i)
            level = self.level(band.level, *bpath, "level")
            lower = band.from_ if band.from_ is not None else band.above
            upper = band.below if band.below is not None else band.to
            compiled = BandC(level, lower, band.from_ is not None, upper, band.to is not None)
            first, last = i == 0, i == len(table.bands) - 1
            if first and lower is not None:
                raise self.fail(
                    "the first band must have no lower bound (scores below it would have no level)",
                    *bpath,
                )
            if last and upper is not None:
                raise self.fail(
                    "the last band must have no upper bound (scores above it would have no level)",
                    *bpath,
                )
            if not first and lower is None:
                raise self.fail(
                    "only the first band may lack a lower bound ('from' or 'above')", *bpath
                )
            if not last and upper is None:
                raise self.fail(
                    "only the last band may lack an upper bound ('below' or 'to')", *bpath
                )
            if (
                lower is not None
                and upper is not None
                and (
                    lower > upper
                    or (
                        lower == upper
                        and not (compiled.lower_inclusive and compiled.upper_inclusive)
                    )
                )
            ):
                raise self.fail(
                    "the band is empty: its lower bound is not below its upper bound", *bpath
                )
            if bands:
                prev = bands[-1]
                assert prev.upper is not None
                assert lower is not None
                if prev.upper < lower or (
                    prev.upper == lower
                    and not prev.upper_inclusive
                    and not compiled.lower_inclusive
                ):
                    raise self.fail(
                        f"gap between bands: scores from {prev.upper} to {lower} have no level",
                        *bpath,
                    )
                if prev.upper > lower or (prev.upper_inclusive and compiled.lower_inclusive):
                    raise self.fail(
                        f"bands overlap at {lower}: a score there would have two levels", *bpath
                    )
            bands.append(compiled)
        return table.score, tuple(bands)

    def rule(
        self,
        spec: ConditionRule | LeveledRule | Requirement,
        env: Mapping[str, _expr.Type],
        *path: str | int,
        level: int | None = None,
    ) -> RuleC:
        rule_id: str = spec.rule
        text: Text = spec.text
        when_source: str = spec.when
        self.register_rule(rule_id, *path)
        when = self.expression(when_source, env, _expr.BOOL, *path, "when", rule=rule_id)
        self.used_sets.update(when.sets)
        return RuleC(rule_id, text, when, level)

    def check_reachable(
        self,
        band_tables: Sequence[tuple[str, tuple[BandC, ...]]],
        classes: Sequence[tuple[int, tuple[RuleC, ...]]],
        otherwise: int | None,
        overrides: Sequence[RuleC],
        floors: Sequence[RuleC],
        policy: object,
    ) -> None:
        if isinstance(policy, YearlyPolicy):
            return  # raises and clean-year lowering walk through every level
        reached: set[int] = set()
        for _, bands in band_tables:
            reached.update(b.level for b in bands)
        reached.update(level for level, _ in classes)
        if otherwise is not None:
            reached.add(otherwise)
        reached.update(r.level for r in (*overrides, *floors) if r.level is not None)
        for i, level in enumerate(self.levels):
            if i not in reached:
                raise self.fail(f"no rule can reach level {level!r}", "levels", i)
