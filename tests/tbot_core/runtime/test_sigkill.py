"""SIGKILL the core mid-run, start it again: positions, cash and ledger agree with the fills; no duplicate ledger rows."""

from __future__ import annotations

import signal
from collections import defaultdict

import apsw

from tests.tbot_core.runtime.core_harness import FAST, make_home, start_core, state, stop_core, wait_for

SYMBOLS = tuple(f"S{i:02d}" for i in range(40))


def test_sigkill_mid_run_then_restart_keeps_books_consistent(tmp_path):
    env = {
        "SYMBOLS": ",".join(SYMBOLS),
        "ADX_FILTER_ENABLED": "false",
        "BOLLINGER_CONFLUENCE_ENABLED": "false",
        "MAX_OPEN_POSITIONS": "1000",
        "MAX_RISK_PER_TRADE": "0.005",
        "ALLOC_MID": "1.0",
        "ALLOC_OPEN": "0",
        "ALLOC_CLOSE": "0",
        "REPLAY_SPEED": "1500",
    }
    paths = make_home(tmp_path, env, bars=4000, symbols=SYMBOLS, price=lambda i: 50 + (i % 17) * 0.25)
    proc = start_core(paths, scripted_signal_every=3)
    wait_for(lambda: len(state(paths).get("orders", [])) >= 5, "some fills")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    paths.plaintext_env.write_text("".join(f"{k}={v}\n" for k, v in {**FAST, **env, "REPLAY_SPEED": "0"}.items()))
    proc = start_core(paths, scripted_signal_every=3)
    wait_for(
        lambda: (
            state(paths).get("core", {}).get("pid") == proc.pid
            and state(paths).get("mode") == "running"
            and "account" in state(paths)
        ),
        "restarted",
    )
    core = apsw.Connection(str(paths.core_db))
    wait_for(
        lambda: core.execute("SELECT count(*) FROM paper_fills WHERE ledger_posted = 0").fetchone()[0] == 0,
        "fills posted to the ledger",
    )
    assert stop_core(proc) == 0
    fills = core.execute("SELECT fitid, symbol, side, qty, price_cents, fee_cents FROM paper_fills").fetchall()
    assert len(fills) >= 5
    held: dict[str, int] = defaultdict(int)
    cash = core.execute("SELECT cash_cents FROM paper_account").fetchone()[0]
    spent = 0
    for _fitid, sym, side, qty, price, fee in fills:
        held[sym] += qty if side == "buy" else -qty
        spent += qty * price + fee if side == "buy" else -(qty * price - fee)
    assert cash == 100_000_00 - spent
    positions = dict(core.execute("SELECT symbol, qty FROM paper_positions").fetchall())
    assert positions == {s: q for s, q in held.items() if q}
    ledger = apsw.Connection(str(paths.ledger_db))
    rows = ledger.execute("SELECT fitid FROM groups WHERE fitid IS NOT NULL").fetchall()
    fitids = [r[0] for r in rows]
    assert len(fitids) == len(set(fitids))  # no duplicate ledger rows
    opening = [f for f in fitids if f.startswith("PAPER-OPENING-")]
    assert len(opening) == 1  # the account's opening cash, booked once as an owner transfer
    assert set(fitids) - set(opening) == {f[0] for f in fills}  # every fill booked exactly once
    ledger_cash = ledger.execute(
        "SELECT sum(debit_cents) - sum(credit_cents) FROM legs WHERE account_code = '1000'"
    ).fetchone()[0]
    assert ledger_cash == cash  # the books' cash at broker is the paper account's cash, to the cent
