"""``tbot serve``: the same Textual console in a browser, behind a login, read-only unless told otherwise.

textual-serve 1.1 serves ``/``, ``/ws``, ``/download/{key}`` and ``/static`` with
no authentication and no Origin check, and starts one console process per
websocket. This subclass builds the aiohttp app itself with one middleware in
front of every route (``access.py``: the session, Host and Origin checks, the
login and logout, their audit rows), and here runs the console processes.

Each console process gets ``--read-only`` (no control keys at all) or, with
``--allow-control``, ``--web-user NAME`` so its flags name the web login.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import ssl
import sys
from collections.abc import Callable

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from tbot_core.errors import SecurityError
from tbot_core.paths import HomePaths
from tbot_tui.web.access import AccessControl
from tbot_tui.web.audit import WebAudit
from tbot_tui.web.auth import Credentials, FailureLimiter, Session, Sessions
from tbot_tui.web.pages import CONSOLE_PAGE, render

log = logging.getLogger("tbot.serve")

MAX_BODY_BYTES = 16 * 1024
MAX_CONSOLES = 8  # console processes at once (each is a Python process of its own)
SWEEP_S = 10.0


class ConsoleServer(AccessControl, Server):
    """textual-serve's server with a login in front of every route and one console command per login."""

    def __init__(
        self,
        root: str,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        allow_control: bool = False,
        tls: ssl.SSLContext | None = None,
        theme: str | None = None,
        session_ttl_s: float = 8 * 3600,
        credentials: Credentials | None = None,
        limiter: FailureLimiter | None = None,
    ) -> None:
        scheme = "https" if tls else "http"
        super().__init__(
            command="tbot console",
            host=host,
            port=port,
            title="TradeBot console",
            public_url=f"{scheme}://{host}:{port}",
        )
        self.root, self.allow_control, self.tls, self.theme = root, allow_control, tls, theme
        self.scheme = scheme
        self.paths = HomePaths(root)
        self.credentials = credentials or Credentials(root)
        self.limiter = limiter or FailureLimiter()
        self.sessions = Sessions(session_ttl_s)
        self.audit = WebAudit(self.paths)
        self.consoles = 0
        self._sweeper: asyncio.Task[None] | None = None

    # -- the aiohttp app -----------------------------------------------------------------------
    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard], client_max_size=MAX_BODY_BYTES)
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.get("/login", self.handle_login_page, name="login"),
                web.post("/login", self.handle_login, name="login_post"),
                web.get("/logout", self.handle_logout_page, name="logout"),
                web.post("/logout", self.handle_logout, name="logout_post"),
                web.static("/static", self.statics_path, show_index=False, name="static"),
            ]
        )
        app.on_startup.append(self.on_startup)
        app.on_shutdown.append(self.on_shutdown)
        return app

    # -- the console ------------------------------------------------------------------------------
    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        ws_scheme = "wss" if self.tls else "ws"
        page = render(
            CONSOLE_PAGE,
            title=self.title,
            static_url="/static/",
            font_size=to_int(request.query.get("fontsize", "16"), 16),
            websocket_url=f"{ws_scheme}://{request.host}/ws",
        )
        return web.Response(text=page, content_type="text/html")

    def console_command(self, session: Session) -> str:
        argv = [sys.executable, "-m", "tbot_tui", "--home", self.root]
        if self.theme:
            argv += ["--theme", self.theme]
        argv += ["--web-user", session.user, "--web-client", session.client] if self.allow_control else ["--read-only"]
        return shlex.join(argv)

    # The base promises a WebSocketResponse; a refusal here is a plain HTTP response (aiohttp takes any from a handler).
    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]  # refusal: HTTP 503
        session: Session = request["session"]
        if self.consoles >= MAX_CONSOLES:
            return await self.refuse(request, 503, "websocket_refused", f"{MAX_CONSOLES} consoles already open")
        websocket = web.WebSocketResponse(heartbeat=15)
        width = max(20, min(to_int(request.query.get("width", "80"), 80), 500))
        height = max(5, min(to_int(request.query.get("height", "24"), 24), 300))
        service: AppService | None = None
        self.consoles += 1
        session.sockets.add(websocket)
        await self.audit(
            "console_opened",
            {
                "user": session.user,
                "client": self.client(request),
                "mode": "control" if self.allow_control else "read-only",
            },
            actor="operator",
        )
        try:
            await websocket.prepare(request)

            async def close() -> None:  # the service awaits this and wants no result (close returns a bool)
                await websocket.close()

            service = AppService(
                self.console_command(session),
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=close,
                download_manager=self.download_manager,
                debug=False,
            )
            await service.start(width, height)
            try:
                await self._process_messages(websocket, service)
            finally:
                await service.stop()
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:
            log.error("console session ended: %s", type(error).__name__)
        finally:
            self.consoles -= 1
            session.sockets.discard(websocket)
            if service is not None:
                await service.stop()
        return websocket

    async def sweep(self) -> None:
        """End sessions past their expiry, closing the consoles they opened."""
        while True:
            await asyncio.sleep(SWEEP_S)
            for session in self.sessions.expired():
                await self.end_consoles(session)
                await self.audit("session_expired", {"user": session.user, "client": session.client})

    async def on_startup(self, app: web.Application) -> None:
        self._sweeper = asyncio.create_task(self.sweep())

    async def on_shutdown(self, app: web.Application) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for session in self.sessions.all():
            await self.end_consoles(session)

    # -- running ----------------------------------------------------------------------------------
    def serve(self, debug: bool = False) -> None:
        asyncio.run(self.run())

    async def run(self, ready: Callable[[], None] | None = None) -> None:
        app = await self._make_app()
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=self.tls)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise SecurityError(
                f"--host {self.host} --port {self.port}: cannot listen ({exc.strerror or exc})",
                hint="is another `tbot serve` running? pick another --port",
            ) from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (2, 15):  # SIGINT, SIGTERM
            loop.add_signal_handler(signum, stop.set)
        await self.audit(
            "serve_started",
            {
                "host": self.host,
                "port": self.port,
                "tls": self.tls is not None,
                "mode": "control" if self.allow_control else "read-only",
            },
        )
        if ready is not None:
            ready()
        try:
            await stop.wait()
        finally:
            await self.audit("serve_stopped", {"host": self.host, "port": self.port})
            await runner.cleanup()
            self.audit.close()
