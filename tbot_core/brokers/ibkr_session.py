"""One ib_async connection, driven from its own event loop so the engine never blocks on it.

The engine calls the broker synchronously; ib_async is asyncio through and
through and must only be touched from the loop that owns it.  So each
session runs a private loop in a daemon thread, connects with
``connectAsync`` inside that loop, and runs every request there under
``asyncio.wait_for``.  The calling thread waits on the result with a hard
bound as well, so a gateway that accepts the socket and then says nothing
costs at most the configured timeout, never a hang.  Failures leave as
``tbot_core.errors`` classes; an unreachable gateway is a ``BrokerUnreachable``
heartbeat failure for the watchdog.

IB error codes keep their number: a request IB refuses raises (``RaiseRequestErrors``)
and leaves as the mapped class with ``code`` set (``brokers.errors.from_ib_error``),
never as an empty answer.  IB's own connectivity loss (1100: TWS lost IB's servers
while our socket stays up) is remembered from ``errorEvent`` until 1101/1102 say it
is back, and fails the heartbeat with code "1100" so the watchdog suspends the broker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ib_async import IB

from tbot_core.brokers.errors import (
    IB_CONNECTIVITY_LOST,
    BrokerUnreachable,
    from_ib_error,
    from_transport,
    ib_errors,
)
from tbot_core.errors import ConfigError
from tbot_core.sanitize import register_secret

if TYPE_CHECKING:
    from tbot_core.config import Settings
    from tbot_core.home import BotHome

SECRET_NAME = "broker_ibkr"
# ib_async logs every IB error and failed connect itself; with no logging configured Python would print
# those to stderr next to the one-line error this module raises.  A NullHandler keeps them for whoever
# configures logging and out of the CLI's and the core's stderr otherwise.
logging.getLogger("ib_async").addHandler(logging.NullHandler())
IB_CONNECTIVITY_RESTORED = frozenset({1101, 1102})
T = TypeVar("T")


@dataclass(frozen=True)
class IbkrEndpoint:
    host: str
    port: int
    client_id: int
    account: str
    connect_timeout: float
    request_timeout: float

    @classmethod
    def from_home(cls, home: BotHome, settings: Settings, *, client_id_offset: int = 0) -> IbkrEndpoint:
        """Config gives the defaults; the ``broker_ibkr`` secret may override host, port and client id."""
        from tbot_core.secrets.store import SecretStore

        return cls.from_secret(SecretStore(home).get(SECRET_NAME), settings, client_id_offset=client_id_offset)

    @classmethod
    def from_secret(cls, secret: dict[str, Any], settings: Settings, *, client_id_offset: int = 0) -> IbkrEndpoint:
        account = secret.get("account")
        if not isinstance(account, str) or not account:
            raise ConfigError(
                f"secret {SECRET_NAME}: expected a non-empty text field account",
                hint=f"store it with `tbot secrets set {SECRET_NAME}`",
            )
        register_secret(account)
        try:
            port = int(secret.get("port") or settings.ibkr_port)
            given_id = secret.get("client_id")
            client_id = int(given_id if given_id is not None else settings.ibkr_client_id)
        except (TypeError, ValueError):
            raise ConfigError(f"secret {SECRET_NAME}: port and client_id must be whole numbers") from None
        if not 0 < port < 65536:
            raise ConfigError(f"secret {SECRET_NAME}: port {port} is outside 1-65535")
        return cls(
            host=str(secret.get("host") or settings.ibkr_host),
            port=port,
            client_id=client_id + client_id_offset,
            account=account,
            connect_timeout=float(settings.ibkr_connect_timeout_seconds),
            request_timeout=float(settings.ibkr_request_timeout_seconds),
        )


class IbkrSession:
    """A connected-on-demand ``IB`` living on a private event loop."""

    def __init__(self, endpoint: IbkrEndpoint, *, service: str = "ibkr") -> None:
        self.endpoint = endpoint
        self.service = service
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"{service}-loop", daemon=True)
        self._thread.start()
        self._connect_lock = asyncio.Lock()
        self.connectivity_lost: tuple[int, str] | None = None  # set by IB error 1100 and friends, cleared by 1101/1102
        self.connections = 0  # successful connects so far: a subscription made before the last one is gone
        self._pending: set[concurrent.futures.Future[Any]] = set()  # calls in flight, ended by close()
        self._pending_lock = threading.Lock()
        self._closed = False
        self.ib: IB = self._submit(self._make_ib()).result()
        self.ib.errorEvent += self._on_ib_error

    @staticmethod
    async def _make_ib() -> IB:
        ib = IB()  # built on the loop thread: its events bind to this loop
        ib.RaiseRequestErrors = True  # a refused request raises with its code instead of answering empty
        return ib

    def _on_ib_error(self, req_id: int, code: int, message: str, *_rest: Any) -> None:
        """IB's connection to its own servers: lost (1100, 2110, ...) until restored (1101/1102)."""
        if code in IB_CONNECTIVITY_LOST and req_id == -1:
            self.connectivity_lost = (code, message)
        elif code in IB_CONNECTIVITY_RESTORED:
            self.connectivity_lost = None

    def _submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _ensure_connected(self) -> None:
        async with self._connect_lock:
            if self.ib.isConnected():
                return
            ep = self.endpoint
            with ib_errors(self.service, f"connect {ep.host}:{ep.port}", timeout=ep.connect_timeout):
                await asyncio.wait_for(
                    self.ib.connectAsync(
                        ep.host, ep.port, clientId=ep.client_id, timeout=ep.connect_timeout, account=ep.account
                    ),
                    ep.connect_timeout,
                )
            self.connectivity_lost = None  # a fresh connection starts from what the gateway says now
            self.connections += 1

    def call(self, what: str, request: Callable[[IB], Awaitable[T]], *, timeout: float | None = None) -> T:
        """Connect if needed, then run ``request(ib)`` on the loop; bounded by connect + request timeouts."""
        limit = timeout if timeout is not None else self.endpoint.request_timeout

        async def guarded() -> T:
            await self._ensure_connected()
            with ib_errors(self.service, what, timeout=limit):
                return await asyncio.wait_for(request(self.ib), limit)

        with self._pending_lock:
            if self._closed:
                raise self._closed_error(what)
            future = self._submit(guarded())
            self._pending.add(future)
        try:
            return future.result(self.endpoint.connect_timeout + limit + 1.0)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise from_transport(TimeoutError(), service=self.service, what=what, timeout=limit) from None
        except concurrent.futures.CancelledError:  # close() ended it: the caller hears so now, not at its timeout
            raise self._closed_error(what) from None
        finally:
            with self._pending_lock:
                self._pending.discard(future)

    def _closed_error(self, what: str) -> BrokerUnreachable:
        return BrokerUnreachable(
            f"{self.service} {what}: the session was closed",
            matrix_key="feed_down" if self.service.endswith("data") else "broker_down",
        )

    def heartbeat(self) -> None:
        """One answered request, and IB itself connected to its servers (else code 1100 and the like)."""
        self.call("current time", lambda ib: ib.reqCurrentTimeAsync())
        lost = self.connectivity_lost
        if lost is not None:
            raise from_ib_error(lost[0], lost[1], service=self.service, what="current time")

    def close(self) -> None:
        """Disconnect and stop the loop thread (safe to call twice, from any thread).

        A call still waiting (another thread inside ``call``) ends at once with "the
        session was closed" instead of waiting out its timeout: a stopping engine
        must not look stuck to the supervisor.
        """
        with self._pending_lock:
            if self._closed:
                return
            self._closed = True
            waiting = list(self._pending)
        for future in waiting:
            future.cancel()
        self._submit(self._disconnect()).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _disconnect(self) -> None:
        self.ib.disconnect()
