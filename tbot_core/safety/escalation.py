"""The error-escalation policy as data: error class x where it happened -> action.

The seed's error handler "classifies -> retry/backoff; escalates to kill_switch
or supervised stop if unrecoverable".  This table says exactly what that means
for each of its four classes at each place the core can fail, so the engine,
the supervisor, the README and the tests read one source.  A cell has the first
action and the action once ``API_RETRY_LIMIT`` retries are exhausted (the same
action when the first one is not a retry), the Emergency Event Matrix row the
escalation names (its Reboot column decides whether a supervised stop restarts
the engine), and a one-line reason for the choice.

Lookups fail closed: a place this table does not know gets ``FALLBACK``, a
supervised stop, never a silent "log".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tbot_core.emergency import matrix_row


class Action(StrEnum):
    """What the core does about one failure, from mildest to strictest."""

    RETRY = "retry"  # back off (capped) and try again; the caller goes on
    LOG = "log"  # recorded only; this trade or step is skipped, trading goes on
    SUSPEND = "suspend"  # broker suspended: no orders until the watchdog sees it answer
    SUPERVISED_STOP = "supervised_stop"  # stop flag with a matrix key: controlled stop, restart per the matrix
    KILL_SWITCH = "kill_switch"  # kill flag: halt, cancel open orders, operator reset required

    @property
    def stops_engine(self) -> bool:
        """True when the caller must stop processing (the supervisor takes over)."""
        return self in (Action.SUPERVISED_STOP, Action.KILL_SWITCH)


ERROR_CLASSES = ("NetworkError", "BrokerError", "LogicError", "ConfigError")
PLACES = ("order_submit", "order_submit_exposed", "bar", "feed", "broker_probe", "notifier", "ledger_post", "startup")
PLACE_MEANING = {
    "order_submit": "submitting an order with no open exposure in its symbol (an entry)",
    "order_submit_exposed": "submitting an order while a position is open in its symbol, or any exit",
    "bar": "processing one bar (strategies, filters, risk, broker reads)",
    "feed": "the market-data feed itself (iteration ended with an error)",
    "broker_probe": "the watchdog's broker heartbeat (retries are its next probes up to WATCHDOG_BROKER_TIMEOUT_SECONDS)",
    "notifier": "sending an SMTP/webhook alert",
    "ledger_post": "posting broker activity to the ledger",
    "startup": "building the core's parts before the engine starts",
}


@dataclass(frozen=True)
class Rule:
    first: Action
    after: Action  # once retries are exhausted; equals ``first`` when ``first`` is not RETRY
    matrix_key: str  # Emergency Event Matrix row named in the flag's reason ("" for retry/log only)
    why: str

    @property
    def restarts(self) -> bool:
        """For a supervised stop: does the matrix row's Reboot column restart the engine?"""
        return bool(self.matrix_key) and matrix_row(self.matrix_key).reboot


R, L, S, STOP, KILL = Action.RETRY, Action.LOG, Action.SUSPEND, Action.SUPERVISED_STOP, Action.KILL_SWITCH
# ConfigError at runtime means keys revoked or a setting the broker refuses: restarting cannot fix it, so the
# stop names "validation_fail" (Validation Fail (risk/config), Reboot: No).
_CONFIG = Rule(
    STOP, STOP, "validation_fail", "credentials revoked or config refused: a restart cannot fix it; stop, no restart"
)

