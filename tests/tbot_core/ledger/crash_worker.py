"""Subprocess for the crash test: run ``tbot ledger sync`` (in-process CLI) over several files, then exit.

Prints ``ready`` once imports are done so the parent can time its SIGKILL
against actual syncing rather than interpreter start-up.
"""

from __future__ import annotations

import sys

from tbot_core.cli.main import main

if __name__ == "__main__":
    print("ready", flush=True)
    for name in sys.argv[1:]:
        code = main(["ledger", "sync", "--broker", "ALPACA", "--file", name])
        if code != 0:
            sys.exit(code)
    print("done", flush=True)
