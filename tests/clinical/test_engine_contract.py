"""The engine's contract: pure (no I/O per request), no Flask, the public API of contracts.md."""

from __future__ import annotations

import builtins
import subprocess
import sys
from typing import Any

import pytest

from cds_service.clinical import ClinicalEngine, RulesetError
from cds_service.clinical.model import Assessment
from tests.clinical.fhir import NOW, data, masld_candidate


def test_public_api(engine: ClinicalEngine) -> None:
    from cds_service.clinical.engine import ClinicalEngine as FromEngine
    from cds_service.clinical.engine import RulesetError as ErrorFromEngine

    assert FromEngine is ClinicalEngine
    assert ErrorFromEngine is RulesetError
    assert isinstance(engine.version, str)
    assert all("|" in token for token in engine.observation_code_tokens())
    assert isinstance(engine.evaluate(data(*masld_candidate()), NOW), Assessment)


def test_evaluate_reads_no_files(engine: ClinicalEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_open(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("evaluate must not read files")

    monkeypatch.setattr(builtins, "open", no_open)
    assert engine.evaluate(data(*masld_candidate()), NOW).outcome


def test_engine_imports_nothing_from_flask() -> None:
    code = (
        "import sys; import cds_service.clinical, cds_service.clinical.rules_doc; "
        "print('flask' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
