"""Plain-text view of an assessment and its cards, for ``cds-service evaluate``."""

from __future__ import annotations

from typing import Any

from cds_service.cards.views import (
    NO_UNITS,
    Units,
    evidence_inline,
    fmt_instant,
    monitoring_item_view,
    score_view,
    workup_view,
)
from cds_service.clinical.model import Assessment, MonitoringSchedule, RuleResult


def _rules(title: str, rules: tuple[RuleResult, ...], units: Units) -> list[str]:
    if not rules:
        return []
    lines = [f"{title}:"]
    for r in rules:
        lines.append(f"  - {r.label} [{r.status.value}]: {r.reason}")
        lines += [f"      {evidence_inline(e, units)}" for e in r.evidence]
    return lines


def _schedule(
    title: str, schedule: MonitoringSchedule | None, planned: bool, units: Units
) -> list[str]:
    if schedule is None:
        return []
    lines = [f"{title}:"]
    if schedule.infusion is not None:
        lines.append(f"  most recent infusion: {evidence_inline(schedule.infusion, units)}")
    for item in schedule.items:
        if planned:
            lines.append(f"  - {item.label}: day {item.offset_days} (± {item.tolerance_days} days)")
        else:
            v = monitoring_item_view(item, units)
            lines.append(f"  - {item.label}: due {v['due']} ({v['window']}), {v['state_text']}")
    lines += [f"  note: {n}" for n in schedule.notes]
    return lines


def render_terminal(
    assessment: Assessment, cards: list[dict[str, Any]], units: Units = NO_UNITS
) -> str:
    a = assessment
    patient = a.patient
    who = ", ".join(
        x
        for x in (
            patient.resource_ref or "patient id unknown",
            f"{patient.age_years} y" if patient.age_years is not None else "age unknown",
            patient.sex or "sex unknown",
        )
    )
    lines = [
        f"Outcome: {a.outcome.value}",
        f"Ruleset: {a.ruleset_version}   evaluated: {fmt_instant(a.evaluated_at)}",
        f"Patient: {who}",
    ]
    if a.liver_conditions:
        lines.append("Liver conditions: " + "; ".join(a.liver_conditions))
    lines.append("")
    if cards:
        lines.append("Cards:")
        for card in cards:
            topic = card.get("source", {}).get("topic", {}).get("code", "?")
            lines.append(f"  [{card['indicator'].upper()}] ({topic}) {card['summary']}")
            lines += [f"      suggestion: {s['label']}" for s in card.get("suggestions", [])]
            lines += [f"      link: {k['label']} <{k['url']}>" for k in card.get("links", [])]
    else:
        lines.append("Cards: none (no card is shown for this patient)")
    lines.append("")
    lines += _rules("Exclusions met", a.exclusions, units)
    lines += _rules("Exclusions not yet ruled out", a.unknown_exclusions, units)
    lines += _rules("Screening paths met", a.indications_met, units)
    if a.workup:
        lines.append("Workup:")
        for w in a.workup:
            v = workup_view(w, units)
            kind = "blocking" if w.blocking else "planned pre-therapy"
            lines.append(f"  - {w.label}: {v['status']} ({kind}); last: {v['last']}; {w.why}")
    if a.scores:
        lines.append("Scores:")
        width = max(len(s.label) for s in a.scores)
        for s in a.scores:
            v = score_view(s)
            extra = "  ".join(
                x
                for x in (
                    v["band"],
                    f"inputs {v['inputs_date']}" if v["inputs_date"] else "",
                    v["notes"],
                )
                if x
            )
            lines.append(f"  {s.label:<{width}}  {v['value']:>12}  {extra}".rstrip())
    lines += _schedule(
        "Planned monitoring (from first infusion)", a.planned_monitoring, True, units
    )
    lines += _schedule("Post-infusion monitoring", a.post_infusion_monitoring, False, units)
    if a.data_quality:
        lines.append("Data not used:")
        lines += [
            f"  - {n.message}" + (f" ({n.resource_ref})" if n.resource_ref else "")
            for n in a.data_quality
        ]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"
