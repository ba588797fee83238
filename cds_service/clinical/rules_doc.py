"""Render the ruleset as Markdown for clinician review (docs/clinical-rules.md).

    python -m cds_service.clinical.rules_doc > docs/clinical-rules.md

The file is generated from the same data the engine loads, so it cannot drift from it; a test
checks that the committed file is current.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from cds_service.clinical.ruleset import DEFAULT_DATA_DIR, RULESET_FILE, Ruleset
from cds_service.clinical.workup import WORKUP_CATALOG

AMBIGUITIES = """\
## Clinical ambiguities resolved in this ruleset (for clinician review)

1. **Viral-hepatitis exclusion reads every viral load in its window** (spec §4.2, as written):
   any detectable HCV RNA within 12 months, or any HBV DNA above 2,000 IU/mL within 6 months,
   excludes, even when a newer result is undetectable or lower (that may be an on-treatment
   value, not a cure). The survivor path therefore needs the last detectable HCV RNA to be more
   than 12 months old. "Unknown" for an unquantified HBV DNA is judged on the newest result.
2. **F1-F3 by elastography has a lower bound of 8 kPa.** The spec says "elastography < 15 kPa
   with a liver indication", which literally includes normal stiffness; the ruleset uses the
   spec's own low-risk band (< 8 kPa) as the lower edge (`lsm-fibrosis-min`). The viral-survivor
   path reads "fibrosis" the same way (code, or stiffness >= 8 kPa).
