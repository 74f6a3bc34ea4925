"""The real `tbot` CLI in a subprocess: init, self-check, config, audit, control — one-line errors, no tracebacks."""

from __future__ import annotations

import sqlite3

from tests.conftest import run_tbot


def _assert_one_line_error(result, *needles):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "expected an error line on stderr"
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_init_then_self_check_passes(tmp_path):
    home = tmp_path / "X"
    assert run_tbot("init", "--home", str(home)).returncode == 0
    result = run_tbot("self-check", "--home", str(home))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout and "vault_key" in result.stdout


def test_self_check_fails_in_one_line_when_the_key_is_corrupted(tmp_path):
    home = tmp_path / "X"
    run_tbot("init", "--home", str(home))
    key = home / "vault" / "current" / "keys" / "fernet.key"
    key.write_bytes(b"not-a-fernet-key\n")
    result = run_tbot("self-check", "--home", str(home))
    _assert_one_line_error(result, "fernet.key", "hint:")


def test_self_check_fails_in_one_line_when_the_config_is_deleted(tmp_path):
    home = tmp_path / "X"
    run_tbot("init", "--home", str(home))
    (home / "vault" / "current" / "config" / ".env_bot.enc").unlink()
    result = run_tbot("self-check", "--home", str(home))
    _assert_one_line_error(result, ".env_bot.enc", "missing")


def test_self_check_on_a_missing_home_says_run_init(tmp_path):
    result = run_tbot("self-check", "--home", str(tmp_path / "nothing"))
    _assert_one_line_error(result, "tbot init")


def test_config_set_validates_encrypts_and_audits(home_paths):
    ok = run_tbot("config", "set", "MAX_PE_RATIO", "42", home=home_paths.root)
    assert ok.returncode == 0, ok.stderr
    assert "MAX_PE_RATIO" in run_tbot("config", "show", home=home_paths.root).stdout
    assert b"MAX_PE_RATIO=42" not in (home_paths.root / "vault" / "current" / "config" / ".env_bot.enc").read_bytes()
    tail = run_tbot("audit", "tail", "--category", "config", home=home_paths.root).stdout
    assert "config_changed" in tail and "MAX_PE_RATIO" in tail
    bad = run_tbot("config", "set", "MAX_PE_RATIO", "lots", home=home_paths.root)
    _assert_one_line_error(bad, "MAX_PE_RATIO", "expected a decimal number")
    typo = run_tbot("config", "set", "MAX_PE_RATO", "3", home=home_paths.root)
    _assert_one_line_error(typo, "did you mean MAX_PE_RATIO")


def test_audit_verify_catches_an_edit_made_with_plain_sqlite(home_paths):
    assert run_tbot("audit", "verify", home=home_paths.root).returncode == 0
    conn = sqlite3.connect(home_paths.audit_db)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET actor='ui' WHERE seq=1")
    conn.commit()
    conn.close()
    result = run_tbot("audit", "verify", home=home_paths.root)
    assert result.returncode == 1 and "seq 1" in result.stdout


def test_control_commands_write_one_file_per_request_and_status_lists_every_one(home_paths):
    import json

    first = run_tbot("control", "stop", home=home_paths.root)
    second = run_tbot("control", "stop", "--reason", "again", home=home_paths.root)
    assert first.returncode == 0 and second.returncode == 0
    files = sorted(p.name for p in home_paths.control_dir.glob("control_stop.*.flag"))
    assert len(files) == 2, "a second stop must not replace the first"
    assert all(f"control/{name}" in first.stdout + second.stdout for name in files)
    no_reason = run_tbot("control", "kill", home=home_paths.root)
    _assert_one_line_error(no_reason, "needs a reason")
    status = run_tbot("control", "status", "--json", home=home_paths.root)
    info = json.loads(status.stdout)
    assert sorted(info["pending_flags"]) == files and info["core"] == "not running"
    text = run_tbot("control", "status", home=home_paths.root).stdout
    assert all(name in text for name in files)


def test_concurrent_config_sets_from_two_processes_both_land(home_paths):
    """The read-modify-write of `config set` happens under the vault lock: no update is lost."""
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {**__import__("os").environ, "TBOT_HOME": str(home_paths.root)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tbot_core.cli.main", "config", "set", key, value],
            cwd=str(REPO),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for key, value in (("MAX_PE_RATIO", "41"), ("MAX_DEBT_EQUITY", "1.5"))
    ]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    shown = run_tbot("config", "show", home=home_paths.root).stdout
    assert any(line.split()[:2] == ["MAX_PE_RATIO", "41"] for line in shown.splitlines())
    assert any(line.split()[:2] == ["MAX_DEBT_EQUITY", "1.5"] for line in shown.splitlines())


def test_tbot_tui_passes_theme_to_the_console_which_refuses_an_unknown_one_in_one_line(tmp_path):
    import subprocess
    import sys

    home = tmp_path / "home"
    subprocess.run(
        [sys.executable, "-m", "tbot_core.cli.main", "init", "--home", str(home)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = subprocess.run(
        [sys.executable, "-m", "tbot_core.cli.main", "tui", "--home", str(home), "--theme", "nosuch"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: --theme 'nosuch': unknown theme") and "Traceback" not in result.stderr
