"""The GB 32100-2015 unified social credit code check."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from riskgrade._uscc import USCC_ALPHABET, check_uscc, uscc_check_character

# The worked example printed in GB 32100-2015.
VALID = "91350100M000100Y43"


@st.composite
def valid_codes(draw: st.DrawFn) -> str:
    head = draw(st.text(USCC_ALPHABET, min_size=2, max_size=2))
    division = draw(st.text("0123456789", min_size=6, max_size=6))
    organisation = draw(st.text(USCC_ALPHABET, min_size=9, max_size=9))
    first17 = head + division + organisation
    return first17 + uscc_check_character(first17)


def test_standard_example_is_valid() -> None:
    assert None is check_uscc(VALID)


def test_check_character_of_standard_example() -> None:
    assert "3" == uscc_check_character(VALID[:17])


def test_alphabet_leaves_out_easily_misread_letters() -> None:
    assert 31 == len(USCC_ALPHABET)
    assert set() == set(USCC_ALPHABET) & set("IOSVZ")


def test_wrong_check_character_names_expected_one() -> None:
    assert "check character is '4', expected '3'" == check_uscc(VALID[:17] + "4")


def test_short_code_names_its_length() -> None:
    assert "a unified social credit code has 18 characters, got 17" == check_uscc(VALID[:17])


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_excluded_letter_is_rejected_with_its_position(letter: str) -> None:
    code = VALID[:8] + letter + VALID[9:]

    problem = check_uscc(code)

    assert problem is not None
    assert problem.startswith(f"character 9 {letter!r} is not allowed")


def test_lower_case_letter_hints_at_upper_case() -> None:
    problem = check_uscc(VALID.lower())

    assert problem is not None
    assert problem.endswith("(codes are written in upper case)")


def test_letter_in_administrative_division_is_rejected() -> None:
    first17 = "91A50100M000100Y4"
    code = first17 + uscc_check_character(first17)

    assert "characters 3-8 (administrative division) must be digits, got 'A50100'" == check_uscc(
        code
    )


def test_check_character_needs_seventeen_characters() -> None:
    with pytest.raises(ValueError, match="expected 17 characters, got 18"):
        uscc_check_character(VALID)


def test_check_character_rejects_characters_outside_alphabet() -> None:
    with pytest.raises(ValueError, match="character 1 'I' is not in the code alphabet"):
        uscc_check_character("I" + VALID[1:17])


@given(valid_codes())
def test_generated_codes_are_valid(code: str) -> None:
    assert None is check_uscc(code)


@given(
    valid_codes(),
    st.integers(0, 17),
    # Mostly alphabet characters, which only the check character can catch.
    st.sampled_from(USCC_ALPHABET) | st.characters(codec="utf-8"),
)
def test_any_single_character_change_is_rejected(code: str, position: int, new: str) -> None:
    assume(new != code[position])
    changed = code[:position] + new + code[position + 1 :]

    assert check_uscc(changed) is not None
