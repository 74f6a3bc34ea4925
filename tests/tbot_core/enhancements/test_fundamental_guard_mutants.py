"""``finnhub_fundamental_guard``, in-process and exact (mutmut sees these): PE, debt/equity and market cap each
block on their own, at their configured limits, and missing or unavailable data blocks.

The source is the real ``FinnhubFundamentals`` reading its daily cache file (``data/cache/fundamentals_DAY.json``),
so no request leaves the machine; "unavailable" is the same source with no key to fetch with.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tbot_core.config import Settings
from tbot_core.data.finnhub import FinnhubFundamentals, Fundamentals
from tbot_core.enhancements.finnhub_fundamental_guard import FinnhubFundamentalGuard
from tbot_core.errors import ConfigError
from tbot_core.signals import MarketContext

from .helpers import env, signal

DAY = datetime(2026, 1, 6, 15, tzinfo=UTC)
SOUND = {"pe": 20.0, "debt_equity": 1.0, "market_cap_usd": 3e12}
# Tight limits so each boundary is a round number: PE <= 30, debt/equity <= 1.5, market cap >= 5 billion.
LIMITS = {"FUNDAMENTAL_GUARD_ENABLED": "true", "MAX_PE_RATIO": "30", "MAX_DEBT_EQUITY": "1.5"}
LIMITS["MIN_MARKET_CAP_FUNDAMENTAL"] = "5000000000"


def no_key(paths):
    raise ConfigError("screener_api secret not set", hint="tbot secrets set screener_api --stdin")


def _guard(home_paths, companies: dict[str, dict], *, settings: Settings | None = None, source: bool = True):
    home_paths.cache_dir.mkdir(parents=True, exist_ok=True)
    cache = {
        sym: {"symbol": sym, "pe": None, "debt_equity": None, "market_cap_usd": None, "as_of": "2026-01-06"} | facts
        for sym, facts in companies.items()
    }
    home_paths.fundamentals_cache(DAY.date()).write_text(json.dumps(cache))
    settings = settings or Settings().with_values(LIMITS)
    fundamentals = FinnhubFundamentals(settings, home_paths, clock=lambda: DAY, api_key=no_key) if source else None
    return FinnhubFundamentalGuard(env(home_paths, settings, fundamentals=fundamentals, clock=lambda: DAY))


def _verdict(guard, symbol: str):
    return guard.evaluate(signal(symbol=symbol), MarketContext())


def test_sound_fundamentals_are_allowed_with_every_figure_and_limit_in_the_context(home_paths):
    outcome = _verdict(_guard(home_paths, {"AAPL": SOUND}), "AAPL")
    assert outcome.allow and outcome.reason == "AAPL: fundamentals within thresholds"
    assert dict(outcome.context) == {
        "pe": 20.0,
        "debt_equity": 1.0,
        "market_cap_usd": 3e12,
        "as_of": "2026-01-06",
        "max_pe": "30",
        "max_debt_equity": "1.5",
        "min_market_cap": "5000000000",
    }


def test_debt_above_the_limit_blocks_even_when_pe_and_market_cap_pass(home_paths):
    guard = _guard(home_paths, {"DEBT": SOUND | {"debt_equity": 1.51}, "EDGE": SOUND | {"debt_equity": 1.5}})
    blocked = _verdict(guard, "DEBT")
    assert not blocked.allow and blocked.reason == "DEBT: debt/equity 1.51 > 1.5"
    assert blocked.context["debt_equity"] == 1.51
    assert _verdict(guard, "EDGE").allow, "exactly at the limit is within it"


def test_pe_above_the_limit_blocks_and_pe_at_the_limit_does_not(home_paths):
    guard = _guard(home_paths, {"RICH": SOUND | {"pe": 30.5}, "EDGE": SOUND | {"pe": 30.0}})
    blocked = _verdict(guard, "RICH")
    assert not blocked.allow and blocked.reason == "RICH: PE 30.5 > 30" and blocked.context["max_pe"] == "30"
    assert _verdict(guard, "EDGE").allow


@pytest.mark.parametrize("pe", [0.0, -3.5])
def test_a_zero_or_negative_pe_means_no_earnings_and_blocks(home_paths, pe):
    blocked = _verdict(_guard(home_paths, {"LOSS": SOUND | {"pe": pe}}), "LOSS")
    assert not blocked.allow and blocked.reason == f"LOSS: PE {pe:g} is not meaningful (no earnings)"
    assert blocked.context["pe"] == pe and blocked.context["max_pe"] == "30"


def test_a_small_positive_pe_is_meaningful(home_paths):
    assert _verdict(_guard(home_paths, {"CHEAP": SOUND | {"pe": 0.5}}), "CHEAP").allow


def test_a_market_cap_below_the_minimum_blocks_and_one_at_the_minimum_does_not(home_paths):
    guard = _guard(
        home_paths, {"TINY": SOUND | {"market_cap_usd": 4_999_999_999.0}, "EDGE": SOUND | {"market_cap_usd": 5e9}}
    )
    blocked = _verdict(guard, "TINY")
    assert not blocked.allow and blocked.reason == "TINY: market cap $4,999,999,999 < $5,000,000,000"
    assert blocked.context["market_cap_usd"] == 4_999_999_999.0 and blocked.context["min_market_cap"] == "5000000000"
    assert _verdict(guard, "EDGE").allow


def test_the_checks_run_in_order_so_the_first_failure_is_named(home_paths):
    everything_wrong = {"pe": 99.0, "debt_equity": 9.0, "market_cap_usd": 1.0}
    guard = _guard(
        home_paths, {"BAD": everything_wrong, "DEBTSMALL": SOUND | {"debt_equity": 9.0, "market_cap_usd": 1.0}}
    )
    assert _verdict(guard, "BAD").reason == "BAD: PE 99 > 30"
    assert _verdict(guard, "DEBTSMALL").reason == "DEBTSMALL: debt/equity 9 > 1.5"


@pytest.mark.parametrize(
    "facts, missing",
    [
        ({"pe": None}, "pe"),
        ({"debt_equity": None}, "debt_equity"),
        ({"market_cap_usd": None}, "market_cap_usd"),
        ({"pe": None, "debt_equity": None, "market_cap_usd": None}, "pe"),
        ({"debt_equity": None, "market_cap_usd": None}, "debt_equity"),
    ],
)
def test_a_missing_figure_blocks_naming_the_first_one_missing(home_paths, facts, missing):
    blocked = _verdict(_guard(home_paths, {"GAP": SOUND | facts}), "GAP")
    assert not blocked.allow and blocked.reason == f"GAP: Finnhub has no {missing}"
    assert blocked.context[missing] is None


def test_unavailable_fundamentals_block_with_the_sources_reason(home_paths):
    blocked = _verdict(_guard(home_paths, {}), "NOCACHE")  # not cached today, and no key to fetch with
    assert not blocked.allow and blocked.reason == "fundamentals unavailable: screener_api secret not set"
    assert blocked.failure == "finnhub_unavailable", "a failed source, for the gate's *_FATAL, not a judgement"
    assert dict(blocked.context) == {}


def test_the_facts_the_data_layer_gathered_are_judged_without_asking_the_source(home_paths):
    guard = _guard(home_paths, {"AAPL": SOUND | {"pe": 99.0}})  # today's cache would block on PE
    gathered = Fundamentals("AAPL", 20.0, 1.0, 3e12, "2026-01-05")
    outcome = guard.evaluate(signal(symbol="AAPL"), MarketContext(fundamentals={"AAPL": gathered}))
    assert outcome.allow and outcome.context["as_of"] == "2026-01-05"


def test_a_failed_fundamentals_source_blocks_as_unavailable_with_the_data_layers_reason(home_paths):
    guard = _guard(home_paths, {"AAPL": SOUND})  # today's cache would allow
    market = MarketContext(failed={"fundamentals": "Finnhub HTTP 503"})
    outcome = guard.evaluate(signal(symbol="AAPL"), market)
    assert (outcome.allow, outcome.reason, outcome.failure, dict(outcome.context)) == (
        False,
        "fundamentals unavailable: Finnhub HTTP 503",
        "finnhub_unavailable",
        {},
    )


def test_gathered_facts_are_judged_even_when_the_source_failed_for_another_symbol(home_paths):
    guard = _guard(home_paths, {})
    gathered = Fundamentals("AAPL", 20.0, 1.0, 3e12, "2026-01-06")
    market = MarketContext(fundamentals={"AAPL": gathered}, failed={"fundamentals": "MSFT: Finnhub HTTP 503"})
    assert guard.evaluate(signal(symbol="AAPL"), market).allow


def test_only_this_symbols_facts_and_the_fundamentals_source_count(home_paths):
    guard = _guard(home_paths, {"AAPL": SOUND})
    bad = Fundamentals("MSFT", 99.0, 9.0, 1.0, "2026-01-06")
    market = MarketContext(fundamentals={"MSFT": bad}, failed={"vix": "VIX feed down"})
    outcome = guard.evaluate(signal(symbol="AAPL"), market)
    assert outcome.allow and outcome.reason == "AAPL: fundamentals within thresholds", "read from today's cache"


def test_without_an_injected_source_the_guard_builds_one_on_its_clock_and_keeps_it(home_paths):
    guard = _guard(home_paths, {"AAPL": SOUND}, source=False)
    source = guard.source
    assert isinstance(source, FinnhubFundamentals) and guard.source is source
    assert source.clock() == DAY and source.paths == home_paths and source.settings is guard.settings
    assert _verdict(guard, "AAPL").allow, "read from today's cache on the guard's clock"


def test_the_default_limits_are_the_configured_ones(home_paths):
    guard = _guard(home_paths, {"X": {"pe": 50.0, "debt_equity": 2.6, "market_cap_usd": 2e9}}, settings=Settings())
    assert _verdict(guard, "X").reason == "X: debt/equity 2.6 > 2.5"


def test_check_ready_needs_the_screener_key_and_says_how_to_store_it(home_paths):
    failed = _guard(home_paths, {}).check_ready()
    assert (failed.module, failed.ok, failed.detail) == (
        "finnhub_fundamental_guard",
        False,
        "screener_api secret not set",
    )
    assert failed.hint == "tbot secrets set screener_api --stdin"

    def key_without_hint(paths):
        raise ConfigError("locked")

    guard = _guard(home_paths, {})
    guard._source = FinnhubFundamentals(guard.settings, home_paths, api_key=key_without_hint)
    assert (guard.check_ready().detail, guard.check_ready().hint) == ("locked", "store the screener_api secret")
    guard._source = FinnhubFundamentals(guard.settings, home_paths, api_key=lambda paths: "k")
    passed = guard.check_ready()
    assert (passed.module, passed.ok, passed.detail) == (
        "finnhub_fundamental_guard",
        True,
        "screener_api secret present; daily cache in data/cache/",
    )
