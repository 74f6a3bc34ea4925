"""The watchdog's own thread in-process: it probes every period, records each loop, stops (waiting for a probe in
progress, giving up on a hung one), dies with its cause recorded and starts again.

The probes are small test brokers and feeds; the watchdog, its thread and its callbacks are the real ones.
Never a timing assertion: heartbeat ages are made real by waiting past a short timeout.
"""

from __future__ import annotations

import threading
import time

import pytest

from tbot_core.safety.watchdog_bot import Watchdog

from .watchdog_kit import Probe, _wait, _watchdog


# -- the thread ---------------------------------------------------------------------------------------------------
def test_the_thread_probes_every_period_and_records_each_loop_until_stopped(bot_home):
    broker, feed = Probe(), Probe()
    dog, _ = _watchdog(bot_home, broker, feed, broker_timeout="600", feed_timeout="600")
    started = time.monotonic()
    dog.start()
    try:
        assert dog.alive()
        _wait(lambda: broker.calls >= 3 and feed.calls >= 3, "three probe rounds")
        assert dog.last_loop > started
    finally:
        dog.stop()
    assert not dog.alive() and dog.died_of == ""
    calls = broker.calls
    time.sleep(0.2)
    assert broker.calls == calls  # stopped means no more probes


def test_stopping_a_watchdog_that_never_started_is_harmless(bot_home):
    dog, _ = _watchdog(bot_home, Probe(), Probe())
    dog.stop()
    assert not dog.alive()


def test_stop_waits_for_a_probe_in_progress_to_finish(bot_home):
    entered, release = threading.Event(), threading.Event()

    class SlowBroker(Probe):
        def heartbeat(self) -> None:
            entered.set()
            release.wait(5)
            super().heartbeat()

    broker = SlowBroker()
    dog, _ = _watchdog(bot_home, broker, Probe(), broker_timeout="600", feed_timeout="600")
    dog.start()
    assert entered.wait(5)
    threading.Timer(0.3, release.set).start()
    dog.stop()  # joins for at least 2 s: the probe ends first
    assert not dog.alive() and broker.calls == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the death is the point
def test_a_callback_that_raises_ends_the_thread_with_the_cause_recorded_and_start_revives_it(bot_home):
    def broken(cause: str) -> None:
        raise RuntimeError("supervisor callback failed " + "x" * 400)

    broker = Probe(ConnectionError("down"))
    dog, calls = _watchdog(bot_home, broker, Probe(), broker_timeout="0.1", feed_timeout="600", on_broker_down=broken)
    dog.start()
    try:
        _wait(lambda: not dog.alive(), "the watchdog thread to die")
        assert dog.died_of.startswith("RuntimeError: supervisor callback failed xxx") and len(dog.died_of) == 300
        assert dog.broker_suspended()  # the state reached before the callback survives
        dog.on_broker_down = calls.broker_down.append
        broker.error = None
        dog.start()  # the supervisor's one restart: the beats carry over
        assert dog.alive()
        _wait(lambda: calls.broker_up, "the restarted watchdog resumes the broker")
    finally:
        dog.stop()


def test_a_suspended_broker_is_not_probed_again_before_its_backoff_delay(bot_home):
    broker = Probe(ConnectionError("down"))
    dog, _ = _watchdog(bot_home, broker, Probe(), interval="60", broker_timeout="600", feed_timeout="600")
    dog.broker_failed("down")
    dog._next_broker_probe = 0.0  # the first retry is due now
    dog.probe_once()
    dog.probe_once()
    dog.probe_once()
    assert broker.calls == 1  # the next one is 120 s away


def test_a_healthy_broker_is_probed_on_every_round(bot_home):
    broker = Probe()
    dog, _ = _watchdog(bot_home, broker, Probe(), interval="60", broker_timeout="600", feed_timeout="600")
    for _ in range(3):
        dog.probe_once()
    assert broker.calls == 3


def test_start_marks_a_fresh_loop_so_a_restarted_watchdog_does_not_look_stuck(bot_home):
    dog, _ = _watchdog(bot_home, Probe(), Probe(), interval="60", broker_timeout="600", feed_timeout="600")
    time.sleep(0.05)
    before = time.monotonic()
    dog.start()
    try:
        assert dog.last_loop >= before
    finally:
        dog.stop()


def test_the_watchdog_runs_as_a_named_daemon_thread_that_never_keeps_the_process_alive(bot_home):
    probing: list[threading.Thread] = []

    class Recording(Probe):
        def heartbeat(self) -> None:
            probing.append(threading.current_thread())

    dog, _ = _watchdog(bot_home, Recording(), Probe(), broker_timeout="600", feed_timeout="600")
    dog.start()
    try:
        _wait(lambda: probing, "a probe from the watchdog thread")
    finally:
        dog.stop()
    assert probing[0].name == "watchdog" and probing[0].daemon


def test_a_stopped_watchdog_can_be_started_again_and_probes_again(bot_home):
    broker = Probe()
    dog, _ = _watchdog(bot_home, broker, Probe(), broker_timeout="600", feed_timeout="600")
    dog.start()
    _wait(lambda: broker.calls >= 1, "a first probe")
    dog.stop()
    calls = broker.calls
    dog.start()
    try:
        assert dog.alive()
        _wait(lambda: broker.calls >= calls + 2, "probes after the second start")
    finally:
        dog.stop()


def test_stop_gives_up_on_a_probe_that_hangs_instead_of_hanging_the_supervisor(bot_home):
    entered, release = threading.Event(), threading.Event()

    class HungBroker(Probe):
        def heartbeat(self) -> None:
            entered.set()
            release.wait(8)  # far longer than stop's bounded wait; released by the test in any case

    dog, _ = _watchdog(bot_home, HungBroker(), Probe(), broker_timeout="600", feed_timeout="600")
    dog.start()
    try:
        assert entered.wait(5)
        dog.stop()  # returns although the probe is still stuck
        assert dog.alive()
    finally:
        release.set()
        dog.stop()
    assert not dog.alive()


def test_a_rearmed_feed_keeps_measuring_its_age_on_the_watchdogs_own_clock(bot_home):
    now = [1000.0]
    settings = bot_home.settings.with_values(
        {
            "WATCHDOG_INTERVAL_SECONDS": "1",
            "WATCHDOG_BROKER_TIMEOUT_SECONDS": "15",
            "WATCHDOG_FEED_TIMEOUT_SECONDS": "30",
        }
    )
    feed_down: list[str] = []
    dog = Watchdog(
        settings,
        broker=lambda: None,
        feed=lambda: Probe(OSError("gone")),
        on_broker_down=print,
        on_broker_up=print,
        on_feed_down=feed_down.append,
        clock=lambda: now[0],
    )
    now[0] += 31
    dog.probe_once()
    assert dog.feed_beat.state == "down" and feed_down == ["no market data for 31.0s (OSError: gone)"]
    dog.rearm_feed()
    now[0] += 5
    assert dog.feed_beat.age() == 5.0
    now[0] += 26
    dog.probe_once()
    assert feed_down[-1] == "no market data for 31.0s (OSError: gone)" and len(feed_down) == 2
