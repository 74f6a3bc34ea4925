"""Build the configured market-data feed: the replay of the home's sample data
for paper trading; a broker's live feed adapter, imported lazily by name."""

from __future__ import annotations

from tbot_core.brokers.factory import load_adapter
from tbot_core.config import Settings
from tbot_core.data.base import Feed
from tbot_core.home import BotHome

LIVE_FEEDS = {
    "alpaca": ("tbot_core.data.alpaca", "make_alpaca_feed"),
    "ibkr": ("tbot_core.data.ibkr", "make_ibkr_feed"),
}


def make_feed(home: BotHome, settings: Settings, *, start_after: str | None = None) -> Feed:
    if settings.broker == "paper":
        from tbot_core.data.replay import ReplayFeed

        return ReplayFeed(home.paths.sample_ohlcv, home.paths.sample_vix, settings, start_after=start_after)
    return load_adapter(LIVE_FEEDS, home, settings, "feed")
