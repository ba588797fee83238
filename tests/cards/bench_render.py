"""Card rendering benchmark (prints figures; speed targets live here, never in timed tests).

    .venv/bin/python -m tests.cards.bench_render

Measures CPU time per render (best of 5 runs) for the built-in samples and the hand-built
test scenarios, and, when the clinical engine is available, for every fixture patient in
fhir_fixtures/ evaluated by the real engine. Also prints the start-up cost of
CardRenderer.load() and the ratio of a full render to the Markdown templating alone.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cds_service.cards import CardRenderer
from cds_service.cards.samples import sample_assessments
from cds_service.clinical.model import Assessment
from tests.cards.builders import SCENARIOS

REPO = Path(__file__).resolve().parents[2]


def best_cpu_us(fn: Callable[[], object], number: int = 300, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(number):
            fn()
        best = min(best, (time.process_time() - start) / number)
    return best * 1e6


def fixture_assessments() -> dict[str, Assessment]:
    try:
        from cds_service.clinical.engine import ClinicalEngine
        from cds_service.hooks.service import patient_data_from
    except ImportError:
        return {}
    engine = ClinicalEngine.load()
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)  # the fixtures' reference date
    out: dict[str, Assessment] = {}
    for path in sorted((REPO / "fhir_fixtures").glob("*.bundle.json")):
        bundle = json.loads(path.read_text(encoding="utf-8"))
        resources = [e["resource"] for e in bundle.get("entry", [])]
        patient = next((r for r in resources if r.get("resourceType") == "Patient"), None)
        resolved = {
            "patient": patient,
            "conditions": resources,
            "observations": resources,
            "medications": resources,
            "procedures": resources,
        }
        out[path.name.removesuffix(".bundle.json")] = engine.evaluate(
            patient_data_from(resolved), now
        )
    return out


def main() -> None:
    start = time.perf_counter()
    renderer = CardRenderer.load()
    print(f"CardRenderer.load(): {(time.perf_counter() - start) * 1000:.1f} ms (wall, once)")
    groups = {
        "samples": sample_assessments(),
        "scenarios": {k: f() for k, f in SCENARIOS.items()},
        "fixtures (real engine)": fixture_assessments(),
    }
    for group, assessments in groups.items():
        if not assessments:
            print(f"\n{group}: none")
            continue
        print(f"\n{group}: CPU µs per render (best of 5 x 300)")
        figures = []
        for name, a in assessments.items():
            us = best_cpu_us(functools.partial(renderer.render, a, "bench-patient", lambda: "u"))
            figures.append(us)
            cards = renderer.render(a, "bench-patient", lambda: "u")
            print(f"  {name:42s} {us:7.0f}  ({len(cards)} card(s))")
        figures.sort()
        print(f"  median {figures[len(figures) // 2]:.0f} µs, max {figures[-1]:.0f} µs")
    a = sample_assessments()["meets-screening-criteria"]
    full = best_cpu_us(lambda: renderer.render(a, "bench-patient", lambda: "u"))
    template = renderer._texts["meets-screening-criteria"].detail
    context = renderer._meets_context_for_bench(a)
    templating = best_cpu_us(lambda: template.render(context))
    print(
        f"\nmeets card: full render {full:.0f} µs; Markdown templating alone {templating:.0f} µs "
        f"(ratio {full / templating:.1f})"
    )


if __name__ == "__main__":
    main()
