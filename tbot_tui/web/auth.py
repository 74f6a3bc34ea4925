"""Who may use the console in a browser: the login, failed-attempt limits, sessions.

No I/O except reading the ``web_console`` secret through the vault; the server
(``server.py``) does the HTTP. Nothing here logs or returns a secret: a login
check answers with a user name or ``None``, a session is known to the server
only by the SHA-256 of its cookie value.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tbot_core.errors import SecurityError
from tbot_core.home import BotHome
from tbot_core.secrets.store import SecretStore

SECRET_NAME = "web_console"
SET_HINT = f'printf \'{{"user": "alice", "password": "..."}}\' | tbot secrets set {SECRET_NAME} --stdin'
MAX_FIELD_CHARS = 4096


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class Login:
    user: str
    fingerprint: str  # HMAC of the credential under this process's random key: changes when the login does

    def __repr__(self) -> str:
        return f"Login(user={self.user!r})"


class Credentials:
    """The ``web_console`` secret, read again whenever the vault's key generation changes (every
    ``tbot secrets set`` and ``rotate`` is one), so a new password works at once and old sessions end."""

    def __init__(self, root: str, *, read: Callable[[], dict[str, str]] | None = None) -> None:
        self.home = BotHome(root)
        self._read = read or (lambda: SecretStore(BotHome(root)).get(SECRET_NAME))
        self._key = secrets.token_bytes(32)
        self._generation: int | None = None
        self._user_digest = self._password_digest = b""
        self._login: Login | None = None

    def current(self) -> Login:
        """The login as the vault holds it now; ``SecurityError`` (one line) when it is not set."""
        generation = self.home.vault.current_generation()
        if generation != self._generation or self._login is None:
            fields = self._read()
            user, password = fields["user"], fields["password"]
            self._user_digest, self._password_digest = _digest(user), _digest(password)
            mac = hmac.new(self._key, self._user_digest + self._password_digest, hashlib.sha256).hexdigest()
            self._login, self._generation = Login(user, mac), generation
        return self._login

    def check(self, user: str, password: str) -> Login | None:
        """The login when both fields match. Digests of equal length, compared in constant time, and
        both compared every time, so the answer's timing says nothing about which field or how much."""
        login = self.current()
        user_ok = hmac.compare_digest(_digest(user[:MAX_FIELD_CHARS]), self._user_digest)
        password_ok = hmac.compare_digest(_digest(password[:MAX_FIELD_CHARS]), self._password_digest)
        return login if user_ok & password_ok else None

    def user_matches(self, user: str) -> bool:
        """For the audit row of a failed attempt: whether the user name was right (never what was typed)."""
        self.current()
        return hmac.compare_digest(_digest(user[:MAX_FIELD_CHARS]), self._user_digest)


def login_problem(root: str) -> str:
    """Why ``tbot serve`` cannot start for lack of a login, or "" when one is set."""
    try:
        Credentials(root).current()
    except SecurityError as exc:
        return f"{exc.one_line()}; set it with: {SET_HINT}"
    except KeyError:
        return f"secret {SECRET_NAME}: expected the fields user and password; set it with: {SET_HINT}"
    return ""


class FailureLimiter:
    """At most ``per_client`` failed logins per client address, and ``overall`` from everyone, per
    ``window_s``; past that every attempt is refused (even a right one) until old failures age out."""

    def __init__(
        self,
        *,
        per_client: int = 5,
        overall: int = 20,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 1024,
    ) -> None:
        self.per_client, self.overall, self.window_s = per_client, overall, window_s
        self.clock = clock
        self.max_clients = max_clients
        self._clients: OrderedDict[str, deque[float]] = OrderedDict()
        self._all: deque[float] = deque()

    def _trim(self, times: deque[float], now: float) -> deque[float]:
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 when it may try now."""
        now = self.clock()
        mine = self._trim(self._clients.get(client, deque()), now)
        everyone = self._trim(self._all, now)
        waits = [self.window_s - (now - mine[0])] if len(mine) >= self.per_client else []
        if len(everyone) >= self.overall:
            waits.append(self.window_s - (now - everyone[0]))
        return max(waits, default=0.0)

    def failed(self, client: str) -> None:
        now = self.clock()
        times = self._clients.pop(client, deque())
        times.append(now)
        self._clients[client] = times
        while len(self._clients) > self.max_clients:
            self._clients.popitem(last=False)
        self._all.append(now)
        self._trim(self._all, now)

    def succeeded(self, client: str) -> None:
        self._clients.pop(client, None)


@dataclass
class Session:
    user: str
    fingerprint: str
    client: str
    expires_at: float  # time.time() seconds
    sockets: set = field(default_factory=set)  # the websockets this login opened (closed when it ends)


class Sessions:
    """Server-side sessions keyed by the SHA-256 of the cookie value (a lookup leaks nothing usable)."""

    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.time, max_sessions: int = 64) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.max_sessions = max_sessions
        self._by_hash: OrderedDict[str, Session] = OrderedDict()

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()

    def create(self, login: Login, client: str) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(login.user, login.fingerprint, client, self.clock() + self.ttl_s)
        self._by_hash[self._key(token)] = session
        while len(self._by_hash) > self.max_sessions:
            self._by_hash.popitem(last=False)
        return token, session

    def find(self, token: str | None) -> tuple[Session | None, str]:
        """The live session for a cookie value, or ``(None, why)``: "none", "unknown" or "expired"."""
        if not token:
            return None, "none"
        key = self._key(token[:256])
        session = self._by_hash.get(key)
        if session is None:
            return None, "unknown"
        if self.clock() >= session.expires_at:
            del self._by_hash[key]
            return None, "expired"
        return session, ""

    def end(self, token: str | None) -> Session | None:
        return self._by_hash.pop(self._key(token[:256]), None) if token else None

    def drop(self, session: Session) -> None:
        for key, held in list(self._by_hash.items()):
            if held is session:
                del self._by_hash[key]

    def expired(self) -> list[Session]:
        """Remove and return every session past its expiry (the server closes their consoles)."""
        now = self.clock()
        gone = [(k, s) for k, s in self._by_hash.items() if now >= s.expires_at]
        for key, _session in gone:
            del self._by_hash[key]
        return [s for _k, s in gone]

    def all(self) -> list[Session]:
        return list(self._by_hash.values())
