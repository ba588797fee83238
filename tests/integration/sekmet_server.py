"""Start and stop a real FHIR R4 server (sekmet-fhir) for the integration tests.

sekmet-fhir pins its own FastAPI and fhir.resources, so it lives in its own virtual
environment (``.test-env/sekmet-venv`` at the repository root, created on first use and
reused after). Each test session gets a fresh server: a free loopback port, a temporary
data folder, the simulator off and inbound logging off (fhir-test-server.md).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

SEKMET_REQUIREMENT = "sekmet-fhir==0.1.1"
SEKMET_VERSION = "0.1.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENV = REPO_ROOT / ".test-env" / "sekmet-venv"
START_TIMEOUT_SECONDS = 60.0


class SekmetUnavailableError(RuntimeError):
    """The server could not be installed or started; the message says why."""


def _installed(venv: Path) -> bool:
    site = list(venv.glob(f"lib/python3*/site-packages/sekmet_fhir-{SEKMET_VERSION}.dist-info"))
    return bool(site) and (venv / "bin" / "sekmet").exists()


def ensure_installed(venv: Path = DEFAULT_VENV) -> Path:
    """The ``sekmet`` executable, installing sekmet-fhir into ``venv`` if needed."""
    if _installed(venv):
        return venv / "bin" / "sekmet"
    venv.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            SEKMET_REQUIREMENT,
        ],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise SekmetUnavailableError(
                f"installing {SEKMET_REQUIREMENT} failed ({' '.join(step[:3])}): "
                + " | ".join(tail)
            )
    if not _installed(venv):
        raise SekmetUnavailableError(f"{SEKMET_REQUIREMENT} did not install into {venv}")
    return venv / "bin" / "sekmet"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SekmetServer:
    executable: Path
    workdir: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    #: what ``cds-service fixtures load`` printed when the fixtures were loaded
    load_output: str = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        return self.workdir / "sekmet.log"

    def write_settings(self) -> Path:
        settings = self.workdir / "settings.yaml"
        settings.write_text(
            "\n".join(
                [
                    "host: 127.0.0.1",
                    f"port: {self.port}",
                    f"base_url: {self.base_url}",
                    f"data_dir: {self.data_dir}",
                    "simulator:",
                    "  enabled: false",
                    "log_inbound: false",
                    "",
                ]
            )
        )
        return settings

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        self.port = self.port or free_port()
        settings = self.write_settings()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEKMET_")}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(self.executable), "serve", "-c", str(settings)],
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        self._wait_ready()
        self._add_index()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        session = requests.Session()
        session.trust_env = False
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise SekmetUnavailableError(
                    f"sekmet exited with status {self.process.returncode}: {self.log_tail()}"
                )
            try:
                r = session.get(f"{self.base_url}/metadata", timeout=2)
                if r.status_code == 200 and r.json().get("resourceType") == "CapabilityStatement":
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.2)
        self.stop()
        raise SekmetUnavailableError(f"sekmet did not answer /metadata in time: {self.log_tail()}")

    def _add_index(self) -> None:
        """The index fix from fhir-test-server.md (sorting large result sets)."""
        db = self.data_dir / "sekmet.db"
        if not db.exists():
            return
        with sqlite3.connect(db, timeout=10) as conn:
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if "idx" in tables:
                conn.execute("CREATE INDEX IF NOT EXISTS idx_res_param ON idx(type,id,param)")
                conn.execute("ANALYZE")

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-lines:])

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: uvicorn and children
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def cli_command() -> list[str]:
    """Our console script, as installed beside the interpreter running the tests."""
    script = Path(sys.executable).with_name("cds-service")
    if script.exists():
        return [str(script)]
    found = shutil.which("cds-service")
    if found:
        return [found]
    return [sys.executable, "-c", "from cds_service.cli import main; main()"]
