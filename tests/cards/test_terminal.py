"""`render_text`: the terminal view used by `cds-service evaluate`."""

from __future__ import annotations

from cds_service.cards import CardRenderer
from tests.cards import builders as b
from tests.cards.builders import PATIENT_ID, CountingUuids


def test_terminal_view_of_a_candidate(renderer: CardRenderer) -> None:
    a = b.meets_cirrhosis_cp7()
    text = renderer.render_text(a, renderer.render(a, PATIENT_ID, CountingUuids()))
    assert text.startswith("Outcome: meets-screening-criteria\n")
    assert "Ruleset: 1.0.0-test   evaluated: 2026-11-01T12:00:00Z" in text
    assert "Patient: Patient/pat-123, 58 y, female" in text
    assert "[INFO] (meets-screening-criteria) Meets clinic screening criteria" in text
    assert "Screening paths met:\n  - Cirrhosis Child-Pugh A or early B [met]" in text
    assert "Child-Pugh             7  B  inputs 2026-10-20  estimated\n" in text
    assert "  - Liver panel at 1 month: day 30 (± 14 days)" in text
    assert "link: ClinicalTrials.gov: MSC trials in Cirrhosis of liver" in text


def test_terminal_view_of_exclusions_workup_and_monitoring(renderer: CardRenderer) -> None:
    a = b.excluded_all()
    text = renderer.render_text(a, renderer.render(a, PATIENT_ID, CountingUuids()))
    assert "Exclusions met:" in text
    assert "Platelets 41 \u00d710⁹/L, 2026-10-02, Observation/plt-1" in text
    assert "Data not used:\n  - A platelet result has an unknown unit" in text
    a = b.workup_incomplete()
    text = renderer.render_text(a, renderer.render(a, PATIENT_ID, CountingUuids()))
    assert "suggestion: Order the full screening workup (5 tests)" in text
    assert "  - HBV DNA: missing (blocking); last: none on file;" in text
    a = b.post_infusion_overdue()
    text = renderer.render_text(a, renderer.render(a, PATIENT_ID, CountingUuids()))
    assert "[WARNING] (post-infusion-monitoring)" in text
    assert "  - Liver panel at 3 months: due 2026-06-01 (± 21 days), overdue" in text


def test_terminal_view_without_cards(renderer: CardRenderer) -> None:
    text = renderer.render_text(b.not_applicable(), [])
    assert "Cards: none" in text
    assert text.endswith("\n")
