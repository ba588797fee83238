"""Golden snapshots of the full hook response for each outcome.

Frozen evaluation time, counting uuids. Rewrite after a reviewed wording change with
``UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/cards/test_golden.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cds_service.cards import CardRenderer
from tests.cards.builders import GOLDEN, PATIENT_ID, CountingUuids

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("outcome", sorted(GOLDEN))
def test_response_matches_golden(renderer: CardRenderer, outcome: str) -> None:
    response = {"cards": renderer.render(GOLDEN[outcome](), PATIENT_ID, CountingUuids())}
    text = json.dumps(response, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    path = GOLDEN_DIR / f"{outcome}.json"
    if UPDATE or not path.exists():
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"golden file {path.name} was missing and has been written: review it")
    assert text == path.read_text(encoding="utf-8"), (
        f"cards for {outcome} differ from {path.name}; if the change is intended, rerun "
        "with UPDATE_GOLDEN=1 and review the diff"
    )


def test_not_applicable_is_an_empty_card_list(renderer: CardRenderer) -> None:
    assert renderer.render(GOLDEN["not-applicable"](), PATIENT_ID, CountingUuids()) == []


def test_golden_files_are_complete() -> None:
    assert {p.stem for p in GOLDEN_DIR.glob("*.json")} == set(GOLDEN)
