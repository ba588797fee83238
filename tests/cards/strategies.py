"""Hypothesis strategies: arbitrary (well-typed) assessments for the card renderer."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import strategies as st

from cds_service.clinical.model import (
    Assessment,
    DataQualityNote,
    Evidence,
    MonitoringItem,
    MonitoringSchedule,
    MonitoringState,
    OrderableTest,
    Outcome,
    PatientSummary,
    RuleKind,
    RuleResult,
    ScoreInput,
    ScoreResult,
    Status,
    WorkupItem,
    WorkupStatus,
)
from tests.conftest import FORBIDDEN_WORDS as FORBIDDEN

# Text from patient data and the ruleset: anything, long or short, but without the words
# the service never uses (those would come from the data, not from the card wording).
text = st.text(min_size=1, max_size=160).filter(lambda s: not FORBIDDEN.search(s))
short = st.text(min_size=1, max_size=30).filter(lambda s: not FORBIDDEN.search(s))
numbers = st.floats(allow_nan=True, allow_infinity=True, width=64)
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31))
instants = st.one_of(
    days,
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 12, 31)),
    st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
)
loincs = st.one_of(st.sampled_from(["1742-6", "1920-8", "6301-6", "777-3", "42595-9"]), short)

evidence = st.builds(
    Evidence,
    label=short,
    resource_ref=st.none() | st.sampled_from(["Observation/o1", "Condition/c1", "Procedure/p"]),
    code=st.none() | short,
    value=st.none() | numbers,
    unit=st.none() | short,
    value_text=st.none() | short,
    original_value=st.none() | numbers,
    original_unit=st.none() | short,
    effective=st.none() | instants,
    note=st.none() | text,
)

rules = st.builds(
    RuleResult,
    id=st.sampled_from(
        [
            "exclusion.liver-cancer",
            "exclusion.meld-na",
            "exclusion.x",
            "indication.masld-alt",
            "indication.y",
            "applicability.z",
        ]
    ),
    kind=st.sampled_from(list(RuleKind)),
    label=text,
    status=st.sampled_from(list(Status)),
    reason=text,
    evidence=st.lists(evidence, max_size=3).map(tuple),
)

scores = st.builds(
    ScoreResult,
    id=st.sampled_from(["child-pugh", "meld-na", "fib-4", "apri", "other"]),
    label=short,
    value=st.none() | numbers,
    band=st.none() | short,
    inputs=st.lists(
        st.builds(
            ScoreInput,
            name=short,
            value=st.one_of(numbers, short),
            unit=st.none() | short,
            evidence=st.none() | evidence,
            clamped_from=st.none() | numbers,
            note=st.none() | short,
        ),
        max_size=3,
    ).map(tuple),
    estimated=st.booleans(),
    flags=st.lists(short, max_size=2).map(tuple),
    missing=st.lists(short, max_size=2).map(tuple),
    inputs_date=st.none() | days,
)

workup = st.builds(
    WorkupItem,
    id=short,
    label=text,
    status=st.sampled_from(list(WorkupStatus)),
    why=text,
    orders=st.lists(st.builds(OrderableTest, loinc=loincs, display=text), max_size=3).map(tuple),
    last_result=st.none() | evidence,
    blocking=st.booleans(),
)

monitoring = st.builds(
    MonitoringSchedule,
    items=st.lists(
        st.builds(
            MonitoringItem,
            id=short,
            label=text,
            offset_days=st.integers(0, 400),
            tolerance_days=st.integers(0, 60),
            state=st.sampled_from(list(MonitoringState)),
            due_date=st.none() | days,
            evidence=st.lists(evidence, max_size=2).map(tuple),
        ),
        max_size=5,
    ).map(tuple),
    infusion=st.none() | evidence,
    notes=st.lists(text, max_size=2).map(tuple),
)

assessments = st.builds(
    Assessment,
    outcome=st.sampled_from(list(Outcome)),
    evaluated_at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    ruleset_version=st.from_regex(r"[0-9]{1,2}\.[0-9]{1,2}(\.[0-9])?", fullmatch=True),
    patient=st.builds(
        PatientSummary,
        resource_ref=st.none() | st.just("Patient/p1"),
        age_years=st.none() | st.integers(0, 120),
        sex=st.sampled_from([None, "male", "female"]),
    ),
    rules=st.lists(rules, max_size=6).map(tuple),
    scores=st.lists(scores, max_size=4).map(tuple),
    workup=st.lists(workup, max_size=5).map(tuple),
    planned_monitoring=st.none() | monitoring,
    post_infusion_monitoring=st.none() | monitoring,
    liver_conditions=st.lists(text, max_size=4).map(tuple),
    data_quality=st.lists(
        st.builds(DataQualityNote, code=short, message=text, resource_ref=st.none() | short),
        max_size=3,
    ).map(tuple),
)

patient_ids = st.one_of(st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True), short)
