"""The fast engine's paper account fills at the paper broker's price: slippage rounded half even, in cents.

``PaperAccount.fill_price`` rounds the exact fraction ``mark * bps / 10000`` in integers where the
broker's Decimal arithmetic is exact, and takes the Decimal path elsewhere; both must give the
cents the broker's rule gives, ties (exactly half a cent) included.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tbot_core.backtest.fast.account import PaperAccount
from tbot_core.config import Settings
from tbot_core.money import from_cents

BPS = ["0", "1", "2.5", "5", "0.01", "3.3333", "12.345678", "7.77777777777"]


def _broker_price(mark: int, side: str, bps: Decimal) -> int:
    """The paper broker's rule, written out in Decimal as ``brokers/paper.py`` applies it."""
    slip = int((Decimal(mark) * bps / Decimal(10000)).to_integral_value(ROUND_HALF_EVEN))
    return max(mark + (slip if side == "buy" else -slip), 1)


@pytest.mark.parametrize("bps", BPS)
@settings(max_examples=150, deadline=None)
@given(
    mark=st.one_of(
        st.integers(0, 10**7),
        st.integers(0, 5000).map(lambda k: k * 2000),  # exactly half a cent of slippage at 2.5 and 5 bps
        st.integers(10**20, 10**30),  # too many digits for the integer shortcut: the Decimal path
    ),
    side=st.sampled_from(["buy", "sell"]),
)
def test_the_fill_price_is_the_brokers_half_even_cents(bps, mark, side):
    account = PaperAccount(Settings().with_values({"PAPER_SLIPPAGE_BPS": bps}))
    assert account.fill_price(mark, side) == _broker_price(mark, side, Decimal(bps))


def test_a_fill_books_the_fee_and_the_price_as_the_brokers_decimals():
    s = Settings().with_values(
        {"PAPER_SLIPPAGE_BPS": "5", "PAPER_COMMISSION_PER_SHARE": "0.005", "PAPER_COMMISSION_MIN": "1"}
    )
    account = PaperAccount(s)
    cash = account.cash
    at = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    first = account.market_order("AAPL", "buy", 10, 10000, "mid", at)
    again = account.market_order("AAPL", "buy", 10, 10000, "mid", at)  # the fee of 10 shares comes cached
    assert first is not None and again is not None
    assert first.price == from_cents(10005) and first.price.as_tuple() == from_cents(10005).as_tuple()
    assert first.fee == again.fee == Decimal("1.00") and first.fee.as_tuple() == Decimal("1.00").as_tuple()
    assert account.cash == cash - 2 * (10 * 10005 + 100)
    big = account.market_order("AAPL", "buy", 300, 10000, "mid", at)
    assert big is not None and big.fee == Decimal("1.50")
