"""Hand-built assessments for card tests (synthetic data; no engine involved)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

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
from tests.conftest import CountingUuids as CountingUuids  # re-exported for card tests

EVALUATED_AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
RULESET = "1.0.0-test"
PATIENT_ID = "pat-123"
PATIENT = PatientSummary(resource_ref=f"Patient/{PATIENT_ID}", age_years=58, sex="female")


def obs(
    label: str, value: float | None, unit: str | None, day: date, ref: str, loinc: str, **kw: Any
) -> Evidence:
    return Evidence(
        label=label,
        resource_ref=f"Observation/{ref}",
        code=f"http://loinc.org|{loinc}",
        value=value,
        unit=unit,
        effective=day,
        **kw,
    )


def cond(label: str, ref: str, day: date | None) -> Evidence:
    return Evidence(label=label, resource_ref=f"Condition/{ref}", effective=day)


def rule(
    rule_id: str,
    label: str,
    status: Status,
    reason: str,
    *evidence: Evidence,
    kind: RuleKind | None = None,
) -> RuleResult:
    if kind is None:
        kind = RuleKind.EXCLUSION if rule_id.startswith("exclusion.") else RuleKind.INDICATION
    return RuleResult(
        id=rule_id, kind=kind, label=label, status=status, reason=reason, evidence=evidence
    )


def base(outcome: Outcome, **kw: Any) -> Assessment:
    kw.setdefault("rules", ())
    return Assessment(
        outcome=outcome, evaluated_at=EVALUATED_AT, ruleset_version=RULESET, patient=PATIENT, **kw
    )


# ------------------------------------------------------------------------------ scores
def child_pugh(value: float | None, band: str | None, *, estimated: bool = False) -> ScoreResult:
    day = date(2026, 10, 20)
    return ScoreResult(
        id="child-pugh",
        label="Child-Pugh",
        value=value,
        band=band,
        estimated=estimated,
        inputs=(
            ScoreInput(
                "bilirubin",
                1.8,
                "mg/dL",
                obs(
                    "Total bilirubin",
                    1.8,
                    "mg/dL",
                    day,
                    "bili",
                    "1975-2",
                    original_value=30.8,
                    original_unit="umol/L",
                ),
            ),
            ScoreInput("albumin", 3.2, "g/dL", obs("Albumin", 3.2, "g/dL", day, "alb", "1751-7")),
            ScoreInput("INR", 1.4, None, obs("INR", 1.4, None, day, "inr", "6301-6")),
            ScoreInput("ascites", "none", None, None, note="no ascites condition on file"),
        ),
        citation="Pugh RN et al. Br J Surg 1973",
        inputs_date=day,
        missing=() if value is not None else ("INR",),
    )


def meld_na(value: float | None) -> ScoreResult:
    return ScoreResult(
        id="meld-na",
        label="MELD-Na",
        value=value,
        band=None,
        citation="OPTN 2016",
        inputs_date=date(2026, 10, 20),
        missing=() if value is not None else ("sodium", "creatinine"),
        inputs=(
            ScoreInput(
                "creatinine",
                1.0,
                "mg/dL",
                obs("Creatinine", 0.8, "mg/dL", date(2026, 10, 20), "cr", "2160-0"),
                clamped_from=0.8,
            ),
        ),
    )


def fib4(value: float | None, band: str | None, *flags: str) -> ScoreResult:
    return ScoreResult(
        id="fib-4",
        label="FIB-4",
        value=value,
        band=band,
        flags=flags,
        citation="Sterling 2006",
        missing=() if value is not None else ("AST",),
    )


def apri(value: float) -> ScoreResult:
    return ScoreResult(
        id="apri",
        label="APRI",
        value=value,
        band="unlikely",
        citation="Wai 2003",
        inputs_date=date(2026, 10, 20),
    )


# ------------------------------------------------------------------------------ outcomes
def excluded_all() -> Assessment:
    """Every exclusion at once, in the engine's order (cancer is not first)."""
    return base(
        Outcome.EXCLUDED,
        rules=(
            rule(
                "exclusion.coagulation",
                "Severe coagulation disorder",
                Status.MET,
                "INR above 1.5 off anticoagulation and platelets below 50 x10^9/L.",
                obs("INR", 1.9, None, date(2026, 10, 2), "inr-1", "6301-6"),
                obs(
                    "Platelets",
                    41,
                    "10*9/L",
                    date(2026, 10, 2),
                    "plt-1",
                    "777-3",
                    original_value=41,
                    original_unit="10*3/uL",
                ),
            ),
            rule(
                "exclusion.active-viral-hepatitis",
                "Active viral hepatitis",
                Status.MET,
                "HCV RNA detectable within 12 months.",
                obs("HCV RNA", 250000, "[IU]/mL", date(2026, 7, 9), "hcv-rna", "11011-4"),
            ),
            rule(
                "exclusion.meld-na",
                "MELD-Na 15 or more",
                Status.MET,
                "MELD-Na 18.",
                Evidence(label="MELD-Na", value=18),
            ),
            rule(
                "exclusion.liver-cancer",
                "Liver cancer",
                Status.MET,
                "Hepatocellular carcinoma on the problem list (active).",
                cond("Hepatocellular carcinoma", "hcc-1", date(2026, 3, 14)),
            ),
            rule(
                "exclusion.decompensation",
                "Decompensated liver disease",
                Status.MET,
                "Ascites within 12 months.",
                cond("Ascites", "asc-1", None),
            ),
            rule(
                "exclusion.transplant",
                "Transplant listing or liver transplant",
                Status.NOT_MET,
                "No transplant listing on file.",
            ),
        ),
        scores=(child_pugh(9, "B"), meld_na(18)),
        liver_conditions=("Chronic hepatitis C (disorder)", "Hepatocellular carcinoma"),
        data_quality=(
            DataQualityNote(
                "unknown-unit",
                "A platelet result has an unknown unit and was not used.",
                "Observation/plt-odd",
            ),
            DataQualityNote("page-cap", "Only the first 500 Observations were read (page cap)."),
        ),
    )


