"""Commands for integrators: load the fixture patients into a FHIR server, evaluate a
patient from a server or a Bundle file, and print ready-to-post hook requests.

    cds-service fixtures load --fhir-server URL [--token T]
    cds-service evaluate --fhir-server URL --patient ID [--token T] [--json] [--now ISO]
    cds-service evaluate --bundle FILE [--patient ID] [--json] [--now ISO]
    cds-service hook-request --fhir-server URL --patient ID [--prefetch] [--token T]

``evaluate`` acts as the EHR: it reads the patient's data with the discovery prefetch
templates (or from the Bundle), sends the service's own hook pipeline a request with the
complete prefetch, and prints the cards as a clinician reads them, or with ``--json`` the
exact hook response. Errors print one plain line and exit with status 1.

The clinical engine, cards and hook pipeline are imported inside the commands, so
``cds-service --help`` works even if one of them fails to load.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cds_service.cli import main

if TYPE_CHECKING:
    from cds_service.local_run import LocalPipeline

FIXTURE_SUFFIX = ".bundle.json"


def _fail(message: str) -> click.ClickException:
    return click.ClickException(message)


def _parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            "use an ISO 8601 date-time, e.g. 2026-11-01T12:00:00Z", param_hint="--now"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise _fail(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(value, dict):
        raise _fail(f"{path} is not a FHIR resource (a JSON object)")
    return value


def _pipeline(now: datetime | None, allow_server: str | None = None) -> LocalPipeline:
    from cds_service.config import ConfigError, Settings
    from cds_service.local_run import LocalPipeline

    try:
        settings = Settings.from_env()
        if allow_server is not None:
            # the service will call this server itself: allow it for this in-process run
            # (http and private addresses too, as in dev mode; the allowlist still applies)
            settings = settings.with_overrides(
                allowed_fhir_servers=(*settings.allowed_fhir_servers, allow_server.rstrip("/")),
                dev_mode=True,
                hook_deadline_seconds=max(settings.hook_deadline_seconds, 30.0),
            )
    except ConfigError as exc:
        raise _fail(f"configuration: {exc}") from None
    try:
        if now is None:
            return LocalPipeline.build(settings)
        frozen = now
        return LocalPipeline.build(settings, clock=lambda: frozen)
    except ValueError as exc:  # RulesetError / CardConfigError are ValueErrors
        raise _fail(f"cannot load the clinical ruleset or card definitions: {exc}") from None


# ----------------------------------------------------------------------------- fixtures
@main.group()
def fixtures() -> None:
    """The synthetic fixture patients (fhir_fixtures/)."""


def _fixture_files(folder: Path, only: tuple[str, ...]) -> list[Path]:
    files = sorted(folder.glob(f"*{FIXTURE_SUFFIX}"))
    if only:
        wanted = set(only)
        files = [f for f in files if f.name.removesuffix(FIXTURE_SUFFIX) in wanted]
        missing = wanted - {f.name.removesuffix(FIXTURE_SUFFIX) for f in files}
        if missing:
            raise _fail(f"no such scenario in {folder}: {', '.join(sorted(missing))}")
    if not files:
        raise _fail(f"no *{FIXTURE_SUFFIX} files in {folder}")
    return files


@fixtures.command("load")
@click.option(
    "--fhir-server",
    "fhir_server",
    required=True,
    metavar="URL",
    help="FHIR R4 base URL, e.g. https://hapi.fhir.org/baseR4",
)
@click.option(
    "--token",
    envvar="CDS_FHIR_TOKEN",
    default=None,
    metavar="T",
    help="bearer token for the server (or env CDS_FHIR_TOKEN)",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="folder of *.bundle.json files (default: the shipped fixtures)",
)
@click.option(
    "--only", multiple=True, metavar="SCENARIO", help="load only this scenario (repeatable)"
)
@click.option(
    "--file",
    "bundle_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="load this transaction Bundle file instead (repeatable; e.g. Synthea output)",
)
@click.option(
    "--timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="seconds to wait for each transaction",
)
def fixtures_load(
    fhir_server: str,
    token: str | None,
    folder: Path | None,
    only: tuple[str, ...],
    bundle_files: tuple[Path, ...],
    timeout: float,
) -> None:
    """Load the fixture patients (one transaction Bundle each) into a FHIR R4 server.

    Every entry is a PUT with a stable id: loading twice updates, never duplicates.
    The patients are synthetic; on a public server (such as the HAPI sandbox) anyone can
    read them. Each line of progress names the Patient the bundle created or updated (with
    --file, bundles that POST get ids the server chooses).
    """
    from cds_service.fhir_load import FhirServerError, check_server, load_bundle, new_session
    from cds_service.resources import data_dir

    if bundle_files:
        if folder is not None or only:
            raise click.UsageError("--file cannot be combined with --dir or --only")
        files = list(bundle_files)
    else:
        if folder is None:
            try:
                folder = data_dir("fhir_fixtures")
            except FileNotFoundError as exc:
                raise _fail(str(exc)) from None
        files = _fixture_files(folder, only)
    session = new_session()
    started = time.monotonic()
    try:
        version = check_server(session, fhir_server, token=token)
    except FhirServerError as exc:
        raise _fail(str(exc)) from None
    click.echo(f"Loading {len(files)} bundles into {fhir_server} (FHIR {version})", err=True)
    total = 0
    width = len(str(len(files)))
    for n, path in enumerate(files, 1):
        name = path.name.removesuffix(FIXTURE_SUFFIX).removesuffix(".json")
        bundle = _read_json(path)
        t0 = time.monotonic()
        try:
            result = load_bundle(
                session, fhir_server, bundle, token=token, timeout=timeout, what=name
            )
        except FhirServerError as exc:
            raise _fail(
                f"[{n}/{len(files)}] {exc} (nothing after this bundle was loaded)"
            ) from None
        total += result.entries
        click.echo(
            f"[{n:>{width}}/{len(files)}] {name}: {result.entries} resources "
            f"({result.created} created, {result.updated} updated) "
            f"in {time.monotonic() - t0:.2f} s"
            + (f" -> {', '.join(result.patients)}" if result.patients else ""),
            err=True,
        )
    click.echo(
        f"Loaded {len(files)} bundles, {total} resources, in {time.monotonic() - started:.1f} s",
        err=True,
    )


# ----------------------------------------------------------------------------- evaluate
def _bundle_patient(bundle: dict[str, Any], patient: str | None, path: Path) -> str:
    from cds_service.bundle_prefetch import patient_ids

    ids = patient_ids(bundle)
    if patient is not None:
        if patient not in ids:
            raise _fail(f"{path} has no Patient/{patient} (it has: {', '.join(ids) or 'none'})")
        return patient
    if len(ids) != 1:
        raise _fail(
            f"{path} holds {len(ids)} Patient resources; name one with --patient"
            + (f" ({', '.join(ids)})" if ids else "")
        )
    return ids[0]


def _server_prefetch(
    pipeline: LocalPipeline, fhir_server: str, patient: str, token: str | None
) -> dict[str, Any]:
    from cds_service.fhir_load import FhirServerError, fetch_prefetch, new_session

    try:
        return fetch_prefetch(new_session(), fhir_server, patient, pipeline.templates, token=token)
    except FhirServerError as exc:
        raise _fail(str(exc)) from None


@main.command("evaluate")
@click.option(
    "--fhir-server", "fhir_server", metavar="URL", help="read the patient from this FHIR R4 server"
)
@click.option("--patient", metavar="ID", help="Patient id (required with --fhir-server)")
@click.option(
    "--bundle",
    "bundle_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="read the patient from a FHIR Bundle file instead",
)
@click.option(
    "--token",
    envvar="CDS_FHIR_TOKEN",
    default=None,
    metavar="T",
    help="bearer token for the server (or env CDS_FHIR_TOKEN)",
)
@click.option("--json", "as_json", is_flag=True, help="print the exact hook response (JSON)")
@click.option(
    "--now",
    "now_text",
    metavar="ISO",
    help="evaluate as of this instant (fixtures: 2026-11-01T12:00:00Z)",
)
@click.option(
    "--no-prefetch",
    "service_fetch",
    is_flag=True,
    help="send no prefetch: the service reads --fhir-server itself (its own FHIR client, "
    "paging and limits; deadline at least 30 s here), as for an EHR that does not prefetch",
)
def evaluate(
    fhir_server: str | None,
    patient: str | None,
    bundle_path: Path | None,
    token: str | None,
    as_json: bool,
    now_text: str | None,
    service_fetch: bool,
) -> None:
    """Run the full screening assessment for one patient and print the cards.

    By default this command plays the EHR: it reads the patient with the discovery
    prefetch templates (every page) and sends the hook pipeline the complete prefetch.
    """
    from cds_service.bundle_prefetch import hook_instance_for, hook_request, prefetch_from_bundle
    from cds_service.hooks.errors import InvalidRequestError, PreconditionFailedError

    if (fhir_server is None) == (bundle_path is None):
        raise click.UsageError("give either --fhir-server URL --patient ID or --bundle FILE")
    if fhir_server is not None and not patient:
        raise click.UsageError("--fhir-server needs --patient ID")
    if service_fetch and fhir_server is None:
        raise click.UsageError("--no-prefetch needs --fhir-server URL")
    now = _parse_now(now_text)
    pipeline = _pipeline(now, allow_server=fhir_server if service_fetch else None)
    try:
        instance = hook_instance_for(f"evaluate:{patient}")
        if service_fetch and fhir_server is not None and patient is not None:
            if not token:
                token = "cds-service-cli"  # noqa: S105 - a placeholder, not a secret
                click.echo(
                    "note: no --token; sending a placeholder bearer token (the service only "
                    "fetches with fhirAuthorization)",
                    err=True,
                )
            document = hook_request(
                patient, hook_instance=instance, fhir_server=fhir_server, access_token=token
            )
        elif bundle_path is not None:
            bundle = _read_json(bundle_path)
            patient = _bundle_patient(bundle, patient, bundle_path)
            prefetch = prefetch_from_bundle(bundle, patient, pipeline.templates)
            if prefetch.get("patient") is None:
                raise _fail(f"{bundle_path} has no Patient/{patient}")
            document = hook_request(patient, hook_instance=instance, prefetch=prefetch)
        elif fhir_server is not None and patient is not None:
            prefetch = _server_prefetch(pipeline, fhir_server, patient, token)
            document = hook_request(patient, hook_instance=instance, prefetch=prefetch)
        else:  # unreachable: checked above
            raise click.UsageError("give either --fhir-server URL --patient ID or --bundle FILE")
        try:
            result = pipeline.handle(document)
        except (InvalidRequestError, PreconditionFailedError) as exc:
            raise _fail(f"the hook pipeline refused the request: {exc}") from None
    finally:
        pipeline.close()
    if as_json:
        click.echo(json.dumps(result.response_body(), indent=2, ensure_ascii=False))
        return
    click.echo(pipeline.renderer.render_text(result.assessment, result.cards))


# ----------------------------------------------------------------------------- hook-request
@main.command("hook-request")
@click.option(
    "--fhir-server",
    "fhir_server",
    required=True,
    metavar="URL",
    help="the FHIR R4 server the request names (fhirServer)",
)
@click.option("--patient", required=True, metavar="ID", help="Patient id (context.patientId)")
@click.option(
    "--prefetch",
    "with_prefetch",
    is_flag=True,
    help="read the patient's data now and include the complete prefetch",
)
@click.option(
    "--token",
    envvar="CDS_FHIR_TOKEN",
    default=None,
    metavar="T",
    help="bearer token: used to read, and sent as fhirAuthorization",
)
@click.option(
    "--user", "user_id", default="Practitioner/example", show_default=True, help="context.userId"
)
def hook_request_command(
    fhir_server: str, patient: str, with_prefetch: bool, token: str | None, user_id: str
) -> None:
    """Print a ready-to-post patient-view hook request (for curl users).

    Without --prefetch the service reads the data itself from fhirServer, which needs
    fhirAuthorization: give --token (the service must also allow that server).
    """
    import uuid

    from cds_service.bundle_prefetch import hook_request

    prefetch: dict[str, Any] | None = None
    if with_prefetch:
        pipeline = _pipeline(None)
        try:
            prefetch = _server_prefetch(pipeline, fhir_server, patient, token)
        finally:
            pipeline.close()
        if prefetch.get("patient") is None:
            raise _fail(f"Patient/{patient} not found on {fhir_server}")
    elif not token:
        click.echo(
            "note: no --token, so the request has no fhirAuthorization; the service can only "
            "answer it if the data is prefetched (use --prefetch)",
            err=True,
        )
    document = hook_request(
        patient,
        hook_instance=str(uuid.uuid4()),
        prefetch=prefetch,
        fhir_server=fhir_server,
        access_token=token,
        user_id=user_id,
    )
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
