"""Build the Dockerfile with a real Docker engine and check the container it makes.

Needs a running Docker engine (``.ci/run`` installs and starts one). Steps:

1. the base image: ``python:3.11-slim-bookworm`` when the engine has it or can pull it. The
   build machines reach Debian's mirror and PyPI but not Docker Hub; there the script builds
   a stand-in once (Debian bookworm by debootstrap, Debian's Python 3.11 as a virtual
   environment at ``/usr/local``, so ``python`` and ``pip`` are where the official image has
   them, and the host's CA bundle, which this machine's TLS-inspecting proxy to PyPI needs)
   and says so. The Dockerfile is used unchanged, through its ``PYTHON_IMAGE`` build
   argument;
2. ``docker build`` of the repository (its ``.dockerignore`` applies);
3. the image: runs as the non-root user ``cds``, has a HEALTHCHECK, exposes 8080;
4. a container on the image's defaults: ``/healthz`` and ``/readyz`` answer, Docker's own
   health check (the image's command, probed every 2 s instead of 30 s) reports healthy,
   discovery without a JWT is refused (no trust file: nobody is trusted);
5. a container with a trust file mounted (the README's ``docker run``): discovery and the
   hook answer a signed JWT, the hook returns the "meets screening criteria" card for the
   repository's example request, a replayed token is refused; ``docker stop`` ends it with
   exit code 0, and the audit rows it wrote are in its ``/data`` volume afterwards.

Containers share the host's network (the engine here runs without bridge networking) and
listen on free loopback ports. Its containers, volume and tagged image are removed at the
end; the stand-in base image stays for later runs, and so does the build stage's untagged
image (``docker image prune`` removes it; the script does not, since it would remove every
other untagged image too). Usage: ``python scripts/check_docker.py``;
exit 0 when every step passes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from check_image import free_port, step

ROOT = Path(__file__).resolve().parents[1]
BASE = "python:3.11-slim-bookworm"
STANDIN = "cds-check/python-standin:3.11-bookworm"
MIRROR = os.environ.get("CDS_DEBIAN_MIRROR", "http://deb.debian.org/debian")
EXAMPLE = ROOT / "examples" / "hook-request-prefetch.json"
ISSUER = "https://ehr.check.example.org"
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


class CheckFailedError(Exception):
    pass


def run(*cmd: str, timeout: float = 900, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    if done.returncode != 0:
        command = " ".join(cmd[:4])
        raise CheckFailedError(f"{command} ... exited {done.returncode}:\n{done.stderr[-2000:]}")
    return done


def docker(*args: str, timeout: float = 900) -> str:
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}  # the classic builder: no buildx plugin needed
    return run("docker", *args, timeout=timeout, env=env).stdout.strip()


def has_image(name: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", name], capture_output=True, check=False
        ).returncode
        == 0
    )


def base_image() -> str:
    if has_image(BASE):
        return BASE
    pulled = subprocess.run(
        ["docker", "pull", BASE], capture_output=True, text=True, timeout=180, check=False
    )
    if pulled.returncode == 0:
        return BASE
    step(f"{BASE} cannot be pulled here ({pulled.stderr.strip()[-120:]})")
    if not has_image(STANDIN):
        build_standin()
    step(f"base image: stand-in {STANDIN} (Debian bookworm, Debian's Python 3.11)")
    return STANDIN


def build_standin() -> None:
    """Debian bookworm with Python 3.11 at /usr/local/bin, imported as :data:`STANDIN`."""
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise CheckFailedError(
            "building the stand-in base image needs debootstrap (apt-get install)"
        )
    step(f"building {STANDIN} with debootstrap from {MIRROR} (once; a few minutes)")
    with tempfile.TemporaryDirectory(prefix="cds-standin-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        run(debootstrap, "--variant=minbase", "bookworm", str(rootfs), MIRROR, timeout=1800)
        shutil.copy("/etc/resolv.conf", rootfs / "etc" / "resolv.conf")
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run("chroot", str(rootfs), "apt-get", "update", "-qq", env=apt_env)
        packages = ("python3.11", "python3.11-venv", "ca-certificates")
        run(
            "chroot",
            str(rootfs),
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            *packages,
            env=apt_env,
            timeout=1800,
        )
        run("chroot", str(rootfs), "/usr/bin/python3.11", "-m", "venv", "/usr/local")
        run("chroot", str(rootfs), "apt-get", "clean")
        # This machine reaches PyPI through a TLS-inspecting proxy whose CA is in the host's
        # bundle only: the build stage's pip needs it, as any image built here would.
        shutil.copy(HOST_CA_BUNDLE, rootfs / "etc" / "ssl" / "certs" / "ca-certificates.crt")
        (rootfs / "etc" / "resolv.conf").unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [
                "docker",
                "import",
                "-c",
                "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
                "-c",
                "ENV LANG=C.UTF-8",
                "-c",
                'CMD ["python3"]',
                "-",
                STANDIN,
            ],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise CheckFailedError(f"docker import failed: {imported.stderr[-1000:]}")


def start(tag: str, *options: str, port: int | None = None) -> tuple[str, str]:
    """Start a container of ``tag`` on the host's network; its id and base URL."""
    port = port or free_port()
    container = docker("run", "-d", "--network", "host", "-e", f"CDS_PORT={port}", *options, tag)
    return container, f"http://127.0.0.1:{port}"


