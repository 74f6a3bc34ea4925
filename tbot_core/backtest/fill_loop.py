"""The reference path's path-dependent part: cash and positions over the fills, exact ``Decimal`` money.

Only this loop is sequential (an entry's shares depend on the cash every earlier fill left); what is not
(which bar each order fills at, its open, the equity curve, the metrics) is done with array passes around
it.  The loop runs over fills only, never over bars.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

import numpy as np

from tbot_core.backtest.portfolio import BPS, CENT, PRICE_STEP, FillModel, TradeTable


@dataclass
class Book:
    """What the fill loop leaves: the trades, the cash after each fill, each symbol's position steps."""

    cash: Decimal
    table: TradeTable
    holding: list[int | None]  # per symbol rank: the open trade's index in ``table``
    cash_rows: list[int]  # the position (in fill order) of each fill that moved cash
    cash_after: list[Decimal]
    qty_bars: list[list[int]]
    qty_held: list[list[int]]
    ignored: int = 0
    no_cash: int = 0


def fill_loop(
    ranks: np.ndarray, fill_bars: np.ndarray, buys: np.ndarray, opens: np.ndarray, n_symbols: int, model: FillModel
) -> Book:
    """Orders sorted by fill time (symbol rank, fill bar, buy?, that bar's open) -> the fills, exact.

    The path-dependent part, over fills only: the very expressions of ``FillModel``'s methods, inlined.

    A million bars make some 55,000 fills; three method calls per fill were a third of the loop, so the
    arithmetic is written out here with the model's constants taken once.  The operations and their order
    are those of ``fill_price``/``entry_qty``/``commission`` (a test replays random fills through them), so
    every Decimal is the same, not merely close.
    """
    dec, floor = Decimal, ROUND_FLOOR
    slip = bool(model.slippage_bps)
    up, down = 1 + model.slippage_bps * BPS, 1 - model.slippage_bps * BPS
    fee_share, fee_pct = model.commission_per_share, model.commission_pct
    costs = bool(fee_pct or fee_share)
    one_pct = 1 + fee_pct
    fraction = model.position_fraction
    whole = fraction == 1
    zero = Decimal(0)
    cash = model.starting_cash
    holding: list[int | None] = [None] * n_symbols
    cash_rows: list[int] = []
    cash_after: list[Decimal] = []
    qtys: list[int] = []
    slipped: list[Decimal] = []  # each fill's price, when slippage moved it off the open
    fees: list[Decimal] = []  # each fill's commission, when there are costs
    ignored = no_cash = 0
    # The next opens as Decimals in one C-level pass (the exact shortest repr, as ``fill_price`` takes them).
    raw = list(map(dec, map(repr, opens.tolist())))
    add_row, add_cash, add_qty, add_price, add_fee = (
        cash_rows.append,
        cash_after.append,
        qtys.append,
        slipped.append,
        fees.append,
    )
    sides = zip(ranks.tolist(), buys.tolist(), raw)
    if not (slip or costs) and whole:  # the common model (and the benches'): the same operations, fewer tests
        cash, ignored, no_cash = _walk_plain(cash, sides, holding, cash_rows, cash_after, qtys)
    else:
        for row, (k, buy, price) in enumerate(sides):
            j = holding[k]
            if buy and j is None:
                if slip:
                    price = (price * up).quantize(PRICE_STEP)
                    add_price(price)
                per_share = price * one_pct + fee_share if costs else price
                budget = cash if whole else cash * fraction
                if budget > 0:  # int() truncates: the floor of a quotient >= 0, without the slower to_integral_value
                    quotient = budget / per_share
                    qty = int(quotient) if quotient >= 0 else int(quotient.to_integral_value(rounding=floor))
                else:
                    qty = 0
                if qty <= 0:
                    if slip:
                        slipped.pop()
                    no_cash += 1
                    continue
                if costs:
                    fee = (qty * fee_share + qty * price * fee_pct).quantize(CENT)
                    add_fee(fee)
                    cash -= qty * price + fee
                else:
                    cash -= qty * price + zero
                holding[k] = len(qtys)
                add_qty(qty)
            elif not buy and j is not None:
                if slip:
                    price = (price * down).quantize(PRICE_STEP)
                    add_price(price)
                qty = qtys[j]
                if costs:
                    fee = (qty * fee_share + qty * price * fee_pct).quantize(CENT)
                    add_fee(fee)
                    cash += qty * price - fee
                else:
                    cash += qty * price - zero
                holding[k] = None
            else:
                ignored += 1
                continue
            add_row(row)
            add_cash(cash)
    prices = slipped if slip else [raw[r] for r in cash_rows]
    rows = np.array(cash_rows, dtype=np.int64)
    table = _table(rows, ranks, fill_bars, buys, qtys, prices, fees if costs else None)
    qty_bars, qty_held = _position_steps(table, rows, ranks, fill_bars, n_symbols)
    return Book(cash, table, holding, cash_rows, cash_after, qty_bars, qty_held, ignored, no_cash)


