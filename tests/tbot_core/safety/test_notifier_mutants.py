"""The notifier in-process with real receivers on 127.0.0.1: an aiosmtpd SMTP server that records the login,
an HTTP webhook server (one that answers, one that never does), and the real secret store of a home.

Each test names what an alert must carry or what must happen when a channel fails; the sending thread is the
notifier's own, and ``close`` (which sends what is queued) is how a test waits for it.
"""

from __future__ import annotations

import json
import socket
import threading
from email import message_from_string
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tbot_core.safety.notifier_bot import MAX_CONTEXT_CHARS, Notifier, _small, _truthy, secret_store_loader
from tbot_core.sanitize import scrub
from tbot_core.secrets.store import SecretStore
from tbot_core.syslog import SystemLog
from tests.tbot_core.safety.alert_servers import Inbox, _free_port


def start_webhook() -> tuple[ThreadingHTTPServer, list[dict]]:
    """A webhook receiver recording method, content type, bearer and body; ``?status=N&reason=R`` makes it answer
    N with the reason phrase R."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(
                {
                    "method": self.command,
                    "content_type": self.headers.get("Content-Type"),
                    "auth": self.headers.get("Authorization"),
                    "body": json.loads(body),
                }
            )
            query = parse_qs(urlsplit(self.path).query)
            self.send_response(int(query.get("status", ["204"])[0]), query.get("reason", [None])[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


class Receivers:
    """An SMTP server recording each login and message, and a webhook server recording each POST."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.logins: list[tuple[str, str]] = []

        def authenticate(server, session, envelope, mechanism, auth_data):
            self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
            return AuthResult(success=True)

        self.smtp = Controller(
            self.inbox, hostname="127.0.0.1", port=_free_port(), auth_require_tls=False, authenticator=authenticate
        )
        self.smtp.start()
        self.server, self.hooks = start_webhook()

    def creds(self, **smtp: object) -> dict[str, dict]:
        return {
            "notifier_smtp": {
                "host": "127.0.0.1",
                "port": str(self.smtp.port),
                "from": "bot@example.test",
                "to": "ops@example.test",
                **smtp,
            },
            "notifier_webhook": {"url": f"http://127.0.0.1:{self.server.server_port}/hook"},
        }

    def mails(self):
        return [message_from_string(text) for text in self.inbox.messages]

    def stop(self) -> None:
        self.smtp.stop()
        self.server.shutdown()


@pytest.fixture
def receivers():
    r = Receivers()
    yield r
    r.stop()


def _log(tmp_path) -> SystemLog:
    return SystemLog(tmp_path / "system.log")


def _log_rows(tmp_path) -> list[dict]:
    path = tmp_path / "system.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_an_alert_is_mailed_with_subject_sender_recipients_and_the_message_as_sorted_json(tmp_path, receivers):
    creds = receivers.creds(to=["ops@example.test", "risk@example.test"], username="bot", password="pw-Lq0Tr8sY")
    notifier = Notifier(creds.get, _log(tmp_path), bot_identity="TBOT_T")
    notifier.notify("kill_switch_triggered", "loss over limit", severity="warning", scope="Broker")
    notifier.close()
    (mail,) = receivers.mails()
    assert mail["Subject"] == "[TradeBot TBOT_T] WARNING: kill_switch_triggered"
    assert mail["From"] == "bot@example.test" and mail["To"] == "ops@example.test, risk@example.test"
    body = mail.get_payload()
    message = json.loads(body)
    assert body.replace("\r\n", "\n").strip() == json.dumps(message, indent=2, sort_keys=True)
    assert message["event"] == "kill_switch_triggered" and message["severity"] == "warning"
    assert message["bot_identity"] == "TBOT_T" and message["cause"] == "loss over limit"
    assert message["context"] == {"scope": "Broker"} and message["utc"].endswith("Z")
    assert receivers.logins == [("bot", "pw-Lq0Tr8sY")]
    assert notifier.sent == 2 and notifier.failed == 0


