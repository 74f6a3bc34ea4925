"""What the IBKR tests share: the endpoint of a local gateway (``tests/fakes/ib_gateway.py``) for one client id."""

from __future__ import annotations

from tbot_core.brokers.ibkr_session import IbkrEndpoint
from tests.fakes.ib_gateway import ACCOUNT, IbGateway


def endpoint(gw: IbGateway, client_id: int = 1, *, timeout: float = 10.0) -> IbkrEndpoint:
    """The local gateway as the adapter sees it; ``timeout`` bounds both the connect and each request."""
    return IbkrEndpoint(
        host="127.0.0.1",
        port=gw.port,
        client_id=client_id,
        account=ACCOUNT,
        connect_timeout=timeout,
        request_timeout=timeout,
    )
