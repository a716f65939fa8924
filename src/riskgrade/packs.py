"""Rule packs: the declarative files under ``rules/``, their schema, loading and digest.

A pack is a folder holding ``pack.yaml`` (identity, treatments, the schemes it grades) and one
YAML file per scheme. Files are parsed with a safe loader (exact decimals, line numbers),
validated against the models below (unknown keys are errors) and then compiled by
:mod:`riskgrade.compiled`, so that evaluation never meets a typo. The models' JSON Schema is
published by :func:`pack_json_schema` for editors.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from riskgrade._yaml import LocatedDict, LocatedList, line_of, load_yaml
from riskgrade.dates import Duration
from riskgrade.errors import PackError

__all__ = [
    "AttributeSpec",
    "AttributeTerm",
    "Band",
    "BandTable",
    "ConditionRule",
    "ConditionTerm",
    "DirectPolicy",
    "DurationSpec",
    "EachTerm",
    "GradeSpec",
    "HysteresisPolicy",
    "LevelSpec",
    "LeveledRule",
    "PackFiles",
    "PackManifest",
    "PackRef",
    "Requirement",
    "SchemeSpec",
    "ScoreSpec",
    "SetSpec",
    "Text",
    "TreatmentSpec",
    "WeightBand",
    "WindowSpec",
    "YearlyPolicy",
    "pack_digest",
    "pack_json_schema",
    "read_pack_files",
]

MANIFEST = "pack.yaml"
_IDENT = r"^[a-z][a-z0-9_]*$"
# Numbers in packs: YAML integers and (exact, Decimal) floats alike.
# Their JSON Schema is stated, not derived: it is what pack authors write, and it does not
# change with pydantic's version.
Num = Annotated[Decimal, Strict(False), WithJsonSchema({"type": "number"})]
_RULE_ID = r"^[a-z][a-z0-9_.-]*$"


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, populate_by_name=True)


class Text(_Spec):
    """A label in both languages the product speaks."""

    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        """Return the text in ``lang`` (``en`` or ``zh``)."""
        return self.zh if lang == "zh" else self.en


class DurationSpec(_Spec):
    """A calendar length, e.g. ``{years: 3}``; years and months keep the day (29 Feb → 28 Feb)."""

    years: int = Field(default=0, ge=0)
    months: int = Field(default=0, ge=0)
    days: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _not_empty(self) -> DurationSpec:
        if not (self.years or self.months or self.days):
            msg = "a duration needs at least one of years, months, days"
            raise ValueError(msg)
        return self

    def to_duration(self) -> Duration:
        """Return the runtime :class:`~riskgrade.dates.Duration`."""
        return Duration(self.years, self.months, self.days)


class WindowSpec(_Spec):
    """Records dated within ``last`` of the re-grade date t.

    ``bounds`` says which ends are included: ``"(]"`` (the default) is t - last < date ≤ t;
    ``"[)"`` is t - last ≤ date < t, which at 1 January with ``last: {years: 1}`` is the calendar
    year just ended.
    """

    last: DurationSpec
    bounds: Literal["(]", "[)", "[]", "()"] = "(]"


class WeightBand(_Spec):
    """Weight ``weight`` for records dated within ``within`` of t (the first band that holds)."""

    within: DurationSpec
    weight: Num = Field(ge=0)


class SetSpec(_Spec):
    """A named set of records: of these types, matching ``where``, inside ``window``."""

    type: str | list[str]
    where: str | None = None
    window: str | WindowSpec | None = None
    text: Text | None = None

    def types(self) -> tuple[str, ...]:
        """Return the record types as a tuple."""
        return (self.type,) if isinstance(self.type, str) else tuple(self.type)


class _Rule(_Spec):
    rule: str = Field(pattern=_RULE_ID)
    text: Text


class EachTerm(_Rule):
    """Points for each record of a set, optionally weighted by recency and capped in all."""

    each: str
    points: Num | str
    weight: str | None = None
    cap: Num | None = Field(default=None, ge=0)
    pick: Literal["all", "latest", "earliest"] = "all"


class AttributeTerm(_Rule):
    """Points from an enterprise attribute's value; a list of values takes its highest."""

    attribute: str
    points: dict[str, Num]
    otherwise: Num | None = None


