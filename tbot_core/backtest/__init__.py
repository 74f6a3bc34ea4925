"""Backtesting: the live strategies and filters over CSV history; no broker, ledger or database."""
