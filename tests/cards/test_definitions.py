"""Card definitions are data, validated at start-up: a typo fails loudly, with a place."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from cds_service.cards import CardConfigError, CardRenderer
from cds_service.resources import data_dir

CARDS = data_dir("cards")
Yaml = dict[str, Any]


@pytest.fixture
def cards_copy(tmp_path: Path) -> Path:
    target = tmp_path / "cards"
    shutil.copytree(CARDS, target)
    return target


def edit_yaml(path: Path, change: Callable[[Yaml], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_the_shipped_definitions_load() -> None:
    renderer = CardRenderer.load()
    assert set(renderer.definitions.cards) == {
        "excluded",
        "workup-incomplete",
        "meets-screening-criteria",
        "does-not-meet",
        "post-infusion-monitoring",
    }


def test_cards_folder_is_found_from_a_checkout() -> None:
    assert (CARDS / "card-definitions.yaml").is_file()
    assert (CARDS / "references.yaml").is_file()


def test_unchanged_copy_loads(cards_copy: Path) -> None:
    CardRenderer.load(cards_copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["cards"]["excluded"].update(indicator="urgent"),
            "cards/excluded/indicator: 'urgent' is not one of",
        ),
        (lambda d: d["cards"].pop("does-not-meet"), "'does-not-meet' is a required property"),
        (
            lambda d: d["cards"]["excluded"]["override_reasons"][0].pop("display"),
            "'display' is a required property",
        ),
        (
            lambda d: d["cards"]["excluded"].update(summry="x"),
            "Additional properties are not allowed",
        ),
        (
            lambda d: d["cards"]["meets-screening-criteria"].update(links=["nowhere"]),
            "names 'nowhere', which is not in shared_links",
        ),
        (
            lambda d: d["shared_links"]["fda_consumer_page"].update(url="http://insecure.example"),
            "does not match",
        ),
        (
            lambda d: d["cards"]["excluded"].update(detail_template="missing.md.j2"),
            "template not found",
        ),
        (
            lambda d: d["cards"]["excluded"].update(summary="Not a candidate: {{ strongest }"),
            "template syntax error",
        ),
        (
            lambda d: d["cards"]["excluded"].update(summary="Not a candidate: {{ strongest }}"),
            "must contain the word 'investigational'",
        ),
        (
            lambda d: d["cards"]["meets-screening-criteria"].update(
                summary="Investigational MSC therapy: recommended for evaluation"
            ),
            "forbidden word 'recommended'",
        ),
        (
            lambda d: d["cards"]["excluded"]["override_reasons"][0].update(
                display="Patient is eligible after all"
            ),
            "forbidden word 'eligible'",
        ),
        (
            lambda d: d["cards"]["workup-incomplete"]["suggestions"].update(
                test_label="Order {{ test"
            ),
            "cards/workup-incomplete/suggestions/test_label: template syntax error",
        ),
        (
            lambda d: d["cards"]["excluded"].update(
                summary="Investigational MSC therapy excluded: {{ strongst }}"
            ),
            "'strongst' is undefined",
        ),
    ],
)
def test_invalid_definitions_fail_at_load(
    cards_copy: Path,
    change: Callable[[Yaml], None],
    message: str,
) -> None:
    edit_yaml(cards_copy / "card-definitions.yaml", change)
    with pytest.raises(CardConfigError, match=None) as info:
        CardRenderer.load(cards_copy)
    assert message in str(info.value)


def test_yaml_syntax_error_names_the_file(cards_copy: Path) -> None:
    (cards_copy / "card-definitions.yaml").write_text("cards: [unclosed\n", encoding="utf-8")
    with pytest.raises(CardConfigError, match=r"card-definitions.yaml: not valid YAML"):
        CardRenderer.load(cards_copy)


def test_template_syntax_error_names_file_and_line(cards_copy: Path) -> None:
    path = cards_copy / "templates" / "excluded.md.j2"
    path.write_text(path.read_text(encoding="utf-8") + "\n{% if %}\n", encoding="utf-8")
    with pytest.raises(CardConfigError, match=r"excluded.md.j2:\d+: template syntax error"):
        CardRenderer.load(cards_copy)


def test_forbidden_word_in_a_template_fails(cards_copy: Path) -> None:
    path = cards_copy / "templates" / "_macros.md.j2"
    path.write_text(path.read_text(encoding="utf-8") + "\nNo cure is known.\n", encoding="utf-8")
    with pytest.raises(CardConfigError, match=r"_macros.md.j2: uses the forbidden word 'cure'"):
        CardRenderer.load(cards_copy)


def test_misspelt_variable_in_a_detail_template_fails_at_load(cards_copy: Path) -> None:
    path = cards_copy / "templates" / "does-not-meet.md.j2"
    path.write_text(path.read_text(encoding="utf-8") + "\n{{ evaluatedat }}\n", encoding="utf-8")
    with pytest.raises(CardConfigError, match=r"'evaluatedat' is undefined"):
        CardRenderer.load(cards_copy)


def test_reference_catalog_errors(cards_copy: Path) -> None:
    def bad_status(d: Yaml) -> None:
        d["references"][-1]["verified"] = True  # a clinic citation claimed verified...

    edit_yaml(cards_copy / "references.yaml", bad_status)  # ...with a not-verified status
    with pytest.raises(CardConfigError, match=r"references.yaml: does not match"):
        CardRenderer.load(cards_copy)


def test_duplicate_reference_id(cards_copy: Path) -> None:
    edit_yaml(
        cards_copy / "references.yaml", lambda d: d["references"].append(dict(d["references"][0]))
    )
    with pytest.raises(CardConfigError, match=r"appears twice"):
        CardRenderer.load(cards_copy)


def test_missing_folder() -> None:
    with pytest.raises(CardConfigError, match="cannot read"):
        CardRenderer.load(Path("/nonexistent/cards"))


ENGINE_RULESET = Path(__file__).parents[2] / "cds_service" / "clinical" / "data" / "ruleset.yaml"


@pytest.mark.skipif(not ENGINE_RULESET.exists(), reason="engine ruleset not in this tree")
def test_every_engine_exclusion_has_a_severity_rank() -> None:
    """The excluded card's summary names the strongest exclusion: all must be ranked."""
    ruleset = yaml.safe_load(ENGINE_RULESET.read_text(encoding="utf-8"))
    ids = {
        r["id"]
        for r in _find_rules(ruleset)
        if isinstance(r, dict) and str(r.get("id", "")).startswith("exclusion.")
    }
    assert ids, "no exclusion ids found in the engine ruleset"
    severity = CardRenderer.load().definitions.exclusion_severity
    for rule_id in ids:
        assert any(rule_id.startswith(p) for p in severity), rule_id


def _find_rules(node: object) -> list[object]:
    if isinstance(node, dict):
        if "id" in node and "kind" in node:
            return [node]
        return [r for v in node.values() for r in _find_rules(v)]
    if isinstance(node, list):
        return [r for v in node for r in _find_rules(v)]
    return []
