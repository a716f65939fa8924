"""The unified social credit code (统一社会信用代码) check of GB 32100-2015.

A code is 18 characters from a 31-character alphabet: the registration authority (1), the
organisation type (2), the administrative division (3-8, digits), the organisation code (9-17)
and a check character (18) computed from the first 17 with weights ``3**(i-1) mod 31``.
"""

from __future__ import annotations

__all__ = ["USCC_ALPHABET", "check_uscc", "uscc_check_character"]

# The standard leaves out I, O, Z, S and V so that they cannot be misread as 1, 0, 2, 5 and U.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_MODULUS = len(USCC_ALPHABET)
_VALUE = {character: value for value, character in enumerate(USCC_ALPHABET)}
_WEIGHTS = tuple(pow(3, position, _MODULUS) for position in range(17))
_LENGTH = 18
_DIVISION = slice(2, 8)


def uscc_check_character(first17: str) -> str:
    """Return the check character (position 18) for the first 17 characters of a code.

    Raises ``ValueError`` when ``first17`` is not 17 characters of the code alphabet.
    """
    if len(first17) != _LENGTH - 1:
        msg = f"expected 17 characters, got {len(first17)}"
        raise ValueError(msg)
    total = 0
    for position, (character, weight) in enumerate(zip(first17, _WEIGHTS, strict=True), start=1):
        value = _VALUE.get(character)
        if value is None:
            msg = f"character {position} {character!r} is not in the code alphabet"
            raise ValueError(msg)
        total += value * weight
    return USCC_ALPHABET[(_MODULUS - total % _MODULUS) % _MODULUS]


def check_uscc(code: str) -> str | None:
    """Return ``None`` when ``code`` is a valid unified social credit code, else what is wrong.

    Checked: the length, the alphabet, digits in the administrative division and the check
    character. Not checked: whether the registration authority and type codes (characters 1-2)
    appear in the standard's tables, which have been extended since 2015 and would reject codes
    issued under later amendments; nor the organisation code's own GB 11714 check character
    (position 17): the outer check character already catches any single mistyped character,
    which is what this check is for.
    """
    if len(code) != _LENGTH:
        return f"a unified social credit code has 18 characters, got {len(code)}"
    for position, character in enumerate(code, start=1):
        if character not in _VALUE:
            hint = " (codes are written in upper case)" if character.upper() in _VALUE else ""
            return (
                f"character {position} {character!r} is not allowed: codes use the digits and "
                f"the letters A-Y without I, O, S, V{hint}"
            )
    division = code[_DIVISION]
    if not division.isdigit():
        return f"characters 3-8 (administrative division) must be digits, got {division!r}"
    expected = uscc_check_character(code[: _LENGTH - 1])
    if code[-1] != expected:
        return f"check character is {code[-1]!r}, expected {expected!r}"
    return None