def excluded_single() -> Assessment:
    return base(
        Outcome.EXCLUDED,
        rules=(
            rule(
                "exclusion.liver-failure",
                "Liver failure",
                Status.MET,
                "Liver failure on the problem list.",
                cond("Hepatic failure", "lf", None),
            ),
            rule(
                "exclusion.coagulation",
                "Severe coagulation disorder",
                Status.UNKNOWN,
                "No platelet count within 90 days.",
            ),
        ),
    )


def workup_incomplete() -> Assessment:
    day_old = date(2026, 5, 2)
    return base(
        Outcome.WORKUP_INCOMPLETE,
        rules=(
            rule(
                "exclusion.coagulation",
                "Severe coagulation disorder",
                Status.UNKNOWN,
                "No INR or platelet count within 90 days.",
            ),
            rule(
                "exclusion.active-viral-hepatitis",
                "Active viral hepatitis",
                Status.UNKNOWN,
                "Chronic hepatitis B is coded but no HBV DNA within 6 months.",
            ),
            rule(
                "indication.viral-survivor",
                "Viral hepatitis survivor with lingering liver injury",
                Status.UNKNOWN,
                "Needs a recent HBV DNA.",
            ),
        ),
        workup=(
            WorkupItem(
                "workup.liver-panel.inr",
                "INR",
                WorkupStatus.STALE,
                "needed to rule out a severe coagulation disorder",
                (OrderableTest("6301-6", "INR in Platelet poor plasma by Coagulation assay"),),
                last_result=obs("INR", 1.1, None, day_old, "inr-old", "6301-6"),
            ),
            WorkupItem(
                "workup.liver-panel.platelets",
                "Platelets",
                WorkupStatus.MISSING,
                "needed to rule out a severe coagulation disorder",
                (OrderableTest("777-3", "Platelets [#/volume] in Blood by Automated count"),),
            ),
            WorkupItem(
                "workup.hbv-dna",
                "HBV DNA",
                WorkupStatus.MISSING,
                "chronic hepatitis B is coded: the viral load decides active infection",
                (OrderableTest("42595-9", "Hepatitis B virus DNA [#/volume] (viral load)"),),
            ),
            WorkupItem(
                "workup.fibrosis",
                "Fibrosis assessment",
                WorkupStatus.MISSING,
                "no FIB-4 inputs or elastography within 12 months",
                (
                    OrderableTest("1920-8", "AST [Enzymatic activity/volume] in Serum or Plasma"),
                    OrderableTest("777-3", "Platelets [#/volume] in Blood by Automated count"),
                    OrderableTest("77615-3", "Liver stiffness by transient elastography"),
                ),
            ),
            WorkupItem(
                "workup.hba1c",
                "HbA1c",
                WorkupStatus.MISSING,
                "planned pre-therapy metabolic review",
                (OrderableTest("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"),),
                blocking=False,
            ),
        ),
        liver_conditions=("Chronic hepatitis B",),
        data_quality=(
            DataQualityNote(
                "preliminary-result",
                "A preliminary INR was shown but not used.",
                "Observation/inr-prelim",
            ),
        ),
    )


