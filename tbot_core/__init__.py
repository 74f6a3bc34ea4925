"""TradeBot safety core: the headless engine. Never imports textual."""

__version__ = "0.1.0"
