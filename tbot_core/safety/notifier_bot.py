"""Alerts on critical events by SMTP and webhook, with credentials from the secret store.

Sending happens on a background thread: a slow or dead mail server must never
hold up the engine or a halt.  A channel without credentials is simply not
configured (logged once); a failed send is logged, never raised.  The message
carries a minimal, sanitized context: event, severity, UTC time, bot identity
and a short cause — no account numbers, no secrets.
"""

from __future__ import annotations

import json
import queue
import smtplib
import threading
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from tbot_core.sanitize import register_secret, sanitize, scrub
from tbot_core.selfcheck import CheckResult
from tbot_core.syslog import SystemLog
from tbot_core.timeutil import iso_z

CredentialLoader = Callable[[str], "dict[str, Any] | None"]
CHANNELS = ("notifier_smtp", "notifier_webhook")
MAX_CONTEXT_CHARS = 300


def secret_store_loader(home: Any) -> CredentialLoader:
    """Credentials from ``SecretStore(home)``; a missing secret or store means "not configured"."""

    def load(name: str) -> dict[str, Any] | None:
        from tbot_core.secrets.store import SecretStore  # here: the vault loads only when an alert is sent

        try:
            value = SecretStore(home).get(name)
        except Exception:
            return None
        return value if isinstance(value, dict) else None

    return load


class Notifier:
    name = "notifier_bot"

    def __init__(
        self,
        loader: CredentialLoader,
        syslog: SystemLog,
        *,
        bot_identity: str,
        enabled: bool = True,
        timeout_s: float = 5.0,
    ) -> None:
        self.loader = loader
        self.syslog = syslog
        self.bot_identity = bot_identity
        self.enabled = enabled
        self.timeout_s = timeout_s
        self.sent = 0
        self.failed = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._creds: dict[str, dict[str, Any] | None] = {}
        self._death = ""

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        """Start the sending thread, or start it again after it died (the supervisor does that once)."""
        if self._thread is None or not self._thread.is_alive():
            self._death = ""
            self._thread = threading.Thread(target=self._guarded_run, name="notifier", daemon=True)
            self._thread.start()

    def died_of(self) -> str:
        """Why the sending thread ended unasked ("" while it runs, or before it was ever needed)."""
        thread = self._thread
        if thread is None or thread.is_alive():
            return ""
        return self._death or "thread ended"

    def close(self, timeout_s: float = 10.0) -> None:
        """Send what is queued (bounded wait), then stop."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout_s)
            self._thread = None

    # -- API -----------------------------------------------------------------------------
    def notify(self, event: str, cause: str, *, severity: str = "critical", **context: Any) -> None:
        if not self.enabled:
            return
        self.start()
        self._queue.put(
            {
                "event": event,
                "severity": severity,
                "bot_identity": self.bot_identity,
                "utc": iso_z(),
                "cause": scrub(cause)[:MAX_CONTEXT_CHARS],
                "context": _small(sanitize(context)),
            }
        )

    def configured(self) -> list[str]:
        return [name for name in CHANNELS if self._credentials(name)]

    def self_check(self) -> CheckResult:
        channels = self.configured()
        detail = f"channels: {', '.join(channels)}" if channels else "no channel configured (alerts only in the logs)"
        return CheckResult.passed(self.name, detail if self.enabled else "disabled by NOTIFY_ON_CRITICAL=false")

    # -- sending ---------------------------------------------------------------------------
    def _guarded_run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # the supervisor sees the dead thread (died_of) and restarts it once
            self._death = f"{type(exc).__name__}: {scrub(str(exc))[:200]}"
            raise

    def _run(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                return
            channels = [
                (name, send, self._credentials(name))
                for name, send in (("notifier_smtp", self._send_smtp), ("notifier_webhook", self._send_webhook))
            ]
            message = sanitize(message)  # again, now that the channel secrets are registered for scrubbing
            for name, send, creds in channels:
                if not creds:
                    continue
                try:
                    send(creds, message)
                    self.sent += 1
                except Exception as exc:
                    self.failed += 1
                    self.syslog.error(
                        "notifier_bot",
                        f"{name}: send failed: {type(exc).__name__}: {scrub(str(exc))[:200]}",
                        event=message["event"],
                    )

    def _credentials(self, name: str) -> dict[str, Any] | None:
        if name not in self._creds:
            creds = self.loader(name)
            for key in ("password", "token"):
                if creds and creds.get(key):
                    register_secret(creds[key])
            self._creds[name] = creds
            if not creds:
                self.syslog.info("notifier_bot", f"{name}: not configured")
        return self._creds[name]

    def _send_smtp(self, creds: dict[str, Any], message: dict[str, Any]) -> None:
        mail = EmailMessage()
        mail["Subject"] = f"[TradeBot {message['bot_identity']}] {message['severity'].upper()}: {message['event']}"
        mail["From"] = str(creds["from"])
        to = creds["to"]
        mail["To"] = ", ".join(to) if isinstance(to, list) else str(to)
        mail.set_content(json.dumps(message, indent=2, sort_keys=True))
        with smtplib.SMTP(str(creds["host"]), int(creds["port"]), timeout=self.timeout_s) as smtp:
            if _truthy(creds.get("starttls")):
                smtp.starttls()
            if creds.get("username"):
                smtp.login(str(creds["username"]), str(creds.get("password", "")))
            smtp.send_message(mail)

    def _send_webhook(self, creds: dict[str, Any], message: dict[str, Any]) -> None:
        headers = {"Content-Type": "application/json"}
        if creds.get("token"):
            headers["Authorization"] = f"Bearer {creds['token']}"
        request = urllib.request.Request(
            str(creds["url"]), data=json.dumps(message).encode(), headers=headers, method="POST"
        )
        # urllib raises HTTPError for any answer outside 2xx (after following a redirect), so a
        # response that comes back at all was accepted: there is no status left to check here.
        with urllib.request.urlopen(request, timeout=self.timeout_s):
            pass


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"true", "1", "yes", "on"}


def _small(context: Any) -> Any:
    text = json.dumps(context, default=str)
    return context if len(text) <= MAX_CONTEXT_CHARS else {"summary": text[:MAX_CONTEXT_CHARS]}
