"""Missing or stale workup (clinical-rules-v1 §4.3) and the planned pre-therapy assessment.

Blocking items keep the outcome at "workup incomplete": the data needed to rule exclusions out
or the indication in. Non-blocking items are the rest of the clinic's pre-therapy assessment
(imaging, autoimmune markers outside AIH, metabolic review, elastography when FIB-4 already
covers the fibrosis assessment): listed, never blocking.
"""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.clinical.context import Context
from cds_service.clinical.facts import VIRAL_LOADS
from cds_service.clinical.model import Status, WorkupItem, WorkupStatus

#: Every workup id the engine can emit: (id, blocking?, when it appears). Rendered in
#: docs/clinical-rules.md; tests check the engine emits nothing outside this list.
WORKUP_CATALOG: tuple[tuple[str, str, str], ...] = (
    ("workup.alt", "blocking", "no ALT within 90 days (missing or stale)"),
    ("workup.ast", "blocking", "no AST within 90 days"),
    ("workup.ggt", "blocking", "no GGT within 90 days"),
    ("workup.bilirubin", "blocking", "no total bilirubin within 90 days"),
    ("workup.inr", "blocking", "no INR within 90 days"),
    ("workup.albumin", "blocking", "no albumin within 90 days"),
    ("workup.platelets", "blocking", "no platelet count within 90 days"),
    (
        "workup.hbv-dna",
        "blocking",
        "hepatitis B coded or HBsAg positive, no HBV DNA within 6 months",
    ),
    (
        "workup.hcv-rna",
        "blocking",
        "hepatitis C coded or HCV antibody positive, no HCV RNA within 6 months",
    ),
    (
        "workup.fibrosis-assessment",
        "blocking",
        "neither FIB-4 inputs (age, AST, ALT, platelets) nor elastography within 12 months",
    ),
    ("workup.ana", "blocking with AIH or unexplained ALT, else planned", "no ANA on file"),
    ("workup.asma", "blocking with AIH or unexplained ALT, else planned", "no ASMA on file"),
    ("workup.creatinine", "blocking", "cirrhosis or PSC, no creatinine within 90 days"),
    ("workup.sodium", "blocking", "cirrhosis, no sodium within 90 days"),
    ("workup.alp", "blocking", "PBC, no alkaline phosphatase within 90 days"),
    (
        "workup.hbsag",
        "blocking",
        "persistent ALT elevation without a liver diagnosis, no HBsAg on file",
    ),
    (
        "workup.hcv-antibody",
        "blocking",
        "persistent ALT elevation without a liver diagnosis, no HCV antibody on file",
    ),
    (
        "workup.elastography",
        "blocking with unexplained ALT, else planned",
        "no liver stiffness within 12 months",
    ),
    ("workup.hba1c", "planned", "no HbA1c within 12 months (metabolic review)"),
    ("workup.ferritin", "planned", "no ferritin within 12 months (metabolic review)"),
    ("workup.cholesterol", "planned", "no total cholesterol within 12 months (metabolic review)"),
    ("workup.imaging", "planned", "always listed: imaging reports are not read by the service"),
)

PANEL = (
    ("alt", "ALT: needed to judge ALT elevation (the indication) and FIB-4"),
    ("ast", "AST: needed for FIB-4 and APRI"),
    ("ggt", "GGT: part of the clinic's liver panel"),
    ("bilirubin", "Bilirubin: needed for Child-Pugh and MELD-Na"),
    ("inr", "INR: needed to rule out a severe coagulation disorder"),
    ("albumin", "Albumin: needed for Child-Pugh"),
    ("platelets", "Platelets: needed to rule out a severe coagulation disorder and for FIB-4"),
)


@dataclass(slots=True)
class _Items:
    items: dict[str, WorkupItem]

    def add(self, item: WorkupItem) -> None:
        existing = self.items.get(item.id)
        if existing is None or (item.blocking and not existing.blocking):
            self.items[item.id] = item


def _check(
    ctx: Context,
    items: _Items,
    analyte: str,
    why: str,
    window: str | None,
    blocking: bool = True,
    item_id: str | None = None,
) -> None:
    """Add a workup item when ``analyte`` has no result in ``window`` (MISSING or STALE)."""
    # Qualitative tests and viral loads count when on file with an answer, even without a number.
    valued = not ctx.rules.analytes[analyte].units.qualitative and analyte not in VIRAL_LOADS
    newest = ctx.latest_any_time(analyte, valued=valued)
    if newest is not None and (window is None or newest.when >= ctx.since(window)):
        return
    label = ctx.rules.analytes[analyte].label
    items.add(
        WorkupItem(
            id=item_id or f"workup.{analyte}",
            label=label,
            status=WorkupStatus.MISSING if newest is None else WorkupStatus.STALE,
            why=why,
            orders=(ctx.rules.order(analyte),),
            last_result=newest.evidence(label, "newest result on file")
            if newest is not None
            else None,
            blocking=blocking,
        )
    )


