"""A fresh paper home: a real ``tbot core`` over the shipped sample data shows open, mid and close trading.

``tbot init`` plus the harness's fast timings (REPLAY_SPEED=0); the core replays every bar of the
sample data to the feed's end and is stopped with the stop flag.  Its state.json must then hold a
``tuning`` section with closed round trips (from real fills) for each of the three strategies, and
its audit log one ``module_start`` row per module from the start.
"""

from __future__ import annotations

import pytest

from tbot_core.paths import HomePaths
from tbot_core.startup import registered_modules
from tests.tbot_core.ledger.sample_core import fresh_home, paper_fills, run_core_over_sample
from tests.tbot_core.runtime.core_harness import audit_events, state


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> HomePaths:
    """One core run over the sample data, shared by the tests below (it takes a while)."""
    paths = fresh_home(tmp_path_factory.mktemp("sample") / "home")
    run_core_over_sample(paths)
    return paths


def test_a_fresh_paper_core_over_the_sample_data_closes_trades_for_open_mid_and_close(replayed):
    paths = replayed

    tuning = state(paths)["tuning"]
    trades = {name: tuning[name]["trades"] for name in ("open", "mid", "close")}
    assert all(count > 0 for count in trades.values()), trades
    fills = paper_fills(paths)
    days = {row[6][:10] for row in fills}
    for strategy in ("open", "mid", "close"):
        traded = {row[6][:10] for row in fills if row[7] == strategy}
        assert traded == days, f"{strategy} trades in every replayed session ({sorted(traded)} of {sorted(days)})"
    started = [ctx["module"] for _, _, ctx in audit_events(paths, "module_start")]
    assert set(registered_modules()) <= set(started)


def test_no_strategy_sells_what_it_does_not_hold_and_intraday_ones_end_each_session_flat(replayed):
    held: dict[tuple[str, str], int] = {}
    for _fitid, symbol, side, qty, _price, _fee, when, strategy in paper_fills(replayed):
        key = (strategy, symbol)
        held[key] = held.get(key, 0) + (int(qty) if side == "buy" else -int(qty))
        assert held[key] >= 0, f"{strategy} sold {symbol} it did not hold at {when}"
    assert all(qty == 0 for (strategy, _), qty in held.items() if strategy in ("open", "mid")), held
