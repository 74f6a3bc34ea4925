"""Backtesting: the live engine (default) or the array-speed fast path over CSV history; writes only its outputs."""
