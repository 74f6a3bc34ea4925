"""The progress line: redrawn in place on a terminal, plain lines anywhere else; always done/total, runs/s, ETA."""

from __future__ import annotations

import io

from tbot_core.backtest.sweep.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_line_is_redrawn_in_place():
    screen = Terminal()
    progress = Progress(3, stream=screen)
    for _ in range(3):
        progress.tick()
    progress.finish()
    text = screen.getvalue()
    assert text.startswith("\r[") and text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1]
    assert "3/3 runs" in last and "runs/s" in last and "ETA 0:00" in last and last.endswith("\x1b[K")


def test_in_a_log_it_is_plain_lines_and_reused_runs_count_as_done_not_as_run():
    log = io.StringIO()
    progress = Progress(4, stream=log)
    progress.tick(ran=False)
    progress.tick()
    progress.finish()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and "\x1b" not in log.getvalue()
    assert lines[-1].startswith("[############............] 2/4 runs") and progress.ran == 1
