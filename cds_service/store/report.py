"""What the service advised and what clinicians did with it, for a date range.

Cards are counted by the day they were issued (UTC), grouped by the screening outcome of
the hook call that issued them and by card type (the card's topic code). For each card
the latest feedback (by ``outcomeTimestamp``) decides whether it counts as accepted or
overridden; a card with no feedback is "no feedback" (CDS Hooks 2.0: an ignored card is
never reported by the EHR). Acceptance rate = accepted / cards shown.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select

from cds_service.store.schema import feedback, issued_cards
from cds_service.store.store import Store

NO_REASON = "(no reason given)"
UNRECORDED = "(not recorded)"


@dataclass(frozen=True, slots=True)
class ReportRow:
    outcome: str
    card_type: str
    cards_shown: int
    accepted: int
    overridden: int
    no_feedback: int
    overridden_by_reason: tuple[tuple[str, int], ...] = ()

    @property
    def acceptance_rate(self) -> float | None:
        return None if self.cards_shown == 0 else self.accepted / self.cards_shown


@dataclass(frozen=True, slots=True)
class Report:
    start: date
    end: date  # inclusive
    rows: tuple[ReportRow, ...]
    total: ReportRow
    #: feedback received in the range for card uuids this service never issued
    feedback_for_unissued_cards: int = 0
    notes: tuple[str, ...] = field(default=())


def day_range(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00 UTC, the day after end 00:00 UTC)."""
    if end < start:
        raise ValueError("--to must not be before --from")
    return (
        datetime.combine(start, time(), UTC),
        datetime.combine(end + timedelta(days=1), time(), UTC),
    )


def build_report(store: Store, start: date, end: date) -> Report:
    lower, upper = day_range(start, end)
    in_range = and_(issued_cards.c.issued_at >= lower, issued_cards.c.issued_at < upper)
    with store.read() as conn:
        cards = conn.execute(
            select(issued_cards.c.card_uuid, issued_cards.c.outcome, issued_cards.c.card_type)
            .where(in_range)
        ).all()
        answers = conn.execute(
            select(
                feedback.c.card_uuid,
                feedback.c.outcome,
                feedback.c.outcome_timestamp,
                feedback.c.id,
                feedback.c.override_reason_system,
                feedback.c.override_reason_code,
                feedback.c.override_reason_display,
            )
            .join(issued_cards, issued_cards.c.card_uuid == feedback.c.card_uuid)
            .where(in_range)
        ).all()
        unissued = conn.scalar(
            select(func.count())
            .select_from(feedback)
            .where(feedback.c.received_at >= lower, feedback.c.received_at < upper)
            .where(~exists().where(issued_cards.c.card_uuid == feedback.c.card_uuid))
        )

    latest: dict[str, Any] = {}
    for answer in answers:
        held: Any = latest.get(answer.card_uuid)
        if held is None or (answer.outcome_timestamp, answer.id) > (
            held.outcome_timestamp,
            held.id,
        ):
            latest[answer.card_uuid] = answer

    groups: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    reasons: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for card in cards:
        key = (card.outcome or UNRECORDED, card.card_type or UNRECORDED)
        groups[key]["shown"] += 1
        last = latest.get(card.card_uuid)
        if last is None:
            groups[key]["none"] += 1
        elif last.outcome == "accepted":
            groups[key]["accepted"] += 1
        else:
            groups[key]["overridden"] += 1
            reasons[key][_reason_label(last)] += 1

    rows = tuple(
        _row(outcome, card_type, groups[(outcome, card_type)], reasons[(outcome, card_type)])
        for outcome, card_type in sorted(groups, key=_group_order)
    )
    all_counts: Counter[str] = sum((groups[k] for k in groups), Counter())
    all_reasons: Counter[str] = sum((reasons[k] for k in reasons), Counter())
    return Report(
        start=start,
        end=end,
        rows=rows,
        total=_row("all", "all", all_counts, all_reasons),
        feedback_for_unissued_cards=int(unissued or 0),
    )


def _group_order(key: tuple[str, str]) -> tuple[bool, str, bool, str]:
    outcome, card_type = key  # alphabetical, "(not recorded)" last
    return (outcome == UNRECORDED, outcome, card_type == UNRECORDED, card_type)


