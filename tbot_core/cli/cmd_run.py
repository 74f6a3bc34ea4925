"""``tbot core`` (headless), ``tbot run`` (console over a core it starts if needed), ``tbot tui`` (attach only).

The console is a separate program (``python -m tbot_tui``): the core package
never imports it, and ``tbot run`` hands the terminal over with ``exec``.
A core started by ``tbot run`` is detached into its own session, so closing
the console or losing SSH leaves it trading.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from tbot_core.cli.common import add_home_option, open_home
from tbot_core.errors import TbotError
from tbot_core.runtime.lock import core_running

CORE_START_WAIT_S = 15.0


def register(sub: argparse._SubParsersAction) -> None:
    core = sub.add_parser("core", help="run the headless core (supervisor) in the foreground")
    add_home_option(core)
    core.set_defaults(handler=cmd_core)
    run = sub.add_parser("run", help="open the console; start a detached core first if none is running")
    add_home_option(run)
    run.add_argument("--no-console", action="store_true", help="only make sure the core is running")
    run.add_argument("--theme", help="console theme, e.g. textual-dark, nord, gruvbox (default: $TBOT_THEME)")
    run.set_defaults(handler=cmd_run)
    tui = sub.add_parser("tui", help="attach the console to this home (never starts a core)")
    add_home_option(tui)
    tui.add_argument("--theme", help="console theme, e.g. textual-dark, nord, gruvbox (default: $TBOT_THEME)")
    tui.set_defaults(handler=cmd_tui)


def cmd_core(args: argparse.Namespace) -> int:
    from tbot_core.runtime.supervisor import run_core

    home = open_home(args)
    home.require_exists()
    return run_core(home)


def start_detached_core(home_root: str) -> int:
    """Start ``python -m tbot_core`` in its own session; output goes to the home's logs."""
    home = open_home(argparse.Namespace(home=home_root))
    identity = home.identity.BOT_IDENTITY
    logs = home.paths.logs_dir(identity)
    logs.mkdir(parents=True, exist_ok=True)
    with open(home.paths.core_output_log(identity), "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tbot_core", "--home", home_root],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + CORE_START_WAIT_S
    while time.monotonic() < deadline:
        if core_running(home.paths.core_lock):
            return proc.pid
        if proc.poll() is not None:
            raise TbotError(
                f"core exited at start (code {proc.returncode})",
                hint=f"see output/{identity}/logs/core.out and `tbot self-check`",
            )
        time.sleep(0.05)
    raise TbotError("core did not take its lock within 15 s", hint=f"see output/{identity}/logs/core.out")


def cmd_run(args: argparse.Namespace) -> int:
    home = open_home(args)
    home.require_exists()
    root = str(home.paths.root)
    if not core_running(home.paths.core_lock):
        pid = start_detached_core(root)
        print(f"started core (pid {pid}) for {root}")
    if args.no_console:
        return 0
    return exec_console(root, args.theme)


def cmd_tui(args: argparse.Namespace) -> int:
    home = open_home(args)
    return exec_console(str(home.paths.root), args.theme)


def exec_console(root: str, theme: str | None = None) -> int:
    """Hand the terminal to the console (``python -m tbot_tui``); it validates the theme name itself."""
    os.execv(sys.executable, [sys.executable, "-m", "tbot_tui", "--home", root, *(["--theme", theme] if theme else [])])
    return 0  # not reached
