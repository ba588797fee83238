"""CDS Hooks 2.0 card rules and the content each outcome must carry."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.cards import CardRenderer
from cds_service.cards.validation import card_errors
from cds_service.clinical.model import OUTCOME_CODE_SYSTEM, POST_INFUSION_MONITORING, Outcome
from tests.cards import builders as b
from tests.cards.builders import PATIENT_ID, SCENARIOS, CountingUuids

RAW_TEMPLATE = re.compile(r"\{\{|\{%|%\}|\}\}|\{#|#\}")

Card = dict[str, Any]


def render(renderer: CardRenderer, name: str, patient_id: str = PATIENT_ID) -> list[Card]:
    return renderer.render(SCENARIOS[name](), patient_id, CountingUuids())


def all_cards(renderer: CardRenderer) -> list[tuple[str, Card]]:
    return [(name, card) for name in SCENARIOS for card in render(renderer, name)]


def empty_paths(value: Any, path: str = "") -> list[str]:
    if value is None or (isinstance(value, str | list | dict) and len(value) == 0):
        return [path or "(root)"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in empty_paths(v, f"{path}/{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in empty_paths(v, f"{path}/{i}")]
    return []


def test_every_scenario_renders_cards_except_not_applicable(renderer: CardRenderer) -> None:
    for name in SCENARIOS:
        assert bool(render(renderer, name)) is (name != "not-applicable"), name


@pytest.mark.requirement("83")
@pytest.mark.requirement("90")
@pytest.mark.requirement("105")
def test_every_card_validates_against_the_card_schema(renderer: CardRenderer) -> None:
    for name, card in all_cards(renderer):
        assert card_errors(card) == [], name


@pytest.mark.requirement("3")
def test_no_null_or_empty_element_anywhere(renderer: CardRenderer) -> None:
    for name, card in all_cards(renderer):
        assert empty_paths(card) == [], name


@pytest.mark.requirement("80")
def test_uuids_come_from_the_injected_factory_in_order(renderer: CardRenderer) -> None:
    uuids = CountingUuids()
    cards = renderer.render(b.post_infusion_all_done_with_meets(), PATIENT_ID, uuids)
    assert [c["uuid"] for c in cards] == [
        "00000000-0000-4000-8000-000000000001",
        "00000000-0000-4000-8000-000000000002",
    ]
    cards = renderer.render(b.workup_incomplete(), PATIENT_ID, uuids := CountingUuids())
    ids = [cards[0]["uuid"]] + [s["uuid"] for s in cards[0]["suggestions"]]
    assert len(ids) == len(set(ids)) == uuids.count


def test_outcome_code_in_source_topic(renderer: CardRenderer) -> None:
    expected = {
        "excluded-all": ["excluded"],
        "workup-incomplete": ["workup-incomplete"],
        "meets-masld": ["meets-screening-criteria"],
        "does-not-meet-cp8": ["does-not-meet"],
        "post-infusion-overdue": [POST_INFUSION_MONITORING],
        "post-infusion-all-done-with-meets": ["meets-screening-criteria", POST_INFUSION_MONITORING],
    }
    for name, codes in expected.items():
        cards = render(renderer, name)
        assert [c["source"]["topic"]["code"] for c in cards] == codes
        for card in cards:
            topic = card["source"]["topic"]
            assert topic["system"] == OUTCOME_CODE_SYSTEM
            assert topic["display"]
    assert {o.value for o in Outcome} - {"not-applicable"} <= {
        c["source"]["topic"]["code"] for _, c in all_cards(renderer)
    }


@pytest.mark.requirement("100")
@pytest.mark.requirement("136")
def test_override_reasons_have_code_system_display(renderer: CardRenderer) -> None:
    for name, card in all_cards(renderer):
        assert card["overrideReasons"], name
        for reason in card["overrideReasons"]:
            assert set(reason) == {"code", "system", "display"}
            assert all(reason.values())


def test_ruleset_version_on_every_card(renderer: CardRenderer) -> None:
    for name, card in all_cards(renderer):
        assert b.RULESET in card["source"]["label"], name
        assert f"Ruleset {b.RULESET}" in card["detail"], name


@pytest.mark.requirement("85")
def test_markdown_detail_has_no_template_syntax_left(renderer: CardRenderer) -> None:
    for name, card in all_cards(renderer):
        assert not RAW_TEMPLATE.search(card["detail"]), name
        assert "\n\n\n" not in card["detail"]


def test_indicators(renderer: CardRenderer) -> None:
    assert [c["indicator"] for c in render(renderer, "excluded-all")] == ["warning"]
    assert [c["indicator"] for c in render(renderer, "workup-incomplete")] == ["info"]
    assert [c["indicator"] for c in render(renderer, "meets-masld")] == ["info"]
    assert [c["indicator"] for c in render(renderer, "does-not-meet-cp8")] == ["info"]
    assert [c["indicator"] for c in render(renderer, "post-infusion-overdue")] == ["warning"]
    assert [c["indicator"] for c in render(renderer, "post-infusion-all-done-with-meets")] == [
        "info",
        "info",
    ]
    assert [c["indicator"] for c in render(renderer, "post-infusion-due-no-date")] == [
        "info",
        "info",
    ]


# ------------------------------------------------------------------------- excluded
def test_excluded_summary_names_the_strongest_exclusion(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "excluded-all")
    assert "Liver cancer" in card["summary"]
    assert "(+4 more exclusions)" in card["summary"]
    (card,) = render(renderer, "excluded-single")
    assert card["summary"].endswith("Liver failure")


def test_excluded_detail_lists_every_exclusion_with_evidence(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "excluded-all")
    detail = card["detail"]
    assert "### Exclusions (5)" in detail
    order = [
        detail.index(x)
        for x in (
            "Liver cancer",
            "Decompensated liver disease",
            "MELD-Na 15 or more",
            "Severe coagulation disorder",
            "Active viral hepatitis",
        )
    ]
    assert order == sorted(order), "strongest first, in the data's severity order"
    # value, unit, date and resource of each datum
    assert (
        "Platelets: 41 \u00d710⁹/L (reported as 41 \u00d710³/µL), 2026-10-02, "
        "Observation/plt-1" in detail
    )
    assert "HCV RNA: 250000 IU/mL, 2026-07-09, Observation/hcv-rna" in detail
    assert "Hepatocellular carcinoma, 2026-03-14, Condition/hcc-1" in detail
    assert "Ascites, date not recorded, Condition/asc-1" in detail
    assert "Discuss transplant evaluation" in detail  # MELD-Na note from the data
    assert "Transplant listing" not in detail  # not met: not an exclusion


def test_unknown_exclusions_are_said_not_hidden(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "excluded-single")
    assert "### Not yet checked" in card["detail"]
    assert "No platelet count within 90 days." in card["detail"]


def test_original_units_are_shown_when_converted(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "excluded-all")
    assert "| Child-Pugh | 9 | B | 2026-10-20 |" in card["detail"]


def test_data_quality_notes_on_the_card(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "excluded-all")
    assert "### Data not used" in card["detail"]
    assert "unknown unit and was not used. (Observation/plt-odd)" in card["detail"]
    assert "page cap" in card["detail"]
    (card,) = render(renderer, "workup-incomplete")
    assert "A preliminary INR was shown but not used." in card["detail"]


# -------------------------------------------------------------------- workup incomplete
def test_workup_card_lists_what_is_missing_and_why(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "workup-incomplete")
    detail = card["detail"]
    assert "| INR | out of date | INR 1.1, 2026-05-02, Observation/inr-old |" in detail
    assert "| HBV DNA | missing | none on file | chronic hepatitis B is coded" in detail
    assert "HbA1c" not in detail  # planned pre-therapy item: not blocking, not here
    assert card["summary"].startswith("Screening for investigational MSC therapy needs 4 more")


@pytest.mark.requirement("93")
@pytest.mark.requirement("131")
def test_workup_suggestions_are_draft_r4_service_requests(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "workup-incomplete")
    assert card["selectionBehavior"] == "any"
    suggestions = card["suggestions"]
    loincs = ["6301-6", "777-3", "42595-9", "1920-8", "77615-3"]  # 777-3 only once
    assert len(suggestions) == len(loincs) + 1
    for suggestion, loinc in zip(suggestions, loincs, strict=False):
        (action,) = suggestion["actions"]
        assert action["type"] == "create"
        assert action["description"]
        resource = action["resource"]
        ServiceRequest.model_validate(resource)  # raises if not valid R4
        assert resource["status"] == "draft"
        assert resource["intent"] == "proposal"
        assert resource["subject"] == {"reference": f"Patient/{PATIENT_ID}"}
        assert resource["code"]["coding"][0]["system"] == "http://loinc.org"
        assert resource["code"]["coding"][0]["code"] == loinc
    full = suggestions[-1]
    assert full["label"] == "Order the full screening workup (5 tests)"
    assert [a["resource"]["code"]["coding"][0]["code"] for a in full["actions"]] == loincs
    for action in full["actions"]:
        ServiceRequest.model_validate(action["resource"])


def test_alt_without_diagnosis_offers_the_cause_workup(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "workup-alt-without-diagnosis")
    labels = [s["label"] for s in card["suggestions"]]
    assert labels == [
        "Order HBsAg",
        "Order HCV antibody",
        "Order ANA",
        "Order ASMA",
        "Order Elastography",
        "Order the full screening workup (5 tests)",
    ]
    assert "the cause of the raised ALT must be found" in card["detail"]


def test_invalid_patient_id_gives_no_orders_but_says_so(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "workup-incomplete", patient_id="not/a valid id")
    assert "suggestions" not in card
    assert "selectionBehavior" not in card
    assert "not a valid FHIR id" in card["detail"]
    assert card_errors(card) == []


def test_single_test_has_no_full_workup_suggestion(renderer: CardRenderer) -> None:
    a = b.workup_incomplete()
    from dataclasses import replace

    a = replace(a, workup=a.workup[:1])
    (card,) = renderer.render(a, PATIENT_ID, CountingUuids())
    assert [s["label"] for s in card["suggestions"]] == ["Order INR"]


# ------------------------------------------------------------------------------ meets
def test_meets_card_content(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "meets-masld")
    detail = card["detail"]
    assert "investigational" in card["summary"]
    assert "meets the clinic's screening criteria for evaluation" in detail
    assert "MASLD/NASH with persistently elevated ALT" in detail
    assert "ALT: 48 U/L, 2026-07-20, Observation/alt-1; above ULN 25 U/L" in detail
    # compact score table: value, band, date of inputs, notes
    assert "| Score | Value | Band | Inputs dated | Notes |" in detail
    assert "| FIB-4 | 1.42 | indeterminate |" in detail
    assert "| MELD-Na | not computed |  | 2026-10-20 | creatinine 0.8 used as 1;" in detail
    assert "missing or out of date: sodium, creatinine" in detail
    # investigational status, evidence note, standard of care
    assert "No mesenchymal stem cell (MSC) product is FDA-approved" in detail
    assert "No\nrandomised evidence exists for NAFLD/MASLD" in detail
    assert "**Standard care continues.**" in detail
    # planned monitoring and planned pre-therapy items
    assert "- Liver panel at 3 months: day 91 after the first infusion (± 21 days)" in detail
    assert "HCC surveillance" in detail
    assert "- Liver imaging (ultrasound or MRI) (missing): planned pre-therapy" in detail
    assert "- Ferritin (out of date)" in detail


def test_meets_card_cites_verified_references_only(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "meets-masld")
    detail = card["detail"]
    assert "doi.org/10.1007/s12072-021-10199-2" in detail
    assert "doi.org/10.1002/hep.29189" in detail
    assert "2016;64(6):2185-2197" in detail
    assert "CD015173" in detail
    for unverified in ("32517710", "33427743", "35884347", "Zhang C", "Luo L", "Wei Y"):
        assert unverified not in detail
    assert "3 studies cited by the clinic could not be verified" in detail


def test_meets_links(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "meets-masld")
    urls = [link["url"] for link in card["links"]]
    assert urls == [
        "https://clinicaltrials.gov/search?cond=Nonalcoholic%20fatty%20liver%20disease"
        "&intr=mesenchymal%20stem%20cells",
        "https://clinicaltrials.gov/search?cond=Type%202%20diabetes&intr=mesenchymal%20stem%20cells",
        "https://www.fda.gov/consumers/consumer-updates/important-patient-and-consumer-"
        "information-about-regenerative-medicine-therapies",
    ]
    assert all(link["type"] == "absolute" for link in card["links"])
    (card,) = render(renderer, "meets-without-conditions")
    assert "cond=chronic%20liver%20disease" in card["links"][0]["url"]
    assert "No monitoring schedule is on file" in card["detail"]
    assert "No score could be computed" in card["detail"]


def test_estimated_score_is_marked(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "meets-cirrhosis-cp7")
    assert "| Child-Pugh | 7 | B | 2026-10-20 | estimated |" in card["detail"]
    assert "unreliable under 35 years" in card["detail"]


def test_child_pugh_7_card_states_the_decompensation_convention(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "meets-cirrhosis-cp7")
    assert (
        "Standard references treat Child-Pugh 7 or more (class B) as decompensated"
        in (card["detail"])
    )
    (card,) = render(renderer, "meets-masld")  # Child-Pugh 5
    assert "Standard references treat" not in card["detail"]


# ---------------------------------------------------------------------- does not meet
def test_does_not_meet_says_which_criterion_with_data(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "does-not-meet-cp8")
    assert card["summary"] == (
        "Does not meet clinic screening criteria for investigational MSC therapy: "
        "Cirrhosis Child-Pugh A or early B"
    )
    detail = card["detail"]
    assert 'Child-Pugh 8 (class B) is beyond "early B" (a score of 7).' in detail
    assert "Child-Pugh score: 8; class B" in detail
    assert "- MASLD/NASH with persistently elevated ALT: No MASLD diagnosis." in detail
    assert "could not be decided" in detail
    assert "Post-COVID" in detail
    assert "Standard references treat Child-Pugh 7 or more" in detail
    (card,) = render(renderer, "does-not-meet-alt-normal")
    assert "ALT no longer above the upper limit" in card["detail"]
    assert "ALT: 22 U/L, 2026-10-01, Observation/alt-n" in card["detail"]


# ---------------------------------------------------------------- post-infusion monitoring
def test_post_infusion_card(renderer: CardRenderer) -> None:
    (card,) = render(renderer, "post-infusion-overdue")
    assert card["summary"] == (
        "Monitoring after investigational MSC infusion (2026-03-02): 1 item overdue, first "
        "Liver panel at 3 months (due 2026-06-01)"
    )
    detail = card["detail"]
    assert "| Liver panel at 1 month | 2026-04-01 | ± 14 days | done | ALT 31 U/L" in detail
    assert "| Liver panel at 3 months | 2026-06-01 | ± 21 days | **overdue** | none on file |" in (
        detail
    )
    assert "| Liver panel at 6 months | 2026-08-31 | ± 21 days | due |" in detail
    assert "Procedure/msc-1" in detail


def test_post_infusion_is_added_to_the_screening_card(renderer: CardRenderer) -> None:
    cards = render(renderer, "post-infusion-all-done-with-meets")
    assert cards[1]["summary"].endswith("all scheduled items done")
    cards = render(renderer, "post-infusion-due-no-date")
    assert cards[1]["summary"] == (
        "Monitoring after investigational MSC infusion (date not recorded): next Liver panel "
        "at 3 months (due 2026-06-01)"
    )
    assert "its date could not be read" in cards[1]["detail"]


# --------------------------------------------------------------------- hostile data
def test_patient_data_cannot_break_the_markdown(renderer: CardRenderer) -> None:
    from dataclasses import replace

    from cds_service.clinical.model import Evidence

    a = b.excluded_single()
    hostile = "Liver | failure *bold* {{ 7*7 }} {% if %} <script>x</script>\n# heading [x](y)"
    rules = (replace(a.rules[0], label=hostile, evidence=(Evidence(label=hostile),)),)
    (card,) = renderer.render(replace(a, rules=rules), PATIENT_ID, CountingUuids())
    detail = card["detail"]
    assert not RAW_TEMPLATE.search(detail.replace("\\{", "").replace("\\}", ""))
    assert "<script>" not in detail
    assert "Liver \\| failure \\*bold\\* \\{\\{ 7\\*7 \\}\\}" in detail
    assert "\n# heading" not in detail
    assert "49" not in detail  # never evaluated as a template
    assert len(card["summary"]) < 140


def test_units_are_shown_for_reading_never_converted(renderer: CardRenderer) -> None:
    from dataclasses import replace

    from cds_service.clinical.model import Evidence

    a = b.does_not_meet_alt_normal()
    ev = (
        Evidence(label="INR", resource_ref="Observation/i", value=1.2, unit="{INR}"),
        Evidence(label="Ratio", resource_ref="Observation/r", value=0.5, unit="1"),
        Evidence(label="eGFR", resource_ref="Observation/g", value=88, unit="mL/min/{1.73_m2}"),
        Evidence(label="Odd", resource_ref="Observation/o", value=3, unit="furlongs"),
    )
    rules = (replace(a.rules[0], evidence=ev),)
    (card,) = renderer.render(replace(a, rules=rules), PATIENT_ID, CountingUuids())
    detail = card["detail"]
    assert "- INR: 1.2, date not recorded, Observation/i" in detail
    assert "- Ratio: 0.5, date not recorded" in detail
    assert "- eGFR: 88 mL/min/\\{1.73\\_m2\\}" in detail
    assert "- Odd: 3 furlongs" in detail


def test_orders_without_a_usable_code_or_name_are_said(renderer: CardRenderer) -> None:
    from dataclasses import replace

    from cds_service.clinical.model import OrderableTest

    a = b.workup_incomplete()
    items = (
        replace(a.workup[0], orders=(OrderableTest("not-a-loinc", "INR"),)),
        replace(a.workup[1], orders=(OrderableTest("777-3", "   "),)),
        a.workup[2],
    )
    (card,) = renderer.render(replace(a, workup=items), PATIENT_ID, CountingUuids())
    assert [s["label"] for s in card["suggestions"]] == ["Order HBV DNA"]
    assert (
        "No draft order could be built for: INR, Platelets (order in the EHR directly)."
        in (card["detail"])
    )
    assert card_errors(card) == []


def test_scores_are_traced_to_the_results_they_were_computed_from(
    renderer: CardRenderer,
) -> None:
    """A score is evidence too (MELD-Na >= 15 excludes): each result it used is listed once,
    with its value, date and resource; a score that was not computed lists nothing."""
    assessment = replace(
        b.excluded_single(), scores=(b.meld_na(24), b.meld_na(None), b.meld_na(24))
    )
    (card,) = renderer.render(assessment, PATIENT_ID, CountingUuids())
    detail = card["detail"]
    assert "Results the scores were computed from:" in detail
    assert detail.count("Creatinine 0.8 mg/dL, 2026-10-20, Observation/cr") == 1