def workup_items(ctx: Context, rule_status: dict[str, Status]) -> tuple[WorkupItem, ...]:
    items = _Items({})
    for analyte, why in PANEL:
        _check(ctx, items, analyte, why, "liver-panel")
    hbv_context = ctx.active("hbv") or ctx.positive("hbsag")
    hcv_context = ctx.active("hcv") or ctx.positive("hcv-antibody")
    if hbv_context:
        _check(
            ctx,
            items,
            "hbv-dna",
            "HBV DNA: hepatitis B on record, a viral load within 6 months is needed to rule out "
            "active infection",
            "viral-load",
        )
    if hcv_context:
        _check(
            ctx,
            items,
            "hcv-rna",
            "HCV RNA: hepatitis C on record, a viral load within 6 months is needed to rule out "
            "active infection",
            "viral-load",
        )
    if (
        not ctx.fib4_inputs_within_year
        and ctx.latest("liver-stiffness", "fibrosis-assessment") is None
    ):
        items.add(
            WorkupItem(
                id="workup.fibrosis-assessment",
                label="Fibrosis assessment",
                status=WorkupStatus.MISSING,
                why="No fibrosis assessment in 12 months: neither FIB-4 inputs (age, AST, ALT, "
                "platelets) nor elastography",
                orders=(
                    ctx.rules.order("liver-stiffness"),
                    ctx.rules.order("ast"),
                    ctx.rules.order("platelets"),
                ),
            )
        )
    if ctx.active("aih"):
        _check(
            ctx,
            items,
            "ana",
            "ANA: autoimmune hepatitis on record, autoimmune markers are needed",
            None,
        )
        _check(
            ctx,
            items,
            "asma",
            "ASMA: autoimmune hepatitis on record, autoimmune markers are needed",
            None,
        )
    if ctx.cirrhosis:
        _check(
            ctx,
            items,
            "creatinine",
            "Creatinine: cirrhosis on record, needed for MELD-Na",
            "liver-panel",
        )
        _check(
            ctx, items, "sodium", "Sodium: cirrhosis on record, needed for MELD-Na", "liver-panel"
        )
    if ctx.active("psc"):
        _check(
            ctx,
            items,
            "creatinine",
            "Creatinine: PSC on record, needed for the PSC criteria",
            "liver-panel",
        )
    if ctx.active("pbc"):
        _check(
            ctx,
            items,
            "alp",
            "Alkaline phosphatase: PBC on record, needed for the PBC criteria",
            "liver-panel",
        )
    if rule_status.get("applicability.persistent-alt-no-diagnosis") is Status.MET:
        cause = (
            "ALT persistently elevated with no liver diagnosis: the cause must be found "
            "before any screening"
        )
        for analyte in ("hbsag", "hcv-antibody", "ana", "asma"):
            _check(ctx, items, analyte, cause, None)
        _check(ctx, items, "liver-stiffness", cause, "elastography", item_id="workup.elastography")
    # Planned pre-therapy assessment: listed, not blocking.
    planned = "Part of the clinic's planned pre-therapy assessment (does not block screening)"
    _check(
        ctx,
        items,
        "liver-stiffness",
        f"{planned}: fibrosis measurement",
        "elastography",
        blocking=False,
        item_id="workup.elastography",
    )
    _check(ctx, items, "ana", f"{planned}: autoimmune markers", None, blocking=False)
    _check(ctx, items, "asma", f"{planned}: autoimmune markers", None, blocking=False)
    for analyte in ("hba1c", "ferritin", "cholesterol"):
        _check(
            ctx, items, analyte, f"{planned}: metabolic review", "metabolic-review", blocking=False
        )
    items.add(
        WorkupItem(
            id="workup.imaging",
            label="Liver imaging (ultrasound or MRI)",
            status=WorkupStatus.MISSING,
            why=f"{planned}: imaging reports are not read by this service, confirm one is on file",
            orders=(),
            blocking=False,
        )
    )
    ordered = sorted(items.items.values(), key=lambda w: (not w.blocking,))
    return tuple(ordered)
