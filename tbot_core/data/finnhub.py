"""Company fundamentals (cached once per day in ``data/cache/fundamentals_{date}.json``) and VIX from Finnhub.

The API key comes only from the ``screener_api`` secret.  Finnhub's
``company_basic_financials(symbol, "all")`` reports ``marketCapitalization``
in millions of USD; it is converted to USD here so thresholds compare like
with like.  Every transport or API failure becomes a one-line ``TbotError``
that never carries the key (the client puts it in the query string).
``FinnhubVix`` is the VIX source for a broker whose feed has no index data
(Alpaca): ``VIX_SOURCE=finnhub`` reads the ``/quote`` of ``VIX_FINNHUB_SYMBOL``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import finnhub
import requests

from tbot_core.config import Settings
from tbot_core.errors import ConfigError, NetworkError, TbotError
from tbot_core.fsutil import atomic_write_text
from tbot_core.paths import HomePaths
from tbot_core.timeutil import iso_z, utc_now

MARKET_CAP_UNIT_USD = 1_000_000
REQUEST_TIMEOUT_SECONDS = 5


@dataclass(frozen=True, slots=True)
class Fundamentals:
    symbol: str
    pe: float | None
    debt_equity: float | None
    market_cap_usd: float | None
    as_of: str


def _number(metric: dict[str, Any], key: str, scale: float = 1.0) -> float | None:
    value = metric.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value) * scale


def screener_api_key(paths: HomePaths) -> str:
    """The Finnhub key from the encrypted ``screener_api`` secret (raises ``SecurityError`` if absent)."""
    from tbot_core.home import BotHome
    from tbot_core.secrets.store import SecretStore

    return SecretStore(BotHome(str(paths.root))).get("screener_api")["api_key"]


class _FinnhubClient:
    """One finnhub-python client per source, built on first use (the key is read then, not at start)."""

    def __init__(
        self,
        settings: Settings,
        paths: HomePaths,
        *,
        clock: Callable[[], datetime] = utc_now,
        api_key: Callable[[HomePaths], str] = screener_api_key,
    ) -> None:
        self.settings = settings
        self.paths = paths
        self.clock = clock
        self._api_key = api_key
        self._client: finnhub.Client | None = None

    def require_credentials(self) -> None:
        self._api_key(self.paths)

    def _connect(self) -> finnhub.Client:
        if self._client is None:
            client = finnhub.Client(api_key=self._api_key(self.paths))
            if self.settings.finnhub_api_url:
                client.API_URL = self.settings.finnhub_api_url.rstrip("/")
            client.DEFAULT_TIMEOUT = REQUEST_TIMEOUT_SECONDS
            self._client = client
        return self._client

    def _call(self, what: str, call: Callable[[finnhub.Client], Any]) -> Any:
        """``call`` on the client; every failure a one-line ``TbotError`` naming ``what`` (never the key)."""
        try:
            return call(self._connect())
        except finnhub.FinnhubAPIException as exc:
            if exc.status_code in (401, 403):
                raise ConfigError(
                    f"Finnhub refused the screener_api key (HTTP {exc.status_code})",
                    hint="check the key with `tbot secrets set screener_api`",
                ) from None
            if exc.status_code == 429 or exc.status_code >= 500:
                raise NetworkError(f"Finnhub {what}: HTTP {exc.status_code}") from None
            raise ConfigError(f"Finnhub {what}: HTTP {exc.status_code}") from None
        except finnhub.FinnhubRequestException:
            raise NetworkError(f"Finnhub {what}: response is not JSON") from None
        except requests.Timeout:
            raise NetworkError(f"Finnhub {what}: timed out after {REQUEST_TIMEOUT_SECONDS}s") from None
        except requests.RequestException as exc:
            raise NetworkError(f"Finnhub {what}: unreachable ({type(exc).__name__})") from None


class FinnhubFundamentals(_FinnhubClient):
    def __init__(
        self,
        settings: Settings,
        paths: HomePaths,
        *,
        clock: Callable[[], datetime] = utc_now,
        api_key: Callable[[HomePaths], str] = screener_api_key,
    ) -> None:
        super().__init__(settings, paths, clock=clock, api_key=api_key)
        self._day: date | None = None
        self._cache: dict[str, dict[str, Any]] = {}

    def _load_day(self) -> date:
        """Today's cache in ``_cache`` (read once a day); returns today."""
        today = self.clock().date()
        if today == self._day:
            return today
        self._day, self._cache = today, {}
        path = self.paths.fundamentals_cache(today)
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self._cache = {str(k): dict(v) for k, v in data.items()}
            except (OSError, ValueError, AttributeError, TypeError):
                self._cache = {}  # a damaged cache is refetched, never trusted
        return today

    def lookup(self, symbol: str) -> Fundamentals:
        """Today's fundamentals for ``symbol``, from the cache or one API call."""
        day = self._load_day()
        cached = self._cache.get(symbol)
        if cached is not None:
            try:
                return Fundamentals(**cached)
            except TypeError:
                pass
        facts = self._fetch(symbol)
        self._cache[symbol] = asdict(facts)
        self.paths.cache_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.paths.fundamentals_cache(day), json.dumps(self._cache, sort_keys=True, indent=1), durable=False
        )
        return facts

    def _fetch(self, symbol: str) -> Fundamentals:
        payload = self._call(f"/stock/metric {symbol}", lambda client: client.company_basic_financials(symbol, "all"))
        metric = payload.get("metric") if isinstance(payload, dict) else None
        if not isinstance(metric, dict) or not metric:
            raise TbotError(f"Finnhub /stock/metric {symbol}: no 'metric' object in the response")
        return Fundamentals(
            symbol=symbol,
            pe=_number(metric, "peNormalizedAnnual"),
            debt_equity=_number(metric, "totalDebt/totalEquityAnnual"),
            market_cap_usd=_number(metric, "marketCapitalization", MARKET_CAP_UNIT_USD),
            as_of=iso_z(self.clock()),
        )


