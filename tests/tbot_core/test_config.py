"""The .env_bot parser: strict, typed, defaults from the seed, errors that name the key and never the value."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tbot_core.config import KNOWN_KEYS, Settings, default_env_text, parse_dotenv, settings_from_text
from tbot_core.errors import ConfigError


def test_seed_defaults_are_the_documented_ones():
    s = Settings()
    assert s.max_bsm_deviation == Decimal("0.15")
    assert s.max_pe_ratio == Decimal("50")
    assert s.max_debt_equity == Decimal("2.5")
    assert s.min_market_cap_fundamental == Decimal("2000000000")
    assert s.adx_threshold == Decimal("25")
    assert s.broker == "paper" and s.environment == "development"
    assert s.adx_filter_enabled and s.enable_bsm_filter


def test_every_key_the_seed_names_is_known():
    for key in (
        "ADX_FILTER_ENABLED",
        "ENABLE_BSM_FILTER",
        "MAX_BSM_DEVIATION",
        "MAX_PE_RATIO",
        "MAX_DEBT_EQUITY",
        "MIN_MARKET_CAP_FUNDAMENTAL",
        "STRAT_CLOSE_VIX_THRESHOLD",
        "DAILY_LOSS_LIMIT",
        "API_RETRY_LIMIT",
        "BROKER",
        "LOG_FORMAT",
        "DEFENSE_MODE_ACTIVE",
        "ENVIRONMENT",
    ):
        assert key in KNOWN_KEYS


def test_default_text_round_trips_to_default_settings():
    assert settings_from_text(default_env_text(), source="x") == Settings()


def test_values_are_typed_and_settings_are_frozen():
    s = settings_from_text("MAX_PE_RATIO=40\nDAILY_LOSS_LIMIT=3%\nBROKER=IBKR\nADX_FILTER_ENABLED=off\n", source="t")
    assert s.max_pe_ratio == Decimal("40") and s.broker == "ibkr" and s.adx_filter_enabled is False
    assert s.daily_loss_limit.is_percent and s.daily_loss_limit.amount(Decimal("100000")) == Decimal("3000.00")
    with pytest.raises(AttributeError):
        s.max_pe_ratio = Decimal(1)  # type: ignore[misc]  # the point: settings are frozen


def test_amount_loss_limit_is_exact_money():
    s = settings_from_text("DAILY_LOSS_LIMIT=2500.10", source="t")
    assert not s.daily_loss_limit.is_percent and s.daily_loss_limit.amount(Decimal("1")) == Decimal("2500.10")


def test_unknown_key_suggests_the_nearest_known_key():
    with pytest.raises(ConfigError, match="unknown key MAX_PE_RATO; did you mean MAX_PE_RATIO"):
        settings_from_text("MAX_PE_RATO=1", source="t")


def test_bad_value_names_key_and_shape_but_never_the_value():
    with pytest.raises(ConfigError) as err:
        settings_from_text("MAX_BSM_DEVIATION=hunter2secret", source=".env_bot")
    text = str(err.value)
    assert "MAX_BSM_DEVIATION" in text and "expected a decimal number" in text and "hunter2secret" not in text
    assert ".env_bot" in text


def test_malformed_line_names_the_line_number():
    with pytest.raises(ConfigError, match=r"\.env_bot:3: expected KEY=VALUE"):
        parse_dotenv("# c\nBROKER=paper\nnot a line\n", source=".env_bot")


def test_duplicate_key_is_an_error():
    with pytest.raises(ConfigError, match="appears twice"):
        parse_dotenv("BROKER=paper\nBROKER=ibkr\n", source="f")


def test_dotenv_syntax_quotes_export_and_comments():
    values = parse_dotenv("export BROKER=\"alpaca\"\nLOG_FORMAT='CSV'\nSYMBOLS=AAPL,MSFT # trailing\n", source="f")
    assert values == {"BROKER": "alpaca", "LOG_FORMAT": "CSV", "SYMBOLS": "AAPL,MSFT"}


def test_cross_field_check_allocations_sum():
    with pytest.raises(ConfigError, match="sum <= 1"):
        settings_from_text("ALLOC_OPEN=0.6\nALLOC_MID=0.6", source="t")


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_arbitrary_text_gives_settings_or_config_error_only(text):
    try:
        result = settings_from_text(text, source="fuzz")
    except ConfigError:
        return
    assert isinstance(result, Settings)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(KNOWN_KEYS), st.text(max_size=40))
def test_arbitrary_value_for_a_known_key_gives_settings_or_config_error(key, value):
    try:
        settings_from_text(f"{key}={value}".replace("\n", " ").replace("\r", " "), source="fuzz")
    except ConfigError:
        pass
