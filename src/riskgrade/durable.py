"""Run rule packs on durable-rules: the export of their conditions, and an evaluator.

The pack's sets, scores and attributes are computed natively at each re-grade date (they are
the *features*); durable-rules matches the pack's *conditions* over them: class rules,
overrides, initial floors, flags, the grading requirement and the condition terms of scores.
Each condition becomes one rule of a durable-rules JSON ruleset (:mod:`riskgrade._durable_rules`
says how, exactly), and each re-grade date asserts one fact per ruleset, whose fields are the
features the ruleset reads. Decisions are byte-identical to the native evaluator's.

A pack whose conditions cannot be matched exactly, or that would break one of durable-rules'
fixed limits (:mod:`riskgrade._durable_limits`), is refused when the evaluator is made, with a
:class:`~riskgrade.errors.PackError` naming the rule. Rules are spread over as many rulesets as
the limits need.

Use it through ``Grader(pack, engine="durable")`` or ``riskgrade grade --engine durable``;
``riskgrade export --format durable DIR`` prints the rulesets for a durable-rules host. Needs
the optional extra: ``pip install 'riskgrade[durable]'`` (durable-rules 2.0.28, Python < 3.13).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType, TracebackType
from typing import Final, Literal

from riskgrade._durable_engine import CATCH_ALL, SUPPORTED_VERSION, DurableHost
from riskgrade._durable_limits import (
    MAX_FACT_KEYS,
    MAX_GROUPS_PER_RULE,
    Network,
    fnv1_32,
)
from riskgrade._durable_rules import (
    TRUTH_FIELD,
    ScopeSpec,
    Sum,
    Test,
    Translated,
    UntranslatableError,
    translate,
    translated,
)
from riskgrade.compiled import (
    AttributeTermC,
    ConditionTermC,
    EachTermC,
    RuleC,
    RulePack,
    Scheme,
    ScoreC,
)
from riskgrade.errors import EvaluationError, PackError
from riskgrade.evaluation import Evaluator, Matcher

__all__ = [
    "DurableEvaluator",
    "DurableHost",
    "SchemeProgram",
    "compile_pack",
    "export_rulesets",
    "plan_scheme",
]

#: Decimal places assumed for numbers read from records (``points: scores.dynamic``); a score
#: with more places than its unit is refused at run time rather than rounded.
DATA_PLACES: Final = 2
_MAX_PLACES: Final = 12
#: Integers sent to durable-rules stay far inside its int64 arithmetic (and exact as doubles).
_MAX_MAGNITUDE: Final = 2**53
_RESERVED: Final = ("id", "sid", "$forward")  # fact keys and a property name of durable-rules

Phase = Literal["terms", "rules"]
FactValue = int | str | list[str]


# --------------------------------------------------------------------------------------------
# The program: a pack's conditions as durable-rules rulesets


@dataclass(frozen=True)
class RulesetPlan:
    """One durable-rules ruleset: some of a scheme's conditions and the fact fields they read."""

    name: str
    scheme: str
    phase: Phase
    rules: tuple[Translated, ...]
    fields: tuple[str, ...]
    #: The largest integer magnitude a fact field may take (its sums must not overflow).
    magnitude: int

    def definition(self) -> dict[str, dict[str, object]]:
        """Return the ruleset in durable-rules' JSON form (no actions), catch-all last."""
        rules: dict[str, dict[str, object]] = {
            rule.rule: {"all": [{"m": rule.condition}]} for rule in self.rules
        }
        rules[CATCH_ALL] = {"all": [{"m": {TRUTH_FIELD: 1}}], "pri": 1}
        return rules


