"""``python -m tbot_core``: run the headless core (the supervisor) for a bot home."""

from __future__ import annotations

import sys

from tbot_core.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["core", *sys.argv[1:]]))
