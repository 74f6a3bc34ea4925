"""Who may reach the console: the checks in front of every route, and the login and logout that pass them.

textual-serve 1.1 serves ``/``, ``/ws``, ``/download/{key}`` and ``/static``
with no authentication and no Origin check.  Everything that stands between a
browser and a console process is here, apart from the server that runs the
processes, so the access rules can be read (and reviewed) in one place:

- no valid session: ``GET /`` goes to the login page, anything else is refused
  (401; 403 for the websocket upgrade); a ``Host`` that is not this server's
  loopback name is refused (DNS rebinding);
- ``POST`` (login, logout) and the websocket need an ``Origin`` equal to the
  page's own; a session whose login changed since (a new password through
  ``tbot secrets set web_console``) is ended;
- every login, logout, expiry and refusal is an audit row, category ``web``,
  with the client address and never a typed value.

``AccessControl`` is a mixin of ``ConsoleServer``: it uses the server's
sessions, credentials, limiter and audit, declared below.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web

from tbot_core.errors import SecurityError
from tbot_tui.web.audit import WebAudit
from tbot_tui.web.auth import MAX_FIELD_CHARS, Credentials, FailureLimiter, Session, Sessions
from tbot_tui.web.pages import LOGIN_PAGE, LOGOUT_PAGE, render

COOKIE = "tbot_session"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def utc_text(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AccessControl:
    """The request guard (aiohttp middleware) and the login/logout routes of ``ConsoleServer``."""

    host: str
    title: str
    scheme: str
    tls: ssl.SSLContext | None
    allow_control: bool
    credentials: Credentials
    limiter: FailureLimiter
    sessions: Sessions
    audit: WebAudit

    @property
    def mode(self) -> str:
        return "control allowed: flags name your login" if self.allow_control else "read-only"

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

    async def end_consoles(self, session: Session) -> None:
        for websocket in list(session.sockets):
            await websocket.close()
