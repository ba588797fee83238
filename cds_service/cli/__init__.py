"""The ``cds-service`` command line: one click group, one module per command family."""

from __future__ import annotations

import click

from cds_service import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cds-service")
def main() -> None:
    """CDS Hooks 2.0 service for MSC-therapy screening in chronic liver disease."""


def _register() -> None:
    # Each module adds its own commands to ``main``; imported here so that
    # ``cds-service --help`` lists them all.
    from cds_service.cli import (  # noqa: F401
        db_commands,
        integrator_commands,
        reference_commands,
        server_commands,
    )


_register()
