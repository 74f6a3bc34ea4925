"""The ``.env_bot`` schema: every key, its type, its default from the seed.

The settings object is frozen so no module can flip a toggle at run time;
changes go through ``tbot config set`` (validated, re-encrypted, audited).
Parsing is strict on purpose: an unknown key or a malformed line is an error
that names the line, because a silently ignored typo in a risk limit is how
accounts get hurt.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, field, fields, replace
from decimal import Decimal
from typing import Any

from tbot_core import config_types as t
from tbot_core.errors import ConfigError
from tbot_core.sanitize import REDACTED, looks_secret, shape


def _key(default: Any, parser: t.Parser, doc: str, *, secret: bool = False) -> Any:
    return field(default=default, metadata={"parse": parser, "doc": doc, "secret": secret})


def _mapping_key(default: dict[str, Decimal], parser: t.Parser, doc: str) -> Any:
    return field(default_factory=lambda: dict(default), metadata={"parse": parser, "doc": doc, "secret": False})


@dataclass(frozen=True)
class Settings:
    """Typed, validated ``.env_bot``. Attribute ``foo_bar`` is key ``FOO_BAR``."""

    # -- identity of the run --------------------------------------------------------
    broker: str = _key("paper", t.choice("paper", "alpaca", "ibkr"), "Broker adapter: paper needs no account")
    environment: str = _key(
        "development", t.choice("development", "production"), "production forbids plaintext .env_bot"
    )
    log_format: str = _key("JSON", t.choice("JSON", "CSV"), "Format of the system and error logs")
    currency: str = _key("USD", t.choice("USD"), "Account currency (ledger minor unit: cents)")

    # -- enhancements (seed: Enhancement Module Activation) ---------------------------
    adx_filter_enabled: bool = _key(True, t.boolean, "adx_filter: block mid-session entries in strong trends")
    adx_threshold: Decimal = _key(Decimal("25"), t.decimal(0, 100), "adx_filter blocks when ADX > this")
    adx_period: int = _key(14, t.integer(2, 500), "ADX lookback in bars (Wilder)")
    enable_bsm_filter: bool = _key(True, t.boolean, "black_scholes_filter: check option quotes against BSM")
    max_bsm_deviation: Decimal = _key(Decimal("0.15"), t.decimal(0, 10), "Reject when |quote-model|/model exceeds this")
    bsm_risk_free_rates: dict[str, Decimal] = _mapping_key(
        {
            "US": Decimal("0.045"),
            "CA": Decimal("0.0275"),
            "GB": Decimal("0.04"),
            "EU": Decimal("0.02"),
            "AU": Decimal("0.0385"),
            "JP": Decimal("0.005"),
        },
        t.rate_table,
        "Risk-free rate by identity JURISDICTION_CODE",
    )
    bollinger_confluence_enabled: bool = _key(True, t.boolean, "bollinger_confluence: require a +-N sigma band touch")
    bollinger_period: int = _key(20, t.integer(2, 500), "Bollinger lookback in bars")
    bollinger_num_std: Decimal = _key(
        Decimal("2.0"), t.decimal("0.1", 10), "Band width in population standard deviations"
    )
    fundamental_guard_enabled: bool = _key(
        False, t.boolean, "finnhub_fundamental_guard (needs the screener_api secret)"
    )
    max_pe_ratio: Decimal = _key(Decimal("50"), t.decimal(0), "Block when peNormalizedAnnual exceeds this")
    max_debt_equity: Decimal = _key(Decimal("2.5"), t.decimal(0), "Block when totalDebt/totalEquityAnnual exceeds this")
    min_market_cap_fundamental: Decimal = _key(
        Decimal("2000000000"), t.decimal(0), "Block below this market cap in USD"
    )
    finnhub_api_url: str = _key("", t.text(200), "Override the Finnhub API base URL (tests, proxies); empty = default")
    imbalance_scanner_enabled: bool = _key(True, t.boolean, "imbalance_scanner_ibkr (active only when BROKER=ibkr)")
    imbalance_window_start_utc: Any = _key(
        t.clock_time("20:30"), t.clock_time, "Imbalance window start (winter default; DST-aware at run time)"
    )
    imbalance_window_end_utc: Any = _key(t.clock_time("21:00"), t.clock_time, "Imbalance window end (winter default)")
    imbalance_block_ratio: Decimal = _key(
        Decimal("0.25"), t.decimal(0, 10), "Block when opposing imbalance / paired volume exceeds this"
    )
    tuning_tracker_enabled: bool = _key(True, t.boolean, "tuning_tracker: per-strategy stats for the console")
    vix_gatekeeper_enabled: bool = _key(True, t.boolean, "vix_gatekeeper: close-strategy entries need VIX >= threshold")
    strat_close_vix_threshold: Decimal = _key(
        Decimal("15"), t.decimal(0, 200), "Minimum VIX for close-strategy entries"
    )

    # -- strategies --------------------------------------------------------------------
    strat_open_enabled: bool = _key(True, t.boolean, "Opening-range breakout strategy")
    strat_mid_enabled: bool = _key(True, t.boolean, "Mid-session mean reversion strategy")
    strat_close_enabled: bool = _key(True, t.boolean, "End-of-day momentum strategy")
    strat_open_range_minutes: int = _key(30, t.integer(1, 390), "Opening range length in minutes")
    strat_close_window_minutes: int = _key(30, t.integer(1, 390), "Close strategy trades in the last N minutes")
    symbols: tuple[str, ...] = _key(("SPY", "AAPL", "MSFT", "NVDA"), t.symbol_list, "Universe the engine trades")

    # -- safety ----------------------------------------------------------------------------
    daily_loss_limit: t.LossLimit = _key(
        t.LossLimit(Decimal("2"), True), t.loss_limit, "Kill switch: amount or % of start-of-day equity"
    )
    api_retry_limit: int = _key(3, t.integer(0, 20), "Retries with exponential backoff before escalation")
    api_retry_base_seconds: Decimal = _key(Decimal("0.5"), t.decimal("0.01", 60), "First backoff delay")
    api_retry_max_seconds: Decimal = _key(Decimal("30"), t.decimal("0.1", 600), "Backoff ceiling")
    defense_mode_active: bool = _key(False, t.boolean, "Defense mode: compress risk limits")
    defense_mode_factor: Decimal = _key(
        Decimal("0.5"), t.decimal("0.01", 1), "Multiplier applied to risk limits in defense mode"
    )
    max_risk_per_trade: Decimal = _key(
        Decimal("0.025"), t.decimal(0, 1), "Max notional per trade as a fraction of equity"
    )
    max_open_positions: int = _key(5, t.integer(0, 1000), "Max simultaneous open positions")
    max_gross_exposure: Decimal = _key(Decimal("1.0"), t.decimal(0, 10), "Max gross exposure as a multiple of equity")
    alloc_open: Decimal = _key(Decimal("0.3"), t.decimal(0, 1), "Share of equity the open strategy may use")
    alloc_mid: Decimal = _key(Decimal("0.4"), t.decimal(0, 1), "Share of equity the mid strategy may use")
    alloc_close: Decimal = _key(Decimal("0.3"), t.decimal(0, 1), "Share of equity the close strategy may use")
    watchdog_interval_seconds: Decimal = _key(Decimal("1"), t.decimal("0.05", 60), "Watchdog probe period")
    watchdog_broker_timeout_seconds: Decimal = _key(
        Decimal("15"), t.decimal("0.1", 600), "Broker heartbeat age that suspends the broker"
    )
    watchdog_feed_timeout_seconds: Decimal = _key(
        Decimal("30"), t.decimal("0.1", 3600), "Feed heartbeat age that stops the core"
    )
    supervisor_stop_grace_seconds: Decimal = _key(
        Decimal("10"), t.decimal("0.1", 600), "Wait before ending an unresponsive child"
    )
    restart_max_attempts: int = _key(5, t.integer(0, 100), "Restarts allowed for rebootable events")
    restart_backoff_seconds: Decimal = _key(Decimal("1"), t.decimal("0.01", 600), "First restart delay (doubles)")
    restart_window_seconds: Decimal = _key(
        Decimal("3600"), t.decimal(1, 604800), "RESTART_MAX_ATTEMPTS counts restarts within this window"
    )
    worker_stall_seconds: Decimal = _key(
        Decimal("120"),
        t.decimal("0.5", 3600),
        "A worker busy this long without a heartbeat is stalled (restarted once, then a controlled stop)",
    )
    notify_on_critical: bool = _key(True, t.boolean, "Send SMTP/webhook alerts on critical events")
    notify_email_to: str = _key(
        "", t.text(320), "Alert recipient address (SMTP credentials live in the notifier_smtp secret)"
    )

    # -- paper broker and replay feed ------------------------------------------------------
    paper_starting_cash: Decimal = _key(Decimal("100000.00"), t.decimal("0.01"), "Paper account cash at first start")
    paper_slippage_bps: Decimal = _key(Decimal("2"), t.decimal(0, 1000), "Paper fill slippage in basis points")
    paper_commission_per_share: Decimal = _key(Decimal("0.005"), t.decimal(0, 10), "Paper commission per share")
    paper_commission_min: Decimal = _key(Decimal("1.00"), t.decimal(0, 100), "Paper minimum commission per order")
    replay_speed: Decimal = _key(
        Decimal("20"), t.decimal(0, 1000000), "Replay bars per second; 0 = as fast as possible"
    )
    notify_webhook_timeout_seconds: Decimal = _key(Decimal("5"), t.decimal("0.1", 120), "Webhook/SMTP alert timeout")
    engine_orders_kept: int = _key(50, t.integer(1, 1000), "Recent orders kept in state.json")

    # -- broker endpoints (credentials live in secrets, never here) ---------------------------
    alpaca_paper: bool = _key(True, t.boolean, "Use Alpaca's paper endpoint")
    alpaca_url_override: str = _key("", t.text(200), "Override the Alpaca trading API URL (tests); empty = default")
    alpaca_data_url_override: str = _key("", t.text(200), "Override the Alpaca data API URL (tests); empty = default")
    ibkr_host: str = _key("127.0.0.1", t.text(200), "TWS / IB Gateway host")
    ibkr_port: int = _key(7497, t.integer(1, 65535), "TWS / IB Gateway port (7497 paper TWS)")
    ibkr_client_id: int = _key(1, t.integer(0, 999999), "IB API client id")
    ibkr_connect_timeout_seconds: Decimal = _key(Decimal("5"), t.decimal("0.1", 120), "Connect timeout")
    ibkr_request_timeout_seconds: Decimal = _key(
        Decimal("10"), t.decimal("0.1", 600), "Longest wait for one IB API answer"
    )
    alpaca_request_timeout_seconds: Decimal = _key(
        Decimal("10"), t.decimal("0.1", 600), "Longest wait for one Alpaca HTTP answer"
    )
    alpaca_data_feed: str = _key("iex", t.choice("iex", "sip"), "Alpaca stock data feed (sip needs a paid plan)")
    live_bar_poll_seconds: Decimal = _key(
        Decimal("5"), t.decimal("0.05", 600), "How often a live feed asks for new 1-minute bars"
    )

    # -- backtest fill model (signal on bar t's close, fill at bar t+1's open) ---------------
    backtest_starting_cash: Decimal = _key(Decimal("100000.00"), t.decimal("0.01"), "Backtest starting equity")
    backtest_position_fraction: Decimal = _key(
        Decimal("1"), t.decimal("0.0001", 1), "Share of equity each entry may use"
    )
    backtest_commission_per_share: Decimal = _key(Decimal("0.005"), t.decimal(0, 10), "Backtest commission per share")
    backtest_commission_pct: Decimal = _key(
        Decimal("0"), t.decimal(0, "0.1"), "Backtest commission as a fraction of notional"
    )
    backtest_slippage_bps: Decimal = _key(
        Decimal("2"), t.decimal(0, 1000), "Backtest slippage in basis points, against the trader"
    )

    # -- console-facing runtime ----------------------------------------------------------------
    state_write_interval_ms: int = _key(250, t.integer(20, 60000), "Minimum gap between state.json writes")
    state_verdicts_kept: int = _key(50, t.integer(1, 1000), "Verdicts kept in state.json")

    def to_env(self) -> dict[str, str]:
        """Every key with its ``.env_bot`` text, in schema order."""
        return {name.upper(): t.render(getattr(self, name)) for name in _FIELD_NAMES}

    def redacted(self) -> dict[str, str]:
        return {key: (REDACTED if is_secret_key(key) and value else value) for key, value in self.to_env().items()}

    def with_values(self, values: dict[str, str]) -> Settings:
        return replace(self, **_parse_values(values, source="<override>"))


_FIELDS = {f.name.upper(): f for f in fields(Settings)}
_FIELD_NAMES = [f.name for f in fields(Settings)]
KNOWN_KEYS: tuple[str, ...] = tuple(_FIELDS)


def is_secret_key(key: str) -> bool:
    spec = _FIELDS.get(key.upper())
    return bool(spec and spec.metadata["secret"]) or looks_secret(key)


def key_doc(key: str) -> str:
    return _FIELDS[key.upper()].metadata["doc"]


def default_value(key: str) -> Any:
    spec = _FIELDS[key.upper()]
    return spec.default_factory() if spec.default is MISSING else spec.default  # type: ignore[misc]


def suggest(key: str) -> str:
    close = difflib.get_close_matches(key.upper(), KNOWN_KEYS, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


# -- dotenv parsing ---------------------------------------------------------------------------
_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def parse_dotenv(text: str, *, source: str) -> dict[str, str]:
    """Parse dotenv text strictly; errors name ``source:line``.

    Supported: ``KEY=value``, ``export KEY=value``, blank lines, ``# comments``,
    single- or double-quoted values, and a trailing `` # comment`` after an
    unquoted value.
    """
    values: dict[str, str] = {}
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ConfigError(f"{source}:{number}: expected KEY=VALUE, got {shape(line)}")
        key, raw = match.group(1), match.group(2).strip()
        if raw[:1] in {'"', "'"}:
            quote = raw[0]
            end = raw.find(quote, 1)
            if end < 0:
                raise ConfigError(f"{source}:{number}: {key}: unterminated {quote} quote")
            rest = raw[end + 1 :].strip()
            if rest and not rest.startswith("#"):
                raise ConfigError(f"{source}:{number}: {key}: unexpected text after the closing quote")
            value = raw[1:end]
        else:
            value = raw.split(" #", 1)[0].strip()
        if any(ord(ch) < 32 and ch != "\t" for ch in value):
            raise ConfigError(f"{source}:{number}: {key}: control characters are not allowed")
        if key.upper() in values:
            raise ConfigError(f"{source}:{number}: {key}: key appears twice")
        values[key.upper()] = value
    return values


def _parse_values(values: dict[str, str], *, source: str) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for key, raw in values.items():
        spec = _FIELDS.get(key.upper())
        if spec is None:
            raise ConfigError(f"{source}: unknown key {key}{suggest(key)}")
        try:
            parsed[spec.name] = spec.metadata["parse"](raw)
        except ValueError as exc:
            raise ConfigError(f"{source}: {key.upper()}: got {shape(raw)}; {exc}") from None
    return parsed


def settings_from_text(text: str, *, source: str) -> Settings:
    settings = Settings(**_parse_values(parse_dotenv(text, source=source), source=source))
    _cross_check(settings, source)
    return settings


def _cross_check(settings: Settings, source: str) -> None:
    total = settings.alloc_open + settings.alloc_mid + settings.alloc_close
    if total > 1:
        raise ConfigError(f"{source}: ALLOC_OPEN+ALLOC_MID+ALLOC_CLOSE is {total}; expected a sum <= 1")
    if settings.imbalance_window_end_utc <= settings.imbalance_window_start_utc:
        raise ConfigError(f"{source}: IMBALANCE_WINDOW_END_UTC must be after IMBALANCE_WINDOW_START_UTC")


def render_env(values: dict[str, str], *, header: Iterable[str] = ()) -> str:
    """Dotenv text for ``values``; quotes anything with spaces or ``#``."""
    lines = [f"# {line}" for line in header]
    for key, value in values.items():
        needs_quote = any(ch in value for ch in " #'\"") or value == ""
        lines.append(f'{key}="{value}"' if needs_quote and '"' not in value else f"{key}={value}")
    return "\n".join(lines) + "\n"


def default_env_text() -> str:
    return render_env(Settings().to_env(), header=["TradeBot .env_bot — paper mode defaults written by tbot init"])
