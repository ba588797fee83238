"""The screening rules of clinical-rules-v1 §4 as named predicates.

Each predicate takes the evaluation :class:`~cds_service.clinical.context.Context` and returns a
:class:`Finding` (met / not met / unknown, one-sentence reason, evidence). ``PREDICATES`` maps the
names used in ``data/ruleset.yaml`` to these functions; the loader refuses a ruleset naming a
predicate that does not exist. The reason ids are listed in docs/clinical-rules.md.

"Unknown" always says what is missing. An exclusion is never "not met" for lack of data it needs
(spec §4.2): cancer, decompensation, liver failure and transplant are decided from conditions
(absence of a code is "not met"); viral hepatitis, coagulation and MELD-Na need recent labs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from cds_service.clinical.context import Context, Events, Finding, fmt, on
from cds_service.clinical.facts import LabResult
from cds_service.clinical.model import Evidence, Status
from cds_service.clinical.scores import meld_na

Predicate = Callable[[Context], Finding]

MET, NOT_MET, UNKNOWN = Status.MET, Status.NOT_MET, Status.UNKNOWN


def _event_finding(ctx: Context, events: Events, what: str) -> Finding | None:
    if events.counted:
        evidence = tuple(
            f.evidence(f.display or what, "active" if f.active else "within 12 months")
            for f in events.counted
        )
        names = ", ".join(sorted({f.display or what for f in events.counted}))
        return Finding(MET, f"{what} on record, active or within 12 months: {names}", evidence)
    if events.undated_inactive:
        return Finding(
            UNKNOWN,
            f"inactive {what.lower()} on record without dates: "
            "cannot tell whether within 12 months",
            tuple(
                f.evidence(f.display or what, "inactive, undated") for f in events.undated_inactive
            ),
        )
    return None


# --- exclusions ---------------------------------------------------------------------------------


def liver_cancer(ctx: Context) -> Finding:
    found = _event_finding(ctx, ctx.events("liver-cancer"), "Liver cancer")
    return found or Finding(NOT_MET, "no liver cancer diagnosis active or within 12 months")


def decompensation(ctx: Context) -> Finding:
    found = _event_finding(ctx, ctx.decompensation_events, "Decompensation event")
    cp = ctx.child_pugh
    limit = ctx.t["child-pugh-decompensation"]
    if cp.value is not None and cp.value >= limit:
        evidence = (
            Evidence("Child-Pugh score", value=cp.value, value_text=cp.band, note="estimated"),
        )
        reason = f"Child-Pugh {cp.value:g} (class {cp.band}, estimated) is {limit:g} or more"
        if found is not None and found.status is MET:
            return Finding(MET, f"{found.reason}; {reason}", found.evidence + evidence)
        return Finding(MET, reason, evidence)
    if found is not None:
        return found
    return Finding(
        NOT_MET,
        "no ascites, variceal bleeding, hepatic encephalopathy or hepatorenal syndrome active "
        "or within 12 months" + ("" if cp.value is not None else "; Child-Pugh not computable"),
    )


def liver_failure(ctx: Context) -> Finding:
    found = ctx.active("liver-failure")
    if found:
        return Finding(
            MET,
            "liver failure on record: " + ", ".join(sorted({f.display or "" for f in found})),
            tuple(f.evidence(f.display or "Liver failure") for f in found),
        )
    return Finding(NOT_MET, "no active liver failure diagnosis")


def transplant(ctx: Context) -> Finding:
    status = ctx.active("liver-transplant-status")
    if status:
        return Finding(
            MET,
            "liver transplant status on record",
            tuple(f.evidence("Liver transplant status") for f in status),
        )
    waiting = ctx.active("awaiting-transplant")
    if waiting:
        liver = ctx.liver_diagnoses
        if liver:
            return Finding(
                MET,
                "awaiting organ transplant (Z76.82) with a liver condition on record",
                (
                    *tuple(f.evidence("Awaiting transplant") for f in waiting),
                    liver[0].evidence(liver[0].display or "Liver condition"),
                ),
            )
        return Finding(
            NOT_MET,
            "awaiting organ transplant (Z76.82) but no liver condition on record: not read as "
            "liver listing",
        )
    return Finding(NOT_MET, "no transplant listing or liver transplant status on record")


def _viral_contexts(ctx: Context) -> tuple[list[Evidence], list[Evidence]]:
    hbv = [f.evidence(f.display or "Hepatitis B") for f in ctx.active("hbv")]
    hcv = [f.evidence(f.display or "Hepatitis C") for f in ctx.active("hcv")]
    hbsag = ctx.positive("hbsag")
    if hbsag is not None:
        hbv.append(hbsag.evidence("HBsAg", "positive"))
    hcv_ab = ctx.positive("hcv-antibody")
    if hcv_ab is not None:
        hcv.append(hcv_ab.evidence("HCV antibody", "positive"))
    return hbv, hcv


def _hbv_above(result: LabResult, limit: float) -> bool | None:
    """True/False when the HBV DNA result decides "> limit IU/mL", None when it cannot."""
    if result.value is None:
        return False if result.detected is False else None
    if result.comparator in ("<", "<="):
        return False if result.value <= limit else None
    return result.value > limit or (result.comparator in (">", ">=") and result.value >= limit)


def active_viral_hepatitis(ctx: Context) -> Finding:
    limit = ctx.t["hbv-dna-active"]
    met: list[str] = []
    unknown: list[str] = []
    evidence: list[Evidence] = []
    # Spec §4.2: ANY detectable HCV RNA within 12 months / HBV DNA above the limit within 6
    # months excludes; a newer undetectable or lower result does not clear it (it may be an
    # on-treatment value, not a cure).
    hcv_rna = ctx.latest("hcv-rna", "hcv-rna-exclusion", valued=False)
    hcv_detected = next(
        (r for r in ctx.results("hcv-rna", "hcv-rna-exclusion", valued=False) if r.detected),
        None,
    )
    if hcv_detected is not None:
        met.append(f"HCV RNA detectable on {on(hcv_detected)} (within 12 months)")
        evidence.append(hcv_detected.evidence("HCV RNA", "detectable within 12 months"))
    hbv_dna = ctx.latest("hbv-dna", "viral-load", valued=False)
    hbv_high = next(
        (r for r in ctx.results("hbv-dna", "viral-load", valued=False) if _hbv_above(r, limit)),
        None,
    )
    if hbv_high is not None:
        met.append(f"HBV DNA above {limit:g} IU/mL on {on(hbv_high)} (within 6 months)")
        evidence.append(hbv_high.evidence("HBV DNA", f"above {limit:g} IU/mL"))
    elif hbv_dna is not None:
        above = _hbv_above(hbv_dna, limit)
        if above is None:
            unknown.append(
                f"HBV DNA on {on(hbv_dna)} cannot be compared with {limit:g} IU/mL "
                "(detectable but not quantified in IU/mL, or censored above the limit)"
            )
            evidence.append(hbv_dna.evidence("HBV DNA", f"not comparable with {limit:g} IU/mL"))
    if met:
        return Finding(MET, "; ".join(met), tuple(evidence))
    hbv, hcv = _viral_contexts(ctx)
    if hbv and hbv_dna is None:
        unknown.append("hepatitis B on record but no HBV DNA in the last 6 months")
        evidence.extend(hbv)
    if hcv and ctx.latest("hcv-rna", "viral-load", valued=False) is None:
        unknown.append("hepatitis C on record but no HCV RNA in the last 6 months")
        evidence.extend(hcv)
    if unknown:
        return Finding(UNKNOWN, "; ".join(unknown), tuple(evidence))
    if not hbv and not hcv:
        return Finding(
            NOT_MET,
            "no hepatitis B or C diagnosis, positive HBsAg or positive HCV antibody on record",
        )
    shown = [
        r.evidence(r.analyte.upper().replace("-", " "), "recent viral load")
        for r in (hbv_dna, hcv_rna)
        if r
    ]
    return Finding(NOT_MET, "recent viral loads do not show active hepatitis B or C", tuple(shown))


def _beyond(result: LabResult, limit: float, above: bool) -> bool | None:
    """Whether the true value is above (or below) ``limit``; None when a censored result
    (spec §1: "<x" means below x, ">x" above x) cannot tell."""
    value, comparator = result.value, result.comparator
    assert value is not None
    if comparator is None:
        return value > limit if above else value < limit
    if comparator in ((">", ">=") if above else ("<", "<=")):
        # Censored in the direction of the threshold: proven once the bound reaches it.
        strict = comparator in (">", "<")
        reached = (
            (value >= limit if above else value <= limit)
            if strict
            else (value > limit if above else value < limit)
        )
        return True if reached else None
    # Censored the other way: cleared only when the bound itself is on the safe side.
    return False if (value <= limit if above else value >= limit) else None


def _threshold(
    result: LabResult,
    limit: float,
    found: tuple[list[str], list[str], list[Evidence]],
    *,
    above: bool,
    name: str,
    label: str,
    unit: str = "",
    suffix: str = "",
) -> None:
    """Compare one valued result with an exclusion threshold. Adds to ``found`` (met
    reasons, censored reasons, evidence): a reason when beyond the limit, a "cannot be
    compared" reason when a censored value cannot tell, nothing when clear."""
    met, censored, evidence = found
    word = "above" if above else "below"
    beyond = _beyond(result, limit, above=above)
    if beyond:
        shown = result.value_text or fmt(result.value)
        met.append(f"{name} {shown}{unit} on {on(result)} {word} {limit:g}{suffix}")
        evidence.append(result.evidence(label, f"{word} {limit:g}{unit}"))
    elif beyond is None:
        censored.append(
            f"{name} {result.value_text}{unit} on {on(result)} cannot be compared with {limit:g}"
        )
        evidence.append(result.evidence(label, "censored: not comparable"))


