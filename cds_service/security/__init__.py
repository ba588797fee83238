"""Security: who may call the service (JWT), which FHIR servers it may call, clean logs."""

from cds_service.security.authenticator import AuthContext, AuthenticationError, Authenticator
from cds_service.security.dev_mode import DevModeNotAllowed, assert_dev_mode_allowed
from cds_service.security.factory import build_authenticator
from cds_service.security.fhir_policy import (
    FhirServerNotAllowed,
    FhirServerPolicy,
    harden_session,
    redirect_guard,
)
from cds_service.security.outbound import GuardedAdapter, guard_session
from cds_service.security.redaction import RedactingFilter, install_log_redaction, redact
from cds_service.security.trust import TrustConfig, TrustConfigError, load_trust_file

__all__ = [
    "AuthContext",
    "AuthenticationError",
    "Authenticator",
    "DevModeNotAllowed",
    "FhirServerNotAllowed",
    "FhirServerPolicy",
    "GuardedAdapter",
    "RedactingFilter",
    "TrustConfig",
    "TrustConfigError",
    "assert_dev_mode_allowed",
    "build_authenticator",
    "guard_session",
    "harden_session",
    "install_log_redaction",
    "load_trust_file",
    "redact",
    "redirect_guard",
]
