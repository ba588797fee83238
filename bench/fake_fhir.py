"""A loopback FHIR server for the no-prefetch benchmark: answers the six prefetch queries
for the benchmark patient from pre-serialised bodies, after an optional delay."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import orjson


class FakeFhirServer:
    def __init__(self, prefetch: dict[str, Any], delay_ms: float = 0.0) -> None:
        bodies = {
            "Patient": orjson.dumps(prefetch["patient"]),
            "Condition": orjson.dumps(prefetch["conditions"]),
            "Observation": orjson.dumps(prefetch["observations"]),
            "MedicationRequest": orjson.dumps(prefetch["medications"]),
            "MedicationStatement": orjson.dumps(prefetch["medicationStatements"]),
            "Procedure": orjson.dumps(prefetch["procedures"]),
        }
        delay = delay_ms / 1000.0
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the service pools its connections

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without this, Nagle + delayed ACK
                # add ~40 ms to reused connections (an artefact real servers avoid)
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                outer.requests += 1
                path = urlsplit(self.path).path.removeprefix("/fhir/")
                body = bodies.get(path.split("/", 1)[0])
                if delay:
                    time.sleep(delay)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/fhir"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeFhirServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
