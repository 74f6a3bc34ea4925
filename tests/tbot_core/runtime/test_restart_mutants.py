"""RestartPolicy, in-process (mutmut sees it here): Reboot column, per-window budget, doubling delay, expiry.

The policy takes its clock as a parameter; these tests hand it a settable clock so a window of an
hour passes instantly and exactly.
"""

from __future__ import annotations

from tbot_core.runtime.restart import RestartPolicy


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _policy(max_attempts: int = 3, base: float = 0.5, window: float = 60.0) -> tuple[RestartPolicy, Clock]:
    clock = Clock()
    return RestartPolicy(max_attempts=max_attempts, base_delay_s=base, window_s=window, clock=clock), clock


def test_an_event_whose_matrix_row_says_reboot_no_is_never_restarted_even_with_budget_left():
    policy, _ = _policy()
    assert policy.refusal("daily_loss") == "no reboot for this event (Emergency Event Matrix)"
    assert policy.allows("daily_loss") is False
    assert policy.refusal("broker_down") == "no reboot for this event (Emergency Event Matrix)"


def test_an_event_whose_row_says_reboot_yes_is_restarted_while_budget_is_left():
    policy, _ = _policy(max_attempts=2)
    assert policy.refusal("feed_down") == "" and policy.allows("feed_down") is True
    policy.next_delay()
    assert policy.allows("logic_error") is True  # one of two used: still allowed


def test_the_restart_that_uses_the_last_of_the_budget_is_allowed_and_the_next_one_is_refused_with_the_numbers():
    policy, _ = _policy(max_attempts=2, window=90)
    policy.next_delay()
    assert policy.allows("feed_down")
    policy.next_delay()
    assert policy.allows("feed_down") is False
    assert policy.refusal("feed_down") == (
        "restart budget exhausted: 2 restarts in the last 90 s (RESTART_MAX_ATTEMPTS=2, RESTART_WINDOW_SECONDS=90)"
    )


def test_a_zero_budget_refuses_the_first_restart():
    policy, _ = _policy(max_attempts=0, window=1.5)
    assert policy.refusal("feed_down").startswith("restart budget exhausted: 0 restarts in the last 1.5 s")


def test_delays_double_with_each_restart_inside_the_window():
    policy, clock = _policy(max_attempts=10, base=0.5)
    delays = []
    for _ in range(4):
        delays.append(policy.next_delay())
        clock.now += 1
    assert delays == [0.5, 1.0, 2.0, 4.0]
    assert policy.attempts == 4


def test_restarts_older_than_the_window_stop_counting_so_spaced_outages_never_exhaust_the_budget():
    policy, clock = _policy(max_attempts=2, window=60)
    policy.next_delay()
    clock.now += 30
    policy.next_delay()
    assert policy.attempts == 2 and not policy.allows("feed_down")
    clock.now += 30  # the first restart is now exactly one window old: it no longer counts
    assert policy.attempts == 1 and policy.allows("feed_down")
    clock.now += 29.5  # the second is still inside its window
    assert policy.attempts == 1
    clock.now += 0.5
    assert policy.attempts == 0


def test_all_expired_restarts_leave_the_window_at_once():
    policy, clock = _policy(max_attempts=5, window=10)
    for _ in range(3):
        policy.next_delay()
        clock.now += 1
    clock.now += 100
    assert policy.attempts == 0
    assert policy.refusal("feed_down") == ""


def test_the_delay_falls_back_to_the_base_once_earlier_restarts_have_left_the_window():
    policy, clock = _policy(max_attempts=5, base=2.0, window=10)
    assert policy.next_delay() == 2.0
    assert policy.next_delay() == 4.0
    clock.now += 10
    assert policy.next_delay() == 2.0
    assert policy.attempts == 1


def test_the_budget_check_expires_old_restarts_before_counting():
    policy, clock = _policy(max_attempts=1, window=5)
    policy.next_delay()
    assert not policy.allows("feed_down")
    clock.now += 6
    assert policy.allows("feed_down")


def test_the_default_clock_is_the_monotonic_clock():
    policy = RestartPolicy(max_attempts=1, base_delay_s=1.0, window_s=3600.0)
    assert policy.next_delay() == 1.0
    assert policy.attempts == 1 and not policy.allows("feed_down")
