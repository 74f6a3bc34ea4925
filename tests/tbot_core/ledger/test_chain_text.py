"""The posting path's encoding of a batch is byte for byte the verifier's encoding of the stored rows.

``Ledger.run`` hashes a batch from the rows it drafted (``canonical.draft_sections``)
while ``tbot ledger check`` encodes the rows it reads back (``canonical.stored_sections``);
if the two ever differed, every honest batch would fail its check.  Here
arbitrary rows (quotes, ``%``, any Unicode, NULLs mixed with text, NULs, big
and negative ints) are written to a scratch ledger and both encodings are
compared; a value SQLite stores as another Python value must raise ``Unrenderable``
(the caller then reads the rows back), never encode differently.
"""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import apsw
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tbot_core.ledger.batch import Ledger
from tbot_core.ledger.canonical import Unrenderable, _data, _little, draft_sections, stored_sections
from tbot_core.ledger.chain import verify_all
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.posting import GroupSpec, post_groups
from tbot_core.ledger.schema import schema_sql

from .helpers import EFFECTIVE, fresh_ledger

BATCH = "b'%s\u00e9"  # a batch id that needs quoting, holds a printf directive and is not ASCII
_ids = itertools.count(1)

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)  # NUL included: it takes the JSON form
clean = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12)
maybe = st.none() | text
big = st.integers(-(2**63), 2**63 - 1)
legs_st = st.lists(st.tuples(clean, st.integers(1, 2**62), st.booleans()), min_size=2, max_size=4)
fitid_st = st.none() | st.tuples(text, text)  # (broker_code, fitid): both or neither
group_st = st.tuples(
    st.sampled_from(["FILL", "POSTING", "REVERSAL"]), text, text, fitid_st, maybe, st.none() | big, legs_st
)
lot_st = st.tuples(
    text, text, clean, st.integers(0, 2**62)
)  # qty: SQLite length() stops at a NUL, so CHECK refuses one


def _scratch() -> apsw.Connection:
    """The shipped schema in memory, foreign keys off: rows are written for their text only, never committed."""
    conn = apsw.Connection(":memory:")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute(schema_sql())
    return conn


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    groups=st.lists(group_st, min_size=1, max_size=5),
    lots=st.lists(lot_st, max_size=3),
    accounts=st.lists(
        st.tuples(clean, clean, st.sampled_from(["asset", "expense"])), max_size=3, unique_by=lambda a: a[0]
    ),
    roles=st.lists(st.tuples(clean, clean), max_size=3),
)
def test_drafted_encoding_equals_the_encoding_of_the_stored_rows(groups, lots, accounts, roles) -> None:
    conn = _scratch()
    base = next(_ids) * 1000
    group_rows, legs = [], []
    reversed_ids: set[int] = set()
    for no, (kind, memo, symbol, fitid_pair, content, reverses, pairs) in enumerate(groups, 1):
        gid = base + no
        broker, fitid = (
            (None, None) if fitid_pair is None else (fitid_pair[0], f"{fitid_pair[1]}#{no}")
        )  # unique per batch
        reverses = None if reverses in reversed_ids else reverses  # a group is reversed at most once
        reversed_ids.add(reverses)
        group_rows.append((gid, BATCH, kind, EFFECTIVE, memo, symbol, broker, fitid, content, reverses, no, len(pairs)))
        legs += [
            (gid, n, account, cents, 0, len(pairs)) if debit else (gid, n, account, 0, cents, len(pairs))
            for n, (account, cents, debit) in enumerate(pairs, 1)
        ]
    lot_rows = [
        (base + 500 + n, base + 1, broker, symbol, qty, cost) for n, (broker, symbol, qty, cost) in enumerate(lots)
    ]
    reliefs = [(base + 600 + n, lot[0], base + 1, lot[4], lot[5]) for n, lot in enumerate(lot_rows)]
    account_rows = [(code, name, kind, BATCH) for code, name, kind in accounts]
    mappings = [(base + 700 + n, role, code, BATCH) for n, (role, code) in enumerate(roles)]
    with conn:
        conn.executemany(
            f"INSERT INTO groups (group_id, batch_id, kind, effective_utc, memo, symbol, broker_code, fitid, content_hash, "
            f"reverses_group_id, group_no, leg_count, group_count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,{len(groups)})",
            group_rows,
        )
        conn.executemany("INSERT INTO legs VALUES (?,?,?,?,?,?)", legs)
        conn.executemany("INSERT INTO lots VALUES (?,?,?,?,?,?)", lot_rows)
        conn.executemany("INSERT INTO lot_reliefs VALUES (?,?,?,?,?)", reliefs)
        conn.executemany("INSERT INTO accounts VALUES (?,?,?,?)", account_rows)
        conn.executemany("INSERT INTO coa_mapping VALUES (?,?,?,?)", mappings)
    expected = stored_sections(conn, BATCH)
    # Nothing here may fall back, NULs and mixed NULLs included: the posting path must cover any text.
    assert draft_sections(group_rows, len(groups), legs, lot_rows, reliefs, account_rows, mappings) == expected


ODD_VALUES = {  # (column of a group, value): Python must encode it as SQLite stores it, or refuse
    "int_in_text_column": (4, 12345),
    "float_in_text_column": (4, 1e20),
    "bool_in_text_column": (5, True),
    "integral_float_id": (0, 77.0),
    "bool_reverses": (9, True),
    "text_reverses": (9, " 5"),
    "negative_reverses": (9, -(2**63)),
}


@pytest.mark.parametrize("case", sorted(ODD_VALUES))
def test_odd_python_values_encode_as_stored_or_not_at_all(case: str) -> None:
    column, value = ODD_VALUES[case]
    row = [4242, BATCH, "POSTING", EFFECTIVE, "memo", "SYM", None, None, None, None, 1, 2]
    row[column] = value
    conn = _scratch()
    with conn:
        conn.execute(
            "INSERT INTO groups (group_id, batch_id, kind, effective_utc, memo, symbol, broker_code, fitid, content_hash, "
            "reverses_group_id, group_no, leg_count, group_count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,1)",
            row,
        )
    expected = stored_sections(conn, BATCH)
    try:
        rendered = draft_sections([tuple(row)], 1, [], [], [], [], [])
    except Unrenderable:
        return
    assert rendered == expected


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(memos=st.lists(text, min_size=1, max_size=4), symbol=text)
def test_posted_batches_with_any_text_pass_the_full_verify(tmp_path: Path, memos: list[str], symbol: str) -> None:
    """End to end: whatever the memo (NULs take the read-back path), the verifier agrees with the posting path."""
    db = tmp_path / f"e2e-{next(_ids)}.db"
    if not db.exists():
        fresh_ledger(tmp_path, db.name)
    with Ledger(db) as ledger:
        post_groups(
            ledger,
            f"p{next(_ids)}",
            [GroupSpec("POSTING", EFFECTIVE, memo, [("1000", 7, 0), ("5100", 0, 7)], symbol) for memo in memos],
        )
    conn = open_ledger(db, readonly=True)
    try:
        assert verify_all(conn).problem is None
    finally:
        conn.close()


def test_integers_are_little_endian_whatever_the_machine() -> None:
    """The int64 form is little-endian on every machine: a big-endian one swaps its native bytes."""
    values = [1, -2, 2**63 - 1, -(2**63)]
    assert _data(values, "d", True) == (b"i", struct.pack("<4q", *values))
    assert _little(struct.pack(">4q", *values)) == struct.pack("<4q", *values)
