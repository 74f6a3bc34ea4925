"""Minute bars through the IBKR feed path, next to ib_async's own decoder on the same message, in one run.

Run: .venv/bin/python bench/ibkr.py [--bars N]      (default 20,000 bars x 3 rounds, well under 30 s)

Feed path: ``IbkrFeed.history`` against the local TWS-protocol gateway
(``tests.fakes.ib_gateway``) on 127.0.0.1: the request over a real socket,
ib_async's client, decoder and wrapper, and TradeBot's ``bar_from_ib`` into
``tbot_core.bars.Bar`` (sorted, filtered to the window).  The gateway encodes its
answer in the same process, so its time is in the figure too.

Peer: ib_async's ``Decoder.interpret`` on the very fields of that answer, with no
network and a wrapper that only keeps the ``BarData`` (what any ib_async program
pays at least).  Printed: bars/s of each (best of the rounds) and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ib_async import BarData
from ib_async.decoder import Decoder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fakes when run as a script

from tbot_core.brokers.ibkr_session import IbkrEndpoint  # noqa: E402
from tbot_core.data.ibkr import IbkrFeed  # noqa: E402
from tests.fakes import ib_wire  # noqa: E402
from tests.fakes.ib_gateway import ACCOUNT, IbGateway  # noqa: E402

ROUNDS = 3
START = datetime(2025, 1, 6, 14, 30, tzinfo=UTC)


class KeepBars:
    """The least a wrapper can do with decoded bars: keep them."""

    def __init__(self) -> None:
        self.bars: list[BarData] = []

    def historicalData(self, req_id: int, bar: BarData) -> None:  # noqa: N802 (ib_async's callback name)
        self.bars.append(bar)

    def historicalDataEnd(self, req_id: int, start: str, end: str) -> None:  # noqa: N802
        return None


def feed_rate(gw: IbGateway, count: int) -> float:
    endpoint = IbkrEndpoint("127.0.0.1", gw.port, client_id=9, account=ACCOUNT, connect_timeout=10, request_timeout=120)
    feed = IbkrFeed(endpoint, symbols=("AAPL",))
    end = START + timedelta(minutes=count - 1)
    try:
        feed.heartbeat()  # connect outside the timing
        best = 0.0
        for _ in range(ROUNDS):
            began = time.perf_counter()
            bars = feed.history(START, end)
            elapsed = time.perf_counter() - began
            assert len(bars) == count, len(bars)
            best = max(best, count / elapsed)
        return best
    finally:
        feed.close()


def decoder_rate(count: int) -> float:
    """The same answer as the gateway sends it, split into fields once, decoded by ib_async alone."""
    values: list[object] = []
    for i in range(count):
        stamp = str(int((START + timedelta(minutes=i)).timestamp()))
        values += [stamp, "187.25", "187.25", "187.25", "187.25", 1000, "187.25", 1]
    payload = ib_wire.encode(ib_wire.HISTORICAL_DATA, 1, "s", "e", count, *values)[4:]
    fields = payload.decode().split("\0")[:-1]
    best = 0.0
    for _ in range(ROUNDS):
        keep = KeepBars()
        decoder = Decoder(keep, ib_wire.SERVER_VERSION)  # type: ignore[arg-type]  # a wrapper of one callback
        began = time.perf_counter()
        decoder.interpret(list(fields))
        elapsed = time.perf_counter() - began
        assert len(keep.bars) == count
        best = max(best, count / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/ibkr.py")
    parser.add_argument("--bars", type=int, default=20_000, help="bars per request (default 20000)")
    count = parser.parse_args().bars
    with IbGateway() as gw:
        gw.add_bars("AAPL", START, count, price="187.25", step=timedelta(minutes=1))
        feed = feed_rate(gw, count)
    raw = decoder_rate(count)
    print(f"ibkr feed path (gateway -> ib_async -> Bar): {feed:12,.0f} bars/s  ({count:,} bars, best of {ROUNDS})")
    print(f"ib_async Decoder alone, same fields:        {raw:12,.0f} bars/s")
    print(f"ratio feed path / raw decode:               {feed / raw:12.2f}")


if __name__ == "__main__":
    main()
