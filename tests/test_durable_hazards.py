"""Every known hazard of durable-rules 2.0.28, each with the guard that keeps riskgrade clear of
it: a test that fails without the guard and, where cheap, one that shows the hazard is real.

What could crash or hang the interpreter runs in a subprocess, so the suite survives.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from durable_support import (
    ROOT,
    SHIPPED_PACKS,
    decisions,
    population,
    requires_durable,
    run_isolated,
    write_pack,
)
from riskgrade import EvaluationError, Grader, PackError, RecordSet, load_pack
from riskgrade._durable_engine import CATCH_ALL, STATE_ID, DurableHost, _load_engine, _quiet_host
from riskgrade._durable_limits import fnv1_32
from riskgrade.cli import main
from riskgrade.durable import DurableEvaluator, _units, compile_pack, export_rulesets

pytestmark = requires_durable

AS_OF = dt.date(2009, 7, 1)
SPOT_CHECKS = "{type: spot_check, window: {last: {years: 3}}}"
FAILED = "{type: spot_check, where: 'result == \"fail\"', window: {last: {years: 3}}}"


def _spot_checks(enterprise: str, results: list[str], *, start: int = 0) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    for n, result in enumerate(results):
        event: dict[str, object] = {
            "id": f"{enterprise}-{start + n}",
            "enterprise_id": enterprise,
            "type": "spot_check",
            "date": (dt.date(2008, 1, 1) + dt.timedelta(days=start + n)).isoformat(),
            "result": result,
        }
        if result == "fail":
            event["items"] = [{"name": "label", "kind": "labeling"}]
        events.append(event)
    return events


def _identical(pack_dir: Path, records: RecordSet) -> list[str]:
    """Grade with both engines; assert identical decisions; return them."""
    pack = load_pack(pack_dir)
    with DurableEvaluator(pack) as evaluator:
        durable = Grader(pack)
        durable.evaluator = evaluator
        expected = decisions(Grader(pack), records, AS_OF)
        assert decisions(durable, records, AS_OF) == expected
    return expected


@pytest.fixture(scope="module")
def zhuji() -> Path:
    return ROOT / "rules" / "zhuji"


# -- a Host starts two timer threads that never stop ------------------------------------------


def test_no_timer_threads_and_no_dispatch_on_its_own() -> None:
    result = run_isolated(
        """
        import datetime as dt, json, threading, time
        import durable.engine as engine
        dispatched = []
        engine.Ruleset.dispatch = lambda self: dispatched.append(self._name)
        from riskgrade import Grader, RecordSet, load_pack
        from riskgrade.synthetic import CountySpec, generate_county
        before = threading.active_count()
        grader = Grader(load_pack("rules/zhuji"), engine="durable")
        grader.grade(RecordSet.from_dicts(*generate_county(CountySpec(enterprises=20))),
                     dt.date(2009, 7, 1))
        ours = threading.active_count() - before
        time.sleep(1.0)  # durable-rules' timers would have fired every 0.1 to 0.5 s
        plain = engine.Host()  # the hazard: a plain Host
        threads = threading.active_count() - before
        plain.register_rulesets({"plain": {"a": {"all": [{"m": {"x": 1}}], "run": lambda c: None}}})
        deadline = time.monotonic() + 20
        while not dispatched and time.monotonic() < deadline:
            time.sleep(0.05)
        print(json.dumps([ours, threads, sorted(set(dispatched))]))
        """
    )
    assert result.returncode == 0, result.stderr
    ours, plain, dispatched = json.loads(result.stdout)
    assert ours == 0  # riskgrade's host: no threads, and none of its rulesets dispatched...
    assert plain == 2  # ...where a plain durable-rules Host starts two
    assert dispatched == ["plain"]  # that dispatch actions on their own


# -- 1,024 state ids at most, told apart by a 32-bit hash --------------------------------------


def test_more_enterprises_than_durable_has_state_ids(zhuji: Path) -> None:
    enterprises = [{"id": f"E{n:05d}", "scheme": "industry"} for n in range(1100)]
    events = [*_spot_checks("E00003", ["fail"]), *_spot_checks("E01090", ["fail", "fail"])]
    graded = _identical(zhuji, RecordSet.from_dicts(enterprises, events))
    assert len(graded) == 1100


def test_enterprises_whose_ids_collide_in_durable_are_graded_apart(zhuji: Path) -> None:
    first, second = "E73560804", "E09767031"
    assert fnv1_32(first) == fnv1_32(second)  # durable-rules would give them one state
    enterprises = [{"id": first, "scheme": "industry"}, {"id": second, "scheme": "industry"}]
    events = [*_spot_checks(first, ["fail", "fail", "fail"]), *_spot_checks(second, ["pass"] * 3)]
    graded = [
        json.loads(line) for line in _identical(zhuji, RecordSet.from_dicts(enterprises, events))
    ]
    assert [d["level"] for d in graded] == ["D", "A"]


def test_facts_use_one_state_id_never_an_enterprise_id(zhuji: Path) -> None:
    pack = load_pack(zhuji)
    records = population(pack, enterprises=30, seed=3)
    with DurableEvaluator(pack) as evaluator:
        inner = evaluator._host._host
        seen: list[dict[str, Any]] = []
        original = inner.assert_fact
        inner.assert_fact = lambda name, fact: seen.append(fact) or original(name, fact)
        grader = Grader(pack)
        grader.evaluator = evaluator
        grader.grade(records, AS_OF)
    ids = {e.id for e in records.enterprises}
    assert seen
    assert {fact["sid"] for fact in seen} == {STATE_ID}
    assert not any(
        value in ids for fact in seen for value in fact.values() if isinstance(value, str)
    )


# -- delete_state crashes; a state whose fact matched nothing must not be deleted ---------------


def test_a_fact_no_rule_of_the_pack_matches_is_handled(zhuji: Path) -> None:
    # Two passed checks and nothing else: class A, no rule of the industry scheme holds, and the
    # fact is handled by the catch-all alone (without it durable-rules refuses the fact).
    enterprises = [{"id": "E1", "scheme": "industry"}]
    graded = _identical(zhuji, RecordSet.from_dicts(enterprises, _spot_checks("E1", ["pass"] * 2)))
    assert json.loads(graded[0])["level"] == "A"


@pytest.mark.parametrize("pack_dir", SHIPPED_PACKS, ids=[p.name for p in SHIPPED_PACKS])
def test_every_ruleset_ends_with_a_catch_all(pack_dir: Path) -> None:
    document = export_rulesets(load_pack(pack_dir))
    for rules in document["rulesets"].values():
        catch_all = rules[CATCH_ALL]
        assert catch_all["all"] == [{"m": {"t": 1}}]
        # the lowest priority: it runs last, so its one run proves the fact was handled
        assert all(
            rule.get("pri", 0) < catch_all["pri"]
            for name, rule in rules.items()
            if name != CATCH_ALL
        )


def test_states_are_never_deleted(zhuji: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _load_engine()

    def refuse(*args: object) -> None:
        raise AssertionError("delete_state called")

    monkeypatch.setattr(engine.Host, "delete_state", refuse)
    monkeypatch.setattr(engine.Ruleset, "delete_state", refuse)
    pack = load_pack(zhuji)
    _identical(zhuji, population(pack, enterprises=40, seed=11))


def test_deleting_a_state_crashes_durable_rules() -> None:
    # The hazard itself, in a subprocess: a state whose fact matched no rule, then delete_state.
    result = run_isolated(
        """
        from durable import engine
        class Quiet(engine.Host):
            def _run(self): pass
        host = Quiet()
        host.register_rulesets({"r": {"a": {"all": [{"m": {"x": 1}}], "run": lambda c: None}}})
        try:
            host.assert_fact("r", {"id": "f", "sid": "1", "x": 2})
        except Exception:
            pass
        host.delete_state("r", "1")
        host.assert_fact("r", {"id": "g", "sid": "1", "x": 1})
        print("survived")
        """
    )
    assert result.returncode < 0  # killed by a signal (SIGSEGV)
    assert "survived" not in result.stdout


# -- more than 511 tests after one node hang durable-rules -------------------------------------


def test_a_condition_with_too_many_tests_is_refused_at_load(tmp_path: Path) -> None:
    when = " or ".join(f"count(checks) == {k}" for k in range(520))
    write_pack(tmp_path / "wide", sets={"checks": SPOT_CHECKS}, rules=[("too.wide", when)])
    # In a subprocess: without the guard, registering this ruleset never returns.
    result = run_isolated(
        f"""
        from riskgrade import load_pack, PackError
        from riskgrade.durable import DurableEvaluator
        try:
            DurableEvaluator(load_pack({str(tmp_path / "wide")!r}))
        except PackError as exc:
            print("refused:", exc)
        """,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "refused:" in result.stdout
    assert "rule too.wide" in result.stdout
    assert "hangs beyond 511" in result.stdout


def test_durable_rules_hangs_on_a_full_test_table() -> None:
    # The hazard itself: 511 tests after the first node plus the catch-all's fill all 512 slots.
    code = """
        from durable import engine
        class Quiet(engine.Host):
            def _run(self): pass
        rules = {f"r{k}": {"all": [{"m": {"a": k}}], "run": lambda c: None} for k in range(511)}
        rules["c"] = {"all": [{"m": {"t": 1}}], "pri": 1, "run": lambda c: None}
        host = Quiet()
        host.register_rulesets({"r": rules})
        host.assert_fact("r", {"id": "f", "sid": "0", "t": 1, "a": 3})
    """
    with pytest.raises(subprocess.TimeoutExpired):
        run_isolated(code, timeout=3)


def test_many_rules_are_spread_over_rulesets(tmp_path: Path) -> None:
    rules = [(f"count.is.{k}", f"count(checks) == {k}") for k in reversed(range(600))]
    pack_dir = write_pack(tmp_path / "many", sets={"checks": SPOT_CHECKS}, rules=rules)
    (program,) = compile_pack(load_pack(pack_dir))
    assert len(program.rulesets) == 2
    enterprises = [{"id": f"E{n}"} for n in range(4)]
    events = [e for n in range(4) for e in _spot_checks(f"E{n}", ["pass"] * n)]
    graded = [
        json.loads(d) for d in _identical(pack_dir, RecordSet.from_dicts(enterprises, events))
    ]
    assert [[r["rule"] for r in d["reasons"]] for d in graded] == [
        [f"count.is.{n}"] for n in range(4)
    ]


def test_rules_that_hold_together_are_spread_over_rulesets(tmp_path: Path) -> None:
    # durable-rules walks the tests that hold with a stack of 64: 70 that hold at once would
    # fail the fact (error 303) in one ruleset.
    rules = [(f"at.least.{k}", f"count(checks) >= {k}") for k in range(70)]
    pack_dir = write_pack(tmp_path / "deep", sets={"checks": SPOT_CHECKS}, rules=rules)
    (program,) = compile_pack(load_pack(pack_dir))
    assert len(program.rulesets) == 2
    records = RecordSet.from_dicts([{"id": "E1"}], _spot_checks("E1", ["pass"] * 80))
    (graded,) = [json.loads(d) for d in _identical(pack_dir, records)]
    assert len(graded["reasons"]) == 70


# -- numbers in exponent form are rejected, NaN never matches ---------------------------------


def test_scores_are_sent_as_exact_integers(tmp_path: Path) -> None:
    scores = (
        "  tiny:\n    text: {en: t, zh: t}\n    terms:\n"
        "      - {rule: tiny.fail, text: {en: f, zh: f}, each: failed, points: 0.00001}\n"
    )
    pack_dir = write_pack(
        tmp_path / "tiny",
        sets={"failed": FAILED},
        rules=[("tiny.many", "score.tiny > 0.00002")],
        scores=scores,
    )
    pack = load_pack(pack_dir)
    (program,) = compile_pack(pack)
    assert program.scope.scores == {"tiny": 5}
    records = RecordSet.from_dicts(
        [{"id": "E1"}, {"id": "E2"}],
        [*_spot_checks("E1", ["fail"] * 3), *_spot_checks("E2", ["fail"] * 2, start=10)],
    )
    with DurableEvaluator(pack) as evaluator:
        sent: list[dict[str, Any]] = []
        inner = evaluator._host._host
        original = inner.assert_fact
        inner.assert_fact = lambda name, fact: sent.append(fact) or original(name, fact)
        durable = Grader(pack)
        durable.evaluator = evaluator
        # 0.00003 would be sent as 3e-05 as a float, which durable-rules cannot even parse
        assert decisions(durable, records, AS_OF) == decisions(Grader(pack), records, AS_OF)
    assert [json.loads(d)["level"] for d in decisions(Grader(pack), records, AS_OF)] == ["B", "A"]
    assert {fact["score.tiny"] for fact in sent} >= {3, 2}
    assert all(type(fact["score.tiny"]) is int for fact in sent)


def test_durable_rules_rejects_exponent_numbers() -> None:
    host = DurableHost()
    name = host.register(
        "x",
        {"r": {"all": [{"m": {"$gt": {"n": 0}}}]}, CATCH_ALL: {"all": [{"m": {"t": 1}}], "pri": 1}},
    )
    assert host.match(name, {"t": 1, "n": 3}) == {"r"}
    with pytest.raises(EvaluationError, match="error code: 204"):
        host.match(name, {"t": 1, "n": 3e-05})
    assert host.match(name, {"t": 1, "n": float("nan")}) == frozenset()  # NaN never matches
    host.close()


@pytest.mark.parametrize("value", [Decimal("0.123"), Decimal("NaN"), Decimal("Infinity")])
def test_a_score_finer_than_its_unit_is_refused_not_rounded(value: Decimal) -> None:
    with pytest.raises(EvaluationError):
        _units("risk", value, 2)


def test_exact_scores_convert_to_units() -> None:
    assert _units("risk", Decimal("24.5"), 1) == 245
    assert _units("risk", Decimal("-0.05"), 2) == -5
    assert _units("risk", Decimal("1E+2"), 1) == 1000


# -- a fact of more than 254 keys fails --------------------------------------------------------


def test_rules_reading_many_fields_are_spread_over_rulesets(tmp_path: Path) -> None:
    sets = {f"s{n:03d}": FAILED for n in range(280)}
    rules = [
        (f"wide.{k}", " + ".join(f"count(s{n:03d})" for n in range(40 * k, 40 * k + 40)) + " > 0")
        for k in range(7)
    ]
    pack_dir = write_pack(tmp_path / "keys", sets=sets, rules=rules)
    (program,) = compile_pack(load_pack(pack_dir))
    assert len(program.rulesets) == 2
    assert all(len(plan.fields) + 2 <= 254 for plan in program.rulesets)
    records = RecordSet.from_dicts([{"id": "E1"}, {"id": "E2"}], _spot_checks("E1", ["fail"]))
    graded = [json.loads(d) for d in _identical(pack_dir, records)]
    assert [len(d["reasons"]) for d in graded] == [7, 0]


def test_a_rule_reading_too_many_fields_is_refused(tmp_path: Path) -> None:
    sets = {f"s{n:03d}": FAILED for n in range(260)}
    when = " or ".join(f"exists(s{n:03d})" for n in range(260))
    pack_dir = write_pack(tmp_path / "toowide", sets=sets, rules=[("too.many.fields", when)])
    with pytest.raises(PackError, match="keys") as raised:
        compile_pack(load_pack(pack_dir))
    assert raised.value.rule == "too.many.fields"


# -- exceptions in actions are swallowed into the state -----------------------------------------


def test_an_exception_in_an_action_is_raised(zhuji: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pack = load_pack(zhuji)
    records = population(pack, enterprises=5, seed=1)
    enterprise = records.enterprises[0]
    with DurableEvaluator(pack) as evaluator:
        grader = Grader(pack)
        grader.evaluator = evaluator

        def broken(*args: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(DurableHost, "_record", broken)
        with pytest.raises(EvaluationError, match="boom") as raised:
            grader.decide(enterprise, records.events_of(enterprise.id), AS_OF)
        assert isinstance(raised.value.__cause__, RuntimeError)
        monkeypatch.undo()
        # the host is clean afterwards
        expected = Grader(pack).decide(enterprise, records.events_of(enterprise.id), AS_OF)
        actual = grader.decide(enterprise, records.events_of(enterprise.id), AS_OF)
        assert actual.to_json() == expected.to_json()


def test_durable_rules_swallows_exceptions_in_actions() -> None:
    host = _quiet_host(_load_engine())

    def boom(closure: object) -> None:
        raise RuntimeError("boom")

    host.register_rulesets({"r": {"a": {"all": [{"m": {"x": 1}}], "run": boom}}})
    state = host.assert_fact("r", {"id": "f", "sid": "0", "x": 1})  # no exception here...
    assert "boom" in state["exception"]  # ...only a note in the state


# -- a ruleset name can be registered only once -------------------------------------------------


def test_evaluators_sharing_a_host_get_their_own_rulesets(zhuji: Path) -> None:
    pack = load_pack(zhuji)
    records = population(pack, enterprises=40, seed=5)
    host = DurableHost()
    first, second = DurableEvaluator(pack, host=host), DurableEvaluator(pack, host=host)
    assert set(first.ruleset_names).isdisjoint(second.ruleset_names)
    assert all(name.endswith(".v2") for name in second.ruleset_names)
    expected = decisions(Grader(pack), records, AS_OF)
    for evaluator in (first, second):
        grader = Grader(pack)
        grader.evaluator = evaluator
        assert decisions(grader, records, AS_OF) == expected
    first.close()
    grader = Grader(pack)
    grader.evaluator = second
    assert decisions(grader, records, AS_OF) == expected
    host.close()


def test_durable_rules_refuses_a_name_twice() -> None:
    host = _quiet_host(_load_engine())
    rules = {"a": {"all": [{"m": {"x": 1}}], "run": lambda c: None}}
    host.register_rulesets({"r": dict(rules)})
    with pytest.raises(Exception, match="already registered"):
        host.register_rulesets({"r": {"a": {"all": [{"m": {"x": 1}}], "run": lambda c: None}}})


# -- not thread-safe ---------------------------------------------------------------------------


def test_one_evaluator_serves_many_threads() -> None:
    # In a subprocess: without the lock, concurrent calls corrupt durable-rules' state.
    result = run_isolated(
        """
        import datetime as dt, json, threading, time
        from concurrent.futures import ThreadPoolExecutor
        from riskgrade import Grader, RecordSet, load_pack
        from riskgrade.synthetic import CountySpec, generate_county
        pack = load_pack("rules/zhuji")
        records = RecordSet.from_dicts(*generate_county(CountySpec(enterprises=60, seed=9)))
        grader = Grader(pack, engine="durable")
        inner = grader.evaluator._host._host
        original, active, most = inner.assert_fact, [0], [0]
        def spy(name, fact):
            active[0] += 1
            most[0] = max(most[0], active[0])
            time.sleep(0.0005)
            try:
                return original(name, fact)
            finally:
                active[0] -= 1
        inner.assert_fact = spy
        day = dt.date(2009, 7, 1)
        expected = [d.to_json() for d in Grader(pack).grade(records, day)]
        def run(_):
            return [d.to_json() for d in grader.grade(records, day)]
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(run, range(8)))
        print(json.dumps([all(r == expected for r in results), most[0]]))
        """,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    identical, most = json.loads(result.stdout)
    assert identical
    assert most == 1  # never two durable-rules calls at once


# -- property names are told apart by a 32-bit hash too ----------------------------------------


def test_fields_whose_names_collide_are_kept_in_separate_rulesets(tmp_path: Path) -> None:
    one, other = "zm6btgchbz", "o96a82qxb5"
    assert fnv1_32(f"count.{one}") == fnv1_32(f"count.{other}")
    pack_dir = write_pack(
        tmp_path / "collide",
        sets={one: FAILED, other: SPOT_CHECKS},
        rules=[("fails", f"exists({one})"), ("checked", f"count({other}) >= 2")],
    )
    (program,) = compile_pack(load_pack(pack_dir))
    assert len(program.rulesets) == 2
    records = RecordSet.from_dicts(
        [{"id": "E1"}, {"id": "E2"}],
        [*_spot_checks("E1", ["pass", "pass"]), *_spot_checks("E2", ["fail"], start=5)],
    )
    graded = [json.loads(d) for d in _identical(pack_dir, records)]
    assert [[r["rule"] for r in d["reasons"]] for d in graded] == [["checked"], ["fails"]]


def test_one_rule_reading_colliding_fields_is_refused(tmp_path: Path) -> None:
    one, other = "zm6btgchbz", "o96a82qxb5"
    pack_dir = write_pack(
        tmp_path / "collide1",
        sets={one: FAILED, other: SPOT_CHECKS},
        rules=[("both", f"exists({one}) and not exists({other})")],
    )
    with pytest.raises(PackError, match="same 32-bit hash"):
        compile_pack(load_pack(pack_dir))


# -- conditions outside the exactly translatable subset ----------------------------------------


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("count(checks) * count(checks) > 1", "linear"),
        ("count(checks) / 3 > 1", "not exact in decimal"),
        ("2 * count(checks) > 3 * count(failed)", "factor of 1"),
    ],
)
def test_untranslatable_conditions_are_refused_naming_the_rule(
    tmp_path: Path, when: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pack_dir = write_pack(
        tmp_path / "odd",
        sets={"checks": SPOT_CHECKS, "failed": FAILED},
        rules=[("plain.rule", "exists(failed)"), ("odd.rule", when)],
    )
    with pytest.raises(PackError, match=reason) as raised:
        DurableEvaluator(load_pack(pack_dir))
    assert raised.value.rule == "odd.rule"
    assert main(["export", "--format", "durable", str(pack_dir)]) == 3
    assert "rule odd.rule" in capsys.readouterr().err


# -- the command line --------------------------------------------------------------------------


def test_export_prints_the_rulesets_the_evaluator_registers(
    zhuji: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--format", "durable", "zhuji"]) == 0
    document = json.loads(capsys.readouterr().out)
    pack = load_pack(zhuji)
    assert document == json.loads(json.dumps(export_rulesets(pack)))
    programs = compile_pack(pack)
    registered = {plan.name: plan.definition() for p in programs for plan in p.rulesets}
    assert document["rulesets"] == registered
    assert set(document["facts"]) == set(registered)


def test_grade_with_the_durable_engine_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    outputs = []
    for engine in ("python", "durable"):
        out = tmp_path / f"{engine}.jsonl"
        argv = [
            "grade",
            "--pack",
            "zhuji",
            "--as-of",
            "2009-07-01",
            "--engine",
            engine,
            "--enterprises",
            str(tmp_path / "enterprises.jsonl"),
            "--events",
            str(tmp_path / "events.jsonl"),
            "--out",
            str(out),
        ]
        assert main(argv) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_without_the_extra_the_durable_engine_says_how_to_install_it(tmp_path: Path) -> None:
    assert main(["demo", "--out-dir", str(tmp_path)]) == 0
    result = run_isolated(
        f"""
        import importlib.abc, importlib.metadata as metadata, sys
        class Missing(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("durable", "durable_rules_engine"):
                    raise ImportError(f"No module named {{name!r}}")
        sys.meta_path.insert(0, Missing())
        real_version = metadata.version
        def version(name):
            if name == "durable-rules":
                raise metadata.PackageNotFoundError(name)
            return real_version(name)
        metadata.version = version
        from riskgrade.cli import main
        files = ["--enterprises", {str(tmp_path / "enterprises.jsonl")!r},
                 "--events", {str(tmp_path / "events.jsonl")!r}, "--as-of", "2009-07-01"]
        codes = [
            main(["grade", "--pack", "zhuji", "--engine", "durable", *files]),
            main(["grade", "--pack", "zhuji", "--out", {str(tmp_path / "out.jsonl")!r}, *files]),
            main(["export", "--format", "durable", "zhuji", "--out", {str(tmp_path / "x.json")!r}]),
        ]
        print(codes)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[2, 0, 0]"
    assert "pip install 'riskgrade[durable]'" in result.stderr
