"""Check the reference catalog's PMIDs against PubMed (NCBI E-utilities esummary).

One GET for all PMIDs; compares title, first author, journal and year with the catalog.
Never edits the catalog: it reports, a person decides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import requests

from cds_service.cards.definitions import Reference

EUTILS_BASE_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
TOOL_NAME = "cds-service-references-check"


class CheckStatus(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    NOT_FOUND = "not-found"


@dataclass(frozen=True, slots=True)
class FieldMismatch:
    field: str  # "title", "first author", "journal", "year"
    catalog: str
    pubmed: str


@dataclass(frozen=True, slots=True)
class PmidCheck:
    reference: Reference
    status: CheckStatus
    mismatches: tuple[FieldMismatch, ...] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CheckReport:
    checks: tuple[PmidCheck, ...] = ()
    skipped: tuple[Reference, ...] = field(default=())  # no PMID in the catalog

    @property
    def ok(self) -> bool:
        return all(c.status is CheckStatus.MATCH for c in self.checks)


class PubMedUnreachableError(RuntimeError):
    """The E-utilities service could not be reached or answered with an error."""


def _norm(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form for comparing bibliographic text."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def _year(pubdate: str) -> str:
    found = re.search(r"\b(1[89]|20|21)\d{2}\b", pubdate)
    return found.group(0) if found else ""


def compare(reference: Reference, summary: Mapping[str, Any]) -> tuple[FieldMismatch, ...]:
    """Fields where the catalog and PubMed's document summary disagree."""
    mismatches: list[FieldMismatch] = []
    title = str(summary.get("title", ""))
    if _norm(title) != _norm(reference.title):
        mismatches.append(FieldMismatch("title", reference.title, title))
    authors = summary.get("authors") or []
    first = str(authors[0].get("name", "")) if authors and isinstance(authors[0], dict) else ""
    if _norm(first) != _norm(reference.first_author):
        mismatches.append(FieldMismatch("first author", reference.first_author, first))
    journals = [str(summary.get(k, "")) for k in ("source", "fulljournalname")]
    if _norm(reference.journal) not in {_norm(j) for j in journals if j}:
        mismatches.append(FieldMismatch("journal", reference.journal, journals[0] or journals[1]))
    years = {_year(str(summary.get(k, ""))) for k in ("pubdate", "epubdate")} - {""}
    if str(reference.year) not in years:
        mismatches.append(
            FieldMismatch("year", str(reference.year), _year(str(summary.get("pubdate", ""))))
        )
    return tuple(mismatches)


def check_references(
    references: Iterable[Reference],
    session: requests.Session,
    *,
    base_url: str = EUTILS_BASE_URL,
    timeout: float = 10.0,
    email: str | None = None,
) -> CheckReport:
    """Fetch PubMed summaries of every catalog PMID and compare them.

    Raises PubMedUnreachableError when PubMed cannot be reached or answers an error.
    """
    refs = list(references)
    with_pmid = [r for r in refs if r.pmid]
    skipped = tuple(r for r in refs if not r.pmid)
    if not with_pmid:
        return CheckReport((), skipped)
    params = {
        "db": "pubmed",
        "id": ",".join(r.pmid for r in with_pmid if r.pmid),
        "retmode": "json",
        "tool": TOOL_NAME,
    }
    if email:
        params["email"] = email
    url = base_url.rstrip("/") + "/esummary.fcgi"
    try:
        response = session.get(url, params=params, timeout=timeout)
    except requests.RequestException as exc:
        raise PubMedUnreachableError(f"cannot reach {url}: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise PubMedUnreachableError(f"{url} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise PubMedUnreachableError(f"{url} did not answer JSON") from exc
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, dict):
        message = body.get("error") if isinstance(body, dict) else None
        raise PubMedUnreachableError(f"{url} answered without a result ({message or 'no detail'})")
    checks: list[PmidCheck] = []
    for ref in with_pmid:
        summary = result.get(str(ref.pmid))
        if not isinstance(summary, dict) or "error" in summary or not summary.get("title"):
            error = summary.get("error") if isinstance(summary, dict) else None
            checks.append(
                PmidCheck(ref, CheckStatus.NOT_FOUND, detail=str(error or "no summary returned"))
            )
            continue
        mismatches = compare(ref, summary)
        status = CheckStatus.MISMATCH if mismatches else CheckStatus.MATCH
        checks.append(PmidCheck(ref, status, mismatches))
    return CheckReport(tuple(checks), skipped)
