"""Grade a small synthetic county with the default pack and print its level counts.

Run: python examples/grade_a_county.py [OUTPUT_DIR]
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

import riskgrade
from riskgrade.synthetic import CountySpec, generate_county


def main(out_dir: Path) -> None:
    as_of = dt.date(2009, 7, 1)
    enterprises, events = generate_county(CountySpec(seed=7, enterprises=60, grids=10, as_of=as_of))
    ent_file, ev_file = out_dir / "enterprises.jsonl", out_dir / "events.jsonl"
    for path, rows in ((ent_file, enterprises), (ev_file, events)):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")

    pack = riskgrade.load_pack("rules/zhuji")
    records = riskgrade.load_records(ent_file, ev_file)
    decisions = riskgrade.Grader(pack).grade(records, as_of)

    counts = collections.Counter((d.scheme, d.level) for d in decisions)
    for (scheme, level), n in sorted(counts.items()):
        print(f"{scheme:9} {level:7} {n}")
    assert len(decisions) == len(enterprises)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
