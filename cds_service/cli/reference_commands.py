"""``cds-service references ...``: the reference catalog (issue 4).

``references check`` compares every PMID in ``cards/references.yaml`` with PubMed.
Exit codes: 0 all match; 1 a mismatch or a PMID PubMed does not know; 3 PubMed could not
be reached (nothing was verified); 2 is click's usage error.
"""

from __future__ import annotations

from pathlib import Path

import click
import requests

from cds_service.cards.definitions import load_references
from cds_service.cards.errors import CardConfigError
from cds_service.cards.pubmed import (
    EUTILS_BASE_URL,
    CheckStatus,
    PubMedUnreachableError,
    check_references,
)
from cds_service.cli import main
from cds_service.resources import data_dir

EXIT_MISMATCH = 1
EXIT_UNREACHABLE = 3


@main.group()
def references() -> None:
    """The reference catalog behind the cards' citations."""


@references.command("check")
@click.option(
    "--cards-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder holding references.yaml (default: the installed cards/ folder).",
)
@click.option(
    "--eutils-url", default=EUTILS_BASE_URL, show_default=True, help="NCBI E-utilities base URL."
)
@click.option("--email", default=None, help="Contact e-mail sent to NCBI (their etiquette).")
@click.option(
    "--timeout", default=10.0, show_default=True, type=float, help="Seconds to wait for PubMed."
)
def check(cards_dir: Path | None, eutils_url: str, email: str | None, timeout: float) -> None:
    """Compare each catalog PMID with PubMed: title, first author, journal, year."""
    try:
        catalog = load_references(cards_dir or data_dir("cards"))
    except (CardConfigError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    with requests.Session() as session:
        try:
            report = check_references(
                catalog, session, base_url=eutils_url, timeout=timeout, email=email
            )
        except PubMedUnreachableError as exc:
            click.echo(f"PubMed unreachable: {exc}. Nothing was verified.", err=True)
            raise SystemExit(EXIT_UNREACHABLE) from exc
    for result in report.checks:
        ref = result.reference
        flag = "verified" if ref.verified else "not verified"
        head = f"PMID {ref.pmid} ({ref.id}, catalog: {flag})"
        if result.status is CheckStatus.MATCH:
            click.echo(f"MATCH     {head}")
        elif result.status is CheckStatus.NOT_FOUND:
            click.echo(f"NOT FOUND {head}: {result.detail}")
        else:
            click.echo(f"MISMATCH  {head}")
            for m in result.mismatches:
                click.echo(f"    {m.field}: catalog {m.catalog!r} / PubMed {m.pubmed!r}")
    for ref in report.skipped:
        click.echo(f"NO PMID   {ref.id}: nothing to check in PubMed")
    bad = sum(1 for c in report.checks if c.status is not CheckStatus.MATCH)
    click.echo(
        f"{len(report.checks)} PMID(s) checked, {bad} with problems, "
        f"{len(report.skipped)} without a PMID."
    )
    if bad:
        raise SystemExit(EXIT_MISMATCH)
