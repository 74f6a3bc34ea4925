"""The notifier delivers to a real SMTP server and a real webhook; a dead channel never raises."""

from __future__ import annotations

import time

from tbot_core.safety.notifier_bot import Notifier
from tbot_core.syslog import SystemLog
from tests.tbot_core.safety.alert_servers import smtp_port, start_smtp, start_webhook


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.02)
    return predicate()


def test_critical_event_reaches_smtp_and_webhook_without_leaking_the_secret(tmp_path):
    controller, inbox = start_smtp()
    server, hooks = start_webhook()
    creds = {
        "notifier_smtp": {
            "host": "127.0.0.1",
            "port": str(smtp_port(controller)),
            "username": "bot",
            "password": "s3cret-pw-123",
            "from": "bot@example.test",
            "to": "ops@example.test",
            "starttls": "false",
        },
        "notifier_webhook": {"url": f"http://127.0.0.1:{server.server_port}/hook", "token": "tok-abcdef-987"},
    }
    log = SystemLog(tmp_path / "system.log")
    notifier = Notifier(creds.get, log, bot_identity="TBOT_T")
    try:
        notifier.notify("kill_switch_triggered", "loss s3cret-pw-123 over limit", scope="Broker")
        assert _wait(lambda: inbox.messages and hooks)
        assert "kill_switch_triggered" in inbox.messages[0] and "s3cret-pw-123" not in inbox.messages[0]
        assert hooks[0]["auth"] == "Bearer tok-abcdef-987"
        assert hooks[0]["body"]["event"] == "kill_switch_triggered" and "s3cret" not in str(hooks[0]["body"])
    finally:
        notifier.close()
        controller.stop()
        server.shutdown()


def test_unreachable_channel_is_logged_and_never_raises(tmp_path):
    log = SystemLog(tmp_path / "system.log")
    creds = {"notifier_webhook": {"url": "http://127.0.0.1:9/none"}}
    notifier = Notifier(creds.get, log, bot_identity="TBOT_T", timeout_s=1)
    notifier.notify("broker_suspended", "down")
    notifier.close()
    assert notifier.failed == 1
    assert "send failed" in (tmp_path / "system.log").read_text()


def test_missing_credentials_mean_not_configured_and_self_check_passes(tmp_path):
    notifier = Notifier(lambda name: None, SystemLog(tmp_path / "s.log"), bot_identity="TBOT_T")
    result = notifier.self_check()
    assert result.ok and "no channel configured" in result.detail
