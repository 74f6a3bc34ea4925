"""`tbot init --jurisdiction XX` needs a Black-Scholes risk-free rate for XX, or it creates nothing."""

from __future__ import annotations

from tbot_core.home import BotHome
from tests.conftest import run_tbot


def _one_line_error(result) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_init_refuses_a_jurisdiction_with_no_risk_free_rate_naming_the_setting_and_creates_nothing(tmp_path):
    home = tmp_path / "home"
    line = _one_line_error(run_tbot("init", "--home", str(home), "--jurisdiction", "XX"))
    assert line.startswith("error: --jurisdiction XX: BSM_RISK_FREE_RATES has no Black-Scholes risk-free rate for XX")
    assert "--risk-free-rate" in line
    assert list(tmp_path.iterdir()) == []  # no home, no staging folder left behind


def test_init_refuses_a_bad_risk_free_rate_and_creates_nothing(tmp_path):
    home = tmp_path / "home"
    line = _one_line_error(run_tbot("init", "--home", str(home), "--jurisdiction", "XX", "--risk-free-rate", "lots"))
    assert line.startswith("error: --risk-free-rate: expected a decimal number")
    assert list(tmp_path.iterdir()) == []


def test_init_with_a_rate_for_the_jurisdiction_makes_a_home_that_passes_self_check(tmp_path):
    home = tmp_path / "home"
    made = run_tbot("init", "--home", str(home), "--jurisdiction", "xx", "--risk-free-rate", "0.031")
    assert made.returncode == 0, made.stderr
    bot = BotHome(str(home))
    assert bot.identity.JURISDICTION_CODE == "XX"
    assert str(bot.settings.bsm_risk_free_rates["XX"]) == "0.031" and "US" in bot.settings.bsm_risk_free_rates
    checked = run_tbot("self-check", "--home", str(home))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    [bsm] = [line.split() for line in checked.stdout.splitlines() if line.startswith("black_scholes_filter ")]
    assert bsm[1] == "ok" and "rate 0.031 for XX" in " ".join(bsm)


def test_init_accepts_a_jurisdiction_the_default_rates_cover(tmp_path):
    made = run_tbot("init", "--home", str(tmp_path / "home"), "--jurisdiction", "ca")
    assert made.returncode == 0, made.stderr
    assert BotHome(str(tmp_path / "home")).identity.JURISDICTION_CODE == "CA"
