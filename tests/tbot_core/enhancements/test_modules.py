"""Each enhancement module's own rule, and its fail-closed answer when it cannot decide."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from tbot_core.config import Settings
from tbot_core.enhancements.adx_filter import AdxFilter
from tbot_core.enhancements.black_scholes_filter import BlackScholesFilter, bsm_price
from tbot_core.enhancements.bollinger_confluence import BollingerConfluence
from tbot_core.enhancements.build_check import BuildCheck
from tbot_core.enhancements.imbalance_scanner_ibkr import ImbalanceScannerIbkr
from tbot_core.enhancements.registry import MODULES, enhancement_checks
from tbot_core.enhancements.ticker_blocklist import TickerBlocklist
from tbot_core.enhancements.tuning_tracker import TuningTracker
from tbot_core.enhancements.vix_gatekeeper import VixGatekeeper
from tbot_core.identity import Identity
from tbot_core.signals import Imbalance, MarketContext, OptionQuote

from .helpers import WINTER_TS, env, signal, snap


def test_registry_lists_the_nine_seed_modules_each_with_a_self_check(bot_home):
    assert sorted(m.name for m in MODULES) == sorted(
        [
            "adx_filter",
            "black_scholes_filter",
            "bollinger_confluence",
            "build_check",
            "finnhub_fundamental_guard",
            "imbalance_scanner_ibkr",
            "ticker_blocklist",
            "tuning_tracker",
            "vix_gatekeeper",
        ]
    )
    results = [m.self_check() for m in enhancement_checks(bot_home)]
    assert all(r.ok for r in results), [r.one_line() for r in results if not r.ok]
    assert BuildCheck.fatal and BuildCheck(env(bot_home.paths)).self_check().ok


def test_adx_filter_blocks_strong_trends_and_when_it_cannot_judge(home_paths):
    f = AdxFilter(env(home_paths))
    assert f.evaluate(signal(), MarketContext({"AAPL": snap(adx=24.9)})).allow
    assert "ADX 31.0 > 25" in f.evaluate(signal(), MarketContext({"AAPL": snap(adx=31.0)})).reason
    for market, why in [
        (MarketContext(), "no indicator state"),
        (MarketContext({"AAPL": snap(bars=5)}), "only 5 sound bars"),
        (MarketContext({"AAPL": snap(adx=math.nan)}), "unavailable"),
        (MarketContext({"AAPL": snap(ts=WINTER_TS - timedelta(hours=1))}), "stale"),
    ]:
        outcome = f.evaluate(signal(), market)
        assert not outcome.allow and why in outcome.reason


def test_bollinger_confluence_needs_the_band_on_the_signal_side(home_paths):
    f = BollingerConfluence(env(home_paths))
    assert f.evaluate(signal(side="buy"), MarketContext({"AAPL": snap(close=97.5)})).allow
    assert not f.evaluate(signal(side="buy"), MarketContext({"AAPL": snap(close=99.0)})).allow
    assert f.evaluate(signal(side="sell"), MarketContext({"AAPL": snap(close=102.0)})).allow
    assert "unavailable" in f.evaluate(signal(), MarketContext({"AAPL": snap(bb_lower=math.nan)})).reason


def test_vix_gatekeeper_blocks_below_threshold_and_when_vix_is_unknown(home_paths):
    f = VixGatekeeper(env(home_paths))
    assert f.evaluate(signal("close"), MarketContext(vix=15.0)).allow
    assert "VIX 14.99 < 15" in f.evaluate(signal("close"), MarketContext(vix=14.99)).reason
    assert "unknown" in f.evaluate(signal("close"), MarketContext()).reason
    assert not f.evaluate(signal("close"), MarketContext(vix=math.nan)).allow


def test_bsm_price_matches_the_textbook_values_and_parity_with_dividends():
    assert bsm_price(100, 100, 1, 0.05, 0.2, "call") == pytest.approx(10.4506, abs=1e-4)
    call = bsm_price(100, 95, 0.5, 0.03, 0.25, "call", dividend_yield=0.02)
    put = bsm_price(100, 95, 0.5, 0.03, 0.25, "put", dividend_yield=0.02)
    assert call - put == pytest.approx(100 * math.exp(-0.01) - 95 * math.exp(-0.015), abs=1e-9)
    with pytest.raises(ValueError, match="option_type"):
        bsm_price(100, 100, 1, 0.05, 0.2, "straddle")


def test_bsm_filter_rejects_mispriced_quotes_using_the_jurisdiction_rate(home_paths):
    f = BlackScholesFilter(env(home_paths))
    fair = bsm_price(100, 100, 1, 0.045, 0.2, "call")
    quote = lambda price: OptionQuote("call", price, 100, 100, 1, 0.2)  # noqa: E731 - a one-line local helper reads better inline
    assert f.evaluate(signal(), MarketContext(option_quotes={"AAPL": quote(fair * 1.1)})).allow
    blocked = f.evaluate(signal(), MarketContext(option_quotes={"AAPL": quote(fair * 1.3)}))
    assert not blocked.allow and blocked.context["rate"] == 0.045 and "deviates" in blocked.reason
    assert f.evaluate(signal(), MarketContext()).allow  # no quote: equity order
    assert "zero or negative" in f.evaluate(signal(), MarketContext(option_quotes={"AAPL": quote(0.0)})).reason
    unknown = env(home_paths)
    unknown.identity = Identity("TBOT_PAPER_01", "ZZ", "PAPER")
    assert (
        "jurisdiction ZZ"
        in BlackScholesFilter(unknown).evaluate(signal(), MarketContext(option_quotes={"AAPL": quote(fair)})).reason
    )
    assert not BlackScholesFilter(unknown).self_check().ok


def test_imbalance_scanner_only_on_ibkr_and_only_in_the_dst_aware_window(home_paths):
    assert not ImbalanceScannerIbkr(env(home_paths, broker="paper")).enabled
    f = ImbalanceScannerIbkr(env(home_paths, broker="ibkr"))
    july = datetime(2026, 7, 7, 19, 45, tzinfo=UTC)  # inside 19:30-20:00 UTC in summer
    opposing = {"AAPL": Imbalance(july, "sell", 500_000, 1_000_000)}
    assert "opposes a buy" in f.evaluate(signal("close", ts=july), MarketContext(imbalance=opposing)).reason
    assert f.evaluate(signal("close", side="sell", ts=july), MarketContext(imbalance=opposing)).allow
    assert "no imbalance data" in f.evaluate(signal("close", ts=july), MarketContext()).reason
    assert f.evaluate(
        signal("close", ts=datetime(2026, 7, 7, 20, 15, tzinfo=UTC)), MarketContext()
    ).allow  # 20:15 is after the summer close
    winter = datetime(2026, 1, 6, 20, 45, tzinfo=UTC)
    assert not f.evaluate(signal("close", ts=winter), MarketContext()).allow


def test_ticker_blocklist_survives_a_restart_within_the_session(home_paths):
    first = TickerBlocklist(env(home_paths))
    assert first.evaluate(signal(), MarketContext()).allow
    first.mark(signal())
    again = TickerBlocklist(env(home_paths))
    assert "already used this session" in again.evaluate(signal(strategy="open"), MarketContext()).reason
    next_day = signal(ts=WINTER_TS + timedelta(days=1))
    assert again.evaluate(next_day, MarketContext()).allow


def test_ticker_blocklist_blocks_everything_when_its_file_is_garbled(home_paths):
    home_paths.session_file.write_text("{not json")
    f = TickerBlocklist(env(home_paths, clock=lambda: WINTER_TS))
    assert "unreadable" in f.evaluate(signal(), MarketContext()).reason
    assert not f.self_check().ok


def test_tuning_tracker_counts_blocks_wins_and_drawdown(home_paths):
    from decimal import Decimal

    t = TuningTracker(env(home_paths))
    t.observe("mid", False, "adx_filter")
    t.observe("mid", True, None)
    for pnl, held in (("10", 60.0), ("-25", 90.0), ("5", 45.0)):
        t.record_trade("mid", Decimal(pnl), held)
    t.flush()
    stats = t.summary()["mid"]
    assert stats["blocks"] == {"adx_filter": 1} and stats["trades"] == 3
    assert stats["win_rate"] == "0.6667" and stats["pnl"] == "-10" and stats["max_drawdown"] == "25"
    assert stats["avg_duration_s"] == 65.0
    assert home_paths.tuning_summary("TBOT_PAPER_01").exists()


def test_build_check_names_a_missing_ledger_and_a_missing_folder(home_paths):
    home_paths.ledger_db.unlink()
    home_paths.cache_dir.rmdir()
    result = BuildCheck(env(home_paths)).self_check()
    assert not result.ok and "data/cache/ missing" in result.detail and "+1 more" in result.detail


def test_disabled_modules_pass_their_self_check_saying_so(home_paths):
    off = Settings().with_values({"ADX_FILTER_ENABLED": "false"})
    assert "disabled" in AdxFilter(env(home_paths, off)).self_check().detail
