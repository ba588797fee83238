"""``cds-service serve`` and ``cds-service discovery``."""

from __future__ import annotations

import sys

import click
import orjson

from cds_service.cli import main
from cds_service.config import ConfigError, Settings


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@main.command()
@click.option("--host", help="Address to listen on (CDS_HOST; default 127.0.0.1).")
@click.option("--port", type=int, help="Port (CDS_PORT; default 8080).")
@click.option("--workers", type=click.IntRange(min=1), help="gunicorn workers (CDS_WORKERS).")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Threads per worker (CDS_THREADS); 1 = sync workers, more = gthread.",
)
@click.option(
    "--dev",
    is_flag=True,
    help="Development mode: no JWT check, http FHIR servers allowed; loopback only.",
)
def serve(
    host: str | None, port: int | None, workers: int | None, threads: int | None, dev: bool
) -> None:
    """Run the service under gunicorn (production server)."""
    from cds_service.web.server import is_loopback
    from cds_service.web.server import serve as run

    settings = _settings()
    changes: dict[str, object] = {}
    for name, value in (("host", host), ("port", port), ("workers", workers), ("threads", threads)):
        if value is not None:
            changes[name] = value
    if dev:
        changes["dev_mode"] = True
    if changes:
        settings = settings.with_overrides(**changes)
    if settings.dev_mode and not is_loopback(settings.host):
        raise click.ClickException(
            f"dev mode serves loopback only; refusing host {settings.host!r}"
        )
    if settings.dev_mode:
        click.echo(
            "cds-service: DEV MODE - requests are not authenticated (JWT checks off); "
            "listening on loopback only",
            err=True,
        )
    click.echo(
        f"cds-service: http://{settings.host}:{settings.port}/cds-services "
        f"({settings.workers} workers x {settings.threads} threads)",
        err=True,
    )
    run(settings)


@main.command()
def discovery() -> None:
    """Print the discovery document (GET /cds-services) as JSON."""
    from cds_service.app import load_engine
    from cds_service.web.discovery import discovery_document

    settings = _settings()
    document = discovery_document(load_engine(), settings.observation_page_size)
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