def workup_alt_without_diagnosis() -> Assessment:
    orders = (
        ("5196-1", "HBsAg", "Hepatitis B virus surface Ag [Presence] in Serum"),
        ("13955-0", "HCV antibody", "Hepatitis C virus Ab [Presence] in Serum"),
        ("8061-4", "ANA", "Nuclear Ab [Presence] in Serum"),
        ("8095-2", "ASMA", "Smooth muscle Ab [Presence] in Serum"),
        ("77615-3", "Elastography", "Liver stiffness by transient elastography"),
    )
    return base(
        Outcome.WORKUP_INCOMPLETE,
        rules=(
            rule(
                "applicability.persistent-alt-no-diagnosis",
                "Persistent ALT elevation without a liver diagnosis",
                Status.MET,
                "ALT above the upper limit on 2 results 6 weeks apart; no liver diagnosis.",
                obs("ALT", 61, "U/L", date(2026, 8, 1), "alt-a", "1742-6"),
                obs("ALT", 58, "U/L", date(2026, 9, 15), "alt-b", "1742-6"),
                kind=RuleKind.APPLICABILITY,
            ),
        ),
        workup=tuple(
            WorkupItem(
                f"workup.cause.{label.lower()}",
                label,
                WorkupStatus.MISSING,
                "the cause of the raised ALT must be found before any screening",
                (OrderableTest(code, display),),
            )
            for code, label, display in orders
        ),
    )


def planned_schedule() -> MonitoringSchedule:
    return MonitoringSchedule(
        items=(
            MonitoringItem(
                "monitoring.liver-panel.1m",
                "Liver panel at 1 month",
                30,
                14,
                MonitoringState.PLANNED,
            ),
            MonitoringItem(
                "monitoring.liver-panel.3m",
                "Liver panel at 3 months",
                91,
                21,
                MonitoringState.PLANNED,
            ),
            MonitoringItem(
                "monitoring.liver-panel.6m",
                "Liver panel at 6 months",
                182,
                21,
                MonitoringState.PLANNED,
            ),
            MonitoringItem(
                "monitoring.fibrosis-imaging.6m",
                "Fibrosis imaging (elastography) at 6 months",
                182,
                21,
                MonitoringState.PLANNED,
            ),
        ),
        notes=(
            "HCC surveillance: ultrasound with or without AFP every 6 months (cirrhosis).",
            "Symptom and energy tracking at each visit.",
        ),
    )


