"""The benchmark's instruments measure what they claim to (bench/floor_app.py, ceiling_app.py).

The performance figures in README compare the service with these two apps, so they are
checked like code: the floor's workers are tuned as the service's are, and the ceiling is
the real service whose engine and cards answer each patient once and then repeat it.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from cds_service.config import Settings
from cds_service.web.server import GC_YOUNG_THRESHOLD

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "hook-request-prefetch.json"


@pytest.fixture(autouse=True)
def bench_on_path() -> Iterator[None]:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        yield
    finally:
        sys.path.remove(str(ROOT / "bench"))


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def post(app: Any, body: bytes) -> Any:
    with app.test_client() as client:
        return client.post(
            "/cds-services/msc-liver-screening", data=body, content_type="application/json"
        )


def without_uuids(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in card.items() if k != "uuid"} for card in cards]


def test_floor_workers_get_the_services_warm_up_freeze_and_gc_threshold(
    restore_gc: None,
) -> None:
    from floor_app import _freeze, create_floor_app

    class Worker:
        wsgi = create_floor_app()

    gc.set_threshold(700, 10, 10)
    _freeze(Worker())
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD


def test_floor_parses_and_answers_a_fixed_card() -> None:
    from floor_app import create_floor_app

    answer = post(create_floor_app(), EXAMPLE.read_bytes())
    assert answer.status_code == 200
    assert answer.json["cards"][0]["summary"] == "Fixed card"


def test_ceiling_answers_what_the_service_answers(tmp_path: Path) -> None:
    from ceiling_app import create_ceiling_app

    from cds_service.app import create_app
    from cds_service.deps import Dependencies
    from tests.conftest import FROZEN_NOW

    body = EXAMPLE.read_bytes()
    settings = Settings(dev_mode=True, sqlite_path=str(tmp_path / "audit.sqlite3"))
    deps = Dependencies(clock=lambda: FROZEN_NOW)  # the card states when it was evaluated
    real = post(create_app(settings, deps), body)
    ceiling = create_ceiling_app(settings, deps=deps)
    first, again = post(ceiling, body), post(ceiling, body)
    assert real.status_code == first.status_code == again.status_code == 200
    assert without_uuids(first.json["cards"]) == without_uuids(real.json["cards"])
    assert again.data == first.data  # repeated from the memo, uuids included


def test_memo_computes_once_per_patient() -> None:
    from ceiling_app import Memo

    calls: list[str] = []

    class Engine:
        version = "v"

        def evaluate(self, patient: str, now: object) -> str:
            calls.append(patient)
            return f"assessment of {patient}"

    memo = Memo(Engine(), "evaluate", lambda patient, now: patient)
    answers = [memo.evaluate(p, None) for p in ("a", "b", "a", "a", "b")]
    assert answers == ["assessment of a", "assessment of b"] + ["assessment of a"] * 2 + [
        "assessment of b"
    ]
    assert calls == ["a", "b"]
    assert memo.version == "v"  # everything else is the real object's


def test_in_process_costs_are_measured_for_every_variant() -> None:
    from bench_hooks import in_context_costs

    body = orjson.dumps(orjson.loads(EXAMPLE.read_bytes()))
    costs = in_context_costs(body, repeat=5)
    assert set(costs) == {
        "floor (bare Flask, orjson, fixed card)",
        "service",
        "service, engine memoised",
        "service, engine and cards memoised",
        "service, engine and cards memoised, no access log",
        "service, engine and cards memoised, no access log, no depth check",
    }
    assert all(micros > 0 for micros in costs.values())
    # the instruments put back what they switched off
    import logging

    import cds_service.hooks.request as parsing

    assert not logging.root.manager.disable
    assert parsing.nesting_exceeds(b"[[[]]]", 2)
