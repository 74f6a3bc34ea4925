"""Read a broker activity export (JSON Lines or CSV) into validated activities.

All or nothing: the first bad line stops the read with one line naming the
file, the line number and the field, before anything touches the ledger.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from tbot_core.errors import TbotError
from tbot_core.ledger.activity import Activity, ActivityError
from tbot_core.money import parse_decimal
from tbot_core.timeutil import parse_iso_z

FIELDS = ("fitid", "type", "symbol", "side", "qty", "price", "amount", "fee", "timestamp_utc")
DECIMAL_FIELDS = ("qty", "price", "amount", "fee")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
EXPECTED = "expected JSON Lines (one object per line) or CSV with a header line"


class ActivityFileError(TbotError):
    """A broker export could not be read; nothing was written."""


def read_activity_file(path: Path) -> list[Activity]:
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ActivityFileError(f"{name}: cannot read ({exc.strerror})") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ActivityFileError(f"{name}: binary content (NUL byte at offset {nul}); {EXPECTED}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ActivityFileError(f"{name}: not UTF-8 text (bad byte at offset {exc.start}); {EXPECTED}") from None
    if not text.strip():
        raise ActivityFileError(f"{name}: empty file; {EXPECTED}")
    is_jsonl = path.suffix.lower() in JSONL_SUFFIXES or (
        path.suffix.lower() != ".csv" and text.lstrip().startswith("{")
    )
    activities = _read_jsonl(name, text) if is_jsonl else _read_csv(name, text)
    if not activities:
        raise ActivityFileError(f"{name}: no activity rows; {EXPECTED}")
    return activities


def _read_jsonl(name: str, text: str) -> list[Activity]:
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_float=Decimal)
        except ValueError:
            raise ActivityFileError(f"{name} line {number}: not a JSON object; {EXPECTED}") from None
        if not isinstance(record, dict):
            raise ActivityFileError(f"{name} line {number}: expected a JSON object, got {type(record).__name__}")
        out.append(_activity(name, number, record))
    return out


def _read_csv(name: str, text: str) -> list[Activity]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    out: list[Activity] = []
    try:
        header = [cell.strip().lower() for cell in next(reader)]
        missing = [field for field in FIELDS if field not in header]
        if missing:
            raise ActivityFileError(
                f"{name} line 1: missing column {', '.join(missing)} (CSV header must name {', '.join(FIELDS)})"
            )
        for row in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ActivityFileError(
                    f"{name} line {number}: expected {len(header)} fields like the header, got {len(row)}"
                )
            out.append(_activity(name, number, dict(zip(header, row))))
    except csv.Error as exc:
        raise ActivityFileError(f"{name} line {reader.line_num}: malformed CSV ({exc})") from None
    return out


def _text(name: str, number: int, field: str, value: Any) -> str:
    """Cell text, trimmed, except the fitid: a padded fitid means a mangled export, and trimming it would
    guess which id the broker meant, so ``Activity`` refuses it with the line number instead."""
    if isinstance(value, (str, int, Decimal)) and not isinstance(value, bool):
        return str(value) if field == "fitid" else str(value).strip()
    raise ActivityFileError(
        f"{name} line {number} field {field}: expected text or a number, got {type(value).__name__}"
    )


def _activity(name: str, number: int, record: dict[str, Any]) -> Activity:
    missing = [field for field in FIELDS if field not in record]
    if missing:
        raise ActivityFileError(f"{name} line {number}: missing field {', '.join(missing)}")
    raw = {field: _text(name, number, field, record[field]) for field in FIELDS}
    values: dict[str, Any] = {
        "fitid": raw["fitid"],
        "type": raw["type"].upper(),
        "symbol": raw["symbol"].upper(),
        "side": raw["side"].lower(),
    }
    for field in DECIMAL_FIELDS:
        try:
            values[field] = parse_decimal(raw[field]) if field == "amount" else parse_decimal(raw[field] or "0")
        except ValueError as exc:
            raise ActivityFileError(f"{name} line {number} field {field}: {exc}") from None
    try:
        values["timestamp_utc"] = parse_iso_z(raw["timestamp_utc"])
    except ValueError:
        raise ActivityFileError(
            f"{name} line {number} field timestamp_utc: expected an ISO 8601 UTC time such as 2025-01-02T15:04:05Z"
        ) from None
    try:
        return Activity(**values)
    except ActivityError as exc:
        raise ActivityFileError(f"{name} line {number} field {exc.field}: {exc}") from None
