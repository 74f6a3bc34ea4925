"""Translate broker and data SDK failures into the error handler's classes.

The error handler decides what to do by class alone, so the mapping here is
the whole retry policy of the adapters:

* HTTP 429 and 5xx -> ``NetworkError`` (transient: the handler retries with
  backoff; the SDK's own retry loop is switched off so the two never stack).
* HTTP 401/403 -> ``ConfigError`` (wrong or revoked keys: fatal, never retried).
* other 4xx -> ``BrokerError`` (the broker refused this operation).
* refused connections, resets and timeouts -> ``BrokerUnreachable``: still a
  ``NetworkError`` for the handler, and flagged ``heartbeat_failure`` so the
  watchdog counts it as a missed heartbeat (broker or feed, per ``matrix_key``).

Every error made here carries ``code``: the HTTP status (``"429"``, ``"403"``)
or the IB error code (``"201"``, ``"1100"``), which the error handler writes in
its ``error_code`` column.  IB codes map like HTTP ones: connectivity lost
(1100, 502, 504, 2110) is a heartbeat failure, pacing (100) is transient,
duplicate client id (326) is configuration, anything else (201 order rejected,
202, 200, ...) is the broker refusing the operation.

Messages carry the service, the operation, the status and the broker's own
error text, scrubbed of every registered secret and cut to one short line.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import requests

from tbot_core.errors import BrokerError, ConfigError, NetworkError, TbotError
from tbot_core.sanitize import scrub

_DETAIL_MAX = 160


class BrokerUnreachable(NetworkError):
    """The remote end did not answer at all: a watchdog heartbeat failure."""

    heartbeat_failure = True

    def __init__(
        self, message: str, *, matrix_key: str, hint: str | None = None, code: str | int | None = None
    ) -> None:
        super().__init__(message, hint=hint, code=code)
        self.matrix_key = matrix_key  # "broker_down" or "feed_down" (tbot_core.emergency)


def _matrix_key(service: str) -> str:
    return "feed_down" if service.endswith("data") else "broker_down"


def _short(text: str) -> str:
    return scrub(" ".join(text.split()))[:_DETAIL_MAX]


def _api_detail(body: str) -> str:
    """The broker's own message from a JSON error body, or the raw body shortened."""
    try:
        payload = json.loads(body)
    except ValueError:
        return _short(body)
    if isinstance(payload, dict):
        message = payload.get("message") or payload.get("error") or ""
        code = payload.get("code")
        return _short(f"{message} (code {code})" if code is not None else str(message))
    return _short(body)


def from_http_status(status: int | None, body: str, *, service: str, what: str) -> TbotError:
    """The error class for one failed HTTP exchange with a broker or data API."""
    detail = _api_detail(body)
    where = f"{service} {what}: HTTP {status}"
    code = str(status) if status is not None else None
    if status in (401, 403):
        return ConfigError(
            f"{where}: credentials refused: {detail}",
            hint=f"check the broker secret for {service.split()[0]} and its paper/live endpoint",
            code=code,
        )
    if status == 429 or (status is not None and status >= 500):
        return NetworkError(f"{where}: {detail or 'temporary failure'}", code=code)
    return BrokerError(f"{where}: {detail or 'request refused'}", code=code)


# IB error codes (TWS API "Message Codes") that are not "the broker refused this request".
IB_CONNECTIVITY_LOST = frozenset({502, 504, 1100, 1300, 2110})
IB_TRANSIENT = frozenset({100})  # max rate of messages exceeded (pacing), IB's 429
IB_CONFIG = frozenset({326, 354, 10090})  # client id in use; market-data subscription missing
IB_INFO = frozenset({1101, 1102, 2104, 2106, 2107, 2108, 2119, 2158})  # connectivity restored, data farm OK


def from_ib_error(code: int | str, message: str, *, service: str, what: str) -> TbotError:
    """The error class for one IB error code (e.g. 201 order rejected -> BrokerError code "201")."""
    try:
        number = int(code)
    except (TypeError, ValueError):
        number = -1
    where = f"{service} {what}: IB error {number}"
    detail = _short(message)
    if number in IB_CONNECTIVITY_LOST:
        return BrokerUnreachable(
            f"{where}: connectivity lost: {detail}; heartbeat failed",
            matrix_key=_matrix_key(service),
            hint="check the TWS/Gateway connection to IB's servers",
            code=number,
        )
    if number in IB_TRANSIENT:
        return NetworkError(f"{where}: {detail or 'pacing violation'}", code=number)
    if number in IB_CONFIG:
        return ConfigError(
            f"{where}: {detail}", hint="check the IB client id and market-data subscriptions", code=number
        )
    return BrokerError(f"{where}: {detail or 'request refused'}", code=number)


def from_transport(exc: BaseException, *, service: str, what: str, timeout: float | None = None) -> BrokerUnreachable:
    """A connection that was refused, reset or timed out."""
    if isinstance(exc, (TimeoutError, requests.Timeout)):
        reason = f"no answer within {timeout:g} s" if timeout else "timed out"
    elif isinstance(exc, ConnectionRefusedError):
        reason = "connection refused"
    else:
        reason = f"connection failed ({type(exc).__name__})"
    return BrokerUnreachable(
        f"{service} {what}: {reason}; heartbeat failed",
        matrix_key=_matrix_key(service),
        hint="is the broker/gateway running and the host/port right?",
    )


def _alpaca_api_error_type() -> type[BaseException]:
    from alpaca.common.exceptions import APIError

    return APIError


@contextlib.contextmanager
def alpaca_errors(service: str, what: str, *, timeout: float | None = None) -> Iterator[None]:
    """Run one alpaca-py call; anything it raises leaves as a ``TbotError``."""
    api_error = _alpaca_api_error_type()
    try:
        yield
    except TbotError:
        raise
    except api_error as exc:
        raise from_http_status(getattr(exc, "status_code", None), str(exc), service=service, what=what) from None
    except (requests.ConnectionError, requests.Timeout, OSError) as exc:
        raise from_transport(exc, service=service, what=what, timeout=timeout) from None
    except (ValueError, KeyError, TypeError) as exc:  # pydantic ValidationError is a ValueError
        raise BrokerError(f"{service} {what}: unexpected response shape ({type(exc).__name__})") from None


@contextlib.contextmanager
def ib_errors(service: str, what: str, *, timeout: float | None = None) -> Iterator[None]:
    """Run one ib_async exchange; transport failures become heartbeat failures."""
    from ib_async import RequestError

    try:
        yield
    except TbotError:
        raise
    except RequestError as exc:
        raise from_ib_error(exc.code, exc.message, service=service, what=what) from None
    except (TimeoutError, ConnectionError, OSError) as exc:
        raise from_transport(exc, service=service, what=what, timeout=timeout) from None
