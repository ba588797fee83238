"""Run the Dockerfile's steps without Docker, to check the image would build and serve.

For machines without a Docker engine (CI also builds the image for real with
scripts/check_docker.py). This script reads the Dockerfile and repeats what each stage
does, as closely as a plain machine can:

1. build stage: copy exactly the files the build stage COPYs into an empty folder, and
   ``python -m pip wheel --wheel-dir wheels .`` there (the service and every dependency);
2. runtime stage: a fresh virtual environment, ``pip install --no-index --find-links wheels
   cds-service`` (offline, from those wheels only), then the ENTRYPOINT + CMD with the
   runtime stage's ENV, from a working folder outside the source tree, as an unprivileged
   user when run as root (the image runs as uid 10001);
3. the HEALTHCHECK command must exit 0, ``/readyz`` must answer 200 and, with no trust file
   (the image's default), the discovery endpoint must refuse with 401.

Differences from a real image, on purpose: the host's Python (the image pins
python:3.11-slim-bookworm), the server bound to 127.0.0.1 on a free port instead of
0.0.0.0:8080. Usage: ``python scripts/check_image.py [--keep]``; exit 0 when all steps pass.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        name, _, args = full.partition(" ")
        out.append((name.upper(), args.strip()))
    return out


def stages(text: str) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for name, args in instructions(text):
        if name == "FROM":
            alias = args.split(" AS ")[-1].strip() if " AS " in args else args
            current = found.setdefault(alias, [])
        elif current is not None:
            current.append((name, args))
    return found


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, args in stage:
        if name == "ENV":
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def exec_form(args: str) -> list[str]:
    return re.findall(r'"([^"]*)"', args)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def unprivileged_user(work: Path) -> list[str]:
    """``runuser -u nobody --`` when run as root (the image runs as uid 10001), else []."""
    if os.geteuid() != 0:
        return []
    work.chmod(0o755)
    return [shutil.which("runuser") or "/usr/sbin/runuser", "-u", "nobody", "--"]


def runtime_interpreter(as_user: list[str]) -> str:
    """A Python >= 3.11 the runtime user can run (a pyenv Python under /root is not one)."""
    probe = "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))"
    for candidate in (sys.executable, "/usr/local/bin/python3", "/usr/bin/python3"):
        if not Path(candidate).exists():
            continue
        run = subprocess.run(
            [*as_user, candidate, "-c", probe], check=False, stderr=subprocess.DEVNULL
        )
        if run.returncode == 0:
            return candidate
    as_user.clear()  # none: fall back to the current user and this Python
    return sys.executable


def step(message: str) -> None:
    print(f"== {message}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    text = DOCKERFILE.read_text()
    found = stages(text)
    build, runtime = found["build"], found["runtime"]
    work = Path(tempfile.mkdtemp(prefix="cds-image-check."))
    server: subprocess.Popen[bytes] | None = None
    try:
        # --- build stage -------------------------------------------------------------------
        src = work / "src"
        src.mkdir()
        for name, arguments in build:
            if name == "COPY" and not arguments.startswith("--"):
                *sources, _dest = arguments.split()
                for source in sources:
                    origin = ROOT / source
                    if origin.is_dir():
                        shutil.copytree(
                            origin,
                            src / source,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                        )
                    else:
                        shutil.copy2(origin, src / source)
        step(f"build stage: copied {sorted(p.name for p in src.iterdir())}")
        wheels = work / "wheels"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(wheels), "."],
            cwd=src,
            check=True,
        )
        step(f"build stage: {len(list(wheels.glob('*.whl')))} wheels")

        # --- runtime stage -----------------------------------------------------------------
        venv = work / "runtime"
        as_user = unprivileged_user(work)
        base_python = runtime_interpreter(as_user)
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--no-index",
                "--find-links",
                str(wheels),
                "cds-service",
            ],
            check=True,
        )
        who = "nobody" if as_user else "the current user"
        step(f"runtime stage: installed offline from the wheels ({base_python}, runs as {who})")
        entry = next(exec_form(a) for n, a in runtime if n == "ENTRYPOINT")
        command = next(exec_form(a) for n, a in runtime if n == "CMD")
        health = next(a for n, a in runtime if n == "HEALTHCHECK")
        health_cmd = health.split(" CMD ", 1)[1]
        port = free_port()
        data, home = work / "data", work / "home"
        data.mkdir()
        home.mkdir()
        env = {
            "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            **env_of(runtime),
            "CDS_HOST": "127.0.0.1",
            "CDS_PORT": str(port),
            "CDS_SQLITE_PATH": str(data / "cds-service.sqlite3"),
        }
        if as_user:
            shutil.chown(data, "nobody")
            shutil.chown(home, "nobody")
            subprocess.run(["chmod", "-R", "a+rX", str(work)], check=True)  # whatever the umask
        else:
            step("NOTE: running as the current user (no Python here that 'nobody' can run)")
        argv = [*as_user, str(venv / "bin" / entry[0]), *entry[1:], *command]
        step(f"runtime stage: {' '.join(entry + command)} on 127.0.0.1:{port}")
        server = subprocess.Popen(argv, cwd=home, env=env)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(f"{base}/healthz") == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                print("the server did not start", file=sys.stderr)
                return 1
            time.sleep(0.3)
        checks = {
            "HEALTHCHECK exits 0": subprocess.run(
                [*as_user, "sh", "-c", health_cmd], env=env, cwd=home, check=False
            ).returncode
            == 0,
            "/readyz answers 200": get(f"{base}/readyz") == 200,
            "discovery without a JWT answers 401": get(f"{base}/cds-services") == 401,
        }
        for name, ok in checks.items():
            step(f"{'ok  ' if ok else 'FAIL'} {name}")
        return 0 if all(checks.values()) else 1
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
