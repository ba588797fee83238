"""Assertion helpers for clinical-engine tests."""

from __future__ import annotations

from typing import Any

from cds_service.clinical import ClinicalEngine
from cds_service.clinical.model import Assessment, RuleResult, Status, WorkupItem
from tests.clinical.fhir import NOW, data


def evaluate(engine: ClinicalEngine, *resources: Any, **kw: Any) -> Assessment:
    return engine.evaluate(data(*resources, **kw), NOW)


def rule(assessment: Assessment, rule_id: str) -> RuleResult:
    return next(r for r in assessment.rules if r.id == rule_id)


def status(assessment: Assessment, rule_id: str) -> Status:
    return rule(assessment, rule_id).status


def workup(assessment: Assessment, item_id: str) -> WorkupItem | None:
    return next((w for w in assessment.workup if w.id == item_id), None)