def test_without_a_username_no_login_is_attempted(tmp_path, receivers):
    notifier = Notifier(receivers.creds().get, _log(tmp_path), bot_identity="TBOT_T")
    notifier.notify("broker_suspended", "down")
    notifier.close()
    assert len(receivers.mails()) == 1 and receivers.logins == []
    assert receivers.mails()[0]["Subject"] == "[TradeBot TBOT_T] CRITICAL: broker_suspended"
    assert receivers.mails()[0]["To"] == "ops@example.test"  # a single recipient as given


def test_a_login_without_a_password_sends_an_empty_one(tmp_path, receivers):
    notifier = Notifier(receivers.creds(username="bot").get, _log(tmp_path), bot_identity="TBOT_T")
    notifier.notify("e", "c")
    notifier.close()
    assert receivers.logins == [("bot", "")]


def test_starttls_is_asked_for_when_configured_and_a_server_without_it_fails_the_send(tmp_path, receivers):
    creds = receivers.creds(starttls="yes")
    notifier = Notifier(
        lambda name: creds.get(name) if name == "notifier_smtp" else None, _log(tmp_path), bot_identity="T"
    )
    notifier.notify("e", "c")
    notifier.close()
    assert receivers.mails() == [] and notifier.failed == 1 and notifier.sent == 0
    errors = [r for r in _log_rows(tmp_path) if r["level"] == "error"]
    assert errors[0]["message"].startswith("notifier_smtp: send failed: SMTPNotSupportedError")
    assert errors[0]["context"] == {"event": "e"}


def test_starttls_off_in_any_spelling_sends_in_plain(tmp_path, receivers):
    for value in ("false", "0", "no", "", None):
        creds = receivers.creds(starttls=value)
        notifier = Notifier(creds.get, _log(tmp_path), bot_identity="T")
        notifier.notify("e", "c")
        notifier.close()
        assert notifier.failed == 0, value
    assert len(receivers.mails()) == 5


def test_truthy_spellings():
    assert all(_truthy(v) for v in (True, "true", "TRUE", "1", "yes", "On"))
    assert not any(_truthy(v) for v in (False, None, "false", "0", "no", "off", "", "y"))


def test_the_webhook_gets_the_message_as_json_with_a_bearer_token_only_when_one_is_set(tmp_path, receivers):
    creds = receivers.creds()
    plain = Notifier(lambda n: creds.get(n) if n == "notifier_webhook" else None, _log(tmp_path), bot_identity="T")
    plain.notify("e1", "c1", symbol="SPY")
    plain.close()
    creds["notifier_webhook"]["token"] = "tok-Hq2Wn7aZ"
    signed = Notifier(lambda n: creds.get(n) if n == "notifier_webhook" else None, _log(tmp_path), bot_identity="T")
    signed.notify("e2", "c2")
    signed.close()
    first, second = receivers.hooks
    assert first["auth"] is None and second["auth"] == "Bearer tok-Hq2Wn7aZ"
    assert first["body"]["event"] == "e1" and first["body"]["context"] == {"symbol": "SPY"}
    assert first["content_type"] == "application/json" and first["method"] == "POST"
    assert first["body"]["severity"] == "critical"  # the default: an alert is critical unless told otherwise


def test_a_webhook_refusal_is_counted_and_logged_and_the_next_alert_still_goes_out(tmp_path, receivers):
    creds = receivers.creds()
    creds["notifier_webhook"]["url"] += "?status=500"
    notifier = Notifier(lambda n: creds.get(n) if n == "notifier_webhook" else None, _log(tmp_path), bot_identity="T")
    notifier.notify("first", "c")
    notifier.notify("second", "c")
    notifier.close()
    assert notifier.failed == 2 and notifier.sent == 0
    errors = [r for r in _log_rows(tmp_path) if r["level"] == "error"]
    assert [e["context"]["event"] for e in errors] == ["first", "second"]
    assert errors[0]["message"] == "notifier_webhook: send failed: HTTPError: HTTP Error 500: Internal Server Error"
    assert {e["module"] for e in errors} == {"notifier_bot"}


def test_a_refusals_log_line_carries_the_receivers_answer_cut_to_200_characters(tmp_path, receivers):
    creds = receivers.creds()
    creds["notifier_webhook"]["url"] += "?status=503&reason=" + "r" * 300
    notifier = Notifier(lambda n: creds.get(n) if n == "notifier_webhook" else None, _log(tmp_path), bot_identity="T")
    notifier.notify("e", "c")
    notifier.close()
    (error,) = [r for r in _log_rows(tmp_path) if r["level"] == "error"]
    assert error["message"] == "notifier_webhook: send failed: HTTPError: " + ("HTTP Error 503: " + "r" * 300)[:200]


