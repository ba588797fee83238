"""Load, validate and index the clinical ruleset (value sets, units, thresholds, windows, rules).

Everything a clinician reviews lives in ``data/ruleset.yaml``. This module reads it once at
start-up, validates it against ``data/ruleset.schema.json`` and then checks what a JSON Schema
cannot: LOINC and SNOMED CT check digits, references between sections (unit kinds, analytes,
predicates), threshold units and inverted ranges. Any problem raises :class:`RulesetError` naming
the file and the place in it, so a typo stops the service from starting instead of surfacing in a
request. The result is a :class:`Ruleset` whose code look-ups are plain dict/set operations.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from cds_service.clinical.model import OrderableTest

RULESET_FILE = "ruleset.yaml"
SCHEMA_FILE = "ruleset.schema.json"
DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data"

#: Thresholds the engine reads, with the unit each must be written in.
REQUIRED_THRESHOLDS: Mapping[str, str] = {
    "alt-uln-male": "U/L",
    "alt-uln-female": "U/L",
    "hbv-dna-active": "[IU]/mL",
    "inr-coagulopathy": "{INR}",
    "pt-prolongation": "s",
    "platelets-severe": "10*9/L",
    "meld-na-exclusion": "{score}",
    "child-pugh-decompensation": "{score}",
    "lsm-cirrhosis": "kPa",
    "lsm-fibrosis-min": "kPa",
    "pbc-alp-uln-multiple": "{ratio}",
    "psc-bilirubin-uln-multiple": "{ratio}",
    "psc-creatinine-max": "mg/dL",
    "bilirubin-uln-default": "mg/dL",
    "apri-ast-uln-default": "U/L",
}
REQUIRED_NORMAL_RANGES: Mapping[str, str] = {
    "bilirubin": "mg/dL",
    "albumin": "g/dL",
    "inr": "{INR}",
}
REQUIRED_WINDOWS = (
    "liver-panel",
    "viral-load",
    "hcv-rna-exclusion",
    "elastography",
    "fibrosis-assessment",
    "events",
    "persistence-window",
    "persistence-min-gap",
    "post-covid-min",
    "hcv-svr",
    "udca-min",
    "metabolic-review",
)
#: Analytes the rules read by name: each must be defined in ``observations``.
REQUIRED_ANALYTES = (
    "alt",
    "ast",
    "ggt",
    "alp",
    "bilirubin",
    "albumin",
    "inr",
    "pt",
    "platelets",
    "sodium",
    "creatinine",
    "hbv-dna",
    "hbsag",
    "hcv-rna",
    "hcv-antibody",
    "ana",
    "asma",
    "hba1c",
    "ferritin",
    "cholesterol",
    "afp",
    "liver-stiffness",
    "sars-cov-2",
)
REQUIRED_CONDITIONS = (
    "masld",
    "nash",
    "aih",
    "pbc",
    "psc",
    "hbv",
    "hcv",
    "viral-sequelae",
    "fibrosis",
    "fibrosis-f1-f3",
    "cirrhosis",
    "liver-cancer",
    "ascites",
    "variceal-bleeding",
    "hepatic-encephalopathy",
    "hepatorenal",
    "liver-failure",
    "awaiting-transplant",
    "liver-transplant-status",
    "bleeding-disorder",
    "long-term-anticoagulation",
    "covid-19",
    "post-covid",
    "metabolic-syndrome",
    "type-2-diabetes",
    "elevated-transaminases",
)
REQUIRED_MEDICATIONS = ("anticoagulant", "aih-immunosuppression", "udca", "hbv-antiviral")
REQUIRED_PROCEDURES = ("msc-infusion",)
#: Units a threshold may carry besides the canonical units of the unit kinds.
DIMENSIONLESS_UNITS = frozenset({"{score}", "{ratio}"})


class RulesetError(ValueError):
    """The ruleset files are missing, malformed or inconsistent (raised at load, never later)."""


def normalise_unit(unit: str) -> str:
    """The spelling-insensitive key a unit is looked up by ("µmol/L" == "umol/l")."""
    return unit.strip().replace("µ", "u").replace("μ", "u").replace(" ", "").lower()


def normalise_icd(code: str) -> str:
    return code.strip().replace(".", "").upper()


@dataclass(frozen=True, slots=True)
class UnitConversion:
    factor: float
    pow10: bool = False

    def apply(self, value: float) -> float:
        return 10.0**value if self.pow10 else value * self.factor


@dataclass(frozen=True, slots=True)
class UnitKind:
    name: str
    canonical: str
    unit_optional: bool
    qualitative: bool
    conversions: Mapping[str, UnitConversion]  # keyed by normalise_unit(spelling)

    def conversion(self, unit: str | None) -> UnitConversion | None:
        if unit is None or not unit.strip():
            return UnitConversion(1.0) if self.unit_optional else None
        return self.conversions.get(normalise_unit(unit))


@dataclass(frozen=True, slots=True)
class AnalyteCode:
    analyte: str
    token: str  # "http://loinc.org|1742-6"
    units: UnitKind


@dataclass(frozen=True, slots=True)
class Analyte:
    name: str
    label: str
    units: UnitKind
    order: OrderableTest


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: str
    kind: str
    label: str
    predicate: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class MonitoringSpec:
    id: str
    label: str
    offset_days: int
    tolerance_days: int
    done_when_any: tuple[str, ...]
    orders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CodeIndex:
    """(system, code) -> concept names, plus ICD-10-CM families by prefix (dot removed)."""

    exact: Mapping[tuple[str, str], frozenset[str]]
    icd_exact: Mapping[str, frozenset[str]]
    icd_prefix: Mapping[str, frozenset[str]]
    icd_system: str

    def concepts(self, system: str, code: str) -> frozenset[str]:
        if system == self.icd_system:
            key = normalise_icd(code)
            found = self.icd_exact.get(key, frozenset())
            if self.icd_prefix:
                for end in range(3, len(key) + 1):
                    extra = self.icd_prefix.get(key[:end])
                    if extra:
                        found = found | extra
            return found
        return self.exact.get((system, code.strip()), frozenset())


@dataclass(frozen=True, slots=True)
class Ruleset:
    version: str
    systems: Mapping[str, str]
    system_aliases: Mapping[str, str]  # alias URI -> canonical URI
    analytes: Mapping[str, Analyte]
    observation_index: Mapping[tuple[str, str], AnalyteCode]
    observation_tokens: tuple[str, ...]
    positive_codes: frozenset[tuple[str, str]]
    negative_codes: frozenset[tuple[str, str]]
    positive_interpretations: frozenset[str]
    negative_interpretations: frozenset[str]
    positive_text: frozenset[str]
    negative_text: frozenset[str]
    conditions: CodeIndex
    condition_labels: Mapping[str, str]
    liver_concepts: frozenset[str]
    medications: CodeIndex
    procedures: CodeIndex
    thresholds: Mapping[str, float]
    normal_ranges: Mapping[str, tuple[float, float]]
    windows: Mapping[str, int]
    scores: Mapping[str, Mapping[str, Any]]
    rules: tuple[RuleSpec, ...]
    monitoring: tuple[MonitoringSpec, ...]
    code_verification: Mapping[str, str]  # token -> verification tag

    def system(self, uri: str) -> str:
        return self.system_aliases.get(uri, uri)

    def order(self, analyte: str) -> OrderableTest:
        return self.analytes[analyte].order


# --- check digits -------------------------------------------------------------------------------


def loinc_check_digit_ok(code: str) -> bool:
    """LOINC's mod-10 check digit (the part after the hyphen)."""
    body, _, check = code.partition("-")
    if not body.isdigit() or not check.isdigit() or len(check) != 1:
        return False
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:  # odd positions from the right are doubled
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10 == int(check)


