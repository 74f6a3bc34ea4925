"""The backtest's command-line flags, shared by ``tbot backtest`` and ``backtest_engine``.

Kept free of heavy imports so building the ``tbot`` parser stays fast.
"""

from __future__ import annotations

import argparse
from datetime import date

from tbot_core.errors import ConfigError

STRATEGY_NAMES = ("all", "open", "mid", "close", "sma_cross")
ENGINES = ("fast", "bar", "live")  # live: the old name of bar, still accepted
ENGINE_ALIASES = {"live": "bar"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strategy", required=True, help="|".join(STRATEGY_NAMES) + " (all: the core's strategies together)"
    )
    parser.add_argument("--start", required=True, help="first UTC date, YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="last UTC date, YYYY-MM-DD")
    parser.add_argument("--data_source", "--data-source", default="CSV", help="CSV (the only source)")
    parser.add_argument("--data", default=None, help="CSV file (default: the home's sample data with VIX)")
    parser.add_argument(
        "--config", default=None, help="a plaintext .env_bot / .env_bot.test laid over the home's config"
    )
    parser.add_argument(
        "--engine",
        default="fast",
        help="fast (default: the bar engine's fills, decided at array speed) | bar (the core's engine itself, "
        "bar by bar: gate, risk bot, kill switch, paper broker; 'live' is accepted as its old name)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--filters", default=None, help="comma-separated enhancement modules to apply (default: as live)"
    )
    group.add_argument("--no-filters", action="store_true", help="switch every enhancement filter off")
    parser.add_argument("--plot", action="store_true", help="also write equity_drawdown.png")
    parser.add_argument("--home", default=argparse.SUPPRESS, help="bot home (outputs go to its backtest folder)")


def parse_date(text: str, flag: str) -> date:
    """A ``--start``/``--end`` value: an ISO date, or one line naming the flag."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{flag}: expected a date YYYY-MM-DD, got {text[:20]!r}") from None
