"""The parts behind ``tbot serve`` and the console polish, in-process: the read-only console, the login
check, the failed-attempt limit, sessions, the matrix and verdict layouts, the theme option, the tuning screen."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace

import pytest
from textual.system_commands import SystemCommandsProvider

from tbot_core.control import Operator
from tbot_core.emergency import EMERGENCY_MATRIX
from tbot_core.errors import ConfigError
from tbot_core.secrets.schema import validate
from tbot_tui.__main__ import main as console_main
from tbot_tui.app import CONTROLS, SCREENS_BY_KEY, ReadOnlyConsole, TradeBotConsole
from tbot_tui.clock import frozen_clock
from tbot_tui.web.auth import Credentials, FailureLimiter, Login, Sessions
from tbot_tui.widgets.matrix import CELL_PADDING, WIDE_MIN, matrix_layout
from tbot_tui.widgets.verdicts import column_widths, needs_dates, verdict_time

from .conftest import settle
from .console_homes import FROZEN_NOW, build_console_home, write_state
from .console_states import normal


@pytest.fixture
def home(tmp_path):
    return build_console_home(tmp_path / "home", "normal")


# -- the read-only console ------------------------------------------------------------------------------
def test_read_only_console_has_no_control_binding_and_no_flag_writing_method():
    keys = {b.key for b in ReadOnlyConsole.BINDINGS}
    assert not keys & {key for key, *_rest in CONTROLS} and not keys & {"k", "R", "A"}
    assert {key for key, *_rest in SCREENS_BY_KEY} <= keys and "q" in keys
    for method in ("action_flag", "write_flag_worker", "action_kill", "action_reset", "action_accept_mismatch"):
        assert not hasattr(ReadOnlyConsole, method), method
    assert {"s", "x", "d", "D", "k", "R", "A"} <= {b.key for b in TradeBotConsole.BINDINGS}


async def palette_titles(app) -> list[str]:
    provider = SystemCommandsProvider(app.screen)
    return [hit.text for hit in [hit async for hit in provider.discover()]]


async def test_read_only_console_ignores_control_keys_and_its_palette_lists_screens_but_no_control(home):
    app = ReadOnlyConsole(str(home.root), clock=frozen_clock(FROZEN_NOW))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for key in ("s", "x", "d", "D"):
            await pilot.press(key)
        await pilot.press("k")
        await settle(pilot)
        assert len(app.screen_stack) == 1  # no kill dialog
        titles = await palette_titles(app)
    assert not list(home.control_dir.glob("*.flag"))
    assert all(f"Show {label} screen" in titles for _key, _mode, label in SCREENS_BY_KEY)
    assert not any(word in " ".join(titles) for word in ("Stop", "Kill", "Reset kill", "Defense"))


async def test_operator_console_palette_lists_every_screen_and_every_control(home):
    app = TradeBotConsole(str(home.root), clock=frozen_clock(FROZEN_NOW))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        titles = await palette_titles(app)
    expected = [long.split(":")[0] for _key, _flag, _label, long in CONTROLS]
    expected += ["Kill switch: halt trading", "Reset kill switch", "Search the audit log", "Help: all key bindings"]
    expected += [f"Show {label} screen" for _key, _mode, label in SCREENS_BY_KEY]
    assert [t for t in expected if t not in titles] == []


async def test_console_served_with_control_names_the_web_login_on_the_flag_it_writes(home):
    app = TradeBotConsole(str(home.root), clock=frozen_clock(FROZEN_NOW), operator=Operator("alice", "web 127.0.0.1"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert "alice" in app.ack_text
    (flag,) = home.control_dir.glob("control_stop.*.flag")
    assert json.loads(flag.read_text())["operator"] == {"user": "alice", "ssh_client": "web 127.0.0.1"}


def test_unknown_theme_is_refused_in_one_line_and_a_known_one_is_applied(home, capsys):
    assert console_main(["--home", str(home.root), "--theme", "no-such-theme"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--theme 'no-such-theme': unknown theme" in err and "nord" in err
    assert TradeBotConsole(str(home.root), theme="nord").theme == "nord"


def test_web_console_secret_needs_user_and_password_and_a_user_name_fit_for_a_flag():
    assert validate("web_console", {"user": "alice", "password": "pw-123456"}) == {
        "user": "alice",
        "password": "pw-123456",
    }
    with pytest.raises(ConfigError, match="missing field 'password'"):
        validate("web_console", {"user": "alice"})
    with pytest.raises(ConfigError, match="field 'user': expected a user name") as bad:
        validate("web_console", {"user": "al ice; rm", "password": "pw-123456"})
    assert "pw-123456" not in str(bad.value)


# -- login check, limiter, sessions ---------------------------------------------------------------------
def credentials(tmp_path, fields):
    from tbot_core.home_init import init_home

    paths, _ = init_home(tmp_path / "home")
    return Credentials(str(paths.root), read=lambda: dict(fields))


def test_login_check_accepts_only_both_fields_right_and_never_shows_the_password(tmp_path):
    creds = credentials(tmp_path, {"user": "alice", "password": "s3cret-pw"})
    assert creds.check("alice", "s3cret-pw") == creds.current()
    assert creds.check("alice", "s3cret-pX") is None
    assert creds.check("bob", "s3cret-pw") is None
    assert creds.check("", "") is None and creds.check("alice", "s3cret-pw" * 1000) is None
    assert creds.user_matches("alice") and not creds.user_matches("alicE")
    assert "s3cret" not in repr(creds.current()) and "s3cret" not in creds.current().fingerprint


def test_failure_limiter_refuses_after_five_failures_per_client_until_they_age_out():
    now = [1000.0]
    limiter = FailureLimiter(per_client=5, overall=20, window_s=300, clock=lambda: now[0])
    for _ in range(5):
        assert limiter.retry_after("10.0.0.1") == 0
        limiter.failed("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 300 and limiter.retry_after("10.0.0.2") == 0
    now[0] += 299.0
    assert limiter.retry_after("10.0.0.1") == pytest.approx(1.0)
    now[0] += 1.0
    assert limiter.retry_after("10.0.0.1") == 0


def test_failure_limiter_also_caps_failures_from_everyone_together():
    limiter = FailureLimiter(per_client=5, overall=6, window_s=60, clock=lambda: 5.0)
    for n in range(6):
        limiter.failed(f"10.0.0.{n}")
    assert limiter.retry_after("10.9.9.9") == 60


def test_sessions_expire_and_are_found_only_by_their_own_token():
    now = [0.0]
    sessions = Sessions(60, clock=lambda: now[0])
    token, session = sessions.create(Login("alice", "f"), "127.0.0.1")
    assert sessions.find(token) == (session, "") and sessions.find(token + "x") == (None, "unknown")
    assert sessions.find(None) == (None, "none")
    now[0] = 60.0
    assert sessions.find(token) == (None, "expired") and sessions.find(token) == (None, "unknown")
    token, session = sessions.create(Login("alice", "f"), "127.0.0.1")
    now[0] = 200.0
    assert sessions.expired() == [session] and sessions.all() == []


# -- console polish: matrix, verdict dates, tuning -------------------------------------------------------------
@pytest.mark.parametrize("width", [57, 76, 79, 97, 150])
def test_matrix_layout_shows_every_scope_and_response_whole_at_each_width(width):
    layout = matrix_layout(width)
    assert sum(w + CELL_PADDING for _label, w in layout.columns) <= max(width, WIDE_MIN)
    widths = dict(layout.columns)
    assert all(len(s.scope) <= widths["scope"] for s in EMERGENCY_MATRIX)
    for spec in EMERGENCY_MATRIX:
        assert len(textwrap.wrap(spec.response, widths["response"])) <= layout.lines
    assert (layout.lines == 1) == (width >= WIDE_MIN)


async def test_matrix_at_160_columns_shows_scope_and_response_in_full(home):
    app = TradeBotConsole(str(home.root), clock=frozen_clock(FROZEN_NOW))
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#matrix")
        widths = {str(c.label): c.width for c in table.columns.values()}
        cells = [dict(zip(widths, map(str, table.get_row_at(i)), strict=True)) for i in range(table.row_count)]
        heights = {row.height for row in table.rows.values()}
    assert table.size.width < WIDE_MIN and heights == {2}  # the grid's quarter: two-line rows
    for spec, row in zip(EMERGENCY_MATRIX, cells, strict=True):
        assert row["scope"] == spec.scope and " ".join(row["response"].split("\n")) == spec.response
        assert all(len(line) <= widths["response"] for line in row["response"].split("\n"))
        assert "…" not in row["event · cause"] or spec.key == "daily_loss"  # only a fired row abbreviates


def test_verdict_rows_show_the_date_only_when_a_bar_is_not_from_today():
    today = "2026-03-02"
    assert not needs_dates(["2026-03-02T15:29:58.120000Z"], today)
    assert needs_dates(["2026-03-02T15:29:58Z", "2026-01-05T14:30:00Z"], today)
    assert verdict_time("2026-01-05T14:30:00Z", True) == "2026-01-05 14:30:00"
    assert verdict_time("2026-03-02T15:29:58Z", False) == "15:29:58"
    assert column_widths(80, 10, 10, dated=True)[0] == ("date time (UTC)", 19)
    assert sum(w + 2 for _l, w in column_widths(80, 14, 40, dated=True)) <= 80


async def test_verdicts_from_a_replay_day_show_their_date_in_the_console(home):
    state = normal()
    replay_day = tuple(replace(v, ts_utc="2026-01-05" + v.ts_utc[10:]) for v in state.verdicts)
    write_state(home, replace(state, verdicts=replay_day))
    app = TradeBotConsole(str(home.root), clock=frozen_clock(FROZEN_NOW))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#verdict-table")
        assert str(table.get_row_at(0)[0]).startswith("2026-01-05 ")


async def test_tuning_screen_says_not_published_yet_when_the_core_publishes_no_tuning_section(home):
    write_state(home, replace(normal(), tuning=None))  # the core leaves the section out until it has stats
    app = TradeBotConsole(str(home.root), clock=frozen_clock(FROZEN_NOW))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        row = app.screen.query_one("#tuning-table").get_row_at(0)
    assert str(row[1]).startswith("not published yet")


def test_backtest_summary_prints_percentages_as_percentages_and_money_as_money():
    from tbot_core.backtest.backtest_engine import summary_lines

    lines = summary_lines(
        "open",
        {
            "trades": 3,
            "closed_trades": 2,
            "final_equity": "106566.57",
            "total_return": "0.065666",
            "win_rate": "0.500000",
            "avg_trade_pnl": "12.50",
            "max_drawdown": "-0.021200",
            "sharpe_annualized": "1.234567",
            "blocks_per_filter": {"adx_filter": 4},
        },
    )
    text = "\n".join(lines)
    assert "total return         +6.57%" in text and "win rate             50.00%" in text
    assert "final equity         106,566.57" in text and "max drawdown         -2.12%" in text
    assert "Sharpe (annualized)  1.23" in text and "adx_filter 4" in text and "0.065666" not in text
