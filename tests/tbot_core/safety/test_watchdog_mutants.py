"""The watchdog's decisions in-process (mutmut cannot see the core subprocess): settings and self-check, broker
suspend/resume with backoff, feed down.

The probes are small test brokers and feeds whose heartbeat answers or raises on demand; the watchdog and its
callbacks are the real ones.  Heartbeat ages are made real by waiting past a short timeout, never by asserting
how long anything took.  The watchdog's thread is tested in ``test_watchdog_thread_mutants.py``.
"""

from __future__ import annotations

import time

import pytest

from tbot_core.state_codec import encode

from .watchdog_kit import Probe, _past, _wait, _watchdog


# -- settings and self-check ------------------------------------------------------------------------------------
def test_the_watchdog_takes_its_period_and_both_timeouts_from_the_settings(bot_home):
    dog, _ = _watchdog(bot_home, Probe(), Probe(), interval="0.5", broker_timeout="7", feed_timeout="9")
    assert dog.interval == 0.5 and isinstance(dog.interval, float)
    assert dog.broker_beat.threshold == 7.0 and dog.feed_beat.threshold == 9.0
    assert dog.snapshot().broker.threshold_seconds == 7.0 and dog.snapshot().feed.threshold_seconds == 9.0
    assert dog.broker_beat.state == "ok" and dog.feed_beat.state == "ok" and not dog.broker_suspended()
    assert dog.died_of == "" and not dog.alive()
    assert time.monotonic() - dog.last_loop >= 0  # the supervisor can age the loop before the thread ever runs


def test_self_check_fails_when_the_period_is_not_below_the_smaller_timeout(bot_home):
    for interval, broker_timeout, feed_timeout in (("5", "5", "30"), ("6", "30", "5"), ("6", "5", "5")):
        dog, _ = _watchdog(
            bot_home, None, None, interval=interval, broker_timeout=broker_timeout, feed_timeout=feed_timeout
        )
        result = dog.self_check()
        assert not result.ok and result.module == "watchdog_bot"
        assert result.detail == f"WATCHDOG_INTERVAL_SECONDS {float(interval)} is not below the heartbeat timeouts"
        assert result.hint == "lower WATCHDOG_INTERVAL_SECONDS or raise the timeouts"


def test_self_check_passes_and_names_the_period_and_timeouts_when_the_period_is_below_both(bot_home):
    dog, _ = _watchdog(bot_home, None, None, interval="4.5", broker_timeout="5", feed_timeout="30")
    result = dog.self_check()
    assert result.ok and result.module == "watchdog_bot"
    assert result.detail == "probe every 4.5s; broker timeout 5.0s, feed timeout 30.0s"


def test_snapshot_reports_each_beats_age_threshold_and_state(bot_home):
    dog, _ = _watchdog(bot_home, Probe(), Probe(), broker_timeout="600", feed_timeout="600")
    time.sleep(0.01)
    before = {"broker": dog.broker_beat.age(), "feed": dog.feed_beat.age()}
    snap = encode(dog.snapshot())
    after = {"broker": dog.broker_beat.age(), "feed": dog.feed_beat.age()}
    assert set(snap) == {"broker", "feed"}
    for key in ("broker", "feed"):
        assert set(snap[key]) == {"age_seconds", "threshold_seconds", "state"}
        assert round(before[key], 3) <= snap[key]["age_seconds"] <= round(after[key], 3)  # the age at that moment
        assert snap[key]["state"] == "ok" and snap[key]["age_seconds"] == round(snap[key]["age_seconds"], 3)


# -- broker: stale, suspended, resumed ---------------------------------------------------------------------------
def test_a_missed_broker_heartbeat_inside_the_timeout_marks_it_stale_without_suspending(bot_home):
    broker = Probe(ConnectionError("no route"))
    dog, calls = _watchdog(bot_home, broker, Probe(), broker_timeout="600")
    dog.probe_once()
    assert broker.calls == 1
    assert dog.broker_beat.state == "stale" and not dog.broker_suspended()
    assert dog.broker_beat.cause == "ConnectionError: no route"
    assert calls.broker_down == []


def test_a_broker_silent_past_its_timeout_is_suspended_and_reported_once(bot_home):
    broker = Probe(ConnectionError("no route"))
    dog, calls = _watchdog(bot_home, broker, Probe(), broker_timeout="0.1", feed_timeout="600")
    _past(0.1)
    dog.probe_once()
    assert dog.broker_suspended() and dog.broker_beat.state == "suspended"
    [cause] = calls.broker_down
    assert cause.startswith("no broker heartbeat for ") and cause.endswith("s (ConnectionError: no route)")
    age = float(cause.removeprefix("no broker heartbeat for ").split("s ")[0])
    assert age >= 0.1
    _wait(lambda: (dog.probe_once(), broker.calls >= 3)[1], "two more broker probes")
    assert len(calls.broker_down) == 1  # still suspended, not reported again
    assert calls.broker_up == []


