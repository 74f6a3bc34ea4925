"""Restart policy from the Emergency Event Matrix's Reboot column, with doubling backoff."""

from __future__ import annotations

from dataclasses import dataclass

from tbot_core.emergency import matrix_row


@dataclass
class RestartPolicy:
    max_attempts: int
    base_delay_s: float
    attempts: int = 0

    def allows(self, matrix_key: str) -> bool:
        """True when the event's row says Reboot: Yes and attempts remain."""
        return matrix_row(matrix_key).reboot and self.attempts < self.max_attempts

    def next_delay(self) -> float:
        """Count one attempt and return its delay: base, 2x base, 4x base, ..."""
        self.attempts += 1
        return self.base_delay_s * 2 ** (self.attempts - 1)
