"""``tbot serve``: the same Textual console in a browser, behind a login, read-only unless told otherwise.

textual-serve 1.1 serves ``/``, ``/ws``, ``/download/{key}`` and ``/static`` with
no authentication and no Origin check, and starts one console process per
websocket. This subclass builds the aiohttp app itself with one middleware in
front of every route:

- no valid session: ``GET /`` goes to the login page, anything else is refused
  (401; 403 for the websocket upgrade); a ``Host`` that is not this server's
  loopback name is refused (DNS rebinding);
- ``POST`` (login, logout) and the websocket need an ``Origin`` equal to the
  page's own; a session whose login changed since (a new password through
  ``tbot secrets set web_console``) is ended;
- every login, logout, expiry and refusal is an audit row, category ``web``,
  with the client address and never a typed value.

Each console process gets ``--read-only`` (no control keys at all) or, with
``--allow-control``, ``--web-user NAME`` so its flags name the web login.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import ssl
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from tbot_core.audit import AuditLog
from tbot_core.errors import SecurityError
from tbot_core.paths import HomePaths
from tbot_tui.web.auth import MAX_FIELD_CHARS, Credentials, FailureLimiter, Session, Sessions
from tbot_tui.web.pages import CONSOLE_PAGE, LOGIN_PAGE, LOGOUT_PAGE, render

log = logging.getLogger("tbot.serve")

COOKIE = "tbot_session"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
MAX_BODY_BYTES = 16 * 1024
MAX_CONSOLES = 8  # console processes at once (each is a Python process of its own)
SWEEP_S = 10.0
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def utc_text(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WebAudit:
    """Audit rows of category ``web``, appended off the event loop (SQLite may wait on the core's lock)."""

    def __init__(self, paths: HomePaths) -> None:
        self.paths = paths
        self._log: AuditLog | None = None

    def _append(self, event: str, context: dict[str, Any], severity: str, actor: str) -> None:
        if self._log is None:
            self._log = AuditLog(self.paths.audit_db)
        self._log.append("web", event, context, severity=severity, actor=actor)

    async def __call__(
        self, event: str, context: dict[str, Any], *, severity: str = "info", actor: str = "system"
    ) -> None:
        try:
            await asyncio.to_thread(self._append, event, context, severity, actor)
        except Exception as exc:
            log.error("audit row web/%s not written: %s", event, type(exc).__name__)

    def append_now(self, event: str, context: dict[str, Any], *, severity: str = "info", actor: str = "system") -> None:
        self._append(event, context, severity, actor)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class ConsoleServer(Server):
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

    @property
    def mode(self) -> str:
        return "control allowed: flags name your login" if self.allow_control else "read-only"

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

    def client(self, request: web.Request) -> str:
        return str(request.remote or "unknown")[:64]

    def origin_of(self, request: web.Request) -> str:
        return f"{self.scheme}://{request.host}"

    def host_allowed(self, request: web.Request) -> bool:
        """Bound to loopback, only loopback names may be asked for (a rebound DNS name may not)."""
        if self.host not in LOOPBACK_NAMES:
            return True
        name = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
        return name in LOOPBACK_NAMES

    async def refuse(
        self,
        request: web.Request,
        status: int,
        event: str,
        why: str,
        *,
        severity: str = "warning",
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> web.Response:
        await self.audit(
            event,
            {
                "client": self.client(request),
                "method": request.method,
                "path": request.path[:200],
                "status": status,
                "why": why,
            },
            severity=severity,
        )
        return web.Response(status=status, text=body or f"{status}: {why}\n", headers=headers)

    @web.middleware
    async def guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await self._guarded(request, handler)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    async def _guarded(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not self.host_allowed(request):
            return await self.refuse(request, 421, "request_refused", "Host is not this server's loopback name")
        if request.method not in ("GET", "HEAD", "POST"):
            return await self.refuse(request, 405, "request_refused", "method not allowed")
        is_ws = request.path == "/ws"
        if (request.method == "POST" or is_ws) and request.headers.get("Origin") != self.origin_of(request):
            event = "websocket_refused" if is_ws else "request_refused"
            return await self.refuse(request, 403, event, "Origin missing or not this server's")
        if request.path == "/login":
            return await handler(request)
        session, why = await self.session_of(request)
        if session is None:
            if is_ws:
                return await self.refuse(request, 403, "websocket_refused", f"no valid session ({why})")
            if request.path == "/" and request.method in ("GET", "HEAD"):
                raise web.HTTPFound("/login")
            return await self.refuse(request, 401, "request_refused", f"no valid session ({why})")
        request["session"] = session
        return await handler(request)

    async def session_of(self, request: web.Request) -> tuple[Session | None, str]:
        session, why = self.sessions.find(request.cookies.get(COOKIE))
        if why == "expired":
            await self.audit("session_expired", {"client": self.client(request)})
        if session is None:
            return None, why
        try:
            fingerprint = self.credentials.current().fingerprint
        except (SecurityError, KeyError):
            fingerprint = ""
        if fingerprint != session.fingerprint:  # the login was changed or deleted since this session began
            self.sessions.drop(session)
            await self.end_consoles(session)
            await self.audit(
                "session_revoked",
                {"user": session.user, "client": self.client(request), "why": "the web_console login changed"},
                severity="warning",
            )
            return None, "login changed"
        return session, ""

    # -- login and logout --------------------------------------------------------------------------
    def login_page(self, problem: str = "", status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        page = render(LOGIN_PAGE, title=self.title, mode=f"console: {self.mode}", problem=problem)
        return web.Response(text=page, content_type="text/html", status=status, headers=headers)

    async def handle_login_page(self, request: web.Request) -> web.StreamResponse:
        session, _why = self.sessions.find(request.cookies.get(COOKIE))
        if session is not None:
            raise web.HTTPFound("/")
        return self.login_page()

    async def handle_login(self, request: web.Request) -> web.StreamResponse:
        client = self.client(request)
        wait = self.limiter.retry_after(client)
        if wait > 0:
            await self.audit(
                "login_rate_limited", {"client": client, "retry_after_s": int(wait) + 1}, severity="warning"
            )
            return self.login_page(
                f"too many failed attempts: try again in {int(wait) + 1} s", 429, {"Retry-After": str(int(wait) + 1)}
            )
        try:
            form = await request.post()
        except ValueError:
            return await self.refuse(request, 400, "request_refused", "login form not readable")
        user, password = form.get("user"), form.get("password")
        if (
            not isinstance(user, str)
            or not isinstance(password, str)
            or len(user) > MAX_FIELD_CHARS
            or len(password) > MAX_FIELD_CHARS
        ):
            return await self.refuse(request, 400, "request_refused", "login form needs text fields user and password")
        try:
            login = self.credentials.check(user, password)
            user_known = login is not None or self.credentials.user_matches(user)
        except (SecurityError, KeyError):
            await self.audit("login_failed", {"client": client, "why": "no web_console login is set"}, severity="error")
            return self.login_page("no login is configured on the server", 503)
        if login is None:
            self.limiter.failed(client)
            await self.audit(
                "login_failed",
                {"client": client, "user_known": user_known, "why": "wrong user or password"},
                severity="warning",
            )
            return self.login_page("wrong user or password", 401)
        self.limiter.succeeded(client)
        token, session = self.sessions.create(login, client)
        await self.audit(
            "login",
            {
                "user": login.user,
                "client": client,
                "expires_utc": utc_text(session.expires_at),
                "mode": "control" if self.allow_control else "read-only",
            },
            actor="operator",
        )
        response = web.Response(status=303, headers={"Location": "/"})
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(self.sessions.ttl_s),
            expires=self.cookie_expiry(session),
            path="/",
            httponly=True,
            samesite="Strict",
            secure=self.tls is not None,
        )
        return response

    def cookie_expiry(self, session: Session) -> str:
        return datetime.fromtimestamp(session.expires_at, tz=UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")

    async def handle_logout_page(self, request: web.Request) -> web.StreamResponse:
        page = render(LOGOUT_PAGE, title=self.title, user=request["session"].user)
        return web.Response(text=page, content_type="text/html")

    async def handle_logout(self, request: web.Request) -> web.StreamResponse:
        session = self.sessions.end(request.cookies.get(COOKIE))
        if session is not None:
            await self.end_consoles(session)
            await self.audit("logout", {"user": session.user, "client": self.client(request)}, actor="operator")
        response = web.Response(status=303, headers={"Location": "/login"})
        response.del_cookie(COOKIE, path="/", samesite="Strict", secure=self.tls is not None)
        return response

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

    async def end_consoles(self, session: Session) -> None:
        for websocket in list(session.sockets):
            await websocket.close()

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
