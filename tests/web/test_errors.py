"""Every error status is JSON (an OperationOutcome) naming the problem; never HTML."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient

from tests.conftest import MakeApp, RecordingAuditSink
from tests.web.conftest import (
    SERVICE_URL,
    TOKEN,
    FakeEngine,
    FakeRenderer,
    assert_operation_outcome,
    hook_request,
    post_hook,
    standard_data,
)


@pytest.mark.requirement("14")
@pytest.mark.requirement("76")
def test_unknown_service_is_404(fake_client: FlaskClient) -> None:
    response = fake_client.post(
        "/cds-services/no-such-service",
        data=orjson.dumps(hook_request(standard_data())),
        content_type="application/json",
    )
    assert_operation_outcome(response, 404)


@pytest.mark.parametrize("path", ["/nope", "/cds-services/x/y/z", "/favicon.ico"])
def test_unknown_route_is_json_404(fake_client: FlaskClient, path: str) -> None:
    assert_operation_outcome(fake_client.get(path), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", SERVICE_URL), ("PUT", SERVICE_URL), ("DELETE", "/cds-services"), ("POST", "/healthz")],
)
def test_wrong_method_is_json_405(fake_client: FlaskClient, method: str, path: str) -> None:
    response = fake_client.open(path, method=method)
    assert_operation_outcome(response, 405)
    assert response.headers.get("Allow")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_415(fake_client: FlaskClient, content_type: str | None) -> None:
    kwargs: dict[str, Any] = {"data": orjson.dumps(hook_request(standard_data()))}
    if content_type:
        kwargs["content_type"] = content_type
    assert_operation_outcome(fake_client.post(SERVICE_URL, **kwargs), 415)


def test_fhir_json_content_type_is_accepted(fake_client: FlaskClient) -> None:
    response = post_hook(
        fake_client,
        hook_request(standard_data()),
        content_type="application/fhir+json; charset=utf-8",
    )
    assert response.status_code == 200


def _small_app(make_app: MakeApp) -> FlaskClient:
    app = make_app(engine=FakeEngine(), renderer=FakeRenderer(), max_body_bytes=2048)
    return app.test_client()


def test_body_over_the_limit_is_413_by_content_length(make_app: MakeApp) -> None:
    client = _small_app(make_app)
    body = orjson.dumps(hook_request(standard_data(), padding="x" * 4000))
    assert_operation_outcome(post_hook(client, body), 413)


def test_body_over_the_limit_is_413_without_content_length(make_app: MakeApp) -> None:
    client = _small_app(make_app)
    body = orjson.dumps(hook_request(standard_data(), padding="x" * 4000))
    # chunked upload: no Content-Length, the read itself is capped
    response = client.post(
        SERVICE_URL,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn sets it
    )
    assert_operation_outcome(response, 413)


def test_body_at_the_limit_is_read(make_app: MakeApp) -> None:
    client = _small_app(make_app)
    body = orjson.dumps(hook_request({"patient": None, "conditions": None}))
    body = body[:-1] + b"," + b'"p":"' + b"x" * (2048 - len(body) - 7) + b'"}'
    assert len(body) == 2048
    response = post_hook(client, body)
    assert response.status_code == 412  # read and parsed; observations were not prefetched


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"not json", b"\xff\xfe", b"[]", b"null", b'"text"', b"{}{}"],
    ids=["empty", "truncated", "text", "bad-utf8", "array", "null", "string", "two-docs"],
)
def test_malformed_json_is_400(fake_client: FlaskClient, body: bytes) -> None:
    assert_operation_outcome(post_hook(fake_client, body), 400)


def test_nesting_deeper_than_the_limit_is_400(fake_client: FlaskClient) -> None:
    body = hook_request(standard_data())
    deep: Any = {}
    for _ in range(100):
        deep = {"a": [deep]}
    body["extension"] = {"deep": deep}
    response = post_hook(fake_client, body)
    assert_operation_outcome(response, 400)
    assert "deeper" in response.get_json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("hookInstance"), "hookInstance"),
        (lambda b: b.update(hookInstance="not-a-uuid"), "hookInstance"),
        (lambda b: b.pop("hook"), "hook"),
        (lambda b: b.pop("context"), "context"),
        (lambda b: b["context"].pop("patientId"), "context.patientId"),
        (lambda b: b["context"].pop("userId"), "context.userId"),
        (lambda b: b["context"].update(patientId="../../etc"), "context.patientId"),
        (lambda b: b["context"].update(patientId=42), "context.patientId"),
        (lambda b: b["context"].update(userId="dr-1"), "context.userId"),
        (lambda b: b["context"].update(encounterId=""), "context.encounterId"),
        (lambda b: b.update(fhirServer="ftp://x"), "fhirServer"),
        (lambda b: b.pop("fhirServer"), "fhirServer"),
        (lambda b: b["fhirAuthorization"].pop("access_token"), "fhirAuthorization.access_token"),
        (lambda b: b["fhirAuthorization"].update(token_type="MAC"), "fhirAuthorization.token_type"),
        (lambda b: b["fhirAuthorization"].update(expires_in="300"), "fhirAuthorization.expires_in"),
        (lambda b: b["fhirAuthorization"].pop("scope"), "fhirAuthorization.scope"),
        (lambda b: b["fhirAuthorization"].pop("subject"), "fhirAuthorization.subject"),
        (lambda b: b.update(prefetch=[]), "prefetch"),
        (lambda b: b["prefetch"].update(observations="Observation/1"), "prefetch.observations"),
        (lambda b: b.update(extension="x"), "extension"),
    ],
)
def test_schema_violation_is_400_naming_the_field(
    fake_client: FlaskClient, change: Any, field: str
) -> None:
    body = hook_request(standard_data())
    change(body)
    response = post_hook(fake_client, body)
    assert_operation_outcome(response, 400, field)


def test_error_bodies_never_echo_the_token(fake_client: FlaskClient) -> None:
    body = hook_request(standard_data())
    body["fhirAuthorization"]["access_token"] = TOKEN * 2000  # over maxLength
    response = post_hook(fake_client, body)
    assert_operation_outcome(response, 400, "fhirAuthorization.access_token")
    assert TOKEN not in response.get_data(as_text=True)


def test_wrong_hook_is_400(fake_client: FlaskClient) -> None:
    body = hook_request(standard_data(), hook="order-sign")
    assert_operation_outcome(post_hook(fake_client, body), 400, "hook")


def test_every_call_is_audited_including_refusals(make_app: MakeApp) -> None:
    sink = RecordingAuditSink()
    app = make_app(engine=FakeEngine(), renderer=FakeRenderer(), store=sink)
    with app.test_client() as c:
        ok = post_hook(c, hook_request(standard_data()))
        post_hook(c, b"{")
        post_hook(c, hook_request({}, fhir_server=None, token=None))
    assert [r.status_code for r in sink.records] == [200, 400, 412]
    first = sink.records[0]
    assert first.service_id == "msc-liver-screening"
    assert first.ruleset_version == "fake-ruleset-1"
    assert first.outcome == "does-not-meet"
    assert first.reason_ids == ("fake.data",)
    assert first.card_uuids == tuple(card["uuid"] for card in ok.get_json()["cards"])
    assert first.card_topics == ("does-not-meet",)  # the report groups by card type
    assert first.data_source == "prefetch"
    assert first.fhir_requests == ()
    assert first.user_id == "Practitioner/dr-1"
    assert sink.records[1].hook_instance is None
    assert sink.records[2].hook_instance is not None
    assert sink.records[2].outcome is None
    assert all(TOKEN not in repr(r) for r in sink.records)


def test_audit_failure_does_not_break_the_hook(make_app: MakeApp) -> None:
    class Broken:
        def record_hook_call(self, record: object) -> None:
            raise RuntimeError("database down")

    app = make_app(engine=FakeEngine(), renderer=FakeRenderer(), store=Broken())
    with app.test_client() as c:
        assert post_hook(c, hook_request(standard_data())).status_code == 200


def test_audit_records_fhir_queries_without_patient_id_or_token(
    make_app: MakeApp, fhir_mock: Any
) -> None:
    from tests.web.conftest import FakeFhirServer

    FakeFhirServer(fhir_mock, standard_data())
    sink = RecordingAuditSink()
    app = make_app(engine=FakeEngine(), renderer=FakeRenderer(), store=sink)
    with app.test_client() as c:
        assert post_hook(c, hook_request({})).status_code == 200
    record = sink.records[0]
    assert record.data_source == "fhir-server"
    assert record.fhir_request_count == 6  # one query per prefetch key
    assert "Patient/{{context.patientId}}" in record.fhir_requests
    assert all("pat-1" not in q and TOKEN not in q for q in record.fhir_requests)


def test_engine_failure_is_a_json_500_without_details(make_app: MakeApp) -> None:
    class Exploding(FakeEngine):
        def evaluate(self, data: Any, now: Any) -> Any:
            raise ValueError("secret patient detail")

    app = make_app(engine=Exploding(), renderer=FakeRenderer())
    with app.test_client() as c:
        response = post_hook(c, hook_request(standard_data()))
    assert_operation_outcome(response, 500)
    assert "secret" not in response.get_data(as_text=True)
