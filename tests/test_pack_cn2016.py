"""The shipped pack ``rules/cn-2016``: CFDA 2016 static + dynamic score, yearly cadence.

Every row of the static table, every band boundary (30/30.5, 45/45.5, 60/60.5), the yearly
cadence (each trigger, raise_levels, the cap at D, three clean years, the initial year counting
in full, nothing moving mid-year) and the input errors for missing or unknown attributes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskgrade import Decision, Grader, InputError, RecordSet, RulePack, load_pack, load_pack_files
from riskgrade.cli import main
from riskgrade.packs import read_pack_files

PACK_DIR = Path(__file__).resolve().parent.parent / "rules" / "cn-2016"

#: S = 4 + 3 + 7 + 1 + 3 = 18 with these options.
BASE = {
    "main_ingredient": "ordinary",
    "formula": "single",
    "claim": "other",
    "unsuitable": "children_and_pregnant",
    "storage": "ambient",
}
BASE_S = Decimal(18)

STATIC_TABLE: dict[str, dict[str, int]] = {
    "main_ingredient": {
        "ordinary": 4,
        "novel": 8,
        "dual_use": 6,
        "special": 11,
        "extract": 13,
        "vitamins": 10,
    },
    "formula": {"single": 3, "compound": 5},
    "claim": {"prone": 10, "other": 7},
    "unsuitable": {"children_and_pregnant": 1, "children": 3, "pregnant": 5, "none": 7},
    "storage": {"chilled": 5, "ambient": 3},
}


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_pack(PACK_DIR)


def pack_with(**settings: str) -> RulePack:
    """The shipped pack with ``key: value`` lines of its scheme file replaced."""
    files = dict(read_pack_files(PACK_DIR).files)
    text = files["health_food.yaml"].decode("utf-8")
    for key, value in settings.items():
        old = next(line for line in text.splitlines() if line.strip().startswith(f"{key}:"))
        indent = old[: len(old) - len(old.lstrip())]
        text = text.replace(old, f"{indent}{key}: {value}")
    files["health_food.yaml"] = text.encode("utf-8")
    from riskgrade.packs import PackFiles

    return load_pack_files(PackFiles(files=files), name="cn-2016-modified")


def enterprise(**attributes: object) -> dict[str, object]:
    return {"id": "E1", "attributes": {**BASE, **attributes}}


def inspection(event_id: str, date: str, dynamic: str | int) -> dict[str, object]:
    return {
        "id": event_id,
        "enterprise_id": "E1",
        "date": date,
        "type": "inspection",
        "outcome": "compliant",
        "scores": {"dynamic": Decimal(str(dynamic))},
    }


def spot_check(event_id: str, date: str, *, level: str, result: str = "fail") -> dict[str, object]:
    record: dict[str, object] = {
        "id": event_id,
        "enterprise_id": "E1",
        "date": date,
        "type": "spot_check",
        "result": result,
        "level": level,
    }
    if result == "fail":
        record["items"] = [{"name": "sildenafil", "kind": "illegal_substance"}]
    return record


def enforcement(
    event_id: str, date: str, *, penalty: str, intentional: bool = True
) -> dict[str, object]:
    return {
        "id": event_id,
        "enterprise_id": "E1",
        "date": date,
        "type": "enforcement",
        "penalty": penalty,
        "intentional": intentional,
    }


def incident(event_id: str, date: str) -> dict[str, object]:
    return {"id": event_id, "enterprise_id": "E1", "date": date, "type": "incident"}


def decide(
    pack: RulePack,
    events: Sequence[Mapping[str, object]],
    as_of: str,
    ent: Mapping[str, object] | None = None,
) -> Decision:
    records = RecordSet.from_dicts([ent or enterprise()], events)
    subject = records.enterprises[0]
    return Grader(pack).decide(subject, records.events_of(subject.id), dt.date.fromisoformat(as_of))


def points(decision: Decision, rule: str) -> Decimal | None:
    return next(r.points for r in decision.reasons if r.rule == rule)


# --- the pack ---------------------------------------------------------------------------------


def test_the_pack_checks_clean() -> None:
    assert main(["check", str(PACK_DIR)]) == 0


def test_raise_levels_is_a_pack_setting_defaulting_to_one(pack: RulePack) -> None:
    policy = pack.schemes["health_food"].spec.regrade
    assert (policy.policy, getattr(policy, "raise_levels", None)) == ("yearly", 1)


# --- static score: every row of the table -------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "value", "expected"),
    [(a, v, p) for a, options in STATIC_TABLE.items() for v, p in options.items()],
)
def test_static_table_row(pack: RulePack, attribute: str, value: str, expected: int) -> None:
    decision = decide(
        pack, [inspection("i1", "2020-03-01", 0)], "2020-06-01", enterprise(**{attribute: value})
    )
    assert points(decision, f"cn2016.static.{attribute}") == expected


def test_the_highest_static_options_make_forty(pack: RulePack) -> None:
    highest = {a: max(options, key=options.__getitem__) for a, options in STATIC_TABLE.items()}
    decision = decide(
        pack, [inspection("i1", "2020-03-01", 0)], "2020-06-01", enterprise(**highest)
    )
    assert decision.score == 40


@given(
    st.sampled_from(sorted(STATIC_TABLE)).flatmap(
        lambda a: st.tuples(
            st.just(a), st.lists(st.sampled_from(sorted(STATIC_TABLE[a])), min_size=1, unique=True)
        )
    )
)
def test_a_list_of_options_takes_the_highest(choice: tuple[str, list[str]]) -> None:
    attribute, values = choice
    pack = load_pack(PACK_DIR)
    decision = decide(
        pack, [inspection("i1", "2020-03-01", 0)], "2020-06-01", enterprise(**{attribute: values})
    )
    assert points(decision, f"cn2016.static.{attribute}") == max(
        STATIC_TABLE[attribute][v] for v in values
    )


# --- bands on S + D -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("risk", "level"),
    [
        ("18", "A"),
        ("30", "A"),
        ("30.5", "B"),
        ("45", "B"),
        ("45.5", "C"),
        ("60", "C"),
        ("60.5", "D"),
        ("78", "D"),
    ],
)
def test_band_boundary(pack: RulePack, risk: str, level: str) -> None:
    dynamic = Decimal(risk) - BASE_S
    decision = decide(pack, [inspection("i1", "2020-03-01", dynamic)], "2020-06-01")
    assert (decision.score, decision.level) == (Decimal(risk), level)


@given(st.integers(min_value=0, max_value=1200).map(lambda tenths: Decimal(tenths) / 20))
def test_bands_follow_the_official_thresholds(dynamic: Decimal) -> None:
    risk = BASE_S + dynamic
    expected = "A" if risk <= 30 else "B" if risk <= 45 else "C" if risk <= 60 else "D"
    decision = decide(load_pack(PACK_DIR), [inspection("i1", "2020-03-01", dynamic)], "2020-06-01")
    assert decision.level == expected


def test_the_initial_grade_is_set_at_the_first_dynamic_inspection(pack: RulePack) -> None:
    decision = decide(pack, [inspection("i1", "2020-03-01", 20)], "2020-06-01")
    assert (decision.level, decision.transition, decision.assessed_on) == (
        "B",
        "initial",
        dt.date(2020, 3, 1),
    )


def test_without_a_dynamic_inspection_there_is_no_grade(pack: RulePack) -> None:
    undynamic = {**inspection("i1", "2020-03-01", 0), "scores": {"hygiene": Decimal(5)}}
    decision = decide(pack, [undynamic], "2020-06-01")
    assert (decision.level, [r.rule for r in decision.reasons]) == (
        None,
        ["cn2016.requires.dynamic"],
    )


def test_the_ungraded_are_due_an_inspection_at_once(pack: RulePack) -> None:
    decision = decide(pack, [], "2020-06-01")
    assert decision.treatment is not None
    assert (decision.treatment.name, decision.treatment.next_inspection_due) == (
        "first_inspection",
        dt.date(2020, 6, 1),
    )


@pytest.mark.parametrize(("level", "per_year"), [("A", 1), ("B", 1), ("C", 2), ("D", 3)])
def test_the_plan_uses_the_minimum_inspections(pack: RulePack, level: str, per_year: int) -> None:
    dynamic = {"A": 0, "B": 20, "C": 35, "D": 50}[level]
    decision = decide(pack, [inspection("i1", "2020-03-01", dynamic)], "2020-06-01")
    assert decision.treatment is not None
    assert (decision.level, decision.treatment.inspections_per_year) == (level, per_year)


# --- the yearly cadence ---------------------------------------------------------------------

TRIGGERS = {
    "national spot check failed": spot_check("t1", "2020-05-05", level="national"),
    "provincial spot check failed": spot_check("t1", "2020-05-05", level="provincial"),
    "intentional, fined": enforcement("t1", "2020-05-05", penalty="fine"),
    "intentional, confiscation": enforcement("t1", "2020-05-05", penalty="confiscation"),
    "intentional, suspension": enforcement("t1", "2020-05-05", penalty="suspension"),
    "incident": incident("t1", "2020-05-05"),
}

NOT_TRIGGERS = {
    "municipal spot check failed": spot_check("t1", "2020-05-05", level="municipal"),
    "county spot check failed": spot_check("t1", "2020-05-05", level="county"),
    "national spot check passed": spot_check("t1", "2020-05-05", level="national", result="pass"),
    "fine, not intentional": enforcement("t1", "2020-05-05", penalty="fine", intentional=False),
    "intentional, warning": enforcement("t1", "2020-05-05", penalty="warning"),
}


@pytest.mark.parametrize("trigger", TRIGGERS.values(), ids=TRIGGERS.keys())
def test_a_trigger_raises_the_grade_on_the_next_first_of_january(
    pack: RulePack, trigger: dict[str, object]
) -> None:
    decision = decide(pack, [inspection("i1", "2020-03-01", 0), trigger], "2021-01-01")
    assert (decision.level, decision.transition) == ("B", "worsened")


@pytest.mark.parametrize("record", NOT_TRIGGERS.values(), ids=NOT_TRIGGERS.keys())
def test_other_records_are_no_trigger(pack: RulePack, record: dict[str, object]) -> None:
    decision = decide(pack, [inspection("i1", "2020-03-01", 0), record], "2021-01-01")
    assert decision.level == "A"


def test_an_overturned_national_failure_is_no_trigger(pack: RulePack) -> None:
    overturned = {
        "id": "r1",
        "enterprise_id": "E1",
        "date": "2020-06-01",
        "type": "recheck",
        "of": "t1",
        "result": "overturned",
    }
    events = [inspection("i1", "2020-03-01", 0), TRIGGERS["national spot check failed"], overturned]
    assert decide(pack, events, "2021-01-01").level == "A"


def test_nothing_moves_mid_year(pack: RulePack) -> None:
    events = [inspection("i1", "2020-03-01", 0), TRIGGERS["incident"]]
    decision = decide(pack, events, "2020-12-31")
    assert (decision.level, decision.transition) == ("A", "unchanged")


def test_a_new_dynamic_score_mid_year_does_not_move_the_grade(pack: RulePack) -> None:
    events = [inspection("i1", "2020-03-01", 0), inspection("i2", "2020-09-01", 50)]
    decision = decide(pack, events, "2020-12-31")
    assert (decision.level, decision.raw_level) == ("A", "D")


def test_raise_levels_two_raises_two_levels() -> None:
    decision = decide(
        pack_with(raise_levels="2"),
        [inspection("i1", "2020-03-01", 0), TRIGGERS["incident"]],
        "2021-01-01",
    )
    assert decision.level == "C"


def test_a_raise_is_capped_at_d() -> None:
    decision = decide(
        pack_with(raise_levels="2"),
        [inspection("i1", "2020-03-01", 35), TRIGGERS["incident"]],  # C
        "2021-01-01",
    )
    assert decision.level == "D"


def test_a_trigger_at_d_keeps_d(pack: RulePack) -> None:
    decision = decide(
        pack, [inspection("i1", "2020-03-01", 50), TRIGGERS["incident"]], "2021-01-01"
    )
    assert decision.level == "D"


def test_three_clean_years_lower_one_step(pack: RulePack) -> None:
    events = [inspection("i1", "2020-03-01", 35)]  # C
    assert (decide(pack, events, "2022-12-31").level, decide(pack, events, "2023-01-01").level) == (
        "C",
        "B",
    )


def test_the_clean_count_restarts_after_lowering(pack: RulePack) -> None:
    events = [inspection("i1", "2020-03-01", 35)]  # C; B on 2023-01-01
    assert (decide(pack, events, "2025-12-31").level, decide(pack, events, "2026-01-01").level) == (
        "B",
        "A",
    )


def test_clean_years_never_lower_below_a(pack: RulePack) -> None:
    assert decide(pack, [inspection("i1", "2020-03-01", 0)], "2030-01-01").level == "A"


def test_a_trigger_restarts_the_clean_count(pack: RulePack) -> None:
    # C in 2020; clean 2020; trigger in 2021 → D on 2022-01-01; clean 2022, 2023, 2024 → C.
    events = [inspection("i1", "2020-03-01", 35), incident("t1", "2021-05-05")]
    levels = [decide(pack, events, f"{year}-01-01").level for year in range(2021, 2026)]
    assert levels == ["C", "D", "D", "D", "C"]


def test_the_initial_year_counts_with_the_records_before_the_initial_grade(
    pack: RulePack,
) -> None:
    events = [incident("t1", "2020-01-15"), inspection("i1", "2020-03-01", 0)]
    assert decide(pack, events, "2021-01-01").level == "B"


def test_the_initial_year_counts_as_a_whole_clean_year(pack: RulePack) -> None:
    events = [inspection("i1", "2020-12-30", 35)]  # C; 2020, 2021, 2022 clean
    assert decide(pack, events, "2023-01-01").level == "B"


def test_a_trigger_in_the_year_before_the_initial_grade_does_not_count(pack: RulePack) -> None:
    events = [incident("t1", "2019-06-01"), inspection("i1", "2020-03-01", 0)]
    assert decide(pack, events, "2021-01-01").level == "A"


def test_a_trigger_on_the_first_of_january_counts_for_the_year_it_begins(
    pack: RulePack,
) -> None:
    events = [inspection("i1", "2020-03-01", 0), incident("t1", "2021-01-01")]
    assert (decide(pack, events, "2021-01-01").level, decide(pack, events, "2022-01-01").level) == (
        "A",
        "B",
    )


# --- input errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("attribute", sorted(STATIC_TABLE))
def test_a_missing_attribute_is_an_input_error(pack: RulePack, attribute: str) -> None:
    attributes = {k: v for k, v in BASE.items() if k != attribute}
    with pytest.raises(InputError, match=attribute):
        decide(pack, [], "2020-06-01", {"id": "E1", "attributes": attributes})


def test_an_unknown_attribute_value_is_an_input_error(pack: RulePack) -> None:
    with pytest.raises(InputError, match="unknown value 'frozen'") as caught:
        decide(pack, [], "2020-06-01", enterprise(storage="frozen"))
    assert caught.value.field == "attributes.storage"


def test_an_unknown_value_in_a_list_is_an_input_error(pack: RulePack) -> None:
    with pytest.raises(InputError, match="unknown value"):
        decide(pack, [], "2020-06-01", enterprise(main_ingredient=["ordinary", "herbs"]))


def test_an_unknown_attribute_is_an_input_error(pack: RulePack) -> None:
    with pytest.raises(InputError, match="colour"):
        decide(pack, [], "2020-06-01", enterprise(colour="red"))


def test_an_empty_list_for_a_required_attribute_is_an_input_error(pack: RulePack) -> None:
    # Regression: an empty list passed the attribute check and failed later as a pack error.
    with pytest.raises(InputError, match="empty list"):
        decide(pack, [inspection("i1", "2020-03-01", 0)], "2020-06-01", enterprise(formula=[]))


def test_the_command_line_exits_2_on_a_missing_attribute(tmp_path: Path) -> None:
    enterprises = tmp_path / "enterprises.jsonl"
    events = tmp_path / "events.jsonl"
    out = tmp_path / "decisions.jsonl"
    attributes = {k: v for k, v in BASE.items() if k != "claim"}
    enterprises.write_text(json.dumps({"id": "E1", "attributes": attributes}) + "\n")
    events.write_text("")
    argv = ["grade", "--pack", str(PACK_DIR), "--enterprises", str(enterprises)]
    argv += ["--events", str(events), "--as-of", "2020-06-01", "--out", str(out)]
    assert (main(argv), out.exists()) == (2, False)


@given(
    st.sampled_from([0, 20, 35, 50]),
    st.sets(st.integers(min_value=2020, max_value=2027), max_size=5),
    st.integers(min_value=2020, max_value=2027),
)
def test_an_extra_trigger_never_improves_a_grade(dynamic: int, years: set[int], extra: int) -> None:
    pack = load_pack(PACK_DIR)
    events = [inspection("i1", "2020-03-01", dynamic)]
    events += [incident(f"t{y}", f"{y}-06-01") for y in sorted(years)]
    more = [*events, incident("extra", f"{extra}-09-01")]
    order = pack.schemes["health_food"].levels
    for year in range(2021, 2030):
        without = decide(pack, events, f"{year}-01-01").level
        with_extra = decide(pack, more, f"{year}-01-01").level
        assert without is not None
        assert with_extra is not None
        assert order.index(with_extra) >= order.index(without)
