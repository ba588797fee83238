"""One evaluation's view of the facts: recency windows, ULNs, persistence, shared scores.

Rules, workup and monitoring ask this object rather than the raw facts, so every window and
threshold comes from the ruleset and derived values (Child-Pugh, MELD, ALT persistence) are
computed once per evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cached_property

from cds_service.clinical.facts import ConditionFact, Facts, LabResult, MedicationFact
from cds_service.clinical.model import Evidence, ScoreResult, Status
from cds_service.clinical.ruleset import Ruleset
from cds_service.clinical.scores import (
    ChildPughBands,
    GradeFromConditions,
    apri_score,
    child_pugh_score,
    elastography_score,
    fib4_score,
    meld_scores,
)

DECOMPENSATION_EVENTS = ("ascites", "variceal-bleeding", "hepatic-encephalopathy", "hepatorenal")


@dataclass(frozen=True, slots=True)
class Finding:
    """A three-valued intermediate answer with its reason and evidence."""

    status: Status
    reason: str
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class Events:
    """Conditions that count as an event "active or within the window"."""

    counted: tuple[ConditionFact, ...]
    undated_inactive: tuple[ConditionFact, ...]


def fmt(value: float | None, unit: str | None = None) -> str:
    if value is None:
        return "?"
    text = f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return f"{text} {unit}" if unit else text


def on(result: LabResult) -> str:
    return result.when.date().isoformat()


class Context:
    def __init__(self, rules: Ruleset, facts: Facts, now: datetime) -> None:
        self.rules = rules
        self.facts = facts
        self.now = now
        self.t = rules.thresholds
        self.w = rules.windows
        # Windows count whole calendar days (UTC): a result dated exactly N days ago is within
        # "N days", whatever the time of day the hook fires.
        today = now.astimezone(UTC).date()
        self._since = {
            name: datetime.combine(today - timedelta(days=days), time.min, UTC)
            for name, days in rules.windows.items()
        }
        self._recent: dict[str, LabResult | None] = {}

    # --- time -------------------------------------------------------------------------------
    def since(self, window: str) -> datetime:
        return self._since[window]

    # --- labs ---------------------------------------------------------------------------------
    def results(
        self, analyte: str, window: str | None = None, valued: bool = True
    ) -> list[LabResult]:
        found = self.facts.labs.get(analyte, [])
        start = self.since(window) if window else None
        return [
            r
            for r in found
            if (not valued or r.value is not None) and (start is None or r.when >= start)
        ]

    def latest(
        self, analyte: str, window: str | None = None, valued: bool = True
    ) -> LabResult | None:
        start = self.since(window) if window else None
        for result in self.facts.labs.get(analyte, ()):  # newest first
            if start is not None and result.when < start:
                return None
            if not valued or result.value is not None:
                return result
        return None

    def latest_any_time(self, analyte: str, valued: bool = True) -> LabResult | None:
        return self.latest(analyte, None, valued)

    def positive(self, analyte: str) -> LabResult | None:
        """The newest result of a qualitative test if it is positive."""
        latest = self.latest(analyte, valued=False)
        return latest if latest is not None and latest.detected is True else None

    # --- conditions / medications ---------------------------------------------------------
    def active(self, *concepts: str) -> list[ConditionFact]:
        out: list[ConditionFact] = []
        for concept in concepts:
            for fact in self.facts.conditions.get(concept, ()):
                if fact.active and fact not in out:
                    out.append(fact)
        return out

    def events(self, *concepts: str) -> Events:
        start = self.since("events")
        counted: list[ConditionFact] = []
        undated: list[ConditionFact] = []
        for concept in concepts:
            for fact in self.facts.conditions.get(concept, ()):
                if fact in counted or fact in undated:
                    continue
                if fact.active:
                    counted.append(fact)
                elif fact.latest is None:
                    undated.append(fact)
                elif fact.latest >= start:
                    counted.append(fact)
        return Events(tuple(counted), tuple(undated))

    def active_meds(self, concept: str) -> list[MedicationFact]:
        return [m for m in self.facts.medications.get(concept, ()) if m.active]

    def label(self, concept: str) -> str:
        return self.rules.condition_labels[concept]

    @cached_property
    def liver_diagnoses(self) -> list[ConditionFact]:
        return self.active(*sorted(self.rules.liver_concepts))

    @cached_property
    def anticoagulation(self) -> Evidence | None:
        for fact in self.active("long-term-anticoagulation"):
            return fact.evidence("Long-term anticoagulation")
        for med in self.active_meds("anticoagulant"):
            return med.evidence("Anticoagulant")
        return None

    # --- ALT ----------------------------------------------------------------------------------
    def alt_uln(self, result: LabResult) -> tuple[float | None, str]:
        sex = self.facts.patient.sex
        if sex == "male":
            return self.t["alt-uln-male"], "ACG 2017 ULN for men"
        if sex == "female":
            return self.t["alt-uln-female"], "ACG 2017 ULN for women"
        if result.ref_high is not None:
            return result.ref_high, "sex not recorded: the lab's reference range used"
        return None, "sex not recorded and no lab reference range"

    @cached_property
    def alt_persistence(self) -> Finding:
        """ALT above ULN on >= 2 results >= 4 weeks apart within 6 months, and still above."""
        results = self.results("alt", "persistence-window")
        if not results:
            return Finding(Status.UNKNOWN, "no ALT result in the last 6 months")
        elevated: list[tuple[LabResult, float]] = []
        for result in results:
            uln, why = self.alt_uln(result)
            if uln is None:
                return Finding(Status.UNKNOWN, f"ALT upper limit unknown ({why})")
            assert result.value is not None
            if result.value > uln and result.comparator not in ("<", "<="):
                elevated.append((result, uln))
        latest = results[0]
        latest_uln, why = self.alt_uln(latest)
        if not elevated or elevated[0][0] is not latest:
            return Finding(
                Status.NOT_MET,
                f"latest ALT {fmt(latest.value, 'U/L')} on {on(latest)} is not above the upper "
                "limit "
                f"{fmt(latest_uln, 'U/L')} ({why})",
                (latest.evidence("ALT", f"not above {fmt(latest_uln, 'U/L')} ({why})"),),
            )
        evidence = tuple(
            r.evidence("ALT", f"above ULN {fmt(u, 'U/L')} ({self.alt_uln(r)[1]})")
            for r, u in elevated
        )
        span = (elevated[0][0].when.date() - elevated[-1][0].when.date()).days
        if len(elevated) < 2 or span < self.w["persistence-min-gap"]:
            return Finding(
                Status.NOT_MET,
                "ALT above the upper limit but not yet persistent: needs 2 or more elevated "
                "results "
                "at least 4 weeks apart within 6 months",
                evidence,
            )
        return Finding(
            Status.MET,
            f"ALT above the upper limit on {len(elevated)} results from {on(elevated[-1][0])} to "
            f"{on(elevated[0][0])} ({why})",
            evidence,
        )

    @cached_property
    def supporting_enzymes(self) -> tuple[Evidence, ...]:
        """Newest AST and GGT (6 months) judged against the lab's own upper limit (spec §4.4)."""
        shown: list[Evidence] = []
        for analyte in ("ast", "ggt"):
            result = self.latest(analyte, "persistence-window")
            if result is None or result.value is None:
                continue
            if result.ref_high is None:
                note = "no lab reference range reported"
            elif result.value > result.ref_high:
                note = f"above the lab's upper limit {fmt(result.ref_high, result.unit)}"
            else:
                note = f"within the lab's upper limit {fmt(result.ref_high, result.unit)}"
            shown.append(result.evidence(result.label, note))
        return tuple(shown)

    # --- fibrosis / cirrhosis -------------------------------------------------------------------
    @cached_property
    def stiffness(self) -> LabResult | None:
        return self.latest("liver-stiffness", "elastography")

    @cached_property
    def cirrhosis(self) -> tuple[Evidence, ...]:
        evidence = [f.evidence(self.label("cirrhosis")) for f in self.active("cirrhosis")]
        lsm = self.stiffness
        if lsm is not None and lsm.value is not None and lsm.value >= self.t["lsm-cirrhosis"]:
            evidence.append(
                lsm.evidence("Liver stiffness", f"{self.t['lsm-cirrhosis']:g} kPa or more")
            )
        return tuple(evidence)

    @cached_property
    def decompensation_events(self) -> Events:
        return self.events(*DECOMPENSATION_EVENTS)

    @cached_property
    def decompensation_history(self) -> tuple[ConditionFact, ...]:
        """Every decompensation event on record, active or resolved, however old.

        Spec §4.4 '"early B" = score 7 with no decompensation event' has no time limit (unlike
        the 12-month exclusion): a patient who once decompensated is not "early B".
        """
        found: list[ConditionFact] = []
        for concept in DECOMPENSATION_EVENTS:
            for fact in self.facts.conditions.get(concept, ()):
                if fact not in found:
                    found.append(fact)
        return tuple(found)

    # --- scores ---------------------------------------------------------------------------------
    def recent(self, analyte: str) -> LabResult | None:
        """Newest valued result within the liver-panel window (90 days), memoised."""
        if analyte not in self._recent:
            self._recent[analyte] = self.latest(analyte, "liver-panel")
        return self._recent[analyte]

    def grade(self, concept: str, name: str) -> GradeFromConditions:
        found = self.active(concept)
        if found:
            return GradeFromConditions(
                2,
                found[0].evidence(self.label(concept)),
                f"{name} coded: grade not recorded, scored as mild (2 points, a lower bound)",
            )
        return GradeFromConditions(1, None, f"no active {name} condition coded: scored as none")

    @cached_property
    def child_pugh(self) -> ScoreResult:
        return child_pugh_score(
            self.recent("bilirubin"),
            self.recent("albumin"),
            self.recent("inr"),
            self.grade("ascites", "ascites"),
            self.grade("hepatic-encephalopathy", "hepatic encephalopathy"),
            self.anticoagulation,
            ChildPughBands.from_config(self.rules.scores["child-pugh"]),
        )

    @cached_property
    def melds(self) -> tuple[ScoreResult, ScoreResult, ScoreResult]:
        sex = self.facts.patient.sex
        return meld_scores(
            self.recent("creatinine"),
            self.recent("bilirubin"),
            self.recent("inr"),
            self.recent("sodium"),
            self.recent("albumin"),
            None if sex is None else sex == "female",
            self.anticoagulation,
            self.t["meld-na-exclusion"],
            self.dialysis,
        )

    @cached_property
    def dialysis(self) -> Evidence | None:
        for fact in self.active("renal-dialysis"):
            return fact.evidence(fact.display or "Renal dialysis")
        return None

    @cached_property
    def fib4(self) -> ScoreResult:
        return fib4_score(
            self.facts.patient.age_years,
            self.recent("ast"),
            self.recent("alt"),
            self.recent("platelets"),
            self.rules.scores["fib-4"],
        )

    @cached_property
    def fib4_inputs_within_year(self) -> bool:
        return self.facts.patient.age_years is not None and all(
            self.latest(a, "fibrosis-assessment") is not None for a in ("ast", "alt", "platelets")
        )

    @cached_property
    def apri(self) -> ScoreResult:
        return apri_score(
            self.recent("ast"),
            self.recent("platelets"),
            self.t["apri-ast-uln-default"],
            self.rules.scores["apri"],
        )

    @cached_property
    def elastography(self) -> ScoreResult:
        return elastography_score(self.stiffness, self.rules.scores["elastography"])

    def scores(self) -> tuple[ScoreResult, ...]:
        meld, meld_na, meld3 = self.melds
        return (self.child_pugh, meld, meld_na, meld3, self.fib4, self.apri, self.elastography)