def coagulation(ctx: Context) -> Finding:
    met: list[str] = []
    evidence: list[Evidence] = []
    bleeding = ctx.active("bleeding-disorder")
    for fact in bleeding:
        met.append(f"bleeding disorder on record ({fact.display})")
        evidence.append(fact.evidence(fact.display or "Bleeding disorder", "active"))
    anticoagulated = ctx.anticoagulation
    inr = ctx.recent("inr")
    platelets = ctx.recent("platelets")
    pt = ctx.recent("pt")
    notes: list[str] = []
    censored: list[str] = []  # censored results that can neither prove nor clear (spec §1)
    found = (met, censored, evidence)
    for analyte, name in (("inr", "INR"), ("platelets", "platelet count")):
        newest = ctx.latest(analyte, "liver-panel", valued=False)
        if newest is not None and newest.value is None and newest.comparator is not None:
            # A newer censored result without a unit: an older result must not clear it.
            if analyte == "inr" and anticoagulated is not None:
                continue
            censored.append(
                f"newest {name} {newest.value_text} on {on(newest)} has no unit: cannot be "
                "compared with the threshold (a unit is never guessed)"
            )
            evidence.append(newest.evidence(newest.label, "censored, no unit: not comparable"))
    if inr is not None and inr.value is not None:
        if anticoagulated is not None:
            notes.append("INR not interpretable on anticoagulation")
            evidence.append(inr.evidence("INR", "on anticoagulation: not used"))
        else:
            _threshold(
                inr,
                ctx.t["inr-coagulopathy"],
                found,
                above=True,
                name="INR",
                label="INR",
                suffix=" off anticoagulation",
            )
    if (
        pt is not None
        and pt.value is not None
        and pt.ref_high is not None
        and anticoagulated is None
    ):
        prolonged = pt.value - pt.ref_high
        limit = ctx.t["pt-prolongation"]
        if (
            prolonged > limit
            if pt.comparator is None
            else _beyond(pt, pt.ref_high + limit, above=True)
        ):
            met.append(f"PT prolonged {prolonged:.1f} s beyond the lab's upper limit on {on(pt)}")
            evidence.append(
                pt.evidence("Prothrombin time", f"{prolonged:.1f} s above the upper limit")
            )
    if platelets is not None and platelets.value is not None:
        _threshold(
            platelets,
            ctx.t["platelets-severe"],
            found,
            above=False,
            name="platelets",
            label="Platelets",
            unit=" x10^9/L",
        )
    if anticoagulated is not None:
        evidence.append(anticoagulated)
    if met:
        return Finding(MET, "; ".join(met), tuple(evidence))
    missing = [name for name, r in (("INR", inr), ("platelet count", platelets)) if r is None]
    if missing or censored:
        why = ([f"no {' or '.join(missing)} in the last 90 days"] if missing else []) + censored
        return Finding(UNKNOWN, "; ".join(why), tuple(evidence))
    assert inr is not None
    assert platelets is not None
    evidence[:0] = [inr.evidence("INR"), platelets.evidence("Platelets")]
    extra = f" ({'; '.join(notes)})" if notes else ""
    return Finding(
        NOT_MET, f"INR and platelets in range, no bleeding disorder coded{extra}", tuple(evidence)
    )


