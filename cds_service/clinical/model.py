"""Value types shared by the clinical engine and everything that reads its result.

This module is the contract between the engine (which builds an :class:`Assessment`)
and its readers (cards, audit, command line). It holds data only: no FHIR parsing,
no rules, no presentation. Every type is a frozen dataclass so an assessment can be
shared between threads and compared in tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

JsonObject = Mapping[str, Any]


class Outcome(StrEnum):
    """The one screening outcome of an evaluation (clinical-rules-v1 §4).

    The string values are the outcome codes carried in ``card.source.topic``.
    """

    NOT_APPLICABLE = "not-applicable"
    EXCLUDED = "excluded"
    WORKUP_INCOMPLETE = "workup-incomplete"
    MEETS_SCREENING_CRITERIA = "meets-screening-criteria"
    DOES_NOT_MEET = "does-not-meet"


#: Topic code of the post-infusion monitoring card (not a screening outcome: it is
#: shown in addition to the screening card when an MSC infusion is on record).
POST_INFUSION_MONITORING = "post-infusion-monitoring"


class Status(StrEnum):
    """Three-valued result of a predicate. UNKNOWN is never read as NOT_MET."""

    MET = "met"
    NOT_MET = "not-met"
    UNKNOWN = "unknown"


class RuleKind(StrEnum):
    EXCLUSION = "exclusion"
    INDICATION = "indication"  # a candidacy path (clinical-rules-v1 §4.4)
    APPLICABILITY = "applicability"  # is there a liver indication at all


@dataclass(frozen=True, slots=True)
class Evidence:
    """One datum a conclusion rests on, traceable to the resource it came from.

    ``value``/``unit`` are the normalised (converted) figures the rule compared;
    ``original_value``/``original_unit`` what the resource said, when different.
    """

    label: str  # e.g. "ALT", "Cirrhosis of liver", "Child-Pugh score"
    resource_ref: str | None = None  # "Observation/abc"; None for derived values
    code: str | None = None  # "http://loinc.org|1742-6"
    value: float | None = None
    unit: str | None = None
    value_text: str | None = None  # coded / censored results: "<10", "Not detected"
    original_value: float | None = None
    original_unit: str | None = None
    effective: datetime | date | None = None
    note: str | None = None  # e.g. "above ULN 33 U/L (ACG 2017, male)"


@dataclass(frozen=True, slots=True)
class RuleResult:
    """A named predicate's answer with the reason and the data behind it."""

    id: str  # stable reason id, e.g. "exclusion.liver-cancer", "indication.masld-alt"
    kind: RuleKind
    label: str  # short clinician-facing name: "Liver cancer"
    status: Status
    reason: str  # one sentence; for UNKNOWN it says what is missing
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoreInput:
    name: str  # "bilirubin", "INR", "ascites", ...
    value: float | str
    unit: str | None
    evidence: Evidence | None  # None when defaulted/inferred (then ``note`` says how)
    clamped_from: float | None = None  # original value when the formula clamped it
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ScoreResult:
    id: str  # "child-pugh", "meld", "meld-na", "meld-3.0", "fib-4", "apri", "elastography"
    label: str
    value: float | None  # None when not computable (``missing`` says why)
    band: str | None  # "A", "indeterminate", "high", ...
    inputs: tuple[ScoreInput, ...] = ()
    estimated: bool = False
    flags: tuple[str, ...] = ()  # e.g. "unreliable under 35 years", "INR on anticoagulation"
    missing: tuple[str, ...] = ()  # input names that were missing or stale
    citation: str = ""
    inputs_date: date | None = None  # oldest input date, for "date of inputs"


class WorkupStatus(StrEnum):
    MISSING = "missing"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class OrderableTest:
    loinc: str  # the code to order, e.g. "1742-6"
    display: str  # "ALT [Enzymatic activity/volume] in Serum or Plasma"


@dataclass(frozen=True, slots=True)
class WorkupItem:
    """A test or assessment that must be on file before screening can conclude."""

    id: str  # e.g. "workup.alt", "workup.hbv-dna" (all ids: docs/clinical-rules.md)
    label: str  # "ALT"
    status: WorkupStatus
    why: str  # why it matters: "needed to rule out severe coagulation disorder"
    orders: tuple[OrderableTest, ...]  # what to order (one suggestion each)
    last_result: Evidence | None = None  # for STALE: the newest result on file
    blocking: bool = True  # False: planned pre-therapy assessment, does not block outcome 4


class MonitoringState(StrEnum):
    PLANNED = "planned"  # candidate: offset from a future first infusion
    DONE = "done"  # a matching result within the tolerance window around the due date
    DUE = "due"  # not done and the window has not passed (due_date may still be ahead)
    OVERDUE = "overdue"  # not done and due date + tolerance has passed