3. **Persistence means "still elevated".** ALT must be above the ULN on 2 or more results at
   least 28 days apart within 183 days *and* the newest ALT must still be above it ("ALT no longer
   elevated" is the spec's own does-not-meet example). ALT decides; the newest AST and GGT are
   shown as supporting evidence against the lab's own `referenceRange.high`. When sex is not
   recorded, the lab's ALT reference range is used; with neither, persistence is unknown.
4. **Ascites / encephalopathy grades** are not coded: an active code scores 2 points (a lower
   bound, "mild" / "grade 1-2"); no code scores 1. Every Child-Pugh is therefore "estimated".
   Resolved events within 12 months count for the decompensation exclusion but not for the
   current Child-Pugh grade. "Early B" (score 7) requires no decompensation event on record at
   all, however old (the spec gives that clause no time limit); so does the PSC path ("without
   decompensation").
5. **Anticoagulation** (active anticoagulant MedicationRequest/Statement or Z79.01): the INR is
   not used for the coagulation exclusion, PT prolongation is not used either, Child-Pugh is not
   computed, and MELD-Na >= 15 counts as proven only if it stays >= 15 with INR set to 1.0
   (otherwise the exclusion is "unknown": clinician review).
6. **PT prolongation** is measured against the lab's `referenceRange.high`; without it, PT is
   not read (INR and platelets still decide).
7. **HCV cure (SVR12) without treatment dates**: the newest HCV RNA is undetectable and, if a
   detectable result is on file, the newest undetectable one is 12 weeks or more after it.
   **HBV "on therapy"** needs an active HBV antiviral (entecavir, tenofovir disoproxil or
   alafenamide, lamivudine: RxNorm ingredient codes only, see "Medications" below).
8. **HBV DNA in copies/mL** (29615-2) is not converted (the factor is assay-specific): it is
   reported as an unconvertible unit and only its detectability is read; a detectable but
   unquantified HBV DNA leaves the exclusion "unknown".
9. **Censored viral loads** ("<15", comparator "<") are read as undetectable (spec §1), even
   when the limit is above the assay's LLOQ. Other censored results are "beyond the limit": they
   prove a threshold only when the limit reaches it (INR ">1.5", platelets "<20") and otherwise
   leave the exclusion "unknown" (platelets "<60"). INR as text (">8") is read as it stands
   (dimensionless); a censored count as text without a unit is reported, never converted, and
   an older result does not clear the coagulation exclusion in its place.
10. **A reference range bound without a unit** is read in the unit of the result itself.
11. **Partial dates** ("2024", "2024-05") denote the whole interval: results are dated at its
    start (stale sooner), condition look-backs use its end (count longer).
12. **Post-COVID infection date**: the earliest COVID-19 onset or positive SARS-CoV-2 test; with
    only a post-COVID code, its onset (a conservative stand-in).
13. **Z76.82** counts as transplant listing only together with an active liver condition.
14. **Inactive liver cancer / decompensation codes**: the latest of abatement, onset and
    recorded date decides the 12-month look-back; without any date the exclusion is "unknown"
    (we cannot tell whether they fall within 12 months).
15. **APRI without a lab AST range** uses the clinic default 40 U/L and says so in a flag.
16. **LOINC 5895-7** (legacy INR, seen in MIMIC) fails the LOINC check digit; it is kept,
    flagged `check_digit_exempt`, only to read historical values.
17. **Windows count calendar days (UTC)**: a result dated exactly 90 days ago is within the
    90-day window whatever the hour the hook fires; 6 months = 183 days, 12 months = 365 days,
    4 weeks = 28 days, 12 weeks = 84 days, 3 months = 90 days.
18. **Not applicable still evaluates every rule** (so the audit can show them), but no workup
    and no planned schedule are produced; cards show nothing.
19. **Anticoagulated patients on the F1-F3 / cirrhosis paths**: Child-Pugh cannot be computed,
    so those paths are "unknown" and, with no other path met, the outcome is "does not meet"
    with that reason (there is no test to order): clinician judgement.
20. **Post-infusion items** not yet done and whose window has not passed are "due" (with their
    due date, possibly in the future); "overdue" once due date + tolerance has passed.
21. **Dialysis** (spec §3 "dialysis -> 4.0") is read from an active Z99.2 (dependence on renal
    dialysis; code not in the spec's list): MELD and MELD-Na use creatinine 4.0,
    MELD 3.0 uses 3.0, and a measured creatinine is still required. Dialysis procedures (the
    OPTN "twice in the prior week" rule) are not read.
    **Not read by this ruleset** (known limits): the cholestatic Child-Pugh bilirubin bands
    for PBC/PSC; elastography reliability (IQR/median); Observations that carry results only in
    `component`; imaging reports; medication doses and treatment end dates.
    **Medications** are recognised by RxNorm code only (never by text): the ingredient codes,
    plus the clinical drugs (SCD) of NLM VSAC value sets for anticoagulants and AIH
    immunosuppressants, and the single-ingredient clinical and branded drugs (SCD, SBD) of an
    RxNorm release extract for UDCA and HBV antivirals. Not recognised: branded anticoagulants
    and AIH drugs (SBD) and combination products (e.g. HIV regimens containing tenofovir or
    lamivudine): such a patient reads as "not on" that medication, which errs the conservative
    way (for anticoagulants the INR is then used; without UDCA or an antiviral a path is not met).
"""


def _table(headers: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(ruleset: Ruleset, raw: dict[str, Any]) -> str:
    out: list[str] = [
        "# Clinical rules (generated)",
        "",
        f"Ruleset version **{ruleset.version}**, the computable reading of `{raw['spec']}`.",
        "Generated by `python -m cds_service.clinical.rules_doc` from "
        "`cds_service/clinical/data/ruleset.yaml`: edit the data, not this file.",
        "",
        "## Outcome",
        "",
        "One screening outcome per evaluation, in this precedence: **not applicable** (no liver "
        "diagnosis and no persistent ALT elevation: no card) > **excluded** (any exclusion met; "
        "all "
        "are listed) > **workup incomplete** (an exclusion unknown, or blocking workup missing or "
        "stale) > **meets screening criteria** (any candidacy path met) > **does not meet**. "
        "Unknown on an exclusion is never read as clear. A recorded MSC infusion adds the "
        "post-infusion monitoring schedule whatever the outcome.",
        "",
        "## Reason ids (rules)",
        "",
        "Stable ids used in `Assessment.rules`, `Assessment.reason_ids`, audit records and fixture "
        "expected-outcome files. Each rule answers met / not-met / unknown with a reason and "
        "evidence.",
        "",
        _table(
            ["id", "kind", "label", "met when (and unknown when)"],
            [[f"`{r.id}`", r.kind, r.label, r.description] for r in ruleset.rules],
        ),
        "",
        "## Workup ids",
        "",
        "Blocking items keep the outcome at workup incomplete and are in `reason_ids`; planned "
        "items "
        "are the rest of the clinic's pre-therapy assessment (listed on the candidacy card, never "
        "blocking). Each carries the LOINC code(s) to order.",
        "",
        _table(["id", "blocking", "when"], [[f"`{i}`", b, w] for i, b, w in WORKUP_CATALOG]),
        "",
        "## Thresholds",
        "",
        _table(
            ["name", "value", "unit", "source"],
            [
                [f"`{k}`", f"{v['value']:g}", v["unit"], v["source"]]
                for k, v in raw["thresholds"].items()
            ],
        ),
        "",
        "Normal limits (the lab's own reference range wins): "
        + "; ".join(
            f"{k} {v['low']:g}-{v['high']:g} {v['unit']}" for k, v in raw["normal_ranges"].items()
        )
        + ".",
        "",
        "Windows (days): " + ", ".join(f"{k} {v}" for k, v in raw["windows"].items()) + ".",
        "",
        "## Scores",
        "",
        "Child-Pugh (estimated: ascites/encephalopathy from conditions; not computed from an INR "
        "on "
        "anticoagulation), MELD(i), MELD-Na (OPTN 2016), MELD 3.0 (Kim 2021), FIB-4 (low cut-off "
        "2.0 "
        "at 65 or more; flagged unreliable under 35), APRI (AST ULN from the lab), liver stiffness "
        "bands. Bands:",
        "",
        "```yaml",
        yaml.safe_dump(raw["scores"], sort_keys=False).rstrip(),
        "```",
        "",
        "## Post-infusion monitoring",
        "",
        _table(
            ["id", "label", "offset (days)", "tolerance (days)", "done when a result of", "orders"],
            [
                [
                    f"`{m.id}`",
                    m.label,
                    str(m.offset_days),
                    f"+/- {m.tolerance_days}",
                    ", ".join(m.done_when_any),
                    ", ".join(ruleset.order(a).loinc for a in m.orders),
                ]
                for m in ruleset.monitoring
            ],
        ),
        "",
        AMBIGUITIES,
        "## Value sets",
        "",
        "Verification: V-pkg official ICD-10-CM FY2026 file; V-src seen in a named source; V-syn "
        "seen "
        "in Synthea; **M from memory, unverified** (confirm with a terminology server before "
        "clinical "
        "use); local: clinic-local code.",
        "",
    ]
    systems = raw["systems"]
    for section in ("observations", "conditions", "medications", "procedures"):
        out += [f"### {section.capitalize()}", ""]
        rows: list[list[str]] = []
        for name, spec in raw[section].items():
            for entry in spec["codes"]:
                match = "family (prefix)" if entry.get("prefix") else "exact"
                extra = entry.get("display") or ""
                note = entry.get("note") or spec.get("note") or ""
                rows.append(
                    [
                        f"`{name}`",
                        spec["label"],
                        systems[entry["system"]],
                        f"`{entry['code']}`",
                        match,
                        entry["verification"],
                        "; ".join(x for x in (extra, note) if x),
                    ]
                )
        out += [
            _table(["value set", "label", "system", "code", "match", "verified", "note"], rows),
            "",
        ]
    out += ["### Units", ""]
    unit_rows = []
    for name, spec in raw["units"].items():
        accepted = ", ".join(
            f"{a['unit']}"
            + (
                " (x10^value)"
                if "transform" in a
                else f" (/{a['divide_by']:g})"
                if "divide_by" in a
                else ""
                if a.get("multiply_by") == 1
                else f" (x{a['multiply_by']:g})"
            )
            for a in spec.get("accept", [])
        )
        unit_rows.append([f"`{name}`", spec["canonical"], accepted or "(qualitative answers)"])
    out += [_table(["kind", "canonical", "accepted (conversion)"], unit_rows), ""]
    out += [
        "Any other unit is unknown: the value is not used and a data-quality note says so.",
        "",
    ]
    return "\n".join(out)


def main() -> None:
    from cds_service.clinical import ClinicalEngine

    engine = ClinicalEngine.load()
    raw = yaml.safe_load((DEFAULT_DATA_DIR / RULESET_FILE).read_text(encoding="utf-8"))
    text = render_markdown(engine.ruleset, raw)
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
