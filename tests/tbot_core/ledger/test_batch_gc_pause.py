"""The cyclic garbage collector waits while a batch runs and is back on when the last batch ends, whatever the
outcome (``tbot_core/gc_pause.py``); a collector left off would let reference cycles pile up for the
rest of the process.  Real ledger files and the real ``Ledger`` batch runner."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tbot_core.gc_pause import gc_paused
from tbot_core.ledger.draft import Draft

from .batch_kit import PAIR, posting, refusal, run
from .helpers import EFFECTIVE


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_the_collector_waits_during_a_batch_and_is_back_after_its_commit(books, collector_on):
    seen = {}

    def build(draft: Draft) -> None:
        seen["during"] = gc.isenabled()
        draft.add_group("POSTING", EFFECTIVE, "pair", PAIR)

    assert run(books, posting(), build).row_count == 2
    assert seen == {"during": False}
    assert gc.isenabled()


def test_the_collector_is_back_after_a_rolled_back_batch_and_after_a_bug_in_build(books, collector_on):
    def unbalanced(draft: Draft) -> None:
        draft.add_group("POSTING", EFFECTIVE, "unbalanced", [("1100", 5, 0), ("1000", 0, 4)])

    refusal(lambda: run(books, posting("b1"), unbalanced))
    assert gc.isenabled()

    def crash(draft: Draft) -> None:
        raise RuntimeError("a bug in build")

    with pytest.raises(RuntimeError):
        run(books, posting("b2"), crash)
    assert gc.isenabled()


def test_the_collector_is_back_after_a_repeat_of_a_committed_batch(books, collector_on):
    run(books, posting(), lambda d: d.add_group("POSTING", EFFECTIVE, "pair", PAIR))
    assert run(books, posting(), lambda d: None).already_committed
    assert gc.isenabled()


def test_a_collector_the_process_had_turned_off_stays_off(books, collector_on):
    gc.disable()
    run(books, posting(), lambda d: d.add_group("POSTING", EFFECTIVE, "pair", PAIR))
    assert not gc.isenabled()


def test_overlapping_batches_resume_the_collector_only_when_the_last_one_ends(collector_on):
    """Two threads' batches overlap: the first to end must not turn the collector on under the other."""
    gc_paused.__enter__()
    gc_paused.__enter__()
    gc_paused.__exit__(None, None, None)
    assert not gc.isenabled()
    gc_paused.__exit__(None, None, None)
    assert gc.isenabled()
