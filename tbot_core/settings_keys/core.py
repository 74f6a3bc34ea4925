"""The core's own ``.env_bot`` keys: the run, strategies, safety, brokers, backtest, console.

Each enhancement declares its keys in its own module beside this one; these
are the keys no single enhancement owns.  ``RUN`` comes first and the rest
after the enhancements' keys: the order ``tbot config show`` and the console
have always listed them in.
"""

from __future__ import annotations

from decimal import Decimal

from tbot_core import config_types as t
from tbot_core.settings_keys.key import Key

# -- identity of the run ----------------------------------------------------------------
RUN: tuple[Key, ...] = (
    Key("BROKER", "paper", t.choice("paper", "alpaca", "ibkr"), "Broker adapter: paper needs no account"),
    Key("ENVIRONMENT", "development", t.choice("development", "production"), "production forbids plaintext .env_bot"),
    Key("LOG_FORMAT", "JSON", t.choice("JSON", "CSV"), "Format of the system and error logs"),
    Key("CURRENCY", "USD", t.choice("USD"), "Account currency (ledger minor unit: cents)"),
)

KEYS: tuple[Key, ...] = (
    # -- strategies --------------------------------------------------------------------
    Key("STRAT_OPEN_ENABLED", True, t.boolean, "Opening-range breakout strategy"),
    Key("STRAT_MID_ENABLED", True, t.boolean, "Mid-session mean reversion strategy"),
    Key("STRAT_CLOSE_ENABLED", True, t.boolean, "End-of-day momentum strategy"),
    Key("STRAT_OPEN_RANGE_MINUTES", 30, t.integer(1, 390), "Opening range length in minutes"),
    Key("STRAT_CLOSE_WINDOW_MINUTES", 30, t.integer(1, 390), "Close strategy trades in the last N minutes"),
    # Exits.  The intraday strategies are flat before the closing auction (its spreads and the overnight gap
    # are risks their entries never priced); the close strategy holds overnight on purpose and sells a few
    # minutes into the next session, after the opening auction's widest spreads.
    Key(
        "STRAT_OPEN_FLAT_MINUTES_BEFORE_CLOSE",
        10,
        t.integer(1, 390),
        "Open strategy sells what it holds at the first bar this many minutes before the session close",
    ),
    Key(
        "STRAT_MID_FLAT_MINUTES_BEFORE_CLOSE",
        10,
        t.integer(1, 390),
        "Mid strategy sells what it holds at the first bar this many minutes before the session close",
    ),
    Key(
        "STRAT_CLOSE_EXIT_MINUTES_AFTER_OPEN",
        5,
        t.integer(0, 390),
        "Close strategy sells its overnight hold at the first bar this many minutes into the next session",
    ),
    Key(
        "SYMBOLS",
        ("SPY", "AAPL", "AMZN", "META", "GOOGL"),
        t.symbol_list,
        "Universe the engine trades",
    ),
    # -- safety ----------------------------------------------------------------------------
    Key(
        "DAILY_LOSS_LIMIT",
        t.LossLimit(Decimal("2"), True),
        t.loss_limit,
        "Kill switch: amount or % of start-of-day equity",
    ),
    Key("API_RETRY_LIMIT", 3, t.integer(0, 20), "Retries with exponential backoff before escalation"),
    Key("API_RETRY_BASE_SECONDS", Decimal("0.5"), t.decimal("0.01", 60), "First backoff delay"),
    Key("API_RETRY_MAX_SECONDS", Decimal("30"), t.decimal("0.1", 600), "Backoff ceiling"),
    Key("DEFENSE_MODE_ACTIVE", False, t.boolean, "Defense mode: compress risk limits"),
    Key(
        "DEFENSE_MODE_FACTOR", Decimal("0.5"), t.decimal("0.01", 1), "Multiplier applied to risk limits in defense mode"
    ),
    Key("MAX_RISK_PER_TRADE", Decimal("0.025"), t.decimal(0, 1), "Max notional per trade as a fraction of equity"),
    Key("MAX_OPEN_POSITIONS", 5, t.integer(0, 1000), "Max simultaneous open positions"),
    Key("MAX_GROSS_EXPOSURE", Decimal("1.0"), t.decimal(0, 10), "Max gross exposure as a multiple of equity"),
    Key("ALLOC_OPEN", Decimal("0.3"), t.decimal(0, 1), "Share of equity the open strategy may use"),
    Key("ALLOC_MID", Decimal("0.4"), t.decimal(0, 1), "Share of equity the mid strategy may use"),
    Key("ALLOC_CLOSE", Decimal("0.3"), t.decimal(0, 1), "Share of equity the close strategy may use"),
    Key("WATCHDOG_INTERVAL_SECONDS", Decimal("1"), t.decimal("0.05", 60), "Watchdog probe period"),
    Key(
        "WATCHDOG_BROKER_TIMEOUT_SECONDS",
        Decimal("15"),
        t.decimal("0.1", 600),
        "Broker heartbeat age that suspends the broker",
    ),
    Key(
        "WATCHDOG_FEED_TIMEOUT_SECONDS", Decimal("30"), t.decimal("0.1", 3600), "Feed heartbeat age that stops the core"
    ),
    Key(
        "SUPERVISOR_STOP_GRACE_SECONDS",
        Decimal("10"),
        t.decimal("0.1", 600),
        "Wait before ending an unresponsive child",
    ),
    Key("RESTART_MAX_ATTEMPTS", 5, t.integer(0, 100), "Restarts allowed for rebootable events"),
    Key("RESTART_BACKOFF_SECONDS", Decimal("1"), t.decimal("0.01", 600), "First restart delay (doubles)"),
    Key(
        "RESTART_WINDOW_SECONDS",
        Decimal("3600"),
        t.decimal(1, 604800),
        "RESTART_MAX_ATTEMPTS counts restarts within this window",
    ),
    Key(
        "WORKER_STALL_SECONDS",
        Decimal("120"),
        t.decimal("0.5", 3600),
        "A worker busy this long without a heartbeat is stalled (restarted once, then a controlled stop)",
    ),
    Key("NOTIFY_ON_CRITICAL", True, t.boolean, "Send SMTP/webhook alerts on critical events"),
    Key(
        "NOTIFY_EMAIL_TO",
        "",
        t.text(320),
        "Alert recipient address (SMTP credentials live in the notifier_smtp secret)",
    ),
    # -- paper broker and replay feed ------------------------------------------------------
    Key("PAPER_STARTING_CASH", Decimal("100000.00"), t.decimal("0.01"), "Paper account cash at first start"),
    Key("PAPER_SLIPPAGE_BPS", Decimal("2"), t.decimal(0, 1000), "Paper fill slippage in basis points"),
    Key("PAPER_COMMISSION_PER_SHARE", Decimal("0.005"), t.decimal(0, 10), "Paper commission per share"),
    Key("PAPER_COMMISSION_MIN", Decimal("1.00"), t.decimal(0, 100), "Paper minimum commission per order"),
    Key("REPLAY_SPEED", Decimal("20"), t.decimal(0, 1000000), "Replay bars per second; 0 = as fast as possible"),
    Key("NOTIFY_WEBHOOK_TIMEOUT_SECONDS", Decimal("5"), t.decimal("0.1", 120), "Webhook/SMTP alert timeout"),
    Key("ENGINE_ORDERS_KEPT", 50, t.integer(1, 1000), "Recent orders kept in state.json"),
    # -- broker endpoints (credentials live in secrets, never here) ---------------------------
    Key("ALPACA_PAPER", True, t.boolean, "Use Alpaca's paper endpoint"),
    Key("ALPACA_URL_OVERRIDE", "", t.text(200), "Override the Alpaca trading API URL (tests); empty = default"),
    Key("ALPACA_DATA_URL_OVERRIDE", "", t.text(200), "Override the Alpaca data API URL (tests); empty = default"),
    Key("IBKR_HOST", "127.0.0.1", t.text(200), "TWS / IB Gateway host"),
    Key("IBKR_PORT", 7497, t.integer(1, 65535), "TWS / IB Gateway port (7497 paper TWS)"),
    Key("IBKR_CLIENT_ID", 1, t.integer(0, 999999), "IB API client id"),
    Key("IBKR_CONNECT_TIMEOUT_SECONDS", Decimal("5"), t.decimal("0.1", 120), "Connect timeout"),
    Key("IBKR_REQUEST_TIMEOUT_SECONDS", Decimal("10"), t.decimal("0.1", 600), "Longest wait for one IB API answer"),
    Key(
        "ALPACA_REQUEST_TIMEOUT_SECONDS",
        Decimal("10"),
        t.decimal("0.1", 600),
        "Longest wait for one Alpaca HTTP answer",
    ),
    Key("ALPACA_DATA_FEED", "iex", t.choice("iex", "sip"), "Alpaca stock data feed (sip needs a paid plan)"),
    Key(
        "LIVE_BAR_POLL_SECONDS",
        Decimal("5"),
        t.decimal("0.05", 600),
        "How often a live feed asks for new 1-minute bars",
    ),
    Key(
        "ALPACA_FEED_MODE",
        "stream",
        t.choice("stream", "poll"),
        "Alpaca live bars and trade updates: stream = websockets; poll = REST every LIVE_BAR_POLL_SECONDS (fallback)",
    ),
    Key(
        "ALPACA_DATA_STREAM_URL_OVERRIDE",
        "",
        t.text(200),
        "Override the Alpaca market-data websocket URL (tests); empty = default for ALPACA_DATA_FEED",
    ),
    Key(
        "ALPACA_TRADING_STREAM_URL_OVERRIDE",
        "",
        t.text(200),
        "Override the Alpaca trade-updates websocket URL (tests); empty = default for ALPACA_PAPER",
    ),
    Key(
        "ALPACA_STREAM_SILENCE_SECONDS",
        Decimal("180"),
        t.decimal("0.1", 3600),
        "Stream mode: no bar for this long during the session fails the feed heartbeat",
    ),
    # -- market context sources (tbot_core/data/market.py) ------------------------------------
    Key(
        "VIX_SOURCE",
        "auto",
        t.choice("auto", "feed", "file", "finnhub"),
        "Where VIX comes from: auto = the feed (paper replay, IBKR index; Alpaca has none), "
        "file = data/market/vix.csv, finnhub = Finnhub /quote (screener_api secret)",
    ),
    Key("VIX_FINNHUB_SYMBOL", "^VIX", t.text(20), "Finnhub symbol of the VIX index (VIX_SOURCE=finnhub)"),
    Key(
        "VIX_MAX_AGE_MINUTES",
        60,
        t.integer(1, 10080),
        "A VIX level from data/market/vix.csv or Finnhub older than this at the bar's time counts as failed",
    ),
    # -- backtest fill model (signal on bar t's close, fill at bar t+1's open) ---------------
    Key("BACKTEST_STARTING_CASH", Decimal("100000.00"), t.decimal("0.01"), "Backtest starting equity"),
    Key("BACKTEST_POSITION_FRACTION", Decimal("1"), t.decimal("0.0001", 1), "Share of equity each entry may use"),
    Key("BACKTEST_COMMISSION_PER_SHARE", Decimal("0.005"), t.decimal(0, 10), "Backtest commission per share"),
    Key("BACKTEST_COMMISSION_PCT", Decimal("0"), t.decimal(0, "0.1"), "Backtest commission as a fraction of notional"),
    Key(
        "BACKTEST_SLIPPAGE_BPS",
        Decimal("2"),
        t.decimal(0, 1000),
        "Backtest slippage in basis points, against the trader",
    ),
    # -- console-facing runtime ----------------------------------------------------------------
    Key("STATE_WRITE_INTERVAL_MS", 250, t.integer(20, 60000), "Minimum gap between state.json writes"),
    Key("STATE_VERDICTS_KEPT", 50, t.integer(1, 1000), "Verdicts kept in state.json"),
)
