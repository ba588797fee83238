"""Under the real server: gunicorn workers audit every hook call, then stop on SIGTERM.

Two sync workers serve 8 client threads; the arbiter gets SIGTERM the moment the last
answer arrives. Every call must be in the database afterwards. (Here the writer threads
usually keep up, so this checks the whole path under load; that the queue is written at
exit even when it is full is checked by the subprocess tests in test_audit.py, which fail
without the ``atexit`` flush.) Loopback only; dev mode (no JWT), so no signing keys.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests
from sqlalchemy import func, select

from cds_service.config import Settings
from cds_service.store import Store
from cds_service.store.schema import hook_calls
from tests.web.conftest import hook_request, standard_data

SERVICE_ID = "msc-liver-screening"
CALLS_PER_THREAD = 40
THREADS = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        session.trust_env = False  # loopback: never through a proxy
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise AssertionError(f"gunicorn exited: {err}")
            try:
                if session.get(f"{base}/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
    raise AssertionError("gunicorn did not become ready")


def test_every_hook_call_is_audited_when_gunicorn_stops(
    store_settings: Settings, make_store: Callable[..., Store], tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": store_settings.database_url or "",
        "CDS_DEV_MODE": "true",
        "CDS_LOG_LEVEL": "ERROR",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--graceful-timeout", "30", "cds_service.app:create_app()"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_ready(base, proc)
        body = hook_request(standard_data(), fhir_server=None, token=None)
        statuses: list[int] = []
        lock = threading.Lock()

        def client() -> None:
            with requests.Session() as session:
                session.trust_env = False
                for _ in range(CALLS_PER_THREAD):
                    r = session.post(f"{base}/cds-services/{SERVICE_ID}", json=body, timeout=30)
                    with lock:
                        statuses.append(r.status_code)

        threads = [threading.Thread(target=client) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        proc.send_signal(signal.SIGTERM)  # at once: queued audit records must still land
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert statuses == [200] * (CALLS_PER_THREAD * THREADS)
    store = make_store()
    with store.read() as conn:
        audited = conn.scalar(
            select(func.count()).select_from(hook_calls).where(hook_calls.c.status_code == 200)
        )
    assert audited == CALLS_PER_THREAD * THREADS
