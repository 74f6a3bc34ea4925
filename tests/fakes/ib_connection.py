"""One API connection to the test IB gateway: the socket, the handshake, the read loop.

Split from ``tests.fakes.ib_gateway`` so the gateway file holds only what the gateway knows
(its state and the request handlers); a ``Client`` only frames bytes and hands requests over.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.fakes import ib_wire as w

if TYPE_CHECKING:
    from tests.fakes.ib_gateway import IbGateway

CONNECTIVITY_TEXT = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and TWS has been restored- data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
}


@dataclass(eq=False)
class Subscription:
    client: Client
    req_id: int
    symbol: str
    generic: frozenset[str]


class Client(socketserver.BaseRequestHandler):
    """One API connection: the handshake, then requests dispatched through ``IbGateway.HANDLERS``."""

    server: Server

    def setup(self) -> None:
        self.lock = threading.Lock()
        self.alive = True
        self.greeted = False
        self.client_id: int | None = None  # set by startApi

    def send(self, *messages: bytes) -> None:
        """Write whole messages (one ``sendall`` so a burst reaches the client as one chunk)."""
        if not self.alive:
            return
        try:
            with self.lock:
                self.request.sendall(b"".join(messages))
        except OSError:
            self.alive = False

    def hang_up(self) -> None:
        self.alive = False
        try:
            self.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def handle(self) -> None:
        gateway = self.server.gateway
        if gateway.refuse_clients:
            return
        framer = w.Framer()
        gateway.joined(self)
        try:
            while self.alive:
                data = self.request.recv(65536)
                if not data:
                    break
                for fields in framer.feed(data):
                    if self.greeted:
                        gateway.dispatch(self, fields)
                    elif not gateway.greet(self, fields):
                        return
        except (OSError, ValueError):
            pass
        finally:
            self.alive = False
            gateway.left(self)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    gateway: IbGateway
