"""The rule-pack expression language: parsing, evaluation, static checks and their errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from riskgrade._expr import (
    BOOL,
    DATE,
    NULL,
    NUMBER,
    SET,
    STRING,
    Compiled,
    ExpressionError,
    Function,
    ListType,
    RecordType,
    Type,
    TypeEnv,
    compile_expression,
    describe,
    one_of,
)
from riskgrade.errors import EvaluationError, PackError

KINDS = one_of("safety", "quality", "labeling", "illegal_substance")
PENALTIES = one_of(
    "warning",
    "rectification_order",
    "fine",
    "confiscation",
    "suspension",
    "revocation",
    "criminal_referral",
)
ITEM = RecordType({"name": STRING, "kind": KINDS})

ENV: TypeEnv = MappingProxyType(
    {
        "type": one_of("spot_check", "enforcement", "complaint", "incident", "inspection"),
        "result": one_of("pass", "fail"),
        "items": ListType(ITEM),
        "kinds": ListType(KINDS),
        "penalty": PENALTIES,
        "counterfeit": BOOL,
        "substantiated": BOOL,
        "amount": NUMBER,
        "date": DATE,
        "deadline": DATE,
        "scores": RecordType(extra=NUMBER),
        "enforcement": RecordType({"penalty": PENALTIES, "amount": NUMBER}),
        "attributes": RecordType({"category": STRING, "main_ingredient": ListType(STRING)}),
        "failed_12m": SET,
        "failed_checks": SET,
    }
)


def compiled(source: str, **options: object) -> Compiled:
    return compile_expression(source, ENV, **options)  # type: ignore[arg-type]


def run(source: str, scope: Mapping[str, object] | None = None) -> object:
    return compiled(source).evaluate(scope or {})


def error_of(source: str, **options: object) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compiled(source, **options)
    return info.value


# --- the conditions of PACKS.md ----------------------------------------------------------------

QUALITY_ONLY = 'result == "fail" and all(items, kind in ["quality", "labeling"])'


def test_failed_check_with_only_quality_items_is_quality_only() -> None:
    scope = {"result": "fail", "items": [{"kind": "quality"}, {"kind": "labeling"}]}
    assert run(QUALITY_ONLY, scope) is True


def test_failed_check_with_a_safety_item_is_not_quality_only() -> None:
    scope = {"result": "fail", "items": [{"kind": "quality"}, {"kind": "safety"}]}
    assert run(QUALITY_ONLY, scope) is False


def test_passed_check_is_not_quality_only() -> None:
    assert run(QUALITY_ONLY, {"result": "pass", "items": []}) is False


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([{"kind": "quality"}, {"kind": "illegal_substance"}], True),
        ([{"kind": "quality"}, {"kind": "safety"}], False),
        ([], False),
    ],
)
def test_any_finds_an_illegal_substance_item(items: list[object], expected: bool) -> None:
    assert run('any(items, kind == "illegal_substance")', {"items": items}) is expected


SEVERE = 'penalty in ["suspension", "revocation", "criminal_referral"] or counterfeit'


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ({"penalty": "revocation", "counterfeit": False}, True),
        ({"penalty": "fine", "counterfeit": True}, True),
        ({"penalty": "fine", "counterfeit": False}, False),
        ({"penalty": "fine"}, False),
    ],
)
def test_severe_penalty_or_counterfeit(scope: dict[str, object], expected: bool) -> None:
    assert run(SEVERE, scope) is expected


@pytest.mark.parametrize(("size", "expected"), [(0, False), (1, False), (2, True), (3, True)])
def test_count_of_a_set_compares_with_a_number(size: int, expected: bool) -> None:
    assert run("count(failed_12m) >= 2", {"failed_12m": ["e"] * size}) is expected


def test_count_of_a_missing_set_is_zero() -> None:
    assert run("count(failed_12m)") == Decimal(0)


def test_exists_is_true_for_a_non_empty_set_only() -> None:
    expression = compiled("exists(failed_checks)")
    assert (
        expression.evaluate({"failed_checks": ()}),
        expression.evaluate({"failed_checks": ("e1",)}),
    ) == (False, True)


def test_sets_records_the_set_names_used() -> None:
    expression = compiled("count(failed_checks) == 2 or exists(failed_12m) or counterfeit")
    assert expression.sets == frozenset({"failed_checks", "failed_12m"})


def test_names_records_top_level_names_but_not_element_fields() -> None:
    expression = compiled('any(items, kind == "safety") and counterfeit or count(failed_12m) > 1')
    assert expression.names == frozenset({"items", "counterfeit", "failed_12m"})


UK = "has(scores.hygiene) and max(scores.hygiene, scores.structure) > 10"


def test_has_and_max_over_scores() -> None:
    assert run(UK, {"scores": {"hygiene": Decimal(5), "structure": Decimal(15)}}) is True


def test_has_guards_a_missing_score() -> None:
    assert run(UK, {"scores": {"structure": Decimal(15)}}) is False


def test_max_ignores_a_missing_value() -> None:
    assert run("max(scores.hygiene, scores.structure)", {"scores": {"hygiene": Decimal(7)}}) == 7


def test_min_of_numbers() -> None:
    assert run("min(3, 1.5, 2)") == Decimal("1.5")


def test_max_of_only_missing_values_is_missing() -> None:
    assert run("max(scores.a, scores.b)", {"scores": {}}) is None


def test_decimal_literals_add_exactly() -> None:
    assert run("0.1 + 0.2 == 0.3") is True


def test_decimal_values_from_the_scope_add_exactly() -> None:
    assert run("scores.a + scores.b == 0.3", {"scores": {"a": Decimal("0.1"), "b": Decimal("0.2")}})


def test_number_literals_are_decimals_from_the_source_text() -> None:
    value = run("1.50")
    assert (type(value), value) == (Decimal, Decimal("1.50"))


# --- precedence and syntax ---------------------------------------------------------------------


def test_multiplication_binds_tighter_than_addition() -> None:
    assert run("1 + 2 * 3") == Decimal(7)


def test_subtraction_is_left_associative() -> None:
    assert run("10 - 4 - 3") == Decimal(3)


def test_unary_minus_binds_tighter_than_multiplication() -> None:
    assert run("-2 * -3") == Decimal(6)


def test_not_binds_looser_than_comparison() -> None:
    assert run("not amount > 5", {"amount": Decimal(3)}) is True


def test_and_binds_tighter_than_or() -> None:
    assert (run("true or true and false"), run("(true or true) and false")) == (True, False)


def test_not_binds_tighter_than_and() -> None:
    assert run("not false and false") is False


def test_not_in() -> None:
    assert run('penalty not in ["fine", "warning"]', {"penalty": "suspension"}) is True


def test_strings_take_either_quote_and_escapes() -> None:
    assert run(r"""'it\'s' == "it's" and "a\\b\"" == 'a\\b"'""") is True


def test_whitespace_and_newlines_are_ignored() -> None:
    assert run("1\n  +\t2 == 3") is True


def test_dotted_path_reads_a_nested_mapping() -> None:
    assert run("enforcement.amount * 2", {"enforcement": {"amount": Decimal("2.5")}}) == 5


def test_dates_compare_in_order() -> None:
    scope = {"date": dt.date(2024, 1, 1), "deadline": dt.date(2024, 2, 1)}
    assert run("date < deadline and max(date, deadline) == deadline", scope) is True


def test_it_names_the_element_of_a_list_of_strings() -> None:
    scope = {"attributes": {"main_ingredient": ["ordinary", "novel"]}}
    assert run('any(attributes.main_ingredient, it == "novel")', scope) is True


def test_in_looks_into_a_list_from_the_scope() -> None:
    assert run('"safety" in kinds', {"kinds": ("quality", "safety")}) is True


def test_len_counts_a_list() -> None:
    assert run("len(items)", {"items": [{}, {}]}) == Decimal(2)


# --- missing values ----------------------------------------------------------------------------


def test_missing_name_equals_null() -> None:
    assert run("amount == null") is True


def test_arithmetic_with_a_missing_value_is_missing() -> None:
    assert run("amount * 2 + 1") is None


@pytest.mark.parametrize("source", ["amount > 1", "amount <= 1", "1 < amount", "date < deadline"])
def test_ordering_with_a_missing_value_is_false(source: str) -> None:
    assert run(source, {"deadline": dt.date(2024, 1, 1)}) is False


def test_missing_boolean_field_is_false() -> None:
    assert run("substantiated") is False


def test_not_of_a_missing_boolean_is_true() -> None:
    assert run("not counterfeit") is True


def test_any_over_a_missing_list_is_false() -> None:
    assert run('any(items, kind == "safety")') is False


def test_all_over_a_missing_list_is_true() -> None:
    assert run('all(items, kind == "safety")') is True


def test_in_a_missing_list_is_false_and_not_in_is_true() -> None:
    assert (run('"safety" in kinds'), run('"safety" not in kinds')) == (False, True)


def test_has_is_false_for_a_missing_field_of_a_missing_record() -> None:
    assert run("has(enforcement.amount)") is False


# --- types of results --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("count(failed_12m) >= 2", BOOL),
        ("amount * 2", NUMBER),
        ("penalty", PENALTIES),
        ('["a", "b"]', ListType(STRING)),
        ("null", NULL),
        ("scores", RecordType(extra=NUMBER)),
    ],
)
def test_compiled_type(source: str, expected: Type) -> None:
    assert compiled(source).type == expected


@pytest.mark.parametrize(
    ("type_", "expected"),
    [
        (BOOL, "boolean"),
        (NUMBER, "number"),
        (one_of("b", "a"), "string (one of a, b)"),
        (ListType(NUMBER), "list of number"),
        (RecordType({"b": NUMBER, "a": STRING}), "record with fields a, b"),
        (RecordType(extra=NUMBER), "mapping of names to number"),
        (SET, "record set"),
    ],
)
def test_describe(type_: Type, expected: str) -> None:
    assert describe(type_) == expected


def test_record_type_does_not_follow_later_changes_to_its_dict() -> None:
    fields: dict[str, Type] = {"a": NUMBER}
    record = RecordType(fields)
    fields["b"] = STRING
    assert set(record.fields) == {"a"}


# --- caller-supplied functions -----------------------------------------------------------------


def _years(value: object) -> object:
    return None if value is None else Decimal(str(value)) / 365


YEARS = Function("years", NUMBER, _years, (NUMBER,))


def test_caller_function_is_called_with_evaluated_arguments() -> None:
    expression = compile_expression("years(amount) == 2", ENV, functions={"years": YEARS})
    assert expression.evaluate({"amount": Decimal(730)}) is True


def test_variadic_caller_function_takes_repeated_arguments() -> None:
    total = Function("total", NUMBER, lambda *xs: sum(xs, Decimal(0)), (NUMBER,), variadic=True)
    expression = compile_expression("total(1, 2, 3)", ENV, functions={"total": total})
    assert expression.evaluate({}) == Decimal(6)


def test_caller_function_with_a_checker() -> None:
    def only_lists(types: tuple[Type, ...]) -> str | None:
        return None if all(isinstance(t, ListType) for t in types) else "needs lists"

    size = Function("size", NUMBER, lambda *xs: Decimal(len(xs)), checker=only_lists)
    with pytest.raises(ExpressionError) as info:
        compile_expression("size(amount)", ENV, functions={"size": size})
    assert info.value.reason == "size(): needs lists"


def test_caller_function_may_take_a_set() -> None:
    first = Function("sized", NUMBER, lambda s: Decimal(len(s)), (SET,))
    expression = compile_expression("sized(failed_12m)", ENV, functions={"sized": first})
    assert (expression.evaluate({"failed_12m": [1, 2]}), expression.sets) == (
        Decimal(2),
        frozenset({"failed_12m"}),
    )


def test_caller_function_rejects_an_argument_of_the_wrong_type() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression('years("x")', ENV, functions={"years": YEARS})
    assert (info.value.column, info.value.reason) == (
        7,
        "argument 1 of years() must be a number, got string",
    )


def test_caller_function_may_not_redefine_a_builtin() -> None:
    with pytest.raises(ValueError, match="built in"):
        compile_expression("1", ENV, functions={"max": Function("max", NUMBER, max)})


def test_caller_function_is_suggested_for_a_misspelt_call() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression("yeers(amount)", ENV, functions={"years": YEARS})
    assert info.value.suggestion == "years"


# --- static errors: what, where and "did you mean" ---------------------------------------------


def test_unknown_name_is_reported_with_a_suggestion() -> None:
    error = error_of('penalti == "fine"')
    assert (error.column, error.reason, error.suggestion) == (
        1,
        "unknown name 'penalti'",
        "penalty",
    )


def test_unknown_field_is_reported_with_its_owner_and_a_suggestion() -> None:
    error = error_of('counterfeit and enforcement.penalti == "fine"')
    assert (error.message, error.suggestion) == (
        "at column 29: unknown field 'penalti' of enforcement",
        "penalty",
    )


def test_field_of_a_value_that_is_not_a_record_is_refused() -> None:
    error = error_of("amount.value > 1")
    assert (error.column, error.reason) == (8, "amount is a number and has no field 'value'")


def test_unknown_name_inside_any_suggests_an_element_field() -> None:
    error = error_of('any(items, knd == "safety")')
    assert (error.column, error.suggestion) == (12, "kind")


def test_misspelt_enum_value_is_reported_with_a_suggestion() -> None:
    error = error_of('penalty == "fien"')
    assert (error.column, error.suggestion) == (12, "fine")


def test_misspelt_enum_value_on_the_left_is_reported() -> None:
    error = error_of('"fien" != penalty')
    assert (error.column, error.suggestion) == (1, "fine")


def test_misspelt_enum_value_in_a_list_names_its_element() -> None:
    error = error_of('penalty in ["fine", "suspensoin"]')
    assert (error.column, error.suggestion) == (21, "suspension")


def test_misspelt_enum_value_inside_any_is_reported() -> None:
    error = error_of('any(items, kind in ["quality", "labelling"])')
    assert (error.column, error.suggestion) == (32, "labeling")


def test_literal_looked_up_in_an_enum_list_is_checked() -> None:
    error = error_of('"saftey" in kinds')
    assert (error.column, error.suggestion) == (1, "safety")


def test_enum_value_message_lists_the_allowed_values() -> None:
    assert error_of('result == "failed"').reason == (
        "'failed' is not a possible value of result (one of fail, pass)"
    )


def test_adding_a_string_to_a_number_is_refused() -> None:
    error = error_of('"a" + 1')
    assert (error.column, error.reason) == (5, "'+' needs numbers, got string and number")


def test_not_of_a_number_is_refused() -> None:
    error = error_of("not 3")
    assert (error.column, error.reason) == (5, "'not' needs a boolean, got number")


def test_negating_a_string_is_refused() -> None:
    assert error_of('-"a"').reason == "'-' needs a number, got string"


def test_count_of_a_value_that_is_not_a_set_is_refused() -> None:
    error = error_of("count(penalty) > 1")
    assert (error.column, error.reason.startswith("count() needs a record set, got string")) == (
        7,
        True,
    )


def test_and_of_a_number_is_refused() -> None:
    error = error_of("counterfeit and amount")
    assert (error.column, error.reason) == (17, "'and' needs booleans, got number")


def test_ordering_strings_is_refused() -> None:
    error = error_of('result < "pass"')
    assert (error.column, error.reason.startswith("'<' needs two numbers or two dates")) == (
        8,
        True,
    )


def test_ordering_booleans_is_refused() -> None:
    assert error_of("counterfeit >= substantiated").column == 13


def test_ordering_null_is_refused() -> None:
    error = error_of("amount > null")
    assert (error.column, error.reason) == (
        8,
        "null can only be compared with '==' or '!=', not '>'",
    )


def test_arithmetic_with_null_is_refused() -> None:
    assert error_of("null + 1").reason == "'+' needs numbers, got null and number"


def test_comparing_a_number_with_a_string_is_refused() -> None:
    error = error_of('amount == "3"')
    assert (error.column, error.reason) == (8, "cannot compare number with string")


def test_comparing_lists_is_refused() -> None:
    assert error_of('kinds == ["safety"]').reason.startswith("cannot compare list")


def test_in_needs_a_list_on_its_right() -> None:
    error = error_of('"a" in penalty')
    assert (error.column, error.reason.startswith("'in' needs a list on its right")) == (8, True)


def test_unknown_function_is_reported_with_a_suggestion() -> None:
    error = error_of("maxx(amount, 1) > 2")
    assert (error.column, error.reason, error.suggestion) == (
        1,
        "unknown function 'maxx'",
        "max",
    )


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("has(amount, amount)", "has() takes 1 argument, got 2"),
        ("max(amount) > 1", "max() takes at least 2 arguments, got 1"),
        ("any(items)", "any() takes 2 arguments, got 1"),
        ("count()", "count() takes 1 argument, got 0"),
    ],
)
def test_wrong_number_of_arguments_is_refused(source: str, reason: str) -> None:
    error = error_of(source)
    assert (error.column, error.reason) == (1, reason)


def test_any_needs_a_list() -> None:
    error = error_of("any(amount, true)")
    assert (error.column, error.reason) == (5, "any() needs a list first, got number")


def test_any_needs_a_condition() -> None:
    error = error_of("all(items, kind)")
    assert error.column == 12


def test_has_needs_a_path() -> None:
    assert error_of("has(1)").reason == "has() needs a name or a dotted path"


def test_max_of_mixed_types_is_refused() -> None:
    assert error_of("max(amount, date)").column == 13


def test_set_outside_count_or_exists_is_refused() -> None:
    error = error_of("failed_12m and counterfeit")
    assert (error.column, error.reason) == (
        1,
        "'failed_12m' is a record set: use it as count(failed_12m) or exists(failed_12m)",
    )


def test_list_of_mixed_types_is_refused() -> None:
    error = error_of('amount in [1, "2"]')
    assert (error.column, error.reason) == (
        15,
        "list items must all be of one type, got number and string",
    )


def test_expected_boolean_refuses_a_number() -> None:
    error = error_of("  amount * 2", expect=BOOL)
    assert (error.column, error.reason) == (3, "expected a value of type boolean, got number")


def test_expected_number_refuses_a_boolean() -> None:
    assert error_of("amount > 2", expect=NUMBER).reason == (
        "expected a value of type number, got boolean"
    )


def test_expected_boolean_refuses_null() -> None:
    assert error_of("null", expect=BOOL).column == 1


def test_constant_division_by_zero_is_refused() -> None:
    error = error_of("amount > 1 / 0")
    assert (error.column, error.reason) == (12, "division by zero")


# --- syntax errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "column", "reason"),
    [
        ("", 1, "empty expression"),
        ("amount < 1 < 2", 12, "comparisons cannot be chained ('<' after '<'); use 'and'"),
        ('"abc', 1, "unterminated string"),
        ("amount = 1", 8, "unexpected character '='; use '==' to compare"),
        ("counterfeit && substantiated", 13, "unexpected character '&'; use 'and'"),
        ("amount # 1", 8, "unexpected character '#'"),
        ("amount 1", 8, "unexpected number 1 after a complete expression (an operator is missing)"),
        (
            "(amount + 1",
            12,
            "expected ')' to close the '(' at column 1, got the end of the expression",
        ),
        ("max(1, 2", 9, "expected ')' to close the '(' at column 4, got the end of the expression"),
        ("amount +", 9, "expected a value, got the end of the expression"),
        ("3abc", 1, "invalid number '3abc'"),
        ("scores.", 8, "expected a field name after '.', got the end of the expression"),
        ("scores.x(1)", 9, "'scores.x' is not a function name"),
        ("amount not 1", 8, "unexpected 'not' after a complete expression"),
    ],
)
def test_syntax_error(source: str, column: int, reason: str) -> None:
    error = error_of(source)
    assert (error.column, error.reason) == (column, reason)


def test_unknown_escape_is_refused() -> None:
    error = error_of(r'"a\n"')
    assert (error.column, error.reason.startswith("unknown escape")) == (3, True)


def test_deep_nesting_is_refused() -> None:
    assert "nested more than" in error_of("(" * 200 + "1" + ")" * 200).reason


def test_long_chain_of_operators_is_refused_before_recursion_fails() -> None:
    assert "nested more than" in error_of(" + ".join(["amount"] * 500)).reason


def test_long_chain_of_or_is_accepted() -> None:
    source = " or ".join(["counterfeit"] * 500)
    assert run(source, {"counterfeit": True}) is True


# --- the error objects -------------------------------------------------------------------------


def test_expression_error_is_a_pack_error() -> None:
    assert isinstance(error_of("penalti"), PackError)


def test_error_in_a_multi_line_expression_gives_line_and_column() -> None:
    error = error_of("counterfeit\n  or penalti")
    assert (error.expression_line, error.column, error.message) == (
        2,
        6,
        "at line 2, column 6: unknown name 'penalti'",
    )


def test_relocated_error_keeps_column_and_suggestion_and_adds_file_and_rule() -> None:
    error = error_of('penalty == "fien"').relocated(file="food.yaml", line=12, rule="r1")
    assert (error.column, error.suggestion, error.describe()) == (
        12,
        "fine",
        "food.yaml:12: rule r1: at column 12: 'fien' is not a possible value of penalty "
        "(one of confiscation, criminal_referral, fine, rectification_order, revocation, "
        "suspension, warning) (did you mean 'fine'?)",
    )


def test_data_of_the_wrong_type_raises_an_evaluation_error() -> None:
    with pytest.raises(EvaluationError, match="cannot evaluate"):
        run("amount + 1", {"amount": "three"})


def test_division_by_zero_at_runtime_raises_an_evaluation_error() -> None:
    with pytest.raises(EvaluationError):
        run("1 / amount", {"amount": Decimal(0)})


# --- properties --------------------------------------------------------------------------------

DECIMALS = st.decimals(
    min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False
)
OPERATIONS = {
    "+": Decimal.__add__,
    "-": Decimal.__sub__,
    "*": Decimal.__mul__,
    "/": Decimal.__truediv__,
}


@st.composite
def arithmetic(draw: st.DrawFn, depth: int = 0) -> tuple[str, Decimal, dict[str, Decimal]]:
    """A fully parenthesised arithmetic expression, its Decimal value and the scope it reads."""
    if depth >= 4 or draw(st.booleans()):
        value = draw(DECIMALS)
        if draw(st.booleans()):
            name = f"x{draw(st.integers(0, 10**6))}"
            return f"scores.{name}", value, {name: value}
        text = format(value, "f")
        return (f"({text})" if text.startswith("-") else text), value, {}
    op = draw(st.sampled_from(sorted(OPERATIONS)))
    left, a, left_scope = draw(arithmetic(depth + 1))
    right, b, right_scope = draw(arithmetic(depth + 1))
    shared = left_scope.keys() & right_scope.keys()
    assume(all(left_scope[k] == right_scope[k] for k in shared))
    assume(not (op == "/" and b == 0))
    return f"({left} {op} {right})", OPERATIONS[op](a, b), {**left_scope, **right_scope}


@given(arithmetic())
def test_arithmetic_equals_decimal_arithmetic(
    case: tuple[str, Decimal, dict[str, Decimal]],
) -> None:
    source, expected, scores = case
    assert run(source, {"scores": scores}) == expected


@given(st.lists(DECIMALS, min_size=1, max_size=8), st.data())
def test_unparenthesised_arithmetic_follows_precedence(
    numbers: list[Decimal], data: st.DataObject
) -> None:
    ops = [data.draw(st.sampled_from(["+", "-", "*"])) for _ in numbers[1:]]
    source = " ".join([f"scores.x{0}"] + [f"{op} scores.x{i}" for i, op in enumerate(ops, start=1)])
    # Fold the products first, then the sums, left to right.
    terms, signs = [numbers[0]], []
    for op, number in zip(ops, numbers[1:], strict=True):
        if op == "*":
            terms[-1] = terms[-1] * number
        else:
            terms.append(number)
            signs.append(op)
    expected = terms[0]
    for sign, term in zip(signs, terms[1:], strict=True):
        expected = expected + term if sign == "+" else expected - term
    scope = {"scores": {f"x{i}": number for i, number in enumerate(numbers)}}
    assert run(source, scope) == expected


@given(DECIMALS, DECIMALS, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
def test_comparisons_agree_with_decimal(a: Decimal, b: Decimal, op: str) -> None:
    python = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}
    assert run(f"scores.a {op} scores.b", {"scores": {"a": a, "b": b}}) is python[op]


TRUTH = st.sampled_from([True, False, None])


@given(TRUTH, TRUTH)
def test_de_morgan(a: bool | None, b: bool | None) -> None:
    scope = {"counterfeit": a, "substantiated": b}
    assert run(
        "(not (counterfeit and substantiated)) == (not counterfeit or not substantiated)", scope
    )


@given(DECIMALS, st.sampled_from(["+", "-", "*", "/"]))
def test_arithmetic_with_a_missing_operand_is_missing(a: Decimal, op: str) -> None:
    assume(a != 0)
    scope = {"scores": {"a": a}}
    assert (run(f"scores.a {op} scores.b", scope), run(f"scores.b {op} scores.a", scope)) == (
        None,
        None,
    )


def _compiles_or_explains(source: str) -> None:
    error: ExpressionError | None = None
    try:
        compile_expression(source, ENV)
    except ExpressionError as exc:
        error = exc
    assert error is None or (1 <= error.column <= len(source) + 1 and error.reason)


@given(st.text())
def test_arbitrary_text_compiles_or_raises_an_expression_error(source: str) -> None:
    _compiles_or_explains(source)


TOKENS = st.sampled_from(
    [
        "(", ")", "[", "]", ",", ".", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/",
        "and", "or", "not", "in", "true", "false", "null", "0", "1.5", '"fail"', "'x'",
        "amount", "penalty", "items", "kind", "scores", "hygiene", "failed_12m", "count",
        "exists", "any", "all", "has", "max", "len", "it", "counterfeit", '"', "\\", "=",
    ]
)  # fmt: skip


@given(st.lists(TOKENS, max_size=30))
def test_token_soup_compiles_or_raises_an_expression_error(tokens: list[str]) -> None:
    _compiles_or_explains(" ".join(tokens))
