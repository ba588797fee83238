"""Planned and post-infusion monitoring (spec §5)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cds_service.clinical import ClinicalEngine
from cds_service.clinical.model import MonitoringState
from tests.clinical.fhir import NOW, condition, infusion, lab, masld_candidate, panel
from tests.clinical.helpers import evaluate


def states(engine: ClinicalEngine, *resources: object) -> dict[str, MonitoringState]:
    a = evaluate(engine, *resources)
    assert a.post_infusion_monitoring is not None
    return {i.id: i.state for i in a.post_infusion_monitoring.items}


def test_planned_schedule_offsets(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate())
    assert a.planned_monitoring is not None
    items = {i.id: i for i in a.planned_monitoring.items}
    assert [i.offset_days for i in a.planned_monitoring.items] == [30, 91, 182, 182]
    assert all(i.state is MonitoringState.PLANNED and i.due_date is None for i in items.values())
    assert items["monitoring.liver-panel.1m"].tolerance_days == 14
    assert items["monitoring.liver-panel.3m"].tolerance_days == 21
    assert {o.loinc for o in items["monitoring.liver-panel.1m"].orders} >= {
        "1742-6",
        "1920-8",
        "6301-6",
    }
    assert not any("HCC" in n for n in a.planned_monitoring.notes)


def test_due_dates_from_most_recent_infusion(engine: ClinicalEngine) -> None:
    a = evaluate(engine, *masld_candidate(), infusion(300), infusion(40))
    schedule = a.post_infusion_monitoring
    assert schedule is not None
    assert schedule.infusion is not None
    first = schedule.items[0]
    assert first.due_date == (NOW - timedelta(days=40) + timedelta(days=30)).date()


def test_done_due_and_overdue(engine: ClinicalEngine) -> None:
    # Infusion 40 days ago: 1-month panel due 10 days ago (ALT 8 days ago: done); 3, 6 months ahead.
    got = states(engine, condition("K76.0"), infusion(40), lab("alt", 40, 8))
    assert got["monitoring.liver-panel.1m"] is MonitoringState.DONE
    assert got["monitoring.liver-panel.3m"] is MonitoringState.DUE
    assert got["monitoring.fibrosis-imaging.6m"] is MonitoringState.DUE
    nothing = states(engine, condition("K76.0"), infusion(60))
    assert nothing["monitoring.liver-panel.1m"] is MonitoringState.OVERDUE


@pytest.mark.parametrize(
    ("lab_day_after_due", "state"),
    [
        (-15, MonitoringState.OVERDUE),
        (-14, MonitoringState.DONE),
        (14, MonitoringState.DONE),
        (15, MonitoringState.OVERDUE),
    ],
)
def test_one_month_tolerance_14_days(
    engine: ClinicalEngine, lab_day_after_due: int, state: MonitoringState
) -> None:
    infusion_days = 100  # due 70 days ago
    got = states(
        engine, condition("K76.0"), infusion(infusion_days), lab("alt", 40, 70 - lab_day_after_due)
    )
    assert got["monitoring.liver-panel.1m"] is state


@pytest.mark.parametrize(
    ("lab_day_after_due", "state"), [(21, MonitoringState.DONE), (22, MonitoringState.OVERDUE)]
)
def test_three_month_tolerance_21_days(
    engine: ClinicalEngine, lab_day_after_due: int, state: MonitoringState
) -> None:
    infusion_days = 150  # 3-month panel due 59 days ago
    got = states(
        engine, condition("K76.0"), infusion(infusion_days), lab("alt", 40, 59 - lab_day_after_due)
    )
    assert got["monitoring.liver-panel.3m"] is state


@pytest.mark.parametrize(
    ("infusion_days", "state"), [(200, MonitoringState.DUE), (204, MonitoringState.OVERDUE)]
)
def test_six_month_overdue_after_tolerance(
    engine: ClinicalEngine, infusion_days: int, state: MonitoringState
) -> None:
    assert (
        states(engine, condition("K76.0"), infusion(infusion_days))["monitoring.liver-panel.6m"]
        is state
    )


def test_fibrosis_imaging_done_by_elastography(engine: ClinicalEngine) -> None:
    got = states(engine, condition("K76.0"), infusion(190), lab("liver-stiffness", 7.0, 5))
    assert got["monitoring.fibrosis-imaging.6m"] is MonitoringState.DONE


def test_done_item_carries_evidence(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("K76.0"), infusion(40), *panel(8))
    assert a.post_infusion_monitoring is not None
    item = a.post_infusion_monitoring.items[0]
    assert item.state is MonitoringState.DONE
    assert {e.label for e in item.evidence} >= {"ALT", "AST", "INR"}


def test_hcc_surveillance_note_when_cirrhotic(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("K74.60"), infusion(40))
    assert a.post_infusion_monitoring is not None
    assert any("HCC" in n for n in a.post_infusion_monitoring.notes)


def test_post_infusion_schedule_whatever_the_outcome(engine: ClinicalEngine) -> None:
    a = evaluate(engine, condition("C22.0"), infusion(40))
    assert a.post_infusion_monitoring is not None


@pytest.mark.parametrize("status", ["not-done", "entered-in-error", "preparation"])
def test_infusion_not_done_is_ignored(engine: ClinicalEngine, status: str) -> None:
    assert (
        evaluate(engine, condition("K76.0"), infusion(40, status=status)).post_infusion_monitoring
        is None
    )


def test_other_procedure_codes_ignored(engine: ClinicalEngine) -> None:
    assert (
        evaluate(engine, condition("K76.0"), infusion(40, code="other")).post_infusion_monitoring
        is None
    )
