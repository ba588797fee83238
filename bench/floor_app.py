"""The floor: a bare Flask app under the same gunicorn settings as the service.

It only parses the hook body with orjson and returns a fixed card: no validation, no
rules, no logging. Its workers are tuned as the service's are (warm-up, ``gc.freeze()``,
the same young-generation GC threshold), so the comparison is of the work per request.

    python bench/floor_app.py --port 8091
"""

from __future__ import annotations

import argparse
import gc
from typing import Any

import orjson
from flask import Flask, Response, request

from cds_service.config import Settings
from cds_service.web.server import GunicornServer, gunicorn_options, tune_gc

FIXED = orjson.dumps(
    {
        "cards": [
            {
                "uuid": "00000000-0000-4000-8000-000000000001",
                "summary": "Fixed card",
                "indicator": "info",
                "source": {"label": "floor"},
            }
        ]
    }
)


def create_floor_app() -> Flask:
    app = Flask("floor")

    @app.post("/cds-services/<service_id>")
    def hook(service_id: str) -> Response:
        orjson.loads(request.get_data())
        return Response(FIXED, mimetype="application/json")

    return app


def _freeze(worker: Any) -> None:
    with worker.wsgi.test_client() as c:  # same warm-up, freeze and GC threshold as the service
        c.post("/cds-services/x", data=b"{}", content_type="application/json")
    gc.collect()
    gc.freeze()
    tune_gc()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = Settings(host="127.0.0.1", port=args.port, workers=args.workers, log_level="WARNING")
    options = gunicorn_options(settings, warm=False)
    options["post_worker_init"] = _freeze
    GunicornServer(create_floor_app, options).run()


if __name__ == "__main__":
    main()
