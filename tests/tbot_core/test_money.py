"""The one money module: exact conversions, explicit rounding at boundaries, never a float.

Stored content hashes depend on ``canonical`` and every ledger leg on the cents
conversions, so the fast paths are compared with the plain Decimal formulas on
random values: a fast path that differed on any value would fail a re-sync or
move money.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tbot_core.money import (
    MAX_CENTS,
    canonical,
    fmt_cents,
    from_cents,
    parse_decimal,
    quote_cents,
    round_to_cents,
    to_cents,
)

cents = st.integers(-MAX_CENTS + 1, MAX_CENTS - 1)
decimals = st.decimals(allow_nan=False, allow_infinity=False) | st.builds(
    lambda digits, exp, neg: Decimal((neg, tuple(int(c) for c in str(digits)), exp)),
    st.integers(0, 10**35),
    st.integers(-40, 30),
    st.integers(0, 1),
)


def reference_canonical(value: Decimal) -> str:
    return "0" if value == 0 else format(value.normalize(), "f")


def reference_cents(value: Decimal, rounding: str = ROUND_HALF_EVEN) -> int:
    return int((value * Decimal(100)).quantize(Decimal(1), rounding=rounding))


@given(cents)
def test_round_trip_is_exact(amount: int) -> None:
    value = from_cents(amount)
    assert to_cents(value) == amount
    assert Decimal(fmt_cents(amount)) == value
    assert to_cents(parse_decimal(fmt_cents(amount))) == amount


@given(cents, st.integers(1, 10**6))
def test_every_spelling_of_whole_cents_converts(amount: int, scale: int) -> None:
    """Trailing zeros and exponents do not matter: 1.5, 1.50 and 15E-1 are 150 cents."""
    value = from_cents(amount)
    assert to_cents(value.quantize(Decimal(1).scaleb(-(2 + scale % 6)))) == amount
    assert to_cents(value.normalize()) == amount


@given(st.integers(-MAX_CENTS + 2, MAX_CENTS - 2), st.integers(1, 99))
def test_sub_cent_amounts_are_refused_not_rounded(amount: int, fraction: int) -> None:
    """One cent inside the range on each side: rounding half a cent up at the very edge is out of range, by design."""
    value = from_cents(amount) + Decimal(fraction) / Decimal(10_000)
    with pytest.raises(ValueError, match="whole cents"):
        to_cents(value)
    assert round_to_cents(value) == reference_cents(value)


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.booleans() | st.none() | st.text())
def test_no_float_or_other_type_is_accepted(value: object) -> None:
    with pytest.raises(ValueError, match="finite Decimal"):
        to_cents(value)  # type: ignore[arg-type]  # the point: a wrong type is refused
    with pytest.raises(ValueError, match="finite Decimal"):
        round_to_cents(value)  # type: ignore[arg-type]  # the point: a wrong type is refused


@pytest.mark.parametrize("text", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_non_finite_decimals_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        to_cents(Decimal(text))
    with pytest.raises(ValueError):
        round_to_cents(Decimal(text))
    with pytest.raises(ValueError):
        parse_decimal(text)


def test_amounts_beyond_a_64_bit_column_are_refused() -> None:
    for convert in (to_cents, round_to_cents):
        with pytest.raises(ValueError, match="out of range"):
            convert(Decimal(MAX_CENTS) / 100)
        assert convert(Decimal(MAX_CENTS - 1) / 100) == MAX_CENTS - 1
    with pytest.raises(ValueError, match="out of range"):
        round_to_cents(Decimal("1E+40"))


@settings(max_examples=3000, deadline=None)
@given(decimals)
def test_round_to_cents_fast_path_rounds_every_number_like_quantize(value: Decimal) -> None:
    try:
        expected: int | type = reference_cents(value)
        if abs(expected) >= MAX_CENTS:
            expected = ValueError
    except ArithmeticError:
        expected = ValueError
    try:
        got: int | type = round_to_cents(value)
    except ValueError:
        got = ValueError
    assert got == expected


@given(st.decimals(min_value=-(10**14), max_value=10**14, allow_nan=False, allow_infinity=False))
def test_the_rounding_is_the_one_named(value: Decimal) -> None:
    assert round_to_cents(value, ROUND_DOWN) == reference_cents(value, ROUND_DOWN)


@settings(max_examples=3000, deadline=None)
@given(decimals)
def test_canonical_fast_path_spells_every_number_like_normalize(value: Decimal) -> None:
    assert canonical(value) == reference_canonical(value)


def test_fast_paths_on_the_spellings_brokers_send() -> None:
    for text in ("0", "-0.00", "1.50", "100", "100.00", "-1103.50", "0.005", "0.015", "1E+2", "1.2E-7", "12345678.99"):
        value = Decimal(text)
        assert canonical(value) == reference_canonical(value), text
        assert round_to_cents(value) == reference_cents(value), text


@given(st.integers(1, 10**9))
def test_bar_prices_in_cents_are_what_the_engine_always_marked(amount: int) -> None:
    price = amount / 100
    assert quote_cents(price) == round(price * 100) == amount


@pytest.mark.parametrize("price", [float("nan"), float("inf"), float("-inf")])
def test_a_bar_price_that_is_not_a_number_is_refused(price: float) -> None:
    with pytest.raises(ValueError):
        quote_cents(price)
