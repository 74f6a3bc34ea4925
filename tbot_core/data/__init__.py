"""Market and reference data sources: replay (default), Alpaca, IBKR, Finnhub."""
