"""Card definitions and the reference catalog: read from ``cards/``, validated, typed.

Everything here runs once, at start-up. Problems raise :class:`CardConfigError` naming
the file and the place in it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml

from cds_service.cards.errors import CardConfigError

DEFINITIONS_FILE = "card-definitions.yaml"
REFERENCES_FILE = "references.yaml"
TEMPLATES_DIR = "templates"
SCHEMAS_DIR = "schemas"


@dataclass(frozen=True, slots=True)
class OverrideReason:
    code: str
    display: str


@dataclass(frozen=True, slots=True)
class LinkDefinition:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class SuggestionTexts:
    test_label: str
    test_description: str
    full_workup_label: str
    full_workup_min_tests: int
    reason_text: str


@dataclass(frozen=True, slots=True)
class CardDefinition:
    key: str  # the outcome code: "excluded", ..., "post-infusion-monitoring"
    indicator: str
    indicator_when_overdue: str | None
    topic_display: str
    summary: str  # template source
    detail_template: str  # file name under templates/
    trial_search: bool
    links: tuple[str, ...]  # keys of shared_links
    override_reasons: tuple[OverrideReason, ...]
    suggestions: SuggestionTexts | None


@dataclass(frozen=True, slots=True)
class TrialSearch:
    label: str  # template source
    url: str  # with a literal {condition}
    fallback_condition: str
    max_condition_links: int


@dataclass(frozen=True, slots=True)
class CardDefinitions:
    forbidden_words: tuple[str, ...]
    required_summary_word: str
    source_label: str  # with a literal {version}
    source_url: str | None
    override_reason_system: str
    exclusion_severity: tuple[str, ...]
    exclusion_notes: tuple[tuple[str, str], ...]  # (reason id prefix, text)
    child_pugh_note_min: int
    child_pugh_note: str
    trial_search: TrialSearch
    shared_links: Mapping[str, LinkDefinition]
    cards: Mapping[str, CardDefinition]
    unit_display: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Reference:
    id: str
    authors: tuple[str, ...]
    authors_complete: bool
    title: str
    journal: str
    year: int
    verified: bool
    cited_by_clinic: bool
    verification_status: str
    verification_method: str
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    doi: str | None = None
    pmid: str | None = None
    other_id: str | None = None
    study: str | None = None

    @property
    def first_author(self) -> str:
        return self.authors[0]


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CardConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CardConfigError(f"{path}: not valid YAML: {exc}") from exc


@cache
def _schema(path: Path) -> Mapping[str, Any]:
    try:
        schema: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CardConfigError(f"{path}: cannot read the JSON Schema ({exc})") from exc
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise CardConfigError(f"{path}: not a valid JSON Schema: {exc.message}") from exc
    return schema


def validate(document: Any, schema_path: Path, source: Path) -> None:
    """Validate ``document`` (read from ``source``); report every error with its place."""
    validator = jsonschema.Draft202012Validator(_schema(schema_path))
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [
            f"  at {'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
            for e in errors[:20]
        ]
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise CardConfigError(
            f"{source}: does not match {schema_path.name}:\n" + "\n".join(lines) + more
        )


def load_definitions(cards_dir: Path) -> CardDefinitions:
    path = cards_dir / DEFINITIONS_FILE
    raw = read_yaml(path)
    validate(raw, cards_dir / SCHEMAS_DIR / "card-definitions.schema.json", path)
    shared = {
        key: LinkDefinition(label=value["label"], url=value["url"])
        for key, value in raw["shared_links"].items()
    }
    cards: dict[str, CardDefinition] = {}
    for key, card in raw["cards"].items():
        for link in card.get("links", ()):
            if link not in shared:
                raise CardConfigError(
                    f"{path}: cards/{key}/links names {link!r}, which is not in shared_links"
                )
        sugg = card.get("suggestions")
        cards[key] = CardDefinition(
            key=key,
            indicator=card["indicator"],
            indicator_when_overdue=card.get("indicator_when_overdue"),
            topic_display=card["topic_display"],
            summary=card["summary"],
            detail_template=card["detail_template"],
            trial_search=bool(card.get("trial_search", False)),
            links=tuple(card.get("links", ())),
            override_reasons=tuple(
                OverrideReason(code=r["code"], display=r["display"])
                for r in card.get("override_reasons", ())
            ),
            suggestions=SuggestionTexts(**sugg) if sugg else None,
        )
    trial = raw["trial_search"]
    return CardDefinitions(
        forbidden_words=tuple(w.lower() for w in raw["wording"]["forbidden_words"]),
        required_summary_word=raw["wording"]["required_summary_word"].lower(),
        source_label=raw["source"]["label"],
        source_url=raw["source"].get("url"),
        override_reason_system=raw["override_reason_system"],
        exclusion_severity=tuple(raw["exclusion_severity"]),
        exclusion_notes=tuple((k, v) for k, v in raw["exclusion_notes"].items()),
        child_pugh_note_min=raw["child_pugh_note"]["min_score"],
        child_pugh_note=raw["child_pugh_note"]["text"],
        trial_search=TrialSearch(
            label=trial["label"],
            url=trial["url"],
            fallback_condition=trial["fallback_condition"],
            max_condition_links=trial["max_condition_links"],
        ),
        shared_links=shared,
        cards=cards,
        unit_display=MappingProxyType(dict(raw["unit_display"])),
    )


def load_references(cards_dir: Path) -> tuple[Reference, ...]:
    path = cards_dir / REFERENCES_FILE
    raw = read_yaml(path)
    validate(raw, cards_dir / SCHEMAS_DIR / "references.schema.json", path)
    refs: list[Reference] = []
    seen: set[str] = set()
    for item in raw["references"]:
        if item["id"] in seen:
            raise CardConfigError(f"{path}: reference id {item['id']!r} appears twice")
        seen.add(item["id"])
        refs.append(
            Reference(
                id=item["id"],
                authors=tuple(item["authors"]),
                authors_complete=item["authors_complete"],
                title=" ".join(item["title"].split()),
                journal=item["journal"],
                year=item["year"],
                verified=item["verified"],
                cited_by_clinic=item["cited_by_clinic"],
                verification_status=item["verification"]["status"],
                verification_method=" ".join(item["verification"]["method"].split()),
                volume=item.get("volume"),
                issue=item.get("issue"),
                pages=item.get("pages"),
                doi=item.get("doi"),
                pmid=item.get("pmid"),
                other_id=item.get("other_id"),
                study=item.get("study"),
            )
        )
    return tuple(refs)
