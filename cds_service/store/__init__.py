"""Audit and feedback store (issue 7): SQLite by default, PostgreSQL for several instances.

    store = open_store(settings)   # connect
    store.upgrade()                # create / migrate under a lock (idempotent)
    store.record_hook_call(record) # AuditSink: queued, written by a background thread
    store.record_feedback(service_id, items)  # durable on return
    store.remember_jti(jti, expires_at)       # False when already seen (JWT replay)
"""

from cds_service.store.feedback import (
    FeedbackError,
    FeedbackItem,
    OverrideReason,
    parse_feedback_request,
)
from cds_service.store.store import (
    FeedbackResult,
    PruneResult,
    Store,
    StoreUnavailableError,
    open_store,
)

__all__ = [
    "FeedbackError",
    "FeedbackItem",
    "FeedbackResult",
    "OverrideReason",
    "PruneResult",
    "Store",
    "StoreUnavailableError",
    "open_store",
    "parse_feedback_request",
]
