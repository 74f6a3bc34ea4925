"""Each enhancement owns its .env_bot keys: the key registry and the enhancement registry agree.

The keys are declared apart from the enhancements (the config layer must not
import them), so nothing but these tests stops the two lists drifting, or a
module reading a key nobody declared for it.
"""

from __future__ import annotations

import ast
import inspect
import pkgutil
import subprocess
import sys
from collections import Counter

import pytest

from tbot_core import config_types as t
from tbot_core import settings_keys
from tbot_core.config import KEY_TABLE, KNOWN_KEYS, Settings
from tbot_core.enhancements.registry import MODULES
from tbot_core.settings_keys import ENHANCEMENT_KEYS, Key, core

CORE_ATTRS = {key.attr for key in (*core.RUN, *core.KEYS)}
# Keys a module reads although another module owns them, and why.
BORROWED = {
    # the pre-launch validator refuses a start when the BSM filter is on but has no rate for the identity's jurisdiction
    "build_check": {"enable_bsm_filter", "bsm_risk_free_rates"},
}
# Infrastructure modules of the package, not an enhancement's keys.
NOT_ENHANCEMENTS = {"key", "core"}


def test_the_key_registry_and_the_enhancement_registry_name_the_same_modules():
    assert {cls.name for cls in MODULES} == set(ENHANCEMENT_KEYS)
    for cls in MODULES:
        assert cls.keys is ENHANCEMENT_KEYS[cls.name], f"{cls.__name__}.keys is not settings_keys.{cls.name}.KEYS"
    files = {info.name for info in pkgutil.iter_modules(settings_keys.__path__)}
    assert files - NOT_ENHANCEMENTS == set(ENHANCEMENT_KEYS), "a settings_keys module that the registry does not list"


def test_each_key_has_exactly_one_owner_and_settings_has_them_all():
    owners = [*core.RUN, *core.KEYS, *(key for keys in ENHANCEMENT_KEYS.values() for key in keys)]
    twice = [name for name, n in Counter(key.name for key in owners).items() if n > 1]
    assert not twice
    assert set(KNOWN_KEYS) == {key.name for key in owners}
    assert all(hasattr(Settings(), key.attr) for key in owners)


def test_settings_lists_the_run_then_each_enhancements_keys_then_the_rest_of_the_core():
    """The order of `tbot config show`, the .env_bot `tbot init` writes and the console's config screen."""
    names = list(KNOWN_KEYS)
    assert names[: len(core.RUN)] == [key.name for key in core.RUN]
    assert names[-len(core.KEYS) :] == [key.name for key in core.KEYS]
    assert names.index("ADX_FILTER_ENABLED") == len(core.RUN)


def test_a_module_switch_is_one_of_its_own_keys():
    for cls in MODULES:
        if cls.toggle is not None:
            assert cls.toggle in {key.attr for key in cls.keys}, cls.name


# Modules whose failure blocks by default, and why: they guard against a risk nothing after them checks
# (an option's price, fundamentals, the close-window auction, the volatility floor), or they are safety rules
# the seed fixes (one trade per ticker per session, the pre-launch validator).
FAIL_CLOSED = {
    "black_scholes_filter",
    "build_check",
    "finnhub_fundamental_guard",
    "imbalance_scanner_ibkr",
    "ticker_blocklist",
    "vix_gatekeeper",
}


def test_every_module_has_its_own_fatal_key_with_a_documented_default():
    for cls in MODULES:
        own = {key.attr: key for key in cls.keys}
        assert cls.fatal_key in own and cls.fatal_key.endswith("_fatal"), cls.name
        key = own[cls.fatal_key]
        assert key.default is (cls.name in FAIL_CLOSED), f"{key.name} default"
        assert len(key.doc) > 40 and ("true" in key.doc), f"{key.name} doc must say what true does"
    assert {cls.name for cls in MODULES if getattr(Settings(), cls.fatal_key)} == FAIL_CLOSED


def _settings_reads(source: str) -> set[str]:
    """Attributes read off ``self.settings``, directly or through a local alias (``s = self.settings``)."""
    tree = ast.parse(source)

    def is_settings(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "settings"
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        )

    aliases: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs = list(zip(target.elts, node.value.elts))
                else:
                    pairs = [(target, node.value)]
                aliases.update(name.id for name, value in pairs if isinstance(name, ast.Name) and is_settings(value))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and (is_settings(node.value) or (isinstance(node.value, ast.Name) and node.value.id in aliases))
    }


def _reads_by_module() -> dict[str, set[str]]:
    methods = {name for name, member in inspect.getmembers(Settings) if inspect.isfunction(member)}
    return {cls.name: _settings_reads(inspect.getsource(inspect.getmodule(cls))) - methods for cls in MODULES}


def test_every_key_an_enhancement_reads_is_its_own_or_the_cores():
    reads = _reads_by_module()
    # The scan must see through an alias and into f-strings, or it would pass by seeing nothing.
    assert "max_pe_ratio" in reads["finnhub_fundamental_guard"]
    assert "imbalance_window_start_utc" in reads["imbalance_scanner_ibkr"]
    for cls in MODULES:
        allowed = {key.attr for key in cls.keys} | CORE_ATTRS | BORROWED.get(cls.name, set())
        assert reads[cls.name] <= allowed, f"{cls.name} reads keys it does not declare: {reads[cls.name] - allowed}"


def test_every_default_reads_back_through_its_own_parser():
    for key in KEY_TABLE:
        assert key.parse(t.render(key.default)) == key.default, key.name


def test_a_key_name_is_written_as_in_env_bot():
    with pytest.raises(ValueError, match="upper-case identifier"):
        Key("adx_threshold", 1, t.integer(), "lower case is the Settings attribute, not the key")


def test_the_config_layer_loads_without_the_enhancements_or_their_indicators():
    """The console reads key docs through tbot_core.config; the enhancements would cost it scipy's import."""
    probe = (
        "import sys, tbot_core.config\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('tbot_core.enhancements', 'scipy')))\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
