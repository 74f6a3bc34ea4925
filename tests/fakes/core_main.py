"""Run a real ``tbot core`` with test fakes wired in: ``python -m tests.fakes.core_main --home H --fault K=V ...``.

The same supervisor, engine and parts as ``tbot core``; the only difference is
the ``Fakes`` passed to the wiring function.  Faults (all optional):

- ``broker_up_when=PATH``: the broker is unreachable until PATH exists
- ``broker_outage_after_bars=N`` + ``broker_outage_seconds=S``: an outage from bar N for S seconds
- ``feed_stall_after_bars=N``: the feed stops delivering after N bars
- ``engine_fault_at_bar=N``: processing bar N raises a LogicError (every time it is retried)
- ``hang_at_bar=N:SECONDS``: every Nth bar takes SECONDS inside a strategy (a stuck call)
- ``scripted_signal_every=N``: a strategy that buys/sells on every Nth bar
- ``notifier_raises=EVENT[,EVENT]``: ``notify`` raises for these events
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tbot_core.home import BotHome
from tbot_core.runtime.supervisor import run_core
from tbot_core.runtime.wiring import Fakes
from tests.fakes.faults import FaultAtBar, FlakyBroker, HangAtBar, RaisingNotifier, ScriptedStrategy, StallingFeed

KNOWN = {
    "broker_up_when",
    "broker_outage_after_bars",
    "broker_outage_seconds",
    "feed_stall_after_bars",
    "engine_fault_at_bar",
    "hang_at_bar",
    "scripted_signal_every",
    "notifier_raises",
}


def fakes_from(faults: dict[str, str]) -> Fakes:
    unknown = set(faults) - KNOWN
    if unknown:
        raise SystemExit(f"unknown fault(s) {', '.join(sorted(unknown))}; expected some of {', '.join(sorted(KNOWN))}")
    kwargs: dict = {}
    up_when = faults.get("broker_up_when")
    after, seconds = int(faults.get("broker_outage_after_bars", 0)), float(faults.get("broker_outage_seconds", 0))
    if up_when or after:
        kwargs["broker"] = lambda b: FlakyBroker(
            b, up_when=Path(up_when) if up_when else None, after_bars=after, seconds=seconds
        )
    if "feed_stall_after_bars" in faults:
        stall = int(faults["feed_stall_after_bars"])
        kwargs["feed"] = lambda f: StallingFeed(f, stall)
    if "notifier_raises" in faults:
        events = set(faults["notifier_raises"].split(","))
        kwargs["notifier"] = lambda n: RaisingNotifier(n, events)
    extra = []
    if "engine_fault_at_bar" in faults:
        at = int(faults["engine_fault_at_bar"])
        extra.append(lambda: FaultAtBar(at))
    if "hang_at_bar" in faults:
        n, secs = faults["hang_at_bar"].split(":")
        extra.append(lambda: HangAtBar(int(n), float(secs)))
    if "scripted_signal_every" in faults:
        every = int(faults["scripted_signal_every"])
        extra.append(lambda: ScriptedStrategy(every))
    if extra:
        kwargs["strategies"] = lambda _settings: [make() for make in extra]
    return Fakes(**kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.core_main")
    parser.add_argument("--home", required=True)
    parser.add_argument("--fault", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    faults = dict(item.split("=", 1) for item in args.fault)
    home = BotHome(args.home)
    home.require_exists()
    return run_core(home, fakes_from(faults))


if __name__ == "__main__":
    sys.exit(main())
