"""Centralized error capture: classify, log, retry with backoff, escalate by flags.

Every failure becomes one of the seed's four classes (NetworkError,
BrokerError, LogicError, ConfigError) and a structured entry — timestamp_utc,
strategy, broker, error_type, error_code, exception_repr (sanitized), context —
in ``unresolved_orders.log`` (order failures) and the system log, in the
configured CSV/JSON format.  Transient network errors are retried with
exponential backoff and full jitter up to ``API_RETRY_LIMIT``.  Escalation
never kills a process: it writes a control flag (``kill`` or ``stop``, source
``system``) and the supervisor acts on it.  The flag's reason starts with the
emergency-matrix key so the supervisor applies that row's restart policy.
"""

from __future__ import annotations

import csv
import io
import json
import random
import threading
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

from tbot_core.config import Settings
from tbot_core.control import Operator, write_flag
from tbot_core.errors import BrokerError, ConfigError, LogicError, NetworkError, SecurityError
from tbot_core.runtime.context import CoreContext
from tbot_core.sanitize import sanitize, scrub
from tbot_core.selfcheck import CheckResult
from tbot_core.timeutil import iso_z

T = TypeVar("T")
FIELDS = ("timestamp_utc", "strategy", "broker", "error_type", "error_code", "exception_repr", "context")
SYSTEM_OPERATOR = Operator("tbot-core", None)


def classify(exc: BaseException) -> str:
    if isinstance(exc, (NetworkError, ConnectionError, TimeoutError)):
        return "NetworkError"
    if isinstance(exc, BrokerError):
        return "BrokerError"
    if isinstance(exc, (ConfigError, SecurityError)):
        return "ConfigError"
    return "LogicError"


def error_code(exc: BaseException) -> str:
    return type(exc).__name__


class ErrorHandler:
    name = "error_handler"

    def __init__(self, ctx: CoreContext, *, broker_code: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self.ctx = ctx
        self.broker_code = broker_code
        self.sleep = sleep
        self.path: Path = ctx.paths.unresolved_orders_log(ctx.identity.BOT_IDENTITY)
        self.fmt = ctx.settings.log_format
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def record(self, exc: BaseException, *, strategy: str = "", context: dict[str, Any] | None = None,
               order: bool = False) -> dict[str, Any]:
        entry = {"timestamp_utc": iso_z(), "strategy": strategy, "broker": self.broker_code, "error_type": classify(exc),
                 "error_code": error_code(exc), "exception_repr": scrub(repr(exc))[:500], "context": sanitize(context or {})}
        self.counts[entry["error_type"]] = self.counts.get(entry["error_type"], 0) + 1
        if order:
            self._append(entry)
        # The system log carries the same structured entry (its own timestamp_utc column, the rest in context).
        self.ctx.syslog.error("error_handler", f"{entry['error_type']}: {entry['exception_repr']}",
                              **{name: entry[name] for name in FIELDS[1:]})
        return entry

    def retry(self, func: Callable[[], T], *, what: str, strategy: str = "", context: dict[str, Any] | None = None) -> T:
        """Call ``func``; retry NetworkErrors with backoff + jitter up to API_RETRY_LIMIT, then re-raise."""
        s = self.ctx.settings
        attempt = 0
        while True:
            try:
                return func()
            except Exception as exc:  # noqa: BLE001 - classified below; non-network errors re-raise at once
                if classify(exc) != "NetworkError" or attempt >= s.api_retry_limit:
                    raise
                attempt += 1
                ceiling = min(float(s.api_retry_max_seconds), float(s.api_retry_base_seconds) * 2 ** (attempt - 1))
                delay = random.uniform(ceiling / 2, ceiling)
                self.ctx.syslog.warning("error_handler", f"{what}: {classify(exc)} ({error_code(exc)}); "
                                        f"retry {attempt}/{s.api_retry_limit} in {delay:.2f}s", strategy=strategy,
                                        **(context or {}))
                self.sleep(delay)

    def escalate(self, flag: str, matrix_key: str, cause: str) -> None:
        """Ask the supervisor for a kill or a supervised stop by writing a control flag."""
        reason = f"{matrix_key}: {scrub(cause)}"[:480]
        write_flag(self.ctx.paths, flag, reason=reason, source="system", operator=SYSTEM_OPERATOR)
        self.ctx.audit.append("error_handler", "escalated", {"flag": flag, "matrix_row": matrix_key, "cause": reason},
                              severity="critical")
        self.ctx.syslog.error("error_handler", f"escalated: wrote control_{flag}.flag ({reason})")

    def self_check(self) -> CheckResult:
        return unresolved_log_result(self.path, self.ctx.settings)

    def _append(self, entry: dict[str, Any]) -> None:
        if self.fmt == "JSON":
            line = json.dumps(entry, sort_keys=True, default=str) + "\n"
        else:
            buf = io.StringIO()
            csv.writer(buf).writerow([entry[f] if f != "context" else json.dumps(entry[f], sort_keys=True, default=str)
                                      for f in FIELDS])
            line = buf.getvalue()
        with self._lock:
            new = not self.path.exists() or self.path.stat().st_size == 0
            with open(self.path, "a", encoding="utf-8") as handle:
                if new and self.fmt == "CSV":
                    handle.write(",".join(FIELDS) + "\n")
                handle.write(line)


def unresolved_log_result(path: Path, settings: Settings) -> CheckResult:
    """The error handler's self-check: its unresolved-orders log can be appended to."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        return CheckResult.failed(ErrorHandler.name, f"{path.name}: not writable ({exc.strerror})",
                                  "check the permissions of output/<BOT_IDENTITY>/logs/")
    return CheckResult.passed(ErrorHandler.name, f"{path.name} writable ({settings.log_format}); retry limit {settings.api_retry_limit}")