def wait_for(what: str, probe: Any, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise CheckFailedError(f"timed out waiting for {what}")


def call(url: str, token: str | None = None, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def check(results: dict[str, bool], name: str, ok: bool) -> None:
    results[name] = ok
    step(f"{'ok  ' if ok else 'FAIL'} {name}")


def trust_folder(work: Path) -> tuple[Path, Any]:
    """A trust file and JWK Set for one test issuer; returns the folder and a token minter."""
    sys.path.insert(0, str(ROOT))
    from tests.security.keys import jwks_of, make_key, mint

    key = make_key("ES384")
    config = work / "config"
    config.mkdir()
    (config / "ehr.jwks.json").write_text(json.dumps(jwks_of(key)))
    issuer = {"iss": ISSUER, "jwks_file": "ehr.jwks.json", "algorithms": ["ES384"]}
    (config / "trust.json").write_text(json.dumps({"version": 1, "issuers": [issuer]}))
    for path in (work, config, *config.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)  # the container runs as uid 10001

    def token(audience: str) -> str:
        return str(mint(key, iss=ISSUER, aud=audience, now=datetime.now(UTC)))

    return config, token


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        step("FAIL no Docker engine answers (`docker info`); .ci/run starts one")
        return 1
    tag = f"cds-check/msc-liver-screening:{uuid.uuid4().hex[:8]}"
    volume = f"cds-check-data-{uuid.uuid4().hex[:8]}"
    containers: list[str] = []
    results: dict[str, bool] = {}
    work = Path(tempfile.mkdtemp(prefix="cds-docker-check-"))
    try:
        base = base_image()
        started = time.monotonic()
        docker(
            "build",
            "--network",
            "host",
            "--build-arg",
            f"PYTHON_IMAGE={base}",
            "-t",
            tag,
            str(ROOT),
            timeout=1800,
        )
        step(f"ok   docker build ({time.monotonic() - started:.0f} s)")
        config = json.loads(docker("image", "inspect", tag, "--format", "{{json .Config}}"))
        check(results, "image runs as user cds", config.get("User") == "cds")
        health = (config.get("Healthcheck") or {}).get("Test")
        check(results, "image has a HEALTHCHECK", bool(health))
        check(results, "image exposes 8080", "8080/tcp" in (config.get("ExposedPorts") or {}))

        # 4. the image's defaults: no trust file
        container, base_url = start(tag, "--health-interval", "2s", "--health-start-period", "0s")
        containers.append(container)
        wait_for("/healthz", lambda: call(f"{base_url}/healthz")[0] == 200)
        check(results, "/readyz answers 200", call(f"{base_url}/readyz")[0] == 200)
        uid = docker("exec", containers[0], "id", "-u")
        check(results, "the server runs as uid 10001, not root", uid == "10001")

        def healthy() -> bool:
            state = docker("inspect", containers[0], "--format", "{{.State.Health.Status}}")
            if state == "unhealthy":
                raise CheckFailedError("Docker reports the container unhealthy")
            return state == "healthy"

        wait_for("Docker's health check", healthy, timeout=60)
        check(results, "Docker's health check (the image's command) reports healthy", True)
        check(
            results,
            "discovery without a JWT is refused (401)",
            call(f"{base_url}/cds-services")[0] == 401,
        )

        # 5. with a trust file, as in README's docker run
        config_dir, token = trust_folder(work)
        port = free_port()
        container, base_url = start(
            tag,
            "-e",
            "CDS_TRUST_FILE=/config/trust.json",
            "-e",
            f"CDS_PUBLIC_BASE_URL=http://127.0.0.1:{port}",
            "-v",
            f"{config_dir}:/config:ro",
            "-v",
            f"{volume}:/data",
            port=port,
        )
        containers.append(container)
        wait_for("/readyz with a trust file", lambda: call(f"{base_url}/readyz")[0] == 200)
        status, _ = call(f"{base_url}/cds-services", token(f"{base_url}/cds-services"))
        check(results, "discovery answers a signed JWT (200)", status == 200)
        hook_url = f"{base_url}/cds-services/msc-liver-screening"
        signed = token(hook_url)
        status, answer = call(hook_url, signed, EXAMPLE.read_bytes())
        cards = json.loads(answer).get("cards", []) if status == 200 else []
        check(
            results,
            "the hook answers the example request with the meets-criteria card",
            any(c["summary"].startswith("Meets clinic screening criteria") for c in cards),
        )
        status, _ = call(hook_url, signed, EXAMPLE.read_bytes())
        check(results, "a replayed token is refused (401)", status == 401)
        docker("stop", "--time", "20", containers[1], timeout=60)
        code = docker("inspect", containers[1], "--format", "{{.State.ExitCode}}")
        check(results, "docker stop ends the server with exit code 0", code == "0")
        status_text = docker("run", "--rm", "-v", f"{volume}:/data", tag, "db", "status")
        check(
            results,
            "the audit rows are in the /data volume after the stop",
            _audit_rows(status_text) >= 2,
        )
    except (CheckFailedError, subprocess.TimeoutExpired) as error:
        check(results, f"docker check: {error}", False)
    finally:
        for container in containers:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True, check=False)
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)
    return 0 if results and all(results.values()) else 1


def _audit_rows(status_text: str) -> int:
    """The hook-call row count from ``cds-service db status`` output (0 when absent)."""
    for line in status_text.splitlines():
        words = line.replace(":", " ").split()
        if words and "hook" in words[0].lower() and words[-1].isdigit():
            return int(words[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
