"""``cds-service report``: figures checked against a known set of audit and feedback rows."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from cds_service.cli import main
from cds_service.config import Settings
from cds_service.hooks.audit import HookCallRecord
from cds_service.store import Store, parse_feedback_request
from cds_service.store.report import NO_REASON, UNRECORDED, ReportRow, build_report

from .helpers import SERVICE_ID, hook_record

DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EXCL, MEETS, WORKUP = "excluded", "meets-screening-criteria", "workup-incomplete"
PIM = "post-infusion-monitoring"
DECLINED = {"code": "pt-declined", "system": "urn:reasons", "display": "Patient declined"}
OTHER = {"code": "other", "system": "urn:reasons"}


def call(when: datetime, outcome: str, cards: dict[str, str]) -> HookCallRecord:
    return hook_record(
        time=when, outcome=outcome, card_uuids=tuple(cards), card_topics=tuple(cards.values())
    )


def answer(card: str, outcome: str, at: datetime, reason: dict[str, str] | None = None) -> Any:
    item: dict[str, Any] = {"card": card, "outcome": outcome, "outcomeTimestamp": at.isoformat()}
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": f"{card}-s"}]
    if reason is not None:
        item["overrideReason"] = {"reason": reason}
    return item


@pytest.fixture
def known(store: Store) -> Store:
    store.write_hook_calls(
        [
            call(DAY, EXCL, {"a1": EXCL, "a2": PIM}),
            call(DAY, EXCL, {"b1": EXCL}),
            call(DAY, MEETS, {"c1": MEETS}),
            call(DAY, MEETS, {"d1": MEETS}),
            call(DAY, WORKUP, {"e1": WORKUP}),
            call(datetime(2026, 2, 28, 23, 59, tzinfo=UTC), EXCL, {"f1": EXCL}),  # before
            call(datetime(2026, 3, 5, 23, 59, tzinfo=UTC), EXCL, {"g1": EXCL}),  # last day
            call(datetime(2026, 3, 6, 0, 0, tzinfo=UTC), EXCL, {"h1": EXCL}),  # after
        ]
    )
    store.write_hook_calls([hook_record(time=DAY, outcome=EXCL, card_uuids=("n1",))])  # no topic
    later = DAY + timedelta(hours=1)
    items = [
        answer("a1", "overridden", later, DECLINED),
        answer("a2", "accepted", later),
        answer("b1", "overridden", later),
        answer("b1", "accepted", later + timedelta(minutes=5)),  # the latest counts
        answer("c1", "overridden", later, DECLINED),
        answer("c1", "overridden", later, DECLINED),  # duplicate
        answer("e1", "overridden", later, OTHER),
        answer("f1", "accepted", later),
        answer("g1", "overridden", later, DECLINED),
        answer("h1", "accepted", later),
        answer("n1", "overridden", later),
        answer("zz-never-issued", "overridden", later),
    ]
    store.record_feedback(SERVICE_ID, parse_feedback_request({"feedback": items}), later)
    return store


DECLINED_LABEL = "Patient declined (pt-declined)"
EXPECTED_ROWS = [
    ReportRow(EXCL, EXCL, 3, 1, 2, 0, ((DECLINED_LABEL, 2),)),
    ReportRow(EXCL, PIM, 1, 1, 0, 0),
    ReportRow(EXCL, UNRECORDED, 1, 0, 1, 0, ((NO_REASON, 1),)),
    ReportRow(MEETS, MEETS, 2, 0, 1, 1, ((DECLINED_LABEL, 1),)),
    ReportRow(WORKUP, WORKUP, 1, 0, 1, 0, (("urn:reasons|other", 1),)),
]
EXPECTED_TOTAL = ReportRow(
    "all", "all", 8, 2, 5, 1, ((DECLINED_LABEL, 3), (NO_REASON, 1), ("urn:reasons|other", 1))
)


def test_report_figures_match_the_known_rows(known: Store) -> None:
    report = build_report(known, date(2026, 3, 1), date(2026, 3, 5))
    assert list(report.rows) == EXPECTED_ROWS
    assert report.total == EXPECTED_TOTAL
    assert report.total.acceptance_rate == pytest.approx(2 / 8)
    assert report.rows[0].acceptance_rate == pytest.approx(1 / 3)
    assert report.feedback_for_unissued_cards == 1


def test_report_range_bounds_are_whole_utc_days(known: Store) -> None:
    only_first_day = build_report(known, date(2026, 3, 2), date(2026, 3, 2))
    assert only_first_day.total.cards_shown == 7
    assert build_report(known, date(2026, 3, 6), date(2026, 3, 6)).total.cards_shown == 1
    empty = build_report(known, date(2025, 1, 1), date(2025, 1, 31))
    assert empty.rows == ()
    assert empty.total.acceptance_rate is None


def _run(store_settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(
        main,
        ["report", "--from", "2026-03-01", "--to", "2026-03-05", *args],
        env={"DATABASE_URL": store_settings.database_url or ""},
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_report_command_json(known: Store, store_settings: Settings) -> None:
    data = json.loads(_run(store_settings, "--format", "json"))
    assert data["from"] == "2026-03-01"
    assert data["to"] == "2026-03-05"
    assert data["total"] == {
        "outcome": "all",
        "cardType": "all",
        "cardsShown": 8,
        "accepted": 2,
        "overridden": 5,
        "overriddenByReason": {DECLINED_LABEL: 3, NO_REASON: 1, "urn:reasons|other": 1},
        "noFeedback": 1,
        "acceptanceRate": 0.25,
    }
    assert [(r["outcome"], r["cardType"], r["cardsShown"]) for r in data["rows"]] == [
        (r.outcome, r.card_type, r.cards_shown) for r in EXPECTED_ROWS
    ]
    assert data["feedbackForUnissuedCards"] == 1


def test_report_command_csv(known: Store, store_settings: Settings) -> None:
    rows = list(csv.DictReader(io.StringIO(_run(store_settings, "--format", "csv"))))
    assert len(rows) == len(EXPECTED_ROWS) + 1
    first = rows[0]
    assert (first["outcome"], first["card_type"], first["cards_shown"], first["accepted"],
            first["overridden"], first["no_feedback"], first["acceptance_rate"]) == (
        EXCL, EXCL, "3", "1", "2", "0", "0.3333")  # fmt: skip
    assert first["overridden_by_reason"] == f"{DECLINED_LABEL}: 2"
    assert rows[-1]["outcome"] == "all"
    assert rows[-1]["cards_shown"] == "8"


def test_report_command_table_is_readable(known: Store, store_settings: Settings) -> None:
    text = _run(store_settings)  # table is the default
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("Outcome"))
    assert "Accepted" in header
    assert "No feedback" in header
    meets = next(line for line in lines if line.startswith(MEETS))
    assert meets.split()[-5:] == ["2", "0", "1", "1", "0.0%"]
    total = next(line for line in lines if line.startswith("All"))
    assert total.split()[-5:] == ["8", "2", "5", "1", "25.0%"]
    assert "Overridden, by reason:" in text
    assert "no record of issuing: 1" in text


def test_report_command_rejects_bad_dates(store_settings: Settings) -> None:
    runner = CliRunner()
    env = {"DATABASE_URL": store_settings.database_url or ""}
    bad = runner.invoke(main, ["report", "--from", "March", "--to", "2026-03-05"], env=env)
    assert bad.exit_code == 2
    assert "YYYY-MM-DD" in bad.output
    backwards = runner.invoke(
        main, ["report", "--from", "2026-03-05", "--to", "2026-03-01"], env=env
    )
    assert backwards.exit_code == 2


def test_report_on_an_empty_database_says_to_upgrade(store_settings: Settings) -> None:
    result = CliRunner().invoke(
        main,
        ["report", "--from", "2026-03-01", "--to", "2026-03-05"],
        env={"DATABASE_URL": store_settings.database_url or ""},
    )
    assert result.exit_code == 1
    assert "cds-service db upgrade" in result.output
