"""``Activity.time_text``'s fast path must spell every time exactly as strftime does.

Stored content hashes depend on this text (and on ``canonical``, tested with
the money module in ``tests/tbot_core/test_money.py``): a fast path that
differed on any value would fail a re-sync.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tbot_core.ledger.activity import Activity


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
