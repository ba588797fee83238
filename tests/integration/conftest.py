"""A real FHIR R4 server (sekmet-fhir 0.1.1) for the whole test session.

Installed into its own virtual environment (.test-env/sekmet-venv, reused when present),
started on a free loopback port with a temporary data folder, loaded with every fixture
patient THROUGH OUR OWN COMMAND LINE (``cds-service fixtures load``), stopped at the end.

In CI (``CI=true``) a server that cannot be installed or started fails the suite; locally
(e.g. without network for the first install) the integration tests are skipped with the
reason.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.fixtures.scenarios import FIXTURES_DIR
from tests.integration.sekmet_server import (
    SekmetServer,
    SekmetUnavailableError,
    cli_command,
    ensure_installed,
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"the FHIR test server is required in CI: {reason}", pytrace=False)
    pytest.skip(f"FHIR test server unavailable: {reason}")


@pytest.fixture(scope="session")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SekmetServer]:
    try:
        executable = ensure_installed()
    except (SekmetUnavailableError, OSError, subprocess.SubprocessError) as exc:
        _unavailable(str(exc))
    server = SekmetServer(executable=executable, workdir=tmp_path_factory.mktemp("sekmet"))
    try:
        server.start()
    except (SekmetUnavailableError, OSError) as exc:
        server.stop()
        _unavailable(str(exc))
    try:
        load = subprocess.run(
            [
                *cli_command(),
                "fixtures",
                "load",
                "--fhir-server",
                server.base_url,
                "--dir",
                str(FIXTURES_DIR),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if load.returncode != 0:
            pytest.fail(
                f"cds-service fixtures load failed ({load.returncode}): {load.stderr[-2000:]}"
                f" | server log: {server.log_tail()}",
                pytrace=False,
            )
        server.load_output = load.stderr
        yield server
    finally:
        server.stop()
