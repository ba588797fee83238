"""The installed service finds its card definitions (not only a checkout does).

Builds the wheel offline (hatchling from the test extra, no build isolation: about a
second), unpacks it, and loads the renderer from the unpacked copy in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, cds_service, cds_service.resources as r
from cds_service.cards import CardRenderer
from cds_service.cards.samples import sample_assessments
from cds_service.cards.validation import CARD_SCHEMA_PATH
renderer = CardRenderer.load()
cards = renderer.render(sample_assessments()["meets-screening-criteria"], "p1", lambda: "u1")
print(json.dumps({"package": cds_service.__file__, "cards": str(r.data_dir("cards")),
                  "schema": CARD_SCHEMA_PATH.is_file(), "summary": cards[0]["summary"]}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling", reason="hatchling (test extra) builds the wheel offline")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(REPO),
            "-w",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("cds_service-*.whl")
    return built


def test_wheel_carries_the_card_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        p.relative_to(REPO / "cards").as_posix() for p in (REPO / "cards").rglob("*") if p.is_file()
    }
    assert shipped, "cards/ is empty"
    for name in shipped:
        assert f"cds_service/_data/cards/{name}" in names
    assert "cds_service/cards/schemas/cds-hooks-card.schema.json" in names


def test_installed_copy_loads_cards_from_the_package(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["package"].startswith(str(site))
    assert probe["cards"] == str(site / "cds_service" / "_data" / "cards")
    assert probe["schema"] is True
    assert "investigational" in probe["summary"]