POLICY: dict[tuple[str, str], Rule] = {
    # -- order_submit: an entry, nothing open in the symbol --------------------------------------------------
    ("NetworkError", "order_submit"): Rule(
        R,
        S,
        "broker_down",
        "transient until API_RETRY_LIMIT; then treat the broker as down: no orders until the watchdog sees it answer",
    ),
    ("BrokerError", "order_submit"): Rule(
        L, L, "", "the broker refused this entry (e.g. 422, IB 201); nothing is open, so skip the trade and log it"
    ),
    ("LogicError", "order_submit"): Rule(
        STOP,
        STOP,
        "logic_error",
        "a bug in our order path; never resubmit blindly; controlled stop, restart per matrix",
    ),
    ("ConfigError", "order_submit"): _CONFIG,
    # -- order_submit_exposed: an exit, or an order in a symbol with an open position ---------------------------
    ("NetworkError", "order_submit_exposed"): Rule(
        R,
        KILL,
        "daily_loss",
        "open risk cannot be managed once retries fail; suspend would resume with the exit lost: halt and notify",
    ),
    ("BrokerError", "order_submit_exposed"): Rule(
        R,
        KILL,
        "daily_loss",
        "a refused exit may be transient (pending cancel); still refused = unmanaged exposure: kill switch",
    ),
    ("LogicError", "order_submit_exposed"): Rule(
        KILL, KILL, "daily_loss", "a bug while managing open risk: a restart could loop on it; halt, operator resets"
    ),
    ("ConfigError", "order_submit_exposed"): _CONFIG,
    # -- bar: processing one bar -------------------------------------------------------------------------------
    ("NetworkError", "bar"): Rule(
        R,
        S,
        "broker_down",
        "a broker read failed on every retry: broker down per the matrix; suspend, the engine goes on",
    ),
    ("BrokerError", "bar"): Rule(
        R, STOP, "logic_error", "the broker keeps answering what we cannot use; controlled stop, restart per matrix"
    ),
    ("LogicError", "bar"): Rule(
        R, STOP, "logic_error", "matrix Logic Error row: classify, retry/backoff, then controlled stop (Reboot: Yes)"
    ),
    ("ConfigError", "bar"): _CONFIG,
    # -- feed: the feed itself failed; the restart (with its budget) is the retry -----------------------------
    ("NetworkError", "feed"): Rule(
        STOP, STOP, "feed_down", "market data down: the matrix says controlled stop (Reboot: Yes)"
    ),
    ("BrokerError", "feed"): Rule(
        STOP, STOP, "feed_down", "the data API refused the feed: market data down, controlled stop"
    ),
    ("LogicError", "feed"): Rule(
        STOP, STOP, "logic_error", "a bug in the feed code: controlled stop, restart per matrix"
    ),
    ("ConfigError", "feed"): _CONFIG,
    # -- broker_probe: the watchdog's heartbeat -------------------------------------------------------------------
    ("NetworkError", "broker_probe"): Rule(
        R, S, "broker_down", "matrix Broker API Down: suspend; the watchdog keeps probing and resumes it"
    ),
    ("BrokerError", "broker_probe"): Rule(
        R, S, "broker_down", "an error answer to a heartbeat is no heartbeat: same as down"
    ),
    ("LogicError", "broker_probe"): Rule(
        R, S, "broker_down", "a probe that cannot decide is a missed heartbeat (fail closed: no orders)"
    ),
    ("ConfigError", "broker_probe"): _CONFIG,
    # -- notifier: alerts never stop trading; the event itself is already audited ---------------------------------
    ("NetworkError", "notifier"): Rule(
        R, L, "", "alert transport down: retry, then log; the audit log still has the event"
    ),
    ("BrokerError", "notifier"): Rule(L, L, "", "not a broker call; log"),
    ("LogicError", "notifier"): Rule(L, L, "", "a broken alert must not turn a warning into an outage; log"),
    ("ConfigError", "notifier"): Rule(
        L, L, "", "bad SMTP/webhook secret is not a trading credential; log (its self-check reports it)"
    ),
    # -- ledger_post: unposted activity stays pending and is posted on the next pass (idempotent by fitid) --------
    ("NetworkError", "ledger_post"): Rule(R, L, "", "activity stays pending and is posted on the next pass; log"),
    ("BrokerError", "ledger_post"): Rule(
        L, L, "", "an activity the broker reports badly stays pending for reconciliation; log"
    ),
    ("LogicError", "ledger_post"): Rule(
        STOP,
        STOP,
        "logic_error",
        "the books refused a group (constraint, imbalance): stop trading rather than trade unbooked",
    ),
    ("ConfigError", "ledger_post"): _CONFIG,
    # -- startup: before the engine runs ---------------------------------------------------------------------------
    ("NetworkError", "startup"): Rule(
        R,
        S,
        "broker_down",
        "broker unreachable at start: start suspended, the watchdog resumes it (DESIGN fail-closed table)",
    ),
    ("BrokerError", "startup"): Rule(
        R, S, "broker_down", "the broker refuses our start-up reads: no orders until it answers properly"
    ),
    ("LogicError", "startup"): Rule(
        STOP, STOP, "logic_error", "a start-up part cannot be built: block, restart per matrix within the budget"
    ),
    ("ConfigError", "startup"): _CONFIG,
}

FALLBACK = Rule(STOP, STOP, "logic_error", "a place the policy does not know: fail closed with a controlled stop")


def lookup(error_type: str, where: str) -> Rule:
    """The rule for one error class at one place; ``FALLBACK`` (a supervised stop) when unknown."""
    return POLICY.get((error_type, where), FALLBACK)


def is_known_place(where: str) -> bool:
    return where in PLACES


def markdown_table() -> str:
    """The policy as the README's Markdown table (one row per place, one column per class)."""
    lines = ["| where | " + " | ".join(ERROR_CLASSES) + " |", "|---|" + "---|" * len(ERROR_CLASSES)]
    for place in PLACES:
        cells = []
        for cls in ERROR_CLASSES:
            rule = POLICY[(cls, place)]
            action = rule.first.value if rule.first is not Action.RETRY else f"retry → {rule.after.value}"
            key = (
                f" ({rule.matrix_key}{', restart' if rule.after is STOP and rule.restarts else ', no restart' if rule.after is STOP else ''})"
                if rule.matrix_key
                else ""
            )
            cells.append(f"**{action}**{key}: {rule.why}")
        lines.append(f"| `{place}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)
