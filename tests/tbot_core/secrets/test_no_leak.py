"""No leak: distinctive secret values never reach any file in the home, any log, or any output."""

from __future__ import annotations

import json

from tests.conftest import run_tbot

SECRETS = {
    "broker_alpaca": {"api_key": "LEAKALPACAKEY7731", "secret_key": "LEAKALPACASECRET9917"},
    "broker_ibkr": {"account": "LEAKIBKRACCT5521", "host": "leak-ibkr-host.invalid", "port": "4002"},
    "screener_api": {"api_key": "LEAKFINNHUBKEY3319"},
    "notifier_smtp": {
        "host": "leak-smtp-host.invalid",
        "port": "587",
        "username": "LEAKSMTPUSER8812",
        "password": "LEAKSMTPPASS4471",
        "from": "leakfrom@example.invalid",
        "to": "leakto@example.invalid",
        "starttls": "true",
    },
    "notifier_webhook": {"url": "https://leak-hook.invalid/LEAKWEBHOOKPATH6613", "token": "LEAKWEBHOOKTOKEN2288"},
}
PUBLIC = {"port", "starttls"}
VALUES = [v for fields in SECRETS.values() for k, v in fields.items() if k not in PUBLIC]


def test_init_set_rotate_check_and_config_change_leak_no_secret_value(tmp_path):
    home = tmp_path / "home"
    outputs = [run_tbot("init", home=home)]
    for name, fields in SECRETS.items():
        outputs.append(run_tbot("secrets", "set", name, "--stdin", home=home, input=json.dumps(fields)))
    outputs.append(
        run_tbot(
            "secrets",
            "set",
            "broker_alpaca",
            "--stdin",
            home=home,
            input=json.dumps({"api_key": "LEAKALPACAKEY7731", "secret_key": 5}),
        )
    )  # a refused set
    outputs += [
        run_tbot("secrets", "rotate", home=home),
        run_tbot("secrets", "list", home=home),
        run_tbot("self-check", home=home),
        run_tbot("config", "set", "MAX_PE_RATIO", "35", home=home),
        run_tbot("config", "show", home=home),
        run_tbot("audit", "tail", "-n", "50", home=home),
    ]
    assert [o.returncode for o in outputs].count(0) == len(outputs) - 1
    captured = "".join(o.stdout + o.stderr for o in outputs)
    assert "LEAKALPACAKEY7731" not in captured
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "audit.db" for p in files) and any(p.name.endswith(".tar.enc") for p in files)
    hits = [(str(p.relative_to(home)), value) for p in files for value in VALUES if value.encode() in p.read_bytes()]
    hits += [("captured output", value) for value in VALUES if value in captured]
    assert hits == []
