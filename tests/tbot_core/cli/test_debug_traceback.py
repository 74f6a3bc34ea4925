"""TBOT_DEBUG=1 shows the traceback of an internal error, but never a secret value the process loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.conftest import REPO, run_tbot

SECRET = "fh-live-7Q2xK9pLmN4vR8sT"

# The real main() with one extra command group, registered the way cmd_* modules register theirs: its handler
# loads the secret through the real SecretStore (which registers it with the sanitizer) and then fails with an
# internal error whose message, and whose chained cause, carry the value, as a third-party client's error might.
SCRIPT = textwrap.dedent("""
    import sys
    from types import SimpleNamespace

    from tbot_core.cli import main as cli
    from tbot_core.cli.common import add_home_option, open_home
    from tbot_core.secrets.store import SecretStore

    def explode(args):
        key = SecretStore(open_home(args)).get("screener_api")["api_key"]
        try:
            raise ConnectionError(f"GET https://finnhub.io/api/v1/quote?token={key} refused")
        except ConnectionError as cause:
            raise RuntimeError(f"quote fetch failed for token {key}") from cause

    def register(sub):
        p = sub.add_parser("explode")
        add_home_option(p)
        p.set_defaults(handler=explode)

    cli.COMMAND_MODULES.append(SimpleNamespace(register=register))
    sys.exit(cli.main(["explode"]))
""")


def run_failing_command(home, *, debug: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TBOT_HOME": str(home)}
    env.pop("TBOT_DEBUG", None)
    if debug:
        env["TBOT_DEBUG"] = "1"
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd=str(REPO), timeout=120
    )


def test_debug_traceback_of_an_internal_error_hides_a_stored_secret(home_paths):
    stored = run_tbot(
        "secrets", "set", "screener_api", "--stdin", home=home_paths.root, input=json.dumps({"api_key": SECRET})
    )
    assert stored.returncode == 0, stored.stderr
    result = run_failing_command(home_paths.root, debug=True)
    assert result.returncode == 70, result.stderr
    lines = result.stderr.splitlines()
    assert "Traceback (most recent call last):" in lines
    assert "RuntimeError: quote fetch failed for token ***" in lines, "the traceback's own last line is scrubbed"
    assert "ConnectionError: GET https://finnhub.io/api/v1/quote?token=*** refused" in lines, "the chained cause too"
    assert lines[-1].startswith("internal error: RuntimeError")
    assert SECRET not in result.stderr + result.stdout


def test_without_debug_an_internal_error_is_one_scrubbed_line(home_paths):
    stored = run_tbot(
        "secrets", "set", "screener_api", "--stdin", home=home_paths.root, input=json.dumps({"api_key": SECRET})
    )
    assert stored.returncode == 0, stored.stderr
    result = run_failing_command(home_paths.root, debug=False)
    assert result.returncode == 70 and "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "internal error: RuntimeError: quote fetch failed for token *** (set TBOT_DEBUG=1 for details)"
    ]
    assert SECRET not in result.stderr + result.stdout
