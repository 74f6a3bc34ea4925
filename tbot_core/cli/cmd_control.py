"""``tbot control start|stop|kill|reset|defense-on|defense-off|ack-mismatch|status``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tbot_core.cli.common import add_home_option, open_home, table
from tbot_core.control import flag_path, pending, write_flag
from tbot_core.errors import TbotError
from tbot_core.runtime.lock import holder
from tbot_core.state import read_state

ACTIONS = {
    "start": "start",
    "stop": "stop",
    "kill": "kill",
    "reset": "reset",
    "defense-on": "defense_on",
    "defense-off": "defense_off",
    "ack-mismatch": "ack_mismatch",
}
HELP = {
    "ack-mismatch": "accept the broker-vs-books mismatch that blocks new entries (see state.json broker_mismatch)",
}


def register(sub: argparse._SubParsersAction) -> None:
    control = sub.add_parser("control", help="write a control flag for the core, or show its status")
    inner = control.add_subparsers(dest="control_command", metavar="ACTION")
    inner.required = True
    for action, flag in ACTIONS.items():
        p = inner.add_parser(
            action, help=HELP.get(action, f"request {action}") + f" (writes control/control_{flag}.STAMP.NONCE.flag)"
        )
        add_home_option(p)
        p.add_argument("--reason", default="", help="why (required for kill and reset)")
        p.set_defaults(handler=cmd_flag, flag=flag)
    status = inner.add_parser("status", help="core process, mode and pending flags")
    add_home_option(status)
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_status)


def cmd_flag(args: argparse.Namespace) -> int:
    home = open_home(args)
    if not home.paths.control_dir.is_dir():
        raise TbotError("control/: not found", hint="run `tbot init` first")
    record = write_flag(home.paths, args.flag, reason=args.reason, source="cli")
    print(
        f"wrote control/{flag_path(home.paths, record).name} for {record.operator.describe()} at {record.requested_utc}; "
        "the core acknowledges it in the audit log"
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    home = open_home(args)
    lock = holder(home.paths.core_lock)
    read = read_state(home.paths.state_file)
    info: dict[str, Any] = {
        "core": "running" if lock else "not running",
        "pid": (lock or {}).get("pid"),
        "mode": read.state.mode.value if read.state else None,
        "state_file": read.status,
        "problem": read.problem,
        "pending_flags": pending(home.paths),
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        shown = {**info, "pending_flags": ", ".join(info["pending_flags"])}  # every request, in handling order
        print(table(["field", "value"], [(k, v if v not in (None, "") else "-") for k, v in shown.items()]))
    return 0