_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def snomed_check_digit_ok(code: str) -> bool:
    """SNOMED CT identifiers end in a Verhoeff check digit."""
    if not code.isdigit():
        return False
    check = 0
    for position, char in enumerate(reversed(code)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[position % 8][int(char)]]
    return check == 0


# --- loading ------------------------------------------------------------------------------------


def load_ruleset(data_dir: Path | None, predicate_names: Iterable[str]) -> Ruleset:
    directory = data_dir if data_dir is not None else DEFAULT_DATA_DIR
    ruleset_path = directory / RULESET_FILE
    schema_path = directory / SCHEMA_FILE
    if not schema_path.is_file():
        schema_path = DEFAULT_DATA_DIR / SCHEMA_FILE
    try:
        raw = yaml.safe_load(ruleset_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesetError(f"{ruleset_path}: cannot read the ruleset: {exc}") from exc
    except yaml.YAMLError as exc:
        raise RulesetError(f"{ruleset_path}: not valid YAML: {exc}") from exc
    try:
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RulesetError(f"{schema_path}: cannot read the ruleset schema: {exc}") from exc
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise RulesetError(f"{ruleset_path}: at {where}: {first.message}{more}")
    return _Builder(raw, str(ruleset_path), frozenset(predicate_names)).build()


class _Builder:
    def __init__(self, raw: Mapping[str, Any], source: str, predicates: frozenset[str]) -> None:
        self.raw = raw
        self.source = source
        self.predicates = predicates
        self.systems: dict[str, str] = dict(raw["systems"])
        self.verification: dict[str, str] = {}

    def fail(self, where: str, message: str) -> RulesetError:
        return RulesetError(f"{self.source}: at {where}: {message}")

    def build(self) -> Ruleset:
        raw = self.raw
        aliases = {}
        for uri, name in raw["system_aliases"].items():
            aliases[uri] = self.system_uri(name, f"system_aliases/{uri}")
        units = self.build_units()
        analytes, obs_index, tokens = self.build_observations(units)
        answers = raw["result_answers"]
        conditions = self.build_index(raw["conditions"], "conditions", REQUIRED_CONDITIONS)
        thresholds = self.build_thresholds(units)
        ranges = self.build_ranges()
        windows = dict(raw["windows"])
        for name in REQUIRED_WINDOWS:
            if name not in windows:
                raise self.fail("windows", f"missing window {name!r}")
        scores = self.build_scores()
        rules = self.build_rules()
        monitoring = self.build_monitoring(analytes)
        return Ruleset(
            version=raw["version"],
            systems=self.systems,
            system_aliases=aliases,
            analytes=analytes,
            observation_index=obs_index,
            observation_tokens=tokens,
            positive_codes=self.code_pairs(answers["positive"]["codes"], "result_answers/positive"),
            negative_codes=self.code_pairs(answers["negative"]["codes"], "result_answers/negative"),
            positive_interpretations=frozenset(answers["positive"]["interpretation"]),
            negative_interpretations=frozenset(answers["negative"]["interpretation"]),
            positive_text=frozenset(t.lower() for t in answers["positive"]["text"]),
            negative_text=frozenset(t.lower() for t in answers["negative"]["text"]),
            conditions=conditions,
            condition_labels={k: v["label"] for k, v in raw["conditions"].items()},
            liver_concepts=frozenset(k for k, v in raw["conditions"].items() if v["liver"]),
            medications=self.build_index(raw["medications"], "medications", REQUIRED_MEDICATIONS),
            procedures=self.build_index(raw["procedures"], "procedures", REQUIRED_PROCEDURES),
            thresholds=thresholds,
            normal_ranges=ranges,
            windows=windows,
            scores=scores,
            rules=rules,
            monitoring=monitoring,
            code_verification=self.verification,
        )

    def system_uri(self, name: str, where: str) -> str:
        uri = self.systems.get(name)
        if uri is None:
            known = ", ".join(sorted(self.systems))
            raise self.fail(where, f"unknown code system {name!r} (known: {known})")
        return uri

    def check_code(self, entry: Mapping[str, Any], where: str) -> tuple[str, str]:
        system_name = entry["system"]
        uri = self.system_uri(system_name, where)
        code = entry["code"]
        exempt = bool(entry.get("check_digit_exempt", False))
        if system_name == "loinc" and not exempt and not loinc_check_digit_ok(code):
            raise self.fail(where, f"malformed LOINC code {code!r}: check digit does not match")
        if system_name == "snomed" and not snomed_check_digit_ok(code):
            raise self.fail(where, f"malformed SNOMED CT code {code!r}: Verhoeff check fails")
        self.verification[f"{uri}|{code}"] = entry["verification"]
        return uri, code

    def code_pairs(
        self, entries: Iterable[Mapping[str, Any]], where: str
    ) -> frozenset[tuple[str, str]]:
        return frozenset(self.check_code(e, f"{where}/codes/{i}") for i, e in enumerate(entries))

    def build_units(self) -> dict[str, UnitKind]:
        kinds: dict[str, UnitKind] = {}
        for name, spec in self.raw["units"].items():
            conversions: dict[str, UnitConversion] = {}
            for i, acc in enumerate(spec.get("accept", [])):
                key = normalise_unit(acc["unit"])
                if key in conversions:
                    raise self.fail(
                        f"units/{name}/accept/{i}", f"unit {acc['unit']!r} listed twice"
                    )
                if "transform" in acc:
                    conversions[key] = UnitConversion(1.0, pow10=True)
                elif "divide_by" in acc:
                    conversions[key] = UnitConversion(1.0 / float(acc["divide_by"]))
                else:
                    conversions[key] = UnitConversion(float(acc["multiply_by"]))
            qualitative = bool(spec.get("qualitative", False))
            converts_log = any(c.pow10 for c in conversions.values())
            if (
                not (qualitative or converts_log)
                and normalise_unit(spec["canonical"]) not in conversions
            ):
                raise self.fail(
                    f"units/{name}", "the canonical unit must be among the accepted units"
                )
            kinds[name] = UnitKind(
                name=name,
                canonical=spec["canonical"],
                unit_optional=bool(spec.get("unit_optional", False)),
                qualitative=qualitative,
                conversions=conversions,
            )
        return kinds

    def unit_kind(self, units: Mapping[str, UnitKind], name: str, where: str) -> UnitKind:
        kind = units.get(name)
        if kind is None:
            raise self.fail(
                where, f"unknown unit kind {name!r} (known: {', '.join(sorted(units))})"
            )
        return kind

    def build_observations(
        self, units: Mapping[str, UnitKind]
    ) -> tuple[dict[str, Analyte], dict[tuple[str, str], AnalyteCode], tuple[str, ...]]:
        analytes: dict[str, Analyte] = {}
        index: dict[tuple[str, str], AnalyteCode] = {}
        tokens: list[str] = []
        for name, spec in self.raw["observations"].items():
            where = f"observations/{name}"
            kind = self.unit_kind(units, spec["units"], f"{where}/units")
            order = spec["order"]
            if not loinc_check_digit_ok(order["loinc"]):
                raise self.fail(f"{where}/order", f"malformed LOINC code {order['loinc']!r}")
            analytes[name] = Analyte(
                name, spec["label"], kind, OrderableTest(order["loinc"], order["display"])
            )
            for i, entry in enumerate(spec["codes"]):
                uri, code = self.check_code(entry, f"{where}/codes/{i}")
                if (uri, code) in index:
                    other = index[(uri, code)].analyte
                    raise self.fail(
                        f"{where}/codes/{i}", f"code {code} already belongs to {other!r}"
                    )
                entry_kind = kind
                if "units" in entry:
                    entry_kind = self.unit_kind(units, entry["units"], f"{where}/codes/{i}/units")
                token = f"{uri}|{code}"
                index[(uri, code)] = AnalyteCode(name, token, entry_kind)
                tokens.append(token)
        for name in REQUIRED_ANALYTES:
            if name not in analytes:
                raise self.fail("observations", f"missing value set {name!r} (the rules read it)")
        return analytes, index, tuple(tokens)

    def build_index(
        self, groups: Mapping[str, Any], section: str, required: Iterable[str]
    ) -> CodeIndex:
        exact: dict[tuple[str, str], set[str]] = {}
        icd_exact: dict[str, set[str]] = {}
        icd_prefix: dict[str, set[str]] = {}
        icd_uri = self.systems["icd10cm"]
        for name, spec in groups.items():
            for i, entry in enumerate(spec["codes"]):
                where = f"{section}/{name}/codes/{i}"
                uri, code = self.check_code(entry, where)
                if uri == icd_uri:
                    target = icd_prefix if entry.get("prefix", False) else icd_exact
                    target.setdefault(normalise_icd(code), set()).add(name)
                elif entry.get("prefix", False):
                    raise self.fail(where, "prefix matching is only meaningful for ICD-10-CM")
                else:
                    exact.setdefault((uri, code), set()).add(name)
        for name in required:
            if name not in groups:
                raise self.fail(section, f"missing value set {name!r} (the rules read it)")
        return CodeIndex(
            exact={k: frozenset(v) for k, v in exact.items()},
            icd_exact={k: frozenset(v) for k, v in icd_exact.items()},
            icd_prefix={k: frozenset(v) for k, v in icd_prefix.items()},
            icd_system=icd_uri,
        )

    def known_units(self) -> frozenset[str]:
        return (
            frozenset(spec["canonical"] for spec in self.raw["units"].values())
            | DIMENSIONLESS_UNITS
        )

    def build_thresholds(self, units: Mapping[str, UnitKind]) -> dict[str, float]:
        known = self.known_units()
        out: dict[str, float] = {}
        for name, spec in self.raw["thresholds"].items():
            unit = spec["unit"]
            if unit not in known:
                raise self.fail(
                    f"thresholds/{name}",
                    f"unknown unit {unit!r} (known: {', '.join(sorted(known))})",
                )
            expected = REQUIRED_THRESHOLDS.get(name)
            if expected is not None and unit != expected:
                raise self.fail(f"thresholds/{name}", f"unit must be {expected!r}, not {unit!r}")
            value = float(spec["value"])
            if not math.isfinite(value) or value <= 0:
                raise self.fail(
                    f"thresholds/{name}", f"value must be a positive number, not {value}"
                )
            out[name] = value
        for name in REQUIRED_THRESHOLDS:
            if name not in out:
                raise self.fail("thresholds", f"missing threshold {name!r}")
        return out

    def build_ranges(self) -> dict[str, tuple[float, float]]:
        known = self.known_units()
        out: dict[str, tuple[float, float]] = {}
        for name, spec in self.raw["normal_ranges"].items():
            where = f"normal_ranges/{name}"
            if spec["unit"] not in known:
                raise self.fail(where, f"unknown unit {spec['unit']!r}")
            expected = REQUIRED_NORMAL_RANGES.get(name)
            if expected is not None and spec["unit"] != expected:
                raise self.fail(where, f"unit must be {expected!r}, not {spec['unit']!r}")
            low, high = float(spec["low"]), float(spec["high"])
            if not low < high:
                raise self.fail(where, f"inverted range: low {low} is not below high {high}")
            out[name] = (low, high)
        for name in REQUIRED_NORMAL_RANGES:
            if name not in out:
                raise self.fail("normal_ranges", f"missing range {name!r}")
        return out

    def build_scores(self) -> dict[str, Mapping[str, Any]]:
        scores: Mapping[str, Any] = self.raw["scores"]

        def num(path: str) -> float:
            node: Any = scores
            for part in path.split("/"):
                if not isinstance(node, Mapping) or part not in node:
                    raise self.fail(f"scores/{path}", "missing")
                node = node[part]
            if isinstance(node, bool) or not isinstance(node, int | float):
                raise self.fail(f"scores/{path}", f"must be a number, not {node!r}")
            return float(node)

        def ordered(where: str, *paths: str) -> None:
            values = [num(p) for p in paths]
            if any(a >= b for a, b in itertools.pairwise(values)):
                shown = ", ".join(f"{p}={v:g}" for p, v in zip(paths, values, strict=True))
                raise self.fail(f"scores/{where}", f"inverted range: expected increasing {shown}")

        ordered(
            "child-pugh/bilirubin",
            "child-pugh/bilirubin/two_points_from",
            "child-pugh/bilirubin/three_points_above",
        )
        ordered(
            "child-pugh/albumin",
            "child-pugh/albumin/three_points_below",
            "child-pugh/albumin/two_points_from",
        )
        ordered(
            "child-pugh/inr", "child-pugh/inr/two_points_from", "child-pugh/inr/three_points_above"
        )
        for cls in ("A", "B", "C"):
            ordered(
                f"child-pugh/classes/{cls}",
                f"child-pugh/classes/{cls}/low",
                f"child-pugh/classes/{cls}/high",
            )
        ordered("fib-4", "fib-4/low_below", "fib-4/high_above")
        ordered("fib-4", "fib-4/low_below_age_65", "fib-4/high_above")
        num("fib-4/unreliable_under_age")
        ordered(
            "apri", "apri/unlikely_at_or_below", "apri/significant_above", "apri/cirrhosis_above"
        )
        ordered("elastography", "elastography/low_below", "elastography/high_above")
        ordered(
            "elastography",
            "elastography/cacld_rule_out_below",
            "elastography/cacld_suggestive_from",
            "elastography/csph_from",
        )
        return dict(scores.items())

    def build_rules(self) -> tuple[RuleSpec, ...]:
        rules: list[RuleSpec] = []
        seen: set[str] = set()
        for i, spec in enumerate(self.raw["rules"]):
            where = f"rules/{i}"
            if spec["predicate"] not in self.predicates:
                known = ", ".join(sorted(self.predicates))
                raise self.fail(where, f"unknown predicate {spec['predicate']!r} (known: {known})")
            if not spec["id"].startswith(spec["kind"] + "."):
                raise self.fail(where, f"id {spec['id']!r} does not match kind {spec['kind']!r}")
            if spec["id"] in seen:
                raise self.fail(where, f"rule id {spec['id']!r} listed twice")
            seen.add(spec["id"])
            rules.append(
                RuleSpec(
                    spec["id"], spec["kind"], spec["label"], spec["predicate"], spec["description"]
                )
            )
        return tuple(rules)

    def build_monitoring(self, analytes: Mapping[str, Analyte]) -> tuple[MonitoringSpec, ...]:
        items: list[MonitoringSpec] = []
        for i, spec in enumerate(self.raw["monitoring"]):
            for name in [*spec["done_when_any"], *spec["orders"]]:
                if name not in analytes:
                    raise self.fail(f"monitoring/{i}", f"unknown analyte {name!r}")
            if spec["tolerance_days"] >= spec["offset_days"]:
                raise self.fail(f"monitoring/{i}", "tolerance must be shorter than the offset")
            items.append(
                MonitoringSpec(
                    spec["id"],
                    spec["label"],
                    spec["offset_days"],
                    spec["tolerance_days"],
                    tuple(spec["done_when_any"]),
                    tuple(spec["orders"]),
                )
            )
        return tuple(items)
