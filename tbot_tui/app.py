"""The console application: a view over state.json and the audit log, and a writer of control flags.

Reads run in long-lived thread workers that post typed messages, so a slow
disk or a locked database never freezes the screen; everything shown lives in
bounded buffers. The only thing the console ever writes is a control flag,
through ``tbot_core.control.write_flag`` (which records the operator).

Two applications share everything but the controls: ``TradeBotConsole`` (the
operator's console) and ``ReadOnlyConsole`` (what ``tbot serve`` shows a browser
by default). The read-only one has no control bindings, no control commands in
the palette and no method that writes a flag: the keys are absent, not inert.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import get_current_worker

from tbot_core.audit import AuditRow
from tbot_core.control import FlagError, Operator, write_flag
from tbot_core.paths import HomePaths, stylesheet
from tbot_core.state import StateRead
from tbot_tui.acks import AckTracker
from tbot_tui.clock import Clock, system_clock
from tbot_tui.messages import AuditPolled, FlagAcknowledged, FlagWritten, StateRefreshed
from tbot_tui.screens.accept_mismatch import AcceptMismatchScreen
from tbot_tui.screens.backtest import BacktestScreen
from tbot_tui.screens.config import ConfigScreen
from tbot_tui.screens.help import HelpScreen
from tbot_tui.screens.kill_confirm import KillConfirmScreen
from tbot_tui.screens.main import MainScreen
from tbot_tui.screens.positions import PositionsScreen
from tbot_tui.screens.reset_confirm import ResetConfirmScreen
from tbot_tui.screens.self_check import SelfCheckScreen
from tbot_tui.screens.tuning import TuningScreen
from tbot_tui.sources import AuditSource, poll_state

STATE_POLL_S = 0.25
AUDIT_POLL_S = 0.05
AUDIT_RING = 2000
GC_GEN0_THRESHOLD = 20_000

SCREENS_BY_KEY = (
    ("1", "main", "Main"),
    ("2", "selfcheck", "Self-check"),
    ("3", "tuning", "Tuning"),
    ("4", "positions", "Positions"),
    ("5", "config", "Config"),
    ("6", "backtest", "Backtest"),
)
# (key, flag, footer label, what the help screen and palette say)
CONTROLS = (
    ("s", "start", "Start", "Start (or resume) trading: writes control_start.flag"),
    ("x", "stop", "Stop", "Stop the core in an orderly way: writes control_stop.flag"),
    ("d", "defense_on", "Defense", "Defense mode on (compressed risk limits)"),
    ("D", "defense_off", "Def off", "Defense mode off"),
)


HELP_BINDING = Binding("question_mark", "help", "Help", key_display="?", tooltip="This list of every key")
# defense off stays out of the footer (room at 80 columns); help and the palette list it
CONTROL_BINDINGS = (
    *(
        Binding(key, f"flag('{flag}')", label, tooltip=long, show=flag != "defense_off")
        for key, flag, label, long in CONTROLS
    ),
    Binding("k", "kill", "Kill", tooltip="Kill switch: halt all trading (asks to confirm, needs a reason)"),
    Binding("R", "reset", "Reset", tooltip="Reset the kill switch (type RESET and give a reason)"),
    Binding(
        "A",
        "accept_mismatch",
        "Accept",
        show=False,
        tooltip="Accept a broker-vs-books mismatch so entries resume (type ACCEPT and give a reason)",
    ),
)
SCREEN_BINDINGS = tuple(
    Binding(key, f"show('{mode}')", label, show=False, tooltip=f"Show the {label} screen")
    for key, mode, label in SCREENS_BY_KEY
)
QUIT_BINDING = Binding("q", "quit", "Quit", tooltip="Quit the console (the core keeps running)")


class ConsoleBase(App[None]):
    """Everything both consoles share: reading, showing, navigating. No bindings of its own (each
    console lists its full set, in footer order) and no way to write a control flag."""

    CSS_PATH = str(stylesheet())
    TITLE = "TradeBot"
    MODES = {
        "main": MainScreen,
        "selfcheck": SelfCheckScreen,
        "tuning": TuningScreen,
        "positions": PositionsScreen,
        "config": ConfigScreen,
        "backtest": BacktestScreen,
    }
    read_only = True

    state_read: reactive[StateRead | None] = reactive(None, always_update=True)
    audit_seq: reactive[int] = reactive(0)
    audit_problem: reactive[str] = reactive("")
    ack_text: reactive[str] = reactive("")

    def __init__(
        self,
        home: str | None = None,
        *,
        clock: Clock = system_clock,
        state_poll_s: float = STATE_POLL_S,
        audit_poll_s: float = AUDIT_POLL_S,
        theme: str | None = None,
        operator: Operator | None = None,
    ) -> None:
        super().__init__()
        if theme is not None:
            if theme not in self.available_themes:
                raise ValueError(
                    f"--theme {theme[:40]!r}: unknown theme; expected one of {', '.join(sorted(self.available_themes))}"
                )
            self.theme = theme
        self.operator = operator  # who control flags name (None: the local user, see Operator.current)
        self.paths = HomePaths(home)
        self.clock = clock
        self.state_poll_s = state_poll_s
        self.audit_poll_s = audit_poll_s
        self.audit_ring: deque[AuditRow] = deque(maxlen=AUDIT_RING)
        self.audit_polls = 0
        self.acks = AckTracker()
        self._history_read = False
        self.on_audit_shown: Callable[[int], None] | None = None  # the benchmark's probe
        self._wake = threading.Event()
        self._query_source = AuditSource(self.paths)

    # -- lifecycle -----------------------------------------------------------------------
    def on_mount(self) -> None:
        if self.read_only:
            self.ack_text = (
                "read-only view: no control keys here (use `tbot tui` on the server, or `tbot serve --allow-control`)"
            )
        elif self.operator is not None and self.operator.ssh_client and self.operator.ssh_client.startswith("web"):
            self.ack_text = f"browser console: control flags are sent as operator {self.operator.user}"
        self.switch_mode("main")
        self.poll_state_loop()
        self.poll_audit_loop()
        self.call_after_refresh(self._freeze_startup_heap)

    def _freeze_startup_heap(self) -> None:
        """Full GC passes over Textual's long-lived startup objects stalled painting by ~250 ms
        under a 1,000 rows/s audit stream (bench/console.py); freezing them keeps p99 low."""
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_GEN0_THRESHOLD, 20, 100)

    @property
    def loaded(self) -> bool:
        """True once both sources have been read at least once (tests wait for this)."""
        return self.state_read is not None and self.audit_polls > 0

    @work(thread=True, group="state-poll")
    def poll_state_loop(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            self.post_message(StateRefreshed(poll_state(self.paths, self.clock)))
            self._wake.wait(self.state_poll_s)
            self._wake.clear()

    @work(thread=True, group="audit-poll")
    def poll_audit_loop(self) -> None:
        worker, source = get_current_worker(), AuditSource(self.paths)
        try:
            while not worker.is_cancelled:
                rows, problem = source.poll(first_batch=AUDIT_RING // 4)
                self.post_message(AuditPolled(rows, problem))
                time.sleep(self.audit_poll_s)
        finally:
            source.close()

    def on_state_refreshed(self, message: StateRefreshed) -> None:
        self.state_read = message.read

    def on_audit_polled(self, message: AuditPolled) -> None:
        self.audit_polls += 1
        self.audit_problem = message.problem
        history = not self._history_read  # the first good read holds rows committed before we started
        self._history_read = self._history_read or not message.problem
        if not message.rows:
            return
        self.audit_ring.extend(message.rows)
        for ack in self.acks.scan(message.rows, history=history):
            self.post_message(FlagAcknowledged(ack))
        self.audit_seq = message.rows[-1].seq

    def audit_shown(self, seq: int) -> None:
        if self.on_audit_shown is not None:
            self.call_after_refresh(self.on_audit_shown, seq)

    def audit_query(
        self, n: int, *, category: str | None, severity: str | None, search: str
    ) -> tuple[list[AuditRow], str]:
        return self._query_source.query(n, category=category, severity=severity, search=search)

    def on_flag_acknowledged(self, message: FlagAcknowledged) -> None:
        """Every new ack goes to the ack line; only the answer to this console's own request pops up."""
        ack = message.ack
        by = "" if ack.mine else ", requested elsewhere"
        self.ack_text = f"{ack.flag} acknowledged by core: {ack.outcome} (audit #{ack.seq} {ack.ts_utc[11:19]}Z{by})"
        if ack.mine:
            self.notify(self.ack_text, title="core acknowledged", timeout=4)

    # -- navigation -------------------------------------------------------------------------
    def action_show(self, mode: str) -> None:
        self.switch_mode(mode)

    def action_help(self) -> None:
        # Every binding declared here is a ``Binding`` (Textual also allows plain tuples; none are used).
        groups: list[tuple[str, list[Binding]]] = [
            ("everywhere", [b for b in self.BINDINGS if isinstance(b, Binding)]),
            ("main screen", [b for b in MainScreen.BINDINGS if isinstance(b, Binding)]),
            (
                "main screen, narrow",
                [Binding("left,right", "previous_tab", "On the panel tab bar: previous / next panel")],
            ),
            (
                "everywhere",
                [
                    Binding(
                        "ctrl+p",
                        "command_palette",
                        "Command palette: every screen"
                        if self.read_only
                        else "Command palette: every control and screen",
                    ),
                    Binding("tab", "focus_next", "Next panel / field (shift+tab: back)"),
                ],
            ),
            (
                "dialogs",
                [Binding("enter", "confirm", "Confirm the dialog"), Binding("escape", "cancel", "Cancel the dialog")],
            ),
        ]
        self.push_screen(HelpScreen(groups))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from self.control_commands()
        for key, mode, label in SCREENS_BY_KEY:
            yield SystemCommand(f"Show {label} screen", f"key {key}", partial(self.action_show, mode))
        if isinstance(screen, MainScreen):
            yield SystemCommand("Search the audit log", "key /", screen.action_search)
        yield SystemCommand("Help: all key bindings", "key ?", self.action_help)

    def control_commands(self) -> Iterable[SystemCommand]:
        return ()


