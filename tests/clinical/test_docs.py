"""docs/clinical-rules.md is generated from the ruleset and must be current."""

from __future__ import annotations

from pathlib import Path

import yaml

from cds_service.clinical import ClinicalEngine
from cds_service.clinical.rules_doc import render_markdown
from cds_service.clinical.ruleset import DEFAULT_DATA_DIR, RULESET_FILE

DOC = Path(__file__).resolve().parents[2] / "docs" / "clinical-rules.md"


def test_rules_doc_is_current(engine: ClinicalEngine) -> None:
    raw = yaml.safe_load((DEFAULT_DATA_DIR / RULESET_FILE).read_text(encoding="utf-8"))
    expected = render_markdown(engine.ruleset, raw)
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/clinical-rules.md is stale: run "
        "`python -m cds_service.clinical.rules_doc docs/clinical-rules.md`"
    )


def test_rules_doc_lists_every_reason_id(engine: ClinicalEngine) -> None:
    text = DOC.read_text(encoding="utf-8")
    for spec in engine.ruleset.rules:
        assert f"`{spec.id}`" in text
