"""Clinical scores as small typed functions (clinical-rules-v1 §3).

Two layers: the bare formulas (floats in, float out, no FHIR) which the spec's worked examples
test directly, and builders that take normalised lab results and return a
:class:`~cds_service.clinical.model.ScoreResult` with the inputs actually used (after clamping),
their dates and resource ids, flags and the citation. Every formula returns ``None`` rather than
NaN or infinity for inputs it cannot take (zero or negative counts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from cds_service.clinical.facts import LabResult
from cds_service.clinical.model import Evidence, ScoreInput, ScoreResult

CITATIONS = {
    "child-pugh": "Child-Turcotte-Pugh classification (Pugh RN et al., Br J Surg 1973;60:646-649)",
    "meld": "MELD(i), OPTN/UNOS (Kamath PS et al., Hepatology 2001;33:464-470)",
    "meld-na": "MELD-Na, OPTN policy 9.1 (January 2016)",
    "meld-3.0": "MELD 3.0 (Kim WR et al., Gastroenterology 2021;161:1887-1895.e4, "
    "doi:10.1053/j.gastro.2021.08.050)",
    "fib-4": "FIB-4 (Sterling RK et al., Hepatology 2006); cut-offs AASLD 2023 MASLD guidance; "
    "age >= 65: "
    "McPherson S et al., Am J Gastroenterol 2017;112:740-751",
    "apri": "APRI (Wai CT et al., Hepatology 2003); cut-offs: meta-analysis BMC Gastroenterol "
    "2012 (PMID 22333407)",
    "elastography": "Liver stiffness bands: AASLD 2023 MASLD guidance (8 / 12 kPa); Baveno VII "
    "(10 / 15 / 25 kPa)",
}


# --- formulas -------------------------------------------------------------------------------------


def _positive(*values: float) -> bool:
    return all(math.isfinite(v) and v > 0 for v in values)


def meld_i(creatinine: float, bilirubin: float, inr: float, dialysis: bool = False) -> float | None:
    """MELD(i) = 10 x round(0.957 ln Cr + 0.378 ln bili + 1.120 ln INR + 0.643, 1); mg/dL."""
    if not _positive(creatinine, bilirubin, inr):
        return None
    cr = 4.0 if dialysis else min(max(creatinine, 1.0), 4.0)
    bili, ratio = max(bilirubin, 1.0), max(inr, 1.0)
    raw = 0.957 * math.log(cr) + 0.378 * math.log(bili) + 1.120 * math.log(ratio) + 0.643
    return min(40.0, round(round(raw, 1) * 10, 1))


def meld_na(
    creatinine: float, bilirubin: float, inr: float, sodium: float, dialysis: bool = False
) -> int | None:
    """MELD-Na (OPTN 2016): applied when MELD(i) > 11; Na bounded 125-137; 6-40."""
    meld = meld_i(creatinine, bilirubin, inr, dialysis)
    if meld is None or not math.isfinite(sodium):
        return None
    na = min(max(sodium, 125.0), 137.0)
    if meld > 11:
        meld = meld + 1.32 * (137 - na) - 0.033 * meld * (137 - na)
    return int(min(40, round(meld)))


def meld_3(
    female: bool,
    bilirubin: float,
    sodium: float,
    inr: float,
    creatinine: float,
    albumin: float,
    dialysis: bool = False,
) -> int | None:
    """MELD 3.0 (Kim 2021), rounded, bounded 6-40."""
    if (
        not _positive(bilirubin, inr, creatinine)
        or not math.isfinite(sodium)
        or not math.isfinite(albumin)
    ):
        return None
    bili, ratio = max(bilirubin, 1.0), max(inr, 1.0)
    cr = 3.0 if dialysis else min(max(creatinine, 1.0), 3.0)
    na = min(max(sodium, 125.0), 137.0)
    alb = min(max(albumin, 1.5), 3.5)
    value = (
        1.33 * (1 if female else 0)
        + 4.56 * math.log(bili)
        + 0.82 * (137 - na)
        - 0.24 * (137 - na) * math.log(bili)
        + 9.09 * math.log(ratio)
        + 11.14 * math.log(cr)
        + 1.85 * (3.5 - alb)
        - 1.83 * (3.5 - alb) * math.log(cr)
        + 6
    )
    return int(min(40, max(6, round(value))))


def fib4(age: float, ast: float, alt: float, platelets: float) -> float | None:
    """FIB-4 = age x AST / (platelets[10^9/L] x sqrt(ALT)), rounded to 2 decimals."""
    if not _positive(age, ast, alt, platelets):
        return None
    value = age * ast / (platelets * math.sqrt(alt))
    return round(value, 2) if math.isfinite(value) else None


def apri(ast: float, ast_uln: float, platelets: float) -> float | None:
    """APRI = (AST / AST ULN) / platelets[10^9/L] x 100, rounded to 2 decimals."""
    if not _positive(ast, ast_uln, platelets):
        return None
    value = (ast / ast_uln) / platelets * 100
    return round(value, 2) if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class ChildPughBands:
    bili_two: float
    bili_three: float
    alb_two: float
    alb_three: float
    inr_two: float
    inr_three: float
    classes: tuple[tuple[str, int, int], ...]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ChildPughBands:
        return cls(
            bili_two=float(config["bilirubin"]["two_points_from"]),
            bili_three=float(config["bilirubin"]["three_points_above"]),
            alb_two=float(config["albumin"]["two_points_from"]),
            alb_three=float(config["albumin"]["three_points_below"]),
            inr_two=float(config["inr"]["two_points_from"]),
            inr_three=float(config["inr"]["three_points_above"]),
            classes=tuple(
                (name, int(band["low"]), int(band["high"]))
                for name, band in config["classes"].items()
            ),
        )


def child_pugh_points(
    bilirubin: float,
    albumin: float,
    inr: float,
    ascites: int,
    encephalopathy: int,
    bands: ChildPughBands,
) -> int:
    """Sum of the five 1-3 point items (ascites / encephalopathy given as points)."""
    bili = 1 if bilirubin < bands.bili_two else (3 if bilirubin > bands.bili_three else 2)
    alb = 1 if albumin > bands.alb_two else (3 if albumin < bands.alb_three else 2)
    ratio = 1 if inr < bands.inr_two else (3 if inr > bands.inr_three else 2)
    return bili + alb + ratio + min(max(ascites, 1), 3) + min(max(encephalopathy, 1), 3)


def child_pugh_class(points: int, bands: ChildPughBands) -> str | None:
    for name, low, high in bands.classes:
        if low <= points <= high:
            return name
    return None


def fib4_band(value: float, age: float, config: Mapping[str, Any]) -> str:
    low = float(config["low_below_age_65"]) if age >= 65 else float(config["low_below"])
    if value < low:
        return "low"
    if value > float(config["high_above"]):
        return "high"
    return "indeterminate"


def apri_band(value: float, config: Mapping[str, Any]) -> str:
    if value > float(config["cirrhosis_above"]):
        return "cirrhosis likely"
    if value > float(config["significant_above"]):
        return "significant fibrosis likely"
    if value <= float(config["unlikely_at_or_below"]):
        return "significant fibrosis unlikely"
    return "indeterminate"


def elastography_band(kpa: float, config: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    if kpa < float(config["low_below"]):
        band = "low risk"
    elif kpa > float(config["high_above"]):
        band = "high risk"
    else:
        band = "intermediate"
    flags: list[str] = []
    if kpa < float(config["cacld_rule_out_below"]):
        flags.append(
            "below 10 kPa: rules out compensated advanced chronic liver disease (Baveno VII)"
        )
    if kpa >= float(config["csph_from"]):
        flags.append("25 kPa or more: clinically significant portal hypertension (Baveno VII)")
    elif kpa >= float(config["cacld_suggestive_from"]):
        flags.append(
            "15 kPa or more: highly suggestive of compensated advanced chronic liver disease "
            "(Baveno VII)"
        )
    return band, tuple(flags)


# --- builders -------------------------------------------------------------------------------------


def _lab_input(
    name: str, result: LabResult, low: float | None = None, high: float | None = None
) -> ScoreInput:
    value = _v(result)
    clamped = min(
        max(value, low if low is not None else value), high if high is not None else value
    )
    return ScoreInput(
        name=name,
        value=clamped,
        unit=result.unit,
        evidence=result.evidence(),
        clamped_from=value if clamped != value else None,
    )


def _v(result: LabResult | None) -> float:
    """The value of an input the caller has already checked is present."""
    if result is None or result.value is None:
        raise ValueError("score input without a value (callers check `missing` first)")
    return result.value


def _oldest(results: Sequence[LabResult | None]) -> date | None:
    dates = [r.when.date() for r in results if r is not None]
    return min(dates) if dates else None


def _missing(named: Mapping[str, LabResult | None]) -> tuple[str, ...]:
    return tuple(name for name, result in named.items() if result is None or result.value is None)


@dataclass(frozen=True, slots=True)
class GradeFromConditions:
    """Ascites or encephalopathy points inferred from conditions (never measured here)."""

    points: int
    evidence: Evidence | None
    note: str


def child_pugh_score(
    bilirubin: LabResult | None,
    albumin: LabResult | None,
    inr: LabResult | None,
    ascites: GradeFromConditions,
    encephalopathy: GradeFromConditions,
    anticoagulated: Evidence | None,
    bands: ChildPughBands,
) -> ScoreResult:
    labs = {"bilirubin": bilirubin, "albumin": albumin, "INR": inr}
    missing = list(_missing(labs))
    flags: list[str] = []
    if anticoagulated is not None:
        flags.append("INR on anticoagulation: Child-Pugh not computed from it")
        if "INR" not in missing:
            missing.append("INR")
    grade_inputs = (
        ScoreInput("ascites", ascites.points, "points", ascites.evidence, note=ascites.note),
        ScoreInput(
            "encephalopathy",
            encephalopathy.points,
            "points",
            encephalopathy.evidence,
            note=encephalopathy.note,
        ),
    )
    if missing or bilirubin is None or albumin is None or inr is None:
        return ScoreResult(
            id="child-pugh",
            label="Child-Pugh",
            value=None,
            band=None,
            estimated=True,
            flags=tuple(flags),
            missing=tuple(missing),
            citation=CITATIONS["child-pugh"],
        )
    points = child_pugh_points(
        _v(bilirubin), _v(albumin), _v(inr), ascites.points, encephalopathy.points, bands
    )
    flags.append("estimated: ascites and encephalopathy grades inferred from coded conditions")
    return ScoreResult(
        id="child-pugh",
        label="Child-Pugh",
        value=float(points),
        band=child_pugh_class(points, bands),
        inputs=(
            _lab_input("bilirubin", bilirubin),
            _lab_input("albumin", albumin),
            _lab_input("INR", inr),
            *grade_inputs,
        ),
        estimated=True,
        flags=tuple(flags),
        citation=CITATIONS["child-pugh"],
        inputs_date=_oldest([bilirubin, albumin, inr]),
    )


def meld_scores(
    creatinine: LabResult | None,
    bilirubin: LabResult | None,
    inr: LabResult | None,
    sodium: LabResult | None,
    albumin: LabResult | None,
    female: bool | None,
    anticoagulated: Evidence | None,
    threshold: float,
    dialysis: Evidence | None = None,
) -> tuple[ScoreResult, ScoreResult, ScoreResult]:
    """MELD(i), MELD-Na and MELD 3.0 from the same inputs (mg/dL, mmol/L, g/dL).

    On renal dialysis creatinine is set to 4.0 mg/dL (MELD, MELD-Na) and 3.0 (MELD 3.0), §3.
    """
    flags: tuple[str, ...] = (
        ("INR on anticoagulation: MELD overestimates liver dysfunction",) if anticoagulated else ()
    )
    if dialysis is not None:
        flags += ("on renal dialysis: creatinine set to 4.0 mg/dL (MELD 3.0: 3.0)",)
    on_dialysis = dialysis is not None

    def creatinine_input(result: LabResult, cap: float) -> ScoreInput:
        if not on_dialysis:
            return _lab_input("creatinine", result, 1.0, cap)
        return ScoreInput(
            name="creatinine",
            value=cap,
            unit=result.unit,
            evidence=result.evidence(),
            clamped_from=_v(result) if _v(result) != cap else None,
            note=f"on renal dialysis: set to {cap:g} mg/dL",
        )

    base = {"creatinine": creatinine, "bilirubin": bilirubin, "INR": inr}
    results: list[ScoreResult] = []
    missing = _missing(base)
    if missing or creatinine is None or bilirubin is None or inr is None:
        results.append(
            ScoreResult(
                "meld", "MELD", None, None, flags=flags, missing=missing, citation=CITATIONS["meld"]
            )
        )
    else:
        value = meld_i(_v(creatinine), _v(bilirubin), _v(inr), on_dialysis)
        inputs: tuple[ScoreInput, ...] = (
            creatinine_input(creatinine, 4.0),
            _lab_input("bilirubin", bilirubin, 1.0),
            _lab_input("INR", inr, 1.0),
        )
        results.append(
            ScoreResult(
                "meld",
                "MELD",
                value,
                _meld_band(value, threshold),
                inputs,
                flags=flags,
                citation=CITATIONS["meld"],
                inputs_date=_oldest([creatinine, bilirubin, inr]),
            )
        )
    with_na = {**base, "sodium": sodium}
    missing = _missing(with_na)
    if missing or creatinine is None or bilirubin is None or inr is None or sodium is None:
        results.append(
            ScoreResult(
                "meld-na",
                "MELD-Na",
                None,
                None,
                flags=flags,
                missing=missing,
                citation=CITATIONS["meld-na"],
            )
        )
    else:
        na_value = meld_na(_v(creatinine), _v(bilirubin), _v(inr), _v(sodium), on_dialysis)
        inputs = (
            creatinine_input(creatinine, 4.0),
            _lab_input("bilirubin", bilirubin, 1.0),
            _lab_input("INR", inr, 1.0),
            _lab_input("sodium", sodium, 125.0, 137.0),
        )
        results.append(
            ScoreResult(
                "meld-na",
                "MELD-Na",
                None if na_value is None else float(na_value),
                _meld_band(na_value, threshold),
                inputs,
                flags=flags,
                citation=CITATIONS["meld-na"],
                inputs_date=_oldest([creatinine, bilirubin, inr, sodium]),
            )
        )
    with_alb = {**with_na, "albumin": albumin}
    missing3 = list(_missing(with_alb))
    if female is None:
        missing3.append("sex")
    if (
        missing3
        or creatinine is None
        or bilirubin is None
        or inr is None
        or sodium is None
        or albumin is None
    ):
        results.append(
            ScoreResult(
                "meld-3.0",
                "MELD 3.0",
                None,
                None,
                flags=flags,
                missing=tuple(missing3),
                citation=CITATIONS["meld-3.0"],
            )
        )
    else:
        v3 = meld_3(
            bool(female),
            _v(bilirubin),
            _v(sodium),
            _v(inr),
            _v(creatinine),
            _v(albumin),
            on_dialysis,
        )
        inputs = (
            _lab_input("bilirubin", bilirubin, 1.0),
            _lab_input("sodium", sodium, 125.0, 137.0),
            _lab_input("INR", inr, 1.0),
            creatinine_input(creatinine, 3.0),
            _lab_input("albumin", albumin, 1.5, 3.5),
            ScoreInput("sex", "female" if female else "male", None, None),
        )
        results.append(
            ScoreResult(
                "meld-3.0",
                "MELD 3.0",
                None if v3 is None else float(v3),
                _meld_band(v3, threshold),
                inputs,
                flags=flags,
                citation=CITATIONS["meld-3.0"],
                inputs_date=_oldest([creatinine, bilirubin, inr, sodium, albumin]),
            )
        )
    return results[0], results[1], results[2]


def _meld_band(value: float | None, threshold: float) -> str | None:
    if value is None:
        return None
    return f"{threshold:g} or more" if value >= threshold else f"below {threshold:g}"


def fib4_score(
    age: int | None,
    ast: LabResult | None,
    alt: LabResult | None,
    platelets: LabResult | None,
    config: Mapping[str, Any],
) -> ScoreResult:
    labs = {"AST": ast, "ALT": alt, "platelets": platelets}
    missing = list(_missing(labs))
    if age is None:
        missing.insert(0, "age")
    if missing or age is None or ast is None or alt is None or platelets is None:
        return ScoreResult(
            "fib-4", "FIB-4", None, None, missing=tuple(missing), citation=CITATIONS["fib-4"]
        )
    value = fib4(age, _v(ast), _v(alt), _v(platelets))
    flags: list[str] = []
    if age < float(config["unreliable_under_age"]):
        flags.append(f"unreliable under {float(config['unreliable_under_age']):g} years")
    if age >= 65:
        flags.append("age 65 or more: low cut-off 2.0 (McPherson 2017)")
    band = fib4_band(value, age, config) if value is not None else None
    inputs = (
        ScoreInput("age", float(age), "a", None, note="age at evaluation"),
        _lab_input("AST", ast),
        _lab_input("ALT", alt),
        _lab_input("platelets", platelets),
    )
    return ScoreResult(
        "fib-4",
        "FIB-4",
        value,
        band,
        inputs,
        flags=tuple(flags),
        citation=CITATIONS["fib-4"],
        inputs_date=_oldest([ast, alt, platelets]),
    )


def apri_score(
    ast: LabResult | None,
    platelets: LabResult | None,
    default_uln: float,
    config: Mapping[str, Any],
) -> ScoreResult:
    missing = _missing({"AST": ast, "platelets": platelets})
    if missing or ast is None or platelets is None:
        return ScoreResult("apri", "APRI", None, None, missing=missing, citation=CITATIONS["apri"])
    flags: tuple[str, ...] = ()
    uln = ast.ref_high
    uln_note = "AST upper limit of normal from the lab's reference range"
    if uln is None or uln <= 0:
        uln = default_uln
        uln_note = f"lab reported no AST reference range: clinic default {default_uln:g} U/L used"
        flags = (uln_note,)
    value = apri(_v(ast), uln, _v(platelets))
    inputs = (
        _lab_input("AST", ast),
        ScoreInput("AST ULN", uln, "U/L", None, note=uln_note),
        _lab_input("platelets", platelets),
    )
    return ScoreResult(
        "apri",
        "APRI",
        value,
        apri_band(value, config) if value is not None else None,
        inputs,
        flags=flags,
        citation=CITATIONS["apri"],
        inputs_date=_oldest([ast, platelets]),
    )


def elastography_score(stiffness: LabResult | None, config: Mapping[str, Any]) -> ScoreResult:
    if stiffness is None or stiffness.value is None:
        return ScoreResult(
            "elastography",
            "Liver stiffness",
            None,
            None,
            missing=("liver stiffness",),
            citation=CITATIONS["elastography"],
        )
    band, flags = elastography_band(_v(stiffness), config)
    return ScoreResult(
        "elastography",
        "Liver stiffness",
        _v(stiffness),
        band,
        (_lab_input("liver stiffness", stiffness),),
        flags=flags,
        citation=CITATIONS["elastography"],
        inputs_date=stiffness.when.date(),
    )