class Silent:
    """A TCP server that accepts connections and never says a word (a hung mail server or webhook)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for conn in self.conns:
            conn.close()


def test_a_channel_that_never_answers_fails_after_the_notifiers_timeout_instead_of_hanging(tmp_path):
    silent = Silent()
    creds = {
        "notifier_smtp": {"host": "127.0.0.1", "port": silent.port, "from": "a@b.test", "to": "c@d.test"},
        "notifier_webhook": {"url": f"http://127.0.0.1:{silent.port}/hook"},
    }
    notifier = Notifier(creds.get, _log(tmp_path), bot_identity="T", timeout_s=0.3)
    try:
        notifier.notify("e", "c")
        notifier.close(timeout_s=60)
        assert notifier.failed == 2 and notifier.sent == 0
    finally:
        silent.close()


def test_closing_waits_only_as_long_as_asked_for_a_send_that_hangs(tmp_path):
    silent = Silent()
    creds = {"notifier_webhook": {"url": f"http://127.0.0.1:{silent.port}/hook"}}
    notifier = Notifier(creds.get, _log(tmp_path), bot_identity="T", timeout_s=120)
    try:
        notifier.notify("e", "c")
        sending = notifier._thread
        notifier.close(timeout_s=0.2)
        assert sending is not None and sending.is_alive()  # still stuck in the send: close gave up waiting
        assert notifier._thread is None and notifier.sent == 0
    finally:
        silent.close()


def test_an_alert_is_sent_with_a_default_timeout_so_a_hung_server_cannot_hold_it_forever(tmp_path, receivers):
    notifier = Notifier(receivers.creds().get, _log(tmp_path), bot_identity="T")
    assert notifier.timeout_s == 5.0


def test_a_disabled_notifier_sends_nothing_and_starts_no_thread(tmp_path, receivers):
    notifier = Notifier(receivers.creds().get, _log(tmp_path), bot_identity="T", enabled=False)
    notifier.notify("e", "c")
    assert notifier._thread is None and notifier.died_of() == ""
    notifier.close()
    assert receivers.mails() == [] and receivers.hooks == []
    result = notifier.self_check()
    assert result.ok and result.module == "notifier_bot" and result.detail == "disabled by NOTIFY_ON_CRITICAL=false"


def test_the_self_check_names_the_configured_channels(tmp_path, receivers):
    both = Notifier(receivers.creds().get, _log(tmp_path), bot_identity="T")
    assert both.self_check().detail == "channels: notifier_smtp, notifier_webhook"
    assert both.configured() == ["notifier_smtp", "notifier_webhook"]
    creds = receivers.creds()
    one = Notifier(lambda n: creds.get(n) if n == "notifier_webhook" else None, _log(tmp_path), bot_identity="T")
    assert one.configured() == ["notifier_webhook"]
    none = Notifier(lambda n: None, _log(tmp_path), bot_identity="T")
    assert none.self_check().detail == "no channel configured (alerts only in the logs)"


def test_credentials_are_loaded_once_per_channel_and_a_missing_channel_is_logged_once(tmp_path):
    asked: list[str] = []

    def loader(name: str):
        asked.append(name)
        return None

    notifier = Notifier(loader, _log(tmp_path), bot_identity="T")
    notifier.configured()
    notifier.configured()
    assert asked == ["notifier_smtp", "notifier_webhook"]
    infos = [r["message"] for r in _log_rows(tmp_path) if r["level"] == "info"]
    assert infos == ["notifier_smtp: not configured", "notifier_webhook: not configured"]
    assert {r["module"] for r in _log_rows(tmp_path)} == {"notifier_bot"}


def test_a_channels_password_and_token_are_scrubbed_everywhere_once_loaded(tmp_path):
    creds = {
        "notifier_smtp": {"host": "h", "port": 1, "password": "smtp-pw-Xy81Kq"},
        "notifier_webhook": {"url": "http://x", "token": "hook-tok-Pz02Lm", "password": ""},
    }
    notifier = Notifier(creds.get, _log(tmp_path), bot_identity="T")
    notifier.configured()
    assert scrub("smtp-pw-Xy81Kq and hook-tok-Pz02Lm") == "*** and ***"


def test_a_secret_in_the_cause_is_scrubbed_even_when_the_channel_was_loaded_after_the_alert_was_queued(
    tmp_path, receivers
):
    creds = receivers.creds()
    creds["notifier_webhook"]["token"] = "tok-Late7Registered"
    notifier = Notifier(lambda n: creds.get(n) if n == "notifier_webhook" else None, _log(tmp_path), bot_identity="T")
    notifier.notify("e", "upstream echoed tok-Late7Registered", detail="tok-Late7Registered")
    notifier.close()
    (hook,) = receivers.hooks
    assert "tok-Late7Registered" not in json.dumps(hook["body"])
    assert hook["body"]["cause"] == "upstream echoed ***"


def test_a_long_cause_and_a_large_context_are_cut_to_a_short_summary(tmp_path, receivers):
    creds = receivers.creds()
    notifier = Notifier(lambda n: creds.get(n) if n == "notifier_webhook" else None, _log(tmp_path), bot_identity="T")
    notifier.notify("e", "c" * 1000, blob="b" * 1000)
    notifier.close()
    body = receivers.hooks[0]["body"]
    assert body["cause"] == "c" * MAX_CONTEXT_CHARS
    assert body["context"] == {"summary": json.dumps({"blob": "b" * 1000})[:MAX_CONTEXT_CHARS]}


def test_a_context_of_exactly_the_limit_is_kept_whole():
    context = {"k": "v" * (MAX_CONTEXT_CHARS - len(json.dumps({"k": ""})))}
    assert len(json.dumps(context)) == MAX_CONTEXT_CHARS
    assert _small(context) is context
    longer = {"k": context["k"] + "v"}
    assert _small(longer) == {"summary": json.dumps(longer)[:MAX_CONTEXT_CHARS]}


def test_the_sending_thread_is_a_named_daemon_started_once(tmp_path):
    notifier = Notifier(lambda n: None, _log(tmp_path), bot_identity="T")
    assert notifier.died_of() == ""
    notifier.start()
    thread = notifier._thread
    assert thread is not None and thread.name == "notifier" and thread.daemon and thread.is_alive()
    notifier.start()
    assert notifier._thread is thread and notifier.died_of() == ""
    notifier.close()
    assert notifier._thread is None and not thread.is_alive()


def test_a_thread_that_died_says_why_and_start_brings_it_back(tmp_path, monkeypatch):
    monkeypatch.setattr(threading, "excepthook", lambda args: None)
    broken = {"on": True}

    def loader(name: str):
        if broken["on"]:
            raise RuntimeError("vault unreadable " + "x" * 300)
        return None

    notifier = Notifier(loader, _log(tmp_path), bot_identity="T")
    notifier.notify("e", "c")
    thread = notifier._thread
    assert thread is not None
    thread.join(30)
    death = notifier.died_of()
    assert death.startswith("RuntimeError: vault unreadable x") and len(death) == len("RuntimeError: ") + 200
    broken["on"] = False
    notifier.start()
    assert notifier._thread is not thread and notifier.died_of() == ""
    notifier.close()


def test_a_thread_that_ended_without_an_error_is_reported_as_ended(tmp_path):
    notifier = Notifier(lambda n: None, _log(tmp_path), bot_identity="T")
    notifier.start()
    thread = notifier._thread
    assert thread is not None
    notifier._queue.put(None)
    thread.join(30)
    assert notifier.died_of() == "thread ended"


def test_the_secret_store_loader_reads_a_stored_channel_and_treats_a_missing_one_as_not_configured(bot_home):
    SecretStore(bot_home).set("notifier_webhook", {"url": "https://hooks.example.invalid/x"})
    load = secret_store_loader(bot_home)
    assert load("notifier_webhook") == {"url": "https://hooks.example.invalid/x"}
    assert load("notifier_smtp") is None
    assert secret_store_loader(object())("notifier_webhook") is None