class ConditionTerm(_Rule):
    """Fixed points while a condition holds."""

    when: str
    points: Num


def _term_kind(value: Any) -> str | None:
    if isinstance(value, Mapping):
        for key in ("each", "attribute", "when"):
            if key in value:
                return key
    return None


Term = Annotated[
    Annotated[EachTerm, Tag("each")]
    | Annotated[AttributeTerm, Tag("attribute")]
    | Annotated[ConditionTerm, Tag("when")],
    Discriminator(
        _term_kind,
        custom_error_type="term_kind",
        custom_error_message="a score term needs one of 'each', 'attribute' or 'when'",
    ),
]


class ScoreSpec(_Spec):
    """A score: the sum of its terms at the re-grade date."""

    text: Text
    terms: list[Term] = Field(min_length=1)


class Band(_Spec):
    """One score band. Lower bound: ``from`` (inclusive) or ``above`` (exclusive); upper bound:
    ``below`` (exclusive) or ``to`` (inclusive). The first band has no lower bound, the last no
    upper bound."""

    level: str
    from_: Num | None = Field(default=None, alias="from")
    above: Num | None = None
    below: Num | None = None
    to: Num | None = None

    @model_validator(mode="after")
    def _one_bound_each_side(self) -> Band:
        if self.from_ is not None and self.above is not None:
            msg = "give 'from' (inclusive) or 'above' (exclusive), not both"
            raise ValueError(msg)
        if self.below is not None and self.to is not None:
            msg = "give 'below' (exclusive) or 'to' (inclusive), not both"
            raise ValueError(msg)
        return self


class BandTable(_Spec):
    """Levels by bands of one score."""

    score: str
    bands: list[Band] = Field(min_length=1)


class ConditionRule(_Rule):
    """A rule that holds when its condition does."""

    when: str


class LeveledRule(ConditionRule):
    """A condition that sets a level (an override raises to at least that level)."""

    level: str


class Requirement(_Rule):
    """While ``when`` does not hold the enterprise cannot be graded (level null)."""

    when: str
    treatment: str | None = None