@dataclass(frozen=True)
class SchemeProgram:
    """A scheme's conditions as rulesets, and how to read their facts from a scope."""

    scheme: str
    scope: ScopeSpec
    rulesets: tuple[RulesetPlan, ...]
    #: rule id → index into ``rulesets``
    ruleset_of: Mapping[str, int]

    def fact(self, index: int, scope: Mapping[str, object]) -> dict[str, FactValue]:
        """Return the fact of ruleset ``index`` for one date's native ``scope``."""
        plan = self.rulesets[index]
        fact: dict[str, FactValue] = {}
        for name in plan.fields:
            value = _feature(self.scope, name, scope)
            if isinstance(value, int) and abs(value) > plan.magnitude:
                msg = f"{name} = {value} is too large to match exactly in durable-rules"
                raise EvaluationError(msg, field=name)
            fact[name] = value
        return fact


def compile_pack(pack: RulePack) -> tuple[SchemeProgram, ...]:
    """Translate every condition of ``pack`` and plan its rulesets.

    Raises :class:`~riskgrade.errors.PackError` naming the rule when a condition cannot be
    matched exactly by durable-rules or would break one of its limits.
    """
    return tuple(_plan_pack_scheme(pack, scheme) for scheme in pack.schemes.values())


def score_places(score: ScoreC) -> int:
    """The decimal places a score can have, from its terms.

    Numbers read from records count :data:`DATA_PLACES`; a value with more is refused when met.
    """
    places = 0
    for term in score.terms:
        if isinstance(term, EachTermC):
            if isinstance(term.points, Decimal):
                base = _places(term.points)
            else:
                base = DATA_PLACES + _literal_places(term.points.source)
            weights = term.weight.bands if term.weight is not None else ()
            base += max((_places(weight) for _, weight in weights), default=0)
            if term.cap is not None:
                base = max(base, _places(term.cap))
        elif isinstance(term, AttributeTermC):
            values = list(term.points.values())
            if term.otherwise is not None:
                values.append(term.otherwise)
            base = max((_places(v) for v in values), default=0)
        else:
            base = _places(term.points)
        places = max(places, base)
    return places


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _literal_places(source: str) -> int:
    """The decimal places of the number literals in an expression (a bound for products)."""
    total = 0
    for token in source.replace("(", " ").replace(")", " ").replace(",", " ").split():
        if token[:1].isdigit() and "." in token:
            total += len(token.split(".", 1)[1])
    return total


def plan_scheme(
    scheme: str,
    scope: ScopeSpec,
    terms: Sequence[tuple[str, str]],
    rules: Sequence[tuple[str, str]],
    *,
    prefix: str,
    file: str | None = None,
) -> SchemeProgram:
    """Translate one scheme's conditions, ``(rule id, source)`` each, and plan their rulesets.

    ``terms`` are condition terms of scores (they cannot read ``score``), ``rules`` everything
    else; ruleset names start with ``prefix``. Raises :class:`~riskgrade.errors.PackError`
    naming the rule (and ``file``) for a condition durable-rules cannot run.
    """
    term_scope = ScopeSpec(scope.sets, MappingProxyType({}), scope.attributes)
    plans = [
        *_group(
            scheme, [_translate(r, s, term_scope, file) for r, s in terms], "terms", prefix, file
        ),
        *_group(scheme, [_translate(r, s, scope, file) for r, s in rules], "rules", prefix, file),
    ]
    ruleset_of = {rule.rule: index for index, plan in enumerate(plans) for rule in plan.rules}
    return SchemeProgram(scheme, scope, tuple(plans), MappingProxyType(ruleset_of))


def _plan_pack_scheme(pack: RulePack, scheme: Scheme) -> SchemeProgram:
    file_name = pack.manifest.schemes.get(scheme.name, "")
    file = f"{pack.source}/{file_name}" if pack.source else file_name
    places = {}
    for name, score in scheme.scores.items():
        places[name] = score_places(score)
        if places[name] > _MAX_PLACES:
            msg = (
                f"score {name!r} can have {places[name]} decimal places; the durable engine "
                f"matches exact integers of at most {_MAX_PLACES} places"
            )
            raise PackError(msg, file=file, field=f"scores.{name}")
    scope = ScopeSpec(
        frozenset(scheme.sets),
        MappingProxyType(places),
        MappingProxyType({name: spec.multiple for name, spec in scheme.attributes.items()}),
    )
    terms = [
        (term.rule, term.when.source)
        for score in scheme.scores.values()
        for term in score.terms
        if isinstance(term, ConditionTermC)
    ]
    rules = [(rule.rule, rule.when.source) for rule in _rules_of(scheme)]
    digest = pack.ref.digest.removeprefix("sha256:")[:12]
    prefix = f"riskgrade.{pack.ref.id}.{digest}.{scheme.name}"
    return plan_scheme(scheme.name, scope, terms, rules, prefix=prefix, file=file)