def _row(outcome: str, card_type: str, counts: Counter[str], reasons: Counter[str]) -> ReportRow:
    return ReportRow(
        outcome=outcome,
        card_type=card_type,
        cards_shown=counts["shown"],
        accepted=counts["accepted"],
        overridden=counts["overridden"],
        no_feedback=counts["none"],
        overridden_by_reason=tuple(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def _reason_label(answer: Any) -> str:
    if answer.override_reason_code is None:
        return NO_REASON
    if answer.override_reason_display:
        return f"{answer.override_reason_display} ({answer.override_reason_code})"
    return f"{answer.override_reason_system}|{answer.override_reason_code}"


# -- output -----------------------------------------------------------------------------
def _rate(row: ReportRow) -> str:
    rate = row.acceptance_rate
    return "-" if rate is None else f"{rate:.1%}"


def as_json(report: Report) -> str:
    def row(r: ReportRow) -> dict[str, Any]:
        return {
            "outcome": r.outcome,
            "cardType": r.card_type,
            "cardsShown": r.cards_shown,
            "accepted": r.accepted,
            "overridden": r.overridden,
            "overriddenByReason": dict(r.overridden_by_reason),
            "noFeedback": r.no_feedback,
            "acceptanceRate": None if r.acceptance_rate is None else round(r.acceptance_rate, 4),
        }

    return json.dumps(
        {
            "from": report.start.isoformat(),
            "to": report.end.isoformat(),
            "rows": [row(r) for r in report.rows],
            "total": row(report.total),
            "feedbackForUnissuedCards": report.feedback_for_unissued_cards,
        },
        indent=2,
    )


CSV_COLUMNS = (
    "outcome",
    "card_type",
    "cards_shown",
    "accepted",
    "overridden",
    "no_feedback",
    "acceptance_rate",
    "overridden_by_reason",
)


def as_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in (*report.rows, report.total):
        rate = "" if r.acceptance_rate is None else f"{r.acceptance_rate:.4f}"
        by_reason = "; ".join(f"{label}: {n}" for label, n in r.overridden_by_reason)
        writer.writerow(
            (r.outcome, r.card_type, r.cards_shown, r.accepted, r.overridden, r.no_feedback,
             rate, by_reason)
        )  # fmt: skip
    return out.getvalue()


def as_table(report: Report) -> str:
    headers = ("Outcome", "Card type", "Shown", "Accepted", "Overridden", "No feedback", "Accept %")
    body = [
        (r.outcome, r.card_type, str(r.cards_shown), str(r.accepted), str(r.overridden),
         str(r.no_feedback), _rate(r))
        for r in report.rows
    ]  # fmt: skip
    t = report.total
    total = ("All", "", str(t.cards_shown), str(t.accepted), str(t.overridden),
             str(t.no_feedback), _rate(t))  # fmt: skip
    widths = [max(len(row[i]) for row in (headers, *body, total)) for i in range(len(headers))]

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [
        f"Cards issued {report.start.isoformat()} to {report.end.isoformat()} (UTC), "
        "with clinicians' feedback",
        "",
        line(headers),
        rule,
        *(line(row) for row in body),
        rule,
        line(total),
    ]
    if not body:
        lines.insert(4, "(no cards issued in this period)")
    overridden = [r for r in report.rows if r.overridden_by_reason]
    if overridden:
        lines += ["", "Overridden, by reason:"]
        for r in overridden:
            lines.append(f"  {r.outcome} / {r.card_type}")
            for label, n in r.overridden_by_reason:
                lines.append(f"    {n:>5}  {label}")
    if report.feedback_for_unissued_cards:
        lines += [
            "",
            f"Feedback received for cards this service has no record of issuing: "
            f"{report.feedback_for_unissued_cards} (kept, flagged; not counted above)",
        ]
    lines += ["", "Accept % = accepted / cards shown. A card's latest feedback counts."]
    return "\n".join(lines) + "\n"


FORMATTERS = {"table": as_table, "csv": as_csv, "json": as_json}
