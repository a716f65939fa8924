"""The HTML report (``riskgrade.report`` and ``riskgrade report``): what the page holds.

The page is checked as text here; tests/test_report_browser.py loads it in a real browser.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from riskgrade import RecordSet, RulePack, load_pack
from riskgrade.cli import main
from riskgrade.demo import run_demo
from riskgrade.report import build_report
from riskgrade.synthetic import CountySpec, generate_county

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2009, 7, 1)


@pytest.fixture(scope="module")
def zhuji() -> RulePack:
    return load_pack(ROOT / "rules" / "zhuji")


@pytest.fixture(scope="module")
def county() -> RecordSet:
    enterprises, events = generate_county(CountySpec(seed=11, enterprises=40, grids=12))
    return RecordSet.from_dicts(enterprises, events)


@pytest.fixture(scope="module")
def page(zhuji: RulePack, county: RecordSet) -> str:
    return build_report(zhuji, county, AS_OF)


@pytest.fixture(scope="module")
def page_zh(zhuji: RulePack, county: RecordSet) -> str:
    return build_report(zhuji, county, AS_OF, lang="zh")


def fhrs_page(enterprises: list[dict[str, object]], events: list[dict[str, object]]) -> str:
    pack = load_pack(ROOT / "rules" / "uk-fhrs")
    return build_report(pack, RecordSet.from_dicts(enterprises, events), AS_OF)


def test_the_page_is_one_html_document(page: str) -> None:
    assert (page.startswith("<!DOCTYPE html>"), page.rstrip().endswith("</html>")) == (True, True)


def test_the_page_forbids_every_network_load(page: str) -> None:
    assert "default-src 'none'" in page


def test_the_page_loads_nothing_from_outside(page: str) -> None:
    # The SVG namespace is a name, not a load; nothing else may name a location.
    outside = re.findall(r"""(?:src|href)\s*=\s*["']?(?!#)[^"'\s>]+""", page)
    assert (outside, "<link" in page, "@import" in page, "url(" in page) == (
        [],
        False,
        False,
        False,
    )


@pytest.mark.parametrize("chart", ["levels-by-region", "levels-by-grid", "transitions", "workload"])
def test_the_population_chart_is_drawn(page: str, chart: str) -> None:
    svg = re.search(rf'<svg class="chart" data-chart="{chart}".*?</svg>', page, re.S)
    assert svg is not None
    assert '<rect class="bar"' in svg.group(0)


def test_there_is_a_level_chart_for_each_scheme_and_each_grouping(page: str) -> None:
    assert (
        page.count('data-chart="levels-by-region"'),
        page.count('data-chart="levels-by-grid"'),
    ) == (
        2,
        2,
    )


def test_every_enterprise_has_a_timeline_chart(page: str, county: RecordSet) -> None:
    assert page.count('data-chart="timeline"') == len(county.enterprises)


def test_every_enterprise_is_listed_in_the_index_and_has_its_section(
    page: str, county: RecordSet
) -> None:
    missing = [
        e.id
        for e in county.enterprises
        if f'href="#e-{e.id}"' not in page or f'<details class="ent" id="e-{e.id}"' not in page
    ]
    assert missing == []


def test_a_section_shows_the_reasons_with_their_points(page: str) -> None:
    assert re.search(r"<code>food\.category</code> [^<]+ <b>\d+ points</b>", page)


def test_a_section_shows_the_records_that_moved_the_level(page: str, county: RecordSet) -> None:
    # Some re-grade row names a record of its day, e.g. "V00000001 spot check failed ...".
    first = county.events[0]
    assert re.search(rf'<span class="small">{first.id}</span> [^<]+', page)


def test_the_transitions_chart_counts_the_moves(page: str) -> None:
    chart = re.search(r'data-chart="transitions".*?</svg>', page, re.S)
    assert chart is not None
    assert re.search(r"<title>\d{4}-\d{2} · worsened: \d+</title>", chart.group(0))


def test_the_workload_chart_shows_overdue_inspections(page: str) -> None:
    chart = re.search(r'data-chart="workload".*?</svg>', page, re.S)
    assert chart is not None
    assert re.search(r"<title>2009-07 · overdue: \d+</title>", chart.group(0))


def test_the_english_page_is_in_english(page: str) -> None:
    assert ('<html lang="en">' in page, "Levels by region" in page, "按区域" in page) == (
        True,
        True,
        False,
    )


def test_the_chinese_page_is_in_chinese(page_zh: str) -> None:
    words = [
        "按区域的等级分布",
        "按网格的等级分布",
        "等级调整趋势",
        "每月应检查数",
        "依据",
        "监管措施",
    ]
    assert ('<html lang="zh-CN">' in page_zh, [w for w in words if w not in page_zh]) == (True, [])


def test_the_chinese_page_uses_the_packs_chinese_labels(page_zh: str) -> None:
    assert ("高风险" in page_zh, "培育" in page_zh) == (True, True)


def test_the_same_records_give_the_same_bytes(
    zhuji: RulePack, county: RecordSet, page: str
) -> None:
    assert build_report(zhuji, county, AS_OF) == page


def test_texts_from_records_are_escaped() -> None:
    page = fhrs_page([{"id": "E1", "name": "<script>alert(1)</script> & Co"}], [])
    assert (
        "<script>alert(1)" in page,
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page,
    ) == (
        False,
        True,
    )


def test_an_ungraded_enterprise_shows_why(tmp_path: Path) -> None:
    page = fhrs_page([{"id": "E1"}], [])
    assert (
        "not graded" in page,
        "no inspection with hygiene, structure and management" in page,
    ) == (
        True,
        True,
    )


def test_an_odd_enterprise_id_still_gets_a_working_anchor() -> None:
    page = fhrs_page([{"id": "café 1"}], [])
    assert ('href="#e-n0"' in page, '<details class="ent" id="e-n0"' in page) == (True, True)


def test_a_flag_appears_among_the_reasons() -> None:
    inspection = {
        "id": "i1",
        "enterprise_id": "E1",
        "date": "2009-03-01",
        "type": "inspection",
        "outcome": "compliant",
        "scores": {"hygiene": 5, "structure": 5, "management": 10},
    }
    page = fhrs_page([{"id": "E1"}], [inspection])
    assert "<code>fhrs.broadly_compliant</code> broadly compliant" in page


# --- the command line and the demo -----------------------------------------------------------


def write_county(folder: Path) -> tuple[Path, Path]:
    enterprises, events = generate_county(CountySpec(seed=3, enterprises=12, grids=6))
    ent_path, ev_path = folder / "enterprises.jsonl", folder / "events.jsonl"
    ent_path.write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in enterprises), "utf-8"
    )
    ev_path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), "utf-8")
    return ent_path, ev_path


