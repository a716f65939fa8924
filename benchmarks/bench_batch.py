"""Benchmark the numpy batch evaluator against the native one, side by side, in one run.

    PYTHONPATH=src python benchmarks/generate_population.py \\
        --enterprises 1000000 --records-per-enterprise 20 --out /tmp/population
    PYTHONPATH=src python benchmarks/bench_batch.py --data /tmp/population --as-of 2009-07-01

Stages, each timed:

1. ``read``: both JSON Lines files into columns (:func:`riskgrade.ingest.read_records`),
   validated as strictly as ``load_records``.
2. ``grade_and_write``: every enterprise checked against its scheme, graded from the columns
   in memory and written to ``--out``, one decision a line (the bytes ``Decision.to_json``
   gives), as ``riskgrade grade`` does: each window of enterprises is written while the
   next ones are graded (:meth:`riskgrade.batch.BatchEvaluator.json_stream`).

Then, apart, the grading alone from the same columns (``grade_only``: every decision's
fields as arrays in memory, no JSON), best of ``--repeat`` runs.

Then the native evaluator grades a sample of the same enterprises (their records rebuilt as
objects from the columns), and the sample's decisions are compared with the batch engine's,
byte for byte. Peak memory is the process's maximum resident set size. Reported on standard
output as a table (and with ``--json`` as one JSON object).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
from functools import partial
from pathlib import Path

from riskgrade import Grader, load_pack
from riskgrade._columns import history
from riskgrade.batch import BatchEvaluator, tune_allocator
from riskgrade.cli import builtin_pack
from riskgrade.ingest import enterprise_at, read_records


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder with enterprises.jsonl and events.jsonl",
    )
    parser.add_argument("--pack", type=Path, default=None, help="rule pack (default: zhuji)")
    parser.add_argument("--as-of", default="2009-07-01", metavar="DATE")
    parser.add_argument("--out", type=Path, default=Path(os.devnull), help="decisions file")
    parser.add_argument("--sample", type=int, default=2000, help="enterprises graded natively")
    parser.add_argument("--repeat", type=int, default=2, help="runs of the grading alone")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    tune_allocator()
    pack = load_pack(args.pack or builtin_pack("zhuji"))
    as_of = dt.date.fromisoformat(args.as_of)
    evaluator = BatchEvaluator(pack)

    def progress(name: str, done: int, total: int) -> None:
        sys.stderr.write(f"\rreading {Path(name).name}: {done * 100 // max(total, 1)}%")
        sys.stderr.flush()

    started = time.perf_counter()
    records = read_records(
        args.data / "enterprises.jsonl", args.data / "events.jsonl", progress=progress
    )
    sys.stderr.write("\n")
    read_done = time.perf_counter()
    evaluator.check(records.enterprises, partial(enterprise_at, records), locate=True)
    sample = min(args.sample, len(records.enterprises))
    step = max(1, len(records.enterprises) // max(sample, 1))
    rows = list(range(0, len(records.enterprises), step))[:sample]
    wanted = set(rows)
    batch_sample: dict[int, str] = {}
    done = 0
    with args.out.open("wb") as out:
        for block in evaluator.json_stream(records, as_of, "en"):
            out.write(block)
            count = block.count(b"\n")
            chosen = [row for row in range(done, done + count) if row in wanted]
            if chosen:
                lines = block.split(b"\n")
                for row in chosen:
                    batch_sample[row] = lines[row - done].decode("utf-8")
            done += count
    write_done = time.perf_counter()

    # The grading alone, from the same columns: the decisions as arrays, no JSON.
    grade_only = []
    for _ in range(max(1, args.repeat)):
        began = time.perf_counter()
        alone = evaluator.evaluate(records, as_of)
        grade_only.append(time.perf_counter() - began)
        del alone

    # The native evaluator on a sample of the same enterprises, in the same process.
    histories = [history(records, row) for row in rows]
    grader = Grader(pack, engine="python")
    native_started = time.perf_counter()
    native = [
        grader.decide(enterprise, events, as_of).to_json() for enterprise, events in histories
    ]
    native_time = time.perf_counter() - native_started
    same = sum(native[i] == batch_sample[row] for i, row in enumerate(rows))
    peak = _peak_gib()  # of the whole run

    n = len(records.enterprises)
    figures = {
        "enterprises": n,
        "events": len(records.events),
        "as_of": as_of.isoformat(),
        "read_s": round(read_done - started, 2),
        "grade_and_write_s": round(write_done - read_done, 2),
        "end_to_end_s": round(write_done - started, 2),
        "from_columns_s": round(write_done - read_done, 2),
        "grade_only_s": round(min(grade_only), 2),
        "grade_only_runs_s": [round(x, 2) for x in grade_only],
        "peak_gib": round(peak, 2),
        "batch_enterprises_per_s": round(n / (write_done - read_done)),
        "native_sample": sample,
        "native_s": round(native_time, 2),
        "native_enterprises_per_s": round(sample / native_time),
        "speedup_from_columns": round((n / (write_done - read_done)) / (sample / native_time), 1),
        "speedup_end_to_end": round((n / (write_done - started)) / (sample / native_time), 1),
        "sample_identical": f"{same}/{sample}",
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        sys.stdout.write(json.dumps(figures) + "\n")
    else:
        for key, value in figures.items():
            sys.stdout.write(f"{key:>26}  {value}\n")
    return 0 if same == sample else 1


if __name__ == "__main__":
    sys.exit(main())
