"""Reference catalog honesty and the `cds-service references check` command (mocked PubMed)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import responses
from click.testing import CliRunner
from responses import matchers

from cds_service.cards.definitions import load_references
from cds_service.cli import main
from cds_service.resources import data_dir

ESUMMARY = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/esummary.fcgi"
CLINIC_PMIDS = ["32517710", "33427743", "35884347"]


def catalog() -> dict[str, Any]:
    return {r.id: r for r in load_references(data_dir("cards"))}


def summary(uid: str, title: str, author: str, source: str, pubdate: str) -> dict[str, Any]:
    return {
        "uid": uid,
        "pubdate": pubdate,
        "epubdate": "",
        "source": source,
        "authors": [
            {"name": author, "authtype": "Author", "clusterid": ""},
            {"name": "Other X", "authtype": "Author", "clusterid": ""},
        ],
        "title": title,
        "fulljournalname": source + " (full name)",
    }


def as_catalogued() -> dict[str, Any]:
    """An esummary answer that agrees with the catalog (PubMed style: trailing period)."""
    refs = [r for r in catalog().values() if r.pmid]
    result: dict[str, Any] = {"uids": [r.pmid for r in refs]}
    for r in refs:
        result[str(r.pmid)] = summary(
            str(r.pmid), r.title.upper() + ".", r.first_author, r.journal, f"{r.year} Jun 8"
        )
    return {"header": {"type": "esummary", "version": "0.3"}, "result": result}


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["references", "check", *args])


# ------------------------------------------------------------------------- catalog
def test_clinic_citations_are_listed_as_not_verified() -> None:
    refs = catalog()
    clinic = [r for r in refs.values() if r.cited_by_clinic]
    assert sorted(str(r.pmid) for r in clinic) == CLINIC_PMIDS
    for r in clinic:
        assert r.verified is False
        assert r.verification_status == "cited-by-clinic-not-verified"


def test_verified_references_are_the_spec_ones_without_invented_pmids() -> None:
    verified = {r.id: r for r in catalog().values() if r.verified}
    assert set(verified) == {
        "shi-2021-hepatol-int",
        "lin-2017-hepatology",
        "suk-2016-hepatology",
        "cochrane-cd015173",
    }
    assert verified["shi-2021-hepatol-int"].doi == "10.1007/s12072-021-10199-2"
    assert verified["lin-2017-hepatology"].doi == "10.1002/hep.29189"
    assert (verified["suk-2016-hepatology"].volume, verified["suk-2016-hepatology"].pages) == (
        "64",
        "2185-2197",
    )
    for r in verified.values():
        assert r.pmid is None, "PMIDs of the verified references were not confirmed"
        assert r.verification_status == "verified-secondary-source"
        assert "not" in r.verification_method  # says what was not confirmed


# ------------------------------------------------------------------------- command
@responses.activate
def test_all_match_exits_zero() -> None:
    responses.get(
        ESUMMARY,
        json=as_catalogued(),
        match=[
            matchers.query_param_matcher(
                {
                    "db": "pubmed",
                    "id": ",".join(CLINIC_PMIDS),
                    "retmode": "json",
                    "tool": "cds-service-references-check",
                }
            )
        ],
    )
    result = run()
    assert result.exit_code == 0, result.output
    assert result.output.count("MATCH ") == 3
    assert "NO PMID   shi-2021-hepatol-int" in result.output
    assert "3 PMID(s) checked, 0 with problems, 4 without a PMID." in result.output


@responses.activate
def test_mismatch_is_reported_field_by_field_and_exits_one() -> None:
    body = as_catalogued()
    body["result"]["33427743"] = summary(
        "33427743", "A different paper about something else.", "Smith J", "Hepatology", "2020 Jan"
    )
    responses.get(ESUMMARY, json=body)
    result = run()
    assert result.exit_code == 1
    assert "MISMATCH  PMID 33427743 (clinic-luo-2021, catalog: not verified)" in result.output
    for field in (
        "title:",
        "first author: catalog 'Luo L' / PubMed 'Smith J'",
        "journal: catalog 'Hepatol Int' / PubMed 'Hepatology'",
        "year: catalog '2021' / PubMed '2020'",
    ):
        assert field in result.output
    assert "1 with problems" in result.output


@responses.activate
def test_unknown_pmid_is_reported() -> None:
    body = as_catalogued()
    body["result"]["35884347"] = {"uid": "35884347", "error": "cannot get document summary"}
    responses.get(ESUMMARY, json=body)
    result = run()
    assert result.exit_code == 1
    assert "NOT FOUND PMID 35884347" in result.output
    assert "cannot get document summary" in result.output


@responses.activate
@pytest.mark.parametrize(
    "failure",
    [
        {"body": requests.ConnectionError("network unreachable")},
        {"body": requests.Timeout("timed out")},
        {"status": 429, "json": {"error": "API rate limit exceeded"}},
        {"status": 200, "body": "<html>proxy login</html>"},
        {"status": 200, "json": {"error": "Invalid uid"}},
    ],
)
def test_unreachable_pubmed_is_said_and_exits_three(failure: dict[str, Any]) -> None:
    responses.get(ESUMMARY, **failure)
    result = run()
    assert result.exit_code == 3
    assert "PubMed unreachable" in result.output
    assert "Nothing was verified." in result.output


@responses.activate
def test_custom_base_url_and_email() -> None:
    responses.get(
        "https://eutils.example.test/esummary.fcgi",
        json=as_catalogued(),
        match=[matchers.query_param_matcher({"email": "lead@example.org"}, strict_match=False)],
    )
    result = run("--eutils-url", "https://eutils.example.test/", "--email", "lead@example.org")
    assert result.exit_code == 0, result.output


def test_bad_catalog_is_a_clear_error(tmp_path: Any) -> None:
    (tmp_path / "references.yaml").write_text("references: []\n", encoding="utf-8")
    (tmp_path / "schemas").mkdir()
    schema = data_dir("cards") / "schemas" / "references.schema.json"
    (tmp_path / "schemas" / "references.schema.json").write_text(schema.read_text())
    result = run("--cards-dir", str(tmp_path))
    assert result.exit_code == 1
    assert "does not match references.schema.json" in result.output
