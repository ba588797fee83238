"""The ceiling: the service itself, with the engine and the cards answering from a memo.

Everything else is the real service under ``cds-service serve``'s gunicorn settings: body
reading, depth check, typed decode and validation, prefetch resolution, the SQLite audit,
the access log, the dev-mode auth pass. The engine and the card renderer compute the first
hook's answer and then repeat it, so this server shows the throughput the service would
reach if evaluating the rules and writing the cards cost nothing. ``bench/bench_hooks.py``
runs it; it is a measuring instrument, never a way to serve hooks.

    python bench/ceiling_app.py --port 8092 [--workers 2]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


class Memo:
    """Stands in for the engine or the renderer: answers each patient once, then repeats it.

    Keyed by patient id, so the worker's warm-up patient and the benchmark's patient each get
    their own answer.
    """

    def __init__(self, real: Any, method: str, patient_key: Callable[..., object]) -> None:
        self._real, self._method, self._key = real, method, patient_key
        self._answers: dict[object, Any] = {}
        setattr(self, method, self._call)

    def _call(self, *args: Any) -> Any:
        key = self._key(*args)
        if key not in self._answers:
            self._answers[key] = getattr(self._real, self._method)(*args)
        return self._answers[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _evaluated_patient(data: Any, now: object) -> object:
    return (data.patient or {}).get("id")


def _rendered_patient(assessment: Any, patient_id: str, uuid_factory: object) -> object:
    return patient_id


def create_ceiling_app(
    settings: Any, memoise: tuple[str, ...] = ("engine", "cards"), deps: Any = None
) -> Any:
    """The service with the named parts memoised; other dependencies from ``deps``."""
    import dataclasses

    from cds_service.app import create_app, load_engine, load_renderer
    from cds_service.deps import Dependencies

    engine: Any = load_engine()
    renderer: Any = load_renderer()
    if "engine" in memoise:
        engine = Memo(engine, "evaluate", _evaluated_patient)
    if "cards" in memoise:
        renderer = Memo(renderer, "render", _rendered_patient)
    base = deps if deps is not None else Dependencies()
    return create_app(settings, dataclasses.replace(base, engine=engine, renderer=renderer))


def main() -> None:
    from cds_service.config import Settings
    from cds_service.web.server import serve

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = Settings.from_env().with_overrides(
        host="127.0.0.1", port=args.port, workers=args.workers, threads=1, dev_mode=True
    )
    serve(settings, lambda: create_ceiling_app(settings))


if __name__ == "__main__":
    main()