def meld_na_exclusion(ctx: Context) -> Finding:
    _meld, score, _meld3 = ctx.melds
    limit = ctx.t["meld-na-exclusion"]
    cirrhosis = ctx.cirrhosis
    if score.value is None:
        if cirrhosis:
            return Finding(
                UNKNOWN,
                "cirrhosis on record: MELD-Na needed but not computable (missing or older than "
                "90 days: " + ", ".join(score.missing) + ")",
                cirrhosis,
            )
        return Finding(NOT_MET, "no cirrhosis on record: MELD-Na not required")
    shown = (Evidence("MELD-Na", value=score.value, note=f"inputs from {score.inputs_date}"),)
    if score.value < limit:
        return Finding(NOT_MET, f"MELD-Na {score.value:g} is below {limit:g}", shown)
    if ctx.anticoagulation is not None:
        # An INR on anticoagulation inflates MELD: only a score >= limit with INR 1.0 proves it.
        values = {i.name: i for i in score.inputs}
        floor = meld_na(
            float(values["creatinine"].value),
            float(values["bilirubin"].value),
            1.0,
            float(values["sodium"].value),
        )
        if floor is None or floor < limit:
            return Finding(
                UNKNOWN,
                f"MELD-Na {score.value:g} reaches {limit:g} only through an INR measured on "
                "anticoagulation: clinician review needed",
                (*shown, ctx.anticoagulation),
            )
    return Finding(
        MET,
        f"MELD-Na {score.value:g} is {limit:g} or more: discuss transplant evaluation; "
        "MSC therapy is not appropriate outside a clinical trial",
        shown,
    )


