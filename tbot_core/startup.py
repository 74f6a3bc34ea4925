"""The startup pipeline: the one ordered list of stages a start goes through, each fact checked once.

The supervisor runs ``run_startup`` (every stage) and ``tbot self-check``
runs ``run_self_check`` (the same stages but ``build_check``: the seed runs
it from the core's startup pipeline only, never via the CLI), so what the
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

At core start each enhancement and safety module gets one ``startup /
module_start`` audit row (UTC): its name, kind, whether it is enabled, its
self-check result and detail.  A module whose checks could not be built is
recorded as failed with the cause.  If those rows cannot be written, that is
one more failed result (``module_start_audit``), so launch blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tbot_core.audit import AuditEvent, AuditLog
from tbot_core.errors import TbotError
from tbot_core.home import BotHome
from tbot_core.home_checks import audit_checks, home_checks
from tbot_core.selfcheck import CheckResult, SelfCheck, run_one

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
# `tbot self-check`: every stage but build_check (seed: "invoked at startup; never via CLI").
SELF_CHECK_STAGES: tuple[Stage, ...] = tuple(stage for stage in STAGES if stage.name != "build_check")
BUILD_CHECK_NOTE = "build_check: runs only at core start (seed: never via CLI)"
# The factories that build the seed's enhancement and safety modules, and the kind each one's modules are.
MODULE_FACTORIES: Mapping[str, str] = {
    "security_bot": "safety",
    "enhancements": "enhancement",
    "safety": "safety",
    "build_check": "enhancement",
}


@dataclass(frozen=True)
class ModuleStart:
    """One module's state at core start: the content of its ``module_start`` audit row."""

    module: str
    kind: str
    enabled: bool | None  # None: the module could not even be built
    result: CheckResult

    def audit_event(self) -> AuditEvent:
        r = self.result
        context: dict[str, object] = {
            "module": self.module,
            "kind": self.kind,
            "enabled": self.enabled,
            "self_check": "ok" if r.ok else "failed",
            "detail": r.detail,
            "checked_utc": r.checked_utc,
        }
        if not r.ok and r.hint:
            context["hint"] = r.hint
        return AuditEvent("startup", "module_start", context, severity="info" if r.ok else "error")


def registered_modules() -> dict[str, str]:
    """Every enhancement and safety module the start records, in pipeline order: name -> kind."""
    names = {name: _factory_modules(name) for name in MODULE_FACTORIES}
    return {module: MODULE_FACTORIES[factory] for factory, modules in names.items() for module in modules}


def _factory_modules(factory: str) -> tuple[str, ...]:
    """The module names a factory builds, without building them (for a factory that failed)."""
    from tbot_core.enhancements.registry import MODULES
    from tbot_core.safety.checks import SAFETY_MODULES

    if factory == "enhancements":
        return tuple(cls.name for cls in MODULES if cls.name != "build_check")
    if factory == "safety":
        return SAFETY_MODULES
    return (factory,)


class _FactoryFailure:
    def __init__(self, name: str, exc: BaseException) -> None:
        self.name = name
        self._exc = exc

    def self_check(self) -> CheckResult:
        if isinstance(self._exc, TbotError):
            return CheckResult.failed(self.name, str(self._exc), self._exc.hint or "")
        return CheckResult.failed(self.name, f"could not build checks: {type(self._exc).__name__}: {self._exc}")


def run_startup(home: BotHome, stages: Sequence[Stage] = STAGES, *, audit: AuditLog | None = None) -> list[CheckResult]:
    """The core's start: every stage in order, then one ``module_start`` audit row per module.

    Launch is allowed only when every result is ok.  ``audit``: the core's open
    audit log; without one the home's is opened for the rows and closed again.
    """
    results, modules = _run_stages(home, stages)
    problem = record_module_start(home, modules, audit)
    if problem is not None:
        results.append(problem)
    return results


def run_self_check(home: BotHome) -> list[CheckResult]:
    """``tbot self-check``: the core start's stages but ``build_check``; writes no audit row."""
    return _run_stages(home, SELF_CHECK_STAGES)[0]


def _run_stages(home: BotHome, stages: Sequence[Stage]) -> tuple[list[CheckResult], list[ModuleStart]]:
    results: list[CheckResult] = []
    modules: list[ModuleStart] = []
    for stage in stages:
        for name, factory in stage.factories:
            kind = MODULE_FACTORIES.get(name)
            try:
                checks = factory(home, tuple(results))
            except Exception as exc:
                result = run_one(_FactoryFailure(name, exc))
                results.append(result)
                if kind is not None:
                    modules.extend(ModuleStart(module, kind, None, result) for module in _built_or_not(name))
                continue
            for check in checks:
                result = run_one(check)
                results.append(result)
                if kind is not None:
                    modules.append(ModuleStart(result.module, kind, _enabled(check), result))
    return results, modules


def _built_or_not(factory: str) -> tuple[str, ...]:
    try:
        return _factory_modules(factory)
    except Exception:  # the registry itself cannot be imported: record the factory
        return (factory,)


def _enabled(check: SelfCheck) -> bool | None:
    """A module's switch (modules without one are always on); None when reading it fails."""
    try:
        return bool(getattr(check, "enabled", True))
    except Exception:
        return None


def record_module_start(home: BotHome, modules: Sequence[ModuleStart], audit: AuditLog | None) -> CheckResult | None:
    """Write the ``module_start`` rows in one transaction; a failed result (blocking launch) if they cannot be."""
    if not modules:
        return None
    events = [m.audit_event() for m in modules]
    try:
        if audit is not None:
            audit.append_many(events)
        elif not home.paths.audit_db.exists():
            raise TbotError("db/audit.db missing")
        else:
            with home.audit() as log:
                log.append_many(events)
    except Exception as exc:
        return CheckResult.failed(
            "module_start_audit",
            f"module start rows not written to the audit log ({type(exc).__name__}: {exc})",
            "restore db/audit.db from a backup or rerun `tbot init --force`",
        )
    return None
