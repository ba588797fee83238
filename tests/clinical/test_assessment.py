"""The one outcome per evaluation, its precedence, and determinism (spec §4)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime

from cds_service.clinical import ClinicalEngine
from cds_service.clinical.model import Outcome, RuleKind, Status
from tests.clinical.fhir import (
    NOW,
    condition,
    data,
    lab,
    masld_candidate,
    panel,
)
from tests.clinical.helpers import evaluate, status


def test_exclusion_wins_over_missing_workup(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(ggt=None), condition("C22.0"))
    assert a.outcome is Outcome.EXCLUDED
    assert any(w.blocking for w in a.workup)


def test_all_exclusions_are_listed(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine,
        *masld_candidate(platelets=40),
        condition("C22.0"),
        condition("K72.10"),
        condition("Z94.4"),
    )
    assert {r.id for r in a.exclusions} == {
        "exclusion.liver-cancer",
        "exclusion.liver-failure",
        "exclusion.transplant",
        "exclusion.coagulation",
    }
    assert set(a.reason_ids) >= {r.id for r in a.exclusions}


def test_unknown_exclusion_is_never_read_as_clear(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(), condition("B18.1"), lab("hbv-dna", 100, 365))
    assert status(a, "indication.masld-alt") is Status.MET
    assert a.outcome is Outcome.WORKUP_INCOMPLETE
    assert "exclusion.active-viral-hepatitis" in a.reason_ids


def test_workup_incomplete_wins_over_meets(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(ggt=None))
    assert status(a, "indication.masld-alt") is Status.MET
    assert a.outcome is Outcome.WORKUP_INCOMPLETE


def test_does_not_meet_says_which_criterion(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("K76.0"), *panel(10))
    assert a.outcome is Outcome.DOES_NOT_MEET
    masld = next(r for r in a.rules if r.id == "indication.masld-alt")
    assert masld.status is Status.NOT_MET
    assert "ALT" in masld.reason
    assert masld.evidence


def test_rules_in_stable_order(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate())
    kinds = [r.kind for r in a.rules]
    assert kinds.index(RuleKind.INDICATION) > max(
        i for i, k in enumerate(kinds) if k is RuleKind.EXCLUSION
    )
    assert len({r.id for r in a.rules}) == len(a.rules) == 18


def test_assessment_metadata(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(), condition("K74.02", display="Advanced fibrosis"))
    assert a.evaluated_at == NOW
    assert a.ruleset_version == engine.version
    assert a.patient.resource_ref == "Patient/p1"
    assert a.patient.age_years == 56
    assert a.patient.sex == "male"
    assert "Advanced fibrosis" in a.liver_conditions
    assert {s.id for s in a.scores} == {
        "child-pugh",
        "meld",
        "meld-na",
        "meld-3.0",
        "fib-4",
        "apri",
        "elastography",
    }
    assert a.planned_monitoring is not None
    assert a.post_infusion_monitoring is None


def test_planned_monitoring_only_for_candidates(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("K76.0"), *panel(10))
    assert a.planned_monitoring is None


def test_deterministic_for_a_frozen_clock(engine: ClinicalEngine) -> None:
    resources = [*masld_candidate(), condition("E11.9"), lab("liver-stiffness", 9.0, 40)]
    first = engine.evaluate(data(*resources), NOW)
    assert engine.evaluate(data(*resources), NOW) == first
    shuffled = list(resources)
    random.Random(7).shuffle(shuffled)
    again = engine.evaluate(data(*shuffled), NOW)
    assert again.outcome == first.outcome
    assert [(r.id, r.status) for r in again.rules] == [(r.id, r.status) for r in first.rules]
    assert again.scores == first.scores


def test_naive_now_is_read_as_utc(engine: ClinicalEngine) -> None:
    naive = datetime(2026, 11, 1, 12, 0)
    assert engine.evaluate(data(*masld_candidate()), naive).evaluated_at == NOW


def test_input_is_not_mutated(engine: ClinicalEngine) -> None:
    import copy

    resources = masld_candidate()
    snapshot = copy.deepcopy(resources)
    engine.evaluate(data(*resources), NOW)
    assert resources == snapshot


def test_data_quality_notes_in_assessment(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(), lab("albumin", 40, unit="g/dl/x", rid="bad"))
    assert any(
        n.code == "unknown-unit" and n.resource_ref == "Observation/bad" for n in a.data_quality
    )


def test_reason_ids_are_stable_strings(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate())
    assert a.reason_ids == ("indication.masld-alt", "applicability.liver-indication")
    same = replace(a)
    assert same.reason_ids == a.reason_ids


def test_not_applicable_has_no_reason_ids(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("D69.6"), *panel(10, platelets=30))
    assert a.outcome is Outcome.NOT_APPLICABLE
    assert status(a, "exclusion.coagulation") is Status.MET  # still evaluated and visible
    assert a.reason_ids == ()