# --- candidacy paths ----------------------------------------------------------------------------


def _with_diagnosis(ctx: Context, concepts: tuple[str, ...], what: str, then: Finding) -> Finding:
    found = ctx.active(*concepts)
    if not found:
        return Finding(NOT_MET, f"no {what} diagnosis on record")
    evidence = tuple(f.evidence(f.display or what) for f in found) + then.evidence
    return Finding(then.status, f"{found[0].display or what}: {then.reason}", evidence)


def masld_alt(ctx: Context) -> Finding:
    persistence = ctx.alt_persistence
    # ALT decides; AST and GGT against the lab's own range are shown as supporting evidence.
    then = Finding(
        persistence.status, persistence.reason, persistence.evidence + ctx.supporting_enzymes
    )
    return _with_diagnosis(ctx, ("masld", "nash"), "MASLD/NASH", then)


def aih_nonremission(ctx: Context) -> Finding:
    if not ctx.active("aih"):
        return Finding(NOT_MET, "no autoimmune hepatitis diagnosis on record")
    meds = ctx.active_meds("aih-immunosuppression")
    if not meds:
        return _with_diagnosis(
            ctx,
            ("aih",),
            "autoimmune hepatitis",
            Finding(NOT_MET, "no active immunosuppression on record"),
        )
    persistence = ctx.alt_persistence
    then = Finding(
        persistence.status,
        f"on immunosuppression ({meds[0].display or 'coded'}); {persistence.reason}",
        (meds[0].evidence("Immunosuppression"), *persistence.evidence),
    )
    return _with_diagnosis(ctx, ("aih",), "autoimmune hepatitis", then)


def _stable_function(ctx: Context) -> Finding:
    """Child-Pugh A and bilirubin, albumin, INR within normal limits (the lab's range first)."""
    cp = ctx.child_pugh
    if cp.value is None:
        return Finding(
            UNKNOWN, "Child-Pugh not computable: " + ", ".join(cp.missing or ("inputs",))
        )
    if cp.band != "A":
        return Finding(NOT_MET, f"Child-Pugh {cp.value:g} (class {cp.band}): not class A")
    problems: list[str] = []
    evidence: list[Evidence] = []
    checks = (("bilirubin", "Bilirubin"), ("albumin", "Albumin"), ("inr", "INR"))
    for analyte, label in checks:
        result = ctx.recent(analyte)
        assert result is not None
        assert result.value is not None
        low, high = ctx.rules.normal_ranges[analyte]
        low = result.ref_low if result.ref_low is not None else low
        high = result.ref_high if result.ref_high is not None else high
        ok = result.value >= low if analyte == "albumin" else result.value <= high
        evidence.append(
            result.evidence(label, "within normal limits" if ok else "outside normal limits")
        )
        if not ok:
            problems.append(
                f"{label.lower()} {fmt(result.value, result.unit)} outside normal limits"
            )
    if problems:
        return Finding(NOT_MET, "Child-Pugh A but " + "; ".join(problems), tuple(evidence))
    return Finding(
        MET,
        f"Child-Pugh {cp.value:g} (A, estimated) with bilirubin, albumin and INR within normal "
        "limits",
        tuple(evidence),
    )


