"""``riskgrade ledger``: the command line, and nothing lost under SIGKILL or concurrent writers
(real subprocesses)."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from riskgrade.cli import main
from riskgrade.ledger import Ledger
from riskgrade.synthetic import CountySpec, generate_county

ROOT = Path(__file__).resolve().parents[1]
PACK = str(ROOT / "rules" / "zhuji")
AS_OF = "2009-07-01"


def _write_county(
    folder: Path, enterprises: int, seed: int = 7
) -> tuple[Path, Path, list[dict[str, Any]]]:
    ents, events = generate_county(
        CountySpec(
            seed=seed,
            enterprises=enterprises,
            records_per_enterprise=8,
            late_share=0.05,
            correction_share=0.05,
        )
    )
    ents_path, events_path = folder / "enterprises.jsonl", folder / "events.jsonl"
    ents_path.write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in ents), encoding="utf-8"
    )
    events_path.write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8"
    )
    return ents_path, events_path, events


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def county(tmp_path: Path) -> tuple[Path, Path, list[dict[str, Any]]]:
    return _write_county(tmp_path, 25)


def test_init_record_grade_matches_riskgrade_grade(
    tmp_path: Path,
    county: tuple[Path, Path, list[dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ents, events, rows = county
    db = str(tmp_path / "county.db")
    assert _run(capsys, "ledger", "init", db, "--pack", PACK)[0] == 0
    code, out, _ = _run(
        capsys, "ledger", "record", db, "--enterprises", str(ents), "--events", str(events)
    )
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == len(rows)
    assert all(
        json.loads(line)["enterprise_id"] == row["enterprise_id"]
        for line, row in zip(lines, rows, strict=True)
    )
    code, from_ledger, _ = _run(capsys, "ledger", "grade", db, "--as-of", AS_OF)
    assert code == 0
    code, pure, _ = _run(
        capsys,
        "grade",
        "--pack",
        PACK,
        "--enterprises",
        str(ents),
        "--events",
        str(events),
        "--as-of",
        AS_OF,
    )
    assert from_ledger == pure
    code, one, _ = _run(capsys, "ledger", "grade", db, "--as-of", AS_OF, "--id", "E000003")
    assert one.splitlines() == [line for line in pure.splitlines() if '"E000003"' in line]


def test_record_again_is_idempotent_and_reads_standard_input(
    tmp_path: Path,
    county: tuple[Path, Path, list[dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ents, events, rows = county
    db = str(tmp_path / "county.db")
    _run(capsys, "ledger", "init", db, "--pack", PACK)
    first = _run(
        capsys, "ledger", "record", db, "--enterprises", str(ents), "--events", str(events)
    )[1]
    with events.open(encoding="utf-8") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        code, again, _ = _run(
            capsys, "ledger", "record", db, "--enterprises", str(ents), "--events", "-"
        )
    assert code == 0
    assert len(again.splitlines()) == len(rows)
    assert again.splitlines()[-1] == first.splitlines()[-1]
    with Ledger.open(db) as ledger:
        assert sum(len(ledger.events(i)) for i in ledger.enterprise_ids()) == len(rows)


def test_timeline_due_level_and_verify(
    tmp_path: Path,
    county: tuple[Path, Path, list[dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ents, events, _ = county
    db = str(tmp_path / "county.db")
    _run(capsys, "ledger", "init", db, "--pack", PACK)
    _run(capsys, "ledger", "record", db, "--enterprises", str(ents), "--events", str(events))
    code, out, _ = _run(capsys, "ledger", "timeline", db, "--id", "E000001", "--superseded")
    entries = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert entries
    assert {"seq", "assessed_on", "superseded", "inputs", "hash", "decision"} <= set(entries[0])
    assert [e["assessed_on"] for e in entries] == sorted(e["assessed_on"] for e in entries)
    code, out, _ = _run(capsys, "ledger", "due", db, "--by", "2009-12-31", "--region", "Datang")
    due = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert due
    assert all(d["region"] == "Datang" and d["next_inspection_due"] <= "2009-12-31" for d in due)
    code, out, _ = _run(
        capsys, "ledger", "level", db, "B", "--as-of", AS_OF, "--scheme", "industry"
    )
    with Ledger.open(db) as ledger:
        assert out.split() == list(ledger.at_level("B", dt.date(2009, 7, 1), scheme="industry"))
    code, out, _ = _run(capsys, "ledger", "verify", db)
    assert code == 0
    assert "ok:" in out
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER records_no_update")
    conn.execute("UPDATE records SET content = content || ' ' WHERE seq = 3")
    conn.commit()
    conn.close()
    code, out, err = _run(capsys, "ledger", "verify", db, "--no-regrade")
    assert code == 4
    assert "records#3" in out
    assert "does not verify" in err


def test_errors_name_file_line_and_field(
    tmp_path: Path,
    county: tuple[Path, Path, list[dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ents, _, rows = county
    db = str(tmp_path / "county.db")
    code, _, err = _run(capsys, "ledger", "grade", db)
    assert (code, "no such file" in err) == (2, True)
    code, _, err = _run(capsys, "ledger", "init", db, "--pack", str(tmp_path))
    assert code == 3
    _run(capsys, "ledger", "init", db, "--pack", PACK)
    bad = tmp_path / "bad.jsonl"
    good = json.dumps(rows[0])
    bad.write_text(
        good + "\n" + json.dumps({**rows[1], "of": rows[0]["id"]}) + "\n", encoding="utf-8"
    )
    code, out, err = _run(
        capsys, "ledger", "record", db, "--enterprises", str(ents), "--events", str(bad)
    )
    assert code == 2
    assert len(out.splitlines()) == 1  # the first record was stored and its decision printed
    assert f"{bad}:2: event {rows[1]['id']}: of: unknown field" in err
    bad_ents = tmp_path / "bad_ents.jsonl"
    bad_ents.write_text(
        '{"id": "Z1", "scheme": "food"}\n'
        '{"id": "Z2", "scheme": "food", "attributes": {"categry": "x"}}\n',
        encoding="utf-8",
    )
    code, _, err = _run(
        capsys, "ledger", "record", db, "--enterprises", str(bad_ents), "--events", str(bad)
    )
    assert code == 2
    assert f"{bad_ents}:2: attributes.categry:" in err
    code, _, err = _run(capsys, "ledger", "record", db, "--events", str(bad))
    assert code == 2


# --- nothing lost: real processes ----------------------------------------------------------


def _command(db: Path, ents: Path, events: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "riskgrade.cli",
        "ledger",
        "record",
        str(db),
        "--enterprises",
        str(ents),
        "--events",
        str(events),
    ]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return env


def _stored(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    ids = [row[0] for row in conn.execute("SELECT id FROM records ORDER BY seq")]
    conn.close()
    return ids


@pytest.mark.slow
def test_sigkill_at_any_moment_leaves_a_consistent_ledger_that_resending_completes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ents, events, rows = _write_county(tmp_path, 40, seed=11)
    db = tmp_path / "county.db"
    with Ledger.create(db, PACK):
        pass
    rng = random.Random(2009)
    runs = 0
    while runs < 6:
        already = len(_stored(db))
        remaining = len(rows) - already
        if remaining < 30:
            break
        # Kill once during start-up, then each time a little way into the records not yet
        # stored (after reading that many decisions, plus a few random milliseconds), so that
        # the kill lands inside or between transactions on any machine, fast or slow.
        wait_for = 0 if runs == 0 else already + rng.randint(1, remaining // 3)
        process = subprocess.Popen(
            _command(db, ents, events), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()
        )
        assert process.stdout is not None
        seen = [process.stdout.readline() for _ in range(wait_for)]
        time.sleep(rng.uniform(0.05, 0.3) if runs == 0 else rng.uniform(0, 0.004))
        process.send_signal(signal.SIGKILL)
        out, _ = process.communicate()
        runs += 1
        assert process.returncode == -signal.SIGKILL
        printed = [line for line in seen if line] + out.splitlines()
        stored = _stored(db)
        # Printed only after commit: whatever a reader saw is stored, in file order.
        assert stored == [row["id"] for row in rows[: len(stored)]]
        assert len(printed) <= len(stored)
        with Ledger.open(db) as ledger:
            report = ledger.verify(regrade=False)
        assert report.ok, report.render()
    assert runs >= 4
    finished = subprocess.run(
        _command(db, ents, events), capture_output=True, env=_env(), check=False
    )
    assert finished.returncode == 0, finished.stderr
    assert len(finished.stdout.decode("utf-8").splitlines()) == len(rows)
    assert _stored(db) == [row["id"] for row in rows]
    with Ledger.open(db) as ledger:
        report = ledger.verify()
    assert report.ok, report.render()
    _, from_ledger, _ = _run(capsys, "ledger", "grade", str(db), "--as-of", AS_OF)
    _, pure, _ = _run(
        capsys,
        "grade",
        "--pack",
        PACK,
        "--enterprises",
        str(ents),
        "--events",
        str(events),
        "--as-of",
        AS_OF,
    )
    assert from_ledger == pure


@pytest.mark.slow
def test_two_processes_recording_at_once_lose_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ents, events, rows = _write_county(tmp_path, 40, seed=12)
    halves = [tmp_path / "even.jsonl", tmp_path / "odd.jsonl"]
    for parity, path in enumerate(halves):
        path.write_text(
            "".join(
                json.dumps(r) + "\n" for r in rows if int(r["enterprise_id"][1:]) % 2 == parity
            ),
            encoding="utf-8",
        )
    db = tmp_path / "county.db"
    with Ledger.create(db, PACK):
        pass
    # Two writers on disjoint enterprises, then two writers sending the same file (same
    # enterprises, each record claimed by whichever commits first).
    for files in (halves, [events, events]):
        processes = [
            subprocess.Popen(
                _command(db, ents, path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()
            )
            for path in files
        ]
        for process, path in zip(processes, files, strict=True):
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            assert len(out.splitlines()) == len(path.read_text(encoding="utf-8").splitlines())
    assert sorted(_stored(db)) == sorted(row["id"] for row in rows)
    with Ledger.open(db) as ledger:
        report = ledger.verify()
    assert report.ok, report.render()
    _, from_ledger, _ = _run(capsys, "ledger", "grade", str(db), "--as-of", AS_OF)
    _, pure, _ = _run(
        capsys,
        "grade",
        "--pack",
        PACK,
        "--enterprises",
        str(ents),
        "--events",
        str(events),
        "--as-of",
        AS_OF,
    )
    assert from_ledger == pure


def test_an_enterprise_twice_in_one_file_is_an_error_naming_both_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "county.db")
    _run(capsys, "ledger", "init", db, "--pack", PACK)
    ents = tmp_path / "ents.jsonl"
    ents.write_text(
        '{"id": "Z1", "scheme": "food"}\n\n{"id": "Z1", "scheme": "industry"}\n', encoding="utf-8"
    )
    events = tmp_path / "events.jsonl"
    events.write_text("", encoding="utf-8")
    code, _, err = _run(
        capsys, "ledger", "record", db, "--enterprises", str(ents), "--events", str(events)
    )
    assert code == 2
    assert f"{ents}:3: id: duplicate enterprise id 'Z1' (first on line 1)" in err
    with Ledger.open(db) as ledger:
        assert ledger.enterprise_ids() == ()
