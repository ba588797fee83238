"""Dependencies passed into the application, so tests swap them without monkeypatching.

``create_app(settings, deps)`` takes one :class:`Dependencies`; anything left as
``None`` is built from the settings by :func:`cds_service.app.create_app`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: Returns the current time, timezone-aware (UTC). Tests freeze it.
Clock = Callable[[], datetime]
#: Returns a fresh card uuid as a string. Tests make it deterministic.
UuidFactory = Callable[[], str]


def system_clock() -> datetime:
    return datetime.now(UTC)


def random_uuid() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Dependencies:
    clock: Clock = system_clock
    uuid_factory: UuidFactory = random_uuid
    #: a ``requests.Session`` (or compatible) used for every outbound FHIR call;
    #: None: the app builds a pooled session
    http_session: Any = None
    #: audit / feedback / jti store (cds_service.store); None: built from settings
    store: Any = None
    #: request authenticator (cds_service.security); None: built from settings
    authenticator: Any = None
    #: clinical engine (cds_service.clinical.ClinicalEngine); None: ClinicalEngine.load()
    engine: Any = None
    #: card renderer (cds_service.cards.CardRenderer); None: CardRenderer.load()
    renderer: Any = None
