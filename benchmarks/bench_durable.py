"""Benchmark the durable-rules evaluator against the native one on the same population.

    PYTHONPATH=src python benchmarks/bench_durable.py --enterprises 5000 --repeat 3

Generates a synthetic county (``riskgrade.synthetic``; graded under each shipped pack, with
each enterprise given that pack's scheme and attributes where the generator's do not fit),
grades it with both evaluators, checks the decisions are byte-identical, and prints per pack:
the time to make the evaluator (durable: translate, plan and register the rulesets), the time
to grade the population (best of ``--repeat``), enterprises per second, the number of
assessments (re-grade points) and the cost of one durable-rules match.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from riskgrade import Grader, RecordSet, RulePack
from riskgrade.cli import BUILTIN_PACKS, builtin_pack
from riskgrade.compiled import load_pack
from riskgrade.durable import DurableEvaluator
from riskgrade.evaluation import Evaluator
from riskgrade.synthetic import CountySpec, generate_county


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enterprises", type=int, default=5000)
    parser.add_argument("--records-per-enterprise", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=2009)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2009, 7, 1))
    parser.add_argument("--repeat", type=int, default=3, help="gradings per engine; best counts")
    parser.add_argument("--packs", nargs="*", default=list(BUILTIN_PACKS))
    return parser


def _population(pack: RulePack, args: argparse.Namespace) -> RecordSet:
    spec = CountySpec(
        enterprises=args.enterprises,
        seed=args.seed,
        records_per_enterprise=args.records_per_enterprise,
        as_of=args.as_of,
    )
    raw, events = generate_county(spec)
    rng = random.Random(args.seed)
    schemes = list(pack.schemes.values())
    fitted = []
    for enterprise in raw:
        if enterprise.get("scheme") not in pack.schemes:
            scheme = rng.choice(schemes)
            attributes: dict[str, Any] = {}
            for name, attribute in scheme.attributes.items():
                values = list(attribute.values)
                attributes[name] = (
                    [rng.choice(values)] if attribute.multiple else rng.choice(values)
                )
            enterprise = {**enterprise, "scheme": scheme.name, "attributes": attributes}
        fitted.append(enterprise)
    return RecordSet.from_dicts(fitted, events)


def _best(repeat: int, run: Callable[[], list[str]]) -> tuple[float, list[str]]:
    best, out = float("inf"), []
    for _ in range(repeat):
        started = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - started)
    return best, out


class _Counting:
    """Counts assessments and durable-rules matches, and the time spent matching."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.assessments = 0
        self.matches = 0
        self.match_seconds = 0.0
        original_assess = evaluator.assess

        def assess(*args: Any, **kwargs: Any) -> Any:
            self.assessments += 1
            return original_assess(*args, **kwargs)

        evaluator.assess = assess  # type: ignore[method-assign]
        host = getattr(evaluator, "_host", None)
        if host is not None:
            original_match = host.match

            def match(*args: Any) -> Any:
                self.matches += 1
                started = time.perf_counter()
                try:
                    return original_match(*args)
                finally:
                    self.match_seconds += time.perf_counter() - started

            host.match = match


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    print(
        f"population: {args.enterprises} enterprises, about {args.records_per_enterprise:g} "
        f"records each, as of {args.as_of}; python {sys.version.split()[0]}; "
        f"best of {args.repeat}"
    )
    header = (
        f"{'pack':8} {'engine':8} {'make (ms)':>10} {'grade (s)':>10} {'ent/s':>8} "
        f"{'assessments':>12} {'matches':>8} {'us/match':>9}"
    )
    print(header)
    print("-" * len(header))
    for name in args.packs:
        pack = load_pack(builtin_pack(name))
        records = _population(pack, args)
        results: dict[str, list[str]] = {}
        for engine in ("python", "durable"):
            started = time.perf_counter()
            evaluator: Evaluator = (
                DurableEvaluator(pack) if engine == "durable" else Evaluator(pack)
            )
            made = time.perf_counter() - started
            grader = Grader(pack)
            grader.evaluator = evaluator
            seconds, results[engine] = _best(
                args.repeat,
                lambda g=grader, r=records: [d.to_json() for d in g.grade(r, args.as_of)],
            )
            counting = _Counting(evaluator)
            grader.grade(records, args.as_of)
            per_match = (
                f"{1e6 * counting.match_seconds / counting.matches:9.1f}"
                if counting.matches
                else f"{'-':>9}"
            )
            print(
                f"{name:8} {engine:8} {1e3 * made:10.1f} {seconds:10.2f} "
                f"{len(records.enterprises) / seconds:8.0f} {counting.assessments:12d} "
                f"{counting.matches:8d} {per_match}"
            )
            if isinstance(evaluator, DurableEvaluator):
                evaluator.close()
        if results["python"] != results["durable"]:
            print(f"MISMATCH: the engines disagree under {name}", file=sys.stderr)
            return 1
    print("decisions: byte-identical under every pack")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