@dataclass(frozen=True, slots=True)
class MonitoringItem:
    id: str  # "monitoring.liver-panel.1m"
    label: str  # "Liver panel at 1 month"
    offset_days: int
    tolerance_days: int
    state: MonitoringState
    due_date: date | None = None  # None for PLANNED
    evidence: tuple[Evidence, ...] = ()  # results that made it DONE
    orders: tuple[OrderableTest, ...] = ()


@dataclass(frozen=True, slots=True)
class MonitoringSchedule:
    items: tuple[MonitoringItem, ...]
    infusion: Evidence | None = None  # the most recent recorded MSC infusion, if any
    notes: tuple[str, ...] = ()  # e.g. "HCC surveillance every 6 months (cirrhosis)"


@dataclass(frozen=True, slots=True)
class DataQualityNote:
    """Something in the input the engine could not use, said plainly."""

    code: str  # "unknown-unit", "malformed-resource", "preliminary-result", "page-cap"
    message: str  # never contains a lab value
    resource_ref: str | None = None


@dataclass(frozen=True, slots=True)
class PatientSummary:
    resource_ref: str | None  # "Patient/123"
    age_years: int | None
    sex: str | None  # "male" | "female" | None (unknown/other: sex-specific ULN unavailable)


@dataclass(frozen=True, slots=True)
class Assessment:
    """Everything the engine concluded for one patient at one instant."""

    outcome: Outcome
    evaluated_at: datetime
    ruleset_version: str
    patient: PatientSummary
    #: every rule evaluated, in a stable order (exclusions, then indications)
    rules: tuple[RuleResult, ...]
    scores: tuple[ScoreResult, ...] = ()
    #: blocking workup (outcome 3) and non-blocking planned pre-therapy items
    workup: tuple[WorkupItem, ...] = ()
    #: planned schedule (for a candidate) or None
    planned_monitoring: MonitoringSchedule | None = None
    #: real due dates after a recorded MSC infusion, whatever the outcome; or None
    post_infusion_monitoring: MonitoringSchedule | None = None
    #: the liver conditions found (display names), for trial searches and card text
    liver_conditions: tuple[str, ...] = ()
    data_quality: tuple[DataQualityNote, ...] = ()

    @property
    def exclusions(self) -> tuple[RuleResult, ...]:
        """Exclusions that are met (proven). All of them, never just the first."""
        return tuple(
            r for r in self.rules if r.kind is RuleKind.EXCLUSION and r.status is Status.MET
        )

    @property
    def indications_met(self) -> tuple[RuleResult, ...]:
        return tuple(
            r for r in self.rules if r.kind is RuleKind.INDICATION and r.status is Status.MET
        )

    @property
    def unknown_exclusions(self) -> tuple[RuleResult, ...]:
        return tuple(
            r for r in self.rules if r.kind is RuleKind.EXCLUSION and r.status is Status.UNKNOWN
        )

    @property
    def blocking_workup(self) -> tuple[WorkupItem, ...]:
        return tuple(w for w in self.workup if w.blocking)

    @property
    def reason_ids(self) -> tuple[str, ...]:
        """Ids of the reasons that led to the outcome (for audit and expected-outcome files).

        Empty for "not applicable": nothing the engine found led to a card (a bleeding disorder
        in a patient without liver disease is not a screening reason).
        """
        if self.outcome is Outcome.NOT_APPLICABLE:
            return ()
        ids = [r.id for r in self.rules if r.status is Status.MET]
        ids += [r.id for r in self.unknown_exclusions]
        ids += [w.id for w in self.blocking_workup]
        return tuple(ids)


@dataclass(frozen=True, slots=True)
class PatientData:
    """Raw FHIR R4 JSON the engine reads, already separated by kind.

    The engine never trusts the shape of these dicts: any field may be missing or
    malformed. ``medications`` holds MedicationRequest and MedicationStatement.
    """

    patient: JsonObject | None
    conditions: Sequence[JsonObject] = ()
    observations: Sequence[JsonObject] = ()
    medications: Sequence[JsonObject] = ()
    procedures: Sequence[JsonObject] = ()
    #: notes from fetching (e.g. page cap hit) that the engine passes through
    fetch_notes: tuple[DataQualityNote, ...] = field(default=())


#: System URI of the outcome codes in ``card.source.topic``: the service's own, stable
#: across deployments (EHR analytics and the feedback report group by it).
OUTCOME_CODE_SYSTEM = "urn:msc-liver-screening:screening-outcome"
