"""The clinical engine: raw FHIR R4 JSON in, one :class:`Assessment` out.

``ClinicalEngine.load()`` reads and validates the ruleset once (start-up); ``evaluate`` is pure
and deterministic for a given ``now`` and never raises on bad patient data: a resource it cannot
read becomes a data-quality note.

Outcome (clinical-rules-v1 §4): not applicable (no liver diagnosis and no persistent ALT
elevation) > excluded (any proven exclusion; all listed) > workup incomplete (an exclusion
unknown, or blocking workup missing/stale) > meets screening criteria (any candidacy path) >
does not meet.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cds_service.clinical.context import Context
from cds_service.clinical.facts import Normaliser
from cds_service.clinical.model import (
    Assessment,
    Outcome,
    PatientData,
    RuleKind,
    RuleResult,
    Status,
)
from cds_service.clinical.monitoring import planned_schedule, post_infusion_schedule
from cds_service.clinical.rules import PREDICATES
from cds_service.clinical.ruleset import Ruleset, RulesetError, load_ruleset
from cds_service.clinical.workup import workup_items

__all__ = ["ClinicalEngine", "RulesetError"]


class ClinicalEngine:
    """The clinic's screening criteria, loaded once, evaluated per patient."""

    def __init__(self, ruleset: Ruleset) -> None:
        self._rules = ruleset
        self._normaliser = Normaliser(ruleset)
        self._kinds = {spec.id: RuleKind(spec.kind) for spec in ruleset.rules}

    @classmethod
    def load(cls, data_dir: Path | None = None) -> ClinicalEngine:
        """Read and validate the ruleset files; :class:`RulesetError` names what is wrong."""
        return cls(load_ruleset(data_dir, PREDICATES))

    @property
    def version(self) -> str:
        return self._rules.version

    @property
    def ruleset(self) -> Ruleset:
        return self._rules

    def observation_code_tokens(self) -> tuple[str, ...]:
        """Every Observation code the rules read, as ``system|code`` (for the prefetch template)."""
        return self._rules.observation_tokens

    def evaluate(self, data: PatientData, now: datetime) -> Assessment:
        now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
        # No catch-all here: bad data is handled resource by resource (data-quality notes), and
        # a bug must surface as an error rather than pass as a silent or "clear" answer.
        return self._evaluate(data, now)

    def _evaluate(self, data: PatientData, now: datetime) -> Assessment:
        facts = self._normaliser.facts(data, now)
        ctx = Context(self._rules, facts, now)
        results: list[RuleResult] = []
        for spec in self._rules.rules:
            finding = PREDICATES[spec.predicate](ctx)
            results.append(
                RuleResult(
                    spec.id,
                    self._kinds[spec.id],
                    spec.label,
                    finding.status,
                    finding.reason,
                    finding.evidence,
                )
            )
        status = {r.id: r.status for r in results}
        applicable = any(
            r.kind is RuleKind.APPLICABILITY and r.status is Status.MET for r in results
        )
        workup = workup_items(ctx, status) if applicable else ()
        outcome = self._outcome(applicable, results, any(w.blocking for w in workup))
        return Assessment(
            outcome=outcome,
            evaluated_at=now,
            ruleset_version=self._rules.version,
            patient=facts.patient,
            rules=tuple(results),
            scores=ctx.scores(),
            workup=workup,
            planned_monitoring=planned_schedule(ctx)
            if outcome is Outcome.MEETS_SCREENING_CRITERIA
            else None,
            post_infusion_monitoring=post_infusion_schedule(ctx),
            liver_conditions=tuple(
                dict.fromkeys(f.display or "" for f in ctx.liver_diagnoses if f.display)
            ),
            data_quality=tuple(facts.notes),
        )

    @staticmethod
    def _outcome(applicable: bool, results: list[RuleResult], blocking_workup: bool) -> Outcome:
        if not applicable:
            return Outcome.NOT_APPLICABLE
        exclusions = [r for r in results if r.kind is RuleKind.EXCLUSION]
        if any(r.status is Status.MET for r in exclusions):
            return Outcome.EXCLUDED
        if blocking_workup or any(r.status is Status.UNKNOWN for r in exclusions):
            return Outcome.WORKUP_INCOMPLETE
        if any(r.kind is RuleKind.INDICATION and r.status is Status.MET for r in results):
            return Outcome.MEETS_SCREENING_CRITERIA
        return Outcome.DOES_NOT_MEET
