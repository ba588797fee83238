"""The production server: gunicorn options, warm-up, ``cds-service serve`` end to end."""

from __future__ import annotations

import gc
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from flask import Flask

from cds_service.cli import main
from cds_service.config import Settings
from cds_service.web.server import bind_address, gunicorn_options, is_loopback, warm_up

ROOT = Path(__file__).resolve().parents[2]


def test_gunicorn_options_follow_the_performance_notes() -> None:
    options = gunicorn_options(Settings(workers=2, threads=1, port=9000))
    assert options["worker_class"] == "sync"
    assert options["workers"] == 2
    assert options["control_socket_disable"] is True
    assert options["bind"] == ["127.0.0.1:9000"]
    assert callable(options["post_worker_init"])
    assert gunicorn_options(Settings(threads=4))["worker_class"] == "gthread"


def test_bind_address_and_loopback() -> None:
    assert bind_address("::1", 80) == "[::1]:80"
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("10.0.0.5")


def test_warm_up_runs_a_hook_and_freezes_the_heap(app: Flask, monkeypatch: Any) -> None:
    calls: list[str] = []
    service = app.extensions["cds_service"].service
    original = service.handle

    def spy(request: Any) -> Any:
        calls.append(request.patient_id)
        return original(request)

    monkeypatch.setattr(service, "handle", spy)
    try:
        warm_up(app)
        assert calls == ["warmup-patient"]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_dev_mode_refuses_a_public_host() -> None:
    result = CliRunner().invoke(main, ["serve", "--dev", "--host", "0.0.0.0"])
    assert result.exit_code != 0
    assert "loopback" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.requirement("74")
def test_cds_service_serve_answers_a_hook(tmp_path: Path) -> None:
    port = _free_port()
    env = dict(os.environ, CDS_SQLITE_PATH=str(tmp_path / "s.sqlite3"), HOME=str(tmp_path))
    env.pop("XDG_RUNTIME_DIR", None)
    exe = Path(sys.executable).parent / "cds-service"
    cmd = [str(exe), "serve", "--dev", "--port", str(port), "--workers", "1"]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        body = (ROOT / "examples" / "hook-request-prefetch.json").read_bytes()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(
            "POST",
            "/cds-services/msc-liver-screening",
            body=body,
            headers={"Content-Type": "application/json"},
        )
        response = conn.getresponse()
        answer = orjson.loads(response.read())
        assert response.status == 200
        assert answer["cards"]
        assert not (tmp_path / ".gunicorn").exists()  # no control socket under HOME
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()
    text = (tmp_path / "serve.log").read_text()
    assert "warm-up-failed" not in text