def fibrosis_f1_f3(ctx: Context) -> Finding:
    cirrhosis_codes = ctx.active("cirrhosis")
    staged = ctx.active("fibrosis-f1-f3")
    evidence: list[Evidence] = [f.evidence(f.display or "Fibrosis F1-F3") for f in staged]
    lsm = ctx.stiffness
    low, high = ctx.t["lsm-fibrosis-min"], ctx.t["lsm-cirrhosis"]
    by_lsm = (
        lsm is not None
        and lsm.value is not None
        and low <= lsm.value < high
        and bool(ctx.liver_diagnoses)
    )
    if by_lsm and lsm is not None:
        evidence.append(
            lsm.evidence("Liver stiffness", f"{low:g} to below {high:g} kPa: F1-F3 range")
        )
    if not evidence:
        return Finding(
            NOT_MET,
            f"no F1-F3 fibrosis code (K74.01/K74.02) and no liver stiffness {low:g} to below "
            f"{high:g} kPa in the last 12 months",
        )
    if cirrhosis_codes:
        return Finding(NOT_MET, "cirrhosis on record (F4): see the cirrhosis path", tuple(evidence))
    stable = _stable_function(ctx)
    return Finding(
        stable.status, f"fibrosis F1-F3; {stable.reason}", tuple(evidence) + stable.evidence
    )


def cirrhosis_child_pugh(ctx: Context) -> Finding:
    cirrhosis = ctx.cirrhosis
    if not cirrhosis:
        return Finding(NOT_MET, "no cirrhosis code and no liver stiffness of 15 kPa or more")
    cp = ctx.child_pugh
    if cp.value is None:
        return Finding(
            UNKNOWN,
            "cirrhosis: Child-Pugh not computable (" + ", ".join(cp.missing) + ")",
            cirrhosis,
        )
    cp_ev = Evidence("Child-Pugh score", value=cp.value, value_text=cp.band, note="estimated")
    history = ctx.decompensation_history
    if cp.value > 7 or (cp.value == 7 and history):
        why = (
            "with a decompensation event on record (early B requires none, however old)"
            if cp.value == 7
            else "beyond early B"
        )
        shown = tuple(f.evidence(f.display or "Decompensation event") for f in history)
        return Finding(
            NOT_MET,
            f"cirrhosis with Child-Pugh {cp.value:g} (class {cp.band}) {why}",
            (*cirrhosis, cp_ev, *(shown if cp.value == 7 else ())),
        )
    stage = (
        "A"
        if cp.value <= 6
        else "early B (score 7, no decompensation event; standard references treat Child-Pugh 7 "
        "or more as decompensation)"
    )
    _meld, score, _m3 = ctx.melds
    limit = ctx.t["meld-na-exclusion"]
    if score.value is None:
        return Finding(
            UNKNOWN,
            f"cirrhosis Child-Pugh {stage}; MELD-Na not computable ({', '.join(score.missing)})",
            (*cirrhosis, cp_ev),
        )
    meld_ev = Evidence("MELD-Na", value=score.value)
    if score.value >= limit:
        return Finding(
            NOT_MET,
            f"cirrhosis Child-Pugh {stage} but MELD-Na {score.value:g} is {limit:g} or more",
            (*cirrhosis, cp_ev, meld_ev),
        )
    return Finding(
        MET, f"cirrhosis Child-Pugh {stage}, MELD-Na {score.value:g}", (*cirrhosis, cp_ev, meld_ev)
    )


