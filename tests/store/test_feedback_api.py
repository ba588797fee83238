"""POST /cds-services/{id}/feedback exactly as CDS Hooks 2.0 defines it."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from cds_service.store import Store
from cds_service.store.schema import feedback

from .helpers import SERVICE_ID, hook_record

URL = f"/cds-services/{SERVICE_ID}/feedback"

ACCEPTED = {
    "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
    "outcome": "accepted",
    "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
    "outcomeTimestamp": "2021-12-11T10:05:31Z",
}
OVERRIDDEN_WITH_REASON = {
    "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
    "outcome": "overridden",
    "overrideReason": {
        "reason": {
            "code": "d7ecf885",
            "system": "https://example.com/cds-hooks/override-reason-system",
        },
        "userComment": "A comment entered by the clinician.",
    },
    "outcomeTimestamp": "2020-12-11T00:00:00Z",
}
OVERRIDDEN_NO_REASON = {
    "card": "f6b95768-b1c8-40dc-8385-bf3504b82ffb",
    "outcome": "overridden",
    "outcomeTimestamp": "2020-12-11T00:00:00Z",
}


def rows(store: Store) -> list[Any]:
    with store.read() as conn:
        return list(conn.execute(select(feedback).order_by(feedback.c.id)))


@pytest.mark.requirement("148")
@pytest.mark.parametrize("item", [ACCEPTED, OVERRIDDEN_WITH_REASON, OVERRIDDEN_NO_REASON])
def test_spec_examples_are_stored_and_answered_with_empty_object(
    app: Flask, store: Store, item: dict[str, Any]
) -> None:
    response = app.test_client().post(URL, json={"feedback": [item]})
    assert response.status_code == 200
    assert response.get_json() == {}
    assert response.mimetype == "application/json"
    (row,) = rows(store)  # committed: a new connection sees it
    assert row.card_uuid == item["card"]
    assert row.outcome == item["outcome"]
    assert row.outcome_timestamp == datetime.fromisoformat(item["outcomeTimestamp"])
    assert row.accepted_suggestions == [s["id"] for s in item.get("acceptedSuggestions", [])]
    reason = item.get("overrideReason", {})
    assert row.override_reason_code == reason.get("reason", {}).get("code")
    assert row.override_reason_system == reason.get("reason", {}).get("system")
    assert row.override_comment == reason.get("userComment")
    assert row.service_id == SERVICE_ID


def test_several_items_in_one_request(app: Flask, store: Store) -> None:
    body = {"feedback": [ACCEPTED, OVERRIDDEN_WITH_REASON, OVERRIDDEN_NO_REASON]}
    assert app.test_client().post(URL, json=body).status_code == 200
    assert len(rows(store)) == 3


def test_empty_feedback_list_is_accepted(app: Flask, store: Store) -> None:
    assert app.test_client().post(URL, json={"feedback": []}).status_code == 200
    assert rows(store) == []


def test_same_feedback_sent_again_is_stored_once(app: Flask, store: Store) -> None:
    client = app.test_client()
    same_instant = {**OVERRIDDEN_NO_REASON, "outcomeTimestamp": "2020-12-11T01:00:00.000+01:00"}
    for body in (
        {"feedback": [OVERRIDDEN_NO_REASON]},
        {"feedback": [OVERRIDDEN_NO_REASON, OVERRIDDEN_NO_REASON]},
        {"feedback": [same_instant]},
    ):
        response = client.post(URL, json=body)
        assert (response.status_code, response.get_json()) == (200, {})
    assert len(rows(store)) == 1


def test_later_outcome_for_same_card_is_a_new_row(app: Flask, store: Store) -> None:
    later = {**OVERRIDDEN_NO_REASON, "outcomeTimestamp": "2020-12-12T00:00:00Z"}
    client = app.test_client()
    client.post(URL, json={"feedback": [OVERRIDDEN_NO_REASON]})
    client.post(URL, json={"feedback": [later]})
    assert len(rows(store)) == 2


def test_feedback_for_a_card_never_issued_is_kept_but_flagged(app: Flask, store: Store) -> None:
    store.record_hook_call(hook_record(card_uuids=(ACCEPTED["card"],)))
    assert store.flush(10)
    body = {"feedback": [ACCEPTED, OVERRIDDEN_NO_REASON]}
    assert app.test_client().post(URL, json=body).status_code == 200
    flags = {row.card_uuid: row.card_issued for row in rows(store)}
    assert flags == {ACCEPTED["card"]: True, OVERRIDDEN_NO_REASON["card"]: False}


@pytest.mark.requirement("148")
def test_unknown_service_is_404_operation_outcome(app: Flask, store: Store) -> None:
    response = app.test_client().post("/cds-services/nope/feedback", json={"feedback": []})
    assert response.status_code == 404
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "not-found"
    assert rows(store) == []


def _without(item: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != key}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "feedback"),
        ({"feedback": {}}, "feedback"),
        ({"feedback": ["x"]}, "feedback[0]"),
        ({"feedback": [_without(ACCEPTED, "card")]}, "feedback[0].card"),
        ({"feedback": [_without(ACCEPTED, "outcome")]}, "feedback[0].outcome"),
        ({"feedback": [_without(ACCEPTED, "outcomeTimestamp")]}, "feedback[0].outcomeTimestamp"),
        ({"feedback": [{**ACCEPTED, "outcome": "ignored"}]}, "feedback[0].outcome"),
        (
            {"feedback": [OVERRIDDEN_NO_REASON, _without(ACCEPTED, "acceptedSuggestions")]},
            "feedback[1].acceptedSuggestions",
        ),
        (
            {"feedback": [{**ACCEPTED, "acceptedSuggestions": []}]},
            "feedback[0].acceptedSuggestions",
        ),
        (
            {"feedback": [{**ACCEPTED, "acceptedSuggestions": [{"uuid": "x"}]}]},
            "feedback[0].acceptedSuggestions[0].id",
        ),
        (
            {"feedback": [{**ACCEPTED, "outcomeTimestamp": "yesterday"}]},
            "feedback[0].outcomeTimestamp",
        ),
        (
            {"feedback": [{**ACCEPTED, "outcomeTimestamp": "2021-02-30T10:00:00Z"}]},
            "feedback[0].outcomeTimestamp",
        ),
        (
            {"feedback": [{**ACCEPTED, "outcomeTimestamp": "9999-12-31T23:59:59-14:00"}]},
            "feedback[0].outcomeTimestamp",
        ),
        (
            {"feedback": [{**ACCEPTED, "outcomeTimestamp": "2021-12-11T10:05:31+99:00"}]},
            "feedback[0].outcomeTimestamp",
        ),
        (
            {"feedback": [{**OVERRIDDEN_NO_REASON, "overrideReason": {"reason": {"code": "x"}}}]},
            "feedback[0].overrideReason.reason.system",
        ),
        ({"feedback": [{**ACCEPTED, "card": 7}]}, "feedback[0].card"),
    ],
)  # fmt: skip
def test_invalid_feedback_is_400_naming_the_field(
    app: Flask, store: Store, body: Any, field: str
) -> None:
    response = app.test_client().post(URL, json=body)
    assert response.status_code == 400
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["severity"] == "error"
    assert issue["expression"] == [field]
    assert field in issue["diagnostics"]
    assert rows(store) == []


@pytest.mark.parametrize("data", [b"", b"{", b"[1, 2]", b"null", "\u00e9".encode("latin-1")])
def test_body_that_is_not_a_json_object_is_400(app: Flask, data: bytes) -> None:
    response = app.test_client().post(URL, data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_no_partial_write_when_one_item_is_invalid(app: Flask, store: Store) -> None:
    bad = {**ACCEPTED, "outcome": "maybe"}
    response = app.test_client().post(URL, json={"feedback": [OVERRIDDEN_NO_REASON, bad]})
    assert response.status_code == 400
    assert rows(store) == []


def test_concurrent_posts_with_duplicates_store_each_item_exactly_once(
    app: Flask, store: Store
) -> None:
    """8 threads x 200 posts drawn from 300 distinct items, with repeats and re-spellings."""
    distinct = []
    for n in range(300):
        card = f"card-{n % 120:03d}"
        if n % 2:
            distinct.append(
                {"card": card, "outcome": "accepted", "acceptedSuggestions": [{"id": f"s-{n}"}],
                 "outcomeTimestamp": f"2026-03-02T10:{n // 60:02d}:{n % 60:02d}Z"}
            )  # fmt: skip
        else:
            distinct.append(
                {"card": card, "outcome": "overridden",
                 "overrideReason": {"reason": {"code": f"r{n % 3}", "system": "urn:reasons"}},
                 "outcomeTimestamp": f"2026-03-02T10:{n // 60:02d}:{n % 60:02d}.000Z"}
            )  # fmt: skip
    sent: list[set[tuple[str, str, str]]] = [set() for _ in range(8)]
    statuses: list[list[int]] = [[] for _ in range(8)]
    start = threading.Barrier(8)

    def post_many(t: int) -> None:
        rng = random.Random(t)
        client = app.test_client()
        start.wait()
        for _ in range(200):
            batch = [rng.choice(distinct) for _ in range(rng.randint(1, 4))]
            batch += batch[:1]  # a duplicate inside the request as well
            statuses[t].append(client.post(URL, json={"feedback": batch}).status_code)
            sent[t].update((i["card"], i["outcome"], i["outcomeTimestamp"]) for i in batch)

    threads = [threading.Thread(target=post_many, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(300)

    assert all(code == 200 for codes in statuses for code in codes)
    assert sum(len(codes) for codes in statuses) == 1600
    expected = {
        (card, outcome, datetime.fromisoformat(ts).astimezone(UTC))
        for card, outcome, ts in set().union(*sent)
    }
    stored = [(r.card_uuid, r.outcome, r.outcome_timestamp) for r in rows(store)]
    assert len(stored) == len(set(stored))  # exactly once
    assert set(stored) == expected  # none lost, none invented


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
TIMESTAMP_LIKE = r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})\Z"
FEEDBACK_ITEM = st.fixed_dictionaries(
    {},
    optional={
        "card": st.text(max_size=40) | JSON,
        "outcome": st.sampled_from(["accepted", "overridden", "ignored", ""]) | JSON,
        "acceptedSuggestions": st.lists(st.fixed_dictionaries({"id": st.text(max_size=10)}))
        | JSON,
        "overrideReason": st.fixed_dictionaries(
            {}, optional={"reason": JSON, "userComment": st.text(max_size=30) | JSON}
        )
        | JSON,
        "outcomeTimestamp": st.datetimes(timezones=st.just(UTC)).map(
            lambda d: d.isoformat().replace("+00:00", "Z")
        )
        | st.from_regex(TIMESTAMP_LIKE)
        | st.text(max_size=30),
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.fixed_dictionaries({"feedback": st.lists(FEEDBACK_ITEM, max_size=3)}) | JSON)
def test_no_request_body_makes_a_500(app: Flask, body: Any) -> None:
    response = app.test_client().post(URL, json=body)
    assert response.status_code in {200, 400}, response.get_data(as_text=True)
    if response.status_code == 400:
        assert response.get_json()["resourceType"] == "OperationOutcome"
    else:
        assert response.get_json() == {}
