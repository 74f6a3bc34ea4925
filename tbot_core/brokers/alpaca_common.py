"""What the Alpaca trading and data adapters share: credentials and client tuning.

alpaca-py's ``RESTClient`` retries 429/504 three times with a 3 s sleep and
sends requests with no timeout at all.  Both would fight the error handler
(its backoff would multiply the SDK's, and a silent server would hang the
engine), so every client built here has its retry loop switched off and a
per-request timeout on its ``requests`` session.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from tbot_core.errors import ConfigError
from tbot_core.sanitize import register_secret

if TYPE_CHECKING:
    from tbot_core.home import BotHome

SECRET_NAME = "broker_alpaca"


@dataclass(frozen=True)
class AlpacaCredentials:
    api_key: str
    secret_key: str

    def __repr__(self) -> str:  # never print a key, even in a debugger
        return "AlpacaCredentials(***)"

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> AlpacaCredentials:
        api_key, secret_key = values.get("api_key"), values.get("secret_key")
        if not isinstance(api_key, str) or not api_key or not isinstance(secret_key, str) or not secret_key:
            raise ConfigError(
                f"secret {SECRET_NAME}: expected non-empty text fields api_key and secret_key",
                hint=f"store them with `tbot secrets set {SECRET_NAME}`",
            )
        register_secret(api_key)
        register_secret(secret_key)
        return cls(api_key, secret_key)

    @classmethod
    def from_home(cls, home: BotHome) -> AlpacaCredentials:
        from tbot_core.secrets.store import SecretStore

        return cls.from_mapping(SecretStore(home).get(SECRET_NAME))


class _TimeoutAdapter(HTTPAdapter):
    """A transport adapter that gives every request a timeout unless one is set."""

    def __init__(self, timeout: float) -> None:
        super().__init__(max_retries=0)
        self._timeout = timeout

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> Response:
        return super().send(
            request,
            stream=stream,
            timeout=self._timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def tune_client(client: Any, timeout: float) -> Any:
    """Switch off the SDK's own retries and bound every request by ``timeout`` seconds."""
    # RESTClient ignores retry_attempts=0 in its constructor (it treats 0 as "unset"),
    # so the attributes its retry loop reads are set directly.
    client._retry = 0
    client._retry_codes = []
    adapter = _TimeoutAdapter(timeout)
    client._session.mount("http://", adapter)
    client._session.mount("https://", adapter)
    return client


def url_or_none(override: str) -> str | None:
    """An empty override means the SDK's default endpoint."""
    return override.rstrip("/") or None


STREAM_STOP_WAIT_SECONDS = 5.0


def stop_stream(stream: Any, thread: threading.Thread | None) -> None:
    """End one of alpaca-py's websocket streams running in ``thread``, without a reconnect.

    alpaca-py drops a stop that arrives before its loop runs, so this waits for the loop first; and
    ``stop_ws`` alone is seen only when a recv times out (5 s), so the socket is closed as well, which ends
    the recv at once.  Bounded by ``STREAM_STOP_WAIT_SECONDS`` in all; safe before ``start`` (no thread).
    """
    if thread is None:
        return
    deadline = time.monotonic() + STREAM_STOP_WAIT_SECONDS
    loop = stream.loop()
    while (loop is None or not loop.is_running()) and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
        loop = stream.loop()

    async def shutdown() -> None:
        await stream.stop_ws()
        await stream.close()

    if loop is not None and thread.is_alive():
        with contextlib.suppress(Exception):  # the loop may end meanwhile: then there is nothing to stop
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(STREAM_STOP_WAIT_SECONDS)
    thread.join(max(0.0, deadline - time.monotonic()))
