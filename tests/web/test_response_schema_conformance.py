"""Our hook response JSON Schema must be at least as strict as CDS Hooks 2.0.1 on the card model.

One valid response (every optional card attribute used once) is accepted; each case below
breaks one spec rule and must be refused. The schema is what the web and fixture tests
check real answers against, so a rule missing here is a rule no test enforces.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from cds_service.cards.validation import card_errors
from cds_service.hooks.validation import errors as schema_errors

Doc = dict[str, Any]


def valid_response() -> Doc:
    return {
        "cards": [
            {
                "uuid": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
                "summary": "Screening needs 1 more item: HBV DNA",
                "detail": "**Markdown** detail",
                "indicator": "info",
                "source": {
                    "label": "Liver clinic",
                    "url": "https://example.org/clinic",
                    "icon": "https://example.org/icon-100.png",
                    "topic": {"system": "urn:example:topics", "code": "workup-incomplete"},
                },
                "suggestions": [
                    {
                        "label": "Order HBV DNA",
                        "uuid": "e56e1945-20b3-4393-8503-a1a20fd73152",
                        "isRecommended": True,
                        "actions": [
                            {
                                "type": "create",
                                "description": "Propose a draft order for HBV DNA",
                                "resource": {
                                    "resourceType": "ServiceRequest",
                                    "status": "draft",
                                    "intent": "proposal",
                                    "code": {
                                        "coding": [
                                            {"system": "http://loinc.org", "code": "42595-9"}
                                        ]
                                    },
                                    "subject": {"reference": "Patient/p1"},
                                },
                            }
                        ],
                    },
                    {
                        "label": "Withdraw the old order",
                        "actions": [
                            {
                                "type": "delete",
                                "description": "Remove the stale order",
                                "resourceId": "ServiceRequest/old-1",
                            }
                        ],
                    },
                ],
                "selectionBehavior": "at-most-one",
                "overrideReasons": [
                    {"system": "urn:example:override", "code": "done", "display": "Already done"}
                ],
                "links": [
                    {"label": "Trials", "url": "https://clinicaltrials.gov/", "type": "absolute"},
                    {
                        "label": "App",
                        "url": "https://app.example.org/launch",
                        "type": "smart",
                        "appContext": '{"patient":"p1"}',
                    },
                ],
                "extension": {"org.example.cds": {"ruleset": "v1"}},
            }
        ]
    }


Mutation = Callable[[Doc], None]


def card(doc: Doc) -> Doc:
    value: Doc = doc["cards"][0]
    return value


def action(doc: Doc) -> Doc:
    value: Doc = card(doc)["suggestions"][0]["actions"][0]
    return value


def resource(doc: Doc) -> Doc:
    value: Doc = action(doc)["resource"]
    return value


def req(row: str) -> pytest.MarkDecorator:
    return pytest.mark.requirement(row)


def case(row: str, name: str, mutate: Mutation) -> Any:
    return pytest.param(mutate, id=f"row{row}-{name}", marks=req(row))


def _set(get: Callable[[Doc], Doc], key: str, value: Any) -> Mutation:
    def mutate(doc: Doc) -> None:
        get(doc)[key] = value

    return mutate


def _drop(get: Callable[[Doc], Doc], key: str) -> Mutation:
    def mutate(doc: Doc) -> None:
        del get(doc)[key]

    return mutate


def _two_recommended_at_most_one(doc: Doc) -> None:
    for suggestion in card(doc)["suggestions"]:
        suggestion["isRecommended"] = True


def _action_type(value: str) -> Mutation:
    return _set(action, "type", value)


def _delete_with_id_in_resource(doc: Doc) -> None:
    action(doc).clear()
    action(doc).update(
        {"type": "delete", "description": "Remove", "resource": "ServiceRequest/old-1"}
    )


REJECTED = [
    case("3", "null-summary", _set(card, "summary", None)),
    case("3", "empty-detail", _set(card, "detail", "")),
    case("3", "empty-links", _set(card, "links", [])),
    case("3", "null-inside-action-resource", _set(resource, "authoredOn", None)),
    case("3", "empty-array-inside-action-resource", _set(resource, "note", [])),
    case("3", "empty-string-inside-action-resource", _set(resource, "priority", "")),
    case("3", "empty-object-inside-action-resource", _set(resource, "requester", {})),
    case("3", "null-inside-extension", _set(card, "extension", {"org.example.cds": None})),
    case("74", "no-cards-array", lambda doc: doc.pop("cards")),
    case("80", "uuid-not-string", _set(card, "uuid", 7)),
    case("83", "summary-140-chars", _set(card, "summary", "x" * 140)),
    case("85", "detail-not-string", _set(card, "detail", ["a"])),
    case("87", "no-indicator", _drop(card, "indicator")),
    case("88", "indicator-not-allowed", _set(card, "indicator", "hard-stop")),
    case("90", "no-source", _drop(card, "source")),
    case("92", "suggestions-not-array", _set(card, "suggestions", {"label": "x"})),
    case("93", "suggestions-without-selection-behavior", _drop(card, "selectionBehavior")),
    case("95", "selection-behavior-not-allowed", _set(card, "selectionBehavior", "all")),
    case(
        "96",
        "selection-behavior-without-suggestions",
        lambda doc: card(doc).pop("suggestions"),
    ),
    case("98", "override-reasons-not-array", _set(card, "overrideReasons", {"code": "x"})),
    case(
        "100",
        "override-reason-without-display",
        lambda doc: card(doc)["overrideReasons"][0].pop("display"),
    ),
    case("103", "links-not-array", _set(card, "links", {"label": "x"})),
    case("105", "source-without-label", lambda doc: card(doc)["source"].pop("label")),
    case("107", "source-url-relative", lambda doc: card(doc)["source"].update(url="/clinic")),
    case("111", "source-icon-relative", lambda doc: card(doc)["source"].update(icon="icon.png")),
    case("115", "topic-not-coding", lambda doc: card(doc)["source"].update(topic="workup")),
    case(
        "117",
        "suggestion-without-label",
        lambda doc: card(doc)["suggestions"][0].pop("label"),
    ),
    case(
        "119", "suggestion-uuid-not-string", lambda doc: card(doc)["suggestions"][0].update(uuid=1)
    ),
    case(
        "121",
        "is-recommended-not-boolean",
        lambda doc: card(doc)["suggestions"][0].update(isRecommended="yes"),
    ),
    case("122", "two-recommended-with-at-most-one", _two_recommended_at_most_one),
    case(
        "124",
        "actions-not-array",
        lambda doc: card(doc)["suggestions"][0].update(actions=action(doc)),
    ),
    case("127", "action-type-not-allowed", _action_type("modify")),
    case("128", "action-without-description", _drop(action, "description")),
    case("130", "resource-not-fhir-shaped", _set(action, "resource", {"status": "draft"})),
    case("131", "create-without-resource", _drop(action, "resource")),
    case("133", "delete-with-id-in-resource", _delete_with_id_in_resource),
    case(
        "135",
        "resource-id-not-string",
        lambda doc: card(doc)["suggestions"][1]["actions"][0].update(resourceId=5),
    ),
    case("138", "link-without-label", lambda doc: card(doc)["links"][0].pop("label")),
    case("139", "link-url-relative", lambda doc: card(doc)["links"][0].update(url="/trials")),
    case("141", "link-without-type", lambda doc: card(doc)["links"][0].pop("type")),
    case("142", "link-type-not-allowed", lambda doc: card(doc)["links"][0].update(type="relative")),
    case("144", "app-context-not-string", lambda doc: card(doc)["links"][1].update(appContext={})),
    case(
        "147",
        "app-context-on-absolute-link",
        lambda doc: card(doc)["links"][0].update(appContext="x"),
    ),
    case("214", "extension-not-object", _set(card, "extension", "v1")),
    case("216", "coding-code-not-string", lambda doc: card(doc)["source"]["topic"].update(code=1)),
    case("217", "coding-without-system", lambda doc: card(doc)["source"]["topic"].pop("system")),
]


@pytest.mark.requirement("81")
@pytest.mark.requirement("84")
@pytest.mark.requirement("94")
@pytest.mark.requirement("99")
@pytest.mark.requirement("104")
@pytest.mark.requirement("106")
@pytest.mark.requirement("108")
@pytest.mark.requirement("113")
@pytest.mark.requirement("116")
@pytest.mark.requirement("118")
@pytest.mark.requirement("120")
@pytest.mark.requirement("123")
@pytest.mark.requirement("134")
@pytest.mark.requirement("145")
@pytest.mark.requirement("146")
@pytest.mark.requirement("220")
def test_a_response_using_every_card_attribute_is_valid() -> None:
    assert schema_errors("response", valid_response()) == []


@pytest.mark.requirement("77")
def test_an_empty_cards_array_is_valid() -> None:
    assert schema_errors("response", {"cards": []}) == []


@pytest.mark.requirement("122")
def test_several_recommended_suggestions_are_valid_with_selection_behavior_any() -> None:
    doc = valid_response()
    _two_recommended_at_most_one(doc)
    card(doc)["selectionBehavior"] = "any"
    assert schema_errors("response", doc) == []


@pytest.mark.parametrize("mutate", REJECTED)
def test_the_schema_refuses_what_the_spec_forbids(mutate: Mutation) -> None:
    doc = copy.deepcopy(valid_response())
    mutate(doc)
    assert schema_errors("response", doc) != []


CARD_LEVEL = [
    p for p in REJECTED if not any(tag in str(p.id) for tag in ("no-cards-array", "extension"))
]


def test_the_card_layer_schema_accepts_the_valid_card() -> None:
    valid = card(valid_response())
    del valid["extension"]  # the card layer emits no extension
    assert card_errors(valid) == []


@pytest.mark.parametrize("mutate", CARD_LEVEL)
def test_the_card_layer_schema_is_as_strict(mutate: Mutation) -> None:
    doc = copy.deepcopy(valid_response())
    del card(doc)["extension"]
    mutate(doc)
    assert card_errors(card(doc)) != []
