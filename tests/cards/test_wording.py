"""Wording: never "eligible", "recommended" or "cure"; always "investigational"."""

from __future__ import annotations

import json

from cds_service.cards import CardRenderer
from cds_service.cards.samples import sample_assessments
from tests.cards.builders import PATIENT_ID, SCENARIOS, CountingUuids
from tests.conftest import FORBIDDEN_WORDS as FORBIDDEN


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_pattern_is_word_level() -> None:
    assert FORBIDDEN.search("Eligible for treatment")
    assert FORBIDDEN.search("not RECOMMENDED")
    assert FORBIDDEN.search("a cure.")
    assert not FORBIDDEN.search("secure procurement curettage")


def test_no_rendered_card_uses_a_forbidden_word(renderer: CardRenderer) -> None:
    assessments = {
        **{f"scenario:{k}": f() for k, f in SCENARIOS.items()},
        **{f"sample:{k}": a for k, a in sample_assessments().items()},
    }
    rendered = 0
    for name, assessment in assessments.items():
        for card in renderer.render(assessment, PATIENT_ID, CountingUuids()):
            rendered += 1
            for text in _strings(card):
                assert not FORBIDDEN.search(text), (name, text)
            assert not FORBIDDEN.search(json.dumps(card)), name
    assert rendered >= 15


def test_every_card_says_investigational(renderer: CardRenderer) -> None:
    for name, factory in SCENARIOS.items():
        for card in renderer.render(factory(), PATIENT_ID, CountingUuids()):
            assert "investigational" in card["summary"].lower(), name
            assert "investigational" in card["detail"].lower(), name


def test_candidacy_card_never_claims_treatment(renderer: CardRenderer) -> None:
    (card,) = renderer.render(SCENARIOS["meets-masld"](), PATIENT_ID, CountingUuids())
    text = (card["summary"] + card["detail"]).lower()
    assert "meets clinic screening criteria for evaluation" in text
    assert "not a treatment decision" in text
    assert "registered clinical trial" in text
    for claim in ("approved for liver", "proven", "candidate for treatment"):
        assert claim not in text
