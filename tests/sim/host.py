"""What the simulator does to the machine under the core: its time zone, and what power loss leaves on disk.

The core keeps every time in UTC; the host it runs on does not.  A ``dst``
run puts this process in a zone that changes its clocks while the bars are
being traded, so any stray local-time call (``time.localtime``, a naive
``datetime.now()``, ``strftime`` without a zone) would file a bar under a
local day.  The ``utc_days`` invariant then sees a day the bars never had.

A ``torn_wal`` fault is what a crash in the middle of a write leaves: the tail
of a database's write-ahead log holds a frame that was only partly written.
SQLite must discard it on the next open (its frame checksum no longer matches),
and everything the core committed before must still be there and verify.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

WAL_HEADER = 32
FRAME_HEADER = 24


@contextlib.contextmanager
def host_zone(zone: str | None) -> Iterator[None]:
    """This process in ``zone`` (``TZ`` and ``tzset``) for the block; back to what it was after."""
    if zone is None:
        yield
        return
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def tear_wal_tail(db: Path, seed: int, length: int) -> bool:
    """Append a torn copy of the WAL's last frame (a byte changed, cut at ``length``); False if there is no WAL.

    A copy of a real frame keeps the WAL's salt in its header, so SQLite's recovery cannot reject it by the salt
    alone: it has to compute the checksum, as it must after a real torn write.
    """
    wal = db.with_name(db.name + "-wal")
    if not wal.exists() or wal.stat().st_size <= WAL_HEADER:
        return False
    data = wal.read_bytes()
    page_size = int.from_bytes(data[8:12], "big")
    frame = FRAME_HEADER + page_size
    frames = (len(data) - WAL_HEADER) // frame
    if page_size <= 0 or frames <= 0:
        return False
    last = bytearray(data[WAL_HEADER + (frames - 1) * frame : WAL_HEADER + frames * frame])
    rng = random.Random(seed)
    flip = rng.randrange(FRAME_HEADER, len(last))
    last[flip] ^= 0xFF
    last[:4] = (int.from_bytes(last[:4], "big") + 1).to_bytes(4, "big")  # the next page number: a new write
    with wal.open("ab") as out:
        out.write(bytes(last[: max(1, min(length, len(last) - 1))]))
    return True
