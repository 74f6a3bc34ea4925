"""Keys of ``black_scholes_filter``; build_check also reads them to demand a rate for the identity's jurisdiction."""

from __future__ import annotations

from decimal import Decimal

from tbot_core import config_types as t
from tbot_core.settings_keys.key import Key

KEYS: tuple[Key, ...] = (
    Key("ENABLE_BSM_FILTER", True, t.boolean, "black_scholes_filter: check option quotes against BSM"),
    Key("MAX_BSM_DEVIATION", Decimal("0.15"), t.decimal(0, 10), "Reject when |quote-model|/model exceeds this"),
    Key(
        "BSM_RISK_FREE_RATES",
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
    ),
    # Default true: nothing else in the core checks an option's price, and options are leveraged; a quote the
    # filter cannot price (bad quote, no rate) or a failure inside it must not let the order through.
    Key(
        "BSM_FILTER_FATAL",
        True,
        t.boolean,
        "true: a black_scholes_filter failure blocks the order (nothing else checks an option's price)",
    ),
)
