"""DAILY_LOSS_LIMIT breach in a real core: halt, audit, notification over SMTP and webhook, no restart."""

from __future__ import annotations

from tbot_core.home import BotHome
from tbot_core.secrets.store import SecretStore
from tests.tbot_core.runtime.core_harness import (
    audit_events,
    make_home,
    matrix_row,
    start_core,
    state,
    stop_core,
    wait_for,
)
from tests.tbot_core.safety.alert_servers import smtp_port, start_smtp, start_webhook

SYMBOLS = tuple(f"S{i:02d}" for i in range(20))


def test_daily_loss_breach_halts_broker_audits_and_notifies(tmp_path):
    controller, inbox = start_smtp()
    server, hooks = start_webhook()
    try:
        env = {
            "SYMBOLS": ",".join(SYMBOLS),
            "ADX_FILTER_ENABLED": "false",
            "BOLLINGER_CONFLUENCE_ENABLED": "false",
            "MAX_OPEN_POSITIONS": "100",
            "ALLOC_MID": "1.0",
            "ALLOC_OPEN": "0",
            "ALLOC_CLOSE": "0",
            "DAILY_LOSS_LIMIT": "300",
        }
        # Every 21st bar: each symbol is bought once, then sold only ~20 minutes later (after the drop at
        # bar 300), so positions are held through it (a second buy of a ticker in one session is blocked).
        paths = make_home(tmp_path, env, bars=600, symbols=SYMBOLS, price=lambda i: 100.0 if i < 300 else 80.0)
        store = SecretStore(BotHome(str(paths.root)))
        store.set(
            "notifier_smtp",
            {
                "host": "127.0.0.1",
                "port": str(smtp_port(controller)),
                "username": "bot",
                "password": "pw-xyz-123",
                "from": "bot@example.test",
                "to": "ops@example.test",
                "starttls": "false",
            },
        )
        store.set("notifier_webhook", {"url": f"http://127.0.0.1:{server.server_port}/hook"})
        proc = start_core(paths, scripted_signal_every=21)
        wait_for(lambda: state(paths).get("mode") == "halted", "halted")
        trig = audit_events(paths, "kill_switch_triggered")
        assert trig and "DAILY_LOSS_LIMIT" in trig[-1][2]["cause"]
        assert matrix_row(paths, "daily_loss")["state"] == "triggered"
        wait_for(lambda: inbox.messages and hooks, "alerts delivered")
        assert "kill_switch_triggered" in inbox.messages[0] and "pw-xyz-123" not in inbox.messages[0]
        assert hooks[0]["body"]["event"] == "kill_switch_triggered"
        assert proc.poll() is None  # Reboot: No — halted, not restarted
        assert stop_core(proc) == 0
    finally:
        controller.stop()
        server.shutdown()
