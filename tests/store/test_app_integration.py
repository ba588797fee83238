"""The store inside the real application factory: hook -> audit -> feedback joins the card."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import select

from cds_service.store import Store
from cds_service.store.schema import feedback, hook_calls, issued_cards
from tests.conftest import MakeApp
from tests.web.conftest import (
    TOKEN,
    FakeEngine,
    FakeRenderer,
    hook_request,
    post_hook,
    standard_data,
)

FEEDBACK_URL = "/cds-services/msc-liver-screening/feedback"


def app_with(make_app: MakeApp, store: Store | None, **overrides: object) -> Flask:
    return make_app(engine=FakeEngine(), renderer=FakeRenderer(), store=store, **overrides)


def test_hook_call_is_audited_and_its_card_takes_feedback(
    make_app: MakeApp, store: Store
) -> None:
    client = app_with(make_app, store).test_client()
    hook = post_hook(client, hook_request(standard_data()))
    assert hook.status_code == 200
    card_uuid = hook.get_json()["cards"][0]["uuid"]
    assert store.flush(10)

    with store.read() as conn:
        call = conn.execute(select(hook_calls)).one()
        issued = conn.execute(select(issued_cards)).one()
    assert call.status_code == 200
    assert call.card_uuids == [card_uuid]
    assert call.ruleset_version == "fake-ruleset-1"
    assert call.data_source == "prefetch"
    assert TOKEN not in repr(tuple(call))  # never the access token
    assert issued.card_uuid == card_uuid

    answer = client.post(
        FEEDBACK_URL,
        json={"feedback": [{"card": card_uuid, "outcome": "overridden",
                            "outcomeTimestamp": "2026-11-01T12:05:00Z"}]},
    )  # fmt: skip
    assert (answer.status_code, answer.get_json()) == (200, {})
    with store.read() as conn:
        row = conn.execute(select(feedback)).one()
    assert (row.card_uuid, row.card_issued) == (card_uuid, True)


def test_rejected_hook_calls_are_audited(make_app: MakeApp, store: Store) -> None:
    client = app_with(make_app, store).test_client()
    assert post_hook(client, {"hook": "patient-view"}).status_code == 400
    assert store.flush(10)
    with store.read() as conn:
        assert conn.scalar(select(hook_calls.c.status_code)) == 400


def test_without_a_store_the_app_opens_and_migrates_the_sqlite_file(
    make_app: MakeApp, tmp_path: Path
) -> None:
    path = tmp_path / "service.sqlite3"
    client = app_with(make_app, None, sqlite_path=str(path)).test_client()
    answer = client.post(
        FEEDBACK_URL,
        json={"feedback": [{"card": "c", "outcome": "overridden",
                            "outcomeTimestamp": "2026-11-01T12:05:00Z"}]},
    )  # fmt: skip
    assert answer.status_code == 200
    assert path.exists()
    assert client.get("/readyz").status_code == 200
