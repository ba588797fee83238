"""The typed subset decoder (cds_service.hooks.subset) gives the same answers as a full parse.

The fast path keeps, of each prefetched resource, only the fields declared in
``cds_service/hooks/subset.py``. These tests hold it to its contract:

* every key the resolver, engine and cards read from prefetched resources, over every fixture
  scenario and the Synthea patients, is a declared field (recorded at run time), and every key
  literal the FHIR readers use is declared (read from their source);
* every fixture request takes the fast path and is answered exactly as the full parse answers;
* requests mutated at random answer the same on both paths (or the fast path steps aside);
* bodies the full parser refuses are refused (invalid UTF-8, lone surrogates), and integers
  orjson reads differently are left to orjson.

Requirement rows (cds-hooks-2.0-service-requirements.tsv): 28 (FHIR data may come by
prefetch: read the same on both paths) and 1 (data is JSON: a body that is not valid JSON text
is refused on both paths).
"""

from __future__ import annotations

import copy
import json
import re
import typing
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cds_service.bundle_prefetch import (
    hook_instance_for,
    hook_request,
    patient_ids,
    prefetch_from_bundle,
)
from cds_service.config import Settings
from cds_service.hooks import subset
from cds_service.hooks.errors import HookError
from cds_service.hooks.prefetch import PREFETCH_KEYS
from cds_service.hooks.request import parse_hook_request, surely_valid
from cds_service.local_run import LocalPipeline
from tests.fixtures.hook_app import ResettableUuids, SettableClock
from tests.fixtures.scenarios import HOOK_REQUESTS_DIR, REPO_ROOT, load, scenario_names

SYNTHEA_DIR = REPO_ROOT.parent / "shared" / "data" / "synthea-r4-sample"
READERS = (
    "cds_service/clinical/facts.py",
    "cds_service/fhir/bundles.py",
    "cds_service/hooks/resolution.py",
    "cds_service/hooks/service.py",
)


@pytest.fixture(scope="module")
def pipeline() -> Iterator[LocalPipeline]:
    pipe = LocalPipeline.build(
        Settings(),
        clock=SettableClock(datetime(2026, 11, 1, 12, tzinfo=UTC)),
        uuid_factory=ResettableUuids(),
    )
    yield pipe
    pipe.close()


def _requests() -> list[tuple[str, bytes, datetime]]:
    """(name, body, evaluation time) of every fixture scenario's prefetch request."""
    out = []
    for name in scenario_names():
        path = HOOK_REQUESTS_DIR / f"{name}.prefetch.json"
        out.append((name, path.read_bytes(), load(name).evaluation_time))
    return out


REQUESTS = _requests()


def _answer(pipeline: LocalPipeline, document: dict[str, Any], when: datetime) -> Any:
    """Cards and assessment for a parsed request, or the error it raised (status, message)."""
    pipeline.clock.now = when  # type: ignore[attr-defined]
    pipeline.uuid_factory.count = 0  # type: ignore[attr-defined]
    try:
        result = pipeline.handle(document)
    except HookError as error:
        return ("error", error.status, str(error))
    return (result.cards, result.assessment)


# --- every read field is declared -----------------------------------------------------------


