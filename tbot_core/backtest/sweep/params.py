"""``--param KEY=a:b:step`` and ``--param KEY=v1,v2``: which settings a sweep varies, checked before any run.

A key must be a settings key the strategy (or a gate module on its chain, or the fill model) reads:
a sweep over a key nothing reads would report N identical runs as if they were a finding.  Every
value goes through the key's own parser, so a sweep can never run a value ``tbot config set`` would
refuse, and is kept as its canonical ``.env_bot`` text (``0.50`` and ``0.5`` are one run, not two).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
import pkgutil
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from types import ModuleType

from tbot_core import config_types as t
from tbot_core.backtest import fast, portfolio, reference
from tbot_core.backtest.reference import REFERENCE_ONLY
from tbot_core.config import KEY_TABLE
from tbot_core.errors import ConfigError
from tbot_core.settings_keys import ENHANCEMENT_KEYS, Key
from tbot_core.strategies import market_state
from tbot_core.strategies.registry import STRATEGIES

FLAG = "--param"
# A grid larger than this is a typo (a step of 0.0001), not a plan: it would never finish.
MAX_GRID = 1_000_000
_KEYS: dict[str, Key] = {key.name: key for key in KEY_TABLE}
# Gate modules every strategy's entries pass, whatever the strategy declares.
_ALWAYS_ON_CHAIN = ("ticker_blocklist",)
# Besides tbot_core.backtest.fast itself: what the fast engine sizes, stops and fills with.
ENGINE_MODULES = (
    "tbot_core.backtest.run_info",
    "tbot_core.backtest.scratch",
    "tbot_core.safety.risk_bot",
    "tbot_core.safety.kill_switch",
)
CORE_STRATEGIES = ("open", "mid", "close")


@dataclass(frozen=True)
class ParamSpec:
    """One swept key and its values (canonical ``.env_bot`` text), in the order given."""

    key: str
    values: tuple[str, ...]
    numeric: bool

    def number(self, value: str) -> float:
        """The value as a number for plots and optuna's ordering (never used for money)."""
        return float(Decimal(value)) if self.numeric else float(self.values.index(value))


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def _settings_attrs(source: str) -> set[str]:
    """Attributes read as ``settings.x`` / ``self.settings.x`` (or through ``s = self.settings``) in a module."""
    tree = ast.parse(source)
    owners = {"settings", "_settings"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _name(node.value) in owners:
            owners |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and _name(node.value) in owners}


def _engine_modules(strategy: str) -> list[ModuleType]:
    """The modules a fast run of ``strategy`` goes through after the strategy itself.

    The core's strategies run on the fast engine (the bar engine's fills: risk bot, kill switch, paper
    fills); a reference-only strategy (sma_cross) on ``simulate()`` and the backtest fill model.
    """
    if strategy in REFERENCE_ONLY:
        return [portfolio, reference]
    rules = {f"{name}_rule" for name in CORE_STRATEGIES} - {f"{strategy}_rule"}  # another strategy's rule module
    names = [f"{fast.__name__}.{info.name}" for info in pkgutil.iter_modules(fast.__path__) if info.name not in rules]
    return [importlib.import_module(name) for name in (*names, *ENGINE_MODULES)]


@cache
def relevant_keys(strategy: str, chain: tuple[str, ...] | None = None) -> frozenset[str]:
    """The keys a fast run of ``strategy`` reads: its own code, the shared indicators, the engine or fill
    model it runs on, and the keys of the gate modules on its chain (``chain``: the modules ``--filters``
    keeps; None = as live, every module the strategy declares, so a module's own switch can be swept;
    () = ``--no-filters``).  ``all``: the three core strategies' keys and their switches."""
    if strategy == "all":
        union = frozenset().union(*(relevant_keys(name, chain) for name in CORE_STRATEGIES))
        return union | {f"STRAT_{name.upper()}_ENABLED" for name in CORE_STRATEGIES}
    cls = STRATEGIES[strategy]
    modules: set[ModuleType | None] = {
        inspect.getmodule(k) for k in cls.__mro__ if k.__module__.startswith("tbot_core.strategies")
    }
    modules |= {market_state, *_engine_modules(strategy)}
    attrs: set[str] = set()
    for module in modules:
        if module is not None:
            attrs |= _settings_attrs(inspect.getsource(module))
    names = {key.name for key in KEY_TABLE if key.attr in attrs}
    on_chain = (*_ALWAYS_ON_CHAIN, *cls.enhancements) if chain is None else chain
    for module_name in on_chain:
        names |= {key.name for key in ENHANCEMENT_KEYS.get(module_name, ())}
    return frozenset(names)