def test_the_first_good_broker_probe_after_a_suspension_resumes_it_once(bot_home):
    broker = Probe(ConnectionError("no route"))
    dog, calls = _watchdog(bot_home, broker, Probe(), broker_timeout="0.1", feed_timeout="600")
    _past(0.1)
    dog.probe_once()
    assert dog.broker_suspended()
    broker.error = None
    answered_after = time.monotonic()
    _wait(lambda: (dog.probe_once(), calls.broker_up)[1], "the broker resumed")
    assert calls.broker_up == ["broker heartbeat answered again"]
    assert dog.broker_beat.state == "ok" and not dog.broker_suspended()
    assert dog.broker_beat.last_ok >= answered_after  # the good probe restarted the heartbeat clock
    dog.probe_once()
    assert calls.broker_up == ["broker heartbeat answered again"]  # an ordinary good probe is not a resume


def test_a_good_probe_after_a_stale_one_is_ok_again_without_a_resume(bot_home):
    broker = Probe(ConnectionError("slow"))
    dog, calls = _watchdog(bot_home, broker, Probe(), broker_timeout="600", feed_timeout="600")
    dog.probe_once()
    assert dog.broker_beat.state == "stale"
    broker.error = None
    dog.probe_once()
    assert dog.broker_beat.state == "ok" and calls.broker_up == [] and calls.broker_down == []


def test_a_broker_good_heartbeat_restarts_its_age_so_a_later_miss_is_only_stale(bot_home):
    broker = Probe()
    dog, calls = _watchdog(bot_home, broker, Probe(), broker_timeout="0.3", feed_timeout="600")
    _past(0.3)
    dog.probe_once()  # answers: the age starts again
    broker.error = TimeoutError("late")
    dog.probe_once()
    assert dog.broker_beat.state == "stale" and calls.broker_down == []


def test_no_broker_yet_is_not_probed_and_not_suspended(bot_home):
    dog, calls = _watchdog(bot_home, None, Probe(), broker_timeout="0.1", feed_timeout="600")
    _past(0.1)
    dog.probe_once()
    assert dog.broker_beat.state == "ok" and calls.broker_down == []


def test_a_hard_failure_reported_by_the_engine_suspends_at_once_and_reports_once(bot_home):
    broker = Probe()
    dog, calls = _watchdog(bot_home, broker, Probe(), interval="60", broker_timeout="600", feed_timeout="600")
    dog.broker_failed("broker unreachable at engine start")
    assert dog.broker_suspended() and dog.broker_beat.cause == "broker unreachable at engine start"
    assert calls.broker_down == ["broker unreachable at engine start"]
    dog.broker_failed("still unreachable")
    assert calls.broker_down == ["broker unreachable at engine start"]
    assert dog.broker_beat.cause == "still unreachable"
    dog.probe_once()  # the next broker probe is one period (60 s) away
    assert broker.calls == 0 and dog.broker_suspended()


def test_after_a_hard_failure_the_broker_is_probed_again_after_one_period_and_resumes(bot_home):
    broker = Probe()
    dog, calls = _watchdog(bot_home, broker, Probe(), interval="0.05", broker_timeout="600", feed_timeout="600")
    dog.broker_failed("submit failed: connection reset")
    _wait(lambda: (dog.probe_once(), calls.broker_up)[1], "the broker resumed")
    assert broker.calls == 1 and not dog.broker_suspended()


def test_a_suspended_broker_is_probed_with_doubling_backoff_capped_at_its_timeout(bot_home):
    broker = Probe(ConnectionError("down"))
    dog, _ = _watchdog(bot_home, broker, Probe(), interval="0.05", broker_timeout="0.3", feed_timeout="600")
    assert dog._broker_delay() == 0.0  # healthy: every period
    dog.broker_failed("down at start")
    assert dog._broker_delay() == pytest.approx(0.05)
    delays = []
    for expected_calls in range(1, 5):
        _wait(lambda n=expected_calls: (dog.probe_once(), broker.calls >= n)[1], f"probe {expected_calls}")
        delays.append(dog._broker_delay())
    assert delays == pytest.approx([0.1, 0.2, 0.3, 0.3])


def test_the_backoff_never_drops_below_one_period_when_the_timeout_is_shorter(bot_home):
    broker = Probe(ConnectionError("down"))
    dog, _ = _watchdog(bot_home, broker, Probe(), interval="0.2", broker_timeout="0.1", feed_timeout="600")
    dog.broker_failed("down")
    assert dog._broker_delay() == pytest.approx(0.2)