def _infection_date(ctx: Context) -> tuple[datetime | None, list[Evidence]]:
    dates: list[datetime] = []
    evidence: list[Evidence] = []
    for fact in ctx.facts.conditions.get("covid-19", ()):
        evidence.append(fact.evidence(fact.display or "COVID-19"))
        if fact.earliest is not None:
            dates.append(fact.earliest)
    for result in ctx.facts.labs.get("sars-cov-2", ()):
        if result.detected is True:
            evidence.append(result.evidence("SARS-CoV-2 test", "positive"))
            dates.append(result.when)
    if not dates:
        for fact in ctx.active("post-covid"):
            if fact.earliest is not None:
                dates.append(fact.earliest)
    return (min(dates) if dates else None), evidence


def post_covid(ctx: Context) -> Finding:
    post = ctx.active("post-covid")
    infection, evidence = _infection_date(ctx)
    evidence = [f.evidence(f.display or "Post COVID-19 condition") for f in post] + evidence
    if not evidence:
        return Finding(
            NOT_MET,
            "no post-COVID condition, COVID-19 diagnosis or positive SARS-CoV-2 test on record",
        )
    if infection is None:
        return Finding(
            UNKNOWN,
            "COVID-19 on record without a date: cannot tell how long ALT elevation has lasted",
            tuple(evidence),
        )
    persistence = ctx.alt_persistence
    if persistence.status is not MET:
        return Finding(
            persistence.status,
            f"after COVID-19: {persistence.reason}",
            tuple(evidence) + persistence.evidence,
        )
    threshold = infection.date() + timedelta(days=ctx.w["post-covid-min"])
    late = [r for r in ctx.results("alt", "persistence-window") if r.when.date() >= threshold]
    if not late or late[0] is not ctx.results("alt", "persistence-window")[0]:
        return Finding(
            NOT_MET,
            "ALT elevation has not yet persisted 3 months after COVID-19 (infection from "
            f"{infection.date().isoformat()})",
            tuple(evidence) + persistence.evidence,
        )
    return Finding(
        MET,
        "ALT above the upper limit 3 months or more after COVID-19 "
        f"({infection.date().isoformat()}); "
        f"{persistence.reason}",
        tuple(evidence) + persistence.evidence,
    )


def _hcv_cured(ctx: Context) -> Finding:
    results = [r for r in ctx.facts.labs.get("hcv-rna", ()) if r.detected is not None]
    if not results:
        return Finding(UNKNOWN, "no HCV RNA result on record")
    latest = results[0]
    if latest.detected:
        return Finding(
            NOT_MET,
            f"HCV RNA detectable on {on(latest)}",
            (latest.evidence("HCV RNA", "detectable"),),
        )
    last_detected = next((r for r in results if r.detected), None)
    if (
        last_detected is not None
        and (latest.when.date() - last_detected.when.date()).days < ctx.w["hcv-svr"]
    ):
        return Finding(
            NOT_MET,
            "HCV RNA undetectable for less than 12 weeks",
            (latest.evidence("HCV RNA", "undetectable"),),
        )
    return Finding(
        MET,
        f"HCV RNA undetectable on {on(latest)}"
        + (
            f", 12 weeks or more after the last detectable result ({on(last_detected)})"
            if last_detected
            else ""
        ),
        (latest.evidence("HCV RNA", "undetectable"),),
    )


def _hbv_controlled(ctx: Context) -> Finding:
    dna = ctx.latest("hbv-dna", "viral-load", valued=False)
    if dna is None:
        return Finding(UNKNOWN, "no HBV DNA in the last 6 months")
    above = _hbv_above(dna, ctx.t["hbv-dna-active"])
    if above is not False:
        return Finding(NOT_MET, "HBV DNA not at or below 2,000 IU/mL", (dna.evidence("HBV DNA"),))
    meds = ctx.active_meds("hbv-antiviral")
    if not meds:
        return Finding(
            NOT_MET,
            "HBV DNA at or below 2,000 IU/mL but no antiviral therapy on record",
            (dna.evidence("HBV DNA"),),
        )
    return Finding(
        MET,
        f"HBV DNA at or below 2,000 IU/mL on {on(dna)} on antiviral therapy",
        (dna.evidence("HBV DNA"), meds[0].evidence("HBV antiviral")),
    )


