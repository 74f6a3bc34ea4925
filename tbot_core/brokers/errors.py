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

    def __init__(self, message: str, *, matrix_key: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
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
    if status in (401, 403):
        return ConfigError(f"{where}: credentials refused: {detail}",
                           hint=f"check the broker secret for {service.split()[0]} and its paper/live endpoint")
    if status == 429 or (status is not None and status >= 500):
        return NetworkError(f"{where}: {detail or 'temporary failure'}")
    return BrokerError(f"{where}: {detail or 'request refused'}")


def from_transport(exc: BaseException, *, service: str, what: str, timeout: float | None = None) -> BrokerUnreachable:
    """A connection that was refused, reset or timed out."""
    if isinstance(exc, (TimeoutError, requests.Timeout)):
        reason = f"no answer within {timeout:g} s" if timeout else "timed out"
    elif isinstance(exc, ConnectionRefusedError):
        reason = "connection refused"
    else:
        reason = f"connection failed ({type(exc).__name__})"
    return BrokerUnreachable(f"{service} {what}: {reason}; heartbeat failed", matrix_key=_matrix_key(service),
                             hint="is the broker/gateway running and the host/port right?")


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
    try:
        yield
    except TbotError:
        raise
    except (TimeoutError, ConnectionError, OSError) as exc:
        raise from_transport(exc, service=service, what=what, timeout=timeout) from None
