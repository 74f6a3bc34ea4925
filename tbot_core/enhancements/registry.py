"""The explicit list of the nine enhancement modules (no folder scanning).

``build_enhancements`` makes one instance of each, in this order; the gate
and the self-check factories both use it, so what is checked at startup is
exactly what filters trades.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from tbot_core.enhancements.adx_filter import AdxFilter
from tbot_core.enhancements.base import Enhancement, EnhancementEnv
from tbot_core.enhancements.black_scholes_filter import BlackScholesFilter
from tbot_core.enhancements.bollinger_confluence import BollingerConfluence
from tbot_core.enhancements.build_check import BuildCheck
from tbot_core.enhancements.finnhub_fundamental_guard import FinnhubFundamentalGuard
from tbot_core.enhancements.imbalance_scanner_ibkr import ImbalanceScannerIbkr
from tbot_core.enhancements.ticker_blocklist import TickerBlocklist
from tbot_core.enhancements.tuning_tracker import TuningTracker
from tbot_core.enhancements.vix_gatekeeper import VixGatekeeper
from tbot_core.home import BotHome
from tbot_core.selfcheck import CheckResult

MODULES: tuple[type[Enhancement], ...] = (
    AdxFilter,
    BlackScholesFilter,
    BollingerConfluence,
    BuildCheck,
    FinnhubFundamentalGuard,
    ImbalanceScannerIbkr,
    TickerBlocklist,
    TuningTracker,
    VixGatekeeper,
)


def build_enhancements(
    env: EnhancementEnv, replace: Mapping[str, Callable[[EnhancementEnv], Enhancement]] | None = None
) -> dict[str, Enhancement]:
    """One instance of each module, in registry order; ``replace`` builds named ones otherwise (tests pass fakes)."""
    replace = replace or {}
    unknown = set(replace) - {cls.name for cls in MODULES}
    if unknown:
        raise ValueError(f"replace: no enhancement module named {sorted(unknown)[0]!r}")
    return {cls.name: replace.get(cls.name, cls)(env) for cls in MODULES}


def env_from_home(home: BotHome) -> EnhancementEnv:
    return EnhancementEnv(
        settings=home.settings, identity=home.identity, paths=home.paths, broker_code=home.settings.broker
    )


def enhancement_checks(home: BotHome) -> list[Enhancement]:
    """Self-check factory ``enhancements``: every module except build_check (its own factory)."""
    return [m for name, m in build_enhancements(env_from_home(home)).items() if name != BuildCheck.name]


def build_check_checks(home: BotHome, prior: Sequence[CheckResult] | None = None) -> list[Enhancement]:
    """Self-check factory ``build_check``: the pre-launch validator, given the earlier stages' results."""
    return [BuildCheck(env_from_home(home), prior)]
