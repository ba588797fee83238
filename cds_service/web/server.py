"""Run the service under gunicorn, programmatically (``cds-service serve``).

Choices, measured in the performance notes (2 cores, loopback):

- sync workers (default ``CDS_WORKERS=2``, ``CDS_THREADS=1``): gunicorn sync closes the
  connection after each answer and keeps both cores busy; gthread/waitress kept reused
  connections on one worker. ``CDS_THREADS`` > 1 switches to gthread (helps when many EHRs
  call without prefetch and the worker waits on FHIR I/O).
- each worker runs one warm-up hook in-process, then ``gc.collect(); gc.freeze()``.
- no control socket (gunicorn 27 otherwise creates one under the home folder).
"""

from __future__ import annotations

import gc
import ipaddress
import logging
from collections.abc import Callable
from typing import Any

import orjson
from gunicorn.app.base import BaseApplication

from cds_service.config import Settings
from cds_service.hooks.request import hook_request_from
from cds_service.hooks.warmup import warmup_request
from cds_service.logging import log_event
from cds_service.web.state import EXTENSION_KEY

_log = logging.getLogger("cds_service.server")


def is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_address(host: str, port: int) -> str:
    host = host.strip("[]")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def warm_up(app: Any) -> None:
    """One hook through the pipeline (no audit, no network), then freeze the heap."""
    state = getattr(app, "extensions", {}).get(EXTENSION_KEY)
    if state is not None:
        try:
            request = hook_request_from(warmup_request(state.engine.observation_code_tokens()))
            orjson.dumps(state.service.handle(request).response_body())
            with app.test_client() as client:
                client.get("/healthz")
                client.get("/cds-services")
        except Exception:
            # a failing warm-up must not stop the worker; the first real hook will tell
            log_event(_log, "warm-up-failed", logging.WARNING)
    gc.collect()
    gc.freeze()


#: objects allocated (net) between young-generation collections in a gunicorn worker
GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Raise the young-generation threshold of this worker (after :func:`warm_up`).

    One hook parses ~5,000 JSON containers that live until the answer is sent: with the
    default threshold (700) that is ~7 young collections and most of an older one per
    hook, each scanning the request's objects. A higher first threshold collects about
    once per ten hooks instead (a few MB at most); cycles are still collected.
    """
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _post_worker_init(worker: Any) -> None:
    warm_up(worker.wsgi)
    tune_gc()


def gunicorn_options(settings: Settings, *, warm: bool = True) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bind": [bind_address(settings.host, settings.port)],
        "workers": settings.workers,
        "threads": settings.threads,
        "worker_class": "sync" if settings.threads == 1 else "gthread",
        "control_socket_disable": True,
        "accesslog": None,  # the app writes its own structured access log
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 2,
        "limit_request_line": 8190,
        "forwarded_allow_ips": "127.0.0.1,::1",
        "proc_name": "cds-service",
    }
    if warm:
        options["post_worker_init"] = _post_worker_init
    return options


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn with options from a dict and the WSGI app from a factory (built per worker)."""

    def __init__(self, app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self._factory = app_factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._factory()


def serve(settings: Settings, app_factory: Callable[[], Any] | None = None) -> None:
    """Block serving ``settings.host:port`` until gunicorn is stopped."""
    if app_factory is None:
        from cds_service.app import create_app

        def app_factory() -> Any:
            return create_app(settings)

    GunicornServer(app_factory, gunicorn_options(settings)).run()
