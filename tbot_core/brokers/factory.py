"""Build the configured broker.  Real adapters are imported by name, lazily,
so the paper default never loads an SDK and a missing adapter is a clear error."""

from __future__ import annotations

import importlib
from typing import Any

from tbot_core.brokers.base import Broker
from tbot_core.config import Settings
from tbot_core.core_store import CoreStore
from tbot_core.errors import ConfigError
from tbot_core.home import BotHome

# BROKER value -> (module, factory function taking (home, settings)).
ADAPTERS = {
    "alpaca": ("tbot_core.brokers.alpaca", "make_alpaca_broker"),
    "ibkr": ("tbot_core.brokers.ibkr", "make_ibkr_broker"),
}


def make_broker(home: BotHome, settings: Settings, *, store: CoreStore | None = None) -> Broker:
    if settings.broker == "paper":
        from tbot_core.brokers.paper import PaperBroker

        return PaperBroker(store or CoreStore(home.paths.core_db), settings)
    return load_adapter(ADAPTERS, home, settings, "adapter")


def load_adapter(table: dict[str, tuple[str, str]], home: BotHome, settings: Settings, what: str) -> Any:
    """Import ``table[BROKER]``'s module by name and call its factory with (home, settings)."""
    module_name, func_name = table[settings.broker]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ConfigError(
            f"BROKER={settings.broker}: {what} module {module_name} is not installed",
            hint="use BROKER=paper, or install the adapter",
        ) from None
    return getattr(module, func_name)(home, settings)
