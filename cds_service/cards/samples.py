"""Hand-built sample assessments, one per card type.

Used by :meth:`CardRenderer.load` to render every template once at start-up (so a template
error fails the start-up), by the card benchmark, and as a starting point in tests. The
data is synthetic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from cds_service.clinical.model import (
    Assessment,
    DataQualityNote,
    Evidence,
    MonitoringItem,
    MonitoringSchedule,
    MonitoringState,
    OrderableTest,
    Outcome,
    PatientSummary,
    RuleKind,
    RuleResult,
    ScoreInput,
    ScoreResult,
    Status,
    WorkupItem,
    WorkupStatus,
)

EVALUATED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
RULESET = "sample-1"
PATIENT = PatientSummary(resource_ref="Patient/sample-patient", age_years=55, sex="male")


def _obs(label: str, value: float, unit: str, day: date, ref: str, code: str) -> Evidence:
    return Evidence(
        label=label,
        resource_ref=f"Observation/{ref}",
        code=f"http://loinc.org|{code}",
        value=value,
        unit=unit,
        effective=day,
    )


def _rule(
    rule_id: str, kind: RuleKind, label: str, status: Status, reason: str, *ev: Evidence
) -> RuleResult:
    return RuleResult(id=rule_id, kind=kind, label=label, status=status, reason=reason, evidence=ev)


def child_pugh(value: int, band: str, *, estimated: bool = False) -> ScoreResult:
    day = date(2026, 2, 20)
    return ScoreResult(
        id="child-pugh",
        label="Child-Pugh",
        value=float(value),
        band=band,
        inputs=(
            ScoreInput(
                "bilirubin", 1.4, "mg/dL", _obs("Bilirubin", 1.4, "mg/dL", day, "bili", "1975-2")
            ),
            ScoreInput("albumin", 3.4, "g/dL", _obs("Albumin", 3.4, "g/dL", day, "alb", "1751-7")),
            ScoreInput("INR", 1.2, None, _obs("INR", 1.2, "", day, "inr", "6301-6")),
            ScoreInput("ascites", "none", None, None, note="no ascites condition on file"),
        ),
        estimated=estimated,
        citation="Pugh 1973",
        inputs_date=day,
    )


def meld_na(value: float) -> ScoreResult:
    return ScoreResult(
        id="meld-na",
        label="MELD-Na",
        value=value,
        band=None,
        citation="OPTN 2016",
        inputs_date=date(2026, 2, 20),
    )


def fib4_missing() -> ScoreResult:
    return ScoreResult(
        id="fib-4",
        label="FIB-4",
        value=None,
        band=None,
        missing=("platelets",),
        citation="Sterling 2006",
    )


def planned_schedule() -> MonitoringSchedule:
    items = (
        MonitoringItem(
            "monitoring.liver-panel.1m", "Liver panel at 1 month", 30, 14, MonitoringState.PLANNED
        ),
        MonitoringItem(
            "monitoring.liver-panel.3m", "Liver panel at 3 months", 90, 21, MonitoringState.PLANNED
        ),
        MonitoringItem(
            "monitoring.liver-panel.6m", "Liver panel at 6 months", 180, 21, MonitoringState.PLANNED
        ),
        MonitoringItem(
            "monitoring.imaging.6m",
            "Imaging to track fibrosis at 6 months",
            180,
            21,
            MonitoringState.PLANNED,
        ),
    )
    return MonitoringSchedule(items=items, notes=("Symptom and energy tracking at each visit.",))


def alt_series() -> tuple[Evidence, ...]:
    return (
        _obs("ALT", 71, "U/L", date(2025, 11, 3), "alt-1", "1742-6"),
        _obs("ALT", 64, "U/L", date(2026, 1, 12), "alt-2", "1742-6"),
    )


def excluded() -> Assessment:
    return Assessment(
        outcome=Outcome.EXCLUDED,
        evaluated_at=EVALUATED_AT,
        ruleset_version=RULESET,
        patient=PATIENT,
        rules=(
            _rule(
                "exclusion.coagulation",
                RuleKind.EXCLUSION,
                "Severe coagulation disorder",
                Status.MET,
                "Platelets below 50 x10^9/L.",
                _obs("Platelets", 42, "10*9/L", date(2026, 2, 1), "plt", "777-3"),
            ),
            _rule(
                "exclusion.liver-cancer",
                RuleKind.EXCLUSION,
                "Liver cancer",
                Status.MET,
                "Active liver cancer on the problem list.",
                Evidence(
                    label="Hepatocellular carcinoma",
                    resource_ref="Condition/hcc",
                    code="http://snomed.info/sct|109841003",
                    effective=date(2025, 12, 4),
                ),
            ),
            _rule(
                "exclusion.active-viral-hepatitis",
                RuleKind.EXCLUSION,
                "Active viral hepatitis",
                Status.UNKNOWN,
                "HBV coded but no HBV DNA within 6 months.",
            ),
        ),
        scores=(child_pugh(6, "A"),),
        liver_conditions=("Hepatocellular carcinoma (disorder)",),
        data_quality=(
            DataQualityNote(
                "unknown-unit",
                "An albumin result has an unknown unit and was not used.",
                "Observation/alb-old",
            ),
        ),
    )


def workup_incomplete() -> Assessment:
    return Assessment(
        outcome=Outcome.WORKUP_INCOMPLETE,
        evaluated_at=EVALUATED_AT,
        ruleset_version=RULESET,
        patient=PATIENT,
        rules=(
            _rule(
                "exclusion.coagulation",
                RuleKind.EXCLUSION,
                "Severe coagulation disorder",
                Status.UNKNOWN,
                "No INR within 90 days.",
            ),
            _rule(
                "indication.masld-alt",
                RuleKind.INDICATION,
                "MASLD with raised ALT",
                Status.MET,
                "ALT above 33 U/L on 2 results 10 weeks apart.",
                *alt_series(),
            ),
        ),
        workup=(
            WorkupItem(
                "workup.liver-panel.inr",
                "INR",
                WorkupStatus.STALE,
                "needed to rule out a severe coagulation disorder",
                (OrderableTest("6301-6", "INR in Platelet poor plasma by Coagulation assay"),),
                last_result=_obs("INR", 1.1, "", date(2025, 6, 1), "inr-old", "6301-6"),
            ),
            WorkupItem(
                "workup.liver-panel.platelets",
                "Platelets",
                WorkupStatus.MISSING,
                "needed to rule out a severe coagulation disorder",
                (OrderableTest("777-3", "Platelets [#/volume] in Blood by Automated count"),),
            ),
            WorkupItem(
                "workup.imaging",
                "Liver imaging",
                WorkupStatus.MISSING,
                "planned pre-therapy assessment",
                (),
                blocking=False,
            ),
        ),
        liver_conditions=("Nonalcoholic fatty liver disease",),
    )


def meets() -> Assessment:
    return Assessment(
        outcome=Outcome.MEETS_SCREENING_CRITERIA,
        evaluated_at=EVALUATED_AT,
        ruleset_version=RULESET,
        patient=PATIENT,
        rules=(
            _rule(
                "exclusion.liver-cancer",
                RuleKind.EXCLUSION,
                "Liver cancer",
                Status.NOT_MET,
                "No liver cancer on file.",
            ),
            _rule(
                "indication.masld-alt",
                RuleKind.INDICATION,
                "MASLD with raised ALT",
                Status.MET,
                "ALT above 33 U/L on 2 results 10 weeks apart.",
                *alt_series(),
            ),
        ),
        scores=(child_pugh(7, "B", estimated=True), meld_na(12), fib4_missing()),
        workup=(
            WorkupItem(
                "workup.hba1c",
                "HbA1c",
                WorkupStatus.MISSING,
                "planned pre-therapy metabolic review",
                (OrderableTest("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"),),
                blocking=False,
            ),
        ),
        planned_monitoring=planned_schedule(),
        liver_conditions=("Nonalcoholic fatty liver disease (disorder)", "Cirrhosis of liver"),
    )


def does_not_meet() -> Assessment:
    return Assessment(
        outcome=Outcome.DOES_NOT_MEET,
        evaluated_at=EVALUATED_AT,
        ruleset_version=RULESET,
        patient=PATIENT,
        rules=(
            _rule(
                "indication.cirrhosis-child-pugh",
                RuleKind.INDICATION,
                "Cirrhosis, Child-Pugh A or early B",
                Status.NOT_MET,
                "Child-Pugh 8 (B) is beyond early B (7).",
                Evidence(label="Child-Pugh score", value=8, note="class B"),
            ),
            _rule(
                "indication.pbc-alp",
                RuleKind.INDICATION,
                "PBC with raised ALP despite UDCA",
                Status.NOT_MET,
                "No PBC diagnosis.",
            ),
        ),
        scores=(child_pugh(8, "B"), meld_na(13)),
        liver_conditions=("Cirrhosis of liver",),
    )


def post_infusion() -> Assessment:
    infusion = Evidence(
        label="MSC infusion", resource_ref="Procedure/msc-1", effective=date(2025, 9, 1)
    )
    items = (
        MonitoringItem(
            "monitoring.liver-panel.1m",
            "Liver panel at 1 month",
            30,
            14,
            MonitoringState.DONE,
            date(2025, 10, 1),
            evidence=(_obs("ALT", 40, "U/L", date(2025, 10, 3), "alt-1m", "1742-6"),),
        ),
        MonitoringItem(
            "monitoring.liver-panel.3m",
            "Liver panel at 3 months",
            90,
            21,
            MonitoringState.OVERDUE,
            date(2025, 11, 30),
        ),
        MonitoringItem(
            "monitoring.liver-panel.6m",
            "Liver panel at 6 months",
            180,
            21,
            MonitoringState.DUE,
            date(2026, 2, 28),
        ),
    )
    return Assessment(
        outcome=Outcome.NOT_APPLICABLE,
        evaluated_at=EVALUATED_AT,
        ruleset_version=RULESET,
        patient=PATIENT,
        rules=(),
        post_infusion_monitoring=MonitoringSchedule(items=items, infusion=infusion),
    )


def sample_assessments() -> dict[str, Assessment]:
    return {
        "excluded": excluded(),
        "workup-incomplete": workup_incomplete(),
        "meets-screening-criteria": meets(),
        "does-not-meet": does_not_meet(),
        "post-infusion-monitoring": post_infusion(),
    }