class GradeSpec(_Spec):
    """How the raw level is found at a re-grade date.

    Either ``bands`` (one or more band tables; the worst of their levels) or ``classes`` (for
    each level, rules; the worst level with a rule that holds, else ``otherwise``). Then
    ``overrides`` raise it, and at the initial assessment only, ``initial_floors``. ``flags``
    never change the level: each one that holds is reported among the reasons (points null).
    """

    score: str | None = None
    bands: list[BandTable] | None = None
    classes: dict[str, list[ConditionRule]] | None = None
    otherwise: str | None = None
    overrides: list[LeveledRule] = Field(default_factory=list)
    initial_floors: list[LeveledRule] = Field(default_factory=list)
    requires: Requirement | None = None
    flags: list[ConditionRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bands_or_classes(self) -> GradeSpec:
        if (self.bands is None) == (self.classes is None):
            msg = "give exactly one of 'bands' or 'classes'"
            raise ValueError(msg)
        if self.classes is not None and self.otherwise is None:
            msg = "'classes' needs 'otherwise': the level when no class rule holds"
            raise ValueError(msg)
        return self


class HysteresisPolicy(_Spec):
    """Worsen at once; improve ``steps`` only after ``stood`` at the level, ``clean`` empty."""

    policy: Literal["hysteresis"]
    steps: int = Field(default=1, ge=1)
    stood: DurationSpec
    clean: str
    text: Text


class DirectPolicy(_Spec):
    """Every re-grade sets the level afresh from the rules (no hysteresis)."""

    policy: Literal["direct"]


class YearlyPolicy(_Spec):
    """Move only on an anniversary (``MM-DD``), from the year just ended.

    A record in ``trigger`` raises the level by ``raise_levels`` (capped at the worst) and
    restarts the clean-year count; otherwise the count grows, and at ``clean_years`` the level
    improves by ``lower_steps`` and the count restarts.
    """

    policy: Literal["yearly"]
    anniversary: str = Field(default="01-01", pattern=r"^\d{2}-\d{2}$")
    trigger: str
    raise_levels: int = Field(default=1, ge=1)
    clean_years: int = Field(default=3, ge=1)
    lower_steps: int = Field(default=1, ge=1)
    text: Text


Policy = Annotated[HysteresisPolicy | DirectPolicy | YearlyPolicy, Field(discriminator="policy")]


class LevelSpec(_Spec):
    """A level (risk level or class), best first in the scheme's list."""

    id: str = Field(min_length=1)
    label: Text
    treatment: str


class AttributeSpec(_Spec):
    """An enterprise attribute the scheme reads, with its allowed values."""

    label: Text
    values: list[str] = Field(min_length=1)
    other_values: Literal["allow", "error"] = "error"
    required: bool = False
    multiple: bool = False


class SchemeSpec(_Spec):
    """One grading scheme of a pack (e.g. ``food``), from its own file."""

    scheme: str = Field(pattern=_IDENT)
    title: Text
    levels: list[LevelSpec] = Field(min_length=2)
    attributes: dict[str, AttributeSpec] = Field(default_factory=dict)
    windows: dict[str, WindowSpec] = Field(default_factory=dict)
    weights: dict[str, list[WeightBand]] = Field(default_factory=dict)
    sets: dict[str, SetSpec] = Field(default_factory=dict)
    scores: dict[str, ScoreSpec] = Field(default_factory=dict)
    grade: GradeSpec
    regrade: Policy
    review_every: DurationSpec = DurationSpec(years=1)


class TreatmentSpec(_Spec):
    """A treatment plan: inspection and sampling frequencies and measures."""

    label: Text
    inspections_per_year: int = Field(ge=1)
    inspections_per_year_max: int | None = None
    sampling_per_year: int = Field(ge=0)
    measures: list[Text] = Field(default_factory=list)

    @field_validator("inspections_per_year")
    @classmethod
    def _divides_year(cls, value: int) -> int:
        if 12 % value:
            msg = "must divide 12 (the next inspection is due 12/frequency calendar months on)"
            raise ValueError(msg)
        return value


class PackManifest(_Spec):
    """``pack.yaml``: the pack's identity, its schemes and treatments."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    version: str = Field(min_length=1)
    title: Text
    description: Text | None = None
    source: str | None = None
    schemes: dict[str, str] = Field(min_length=1)
    treatments: dict[str, TreatmentSpec] = Field(min_length=1)
    due_from: list[str] = Field(default_factory=lambda: ["inspection", "spot_check"])


class PackRef(_Spec):
    """The identity of a pack version as it appears in every decision."""

    id: str
    version: str
    digest: str


class PackFiles(_Spec):
    """A pack's files by relative path, as stored and digested (the unit the ledger keeps)."""

    files: dict[str, bytes]

    @property
    def digest(self) -> str:
        """Return the content digest (see :func:`pack_digest`)."""
        return pack_digest(self.files)


def pack_digest(files: Mapping[str, bytes]) -> str:
    """Return ``sha256:<hex>`` over the files, sorted by relative path.

    Each file contributes its POSIX path, a NUL, its length in decimal, a NUL and its bytes, so
    that renaming, moving bytes between files or editing any byte changes the digest.
    """
    hasher = hashlib.sha256()
    for path in sorted(files):
        data = files[path]
        hasher.update(path.encode("utf-8") + b"\0" + str(len(data)).encode("ascii") + b"\0")
        hasher.update(data)
    return "sha256:" + hasher.hexdigest()


def read_pack_files(directory: str | Path) -> PackFiles:
    """Read every file of a pack folder (hidden files and caches excluded)."""
    root = Path(directory)
    if not root.is_dir():
        msg = "not a rule pack folder (no such directory)"
        raise PackError(msg, file=str(root))
    if not (root / MANIFEST).is_file():
        msg = f"not a rule pack folder: it has no {MANIFEST}"
        raise PackError(msg, file=str(root))
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        if path.is_file():
            files[rel.as_posix()] = path.read_bytes()
    return PackFiles(files=files)


def parse_spec(
    model: type[_Spec], data: object, *, file: str
) -> Any:  # returns an instance of ``model``
    """Validate loaded YAML against a spec model; errors name the file, line and field path."""
    if not isinstance(data, LocatedDict):
        msg = "expected a mapping at the top of the file"
        raise PackError(msg, file=file, line=1)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        field, line = _locate(data, loc)
        message = _explain_error(error)
        suggestion = _suggest_key(model, data, loc) if error["type"] == "extra_forbidden" else None
        raise PackError(message, file=file, line=line, field=field, suggestion=suggestion) from None


def _locate(data: object, loc: tuple[int | str, ...]) -> tuple[str, int | None]:
    """Walk the loaded YAML along a pydantic error location to find its line.

    Pydantic's locations also hold union tags and type names that are not keys of the document;
    a step is taken as a key only where the document has it (and, for a tag that is also a key,
    only where the next step is not a sibling key).
    """
    node: object = data
    line = line_of(data)
    path: list[str] = []
    for index, step in enumerate(loc):
        following = loc[index + 1] if index + 1 < len(loc) else None
        if isinstance(node, LocatedDict) and isinstance(step, str) and step in node:
            if isinstance(following, str) and following in node and following != step:
                continue  # a union tag named like a key of the same mapping
            line = line_of(node, step)
            node = node[step]
            path.append(step)
        elif isinstance(node, LocatedList) and isinstance(step, int) and step < len(node):
            line = line_of(node, step)
            node = node[step]
            path.append(f"[{step}]")
        elif following is None and isinstance(step, str):
            path.append(step)  # a missing key: name it, at the line of its mapping
    return ".".join(path).replace(".[", "["), line


def _explain_error(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _suggest_key(model: type[_Spec], data: object, loc: tuple[int | str, ...]) -> str | None:
    import difflib

    target = loc[-1] if loc else None
    if not isinstance(target, str):
        return None
    known: set[str] = set()
    stack: list[type[BaseModel]] = [model]
    seen: set[type[BaseModel]] = set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for name, info in current.model_fields.items():
            known.add(info.alias or name)
            stack.extend(_models_in(info.annotation))
    matches = difflib.get_close_matches(target, sorted(known), n=1)
    return matches[0] if matches else None


def _models_in(annotation: object) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_models_in(arg))
    for meta in getattr(annotation, "__metadata__", ()) or ():
        found.extend(_models_in(meta))
    origin = getattr(annotation, "__origin__", None)
    if origin is not None and origin is not annotation:
        found.extend(_models_in(origin))
    return found


def load_manifest(files: PackFiles, *, name: str) -> PackManifest:
    """Parse and validate ``pack.yaml`` from a pack's files."""
    if MANIFEST not in files.files:
        msg = f"the pack has no {MANIFEST}"
        raise PackError(msg, file=name)
    data = load_yaml(
        _decode(files.files[MANIFEST], f"{name}/{MANIFEST}"), file=f"{name}/{MANIFEST}"
    )
    manifest: PackManifest = parse_spec(PackManifest, data, file=f"{name}/{MANIFEST}")
    return manifest


def load_scheme(files: PackFiles, file_name: str, *, name: str) -> tuple[SchemeSpec, LocatedDict]:
    """Parse and validate one scheme file; also return the raw document for line look-ups."""
    label = f"{name}/{file_name}"
    if file_name not in files.files:
        msg = f"pack.yaml names scheme file {file_name!r}, which the pack does not have"
        raise PackError(msg, file=f"{name}/{MANIFEST}", field="schemes")
    data = load_yaml(_decode(files.files[file_name], label), file=label)
    spec: SchemeSpec = parse_spec(SchemeSpec, data, file=label)
    assert isinstance(data, LocatedDict)  # parse_spec checked it
    return spec, data


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        msg = "not valid UTF-8"
        raise PackError(msg, file=file, line=line) from None


def pack_json_schema() -> dict[str, Any]:
    """Return JSON Schemas of ``pack.yaml`` and of a scheme file, for editors."""
    return {
        "pack.yaml": PackManifest.model_json_schema(by_alias=True),
        "scheme": SchemeSpec.model_json_schema(by_alias=True),
    }


def schema_text() -> str:
    """Return :func:`pack_json_schema` as stable, indented JSON text."""
    return json.dumps(pack_json_schema(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
