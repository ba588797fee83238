"""Card details parse as GitHub Flavored Markdown the way the templates intend.

markdown-it-py (CommonMark + GFM tables) stands in for the EHR's renderer: tables keep
their columns whatever the data, lists nest, patient data never becomes raw HTML or a
heading.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from markdown_it import MarkdownIt
from markdown_it.token import Token

from cds_service.cards import CardRenderer
from cds_service.clinical.model import Assessment, Evidence
from tests.cards import builders as b
from tests.cards.builders import PATIENT_ID, SCENARIOS, CountingUuids
from tests.cards.strategies import assessments

MD = MarkdownIt("commonmark").enable("table")
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def parse(detail: str) -> list[Token]:
    return MD.parse(detail)


def check_detail(detail: str) -> dict[str, Any]:
    tokens = parse(detail)
    assert not [t for t in tokens if t.type == "html_block"], "raw HTML block"
    inline = [c for t in tokens if t.children for c in t.children]
    assert not [c for c in inline if c.type == "html_inline"], "raw inline HTML"
    lines = detail.split("\n")
    tables = 0
    for t in tokens:
        if t.type == "table_open" and t.map:
            tables += 1
            rows = lines[t.map[0] : t.map[1]]
            widths = {len(UNESCAPED_PIPE.findall(r)) for r in rows}
            assert len(widths) == 1, f"a table row lost or gained a column: {rows}"
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    return {"tables": tables, "headings": headings, "html": MD.render(detail)}


def test_every_scenario_detail_parses(renderer: CardRenderer) -> None:
    for factory in SCENARIOS.values():
        for card in renderer.render(factory(), PATIENT_ID, CountingUuids()):
            check_detail(card["detail"])


def test_tables_and_nested_lists_render(renderer: CardRenderer) -> None:
    (card,) = renderer.render(b.excluded_all(), PATIENT_ID, CountingUuids())
    parsed = check_detail(card["detail"])
    assert parsed["headings"] == ["Exclusions (5)", "Scores", "Data not used"]
    assert parsed["tables"] == 1
    html = parsed["html"]
    assert "<th>Score</th>" in html
    assert "<td>Child-Pugh</td>" in html
    # evidence is a list nested inside each numbered exclusion
    assert re.search(
        r"<ol>\s*<li><strong>Liver cancer</strong>.*?<ul>\s*<li>Hepatocellular", html, re.S
    )
    (card,) = renderer.render(b.workup_incomplete(), PATIENT_ID, CountingUuids())
    assert "<th>Why it matters</th>" in check_detail(card["detail"])["html"]
    (card,) = renderer.render(b.post_infusion_overdue(), PATIENT_ID, CountingUuids())
    assert "<td><strong>overdue</strong></td>" in check_detail(card["detail"])["html"]


def test_references_render_as_links(renderer: CardRenderer) -> None:
    (card,) = renderer.render(b.meets_masld(), PATIENT_ID, CountingUuids())
    html = check_detail(card["detail"])["html"]
    assert (
        '<a href="https://doi.org/10.1007/s12072-021-10199-2">doi:10.1007/s12072-021-10199-2</a>'
        in html
    )


def test_hostile_data_stays_text(renderer: CardRenderer) -> None:
    hostile = "x | y\n## Injected <img src=x onerror=alert(1)> [link](javascript:alert(1)) `code`"
    a = b.excluded_all()
    rules = tuple(
        replace(
            r,
            label=hostile,
            reason=hostile,
            evidence=(Evidence(label=hostile, value_text=hostile),),
        )
        for r in a.rules
    )
    scored = tuple(replace(s, label=hostile, band=hostile) for s in a.scores)
    a = replace(a, rules=rules, scores=scored)
    (card,) = renderer.render(a, PATIENT_ID, CountingUuids())
    parsed = check_detail(card["detail"])
    assert parsed["headings"] == ["Exclusions (5)", "Scores", "Data not used"]
    assert "<img" not in parsed["html"]
    assert "<a href" not in parsed["html"]
    assert "<code>" not in parsed["html"]
    assert "x | y ## Injected &lt;img" in parsed["html"]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(assessment=assessments)
def test_any_detail_parses(renderer: CardRenderer, assessment: Assessment) -> None:
    for card in renderer.render(assessment, PATIENT_ID, CountingUuids()):
        check_detail(card["detail"])
