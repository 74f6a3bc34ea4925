"""The explicit registry of every self-check the startup pipeline runs.

Each entry is a factory ``(BotHome) -> list[SelfCheck]``.  Modules are listed
here by hand (no directory scanning): adding a module means adding a line.
If a factory itself fails (say the config is unreadable), that becomes a
failed check named after the factory, so startup still blocks with a cause.
"""

from __future__ import annotations

from collections.abc import Callable

from tbot_core.errors import TbotError
from tbot_core.home import BotHome
from tbot_core.home_checks import home_checks
from tbot_core.selfcheck import CheckResult, SelfCheck

CheckFactory = Callable[[BotHome], list[SelfCheck]]


def _factories() -> list[tuple[str, CheckFactory]]:
    # Imported here so a broken optional module fails its own check, not the CLI.
    from tbot_core.enhancements.registry import build_check_checks, enhancement_checks
    from tbot_core.ledger.checks import ledger_checks
    from tbot_core.safety.checks import safety_checks
    from tbot_core.safety.security_bot import security_checks

    return [
        ("home", home_checks),
        ("security_bot", security_checks),  # vault first: everything after reads keys or secrets
        ("build_check", build_check_checks),
        ("ledger", ledger_checks),
        ("enhancements", enhancement_checks),
        ("safety", safety_checks),  # kill_switch, watchdog_bot, risk_bot, error_handler, notifier_bot
    ]


class _FactoryFailure:
    def __init__(self, name: str, exc: BaseException) -> None:
        self.name = name
        self._exc = exc

    def self_check(self) -> CheckResult:
        if isinstance(self._exc, TbotError):
            return CheckResult.failed(self.name, str(self._exc), self._exc.hint or "")
        return CheckResult.failed(self.name, f"could not build checks: {type(self._exc).__name__}: {self._exc}")


def registered_checks(home: BotHome) -> list[SelfCheck]:
    checks: list[SelfCheck] = []
    for name, factory in _factories():
        try:
            checks.extend(factory(home))
        except Exception as exc:
            checks.append(_FactoryFailure(name, exc))
    return checks