def test_the_report_command_writes_the_page(tmp_path: Path) -> None:
    ent_path, ev_path = write_county(tmp_path)
    out = tmp_path / "report.html"
    argv = ["report", "--pack", "zhuji", "--enterprises", str(ent_path), "--events", str(ev_path)]
    code = main([*argv, "--as-of", "2009-07-01", "--lang", "zh", "--out", str(out)])
    assert (code, out.read_text("utf-8").count('data-chart="timeline"')) == (0, 12)


def test_the_report_command_exits_3_on_a_bad_pack_and_writes_nothing(tmp_path: Path) -> None:
    ent_path, ev_path = write_county(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "pack.yaml").write_text("id: bad\n", "utf-8")
    out = tmp_path / "report.html"
    argv = ["report", "--pack", str(bad), "--enterprises", str(ent_path), "--events", str(ev_path)]
    assert (main([*argv, "--out", str(out)]), out.exists()) == (3, False)


def test_the_report_command_exits_2_on_bad_records_and_writes_nothing(tmp_path: Path) -> None:
    ent_path, ev_path = write_county(tmp_path)
    ev_path.write_text('{"id": "x", "type": "spot_check"}\n', "utf-8")
    out = tmp_path / "report.html"
    argv = ["report", "--pack", "zhuji", "--enterprises", str(ent_path), "--events", str(ev_path)]
    assert (main([*argv, "--out", str(out)]), out.exists()) == (2, False)


def test_the_demo_ends_by_writing_the_report_and_printing_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_demo(out_dir=str(tmp_path), as_of="2009-07-01") == 0
    last = capsys.readouterr().out.rstrip().splitlines()[-1]
    report = tmp_path / "report.html"
    assert (last, report.read_text("utf-8").startswith("<!DOCTYPE html>")) == (
        f"report (HTML): {report.resolve()}",
        True,
    )
