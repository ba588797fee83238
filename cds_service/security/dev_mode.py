"""Development mode may only listen on a loopback address.

Dev mode turns JWT verification off: anyone who can reach the port could read patient
data through the service. ``cds-service serve --dev`` (and ``create_app`` in dev mode) call
:func:`assert_dev_mode_allowed` with the bind address before serving.
"""

from __future__ import annotations

import ipaddress

from cds_service.config import ConfigError

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class DevModeNotAllowed(ConfigError):  # noqa: N818 - reads as the refusal it is
    """Dev mode was asked for on an address other hosts can reach."""


def is_loopback_host(host: str) -> bool:
    """True for loopback IP literals (127.0.0.0/8, ::1) and ``localhost`` names."""
    candidate = host.strip().lower().rstrip(".")
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    # Only the fixed names: "x.localhost" is loopback by RFC 6761, but a resolver may not
    # know that, and this decides what the service binds to.
    if candidate in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def assert_dev_mode_allowed(host: str) -> None:
    """Raise :class:`DevModeNotAllowed` unless ``host`` (the bind address) is loopback."""
    if not is_loopback_host(host):
        raise DevModeNotAllowed(
            f"dev mode (JWT checks off) may only listen on a loopback address such as "
            f"127.0.0.1 or ::1, not {host!r}; drop --dev / CDS_DEV_MODE or bind to 127.0.0.1"
        )
