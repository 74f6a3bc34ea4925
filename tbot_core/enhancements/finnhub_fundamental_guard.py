"""``finnhub_fundamental_guard``: block tickers whose fundamentals fail the thresholds.

PE (``peNormalizedAnnual``) <= ``MAX_PE_RATIO``; debt/equity
(``totalDebt/totalEquityAnnual``) <= ``MAX_DEBT_EQUITY``; market cap >=
``MIN_MARKET_CAP_FUNDAMENTAL`` in USD (Finnhub reports it in millions; the
data source converts).  A metric Finnhub lacks for a ticker blocks; Finnhub
itself failing (unreachable, refused key, no secret) is a data-source failure:
the gate audits it and applies ``FUNDAMENTAL_GUARD_FATAL`` (default: block).
The live engine's context carries the figures (or the source's failure) from
the data layer; a context without them (the fast backtest path) asks the source.
"""

from __future__ import annotations

from typing import Any

from tbot_core import settings_keys
from tbot_core.enhancements.base import Enhancement, EnhancementEnv, Outcome, allow, block, unavailable
from tbot_core.errors import TbotError
from tbot_core.selfcheck import CheckResult
from tbot_core.signals import MarketContext, Signal


class FinnhubFundamentalGuard(Enhancement):
    name = "finnhub_fundamental_guard"
    keys = settings_keys.finnhub_fundamental_guard.KEYS
    toggle = "fundamental_guard_enabled"
    fatal_key = "fundamental_guard_fatal"

    def __init__(self, env: EnhancementEnv) -> None:
        super().__init__(env)
        self._source = env.fundamentals

    @property
    def source(self) -> Any:  # FinnhubFundamentals, or what a test or backtest passed in (env.fundamentals)
        if self._source is None:
            from tbot_core.data.finnhub import FinnhubFundamentals

            self._source = FinnhubFundamentals(self.settings, self.env.paths, clock=self.env.clock)
        return self._source

    def evaluate(self, signal: Signal, market: MarketContext) -> Outcome:
        facts = market.fundamentals.get(signal.symbol)
        failed = market.failed.get("fundamentals")
        if facts is None and failed:  # the data layer asked the source and it failed
            return unavailable("finnhub_unavailable", f"fundamentals unavailable: {failed}")
        if facts is None:  # a context without fundamentals (the fast backtest path): ask the source here
            try:
                facts = self.source.lookup(signal.symbol)
            except TbotError as exc:
                return unavailable("finnhub_unavailable", f"fundamentals unavailable: {exc}")
        s = self.settings
        ctx = {
            "pe": facts.pe,
            "debt_equity": facts.debt_equity,
            "market_cap_usd": facts.market_cap_usd,
            "as_of": facts.as_of,
            "max_pe": str(s.max_pe_ratio),
            "max_debt_equity": str(s.max_debt_equity),
            "min_market_cap": str(s.min_market_cap_fundamental),
        }
        missing = [k for k in ("pe", "debt_equity", "market_cap_usd") if ctx[k] is None]
        if missing:
            return block(f"{signal.symbol}: Finnhub has no {missing[0]}", **ctx)
        if facts.pe <= 0:
            return block(f"{signal.symbol}: PE {facts.pe:g} is not meaningful (no earnings)", **ctx)
        if facts.pe > float(s.max_pe_ratio):
            return block(f"{signal.symbol}: PE {facts.pe:g} > {s.max_pe_ratio}", **ctx)
        if facts.debt_equity > float(s.max_debt_equity):
            return block(f"{signal.symbol}: debt/equity {facts.debt_equity:g} > {s.max_debt_equity}", **ctx)
        if facts.market_cap_usd < float(s.min_market_cap_fundamental):
            return block(
                f"{signal.symbol}: market cap ${facts.market_cap_usd:,.0f} < ${s.min_market_cap_fundamental:,.0f}",
                **ctx,
            )
        return allow(f"{signal.symbol}: fundamentals within thresholds", **ctx)

    def check_ready(self) -> CheckResult:
        try:
            self.source.require_credentials()
        except TbotError as exc:
            return CheckResult.failed(self.name, str(exc), exc.hint or "store the screener_api secret")
        return CheckResult.passed(self.name, "screener_api secret present; daily cache in data/cache/")
