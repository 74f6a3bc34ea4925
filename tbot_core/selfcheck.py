"""The self-check framework: every enhancement and safety module proves it can run.

Startup runs every registered check and blocks on any failure, printing the
module, the UTC time, the cause and what to do about it.  A check that raises
counts as a failure (fail closed), with its message sanitized.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

from tbot_core.errors import TbotError
from tbot_core.sanitize import scrub
from tbot_core.timeutil import UtcTime, iso_z


@dataclass(frozen=True)
class CheckResult:
    module: str
    ok: bool
    detail: str
    hint: str = ""
    checked_utc: UtcTime = UtcTime("")  # "" only on a result nobody stamped

    @classmethod
    def passed(cls, module: str, detail: str = "ok") -> CheckResult:
        return cls(module, True, detail, "", iso_z())

    @classmethod
    def failed(cls, module: str, detail: str, hint: str = "") -> CheckResult:
        return cls(module, False, scrub(" ".join(detail.split())), hint, iso_z())

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def one_line(self) -> str:
        status = "ok" if self.ok else "FAIL"
        tail = f" (hint: {self.hint})" if self.hint and not self.ok else ""
        return f"{self.checked_utc} {self.module}: {status}: {self.detail}{tail}"


@runtime_checkable
class SelfCheck(Protocol):
    """Anything with a ``name`` and a ``self_check()`` that returns a ``CheckResult``."""

    @property
    def name(self) -> str: ...  # read only here, so a class-level name (``ClassVar[str]``) qualifies

    def self_check(self) -> CheckResult: ...


class FunctionCheck:
    """Adapts a plain function to the ``SelfCheck`` protocol."""

    def __init__(self, name: str, func: Callable[[], CheckResult]) -> None:
        self.name = name
        self._func = func

    def self_check(self) -> CheckResult:
        return self._func()


def run_one(check: SelfCheck) -> CheckResult:
    name = getattr(check, "name", type(check).__name__)
    try:
        result = check.self_check()
    except TbotError as exc:
        return CheckResult.failed(name, str(exc), exc.hint or "")
    except Exception as exc:
        return CheckResult.failed(
            name, f"self_check raised {type(exc).__name__}: {exc}", "see the system log; fix the module before launch"
        )
    if not isinstance(result, CheckResult):
        return CheckResult.failed(name, f"self_check returned {type(result).__name__}, expected CheckResult")
    return result


def run_checks(checks: Iterable[SelfCheck]) -> list[CheckResult]:
    return [run_one(check) for check in checks]


def all_ok(results: Iterable[CheckResult]) -> bool:
    return all(r.ok for r in results)
