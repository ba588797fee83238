"""Outbound FHIR access: one pooled HTTP session, Bundle paging, the server allowlist check."""
