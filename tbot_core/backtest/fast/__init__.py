"""The fast engine: the bar engine's decisions, made at array speed and checked only where they can happen.

The bar engine (``backtest/live.py``) runs the core's ``Engine`` bar by bar.
This package gives the same fills without touching every bar in Python:

* ``timeline``: per symbol the NYSE session of every bar (vectorised), the
  feed's global bar order, the marks in cents and the replayed VIX;
* ``exact``: the indicators the strategies decide on, computed over whole
  arrays with the very floating-point operations of ``tbot_core.indicators``'
  incremental classes (so a comparison at a threshold goes the same way);
* ``open_rule``, ``mid_rule``, ``close_rule``: each strategy's entry and exit
  conditions as arrays of candidate bars (the strategy's ``decide`` in array form);
* ``account`` and ``daily_loss``: the paper broker's fill rule and the kill
  switch's daily-loss check, the latter over whole stretches of bars at once;
* ``loop``: the path-dependent part (ticker blocklist, positions owned per
  strategy, risk sizing, kill switch, flat-before-close exits) in one loop over
  candidate events only, through the real ``Gate``, ``MarketData`` and ``RiskBot``.
"""