def _is_numeric(key: Key) -> bool:
    return isinstance(key.default, (int, Decimal)) and not isinstance(key.default, bool)


def _canonical(key: Key, raw: str, flag_text: str) -> str:
    try:
        value = key.parse(raw.strip())
    except ValueError as exc:
        raise ConfigError(f"{FLAG} {flag_text}: {key.name}: value {raw.strip()[:20]!r}: {exc}") from None
    if isinstance(value, Decimal):  # 0.50, 0.5 and 5E-1 are one value: one run, one run id
        return format(value.normalize(), "f")
    return t.render(value)


def _decimal(text: str, what: str, flag_text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ConfigError(f"{FLAG} {flag_text}: {what}: expected a number, got {text.strip()[:20]!r}") from None
    if not value.is_finite():
        raise ConfigError(f"{FLAG} {flag_text}: {what}: expected a finite number")
    return value


def _range(key: Key, body: str, flag_text: str) -> list[str]:
    parts = body.split(":")
    if len(parts) != 3:
        raise ConfigError(f"{FLAG} {flag_text}: expected KEY=start:stop:step or KEY=v1,v2,...")
    if not _is_numeric(key):
        raise ConfigError(f"{FLAG} {flag_text}: {key.name} is not numeric; a range needs a number key (use v1,v2)")
    start, stop, step = (_decimal(p, w, flag_text) for p, w in zip(parts, ("start", "stop", "step")))
    if step <= 0:
        raise ConfigError(f"{FLAG} {flag_text}: step: expected a number > 0, got {step}")
    if start > stop:
        raise ConfigError(f"{FLAG} {flag_text}: expected start <= stop, got {start} > {stop}")
    if isinstance(key.default, int) and any(v != v.to_integral_value() for v in (start, stop, step)):
        raise ConfigError(f"{FLAG} {flag_text}: {key.name} takes whole numbers; expected a whole start, stop and step")
    count = int((stop - start) / step) + 1
    if count > MAX_GRID:
        raise ConfigError(f"{FLAG} {flag_text}: {count} values; expected at most {MAX_GRID}")
    return [_canonical(key, str(start + i * step), flag_text) for i in range(count)]


def parse_param(text: str, strategy: str, chain: tuple[str, ...] | None = None) -> ParamSpec:
    """One ``--param`` flag as a ``ParamSpec``; anything unusable is one ``ConfigError`` line naming the flag."""
    name, sep, body = text.partition("=")
    name = name.strip().upper()
    if not sep or not name:
        raise ConfigError(f"{FLAG} {text[:60]!r}: expected KEY=start:stop:step or KEY=v1,v2,...")
    key = _KEYS.get(name)
    if key is None:
        raise ConfigError(f"{FLAG} {name}: unknown settings key (see `tbot config show`)")
    readable = relevant_keys(strategy, chain)
    if name not in readable:
        raise ConfigError(
            f"{FLAG} {name}: the {strategy} strategy's fast backtest with these filters does not read this key "
            f"(it reads {', '.join(sorted(readable))})"
        )
    flag_text = f"{name}={body.strip()[:40]}"
    if ":" in body:
        values = _range(key, body, flag_text)
    else:
        raw = [v for v in body.split(",") if v.strip()]
        if not raw:
            raise ConfigError(f"{FLAG} {flag_text}: no values; expected KEY=start:stop:step or KEY=v1,v2,...")
        values = [_canonical(key, v, flag_text) for v in raw]
    unique = tuple(dict.fromkeys(values))
    return ParamSpec(name, unique, _is_numeric(key))


def parse_params(texts: list[str] | None, strategy: str, chain: tuple[str, ...] | None = None) -> list[ParamSpec]:
    if not texts:
        raise ConfigError(f"{FLAG}: empty grid; expected at least one {FLAG} KEY=start:stop:step or KEY=v1,v2")
    specs = [parse_param(text, strategy, chain) for text in texts]
    seen: set[str] = set()
    for spec in specs:
        if spec.key in seen:
            raise ConfigError(f"{FLAG} {spec.key}: given twice; expected each key once")
        seen.add(spec.key)
    size = grid_size(specs)
    if size > MAX_GRID:
        raise ConfigError(f"{FLAG}: the grid has {size} runs; expected at most {MAX_GRID}")
    return specs


def grid_size(specs: list[ParamSpec]) -> int:
    size = 1
    for spec in specs:
        size *= len(spec.values)
    return size


def grid(specs: list[ParamSpec]) -> list[dict[str, str]]:
    """Every combination, the first key varying slowest (the order runs.csv lists them in)."""
    keys = [spec.key for spec in specs]
    return [dict(zip(keys, combo)) for combo in itertools.product(*(spec.values for spec in specs))]
