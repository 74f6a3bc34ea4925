"""Bad backtest CSV input: one line naming the line and column, a non-zero exit, and no outputs at all."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tbot_core.backtest.data import DataError, read_bars_csv
from tests.conftest import run_tbot

GOOD = ["timestamp_utc,open,high,low,close,volume"] + [
    f"2024-01-{d:02d}T00:00:00Z,{100 + d},{101 + d},{99 + d},{100.5 + d},1000" for d in range(1, 29)
]


def _with(line_no: int, text: str) -> str:
    lines = list(GOOD)
    lines[line_no - 1] = text
    return "\n".join(lines) + "\n"


CASES = {
    "missing column": (
        "timestamp_utc,open,high,low,volume\n2024-01-01T00:00:00Z,1,2,0.5,10\n",
        ["missing column 'close'"],
    ),
    "bad timestamp": (
        _with(5, "2024-13-45T00:00:00Z,104,105,103,104.5,1000"),
        [":5:", "column 'timestamp_utc'", "cannot parse"],
    ),
    "unsorted": (_with(6, "2024-01-02T00:00:00Z,104,105,103,104.5,1000"), [":6:", "column 'timestamp_utc'", "earlier"]),
    "duplicate": (_with(6, "2024-01-04T00:00:00Z,104,105,103,104.5,1000"), [":6:", "duplicate timestamp"]),
    "nan": (_with(7, "2024-01-06T00:00:00Z,NaN,105,103,104.5,1000"), [":7:", "column 'open'", "not a number"]),
    "empty price": (_with(7, "2024-01-06T00:00:00Z,104,105,103,,1000"), [":7:", "column 'close'"]),
    "non-positive": (_with(8, "2024-01-07T00:00:00Z,104,105,-1,104.5,1000"), [":8:", "column 'low'", "positive price"]),
    "empty file": ("", ["empty"]),
    "header only": ("timestamp_utc,open,high,low,close,volume\n", ["no data rows"]),
    "binary junk": (None, []),
    "no data in range": ("\n".join(GOOD) + "\n", ["no bars between 2030-01-01 and 2030-02-01"]),
}


def _write(case: str, folder: Path) -> Path:
    text = CASES[case][0]
    data = folder / "bars.csv"
    if text is None:
        data.write_bytes(bytes(range(256)) * 20)
    else:
        data.write_text(text)
    return data


def _range(case: str) -> tuple[date, date]:
    return (
        (date(2030, 1, 1), date(2030, 2, 1)) if case == "no data in range" else (date(2024, 1, 1), date(2024, 12, 31))
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_csv_is_refused_with_one_line_naming_file_line_and_column(case, tmp_path):
    start, end = _range(case)
    with pytest.raises(DataError) as err:
        read_bars_csv(_write(case, tmp_path), start=start, end=end)
    message = err.value.one_line()
    assert "\n" not in message and message.startswith("bars.csv")
    for needle in CASES[case][1]:
        assert needle in message, message


@pytest.mark.parametrize("case", ["unsorted", "binary junk"])
def test_cli_exits_non_zero_with_one_error_line_and_writes_no_outputs(case, home_paths, tmp_path):
    start, end = _range(case)
    result = run_tbot(
        "backtest",
        "--strategy=sma_cross",
        "--engine=fast",
        f"--start={start}",
        f"--end={end}",
        "--data_source=CSV",
        f"--data={_write(case, tmp_path)}",
        "--no-filters",
        home=home_paths.root,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "bars.csv" in errors[0], result.stderr
    assert not any(home_paths.backtest_dir("TBOT_PAPER_01").iterdir())