class FinnhubVix(_FinnhubClient):
    """The VIX level from Finnhub's ``/quote`` (``VIX_SOURCE=finnhub``), asked at most once per refresh period.

    A quote older than ``VIX_MAX_AGE_MINUTES`` at the bar's time is a failed source, not a level: a
    gatekeeper must not pass close entries on yesterday's volatility.
    """

    REFRESH = timedelta(seconds=60)

    def __init__(
        self,
        settings: Settings,
        paths: HomePaths,
        *,
        clock: Callable[[], datetime] = utc_now,
        api_key: Callable[[HomePaths], str] = screener_api_key,
    ) -> None:
        super().__init__(settings, paths, clock=clock, api_key=api_key)
        self._quote: tuple[datetime, float, datetime] | None = None  # (asked at, level, quote time)

    def vix(self, ts: datetime) -> float | None:
        symbol, now = self.settings.vix_finnhub_symbol, self.clock()
        if self._quote is None or now - self._quote[0] >= self.REFRESH:
            payload = self._call(f"/quote {symbol}", lambda client: client.quote(symbol))
            level = _number(payload if isinstance(payload, dict) else {}, "c")
            stamp = _number(payload if isinstance(payload, dict) else {}, "t")
            if level is None or level <= 0 or stamp is None or stamp <= 0:
                raise TbotError(f"Finnhub /quote {symbol}: no price (field 'c') and time (field 't') in the response")
            self._quote = (now, level, datetime.fromtimestamp(stamp, UTC))
        _, level, quoted = self._quote
        limit = timedelta(minutes=self.settings.vix_max_age_minutes)
        if ts - quoted > limit:
            raise TbotError(
                f"Finnhub /quote {symbol}: quote from {iso_z(quoted)} is older than "
                f"VIX_MAX_AGE_MINUTES={self.settings.vix_max_age_minutes} at {iso_z(ts)}"
            )
        return level