def meets_masld() -> Assessment:
    return base(
        Outcome.MEETS_SCREENING_CRITERIA,
        rules=(
            rule("exclusion.liver-cancer", "Liver cancer", Status.NOT_MET, "None on file."),
            rule(
                "indication.masld-alt",
                "MASLD/NASH with persistently elevated ALT",
                Status.MET,
                "ALT above 25 U/L (ACG 2017, female) on 2 results 9 weeks apart.",
                obs(
                    "ALT",
                    48,
                    "U/L",
                    date(2026, 7, 20),
                    "alt-1",
                    "1742-6",
                    note="above ULN 25 U/L (ACG 2017, female)",
                ),
                obs(
                    "ALT",
                    52,
                    "U/L",
                    date(2026, 9, 21),
                    "alt-2",
                    "1742-6",
                    note="above ULN 25 U/L (ACG 2017, female)",
                ),
                cond("Nonalcoholic fatty liver disease", "nafld", date(2024, 2, 1)),
            ),
            rule(
                "indication.metabolic-masld",
                "Metabolic syndrome or type 2 diabetes with MASLD criteria",
                Status.MET,
                "Type 2 diabetes with the MASLD criteria met.",
                cond("Type 2 diabetes mellitus", "t2d", date(2019, 5, 1)),
            ),
        ),
        scores=(child_pugh(5, "A"), fib4(1.42, "indeterminate"), apri(0.61), meld_na(None)),
        workup=(
            WorkupItem(
                "workup.imaging",
                "Liver imaging (ultrasound or MRI)",
                WorkupStatus.MISSING,
                "planned pre-therapy assessment",
                (),
                blocking=False,
            ),
            WorkupItem(
                "workup.ferritin",
                "Ferritin",
                WorkupStatus.STALE,
                "planned pre-therapy metabolic review",
                (OrderableTest("2276-4", "Ferritin [Mass/volume] in Serum or Plasma"),),
                last_result=obs("Ferritin", 210, "ng/mL", date(2025, 1, 5), "fer", "2276-4"),
                blocking=False,
            ),
        ),
        planned_monitoring=planned_schedule(),
        liver_conditions=("Nonalcoholic fatty liver disease (disorder)", "Type 2 diabetes"),
    )


def meets_cirrhosis_cp7() -> Assessment:
    return base(
        Outcome.MEETS_SCREENING_CRITERIA,
        rules=(
            rule(
                "indication.cirrhosis-child-pugh",
                "Cirrhosis Child-Pugh A or early B",
                Status.MET,
                "Child-Pugh 7 (early B) with no decompensation event; MELD-Na 12.",
                cond("Cirrhosis of liver", "cirr", date(2025, 4, 2)),
                Evidence(label="Child-Pugh score", value=7, note="class B, estimated"),
            ),
        ),
        scores=(
            child_pugh(7, "B", estimated=True),
            meld_na(12),
            fib4(3.9, "high", "unreliable under 35 years"),
        ),
        planned_monitoring=planned_schedule(),
        liver_conditions=("Cirrhosis of liver",),
    )


def meets_without_conditions() -> Assessment:
    """No condition names (e.g. post-COVID path from codes only): fallback trial search."""
    return replace(meets_cirrhosis_cp7(), liver_conditions=(), planned_monitoring=None, scores=())


def does_not_meet_cp8() -> Assessment:
    return base(
        Outcome.DOES_NOT_MEET,
        rules=(
            rule(
                "exclusion.decompensation",
                "Decompensated liver disease",
                Status.NOT_MET,
                "No decompensation event within 12 months; Child-Pugh 8 is below 10.",
            ),
            rule(
                "indication.cirrhosis-child-pugh",
                "Cirrhosis Child-Pugh A or early B",
                Status.NOT_MET,
                'Child-Pugh 8 (class B) is beyond "early B" (a score of 7).',
                Evidence(label="Child-Pugh score", value=8, note="class B"),
                cond("Cirrhosis of liver", "cirr", date(2025, 4, 2)),
            ),
            rule(
                "indication.masld-alt",
                "MASLD/NASH with persistently elevated ALT",
                Status.NOT_MET,
                "No MASLD diagnosis.",
            ),
            rule(
                "indication.post-covid",
                "Post-COVID liver inflammation",
                Status.UNKNOWN,
                "COVID-19 on file but no ALT 3 months after it.",
            ),
        ),
        scores=(child_pugh(8, "B"), meld_na(13)),
        liver_conditions=("Cirrhosis of liver",),
    )


