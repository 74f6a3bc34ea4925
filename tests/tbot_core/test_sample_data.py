"""The shipped sample data is exactly what the checked-in, seeded generator makes (byte for byte)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tbot_core.paths import package_sample_data

GENERATOR = Path(__file__).resolve().parents[2] / "tools" / "make_sample_data.py"


def test_regenerating_the_sample_data_gives_the_shipped_files_byte_for_byte(tmp_path):
    spec = importlib.util.spec_from_file_location("make_sample_data", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for name in ("sample_ohlcv.csv", "sample_vix.csv"):
        assert (tmp_path / name).read_bytes() == package_sample_data(name).read_bytes(), name


def test_the_sample_data_stays_small_and_covers_the_default_universe():
    from tbot_core.config import Settings

    ohlcv = package_sample_data("sample_ohlcv.csv")
    assert ohlcv.stat().st_size < 500_000
    symbols = {line.split(",")[1] for line in ohlcv.read_text().splitlines()[1:]}
    assert symbols == set(Settings().symbols)
