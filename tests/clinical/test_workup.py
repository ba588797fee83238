"""One test per workup item: missing or stale data blocks the outcome, planned items do not."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.clinical import ClinicalEngine
from cds_service.clinical.model import Outcome, WorkupStatus
from tests.clinical.fhir import (
    AZATHIOPRINE,
    URSODIOL,
    condition,
    elevated_alt,
    lab,
    masld_candidate,
    medication,
    panel,
    qual,
)
from tests.clinical.helpers import evaluate, workup

PANEL_ITEMS = [
    ("alt", "workup.alt", "1742-6"),
    ("ast", "workup.ast", "1920-8"),
    ("ggt", "workup.ggt", "2324-2"),
    ("bilirubin", "workup.bilirubin", "1975-2"),
    ("inr", "workup.inr", "6301-6"),
    ("albumin", "workup.albumin", "1751-7"),
    ("platelets", "workup.platelets", "777-3"),
]


@pytest.mark.parametrize(("analyte", "item_id", "loinc"), PANEL_ITEMS)
def test_panel_item_missing(engine: ClinicalEngine, analyte: str, item_id: str, loinc: str) -> None:
    resources = [
        condition("K76.0"),
        lab("alt", 80, 70),
        *panel(10, **{analyte: None, "alt": 80} if analyte != "alt" else {"alt": None}),
    ]
    if analyte == "alt":
        resources = [condition("K76.0"), *panel(10, alt=None)]
    a = evaluate(engine, *resources)
    item = workup(a, item_id)
    assert item is not None
    assert item.blocking
    assert item.orders[0].loinc == loinc
    assert a.outcome is Outcome.WORKUP_INCOMPLETE
    assert item_id in a.reason_ids


@pytest.mark.parametrize(("analyte", "item_id", "loinc"), PANEL_ITEMS)
def test_panel_item_stale_after_90_days(
    engine: ClinicalEngine, analyte: str, item_id: str, loinc: str
) -> None:
    fresh = evaluate(engine, *masld_candidate(), *[])
    assert workup(fresh, item_id) is None
    resources = [
        r
        for r in masld_candidate()
        if r["code"]["coding"][0]["code"] != loinc or r.get("resourceType") != "Observation"
    ]
    a = evaluate(engine, *resources, lab(analyte, 90 if analyte == "alt" else 25, 91))
    item = workup(a, item_id)
    assert item is not None
    assert item.status is WorkupStatus.STALE
    assert item.last_result is not None
    assert item.last_result.resource_ref is not None
    assert a.outcome is Outcome.WORKUP_INCOMPLETE


@pytest.mark.parametrize(("days", "present"), [(89, False), (91, True)])
def test_panel_window_boundary(engine: ClinicalEngine, days: int, present: bool) -> None:
    resources = [r for r in masld_candidate() if r["code"]["coding"][0]["code"] != "2324-2"]
    a = evaluate(engine, *resources, lab("ggt", 20, days))
    assert (workup(a, "workup.ggt") is not None) is present


@pytest.mark.parametrize(
    ("marker", "item_id"),
    [
        (condition("B18.1"), "workup.hbv-dna"),
        (qual("hbsag", True), "workup.hbv-dna"),
        (condition("B18.2"), "workup.hcv-rna"),
        (qual("hcv-antibody", True), "workup.hcv-rna"),
    ],
)
def test_viral_load_missing(engine: ClinicalEngine, marker: dict[str, Any], item_id: str) -> None:
    a = evaluate(engine, *masld_candidate(), marker)
    item = workup(a, item_id)
    assert item is not None
    assert item.blocking
    assert item.status is WorkupStatus.MISSING


def test_viral_load_stale_after_six_months(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(), condition("B18.1"), lab("hbv-dna", 100, 200))
    item = workup(a, "workup.hbv-dna")
    assert item is not None
    assert item.status is WorkupStatus.STALE


def test_fibrosis_assessment_missing(engine: ClinicalEngine) -> None:
    # No birth date -> no age -> no FIB-4; no elastography.
    pat = {"resourceType": "Patient", "id": "p1", "gender": "male"}
    a = evaluate(engine, *masld_candidate(), pat=pat)
    item = workup(a, "workup.fibrosis-assessment")
    assert item is not None
    assert item.blocking
    assert a.outcome is Outcome.WORKUP_INCOMPLETE


def test_fibrosis_assessment_satisfied_by_elastography(engine: ClinicalEngine) -> None:
    pat = {"resourceType": "Patient", "id": "p1", "gender": "male"}
    a = evaluate(engine, *masld_candidate(), lab("liver-stiffness", 6.0, 100), pat=pat)
    assert workup(a, "workup.fibrosis-assessment") is None


@pytest.mark.parametrize("item_id", ["workup.ana", "workup.asma"])
def test_autoimmune_markers_block_for_aih(engine: ClinicalEngine, item_id: str) -> None:
    a = evaluate(
        engine, condition("K75.4"), medication(AZATHIOPRINE), *elevated_alt(), *panel(10, alt=80)
    )
    item = workup(a, item_id)
    assert item is not None
    assert item.blocking
    assert a.outcome is Outcome.WORKUP_INCOMPLETE


@pytest.mark.parametrize(
    "item_id",
    [
        "workup.ana",
        "workup.asma",
        "workup.hba1c",
        "workup.ferritin",
        "workup.cholesterol",
        "workup.elastography",
        "workup.imaging",
    ],
)
def test_planned_pre_therapy_items_do_not_block(engine: ClinicalEngine, item_id: str) -> None:
    a = evaluate(engine, *masld_candidate())
    item = workup(a, item_id)
    assert item is not None
    assert not item.blocking
    assert a.outcome is Outcome.MEETS_SCREENING_CRITERIA
    assert item_id not in a.reason_ids


def test_planned_metabolic_items_disappear_when_on_file(engine: ClinicalEngine) -> None:
    a = evaluate(
        engine,
        *masld_candidate(),
        lab("hba1c", 6.1, 100),
        lab("ferritin", 150, 100),
        lab("cholesterol", 190, 100),
    )
    assert workup(a, "workup.hba1c") is None
    assert workup(a, "workup.ferritin") is None
    assert workup(a, "workup.cholesterol") is None


@pytest.mark.parametrize("item_id", ["workup.creatinine", "workup.sodium"])
def test_kidney_labs_block_with_cirrhosis(engine: ClinicalEngine, item_id: str) -> None:
    a = evaluate(engine, condition("K74.69"), *panel(10))
    item = workup(a, item_id)
    assert item is not None
    assert item.blocking


def test_creatinine_blocks_for_psc(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("K83.01"), *panel(10))
    item = workup(a, "workup.creatinine")
    assert item is not None
    assert item.blocking


def test_alp_blocks_for_pbc(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("K74.3"), medication(URSODIOL), *panel(10))
    item = workup(a, "workup.alp")
    assert item is not None
    assert item.orders[0].loinc == "6768-6"


@pytest.mark.parametrize(
    "item_id",
    ["workup.hbsag", "workup.hcv-antibody", "workup.ana", "workup.asma", "workup.elastography"],
)
def test_cause_workup_for_persistent_alt_without_diagnosis(
    engine: ClinicalEngine, item_id: str
) -> None:
    a = evaluate(engine, *elevated_alt(), *panel(10, alt=80))
    item = workup(a, item_id)
    assert item is not None
    assert item.blocking
    assert "cause" in item.why


def test_workup_lists_blocking_first(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("K76.0"), *panel(10, ggt=None))
    flags = [w.blocking for w in a.workup]
    assert flags == sorted(flags, reverse=True)


def test_every_emitted_workup_id_is_documented(engine: ClinicalEngine) -> None:
    from cds_service.clinical.workup import WORKUP_CATALOG

    documented = {item_id for item_id, _blocking, _when in WORKUP_CATALOG}
    scenarios = [
        [condition("K76.0")],
        [condition("K75.4"), *elevated_alt()],
        [condition("K74.60")],
        [condition("K83.01")],
        [condition("K74.3")],
        [condition("B18.1"), condition("B18.2")],
        [*elevated_alt()],
    ]
    emitted = {w.id for resources in scenarios for w in evaluate(engine, *resources).workup}
    assert emitted <= documented
    assert len(emitted) == len(documented)  # every documented id is reachable
