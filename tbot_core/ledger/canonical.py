"""The canonical bytes of a batch's rows for the hash chain, version 2 (``chain.py`` frames and hashes them).

Version 1 rendered every row as SQLite ``format()`` text and the posting path
reproduced that text in Python, one ``%`` per row: a fifth of a post.  Version 2
encodes a section column by column, each column with one C-level call over all
its values, so the cost per value is a few nanoseconds:

* ``i`` — every value an integer: little-endian int64, 8 bytes each
  (``struct.pack``);
* ``s`` — every value text without a NUL: the values joined by NUL, UTF-8;
* ``n`` — every value NULL: nothing;
* ``j`` — anything else (NULLs mixed with values, a NUL inside a text): the
  column as a JSON array.

Each column is framed by its tag and byte length and each section starts with
its row count, so no two different sets of rows encode alike.  Which encoding
a column takes depends only on its values, so the verifier, which encodes the
rows it reads back with the same function, gets the same bytes whenever the
stored values equal the drafted ones.  They do exactly when every drafted
value already has the Python type SQLite gives back for its STRICT column
(an ``int`` for INTEGER, a ``str`` for TEXT, or None); ``draft_sections``
checks that (``strict``) and raises ``Unrenderable`` otherwise (a ``'5'`` in
an INTEGER column is stored as 5, a ``5`` in a TEXT column as ``'5'``), and
the caller then encodes the rows read back instead.
"""

from __future__ import annotations

import json
import struct
import sys
from array import array
from itertools import chain, islice
from typing import Any

import apsw

from tbot_core.gc_pause import gc_paused

# Per section (the order is part of the hash): label, (column, kind) pairs in table order, FROM/WHERE with ?1 for
# the batch id, ORDER BY.  Kind: d = NOT NULL INTEGER, i = nullable INTEGER, Q = TEXT (nullable or not).
SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...], str, str], ...] = (
    (
        "groups",
        (
            ("group_id", "d"),
            ("batch_id", "Q"),
            ("kind", "Q"),
            ("effective_utc", "Q"),
            ("memo", "Q"),
            ("symbol", "Q"),
            ("broker_code", "Q"),
            ("fitid", "Q"),
            ("content_hash", "Q"),
            ("reverses_group_id", "i"),
            ("group_no", "d"),
            ("group_count", "d"),
            ("leg_count", "d"),
        ),
        "groups g WHERE g.batch_id = ?1",
        "g.group_no",
    ),
    (
        "legs",
        (
            ("group_id", "d"),
            ("leg_no", "d"),
            ("account_code", "Q"),
            ("debit_cents", "d"),
            ("credit_cents", "d"),
            ("leg_count", "d"),
        ),
        "groups g JOIN legs l ON l.group_id = g.group_id WHERE g.batch_id = ?1",
        "g.group_no, l.leg_no",
    ),
    (
        "lots",
        (
            ("lot_id", "d"),
            ("group_id", "d"),
            ("broker_code", "Q"),
            ("symbol", "Q"),
            ("qty", "Q"),
            ("cost_cents", "d"),
        ),
        "groups g JOIN lots t ON t.group_id = g.group_id WHERE g.batch_id = ?1",
        "t.lot_id",
    ),
    (
        "lot_reliefs",
        (("relief_id", "d"), ("lot_id", "d"), ("group_id", "d"), ("qty", "Q"), ("cost_cents", "d")),
        "groups g JOIN lot_reliefs r ON r.group_id = g.group_id WHERE g.batch_id = ?1",
        "r.relief_id",
    ),
    (
        "accounts",
        (("code", "Q"), ("name", "Q"), ("kind", "Q"), ("batch_id", "Q")),
        "accounts a WHERE a.batch_id = ?1",
        "a.code",
    ),
    (
        "coa_mapping",
        (("mapping_id", "d"), ("role", "Q"), ("account_code", "Q"), ("batch_id", "Q")),
        "coa_mapping m WHERE m.batch_id = ?1",
        "m.mapping_id",
    ),
)
ALIAS = {"groups": "g", "legs": "l", "lots": "t", "lot_reliefs": "r", "accounts": "a", "coa_mapping": "m"}
_KINDS = tuple("".join(kind for _, kind in columns) for _, columns, _, _ in SECTIONS)
_STORED_SQL = tuple(
    f"SELECT {', '.join(f'{ALIAS[label]}.{name}' for name, _ in columns)} FROM {source} ORDER BY {order}"
    for label, columns, source, order in SECTIONS
)
_NONE = type(None)
_JSON_TYPES: dict[str, set[type]] = {"d": {int}, "i": {int, _NONE}, "Q": {str, _NONE}}


class Unrenderable(Exception):
    """A drafted value SQLite stores as a different Python value; encode the batch's rows as read back instead."""


def _odd(value: object) -> str:
    """A value no STRICT column of the ledger holds (a blob, say) in the verifier's JSON: it only has to differ."""
    return f"<{type(value).__name__}:{value!r}>"


def _little(native: bytes) -> bytes:
    swapped = array("q", native)
    swapped.byteswap()
    return swapped.tobytes()


