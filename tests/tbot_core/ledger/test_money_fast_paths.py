"""The fast paths of money.py must give exactly what the plain Decimal formulas give.

Stored content hashes depend on ``canonical`` and ``Activity.time_text``, and
every leg on ``to_cents``: a fast path that differed on any value would fail a
re-sync or move money.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tbot_core.ledger.activity import Activity
from tbot_core.ledger.money import canonical, to_cents

decimals = st.decimals(allow_nan=False, allow_infinity=False) | st.builds(
    lambda digits, exp, neg: Decimal((neg, tuple(int(c) for c in str(digits)), exp)),
    st.integers(0, 10**35),
    st.integers(-40, 30),
    st.integers(0, 1),
)


def reference_canonical(value: Decimal) -> str:
    return "0" if value == 0 else format(value.normalize(), "f")


def reference_cents(value: Decimal) -> int:
    return int((value * Decimal(100)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@settings(max_examples=3000, deadline=None)
@given(decimals)
def test_canonical_fast_path_spells_every_number_like_normalize(value: Decimal) -> None:
    assert canonical(value) == reference_canonical(value)


@settings(max_examples=3000, deadline=None)
@given(decimals)
def test_to_cents_fast_path_rounds_every_number_like_quantize(value: Decimal) -> None:
    try:
        expected: int | type = reference_cents(value)
    except ArithmeticError as exc:
        expected = type(exc)
    try:
        got: int | type = to_cents(value)
    except ArithmeticError as exc:
        got = type(exc)
    assert got == expected


def test_fast_paths_on_the_spellings_brokers_send() -> None:
    for text in ("0", "-0.00", "1.50", "100", "100.00", "-1103.50", "0.005", "0.015", "1E+2", "1.2E-7", "12345678.99"):
        value = Decimal(text)
        assert canonical(value) == reference_canonical(value), text
        assert to_cents(value) == reference_cents(value), text


@settings(max_examples=2000, deadline=None)
@given(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from([UTC, timezone(timedelta(0))]),
)
def test_time_text_fast_path_spells_every_utc_time_like_strftime(moment: datetime, zone: timezone) -> None:
    """Zero microseconds included: the effective time and the content hash are built from this text."""
    stamp = moment.replace(tzinfo=zone)
    act = Activity("t", "TRANSFER", "", "", Decimal(0), Decimal(0), Decimal(1), Decimal(0), stamp)
    assert act.time_text() == stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
