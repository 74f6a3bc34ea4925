"""The startup pipeline: the one ordered list of stages a start goes through, each fact checked once.

``tbot self-check`` and the supervisor both run ``run_startup``, so what the
operator checks by hand is what blocks a launch.  The order is the order of
trust: the home and its config must be readable before the vault's secrets
are judged, the books and the audit trail before any module that writes to
them, the modules before ``build_check``, the seed's pre-launch validator, which
vouches for the schemas, the chart of accounts and the folders the stages
before it established (reading their results instead of probing again) and
adds what only it checks.  After the last stage the supervisor launches, and
only if every result passed; a failed stage does not stop the later ones, so
one run lists every problem.

Modules are listed by hand (no directory scanning): adding a module means
adding it to its stage.  A stage whose checks cannot even be built (say the
config is unreadable) yields one failed result named after its factory, so a
start still blocks with a cause.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tbot_core.errors import TbotError
from tbot_core.home import BotHome
from tbot_core.home_checks import audit_checks, home_checks
from tbot_core.selfcheck import CheckResult, SelfCheck, run_checks

# A factory builds a stage's checks from the home and the results of the stages before it.
CheckFactory = Callable[[BotHome, Sequence[CheckResult]], list[SelfCheck]]


@dataclass(frozen=True)
class Stage:
    name: str
    factories: tuple[tuple[str, CheckFactory], ...]


def _home(home: BotHome, _prior: Sequence[CheckResult]) -> list[SelfCheck]:
    return home_checks(home)


def _secrets(home: BotHome, _prior: Sequence[CheckResult]) -> list[SelfCheck]:
    from tbot_core.safety.security_bot import security_checks

    return list(security_checks(home))


def _ledger(home: BotHome, _prior: Sequence[CheckResult]) -> list[SelfCheck]:
    from tbot_core.ledger.checks import ledger_checks

    return ledger_checks(home)


def _audit(home: BotHome, _prior: Sequence[CheckResult]) -> list[SelfCheck]:
    return audit_checks(home)


def _enhancements(home: BotHome, _prior: Sequence[CheckResult]) -> list[SelfCheck]:
    # Imported when the stage runs, so a broken optional module fails its own stage, not the CLI.
    from tbot_core.enhancements.registry import enhancement_checks

    return list(enhancement_checks(home))


def _safety(home: BotHome, _prior: Sequence[CheckResult]) -> list[SelfCheck]:
    from tbot_core.safety.checks import safety_checks

    return safety_checks(home)


def _build_check(home: BotHome, prior: Sequence[CheckResult]) -> list[SelfCheck]:
    from tbot_core.enhancements.registry import build_check_checks

    return list(build_check_checks(home, prior))


STAGES: tuple[Stage, ...] = (
    Stage("home", (("home", _home),)),  # layout, vault key, config, identity, control folder
    Stage("secrets", (("security_bot", _secrets),)),  # finishes a rotation; every artifact decrypts
    Stage("ledger", (("ledger", _ledger),)),  # schema, chart of accounts, books: one probe each
    Stage("audit", (("audit", _audit),)),  # schema and hash chain
    Stage("modules", (("enhancements", _enhancements), ("safety", _safety))),  # every module's self_check
    Stage("build_check", (("build_check", _build_check),)),  # vouches for the facts above, adds its own
)
# What comes after the last stage; named here so the whole order reads in one place.
LAUNCH = "launch"


class _FactoryFailure:
    def __init__(self, name: str, exc: BaseException) -> None:
        self.name = name
        self._exc = exc

    def self_check(self) -> CheckResult:
        if isinstance(self._exc, TbotError):
            return CheckResult.failed(self.name, str(self._exc), self._exc.hint or "")
        return CheckResult.failed(self.name, f"could not build checks: {type(self._exc).__name__}: {self._exc}")


def run_startup(home: BotHome, stages: Sequence[Stage] = STAGES) -> list[CheckResult]:
    """Every stage in order; launch is allowed only when every result is ok."""
    results: list[CheckResult] = []
    for stage in stages:
        for name, factory in stage.factories:
            try:
                checks = factory(home, tuple(results))
            except Exception as exc:
                checks = [_FactoryFailure(name, exc)]
            results.extend(run_checks(checks))
    return results
