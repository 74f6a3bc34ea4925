"""``black_scholes_filter``: reject option quotes far from their Black-Scholes-Merton value.

The risk-free rate comes from ``BSM_RISK_FREE_RATES`` by the identity's
JURISDICTION_CODE.  Equity signals carry no option quote, so the filter
allows them as not applicable; a malformed quote or a missing rate is a
data-source failure (the gate applies ``BSM_FILTER_FATAL``, default: block);
a quote whose model value is ~0 is blocked.
"""

from __future__ import annotations

import math

from scipy.special import ndtr

from tbot_core import settings_keys
from tbot_core.enhancements.base import Enhancement, Outcome, allow, block, finite_positive, unavailable
from tbot_core.selfcheck import CheckResult
from tbot_core.signals import MarketContext, OptionQuote, Signal


def bsm_price(
    spot: float, strike: float, years: float, rate: float, vol: float, option_type: str, dividend_yield: float = 0.0
) -> float:
    """European option value under Black-Scholes-Merton with a continuous dividend yield."""
    if option_type not in ("call", "put"):
        raise ValueError(f"option_type: expected call or put, got {option_type!r}")
    if not finite_positive(spot, strike, years, vol):
        raise ValueError("spot, strike, years and vol: expected finite numbers > 0")
    sd = vol * math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate - dividend_yield + 0.5 * vol * vol) * years) / sd
    d2 = d1 - sd
    spot_pv = spot * math.exp(-dividend_yield * years)
    strike_pv = strike * math.exp(-rate * years)
    if option_type == "call":
        return float(spot_pv * ndtr(d1) - strike_pv * ndtr(d2))
    return float(strike_pv * ndtr(-d2) - spot_pv * ndtr(-d1))


class BlackScholesFilter(Enhancement):
    name = "black_scholes_filter"
    keys = settings_keys.black_scholes_filter.KEYS
    toggle = "enable_bsm_filter"
    fatal_key = "bsm_filter_fatal"

    def _rate(self) -> float | None:
        rate = self.settings.bsm_risk_free_rates.get(self.env.identity.JURISDICTION_CODE)
        return None if rate is None else float(rate)

    def evaluate(self, signal: Signal, market: MarketContext) -> Outcome:
        quote = market.option_quotes.get(signal.symbol) or signal.context.get("option_quote")
        if quote is None:
            return allow("no option quote: not an option order")
        if not isinstance(quote, OptionQuote):
            return unavailable(
                "quote_invalid", f"option quote for {signal.symbol} has the wrong shape ({type(quote).__name__})"
            )
        rate = self._rate()
        if rate is None:
            return unavailable(
                "rate_missing",
                f"no risk-free rate for jurisdiction {self.env.identity.JURISDICTION_CODE} in BSM_RISK_FREE_RATES",
            )
        if (
            not finite_positive(quote.price, quote.spot, quote.strike, quote.years, quote.vol)
            or quote.dividend_yield < 0
        ):
            return unavailable(
                "quote_invalid", "option quote has a missing, zero or negative field", quote=_quote_ctx(quote)
            )
        model = bsm_price(
            quote.spot, quote.strike, quote.years, rate, quote.vol, quote.option_type, quote.dividend_yield
        )
        if model < 1e-6:
            return block(f"model value {model:.2e} is ~0: deviation undefined", quote=_quote_ctx(quote), rate=rate)
        deviation, limit = abs(quote.price - model) / model, float(self.settings.max_bsm_deviation)
        ctx = {
            "quote": _quote_ctx(quote),
            "model": round(model, 6),
            "rate": rate,
            "deviation": round(deviation, 6),
            "max": limit,
        }
        if deviation > limit:
            return block(
                f"quote {quote.price:.4f} deviates {deviation:.1%} from BSM {model:.4f} (max {limit:.0%})", **ctx
            )
        return allow(f"quote within {deviation:.1%} of BSM {model:.4f}", **ctx)

    def check_ready(self) -> CheckResult:
        code = self.env.identity.JURISDICTION_CODE
        if self._rate() is None:
            return CheckResult.failed(
                self.name,
                f"no risk-free rate for JURISDICTION_CODE {code}",
                f"add {code}:RATE to BSM_RISK_FREE_RATES with `tbot config set`",
            )
        call = bsm_price(100, 100, 1, 0.05, 0.2, "call")
        put = bsm_price(100, 100, 1, 0.05, 0.2, "put")
        if not (abs(call - 10.4506) < 1e-3 and abs(call - put - (100 - 100 * math.exp(-0.05))) < 1e-9):
            return CheckResult.failed(self.name, f"BSM reference value wrong ({call:.4f})", "pricing code is broken")
        return CheckResult.passed(
            self.name, f"rate {self._rate()} for {code}; max deviation {self.settings.max_bsm_deviation}"
        )


def _quote_ctx(quote: OptionQuote) -> dict[str, object]:
    return {
        "type": quote.option_type,
        "price": quote.price,
        "spot": quote.spot,
        "strike": quote.strike,
        "years": quote.years,
        "vol": quote.vol,
        "dividend_yield": quote.dividend_yield,
    }
