"""Connect-time refusal of private peer addresses (a real server on loopback, no other traffic)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import requests

from cds_service.config import Settings
from cds_service.security.fhir_policy import FhirServerPolicy
from cds_service.security.outbound import GuardedAdapter, guard_session


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Handler.seen.append(self.headers.get("Authorization", ""))
        body = b'{"resourceType": "Patient", "id": "p"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep the test output clean
        return


@pytest.fixture
def loopback_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.seen = []
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def session_for(settings: Settings) -> requests.Session:
    session: requests.Session = guard_session(requests.Session(), FhirServerPolicy(settings))
    assert isinstance(session.get_adapter("https://x.example/"), GuardedAdapter)
    return session


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_peer_is_refused_before_anything_is_sent(loopback_server: int, host: str) -> None:
    """Also for a *name* that resolves to loopback: the connected address is what counts."""
    session = session_for(Settings())
    with pytest.raises(requests.ConnectionError, match="private"):
        session.get(
            f"http://{host}:{loopback_server}/fhir/Patient/p",
            headers={"Authorization": "Bearer secret"},
            timeout=5,
        )
    assert _Handler.seen == []  # the token never left


def test_explicitly_allowed_private_network_connects(loopback_server: int) -> None:
    session = session_for(Settings(allowed_private_fhir_networks=("127.0.0.0/8",)))
    answer = session.get(f"http://127.0.0.1:{loopback_server}/fhir/Patient/p", timeout=5)
    assert answer.json()["id"] == "p"


def test_dev_mode_connects_to_loopback(loopback_server: int) -> None:
    session = session_for(Settings(dev_mode=True))
    assert session.get(f"http://127.0.0.1:{loopback_server}/x", timeout=5).status_code == 200


def test_proxies_are_refused(loopback_server: int) -> None:
    session = session_for(Settings(dev_mode=True))
    with pytest.raises(requests.exceptions.ProxyError):
        session.get(
            "http://fhir.example.org/x",
            proxies={"http": f"http://127.0.0.1:{loopback_server}"},
            timeout=5,
        )


def test_peer_allowed_rules() -> None:
    policy = FhirServerPolicy(Settings(allowed_private_fhir_networks=("10.1.0.0/16",)))
    assert policy.peer_allowed("93.184.215.14")
    assert policy.peer_allowed("2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert policy.peer_allowed("10.1.2.3")
    assert not policy.peer_allowed("10.2.0.1")
    assert not policy.peer_allowed("169.254.169.254")
    assert not policy.peer_allowed("::1")
    assert not policy.peer_allowed("::ffff:127.0.0.1")
    assert not policy.peer_allowed("fe80::1%eth0")
    assert not policy.peer_allowed("not-an-ip")


def test_the_services_own_fhir_session_is_guarded(loopback_server: int) -> None:
    """create_app and the CLI build their FHIR session with build_session: it must refuse too."""
    from cds_service.fhir.client import build_session

    session = build_session(Settings())
    assert isinstance(session.get_adapter("https://x.example/"), GuardedAdapter)
    assert session.trust_env is False
    with pytest.raises(requests.ConnectionError, match="private"):
        session.get(
            f"http://localhost:{loopback_server}/fhir/Patient/p",
            headers={"Authorization": "Bearer secret"},
            timeout=5,
        )
    assert _Handler.seen == []