def _data(values: list[Any], kind: str, strict: bool) -> tuple[bytes, bytes]:
    """One column's (tag, data) (see the module docstring)."""
    if kind != "Q":
        try:
            data = struct.pack(f"@{len(values)}q", *values)  # native: 2-3x faster than "<" (no generic conversion)
            return b"i", data if sys.byteorder == "little" else _little(data)
        except (struct.error, TypeError, OverflowError):
            if strict and kind == "d":
                raise Unrenderable from None
    else:
        try:
            text = "\x00".join(values)
            if text.count("\x00") == len(values) - 1:
                return b"s", text.encode()
        except (TypeError, UnicodeEncodeError):
            pass
    types = set(map(type, values))
    if types == {_NONE}:
        return b"n", b""
    if strict and not types <= _JSON_TYPES[kind]:
        raise Unrenderable
    text = json.dumps(values, ensure_ascii=False, separators=(",", ":"), default=_odd)
    return b"j", text.encode(errors="surrogatepass")


def _encode(columns: list[list[Any]], rows: int, kinds: str, strict: bool) -> bytes:
    out = [b"%d" % rows]
    for values, kind in zip(columns, kinds):
        tag, data = _data(values, kind, strict)
        out.append(b" %s%d:" % (tag, len(data)) + data)
    return b"".join(out)


def encode_section(
    rows: list[tuple[Any, ...]],
    kinds: str,
    *,
    strict: bool = False,
    constant: tuple[int, int] | None = None,
    flat: list[Any] | None = None,
) -> bytes:
    """A section's row count and its columns, each encoded as a whole.

    ``flat`` is the rows' values in one list when the caller has it already (the insert binds slices of it);
    each column is then a slice of it.  ``constant`` is (position, value) of a column the rows leave out
    because it is the same in every row (a drafted group's ``group_count``, the batch's).
    """
    if not rows:
        return b"0"
    width = len(rows[0])
    if flat is None:
        flat = list(chain.from_iterable(rows))
    if len(flat) != width * len(rows) or width + (constant is not None) != len(kinds):
        if strict:
            raise Unrenderable
        raise ValueError(f"rows of {width} columns, expected {len(kinds)}")
    columns = [flat[k::width] for k in range(width)]
    if constant is not None:
        columns.insert(constant[0], [constant[1]] * len(rows))
    return _encode(columns, len(rows), kinds, strict)


def draft_sections(
    groups: list[tuple[Any, ...]],
    group_count: int,
    legs: list[tuple[Any, ...]],
    lots: list[tuple[Any, ...]],
    reliefs: list[tuple[Any, ...]],
    accounts: list[tuple[Any, ...]],
    mappings: list[tuple[Any, ...]],
    flats: dict[str, list[Any]] | None = None,
) -> tuple[bytes, ...]:
    """The sections of a drafted batch, encoded exactly as ``stored_sections`` will encode the rows once stored.

    The rows are ``Draft``'s, in key order already except the accounts:
    groups without ``group_count`` (the batch's, passed on its own).  ``flats``
    holds the flattened groups and legs the insert bound, if the caller has them.
    Raises ``Unrenderable`` for a value SQLite would store as another Python value.
    """
    if any(type(row[0]) is not str for row in accounts):
        raise Unrenderable
    flats = flats or {}
    kinds = iter(_KINDS)
    return (
        encode_section(groups, next(kinds), strict=True, constant=(11, group_count), flat=flats.get("groups")),
        encode_section(legs, next(kinds), strict=True, flat=flats.get("legs")),
        *(encode_section(rows, next(kinds), strict=True) for rows in (lots, reliefs, sorted(accounts), mappings)),
    )


_CHUNK = 4096  # rows the verifier holds at a time: a few hundred KiB, so they stay in the CPU's cache


def _streamed(cursor: apsw.Cursor, kinds: str) -> bytes | None:
    """``encode_section`` of the cursor's rows, read ``_CHUNK`` at a time; None if a column's chunks take
    different forms (NULLs in some chunks only, say), which only the whole column can settle."""
    width, rows = len(kinds), 0
    tags: list[bytes] = []
    parts: list[list[bytes]] = [[] for _ in kinds]
    while chunk := list(islice(cursor, _CHUNK)):
        flat = list(chain.from_iterable(chunk))
        if len(flat) != width * len(chunk):
            return None
        for k, kind in enumerate(kinds):
            tag, data = _data(flat[k::width], kind, False)
            if not rows:
                tags.append(tag)
            elif tag != tags[k] or tag == b"j":  # JSON arrays do not concatenate
                return None
            parts[k].append(data)
        rows += len(chunk)
    if not rows:
        return b"0"
    out = [b"%d" % rows]
    for tag, pieces in zip(tags, parts):
        data = (b"\x00" if tag == b"s" else b"").join(pieces)
        out.append(b" %s%d:" % (tag, len(data)) + data)
    return b"".join(out)


def stored_sections(conn: apsw.Connection, batch_id: str) -> tuple[bytes, ...]:
    """The sections of a batch as its rows are stored now (the verifier's side, and the posting path's fallback).

    The rows are encoded as they stream in, a chunk at a time: reading a batch of 100,000 legs into one list
    first made the verify twice as slow as the scan, and the collector (paused here, ``gc_pause.py``) started a
    collection every 700 rows held.  Where chunks disagree on a column's form, the whole section is read again.
    """
    with gc_paused:
        sections = []
        for sql, kinds in zip(_STORED_SQL, _KINDS):
            encoded = _streamed(conn.execute(sql, (batch_id,)), kinds)
            if encoded is None:
                encoded = encode_section(conn.execute(sql, (batch_id,)).fetchall(), kinds)
            sections.append(encoded)
        return tuple(sections)
