"""The clinic's follow-up schedule (clinical-rules-v1 §5).

For a candidate: the planned offsets from a future first infusion. For a patient with a recorded
MSC infusion (a Procedure in the configurable ``msc-infusion`` value set): real due dates counted
from the most recent infusion, each DONE (a matching result within the tolerance window around
the due date), OVERDUE (the window has passed without one) or DUE (not done, window not passed;
``due_date`` says when).
"""

from __future__ import annotations

from datetime import timedelta

from cds_service.clinical.context import Context
from cds_service.clinical.model import MonitoringItem, MonitoringSchedule, MonitoringState

HCC_NOTE = "HCC surveillance: ultrasound with or without AFP every 6 months (cirrhosis on record)"
SYMPTOM_NOTE = "Symptom and energy tracking at each visit"


def _notes(ctx: Context) -> tuple[str, ...]:
    return (SYMPTOM_NOTE, HCC_NOTE) if ctx.cirrhosis else (SYMPTOM_NOTE,)


def planned_schedule(ctx: Context) -> MonitoringSchedule:
    items = tuple(
        MonitoringItem(
            id=spec.id,
            label=spec.label,
            offset_days=spec.offset_days,
            tolerance_days=spec.tolerance_days,
            state=MonitoringState.PLANNED,
            orders=tuple(ctx.rules.order(a) for a in spec.orders),
        )
        for spec in ctx.rules.monitoring
    )
    return MonitoringSchedule(items=items, notes=_notes(ctx))


def post_infusion_schedule(ctx: Context) -> MonitoringSchedule | None:
    infusions = ctx.facts.procedures.get("msc-infusion", [])
    if not infusions:
        return None
    latest = max(infusions, key=lambda p: p.when.start)
    start = latest.when.start.date()
    today = ctx.now.date()
    items: list[MonitoringItem] = []
    for spec in ctx.rules.monitoring:
        due = start + timedelta(days=spec.offset_days)
        low, high = (
            due - timedelta(days=spec.tolerance_days),
            due + timedelta(days=spec.tolerance_days),
        )
        matching = [
            r
            for analyte in spec.done_when_any
            for r in ctx.facts.labs.get(analyte, ())
            if low <= r.when.date() <= high and r.when.date() > start
        ]
        if matching:
            shown = [
                r
                for analyte in dict.fromkeys((*spec.done_when_any, *spec.orders))
                for r in ctx.facts.labs.get(analyte, ())
                if low <= r.when.date() <= high and r.when.date() > start
            ]
            state = MonitoringState.DONE
            evidence = tuple(r.evidence(ctx.rules.analytes[r.analyte].label) for r in shown)
        else:
            state = MonitoringState.OVERDUE if today > high else MonitoringState.DUE
            evidence = ()
        items.append(
            MonitoringItem(
                id=spec.id,
                label=spec.label,
                offset_days=spec.offset_days,
                tolerance_days=spec.tolerance_days,
                state=state,
                due_date=due,
                evidence=evidence,
                orders=tuple(ctx.rules.order(a) for a in spec.orders),
            )
        )
    return MonitoringSchedule(
        items=tuple(items), infusion=latest.evidence("MSC infusion"), notes=_notes(ctx)
    )
