"""Property tests: any assessment renders to spec-conformant, honest cards."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.cards import CardRenderer
from cds_service.cards.text import SUMMARY_MAX_CHARS, fit_summary, utf16_len
from cds_service.cards.validation import card_errors
from cds_service.clinical.model import Assessment, Outcome
from tests.cards.builders import CountingUuids
from tests.cards.strategies import FORBIDDEN, assessments, patient_ids
from tests.cards.test_card_rules import empty_paths

# Template syntax not escaped by the renderer (values escape "{" and "}" with a backslash).
UNESCAPED_TEMPLATE = re.compile(r"(?<!\\)\{[{%#]|[}%#]\}")

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@given(st.text(max_size=600))
def test_fit_summary_is_always_under_140(text: str) -> None:
    fitted = fit_summary(text)
    assert len(fitted) <= SUMMARY_MAX_CHARS
    assert utf16_len(fitted) <= SUMMARY_MAX_CHARS
    assert "\n" not in fitted


@given(st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=12), min_size=1, max_size=60))
def test_fit_summary_cuts_at_a_word_boundary(words: list[str]) -> None:
    text = " ".join(words)
    fitted = fit_summary(text)
    if len(text) <= SUMMARY_MAX_CHARS:
        assert fitted == text
    else:
        assert fitted.endswith("…")
        kept = fitted[:-1]
        assert text.startswith(kept)
        assert text[len(kept)] == " ", "cut between words"


@SETTINGS
@given(assessment=assessments, patient_id=patient_ids)
def test_any_assessment_renders_valid_honest_cards(
    renderer: CardRenderer, assessment: Assessment, patient_id: str
) -> None:
    uuids = CountingUuids()
    cards = renderer.render(assessment, patient_id, uuids)
    expected = int(assessment.outcome is not Outcome.NOT_APPLICABLE) + int(
        assessment.post_infusion_monitoring is not None
    )
    assert len(cards) == expected
    seen: list[str] = []
    for card in cards:
        assert card_errors(card) == []
        assert empty_paths(card) == []
        assert len(card["summary"]) < 140
        assert utf16_len(card["summary"]) < 140
        assert "investigational" in card["summary"].lower()
        assert assessment.ruleset_version in card["detail"]
        assert not UNESCAPED_TEMPLATE.search(card["detail"])
        for field in ("summary", "detail"):
            assert not FORBIDDEN.search(card[field])
        seen.append(card["uuid"])
        seen += [s["uuid"] for s in card.get("suggestions", [])]
    assert len(seen) == len(set(seen)) == uuids.count
