"""``riskgrade diff``: one population under two packs, the transition matrix and who moves why."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from riskgrade import Grader, load_pack, load_records
from riskgrade.cli import main
from riskgrade.synthetic import CountySpec, generate_county
from riskgrade.whatif import compare

RULES = Path(__file__).resolve().parent.parent / "rules"
AS_OF = dt.date(2009, 7, 1)


def _files(tmp_path: Path, n: int = 120) -> tuple[Path, Path]:
    enterprises, events = generate_county(CountySpec(enterprises=n, seed=11))
    ents, evs = tmp_path / "e.jsonl", tmp_path / "v.jsonl"
    ents.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in enterprises), "utf-8")
    evs.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), "utf-8")
    return ents, evs


def _stricter_pack(tmp_path: Path) -> Path:
    """zhuji 1.1.0: a failed quality check weighs 12 instead of 8."""
    target = tmp_path / "zhuji-1.1"
    shutil.copytree(RULES / "zhuji", target)
    food = target / "food.yaml"
    text = food.read_text(encoding="utf-8")
    assert "        points: 8\n" in text
    food.write_text(text.replace("        points: 8\n", "        points: 12\n", 1), "utf-8")
    manifest = target / "pack.yaml"
    manifest.write_text(
        manifest.read_text("utf-8").replace('version: "1.0.0"', 'version: "1.1.0"'), "utf-8"
    )
    return target


def test_the_same_pack_twice_moves_nobody(tmp_path: Path) -> None:
    ents, evs = _files(tmp_path)
    pack = load_pack(RULES / "zhuji")
    comparison = compare(pack, pack, str(ents), str(evs), AS_OF)
    assert comparison.moves == ()
    assert comparison.enterprises == 120
    assert all(k[1] == k[3] for k in comparison.matrix)


def test_the_matrix_counts_the_levels_of_both_packs(tmp_path: Path) -> None:
    ents, evs = _files(tmp_path)
    pack_a, pack_b = load_pack(RULES / "zhuji"), load_pack(_stricter_pack(tmp_path))
    comparison = compare(pack_a, pack_b, str(ents), str(evs), AS_OF)
    records = load_records(ents, evs)
    levels_a = [d.level for d in Grader(pack_a).grade(records, AS_OF)]
    levels_b = [d.level for d in Grader(pack_b).grade(records, AS_OF)]
    for (_, level_a, _, level_b), count in comparison.matrix.items():
        pairs = list(zip(levels_a, levels_b, strict=True))
        assert pairs.count((level_a, level_b)) == count
    moved = [i for i, (a, b) in enumerate(zip(levels_a, levels_b, strict=True)) if a != b]
    assert len(comparison.moves) == len(moved) > 0


def test_a_heavier_rule_moves_enterprises_worse_and_names_it(tmp_path: Path) -> None:
    ents, evs = _files(tmp_path)
    pack_a, pack_b = load_pack(RULES / "zhuji"), load_pack(_stricter_pack(tmp_path))
    comparison = compare(pack_a, pack_b, str(ents), str(evs), AS_OF)
    assert {m.direction for m in comparison.moves} == {"worse"}
    named = [m for m in comparison.moves if m.rule == "food.spot_check.quality"]
    assert named
    _, before, after = next(c for c in named[0].changed if c[0] == "food.spot_check.quality")
    assert before is not None
    assert after == pytest.approx(before * 1.5)


def test_numpy_and_python_engines_compare_alike(tmp_path: Path) -> None:
    ents, evs = _files(tmp_path, 60)
    pack_a, pack_b = load_pack(RULES / "zhuji"), load_pack(_stricter_pack(tmp_path))
    fast = compare(pack_a, pack_b, str(ents), str(evs), AS_OF, engine="numpy").to_dict()
    slow = compare(pack_a, pack_b, str(ents), str(evs), AS_OF, engine="python").to_dict()
    assert fast.pop("engines") == ["numpy", "numpy"]
    assert slow.pop("engines") == ["python", "python"]
    assert fast == slow


def test_the_command_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ents, evs = _files(tmp_path)
    stricter = _stricter_pack(tmp_path)
    code = main(
        [
            "diff",
            "--pack",
            str(RULES / "zhuji"),
            "--pack",
            str(stricter),
            "--enterprises",
            str(ents),
            "--events",
            str(evs),
            "--as-of",
            "2009-07-01",
            "--format",
            "json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert [p["version"] for p in report["packs"]] == ["1.0.0", "1.1.0"]
    assert report["moved"] == len(report["moves"]) == report["worse"]
    assert sum(cell["count"] for cell in report["matrix"]) == 120


def test_the_command_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ents, evs = _files(tmp_path)
    code = main(
        [
            "diff",
            "--pack",
            str(RULES / "zhuji"),
            "--pack",
            str(_stricter_pack(tmp_path)),
            "--enterprises",
            str(ents),
            "--events",
            str(evs),
            "--as-of",
            "2009-07-01",
            "--limit",
            "2",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "scheme food (rows: A, columns: B)" in out
    assert "moved:" in out
    assert "food.spot_check.quality" in out


def test_one_pack_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ents, evs = _files(tmp_path, 5)
    code = main(
        ["diff", "--pack", str(RULES / "zhuji"), "--enterprises", str(ents), "--events", str(evs)]
    )
    assert code == 2
    assert "--pack" in capsys.readouterr().err


def test_a_bad_record_is_reported_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ents, evs = _files(tmp_path, 5)
    with evs.open("a", encoding="utf-8") as out:
        out.write('{"id":"X","enterprise_id":"E000001","date":"2009-13-01","type":"incident"}\n')
    lines = evs.read_text("utf-8").count("\n")
    code = main(
        [
            "diff",
            "--pack",
            str(RULES / "zhuji"),
            "--pack",
            str(RULES / "zhuji"),
            "--enterprises",
            str(ents),
            "--events",
            str(evs),
        ]
    )
    assert code == 2
    assert f"{evs}:{lines}: event X: date:" in capsys.readouterr().err
