"""Errors the hook pipeline answers with, as values the web layer turns into OperationOutcomes.

HookError                      an answer other than 200, with an OperationOutcome issue
├── InvalidRequestError             400: malformed JSON, schema violation, wrong hook
├── UnknownServiceError             404
└── PreconditionFailedError         412: required data could not be obtained
"""

from __future__ import annotations

from typing import Any


class HookError(Exception):
    status: int = 400
    issue_code: str = "invalid"

    def __init__(
        self, diagnostics: str, *, expression: str | None = None, issue_code: str | None = None
    ) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.expression = expression
        if issue_code is not None:
            self.issue_code = issue_code

    def operation_outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issue_code, self.diagnostics, self.expression)


class InvalidRequestError(HookError):
    status = 400
    issue_code = "invalid"


class UnknownServiceError(HookError):
    status = 404
    issue_code = "not-found"


class PreconditionFailedError(HookError):
    """412: the service cannot obtain the FHIR data it needs (CDS Hooks 2.0, prefetch)."""

    status = 412
    issue_code = "incomplete"


def operation_outcome(
    code: str, diagnostics: str, expression: str | None = None, severity: str = "error"
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}
