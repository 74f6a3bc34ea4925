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

What to do about a failure is not decided here but in ``escalation.POLICY``
(class x place -> retry, log, suspend, supervised stop, kill switch):
``retry`` retries only what the policy's row says is worth retrying, and
``handle`` performs the row's decisive action and returns it.  Every backoff is
full jitter capped by ``API_RETRY_MAX_SECONDS``, and every wait goes through an
interruptible ``wait`` so a kill or stop is honoured mid-backoff.
"""

from __future__ import annotations

import csv
import io
import json
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tbot_core.config import Settings
from tbot_core.context import CoreContext
from tbot_core.control import Operator, write_flag
from tbot_core.errors import BrokerError, ConfigError, NetworkError, SecurityError
from tbot_core.safety.escalation import Action, Rule, lookup
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


def _attr(exc: BaseException, name: str) -> Any:
    """An attribute that may be a property that raises (alpaca's ``APIError.code`` parses JSON)."""
    try:
        return getattr(exc, name, None)
    except Exception:
        return None


def error_code(exc: BaseException) -> str:
    """The broker's, HTTP or IB code the exception carries (``"429"``, ``"201"``), else its class name.

    An alpaca ``APIError``'s HTTP status wins over the code in its JSON body: the
    status is what decides retry or not.
    """
    for name in ("status_code", "code", "errorCode"):
        value = _attr(exc, name)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int) or (isinstance(value, str) and value.strip()):
            return scrub(str(value).strip())[:32]
    return type(exc).__name__


def _one_line(exc: BaseException) -> str:
    text = exc.one_line() if hasattr(exc, "one_line") else f"{type(exc).__name__}: {exc}"
    return scrub(" ".join(str(text).split()))


