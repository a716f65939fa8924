"""Helpers shared by the durable-rules tests: skipping, subprocesses, packs and populations."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest

from riskgrade import Grader, RecordSet, RulePack
from riskgrade.compiled import Scheme
from riskgrade.synthetic import CountySpec, generate_county

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_PACKS = sorted(path.parent for path in (ROOT / "rules").glob("*/pack.yaml"))

DURABLE_INSTALLED = importlib.util.find_spec("durable") is not None
# In CI the extra is installed (.ci/run): a missing engine must fail there, not skip.
requires_durable = pytest.mark.skipif(
    not DURABLE_INSTALLED and os.environ.get("CI") != "true",
    reason="durable-rules is not installed (pip install 'riskgrade[durable]')",
)


def run_isolated(code: str, *, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (for what may crash or hang it); capture its output.

    Raises ``subprocess.TimeoutExpired`` when it runs longer than ``timeout`` seconds.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        cwd=ROOT,
    )


TREATMENT = "{label: {en: plain, zh: plain}, inspections_per_year: 1, sampling_per_year: 1}"


def write_pack(
    folder: Path,
    *,
    sets: dict[str, str],
    rules: Iterable[tuple[str, str]],
    scores: str = "",
    pack_id: str = "hazard",
) -> Path:
    """Write a one-scheme pack (levels A < B; class B when any of ``rules`` holds).

    ``sets`` maps set names to the YAML of their definition; ``rules`` are ``(id, condition)``
    pairs; ``scores`` is YAML for the ``scores:`` mapping, indented by two spaces.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.yaml").write_text(
        f'id: {pack_id}\nversion: "1"\ntitle: {{en: t, zh: t}}\nschemes: {{s: s.yaml}}\n'
        f"treatments:\n  plain: {TREATMENT}\n",
        encoding="utf-8",
    )
    lines = [
        "scheme: s",
        "title: {en: s, zh: s}",
        "levels:",
        "  - {id: A, label: {en: A, zh: A}, treatment: plain}",
        "  - {id: B, label: {en: B, zh: B}, treatment: plain}",
        "sets:",
        *(f"  {name}: {definition}" for name, definition in sets.items()),
    ]
    if scores:
        lines += ["scores:", scores.rstrip("\n")]
    lines += ["grade:", "  classes:", "    B:"]
    for rule, when in rules:
        lines.append(f"      - {{rule: {rule}, text: {{en: r, zh: r}}, when: '{when}'}}")
    lines += ["  otherwise: A", "regrade: {policy: direct}"]
    (folder / "s.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def random_attributes(scheme: Scheme, rng: random.Random) -> dict[str, object]:
    """Valid attributes for ``scheme``: missing where allowed, lists where allowed, and now and
    then a one-element list for a single-valued attribute (which the contract accepts)."""
    attributes: dict[str, object] = {}
    for name, spec in scheme.attributes.items():
        if not spec.required and rng.random() < 0.2:
            continue
        values = list(spec.values)
        if spec.other_values == "allow":
            values.append("something_else")
        if spec.multiple and rng.random() < 0.6:
            attributes[name] = rng.sample(values, k=rng.randint(1, min(2, len(values))))
        elif rng.random() < 0.1:
            attributes[name] = [rng.choice(values)]
        else:
            attributes[name] = rng.choice(values)
    return attributes


def population(pack: RulePack, *, enterprises: int, seed: int) -> RecordSet:
    """A synthetic county graded under ``pack``: the generator's records, with each enterprise
    given a scheme of the pack and attributes for it where the generator's do not fit."""
    spec = CountySpec(enterprises=enterprises, seed=seed, correction_share=0.05, late_share=0.05)
    raw_enterprises, events = generate_county(spec)
    rng = random.Random(seed)
    schemes = list(pack.schemes.values())
    fitted = []
    for raw in raw_enterprises:
        if raw.get("scheme") not in pack.schemes:
            scheme = rng.choice(schemes)
            raw = {**raw, "scheme": scheme.name, "attributes": random_attributes(scheme, rng)}
        fitted.append(raw)
    return RecordSet.from_dicts(fitted, events)


def decisions(grader: Grader, records: RecordSet, as_of: dt.date) -> list[str]:
    """Every decision's JSON, in input order."""
    return [decision.to_json() for decision in grader.grade(records, as_of)]