def test_the_backoff_exponent_stops_growing_so_a_days_long_outage_cannot_overflow_it(bot_home):
    broker = Probe(ConnectionError("down"))
    dog, _ = _watchdog(bot_home, broker, Probe(), interval="0.05", broker_timeout="600", feed_timeout="600")
    dog.broker_failed("down")
    for _ in range(40):
        dog._next_broker_probe = 0.0  # skip the wait itself: only the exponent is under test
        dog.probe_once()
    assert broker.calls == 40 and dog._broker_failures == 16
    assert dog._broker_delay() == pytest.approx(min(0.05 * 2**16, 600))


def test_a_good_probe_resets_the_backoff(bot_home):
    broker = Probe(ConnectionError("down"))
    dog, _ = _watchdog(bot_home, broker, Probe(), interval="0.05", broker_timeout="600", feed_timeout="600")
    dog.broker_failed("down")
    for _ in range(3):
        dog._next_broker_probe = 0.0
        dog.probe_once()
    assert dog._broker_failures == 3
    broker.error = None
    dog._next_broker_probe = 0.0
    dog.probe_once()
    assert dog._broker_failures == 0 and dog._broker_delay() == 0.0
    broker.error = ConnectionError("down again")
    dog.broker_failed("down again")
    assert dog._broker_delay() == pytest.approx(0.05)


def test_a_broker_that_goes_down_by_heartbeat_starts_its_backoff_at_one_period(bot_home):
    broker = Probe(ConnectionError("down"))
    dog, _ = _watchdog(bot_home, broker, Probe(), interval="0.05", broker_timeout="0.1", feed_timeout="600")
    dog.broker_failed("down")
    for _ in range(3):
        dog._next_broker_probe = 0.0
        dog.probe_once()
    broker.error = None
    dog._next_broker_probe = 0.0
    dog.probe_once()  # resumed
    broker.error = ConnectionError("down again")
    _past(0.1)
    dog.probe_once()  # suspended by heartbeat age
    assert dog.broker_suspended() and dog._broker_delay() == pytest.approx(0.05)


# -- feed: stale, down (a controlled stop is asked for) ----------------------------------------------------------
def test_a_missed_feed_heartbeat_inside_the_timeout_is_stale_only(bot_home):
    feed = Probe(OSError("socket closed"))
    dog, calls = _watchdog(bot_home, Probe(), feed, broker_timeout="600", feed_timeout="600")
    dog.probe_once()
    assert dog.feed_beat.state == "stale" and dog.feed_beat.cause == "OSError: socket closed"
    assert calls.feed_down == []


def test_a_feed_silent_past_its_timeout_is_down_reported_once_and_no_longer_probed(bot_home):
    feed = Probe(OSError("socket closed"))
    dog, calls = _watchdog(bot_home, Probe(), feed, broker_timeout="600", feed_timeout="0.1")
    _past(0.1)
    dog.probe_once()
    assert dog.feed_beat.state == "down"
    [cause] = calls.feed_down
    assert cause.startswith("no market data for ") and cause.endswith("s (OSError: socket closed)")
    assert float(cause.removeprefix("no market data for ").split("s ")[0]) >= 0.1
    feed.error = None
    dog.probe_once()
    dog.probe_once()
    assert feed.calls == 1 and dog.feed_beat.state == "down" and len(calls.feed_down) == 1


def test_a_good_feed_heartbeat_makes_a_stale_feed_ok_and_restarts_its_age(bot_home):
    feed = Probe(OSError("hiccup"))
    dog, calls = _watchdog(bot_home, Probe(), feed, broker_timeout="600", feed_timeout="0.1")
    dog.probe_once()
    assert dog.feed_beat.state == "stale"
    _past(0.1)
    feed.error = None
    answered_after = time.monotonic()
    dog.probe_once()
    assert dog.feed_beat.state == "ok" and dog.feed_beat.last_ok >= answered_after and calls.feed_down == []


def test_no_feed_yet_is_not_probed_and_not_declared_down(bot_home):
    dog, calls = _watchdog(bot_home, Probe(), None, broker_timeout="600", feed_timeout="0.1")
    _past(0.1)
    dog.probe_once()
    assert dog.feed_beat.state == "ok" and calls.feed_down == []


def test_rearming_the_feed_gives_a_restarted_engine_a_fresh_clock_with_the_same_timeout(bot_home):
    feed = Probe(OSError("gone"))
    dog, calls = _watchdog(bot_home, Probe(), feed, broker_timeout="600", feed_timeout="0.1")
    _past(0.1)
    dog.probe_once()
    assert dog.feed_beat.state == "down"
    rearmed_after = time.monotonic()
    dog.rearm_feed()
    assert dog.feed_beat.state == "ok" and dog.feed_beat.threshold == 0.1
    assert dog.feed_beat.last_ok >= rearmed_after
    feed.error = None
    dog.probe_once()  # the new feed is probed again
    assert feed.calls == 2 and dog.feed_beat.state == "ok" and len(calls.feed_down) == 1