class ReadOnlyConsole(ConsoleBase):
    """The console without controls (``tbot serve`` without ``--allow-control``): nothing here writes a flag."""

    BINDINGS = [HELP_BINDING, *SCREEN_BINDINGS, QUIT_BINDING]
    read_only = True


class TradeBotConsole(ConsoleBase):
    """The operator's console: everything the read-only one shows, plus the control keys and commands."""

    BINDINGS = [HELP_BINDING, *CONTROL_BINDINGS, *SCREEN_BINDINGS, QUIT_BINDING]
    read_only = False

    # -- controls -------------------------------------------------------------------------
    def action_flag(self, flag: str, reason: str = "") -> None:
        self.write_flag_worker(flag, reason)

    @work(thread=True, group="flags")
    def write_flag_worker(self, flag: str, reason: str) -> None:
        try:
            record = write_flag(self.paths, flag, reason=reason, source="ui", operator=self.operator)
        except (FlagError, OSError) as exc:
            problem = exc.one_line() if isinstance(exc, FlagError) else f"control folder not writable ({exc.strerror})"
            self.call_from_thread(self.notify, problem, title=f"{flag} not sent", severity="error")
            return
        self.post_message(FlagWritten(record))
        self._wake.set()

    def on_flag_written(self, message: FlagWritten) -> None:
        record = message.record
        self.acks.expect(record)
        core_up = self.state_read is not None and self.state_read.status == "ok"
        waiting = (
            "waiting for the core's acknowledgement"
            if core_up
            else "core not running: the flag waits for the next core"
        )
        self.ack_text = (
            f"{record.flag} requested {record.requested_utc[11:19]}Z by {record.operator.describe()} — {waiting}"
        )

    def action_kill(self) -> None:
        self.push_screen(KillConfirmScreen(), partial(self._confirmed, "kill", "kill"))

    def action_reset(self) -> None:
        self.push_screen(ResetConfirmScreen(), partial(self._confirmed, "reset", "reset"))

    def action_accept_mismatch(self) -> None:
        self.push_screen(AcceptMismatchScreen(), partial(self._confirmed, "ack_mismatch", "accept"))

    def _confirmed(self, flag: str, what: str, reason: str | None) -> None:
        """A confirm dialog's answer: its reason writes ``flag``; a cancel writes nothing and says so."""
        if reason:
            self.action_flag(flag, reason)
        else:
            self.ack_text = f"{what} cancelled: no flag written"

    def control_commands(self) -> Iterable[SystemCommand]:
        for key, flag, _label, long in CONTROLS:
            yield SystemCommand(long.split(":")[0], f"{long} (key {key})", partial(self.action_flag, flag))
        yield SystemCommand("Kill switch: halt trading", "asks for confirmation and a reason (key k)", self.action_kill)
        yield SystemCommand("Reset kill switch", "type RESET and give a reason (key R)", self.action_reset)
        yield SystemCommand(
            "Accept broker mismatch",
            "entries resume; type ACCEPT and give a reason (key A)",
            self.action_accept_mismatch,
        )