def _translate(rule: str, source: str, scope: ScopeSpec, file: str | None) -> Translated:
    try:
        return translated(rule, translate(source, scope))
    except UntranslatableError as exc:
        msg = (
            f"cannot run on the durable engine: {exc.reason} "
            f"(at column {exc.pos + 1} of {source!r})"
        )
        raise PackError(msg, file=file, rule=rule, field="when") from None


def _group(
    scheme: str, rules: Sequence[Translated], phase: Phase, prefix: str, file: str | None
) -> list[RulesetPlan]:
    """Spread ``rules`` over as few rulesets as durable-rules' limits allow, in order."""
    groups: list[_Group] = []
    current = _Group()
    for rule in rules:
        if current.admit(rule) is None:
            continue
        fresh = _Group()
        problem = fresh.admit(rule)
        if problem is not None:
            msg = f"cannot run on the durable engine: {problem}"
            raise PackError(msg, file=file, rule=rule.rule, field="when")
        groups.append(current)
        current = fresh
    if current.rules:
        groups.append(current)
    return [
        group.plan(f"{prefix}.{phase}{index}", scheme, phase)
        for index, group in enumerate(groups, 1)
    ]


class _Group:
    """Rules planned into one ruleset so far, with the network durable-rules would build."""

    def __init__(self) -> None:
        self.rules: list[Translated] = []
        self.fields: set[str] = {TRUTH_FIELD}
        self.hashes: dict[int, str] = {fnv1_32(name): name for name in (*_RESERVED, TRUTH_FIELD)}
        self.network = Network()
        self.network.add({TRUTH_FIELD: 1})  # the catch-all

    def admit(self, rule: Translated) -> str | None:
        """Add ``rule``, or say why durable-rules could not take it here (then drop this group)."""
        fields = self.fields | rule.fields
        if len(fields) + 2 > MAX_FACT_KEYS:
            return (
                f"its fact would need {len(fields) + 2} keys; durable-rules 2.0.28 fails "
                f"facts of more than {MAX_FACT_KEYS}"
            )
        for name in sorted(rule.fields - self.fields):
            other = self.hashes.setdefault(fnv1_32(name), name)
            if other != name:
                return f"durable-rules cannot tell {other!r} from {name!r} (same 32-bit hash)"
        for constant in _constants(rule.ir):
            if abs(constant) > _MAX_MAGNITUDE:
                return f"the number {constant} is too large for exact matching"
        groups = self.network.add(rule.condition)
        if groups > MAX_GROUPS_PER_RULE:
            return (
                f"{groups} and/or groups in one condition; durable-rules 2.0.28 takes "
                f"{MAX_GROUPS_PER_RULE}"
            )
        problem = self.network.problem()
        if problem is None:
            self.rules.append(rule)
            self.fields = fields
        return problem

    def plan(self, name: str, scheme: str, phase: Phase) -> RulesetPlan:
        magnitude = _MAX_MAGNITUDE
        for rule in self.rules:
            for total in _sums(rule.ir):
                weight = sum(abs(c) for c, _ in total.terms) + 1
                magnitude = min(magnitude, (2**63 - 1 - abs(total.constant)) // weight)
        fields = tuple(sorted(self.fields))
        return RulesetPlan(name, scheme, phase, tuple(self.rules), fields, magnitude)


def _rules_of(scheme: Scheme) -> list[RuleC]:
    rules: list[RuleC] = []
    if scheme.requires is not None:
        rules.append(scheme.requires)
    for _, level_rules in scheme.classes:
        rules.extend(level_rules)
    rules.extend(scheme.overrides)
    rules.extend(scheme.floors)
    rules.extend(getattr(scheme, "flags", ()))
    return rules


def _walk(ir: object) -> list[object]:
    found: list[object] = [ir]
    for part in getattr(ir, "parts", ()):
        found.extend(_walk(part))
    return found


def _constants(ir: object) -> list[int]:
    out: list[int] = []
    for node in _walk(ir):
        if isinstance(node, Test):
            if isinstance(node.value, int):
                out.append(node.value)
            elif isinstance(node.value, Sum):
                out.append(node.value.constant)
                out.extend(c for c, _ in node.value.terms)
    return out


def _sums(ir: object) -> list[Sum]:
    return [n.value for n in _walk(ir) if isinstance(n, Test) and isinstance(n.value, Sum)]


# --------------------------------------------------------------------------------------------
# Features: the fact fields, read from the native scope of one date


def _feature(spec: ScopeSpec, name: str, scope: Mapping[str, object]) -> FactValue:
    kind, _, source = name.partition(".")
    if name == TRUTH_FIELD:
        return 1
    if kind == "count":
        members = scope.get(source)
        return len(members) if isinstance(members, tuple | list) else 0
    if kind == "score":
        scores = scope.get("score")
        value = scores.get(source) if isinstance(scores, Mapping) else None
        if not isinstance(value, Decimal):
            msg = f"score {source!r} has no value at this date"
            raise EvaluationError(msg, field=name)
        return _units(source, value, spec.scores[source])
    attributes = scope.get("attributes")
    value = attributes.get(source) if isinstance(attributes, Mapping) else None
    is_list = spec.attributes[source]
    if kind == "kind":
        if value is None:
            return 0
        if isinstance(value, str):
            return 1
        if isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
            return 2
        msg = f"attribute {source!r} takes text values, got {value!r}"
        raise EvaluationError(msg, field=f"attributes.{source}")
    if not is_list:
        return value if isinstance(value, str) else ""
    if value is None:
        return [] if kind == "attributes" else 0
    if isinstance(value, str):
        msg = (
            f"attribute {source!r} takes a list of values, got the text {value!r}; give it as "
            f"[{value!r}] (the expression language would read a text character by character)"
        )
        raise EvaluationError(msg, field=f"attributes.{source}")
    if not isinstance(value, tuple | list) or not all(isinstance(v, str) for v in value):
        msg = f"attribute {source!r} takes text values, got {value!r}"
        raise EvaluationError(msg, field=f"attributes.{source}")
    return list(value) if kind == "attributes" else len(value)


def _units(name: str, value: Decimal, places: int) -> int:
    """``value`` as an exact integer count of 10^-places, or an error (never rounded)."""
    if not value.is_finite():
        msg = f"score {name!r} is {value}, which durable-rules can never match"
        raise EvaluationError(msg, field=f"score.{name}")
    units = value.scaleb(places)
    if units != units.to_integral_value():
        msg = (
            f"score {name!r} = {value} has more than {places} decimal places; the durable "
            f"engine matches it as an exact integer of 10^-{places} and will not round it"
        )
        raise EvaluationError(msg, field=f"score.{name}")
    return int(units)


# --------------------------------------------------------------------------------------------
# The evaluator


class DurableEvaluator(Evaluator):
    """The native evaluator with its conditions matched by durable-rules instead.

    ``host`` lets several evaluators share one :class:`DurableHost` (and its lock); by default
    each has its own. Raises :class:`~riskgrade.errors.EngineUnavailableError` without the
    ``durable`` extra and :class:`~riskgrade.errors.PackError` for a pack it cannot run.
    Thread-safe; :meth:`close` (or a ``with`` block) frees durable-rules' memory early.
    """

    name = "durable"

    def __init__(self, pack: RulePack, *, host: DurableHost | None = None) -> None:
        super().__init__(pack)
        self._own_host = host is None
        self._host = DurableHost() if host is None else host
        self.programs: Mapping[str, SchemeProgram] = MappingProxyType(
            {program.scheme: program for program in compile_pack(pack)}
        )
        registered: dict[tuple[str, int], str] = {}
        try:
            for program in self.programs.values():
                for index, plan in enumerate(program.rulesets):
                    registered[program.scheme, index] = self._host.register(
                        plan.name, plan.definition()
                    )
        except BaseException:
            self._host.unregister(list(registered.values()))
            raise
        self._names: Mapping[tuple[str, int], str] = MappingProxyType(registered)

    @property
    def ruleset_names(self) -> tuple[str, ...]:
        """The names this evaluator's rulesets were registered under."""
        return tuple(self._names.values())

    def _matcher(self, scheme: Scheme, scope: Mapping[str, object]) -> Matcher:
        program = self.programs[scheme.name]
        fired: dict[int, frozenset[str]] = {}

        def holds(rule: RuleC | ConditionTermC) -> bool:
            index = program.ruleset_of[rule.rule]
            found = fired.get(index)
            if found is None:
                fact = program.fact(index, scope)
                found = self._host.match(self._names[scheme.name, index], fact)
                fired[index] = found
            return rule.rule in found

        return holds

    def close(self) -> None:
        """Unregister this evaluator's rulesets (and close its own host)."""
        if self._own_host:
            self._host.close()
        else:
            self._host.unregister(list(self._names.values()))

    def __enter__(self) -> DurableEvaluator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# Export


def export_rulesets(pack: RulePack) -> dict[str, object]:
    """Return the document ``riskgrade export --format durable`` prints.

    ``rulesets`` is ready for ``Host.register_rulesets`` once every rule has a ``run`` action;
    ``facts`` says, per ruleset, which fields its facts carry and what they mean. Needs no
    durable-rules installation.
    """
    rulesets: dict[str, object] = {}
    facts: dict[str, object] = {}
    for program in compile_pack(pack):
        for plan in program.rulesets:
            rulesets[plan.name] = plan.definition()
            facts[plan.name] = {
                "scheme": plan.scheme,
                "conditions": (
                    "condition terms of scores" if plan.phase == "terms" else "grading rules"
                ),
                "fields": {name: _describe_field(program.scope, name) for name in plan.fields},
            }
    return {
        "format": "riskgrade durable-rules export 1",
        "engine": f"durable-rules {SUPPORTED_VERSION}",
        "pack": pack.ref.model_dump(),
        "usage": _USAGE,
        "rulesets": rulesets,
        "facts": facts,
    }


_USAGE: Final = (
    "At each re-grade date, assert one fact per ruleset with the fields listed under 'facts' "
    "(every one, always), plus 'id' and 'sid'; the rules whose actions run are the conditions "
    "that hold. Retract the fact before asserting the next. Register each ruleset with "
    "Host.register_rulesets after giving every rule a 'run' action. Keep the catch-all rule "
    f"{CATCH_ALL!r}: it matches every fact, and durable-rules 2.0.28 can crash on a state whose "
    "fact matched no rule. Use one state id, never one per enterprise: a ruleset holds at most "
    "1,024 and tells them apart by a 32-bit hash."
)


def _describe_field(spec: ScopeSpec, name: str) -> str:
    kind, _, source = name.partition(".")
    if name == TRUTH_FIELD:
        return "always 1"
    if kind == "count":
        return f"the number of records in set {source!r} at the date (an integer)"
    if kind == "score":
        places = spec.scores[source]
        if places == 0:
            return f"score {source!r} (a whole number)"
        example = int(Decimal("24.5").scaleb(places))
        return f"score {source!r} as an exact integer count of 10^-{places} (24.5 is {example})"
    if kind == "kind":
        return f"attribute {source!r}: 0 absent, 1 one text value, 2 a list of values"
    if kind == "len":
        return f"attribute {source!r}: its number of values (0 when absent)"
    if spec.attributes[source]:
        return f"attribute {source!r}: its list of values ([] when absent)"
    return f'attribute {source!r}: its text value ("" unless kind.{source} is 1)'
