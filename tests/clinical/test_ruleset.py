"""Start-up validation: a broken ruleset file is rejected at load with a clear message."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from cds_service.clinical import ClinicalEngine, RulesetError
from cds_service.clinical.ruleset import (
    DEFAULT_DATA_DIR,
    loinc_check_digit_ok,
    snomed_check_digit_ok,
)

Mutator = Callable[[dict[str, Any]], None]


def broken_copy(tmp_path: Path, mutate: Mutator) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, target)
    path = target / "ruleset.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutate(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return target


def code_entry(raw: dict[str, Any], section: str, name: str, index: int = 0) -> dict[str, Any]:
    entry: dict[str, Any] = raw[section][name]["codes"][index]
    return entry


def test_shipped_ruleset_loads(engine: ClinicalEngine) -> None:
    assert engine.version.startswith("clinical-rules-v1/")
    tokens = engine.observation_code_tokens()
    assert "http://loinc.org|1742-6" in tokens
    assert "http://loinc.org|77615-3" in tokens
    assert len(tokens) == len(set(tokens))


def test_unchanged_copy_loads(tmp_path: Path) -> None:
    directory = broken_copy(tmp_path, lambda raw: None)
    assert ClinicalEngine.load(directory).version == ClinicalEngine.load().version


BROKEN: list[tuple[str, Mutator, str]] = [
    (
        "unknown predicate",
        lambda raw: raw["rules"][0].update(predicate="liver_cancr"),
        "unknown predicate 'liver_cancr'",
    ),
    (
        "unknown unit on a threshold",
        lambda raw: raw["thresholds"]["alt-uln-male"].update(unit="U/dL"),
        "unknown unit 'U/dL'",
    ),
    (
        "threshold in the wrong unit",
        lambda raw: raw["thresholds"]["psc-creatinine-max"].update(unit="U/L"),
        "unit must be 'mg/dL'",
    ),
    (
        "unknown unit kind",
        lambda raw: raw["observations"]["alt"].update(units="catalytik"),
        "unknown unit kind 'catalytik'",
    ),
    (
        "inverted normal range",
        lambda raw: raw["normal_ranges"]["albumin"].update(low=5.5, high=3.5),
        "inverted range",
    ),
    (
        "inverted score band",
        lambda raw: raw["scores"]["fib-4"].update(low_below=3.0),
        "inverted range",
    ),
    (
        "inverted Child-Pugh band",
        lambda raw: raw["scores"]["child-pugh"]["bilirubin"].update(two_points_from=4.0),
        "inverted range",
    ),
    (
        "LOINC typo (check digit)",
        lambda raw: code_entry(raw, "observations", "alt").update(code="1742-7"),
        "malformed LOINC code '1742-7'",
    ),
    (
        "LOINC malformed pattern",
        lambda raw: code_entry(raw, "observations", "alt").update(code="1742"),
        "does not match",
    ),
    (
        "ICD-10-CM malformed",
        lambda raw: code_entry(raw, "conditions", "masld", 4).update(code="K760."),
        "does not match",
    ),
    (
        "SNOMED non-digits",
        lambda raw: code_entry(raw, "conditions", "masld").update(code="12318240O9"),
        "does not match",
    ),
    (
        "SNOMED typo (Verhoeff)",
        lambda raw: code_entry(raw, "conditions", "masld").update(code="1231824008"),
        "Verhoeff",
    ),
    (
        "unknown code system",
        lambda raw: code_entry(raw, "conditions", "masld").update(system="snowmed"),
        "unknown code system 'snowmed'",
    ),
    (
        "missing version",
        lambda raw: raw.pop("version"),
        "'version' is a required property",
    ),
    (
        "missing value set the rules read",
        lambda raw: raw["conditions"].pop("cirrhosis"),
        "missing value set 'cirrhosis'",
    ),
    (
        "missing threshold",
        lambda raw: raw["thresholds"].pop("meld-na-exclusion"),
        "missing threshold 'meld-na-exclusion'",
    ),
    (
        "negative threshold",
        lambda raw: raw["thresholds"]["platelets-severe"].update(value=-50),
        "positive number",
    ),
    (
        "code in two value sets",
        lambda raw: raw["observations"]["ast"]["codes"].append(
            {"system": "loinc", "code": "1742-6", "verification": "M"}
        ),
        "already belongs to 'alt'",
    ),
    (
        "unknown verification tag",
        lambda raw: code_entry(raw, "observations", "alt").update(verification="maybe"),
        "is not one of",
    ),
    (
        "monitoring reads an unknown analyte",
        lambda raw: raw["monitoring"][0].update(done_when_any=["alt", "altt"]),
        "unknown analyte 'altt'",
    ),
    (
        "rule id does not match its kind",
        lambda raw: raw["rules"][0].update(kind="indication"),
        "does not match kind",
    ),
    (
        "prefix on a non-ICD code",
        lambda raw: code_entry(raw, "conditions", "masld").update(prefix=True),
        "only meaningful for ICD-10-CM",
    ),
]


@pytest.mark.parametrize(("what", "mutate", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_ruleset_is_rejected_at_load(
    tmp_path: Path, what: str, mutate: Mutator, message: str
) -> None:
    directory = broken_copy(tmp_path, mutate)
    with pytest.raises(RulesetError) as caught:
        ClinicalEngine.load(directory)
    text = str(caught.value)
    assert message in text, text
    assert "ruleset.yaml" in text  # says which file


def test_invalid_yaml_is_rejected(tmp_path: Path) -> None:
    target = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, target)
    (target / "ruleset.yaml").write_text("version: [unclosed\n", encoding="utf-8")
    with pytest.raises(RulesetError, match="not valid YAML"):
        ClinicalEngine.load(target)


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(RulesetError, match="cannot read the ruleset"):
        ClinicalEngine.load(tmp_path)


def test_ruleset_error_is_a_value_error() -> None:
    assert issubclass(RulesetError, ValueError)


@pytest.mark.parametrize("code", ["1742-6", "1920-8", "6301-6", "777-3", "77615-3", "42595-9"])
def test_loinc_check_digit_accepts_real_codes(code: str) -> None:
    assert loinc_check_digit_ok(code)


@pytest.mark.parametrize("code", ["1742-5", "1920-9", "x-1", "17426"])
def test_loinc_check_digit_rejects_typos(code: str) -> None:
    assert not loinc_check_digit_ok(code)


@pytest.mark.parametrize(
    "code", ["19943007", "1231824009", "831000119103", "260415000", "44054006"]
)
def test_snomed_verhoeff_accepts_real_codes(code: str) -> None:
    assert snomed_check_digit_ok(code)


@pytest.mark.parametrize("code", ["19943008", "1231824000", "12a"])
def test_snomed_verhoeff_rejects_typos(code: str) -> None:
    assert not snomed_check_digit_ok(code)


def test_every_code_carries_a_verification_tag(engine: ClinicalEngine) -> None:
    tags = engine.ruleset.code_verification
    assert tags["http://loinc.org|1742-6"] == "V-src"
    assert tags["http://www.nlm.nih.gov/research/umls/rxnorm|11289"] == "V-src"
    assert tags["http://loinc.org|5048-4"] == "M"  # no source found yet (2026-11-25)
    assert tags["urn:msc-liver-screening:procedure|msc-infusion"] == "local"
    assert set(tags.values()) <= {"V-pkg", "V-src", "V-syn", "M", "local"}
