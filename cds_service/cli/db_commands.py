"""``cds-service db upgrade|prune|status`` and ``cds-service report`` (issue 7).

The database comes from the environment like the server's: ``DATABASE_URL`` (PostgreSQL)
or ``CDS_SQLITE_PATH`` (default ``cds-service.sqlite3``); ``CDS_RETENTION_DAYS`` for prune.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import click
from sqlalchemy.exc import SQLAlchemyError

from cds_service.cli import main
from cds_service.config import ConfigError, Settings
from cds_service.store import Store, open_store
from cds_service.store.engine import database_url
from cds_service.store.migrate import current_revision, head_revision


@contextmanager
def _store() -> Iterator[tuple[Store, str]]:
    try:
        settings = Settings.from_env()
        where = database_url(settings).render_as_string(hide_password=True)
        store = open_store(settings)
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield store, where
    except SQLAlchemyError as exc:
        raise click.ClickException(f"database error on {where}: {exc.__class__.__name__}: "
                                   f"{str(exc).splitlines()[0]}") from None  # fmt: skip
    finally:
        store.close()


@main.group()
def db() -> None:
    """Audit and feedback database: migrate, inspect, prune."""


@db.command()
def upgrade() -> None:
    """Create the database or migrate it to the newest schema (safe to run concurrently)."""
    with _store() as (store, where):
        before = current_revision(store.engine)
        store.upgrade()
        after = current_revision(store.engine)
    if before == after:
        click.echo(f"{where}: schema already at {after}")
    else:
        click.echo(f"{where}: schema migrated from {before or 'empty'} to {after}")


@db.command()
def status() -> None:
    """Show the schema version and row counts."""
    with _store() as (store, where):
        revision = current_revision(store.engine)
        click.echo(f"database: {where}")
        click.echo(f"schema:   {revision or 'empty'} (newest: {head_revision()})")
        if revision is not None:
            for table, count in store.counts().items():
                click.echo(f"  {table:<14} {count:>10}")


@db.command()
@click.option(
    "--retention-days",
    type=click.IntRange(min=1),
    default=None,
    help="Override CDS_RETENTION_DAYS for this run.",
)
def prune(retention_days: int | None) -> None:
    """Delete audit and feedback rows older than the retention period, and expired JWT ids."""
    with _store() as (store, where):
        result = store.prune(retention_days=retention_days)
    click.echo(
        f"{where}: deleted rows older than {result.cutoff.isoformat(timespec='seconds')}: "
        f"{result.hook_calls} hook calls, {result.issued_cards} issued cards, "
        f"{result.feedback} feedback; {result.jtis} expired JWT ids"
    )


def _parse_date(_ctx: click.Context, _param: click.Parameter, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@main.command()
@click.option("--from", "start", required=True, callback=_parse_date, help="First day (UTC).")
@click.option("--to", "end", required=True, callback=_parse_date, help="Last day (UTC), included.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
def report(start: date, end: date, fmt: str) -> None:
    """Cards shown and clinicians' feedback per outcome and card type, for a date range."""
    from cds_service.store.report import FORMATTERS, build_report

    if end < start:
        raise click.BadParameter("--to must not be before --from", param_hint="--to")
    with _store() as (store, _where):
        if current_revision(store.engine) is None:
            raise click.ClickException("the database is empty: run `cds-service db upgrade`")
        result = build_report(store, start, end)
    click.echo(FORMATTERS[fmt](result), nl=False)


__all__ = ["db", "prune", "report", "status", "upgrade"]