class _Recording(dict[str, Any]):
    """A JSON object that records which keys are read, by path."""

    def __init__(self, value: dict[str, Any], path: tuple[str, ...], reads: dict[Any, Any]):
        super().__init__({k: _record(v, (*path, k), reads) for k, v in value.items()})
        self._path = path
        self._reads = reads

    def _read(self, key: object) -> None:
        self._reads[(*self._path, str(key))].add("read")

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self._read(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self._read(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self._read(key)
        return super().__contains__(key)

    def _whole(self, *_: Any) -> None:
        self._reads[(*self._path, "*")].add("whole object")

    def __iter__(self) -> Iterator[str]:
        self._whole()
        return super().__iter__()

    def keys(self) -> Any:
        self._whole()
        return super().keys()

    def items(self) -> Any:
        self._whole()
        return super().items()

    def values(self) -> Any:
        self._whole()
        return super().values()


def _record(value: Any, path: tuple[str, ...], reads: dict[Any, Any]) -> Any:
    if type(value) is dict:
        return _Recording(value, path, reads)
    if type(value) is list:
        return [_record(v, (*path, "[]"), reads) for v in value]
    return value


def _declared(path: tuple[str, ...]) -> bool:
    """Is ``path`` (below a prefetch value) a field of ``subset.Resource``?"""
    node: Any = subset.Resource
    for step in path:
        while typing.get_origin(node) in (typing.Union, type(int | None)):
            node = next(a for a in typing.get_args(node) if a is not type(None))
        if typing.get_origin(node) is typing.Annotated:
            node = typing.get_args(node)[0]
        if step == "[]":
            if typing.get_origin(node) is not list:
                return False
            node = typing.get_args(node)[0]
            continue
        if not typing.is_typeddict(node):
            return False
        hints = typing.get_type_hints(node, include_extras=True)
        if step not in hints:
            return False
        node = hints[step]
    return True


def _documents(templates: Mapping[str, str]) -> list[tuple[dict[str, Any], datetime]]:
    docs = [(orjson.loads(body), when) for _name, body, when in REQUESTS]
    for path in sorted(SYNTHEA_DIR.glob("*.json")) if SYNTHEA_DIR.is_dir() else []:
        bundle = json.loads(path.read_text())
        for pid in patient_ids(bundle):
            prefetch = prefetch_from_bundle(bundle, pid, templates)
            docs.append(
                (
                    hook_request(pid, hook_instance=hook_instance_for(pid), prefetch=prefetch),
                    datetime(2026, 11, 1, tzinfo=UTC),
                )
            )
    return docs


def test_every_field_the_service_reads_from_prefetch_is_declared(
    pipeline: LocalPipeline,
) -> None:
    reads: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for document, when in _documents(pipeline.templates):
        document["prefetch"] = {
            key: _record(value, (), reads) for key, value in document["prefetch"].items()
        }
        _answer(pipeline, document, when)
    assert len(reads) > 60, "the recorder saw too little: is it still wired in?"
    whole = sorted("/".join(p) for p in reads if p[-1] == "*")
    assert not whole, f"code walks whole prefetched objects (cannot be cut down): {whole}"
    undeclared = sorted("/".join(p) for p in reads if not _declared(p))
    assert not undeclared, f"read but not declared in cds_service/hooks/subset.py: {undeclared}"


def _key_literals(text: str) -> set[str]:
    """String literals used as JSON keys: .get("k"), ["k"], "k" in ..., for key in ("k", ...)."""
    keys = set(re.findall(r'\.get\("([A-Za-z]+)"', text))
    keys |= set(re.findall(r'\["([A-Za-z]+)"\]', text))
    keys |= set(re.findall(r'"([A-Za-z]+)" in ', text))
    for group in re.findall(r"for key in \(([^)]*)\)", text):
        keys |= set(re.findall(r'"([A-Za-z]+)"', group))
    return keys


def test_every_key_literal_of_the_fhir_readers_is_declared() -> None:
    # Branches no fixture reaches (effectiveInstant, performedPeriod...) are covered here.
    declared: set[str] = set()
    for name in dir(subset):
        kind = getattr(subset, name)
        if isinstance(kind, type) and typing.is_typeddict(kind):
            declared |= set(typing.get_type_hints(kind))
    # keys these modules read from other JSON: prefetch key names, the cards they build
    other_json = {key.name for key in PREFETCH_KEYS} | {"uuid", "source", "topic", "code"}
    found: set[str] = set()
    for reader in READERS:
        keys = _key_literals((REPO_ROOT / reader).read_text()) - (other_json - declared)
        found |= keys
        assert keys - declared == set(), f"{reader} reads undeclared keys"
    assert {"effectiveInstant", "performedPeriod", "high", "validityPeriod"} <= found


# --- same answers --------------------------------------------------------------------------


@pytest.mark.requirement("28")
@pytest.mark.parametrize(("name", "body", "when"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_fixture_requests_take_the_fast_path_and_answer_the_same(
    pipeline: LocalPipeline, name: str, body: bytes, when: datetime
) -> None:
    cut = subset.decode_subset(body)
    assert cut is not None, name
    assert surely_valid(cut), name
    full = orjson.loads(body)
    assert _answer(pipeline, cut, when) == _answer(pipeline, full, when)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
# declared fields (to bend) and a few undeclared ones (to show they never matter)
_FIELDS = [*sorted(typing.get_type_hints(subset.Resource)), "meta", "subject", "note", "category"]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out += _paths(child, (*path, i))
    return out


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    index=st.integers(min_value=0, max_value=len(REQUESTS) - 1),
    replacement=_json,
)
def test_bent_requests_answer_the_same_on_both_paths(
    pipeline: LocalPipeline, data: st.DataObject, index: int, replacement: Any
) -> None:
    name, body, when = REQUESTS[index]
    document = orjson.loads(body)
    prefetch = document["prefetch"]
    # bend one value somewhere inside the prefetch (or add a field to one object)
    targets = [p for p in _paths(prefetch) if p]
    path = data.draw(st.sampled_from(targets), label="path")
    parent: Any = prefetch
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and data.draw(st.booleans(), label="add a field"):
        parent[data.draw(st.sampled_from(_FIELDS), label="field")] = replacement
    else:
        parent[path[-1]] = replacement
    raw = orjson.dumps(document)
    cut = subset.decode_subset(raw)
    if cut is None or not surely_valid(cut):
        event("full path")
        return  # the full path answers: nothing to compare
    event("fast path")
    full = orjson.loads(raw)
    assert _answer(pipeline, cut, when) == _answer(pipeline, copy.deepcopy(full), when), name


# --- what the full parser refuses, the fast path does not take --------------------------------

VALID = REQUESTS[0][1]


def _with_unknown_field(raw_value: bytes) -> bytes:
    return VALID.rstrip()[:-1] + b',"x-unknown":' + raw_value + b"}"


@pytest.mark.requirement("1")
@pytest.mark.parametrize(
    "raw_value",
    [b'"\xff\xfe"', b'"\xed\xa0\x80"', b'"\\ud800"', b'"\\udc00x"', b"[1,2,]", b"tru"],
    ids=[
        "invalid-utf8",
        "utf8-surrogate",
        "lone-high-surrogate",
        "lone-low-surrogate",
        "trailing-comma",
        "bad-literal",
    ],
)
def test_a_body_orjson_refuses_is_refused(raw_value: bytes) -> None:
    body = _with_unknown_field(raw_value)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    assert subset.decode_subset(body) is None
    with pytest.raises(HookError) as refused:
        parse_hook_request(body, max_depth=64)
    assert refused.value.status == 400


def test_integers_beyond_64_bits_are_left_to_orjson() -> None:
    document = orjson.loads(VALID)
    observations = document["prefetch"]["observations"]
    quantity = next(
        e["resource"]["valueQuantity"]
        for e in observations["entry"]
        if "valueQuantity" in e["resource"]
    )
    quantity["value"] = 1
    text = orjson.dumps(document).replace(b'"value":1,', b'"value":123456789012345678901,', 1)
    assert orjson.loads(text) != document  # orjson reads it as a float
    assert subset.decode_subset(text) is None


def test_deep_nesting_in_an_ignored_field_is_still_refused() -> None:
    body = _with_unknown_field(b"[" * 100 + b"]" * 100)
    assert orjson.loads(body)
    with pytest.raises(HookError) as refused:
        parse_hook_request(body, max_depth=64)
    assert refused.value.status == 400


def test_the_envelope_is_read_whole_and_unknown_top_level_fields_are_dropped() -> None:
    document = orjson.loads(VALID)
    document["context"]["x-vendor"] = {"deep": [1, {"a": None}]}
    document["extension"] = {"x": 1}
    document["x-top"] = "dropped"
    cut = subset.decode_subset(orjson.dumps(document))
    assert cut is not None
    assert cut["context"] == document["context"]
    assert cut["extension"] == {"x": 1}
    assert "x-top" not in cut


def test_undeclared_fields_are_cut_away() -> None:
    # fields the service never reads (meta, subject, category, performer...) are not decoded
    cut = subset.decode_subset(VALID)
    assert cut is not None
    resource = cut["prefetch"]["observations"]["entry"][0]["resource"]
    assert "meta" not in resource
    assert "subject" not in resource