def viral_survivor(ctx: Context) -> Finding:
    hbv, hcv = _viral_contexts(ctx)
    sequelae = [
        f.evidence(f.display or "Sequelae of viral hepatitis") for f in ctx.active("viral-sequelae")
    ]
    if not (hbv or hcv or sequelae):
        return Finding(NOT_MET, "no viral hepatitis history on record")
    controlled: list[Finding] = []
    if hcv or sequelae:
        controlled.append(_hcv_cured(ctx))
    if hbv or sequelae:
        controlled.append(_hbv_controlled(ctx))
    met = [c for c in controlled if c.status is MET]
    history = tuple(hbv + hcv + sequelae)
    if not met:
        status = UNKNOWN if any(c.status is UNKNOWN for c in controlled) else NOT_MET
        return Finding(
            status,
            "virus not shown controlled: " + "; ".join(c.reason for c in controlled),
            history,
        )
    lingering: list[Evidence] = []
    persistence = ctx.alt_persistence
    if persistence.status is MET:
        lingering.extend(persistence.evidence)
    fibrosis = ctx.active("fibrosis", "cirrhosis")
    lingering.extend(f.evidence(f.display or "Fibrosis") for f in fibrosis)
    lsm = ctx.stiffness
    if lsm is not None and lsm.value is not None and lsm.value >= ctx.t["lsm-fibrosis-min"]:
        lingering.append(
            lsm.evidence("Liver stiffness", f"{ctx.t['lsm-fibrosis-min']:g} kPa or more")
        )
    if not lingering:
        status = UNKNOWN if persistence.status is UNKNOWN else NOT_MET
        return Finding(
            status,
            f"{met[0].reason}; no lingering injury shown ({persistence.reason}; no fibrosis on "
            "record)",
            history + met[0].evidence,
        )
    return Finding(
        MET,
        f"{met[0].reason}; with persisting ALT elevation or fibrosis",
        history + met[0].evidence + tuple(lingering),
    )


def pbc_udca(ctx: Context) -> Finding:
    if not ctx.active("pbc"):
        return Finding(NOT_MET, "no primary biliary cholangitis diagnosis on record")
    udca = ctx.active_meds("udca")
    if not udca:
        return _with_diagnosis(ctx, ("pbc",), "PBC", Finding(NOT_MET, "no active UDCA on record"))
    started = [m for m in udca if m.start is not None]
    if not started:
        return _with_diagnosis(
            ctx,
            ("pbc",),
            "PBC",
            Finding(UNKNOWN, "UDCA start date not recorded", (udca[0].evidence("UDCA"),)),
        )
    first = min(started, key=lambda m: m.start or ctx.now)
    med_ev = first.evidence("UDCA", "start of therapy")
    assert first.start is not None
    if first.start > ctx.since("udca-min"):
        return _with_diagnosis(
            ctx, ("pbc",), "PBC", Finding(NOT_MET, "UDCA for less than 6 months", (med_ev,))
        )
    alp = ctx.recent("alp")
    if alp is None:
        return _with_diagnosis(
            ctx,
            ("pbc",),
            "PBC",
            Finding(UNKNOWN, "no alkaline phosphatase in the last 90 days", (med_ev,)),
        )
    if alp.ref_high is None:
        return _with_diagnosis(
            ctx,
            ("pbc",),
            "PBC",
            Finding(
                UNKNOWN,
                "alkaline phosphatase without the lab's reference range: ULN unknown",
                (med_ev, alp.evidence("ALP")),
            ),
        )
    assert alp.value is not None
    multiple = ctx.t["pbc-alp-uln-multiple"]
    ratio = alp.value / alp.ref_high if alp.ref_high > 0 else 0.0
    ev = (med_ev, alp.evidence("ALP", f"{ratio:.2f} x ULN {fmt(alp.ref_high, 'U/L')}"))
    if ratio >= multiple:
        return _with_diagnosis(
            ctx,
            ("pbc",),
            "PBC",
            Finding(MET, f"ALP {ratio:.2f} x ULN despite UDCA 6 months or more", ev),
        )
    return _with_diagnosis(
        ctx,
        ("pbc",),
        "PBC",
        Finding(NOT_MET, f"ALP {ratio:.2f} x ULN, below {multiple:g} x ULN", ev),
    )


