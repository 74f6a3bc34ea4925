"""Broker adapters: paper (default), Alpaca, Interactive Brokers. One interface in ``base.py``."""
