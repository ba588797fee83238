"""Turn assessment values into display strings for the card templates.

Templates receive plain dicts of strings (never model objects), so the wording files stay
simple and the sandboxed template engine reads nothing but text. Missing data is said
("not computed", "date not recorded"), never filled in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

from cds_service.cards.markdown import Markdown
from cds_service.clinical.model import (
    Evidence,
    MonitoringItem,
    MonitoringSchedule,
    MonitoringState,
    RuleResult,
    ScoreResult,
    WorkupItem,
)

View = dict[str, Any]

#: UCUM code -> how a clinician reads it (cards/card-definitions.yaml `unit_display`)
Units = Mapping[str, str]
NO_UNITS: Units = MappingProxyType({})
_ANNOTATION_ONLY = re.compile(r"\{[^{}]*\}")


def display_unit(unit: str | None, units: Units = NO_UNITS) -> str:
    """The unit as shown on a card: mapped for reading; a bare UCUM annotation ("{INR}")
    or "1" means "no unit". Display only: values are never converted here."""
    if not unit:
        return ""
    if unit in units:
        return units[unit]
    if unit == "1" or _ANNOTATION_ONLY.fullmatch(unit):
        return ""
    return unit


def fmt_number(value: float) -> str:
    """Up to two decimals, no trailing zeros; large values as integers (no exponent)."""
    if not math.isfinite(value):
        return "not a number"
    if abs(value) >= 1000:
        return str(round(value))
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def fmt_date(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat()


def fmt_instant(value: datetime) -> str:
    """An evaluation time in UTC, to the second (naive values are taken as UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _quantity(value: float, unit: str) -> str:
    return f"{fmt_number(value)} {unit}" if unit else fmt_number(value)


def _is_observation(ref: str | None) -> bool:
    return bool(ref) and str(ref).startswith("Observation/")


def evidence_value(e: Evidence, units: Units = NO_UNITS) -> str:
    if e.value is not None:
        return _quantity(e.value, display_unit(e.unit, units))
    if e.value_text:
        return e.value_text
    if _is_observation(e.resource_ref):
        return "no usable value"
    return ""


def evidence_view(e: Evidence, units: Units = NO_UNITS) -> View:
    original = ""
    if e.original_value is not None and (
        e.original_value != e.value or (e.original_unit or None) != (e.unit or None)
    ):
        unit = display_unit(e.original_unit, units) if e.original_unit else "(unit not stated)"
        original = _quantity(e.original_value, unit)
    elif e.original_unit and e.original_unit != e.unit and e.value is None:
        original = f"unit {e.original_unit}"
    when = fmt_date(e.effective)
    if not when and e.resource_ref:
        when = "date not recorded"
    value = evidence_value(e, units)
    return {
        "label": e.label,
        "value": "" if value == e.label else value,  # a condition's display repeats its label
        "original": original,
        "date": when,
        "resource": e.resource_ref or "",
        "note": e.note or "",
    }


def evidence_inline(e: Evidence, units: Units = NO_UNITS, *, resource: bool = True) -> str:
    """One evidence item as a single line of plain text (tables, terminal)."""
    v = evidence_view(e, units)
    parts = [v["label"] + (f" {v['value']}" if v["value"] else "")]
    parts += [v[k] for k in (("date", "resource") if resource else ("date",)) if v[k]]
    return ", ".join(parts)


def rule_view(rule: RuleResult, note: str = "", units: Units = NO_UNITS) -> View:
    return {
        "id": rule.id,
        "label": rule.label,
        "reason": rule.reason,
        "evidence": [evidence_view(e, units) for e in rule.evidence],
        "note": note,
    }


def _inputs_date(score: ScoreResult) -> str:
    if score.inputs_date is not None:
        return fmt_date(score.inputs_date)
    dates = [
        i.evidence.effective.date()
        if isinstance(i.evidence.effective, datetime)
        else i.evidence.effective
        for i in score.inputs
        if i.evidence is not None and i.evidence.effective is not None
    ]
    return min(dates).isoformat() if dates else ""


def score_notes(score: ScoreResult) -> str:
    """Compact notes for the score table: estimated, flags, clamped inputs, what is missing.

    Per-input notes of derived inputs (e.g. how an ascites grade was inferred) are left to
    the score's flags, which the engine words for the reader; the table stays compact.
    """
    notes: list[str] = []
    if score.estimated and not any(f.lower().startswith("estimated") for f in score.flags):
        notes.append("estimated")
    notes.extend(score.flags)
    for i in score.inputs:
        if i.clamped_from is not None and isinstance(i.value, int | float):
            notes.append(
                f"{i.name} {fmt_number(i.clamped_from)} used as {fmt_number(float(i.value))}"
            )
    if score.value is None and score.missing:
        notes.append("missing or out of date: " + ", ".join(score.missing))
    elif score.value is None:
        notes.append("not computable from the data on file")
    return "; ".join(notes)


def score_results(scores: Sequence[ScoreResult], units: Units = NO_UNITS) -> list[str]:
    """The results the computed scores rest on, each once, with value, date and resource.

    A score is evidence too (MELD-Na >= 15 excludes, Child-Pugh decides a path): the
    clinician must be able to trace it to the laboratory results it was computed from.
    """
    seen: dict[str, str] = {}
    for score in scores:
        if score.value is None:
            continue
        for i in score.inputs:
            e = i.evidence
            if e is not None and e.resource_ref and e.resource_ref not in seen:
                seen[e.resource_ref] = evidence_inline(e, units)
    return list(seen.values())


def score_view(score: ScoreResult) -> View:
    return {
        "id": score.id,
        "label": score.label,
        "value": fmt_number(score.value) if score.value is not None else "not computed",
        "band": score.band or "",
        "inputs_date": _inputs_date(score),
        "notes": score_notes(score),
        "estimated": score.estimated,
    }


def workup_view(item: WorkupItem, units: Units = NO_UNITS) -> View:
    last = (
        evidence_inline(item.last_result, units) if item.last_result is not None else "none on file"
    )
    return {
        "id": item.id,
        "label": item.label,
        "status": "out of date" if item.status.value == "stale" else "missing",
        "why": item.why,
        "last": last,
    }


def planned_schedule_view(schedule: MonitoringSchedule | None) -> tuple[list[View], list[str]]:
    if schedule is None:
        return [], []
    rows = [
        {
            "label": i.label,
            "when": f"day {i.offset_days} after the first infusion (± {i.tolerance_days} days)",
        }
        for i in schedule.items
    ]
    return rows, list(schedule.notes)


_STATE_TEXT = {
    MonitoringState.DONE: "done",
    MonitoringState.DUE: "due",
    MonitoringState.OVERDUE: "overdue",
    MonitoringState.PLANNED: "planned",
}


def monitoring_item_view(item: MonitoringItem, units: Units = NO_UNITS) -> View:
    state = _STATE_TEXT[item.state]
    if item.evidence:
        # the first result with its resource; the rest counted (a table cell stays short)
        result = evidence_inline(item.evidence[0], units)
        if len(item.evidence) > 1:
            more = len(item.evidence) - 1
            result += f" (and {more} more result{'s' if more > 1 else ''})"
    else:
        result = "none on file"
    return {
        "label": item.label,
        "due": fmt_date(item.due_date) or "not set",
        "window": f"± {item.tolerance_days} days",
        "state": Markdown(f"**{state}**") if item.state is MonitoringState.OVERDUE else state,
        "state_text": state,
        "result": result,
    }


def join_labels(labels: Sequence[str], limit: int = 4) -> str:
    """ "ALT, AST, INR and 3 more" (plain text, for summaries)."""
    shown = list(dict.fromkeys(labels))
    if len(shown) <= limit:
        return ", ".join(shown)
    return ", ".join(shown[:limit]) + f" and {len(shown) - limit} more"