def psc(ctx: Context) -> Finding:
    if not ctx.active("psc"):
        return Finding(NOT_MET, "no primary sclerosing cholangitis diagnosis on record")
    history = ctx.decompensation_history  # "without decompensation": any event, however old
    if history:
        return _with_diagnosis(
            ctx,
            ("psc",),
            "PSC",
            Finding(
                NOT_MET,
                "decompensation event on record (PSC path requires none, however old)",
                tuple(f.evidence(f.display or "Decompensation event") for f in history),
            ),
        )
    bili, cr = ctx.recent("bilirubin"), ctx.recent("creatinine")
    missing = [n for n, r in (("bilirubin", bili), ("creatinine", cr)) if r is None]
    if missing or bili is None or cr is None:
        return _with_diagnosis(
            ctx, ("psc",), "PSC", Finding(UNKNOWN, f"no {' or '.join(missing)} in the last 90 days")
        )
    assert bili.value is not None
    assert cr.value is not None
    uln = bili.ref_high if bili.ref_high is not None else ctx.t["bilirubin-uln-default"]
    multiple, cr_max = ctx.t["psc-bilirubin-uln-multiple"], ctx.t["psc-creatinine-max"]
    ev = (bili.evidence("Bilirubin", f"ULN {fmt(uln, 'mg/dL')}"), cr.evidence("Creatinine"))
    problems = []
    if bili.value > multiple * uln:
        problems.append(f"bilirubin above {multiple:g} x ULN")
    if cr.value > cr_max:
        problems.append(f"creatinine above {cr_max:g} mg/dL")
    if problems:
        return _with_diagnosis(ctx, ("psc",), "PSC", Finding(NOT_MET, "; ".join(problems), ev))
    return _with_diagnosis(
        ctx,
        ("psc",),
        "PSC",
        Finding(
            MET,
            f"no decompensation, bilirubin at most {multiple:g} x ULN, creatinine at most "
            f"{cr_max:g} mg/dL",
            ev,
        ),
    )


def metabolic_masld(ctx: Context) -> Finding:
    metabolic = ctx.active("metabolic-syndrome", "type-2-diabetes")
    if not metabolic:
        return Finding(NOT_MET, "no metabolic syndrome or type 2 diabetes on record")
    masld = masld_alt(ctx)
    evidence = (
        tuple(f.evidence(f.display or "Metabolic condition") for f in metabolic) + masld.evidence
    )
    return Finding(masld.status, f"{metabolic[0].display}; {masld.reason}", evidence)


# --- applicability -------------------------------------------------------------------------------


def liver_indication(ctx: Context) -> Finding:
    found = ctx.liver_diagnoses
    if not found:
        return Finding(NOT_MET, "no liver diagnosis on record")
    names = ", ".join(dict.fromkeys(f.display or "" for f in found))
    return Finding(
        MET,
        f"liver diagnosis on record: {names}",
        tuple(f.evidence(f.display or "Liver condition") for f in found),
    )


def persistent_alt_no_diagnosis(ctx: Context) -> Finding:
    if ctx.liver_diagnoses:
        return Finding(NOT_MET, "a liver diagnosis is on record")
    persistence = ctx.alt_persistence
    evidence = persistence.evidence + tuple(
        f.evidence("Elevated transaminases") for f in ctx.active("elevated-transaminases")
    )
    if persistence.status is MET:
        return Finding(
            MET,
            f"{persistence.reason}, with no liver diagnosis: the cause must be found before any "
            "screening",
            evidence,
        )
    return Finding(persistence.status, persistence.reason, evidence)


PREDICATES: Mapping[str, Predicate] = {
    "liver_cancer": liver_cancer,
    "decompensation": decompensation,
    "liver_failure": liver_failure,
    "transplant": transplant,
    "active_viral_hepatitis": active_viral_hepatitis,
    "coagulation": coagulation,
    "meld_na_exclusion": meld_na_exclusion,
    "masld_alt": masld_alt,
    "aih_nonremission": aih_nonremission,
    "fibrosis_f1_f3": fibrosis_f1_f3,
    "cirrhosis_child_pugh": cirrhosis_child_pugh,
    "post_covid": post_covid,
    "viral_survivor": viral_survivor,
    "pbc_udca": pbc_udca,
    "psc": psc,
    "metabolic_masld": metabolic_masld,
    "liver_indication": liver_indication,
    "persistent_alt_no_diagnosis": persistent_alt_no_diagnosis,
}

__all__ = ["PREDICATES", "Predicate"]
