"""The report in a real browser: Debian's headless Chromium loads the file, the page raises no
error and logs nothing to the console, and its charts are drawn.

Chromium is installed by .ci/run. Without it these tests skip on a developer's machine, and
fail in CI (``CI=true``), where they must run.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from riskgrade import RecordSet, load_pack
from riskgrade.report import build_report
from riskgrade.synthetic import CountySpec, generate_county

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2009, 7, 1)


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed; .ci/run installs it (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def run_chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Load ``page`` headless with a throw-away profile; console messages go to stderr."""
    argv = [
        chromium(),
        "--headless",
        "--no-sandbox",  # CI runs as root, where the sandbox refuses to start
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        page.resolve().as_uri(),
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)


def console_lines(stderr: str) -> list[str]:
    # Chromium logs every console message, errors and uncaught exceptions included, as
    # ":CONSOLE"; the report writes nothing to the console, so any such line is a failure.
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The demo-sized report as Chromium leaves its DOM, and Chromium's stderr."""
    folder = tmp_path_factory.mktemp("browser")
    enterprises, events = generate_county(CountySpec(seed=2009))
    records = RecordSet.from_dicts(enterprises, events)
    page = folder / "report.html"
    page.write_text(build_report(load_pack(ROOT / "rules" / "zhuji"), records, AS_OF), "utf-8")
    done = run_chromium(page, folder / "profile", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def test_the_page_loads_without_console_messages(loaded: tuple[str, str]) -> None:
    assert console_lines(loaded[1]) == []


def test_the_page_raises_no_error(loaded: tuple[str, str]) -> None:
    html_tag = re.search(r"<html[^>]*>", loaded[0])
    assert html_tag is not None
    assert ("data-errors" in html_tag.group(0), 'data-ready="1"' in html_tag.group(0)) == (
        False,
        True,
    )


@pytest.mark.parametrize("chart", ["levels-by-region", "levels-by-grid", "transitions", "workload"])
def test_the_chart_is_drawn(loaded: tuple[str, str], chart: str) -> None:
    svgs = re.findall(rf'<svg class="chart" data-chart="{chart}".*?</svg>', loaded[0], re.S)
    bars = [len(re.findall(r'<rect class="bar"', svg)) for svg in svgs]
    assert bars != []
    assert all(count > 0 for count in bars)


def test_every_timeline_is_drawn(loaded: tuple[str, str]) -> None:
    timelines = re.findall(r'<svg class="tl" data-chart="timeline".*?</svg>', loaded[0], re.S)
    undrawn = [svg[:120] for svg in timelines if '<path class="lvl"' not in svg]
    assert (len(timelines), undrawn) == (400, [])


def test_the_error_checks_catch_a_broken_page(tmp_path: Path) -> None:
    # The two checks above would pass on a blank browser; make sure they can fail.
    page = tmp_path / "broken.html"
    page.write_text(
        build_report(
            load_pack(ROOT / "rules" / "uk-fhrs"), RecordSet.from_dicts([], []), AS_OF
        ).replace("</main>", "</main><script>undefinedFunction();</script>"),
        "utf-8",
    )
    done = run_chromium(page, tmp_path / "profile", "--dump-dom")
    html_tag = re.search(r"<html[^>]*>", done.stdout)
    assert html_tag is not None
    assert ("undefinedFunction" in html_tag.group(0), console_lines(done.stderr) != []) == (
        True,
        True,
    )


def test_the_page_renders_to_a_screenshot(tmp_path: Path) -> None:
    enterprises, events = generate_county(CountySpec(seed=5, enterprises=30, grids=8))
    page = tmp_path / "report.html"
    records = RecordSet.from_dicts(enterprises, events)
    page.write_text(build_report(load_pack(ROOT / "rules" / "zhuji"), records, AS_OF), "utf-8")
    shot = tmp_path / "shot.png"
    run_chromium(page, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2000")
    data = shot.read_bytes()
    assert (data[:8], len(data) > 20_000) == (b"\x89PNG\r\n\x1a\n", True)
