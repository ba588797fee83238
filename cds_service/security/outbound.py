"""A ``requests`` transport adapter that refuses to talk to private addresses at connect time.

:class:`FhirServerPolicy` checks the URL text. A host *name* on the allowlist could still
resolve to an internal address (a hijacked or careless DNS record, DNS rebinding). This
adapter looks at the address the socket actually connected to, before a byte (and so before
the bearer token) is sent, and closes the connection unless
:meth:`FhirServerPolicy.peer_allowed` says yes (public address, or in
``CDS_ALLOWED_PRIVATE_FHIR_NETWORKS``, or dev mode). No extra DNS lookup, no race.

Use it for the FHIR session (``guard_session`` mounts it for http and https)::

    guard_session(session, FhirServerPolicy(settings), pool_size=settings.fhir_pool_size)

A refused connection surfaces as ``requests.ConnectionError``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from requests.adapters import HTTPAdapter
from requests.exceptions import ProxyError
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

from cds_service.security.fhir_policy import FhirServerPolicy

PeerCheck = Callable[[str], bool]


def _verified(connection: HTTPConnection, sock: socket.socket, allowed: PeerCheck) -> socket.socket:
    try:
        peer = str(sock.getpeername()[0])
    except OSError:
        peer = ""
    if not peer or not allowed(peer):
        sock.close()
        raise NewConnectionError(
            connection,
            "refused: the FHIR server's address is private, loopback or link-local and not "
            "allowed (CDS_ALLOWED_PRIVATE_FHIR_NETWORKS)",
        )
    return sock


def guarded_pool_classes(allowed: PeerCheck) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pool classes whose connections check the peer address with ``allowed``."""

    class GuardedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _verified(self, super()._new_conn(), allowed)

    class GuardedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _verified(self, super()._new_conn(), allowed)

    class GuardedHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}


class GuardedAdapter(HTTPAdapter):
    """``HTTPAdapter`` whose connections are refused when the peer address is not allowed."""

    def __init__(self, policy: FhirServerPolicy, **kwargs: Any) -> None:
        # set before super().__init__, which builds the pool manager
        self._pool_classes = guarded_pool_classes(policy.peer_allowed)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # Through a proxy the peer is the proxy, not the FHIR server: the check would be void.
        raise ProxyError("proxies are not supported for FHIR requests")


def guard_session(session: Any, policy: FhirServerPolicy, pool_size: int = 10) -> Any:
    """Mount :class:`GuardedAdapter` on ``session`` for http and https; no retries, no env."""
    adapter = GuardedAdapter(
        policy, pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False
    return session