def _table(
    rows: np.ndarray,
    ranks: np.ndarray,
    fill_bars: np.ndarray,
    buys: np.ndarray,
    qtys: list[int],
    prices: list[Decimal],
    fees: list[Decimal] | None,
) -> TradeTable:
    """The trades from the fills that moved cash (``rows``, in fill order): per symbol they alternate entry, exit."""
    rank, bar, is_entry = ranks[rows], fill_bars[rows], buys[rows].astype(bool)
    trade = np.cumsum(is_entry) - 1  # entries numbered in fill order
    order = np.argsort(rank, kind="stable")  # per symbol, in fill order: an exit follows its entry
    in_order = trade[order]
    exit_at = np.flatnonzero(~is_entry[order])
    in_order[exit_at] = in_order[exit_at - 1]
    trade[order] = in_order
    entries, exits = np.flatnonzero(is_entry), np.flatnonzero(~is_entry)
    n, zero = len(entries), Decimal(0)
    entry_price = [prices[e] for e in entries.tolist()]
    entry_fee = [fees[e] for e in entries.tolist()] if fees is not None else [zero] * n
    table = TradeTable(
        row=rows[entries].tolist(),
        symbol=rank[entries].tolist(),
        qty=qtys,
        entry_bar=bar[entries].tolist(),
        entry_price=entry_price,
        entry_fee=entry_fee,
        exit_bar=[None] * n,
        exit_price=[None] * n,
        exit_fee=[zero] * n,
        pnl=[zero] * n,
    )
    exit_bar, exit_price, exit_fee, pnl = table.exit_bar, table.exit_price, table.exit_fee, table.pnl
    for j, x, at in zip(trade[exits].tolist(), exits.tolist(), bar[exits].tolist()):
        price, fee = prices[x], fees[x] if fees is not None else zero
        exit_bar[j], exit_price[j], exit_fee[j] = at, price, fee
        pnl[j] = (price - entry_price[j]) * qtys[j] - entry_fee[j] - fee
    return table


def _position_steps(
    table: TradeTable, rows: np.ndarray, ranks: np.ndarray, fill_bars: np.ndarray, n_symbols: int
) -> tuple[list[list[int]], list[list[int]]]:
    """Each symbol's (fill bar, shares held from then on) at every fill that moved cash."""
    held = np.zeros(len(rows), dtype=np.int64)
    held[np.searchsorted(rows, np.array(table.row, dtype=np.int64))] = table.qty
    rank, bar = ranks[rows], fill_bars[rows]
    steps_bars, steps_held = [], []
    for k in range(n_symbols):
        mine = rank == k
        steps_bars.append(bar[mine].tolist())
        steps_held.append(held[mine].tolist())
    return steps_bars, steps_held


def _walk_plain(
    cash: Decimal,
    sides: Iterator[tuple[int, bool, Decimal]],
    holding: list[int | None],
    cash_rows: list[int],
    cash_after: list[Decimal],
    qtys: list[int],
) -> tuple[Decimal, int, int]:
    """``fill_loop``'s walk for a model without slippage or costs that spends all the cash: (cash, ignored, no cash).

    What it leaves out are the branches that model never takes; each operation left is the general walk's.
    """
    zero, floor = Decimal(0), ROUND_FLOOR
    add_row, add_cash, add_qty = cash_rows.append, cash_after.append, qtys.append
    ignored = no_cash = 0
    for row, (k, buy, price) in enumerate(sides):
        j = holding[k]
        if buy:
            if j is not None:
                ignored += 1
                continue
            if cash > 0:
                quotient = cash / price
                qty = int(quotient) if quotient >= 0 else int(quotient.to_integral_value(rounding=floor))
            else:
                qty = 0
            if qty <= 0:
                no_cash += 1
                continue
            cash -= qty * price + zero
            holding[k] = len(qtys)
            add_qty(qty)
        elif j is None:
            ignored += 1
            continue
        else:
            cash += qtys[j] * price - zero
            holding[k] = None
        add_row(row)
        add_cash(cash)
    return cash, ignored, no_cash
