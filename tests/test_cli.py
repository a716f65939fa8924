"""The command line of CONTRACT.md through ``riskgrade.cli.main``: grade, explain, check, schema
and demo; exit codes 0 / 2 / 3; errors naming file, line and field; no partial output files.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest

from riskgrade.cli import main
from zhuji_support import ROOT

PACK_DIR = str(ROOT / "rules" / "zhuji")

ENTERPRISES: list[dict[str, object]] = [
    {"id": "E1", "scheme": "food", "attributes": {"category": "dairy"}},
    {"id": "E2", "scheme": "industry", "industry": "socks"},
]
EVENTS: list[dict[str, object]] = [
    {
        "id": "V1",
        "enterprise_id": "E1",
        "date": "2009-01-10",
        "type": "spot_check",
        "result": "pass",
    },
    {
        "id": "V2",
        "enterprise_id": "E1",
        "date": "2009-03-01",
        "type": "spot_check",
        "result": "fail",
        "items": [{"name": "lead", "kind": "safety"}],
    },
    {
        "id": "V3",
        "enterprise_id": "E2",
        "date": "2009-02-01",
        "type": "enforcement",
        "penalty": "fine",
    },
]


def jsonl(path: Path, records: list[dict[str, object]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def lines(path: Path, *texts: str) -> str:
    path.write_text("".join(text + "\n" for text in texts), encoding="utf-8")
    return str(path)


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    """The enterprises and events files of a small county."""
    return jsonl(tmp_path / "enterprises.jsonl", ENTERPRISES), jsonl(
        tmp_path / "events.jsonl", EVENTS
    )


def grade_args(enterprises: str, events: str, *extra: str) -> list[str]:
    return ["grade", "--pack", PACK_DIR, "--enterprises", enterprises, "--events", events, *extra]


def explain_args(enterprises: str, events: str, *extra: str) -> list[str]:
    return ["explain", "--pack", PACK_DIR, "--enterprises", enterprises, "--events", events, *extra]


# --- grade ----------------------------------------------------------------------------------


def test_grade_writes_one_decision_per_enterprise_in_input_order(
    files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(grade_args(*files, "--as-of", "2009-07-01"))
    decisions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # E1: dairy 15 + failed safety check 15 = 30, medium; E2: a fine, class C.
    assert (0, [("E1", "medium"), ("E2", "C")]) == (
        code,
        [(d["enterprise_id"], d["level"]) for d in decisions],
    )


def test_grade_writes_to_the_out_file(
    files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "decisions.jsonl"
    code = main(grade_args(*files, "--as-of", "2009-07-01", "--out", str(out)))
    written = out.read_text(encoding="utf-8").splitlines()
    assert (0, "", 2) == (code, capsys.readouterr().out, len(written))


def test_grade_as_of_defaults_to_today(
    files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(grade_args(*files))
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert dt.date.today().isoformat() == first["as_of"]


def test_grade_gives_identical_bytes_whatever_the_order_of_events(
    files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(grade_args(*files, "--as-of", "2009-07-01"))
    first = capsys.readouterr().out
    reversed_events = jsonl(tmp_path / "reversed.jsonl", EVENTS[::-1])
    main(grade_args(files[0], reversed_events, "--as-of", "2009-07-01"))
    assert first == capsys.readouterr().out


def test_grade_decisions_carry_the_pack(
    files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(grade_args(*files, "--as-of", "2009-07-01"))
    pack = json.loads(capsys.readouterr().out.splitlines()[0])["pack"]
    assert ("zhuji", "1.0.0", True) == (
        pack["id"],
        pack["version"],
        bool(re.fullmatch("sha256:[0-9a-f]{64}", pack["digest"])),
    )


# --- bad input: exit 2, naming file, line and field ------------------------------------------


def run_failing(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    assert "" == captured.out
    return code, captured.err


def test_bad_json_names_the_file_and_line(
    files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = lines(
        tmp_path / "bad.jsonl",
        json.dumps(EVENTS[0]),
        '{"id": "V2", "enterprise_id": "E1", "date": "2009-01-10"',
    )
    code, err = run_failing(grade_args(files[0], events), capsys)
    assert (2, True) == (code, f"{events}:2" in err)


def test_unknown_field_is_named_with_a_suggestion(
    files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {**EVENTS[0], "reslt": "pass"}
    del bad["result"]
    events = jsonl(tmp_path / "bad.jsonl", [EVENTS[1], bad])
    code, err = run_failing(grade_args(files[0], events), capsys)
    assert (2, True, True, True) == (
        code,
        f"{events}:2" in err,
        "reslt" in err,
        "did you mean 'result'" in err,
    )


def test_impossible_date_is_named_with_its_line_and_field(
    files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = jsonl(tmp_path / "bad.jsonl", [EVENTS[0], {**EVENTS[1], "date": "2009-02-29"}])
    code, err = run_failing(grade_args(files[0], events), capsys)
    assert (2, True, True, True) == (
        code,
        f"{events}:2" in err,
        "date" in err,
        "2009-02-29" in err,
    )


def test_event_of_an_unknown_enterprise_is_named(
    files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = jsonl(
        tmp_path / "bad.jsonl", [*EVENTS, {**EVENTS[0], "id": "V9", "enterprise_id": "E7"}]
    )
    code, err = run_failing(grade_args(files[0], events), capsys)
    assert (2, True, True, True) == (
        code,
        f"{events}:4" in err,
        "enterprise_id" in err,
        "E7" in err,
    )


def test_misspelt_attribute_of_an_enterprise_is_named_with_a_suggestion(
    files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    enterprises = jsonl(
        tmp_path / "ents.jsonl",
        [ENTERPRISES[1], {"id": "E1", "scheme": "food", "attributes": {"categroy": "dairy"}}],
    )
    code, err = run_failing(grade_args(enterprises, files[1]), capsys)
    assert (2, True, True) == (code, f"{enterprises}:2" in err, "did you mean 'category'" in err)


def test_unknown_scheme_is_named_with_a_suggestion(
    files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    enterprises = jsonl(tmp_path / "ents.jsonl", [{"id": "E1", "scheme": "fod"}, ENTERPRISES[1]])
    code, err = run_failing(grade_args(enterprises, files[1]), capsys)
    assert (2, True, True) == (code, f"{enterprises}:1" in err, "did you mean 'food'" in err)


def test_missing_file_is_named(files: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_failing(grade_args(files[0], "no-such-events.jsonl"), capsys)
    assert (2, True) == (code, "no-such-events.jsonl" in err)


def test_impossible_as_of_date_is_an_input_error(
    files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_failing(grade_args(*files, "--as-of", "2009-02-29"), capsys)
    assert (2, True) == (code, "--as-of" in err)


def test_missing_required_argument_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["grade", "--pack", PACK_DIR])
    assert 2 == exited.value.code


# --- no partial output ----------------------------------------------------------------------


def bad_events(tmp_path: Path) -> str:
    return jsonl(tmp_path / "bad.jsonl", [EVENTS[0], {**EVENTS[1], "date": "2009-13-01"}])


def test_failed_grade_leaves_no_out_file(
    files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "decisions.jsonl"
    out.parent.mkdir()
    code = main(grade_args(files[0], bad_events(tmp_path), "--out", str(out)))
    assert (2, []) == (code, list(out.parent.iterdir()))


def test_failed_grade_leaves_an_existing_out_file_untouched(
    files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "decisions.jsonl"
    out.parent.mkdir()
    out.write_text("earlier run\n", encoding="utf-8")
    code = main(grade_args(files[0], bad_events(tmp_path), "--out", str(out)))
    assert (2, "earlier run\n", [out]) == (
        code,
        out.read_text(encoding="utf-8"),
        list(out.parent.iterdir()),
    )


def test_bad_pack_while_grading_exits_3_and_leaves_no_out_file(
    files: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = broken_pack(tmp_path)
    out = tmp_path / "out" / "decisions.jsonl"
    out.parent.mkdir()
    argv = ["grade", "--pack", pack, "--enterprises", files[0], "--events", files[1]]
    code = main([*argv, "--out", str(out)])
    assert (3, []) == (code, list(out.parent.iterdir()))


# --- explain --------------------------------------------------------------------------------


def test_explain_in_english_shows_level_evidence_transition_treatment_and_timeline(
    files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(explain_args(*files, "--id", "E1", "--as-of", "2009-07-01"))
    text = capsys.readouterr().out
    shown = {
        word: word in text
        for word in ("E1", "medium", "V2", "worsened", "enhanced", "2009-01-10", "2009-03-01")
    }
    assert (0, dict.fromkeys(shown, True)) == (code, shown)


def test_explain_in_chinese_renders_chinese(
    files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(explain_args(*files, "--id", "E1", "--as-of", "2009-07-01", "--lang", "zh"))
    text = capsys.readouterr().out
    assert (0, True, True, True) == (
        code,
        "V2" in text,
        "2009-03-01" in text,
        bool(re.search("[\u4e00-\u9fff]", text)),
    )


def test_explain_in_chinese_differs_from_english(
    files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(explain_args(*files, "--id", "E1", "--as-of", "2009-07-01", "--lang", "en"))
    english = capsys.readouterr().out
    main(explain_args(*files, "--id", "E1", "--as-of", "2009-07-01", "--lang", "zh"))
    assert english != capsys.readouterr().out


def test_explain_json_prints_the_decision(
    files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(explain_args(*files, "--id", "E2", "--as-of", "2009-07-01", "--json"))
    decision = json.loads(capsys.readouterr().out)
    assert (0, "E2", "C") == (code, decision["enterprise_id"], decision["level"])


def test_explain_unknown_id_is_an_input_error(
    files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_failing(explain_args(*files, "--id", "E3", "--as-of", "2009-07-01"), capsys)
    assert (2, True, True) == (code, "--id" in err, "E3" in err)


def test_explain_unknown_id_suggests_a_close_one(
    files: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_failing(explain_args(*files, "--id", "E1 ", "--as-of", "2009-07-01"), capsys)
    assert (2, True) == (code, "did you mean 'E1'" in err)


# --- check ----------------------------------------------------------------------------------


def broken_pack(tmp_path: Path) -> str:
    """A copy of zhuji with an unknown key on line 4 of food.yaml."""
    pack = tmp_path / "broken"
    shutil.copytree(ROOT / "rules" / "zhuji", pack)
    food = pack / "food.yaml"
    text = food.read_text(encoding="utf-8").splitlines(keepends=True)
    text.insert(3, "colour: red\n")
    food.write_text("".join(text), encoding="utf-8")
    return str(pack)


def test_check_accepts_the_shipped_pack(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", PACK_DIR])
    out = capsys.readouterr().out
    assert (0, True, True) == (code, "zhuji" in out, "sha256:" in out)


def test_check_names_the_file_line_and_unknown_key_of_a_bad_pack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = broken_pack(tmp_path)
    code, err = run_failing(["check", pack], capsys)
    assert (3, True, True) == (code, "food.yaml:4" in err, "colour" in err)


def test_check_of_a_folder_without_a_pack_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_failing(["check", str(tmp_path)], capsys)
    assert (3, True) == (code, str(tmp_path) in err)


# --- schema and demo ------------------------------------------------------------------------


def test_schema_prints_the_json_schemas_of_both_records(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["schema"])
    schema = json.loads(capsys.readouterr().out)
    assert (0, ["enterprise", "event"]) == (code, sorted(schema))


def test_schema_of_the_pack_files_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["schema", "pack"])
    assert (0, dict) == (code, type(json.loads(capsys.readouterr().out)))


def test_demo_grades_a_synthetic_county_and_says_where_it_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "demo"
    code = main(["demo", "--out-dir", str(out_dir)])
    stdout = capsys.readouterr().out
    enterprises = (out_dir / "enterprises.jsonl").read_text(encoding="utf-8").splitlines()
    decisions = (out_dir / "decisions.jsonl").read_text(encoding="utf-8").splitlines()
    assert (0, True, True, len(enterprises)) == (
        code,
        str(out_dir) in stdout,
        300 <= len(enterprises) <= 500,
        len(decisions),
    )


def test_regression_output_file_gets_the_users_usual_permissions(tmp_path: Path) -> None:
    """--out files were created 0600 (a temporary file's mode), unlike any file the user writes."""
    import os

    from riskgrade.cli import atomic_output

    ordinary = tmp_path / "ordinary.txt"
    ordinary.write_text("x", encoding="utf-8")
    written = tmp_path / "written.jsonl"
    with atomic_output(str(written)) as out:
        out.write("{}\n")
    assert os.stat(ordinary).st_mode == os.stat(written).st_mode
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