def does_not_meet_alt_normal() -> Assessment:
    return base(
        Outcome.DOES_NOT_MEET,
        rules=(
            rule(
                "indication.masld-alt",
                "MASLD/NASH with persistently elevated ALT",
                Status.NOT_MET,
                "ALT no longer above the upper limit (latest 22 U/L).",
                obs("ALT", 22, "U/L", date(2026, 10, 1), "alt-n", "1742-6"),
            ),
        ),
        scores=(fib4(0.9, "low"),),
    )


def post_infusion(*states: MonitoringState, with_infusion: bool = True) -> MonitoringSchedule:
    infusion_day = date(2026, 3, 2)
    labels = [
        "Liver panel at 1 month",
        "Liver panel at 3 months",
        "Liver panel at 6 months",
        "Fibrosis imaging (elastography) at 6 months",
    ]
    offsets = [30, 91, 182, 182]
    items = []
    for i, state in enumerate(states):
        due = date.fromordinal(infusion_day.toordinal() + offsets[i])
        evidence = (
            (obs("ALT", 31, "U/L", due, f"alt-m{i}", "1742-6"),)
            if (state is MonitoringState.DONE)
            else ()
        )
        items.append(
            MonitoringItem(
                f"monitoring.{i}", labels[i], offsets[i], 14 if i == 0 else 21, state, due, evidence
            )
        )
    infusion = (
        Evidence(
            label="MSC infusion (clinic-local code)",
            resource_ref="Procedure/msc-1",
            effective=infusion_day,
        )
        if with_infusion
        else None
    )
    return MonitoringSchedule(
        items=tuple(items), infusion=infusion, notes=("Symptom and energy tracking at each visit.",)
    )


def post_infusion_overdue() -> Assessment:
    s = post_infusion(
        MonitoringState.DONE, MonitoringState.OVERDUE, MonitoringState.DUE, MonitoringState.DUE
    )
    return base(Outcome.NOT_APPLICABLE, post_infusion_monitoring=s)


def post_infusion_all_done_with_meets() -> Assessment:
    s = post_infusion(
        MonitoringState.DONE, MonitoringState.DONE, MonitoringState.DONE, MonitoringState.DONE
    )
    return replace(meets_masld(), post_infusion_monitoring=s)


def post_infusion_due_no_date() -> Assessment:
    s = post_infusion(MonitoringState.DONE, MonitoringState.DUE, with_infusion=False)
    return base(Outcome.DOES_NOT_MEET, rules=does_not_meet_cp8().rules, post_infusion_monitoring=s)


def not_applicable() -> Assessment:
    return base(
        Outcome.NOT_APPLICABLE,
        rules=(
            rule(
                "applicability.liver-indication",
                "Liver diagnosis on record",
                Status.NOT_MET,
                "No liver diagnosis.",
                kind=RuleKind.APPLICABILITY,
            ),
        ),
    )


#: every hand-built scenario, by name
SCENARIOS = {
    "excluded-all": excluded_all,
    "excluded-single": excluded_single,
    "workup-incomplete": workup_incomplete,
    "workup-alt-without-diagnosis": workup_alt_without_diagnosis,
    "meets-masld": meets_masld,
    "meets-cirrhosis-cp7": meets_cirrhosis_cp7,
    "meets-without-conditions": meets_without_conditions,
    "does-not-meet-cp8": does_not_meet_cp8,
    "does-not-meet-alt-normal": does_not_meet_alt_normal,
    "post-infusion-overdue": post_infusion_overdue,
    "post-infusion-all-done-with-meets": post_infusion_all_done_with_meets,
    "post-infusion-due-no-date": post_infusion_due_no_date,
    "not-applicable": not_applicable,
}

#: the golden scenario of each outcome (tests/cards/golden/<outcome>.json)
GOLDEN = {
    "excluded": excluded_all,
    "workup-incomplete": workup_incomplete,
    "meets-screening-criteria": meets_cirrhosis_cp7,
    "does-not-meet": does_not_meet_cp8,
    "post-infusion-monitoring": post_infusion_overdue,
    "not-applicable": not_applicable,
}