class ErrorHandler:
    name = "error_handler"

    def __init__(
        self,
        ctx: CoreContext,
        *,
        broker_code: str,
        sleep: Callable[[float], None] = time.sleep,
        on_suspend: Callable[[str], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.ctx = ctx
        self.broker_code = broker_code
        self.sleep = sleep
        self.on_suspend = on_suspend  # None: a "suspend" escalates to a supervised stop instead (fail closed)
        self._rng = rng or random.Random()
        self.path: Path = ctx.paths.unresolved_orders_log(ctx.identity.BOT_IDENTITY)
        self.fmt = ctx.settings.log_format
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def record(
        self, exc: BaseException, *, strategy: str = "", context: dict[str, Any] | None = None, order: bool = False
    ) -> dict[str, Any]:
        entry = {
            "timestamp_utc": iso_z(),
            "strategy": strategy,
            "broker": self.broker_code,
            "error_type": classify(exc),
            "error_code": error_code(exc),
            "exception_repr": scrub(repr(exc))[:500],
            "context": sanitize(context or {}),
        }
        self.counts[entry["error_type"]] = self.counts.get(entry["error_type"], 0) + 1
        if order:
            self._append(entry)
        # The system log carries the same structured entry (its own timestamp_utc column, the rest in context).
        self.ctx.syslog.error(
            "error_handler",
            f"{entry['error_type']}: {entry['exception_repr']}",
            **{name: entry[name] for name in FIELDS[1:]},
        )
        return entry

    def backoff(self, attempt: int) -> float:
        """Delay before retry ``attempt`` (1, 2, ...): full jitter over base * 2**(attempt-1), capped.

        Full jitter (uniform from 0) spreads retries of many callers apart; the cap
        ``API_RETRY_MAX_SECONDS`` bounds every wait whatever the base and attempt.
        """
        s = self.ctx.settings
        cap = max(0.0, float(s.api_retry_max_seconds))
        ceiling = min(cap, float(s.api_retry_base_seconds) * 2.0 ** min(max(attempt, 1) - 1, 64))
        return min(cap, self._rng.uniform(0.0, ceiling))

    def retry(
        self,
        func: Callable[[], T],
        *,
        what: str,
        where: str | None = None,
        strategy: str = "",
        context: dict[str, Any] | None = None,
        wait: Callable[[float], bool] | None = None,
        should_abort: Callable[[], bool] | None = None,
    ) -> T:
        """Call ``func``; retry what the policy says is retryable, up to API_RETRY_LIMIT, then re-raise.

        With ``where`` the policy row for (class, where) decides whether a failure is
        retried; without it only NetworkErrors are.  ``should_abort()`` is checked
        before each retry and ``wait(delay)`` returning True (``threading.Event.wait``
        once the event is set) gives up at once: the last error is re-raised, so a
        kill or stop never waits out a backoff.
        """
        limit = self.ctx.settings.api_retry_limit
        attempt = 0
        while True:
            try:
                return func()
            except Exception as exc:
                kind = classify(exc)
                retryable = lookup(kind, where).first is Action.RETRY if where else kind == "NetworkError"
                if not retryable or attempt >= limit or (should_abort is not None and should_abort()):
                    raise
                attempt += 1
                delay = self.backoff(attempt)
                self.ctx.syslog.warning(
                    "error_handler",
                    f"{what}: {kind} ({error_code(exc)}); retry {attempt}/{limit} in {delay:.2f}s",
                    strategy=strategy,
                    **sanitize(context or {}),
                )
                if self._wait(wait, delay) or (should_abort is not None and should_abort()):
                    raise

    def _wait(self, wait: Callable[[float], bool] | None, delay: float) -> bool:
        if wait is not None:
            return bool(wait(delay))
        self.sleep(delay)
        return False

    def handle(
        self,
        exc: BaseException,
        *,
        where: str,
        strategy: str = "",
        context: dict[str, Any] | None = None,
        order: bool = False,
        exhausted: bool = True,
    ) -> Action:
        """Record ``exc``, act on the policy row for (its class, ``where``) and return the action taken.

        ``exhausted`` (default) means the caller's retries are over, so a retry row's
        "after retries" action is performed; ``exhausted=False`` on a retry row only
        records and returns ``Action.RETRY``.  ``Action.stops_engine`` tells the caller
        to stop; ``log``/``suspend`` let it go on (a suspended broker takes no orders).
        """
        kind = classify(exc)
        rule = lookup(kind, where)
        action = rule.after if exhausted else rule.first
        self.record(
            exc, strategy=strategy, context={**(context or {}), "where": where, "action": action.value}, order=order
        )
        if action in (Action.RETRY, Action.LOG):
            return action
        cause = (
            f"{kind} ({error_code(exc)}) at {where}"
            + (" after retries" if rule.first is Action.RETRY else "")
            + f": {_one_line(exc)}"
        )
        if action is Action.SUSPEND:
            return self._suspend(rule, cause)
        self.escalate("kill" if action is Action.KILL_SWITCH else "stop", rule.matrix_key, cause)
        return action

    def _suspend(self, rule: Rule, cause: str) -> Action:
        """Suspend through the supervisor's callback; without one (or if it fails) stop instead: fail closed."""
        if self.on_suspend is not None:
            try:
                self.on_suspend(f"{rule.matrix_key}: {cause}"[:480])
            except Exception as exc:
                cause = f"{cause}; suspend failed ({type(exc).__name__})"
            else:
                self.ctx.audit.append(
                    "error_handler",
                    "escalated",
                    {"action": "suspend", "matrix_row": rule.matrix_key, "cause": scrub(cause)[:480]},
                    severity="critical",
                )
                return Action.SUSPEND
        self.escalate("stop", rule.matrix_key, cause)
        return Action.SUPERVISED_STOP

    def escalate(self, flag: str, matrix_key: str, cause: str) -> None:
        """Ask the supervisor for a kill or a supervised stop by writing a control flag."""
        reason = f"{matrix_key}: {scrub(cause)}"[:480]
        write_flag(self.ctx.paths, flag, reason=reason, source="system", operator=SYSTEM_OPERATOR)
        self.ctx.audit.append(
            "error_handler",
            "escalated",
            {
                "action": "kill_switch" if flag == "kill" else "supervised_stop",
                "flag": flag,
                "matrix_row": matrix_key,
                "cause": reason,
            },
            severity="critical",
        )
        self.ctx.syslog.error("error_handler", f"escalated: control flag {flag} ({reason})")

    def self_check(self) -> CheckResult:
        return unresolved_log_result(self.path, self.ctx.settings)

    def _append(self, entry: dict[str, Any]) -> None:
        if self.fmt == "JSON":
            line = json.dumps(entry, sort_keys=True, default=str) + "\n"
        else:
            buf = io.StringIO()
            csv.writer(buf).writerow(
                [entry[f] if f != "context" else json.dumps(entry[f], sort_keys=True, default=str) for f in FIELDS]
            )
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
        return CheckResult.failed(
            ErrorHandler.name,
            f"{path.name}: not writable ({exc.strerror})",
            "check the permissions of output/<BOT_IDENTITY>/logs/",
        )
    return CheckResult.passed(
        ErrorHandler.name, f"{path.name} writable ({settings.log_format}); retry limit {settings.api_retry_limit}"
    )
