"""Helpers shared by the command modules: home options and plain-text tables."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence

from tbot_core.home import BotHome


def add_home_option(parser: argparse.ArgumentParser) -> None:
    """Allow ``--home`` after the subcommand too (``tbot init --home X``)."""
    parser.add_argument("--home", default=argparse.SUPPRESS, help="bot home folder")


def open_home(args: argparse.Namespace) -> BotHome:
    return BotHome(getattr(args, "home", None))


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain fixed-width table (no rich: the core stays light and headless)."""
    body = [[str(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]
    line = lambda cells: "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()  # noqa: E731 - a one-line local helper reads better inline
    out = [line(headers), line(["-" * w for w in widths])]
    out.extend(line(row) for row in body)
    return "\n".join(out)
