"""The main screen: verdicts, risk, emergency matrix and audit tail.

One set of panels, two layouts: on a large terminal they share a 2x2 grid; below
``WIDE_MIN`` they become full-width tabs, because a quarter of 80x24 cannot show
a verdict's reason. The layout is a CSS class (``-tabs``) toggled on resize and
styled in tbot.tcss, so the panels (and their filters) are never rebuilt.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.widgets import Input, TabbedContent, TabPane

from tbot_tui.screens.base import ConsoleScreen
from tbot_tui.widgets.audit_tail import AuditPanel
from tbot_tui.widgets.matrix import MatrixPanel
from tbot_tui.widgets.risk import RiskPanel
from tbot_tui.widgets.verdicts import VerdictPanel

WIDE_MIN = Size(120, 34)
PANES = (
    ("tab-verdicts", "Filter verdicts"),
    ("tab-risk", "Risk state"),
    ("tab-matrix", "Emergency matrix"),
    ("tab-audit", "Audit log"),
)

PANEL_KEYS = Binding.Group("Panel", compact=True)


def wants_tabs(size: Size) -> bool:
    return size.width < WIDE_MIN.width or size.height < WIDE_MIN.height


class PanelPane(TabPane):
    """A tab pane that, in the grid layout, keeps focus from switching the (hidden) active tab."""

    def on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        if not self.screen.has_class("-tabs"):
            event.stop()  # TabbedContent would make this pane active and hide the other three


class MainScreen(ConsoleScreen):
    AUTO_FOCUS = "#verdict-table"
    BINDINGS = [
        Binding("slash", "search", "Search", key_display="/", tooltip="Search the audit log (Tab leaves the box)"),
        Binding(
            "left_square_bracket",
            "panel(-1)",
            "Prev panel",
            key_display="[",
            group=PANEL_KEYS,
            tooltip="Previous panel tab (narrow terminal; also ← on the tab bar)",
        ),
        Binding(
            "right_square_bracket",
            "panel(1)",
            "Next panel",
            key_display="]",
            group=PANEL_KEYS,
            tooltip="Next panel tab (narrow terminal; also → on the tab bar)",
        ),
    ]

    def compose_body(self) -> ComposeResult:
        panels = (
            VerdictPanel(id="verdicts", classes="panel"),
            RiskPanel(id="risk", classes="panel"),
            MatrixPanel(id="matrix", classes="panel"),
            AuditPanel(id="audit", classes="panel"),
        )
        with TabbedContent(id="main-panels"):
            for (pane_id, title), panel in zip(PANES, panels):
                with PanelPane(title, id=pane_id):
                    yield panel

    def on_mount(self) -> None:
        self._apply_layout(self.app.size)

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size)

    def on_screen_resume(self) -> None:
        self._apply_layout(self.app.size)  # the terminal may have changed while another screen showed

    def _apply_layout(self, size: Size) -> None:
        tabs = wants_tabs(size)
        self.set_class(tabs, "-tabs")
        self.set_class(not tabs, "-grid")
        # ContentSwitcher hides inactive panes with an inline style, which CSS cannot override.
        active = self.query_one(TabbedContent).active
        for pane in self.query(PanelPane):
            pane.display = not tabs or pane.id == active
        self.refresh_bindings()
        self.call_after_refresh(self._keep_focus_visible)

    def _keep_focus_visible(self) -> None:
        """Focus must never sit on a hidden widget (the tab bar in the grid, a pane behind another tab):
        keys would act on something the operator cannot see."""
        focused = self.focused
        if focused is not None and all(
            w.display for w in (focused, *focused.ancestors_with_self) if w is not self.app and w is not self
        ):
            return
        self._focus_active_pane()

    def _focus_active_pane(self) -> None:
        pane = self.query_one(TabbedContent).active_pane
        for widget in self.focus_chain:
            if pane is not None and pane in widget.ancestors:
                widget.focus()
                return

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "panel":
            return self.has_class("-tabs")
        return True

    def action_panel(self, step: int) -> None:
        tabbed = self.query_one(TabbedContent)
        ids = [pane_id for pane_id, _title in PANES]
        tabbed.active = ids[(ids.index(tabbed.active) + step) % len(ids)] if tabbed.active in ids else ids[0]
        self.call_after_refresh(self._focus_active_pane)

    def action_search(self) -> None:
        if self.has_class("-tabs"):
            self.query_one(TabbedContent).active = "tab-audit"
        self.query_one("#audit-search", Input).focus()
