"""``riskgrade grade --engine numpy|auto``: the files read straight into columns, the same
decisions, the same errors (file, line, field) and the same atomic output as the native path;
and the events parsed in worker processes exactly as on threads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from riskgrade.cli import main
from riskgrade.ingest import read_records
from riskgrade.synthetic import CountySpec, generate_county

RULES = Path(__file__).resolve().parent.parent / "rules"


def _dump(record: dict[str, object]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _county(folder: Path, n: int = 60, extra: list[str] | None = None) -> tuple[Path, Path]:
    enterprises, events = generate_county(CountySpec(enterprises=n, seed=5))
    ents = folder / "e.jsonl"
    evs = folder / "v.jsonl"
    ents.write_text("".join(_dump(e) + "\n" for e in enterprises), encoding="utf-8")
    lines = [_dump(e) for e in events] + (extra or [])
    evs.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return ents, evs


def _grade(ents: Path, evs: Path, out: Path, engine: str, *more: str) -> int:
    return main(
        [
            "grade",
            "--pack",
            str(RULES / "zhuji"),
            "--enterprises",
            str(ents),
            "--events",
            str(evs),
            "--as-of",
            "2009-07-01",
            "--engine",
            engine,
            "--out",
            str(out),
            *more,
        ]
    )


@pytest.mark.parametrize("engine", ["numpy", "auto"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_numpy_engine_writes_what_the_native_one_writes(
    tmp_path: Path, engine: str, lang: str
) -> None:
    ents, evs = _county(tmp_path)
    assert _grade(ents, evs, tmp_path / "native.jsonl", "python", "--lang", lang) == 0
    assert _grade(ents, evs, tmp_path / "batch.jsonl", engine, "--lang", lang) == 0
    native = (tmp_path / "native.jsonl").read_bytes()
    assert native.count(b"\n") == 60
    assert (tmp_path / "batch.jsonl").read_bytes() == native


def test_the_numpy_engine_writes_to_standard_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ents, evs = _county(tmp_path, 20)
    assert _grade(ents, evs, tmp_path / "native.jsonl", "python") == 0
    assert _grade(ents, evs, Path("-"), "numpy") == 0
    assert capsys.readouterr().out == (tmp_path / "native.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "bad",
    [
        '{"id":"X1","enterprise_id":"E000001","date":"2009-02-30","type":"complaint",'
        '"substantiated":true}',
        '{"id":"X1","enterprise_id":"nobody","date":"2009-02-03","type":"complaint",'
        '"substantiated":true}',
        '{"id":"X1","enterprise_id":"E000001","date":"2009-02-03","type":"complaint"}',
        '{"broken":',
    ],
)
@pytest.mark.parametrize("engine", ["numpy", "auto"])
def test_a_bad_record_gives_the_native_error_and_leaves_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, engine: str
) -> None:
    ents, evs = _county(tmp_path, 30, extra=[bad])
    target = tmp_path / "decisions.jsonl"
    target.write_text("before\n", encoding="utf-8")
    assert _grade(ents, evs, target, "python") == 2
    native = capsys.readouterr().err
    assert _grade(ents, evs, target, engine) == 2
    assert capsys.readouterr().err == native
    assert "v.jsonl" in native
    assert target.read_text(encoding="utf-8") == "before\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_bad_enterprise_gives_the_native_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ents, evs = _county(tmp_path, 30)
    lines = ents.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[7])
    record["scheme"] = "fod"
    lines[7] = _dump(record)
    ents.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    assert _grade(ents, evs, tmp_path / "a.jsonl", "python") == 2
    native = capsys.readouterr().err
    assert _grade(ents, evs, tmp_path / "b.jsonl", "numpy") == 2
    assert capsys.readouterr().err == native
    assert ":8" in native
    assert not (tmp_path / "b.jsonl").exists()


def test_a_bad_as_of_is_reported_as_natively(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ents, evs = _county(tmp_path, 10)
    args = ["--enterprises", str(ents), "--events", str(evs), "--as-of", "2009-13-01"]
    base = ["grade", "--pack", str(RULES / "zhuji"), *args]
    assert main([*base, "--engine", "python"]) == 2
    native = capsys.readouterr().err
    assert main([*base, "--engine", "numpy"]) == 2
    assert capsys.readouterr().err == native


def test_events_parsed_in_processes_are_those_parsed_on_threads(tmp_path: Path) -> None:
    ents, evs = _county(tmp_path, 40)
    on_threads = read_records(ents, evs, block_size=4096, processes=False)
    in_processes = read_records(ents, evs, block_size=4096, processes=True)
    a, b = on_threads.events, in_processes.events
    for name in a.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray):
            assert np.array_equal(x, y), name
        elif hasattr(x, "offsets"):
            assert np.array_equal(x.data, y.data), name
            assert np.array_equal(x.offsets, y.offsets), name
        elif hasattr(x, "rows"):  # texts on a few rows
            assert np.array_equal(x.rows, y.rows), name
            assert np.array_equal(x.values.data, y.values.data), name
            assert np.array_equal(x.values.offsets, y.values.offsets), name
        else:
            assert x == y, name


def test_a_bad_line_found_in_a_process_is_reported_with_its_line(tmp_path: Path) -> None:
    from riskgrade import InputError

    ents, evs = _county(tmp_path, 40, extra=['{"id":"X9","enterprise_id":"E000001"}'])
    with pytest.raises(InputError) as threads:
        read_records(ents, evs, block_size=4096, processes=False)
    with pytest.raises(InputError) as processes:
        read_records(ents, evs, block_size=4096, processes=True)
    assert processes.value.describe() == threads.value.describe()
    assert processes.value.line == threads.value.line


def test_ids_needing_escapes_are_written_as_natively(tmp_path: Path) -> None:
    ents, evs = _county(tmp_path, 12)
    for path in (ents, evs):
        text = path.read_text(encoding="utf-8")
        text = text.replace('"E000003"', '"E\\"3\\\\ 企业\\t"').replace('"V000000', '"V\\"事件')
        path.write_text(text, encoding="utf-8")
    assert "企业" in ents.read_text(encoding="utf-8")
    assert _grade(ents, evs, tmp_path / "native.jsonl", "python") == 0
    assert _grade(ents, evs, tmp_path / "batch.jsonl", "numpy") == 0
    native = (tmp_path / "native.jsonl").read_bytes()
    assert "企业".encode() in native
    assert '"V\\"事件'.encode() in native  # evidence ids with escapes
    assert (tmp_path / "batch.jsonl").read_bytes() == native


def test_progress_follows_reading_grading_and_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ents, evs = _county(tmp_path, n=80)
    quiet = tmp_path / "quiet.jsonl"
    shown = tmp_path / "shown.jsonl"
    assert _grade(ents, evs, quiet, "numpy", "--no-progress") == 0
    assert capsys.readouterr().err == ""
    assert _grade(ents, evs, shown, "numpy", "--progress") == 0
    err = capsys.readouterr().err
    stages = [line.strip() for line in err.replace("\r", "\n").splitlines() if line.strip()]
    assert "reading e.jsonl: 100%" in stages
    assert "reading v.jsonl: 100%" in stages
    assert "grading: 100%" in stages
    assert stages[-1] == "writing: 80/80 (100%)"
    order = [
        next(i for i, s in enumerate(stages) if s.startswith(k))
        for k in ("reading v", "grading", "writing")
    ]
    assert order == sorted(order)
    assert shown.read_bytes() == quiet.read_bytes()


def test_an_evaluation_error_midway_gives_the_native_error_and_leaves_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import riskgrade.batch

    written: list[int] = []
    stream = riskgrade.batch.BatchEvaluator._json_stream

    def counted(*args: Any, **kwargs: Any) -> Iterator[tuple[bytes, int]]:
        for block, lines in stream(*args, **kwargs):
            assert block.count(b"\n") == lines
            written.append(lines)
            yield block, lines

    monkeypatch.setattr(riskgrade.batch, "PART_EVENTS", 16)  # parts of 16 enterprises
    monkeypatch.setattr(riskgrade.batch.BatchEvaluator, "_json_stream", counted)

    pack = tmp_path / "uk-fhrs"
    shutil.copytree(RULES / "uk-fhrs", pack)
    fhrs = pack / "fhrs.yaml"
    guard = "where: has(scores.hygiene) and has(scores.structure) and has(scores.management)"
    fhrs.write_text(
        fhrs.read_text(encoding="utf-8").replace(guard, "where: has(scores.hygiene)"),
        encoding="utf-8",
    )
    ents, evs = tmp_path / "e.jsonl", tmp_path / "v.jsonl"
    ents.write_text("".join(_dump({"id": f"E{n:03d}"}) + "\n" for n in range(200)))
    lines = []
    for n in range(200):
        scores = {"hygiene": 5, "structure": 5, "management": 5}
        if n == 150:  # graded after the first decisions are written
            del scores["structure"]
        event = {"id": f"V{n:03d}", "enterprise_id": f"E{n:03d}", "date": "2009-01-05"}
        event.update({"type": "inspection", "outcome": "minor", "scores": scores})
        lines.append(_dump(event) + "\n")
    evs.write_text("".join(lines))
    target = tmp_path / "decisions.jsonl"
    target.write_text("before\n", encoding="utf-8")
    args = ["grade", "--pack", str(pack), "--enterprises", str(ents), "--events", str(evs)]
    args += ["--as-of", "2009-07-01", "--out", str(target)]
    assert main([*args, "--engine", "python"]) == 3
    native = capsys.readouterr().err
    assert "V150" in native
    assert main([*args, "--engine", "numpy"]) == 3
    assert capsys.readouterr().err == native
    assert sum(written) == 144  # the windows before E150's were written, then let go of
    assert target.read_text(encoding="utf-8") == "before\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_grade_files_writes_the_same_to_every_kind_of_file(tmp_path: Path) -> None:
    import datetime as dt
    import io

    from riskgrade import load_pack
    from riskgrade.batch import grade_files

    ents, evs = _county(tmp_path, 25)
    ids = ents.read_text(encoding="utf-8").replace('"E000003"', '"E\\"3 企业"')
    ents.write_text(ids, encoding="utf-8")
    evs.write_text(evs.read_text(encoding="utf-8").replace('"E000003"', '"E\\"3 企业"'))
    assert _grade(ents, evs, tmp_path / "native.jsonl", "python") == 0
    native = (tmp_path / "native.jsonl").read_bytes()
    assert "企业".encode() in native
    pack = load_pack(RULES / "zhuji")
    as_of = dt.date(2009, 7, 1)
    binary = io.BytesIO()
    strings = io.StringIO()
    utf8 = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    utf16 = io.TextIOWrapper(io.BytesIO(), encoding="utf-16")
    utf8.write("head\n")  # text written before the decisions stays before them
    for out in (binary, strings, utf8, utf16):
        assert grade_files(pack, ents, evs, as_of, out) == 25
    assert binary.getvalue() == native
    assert strings.getvalue().encode("utf-8") == native
    utf8.flush()
    assert utf8.buffer.getvalue() == b"head\n" + native  # type: ignore[attr-defined]
    utf16.flush()
    assert utf16.buffer.getvalue().decode("utf-16") == native.decode("utf-8")  # type: ignore[attr-defined]
