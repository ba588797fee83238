"""Which FHIR servers the service may call (SSRF defence).

A hook request names its ``fhirServer`` and hands us a bearer token for it. Without a
policy, anyone who can call the hook could make the service fetch any URL inside the
hospital network (or the cloud metadata endpoint) and send the EHR's token along.

Rules (outside dev mode):

* the URL must match an operator-configured base URL (``settings.allowed_fhir_servers``)
  by *normalised prefix*: scheme, host and port equal (lower-cased, default ports removed),
  and the path starts with the allowed path on a segment boundary;
* ``https`` only; no user-info (``user:pass@``), no fragment, no dot-segments, encoded
  slashes or back-slashes in the path (a query is allowed: full request URLs are checked);
* hosts that are loopback, private, link-local, reserved, multicast or unspecified IP
  addresses (in any spelling, e.g. ``2130706433`` or ``0x7f.1``) and ``localhost`` names are
  refused unless the address lies in ``settings.allowed_private_fhir_networks``.

Dev mode allows ``http://`` and private addresses, but the allowlist still applies: an
unlisted server is never called.

:meth:`FhirServerPolicy.check` raises :class:`FhirServerNotAllowed`; the hook answers 412
with its ``reason`` and no request leaves. Page links (``Bundle.link[next]``) and redirects
are checked with :meth:`FhirServerPolicy.check_follow` so the token never travels to another
origin or outside the base URL it came with; :func:`redirect_guard` is that check as a
``requests`` response hook.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from cds_service.config import ConfigError, Settings

__all__ = [
    "FhirServerNotAllowed",
    "FhirServerPolicy",
    "ServerUrl",
    "harden_session",
    "parse_server_url",
    "redirect_guard",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_URL_LENGTH = 32 * 1024
# A DNS name or an IPv4 literal in any spelling; IPv6 literals are handled separately.
_HOSTNAME = re.compile(
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: host name -> addresses; injected by callers who want resolved addresses checked too
Resolver = Callable[[str], Iterable[str]]


class FhirServerNotAllowed(Exception):  # noqa: N818 - name fixed by the module contract
    """The service may not call this FHIR server. ``reason`` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ServerUrl:
    """A normalised http(s) URL: lower-case scheme and host, explicit port, no trailing slash."""

    scheme: str
    host: str
    port: int
    #: path without trailing slash ("" for the root)
    path: str
    #: the host as an IP address when it is an IP literal (in any spelling)
    ip: IpAddress | None

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    def contains(self, other: ServerUrl) -> bool:
        """True when ``other`` is this URL or below it (same origin, path prefix on segments)."""
        if other.origin != self.origin:
            return False
        return other.path == self.path or other.path.startswith(self.path + "/")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if _DEFAULT_PORTS.get(self.scheme) == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.path}"


def _ip_literal(host: str) -> IpAddress | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return address.ipv4_mapped
        return address
    # inet_aton accepts the legacy spellings the socket layer would connect to:
    # "2130706433", "0x7f.1", "127.1", "0177.0.0.1".
    if re.fullmatch(r"[0-9a-fx.]+", host) and not re.search(r"[g-wyz]", host):
        try:
            return ipaddress.IPv4Address(socket.inet_ntoa(socket.inet_aton(host)))
        except OSError:
            return None
    return None


def parse_server_url(url: str, *, allow_query: bool = False) -> ServerUrl:
    """Normalise ``url``; raise :class:`FhirServerNotAllowed` when it is not a plain http(s) URL."""
    # Generous: full search URLs are checked, and a long code list makes a long query.
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise FhirServerNotAllowed("fhirServer is not a usable URL")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url) or "\\" in url:
        raise FhirServerNotAllowed(
            "fhirServer contains whitespace, control characters or back-slashes"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FhirServerNotAllowed("fhirServer is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise FhirServerNotAllowed("fhirServer must be an http(s) URL")
    if "@" in parts.netloc:
        raise FhirServerNotAllowed("fhirServer must not contain user information")
    if parts.fragment or "#" in url:
        raise FhirServerNotAllowed("fhirServer must not contain a fragment")
    if not allow_query and (parts.query or url.endswith("?")):
        raise FhirServerNotAllowed("fhirServer must not contain a query")
    raw_host = (parts.hostname or "").rstrip(".")
    if not raw_host:
        raise FhirServerNotAllowed("fhirServer has no host")
    ip = None
    if ":" in raw_host:  # IPv6 literal (urlsplit already removed the brackets)
        try:
            v6 = ipaddress.IPv6Address(raw_host.split("%", 1)[0])
        except ValueError:
            raise FhirServerNotAllowed("fhirServer has an invalid IPv6 address") from None
        if "%" in raw_host:
            raise FhirServerNotAllowed("fhirServer must not use an IPv6 zone index")
        ip = v6.ipv4_mapped or v6
        host = str(v6)
    else:
        try:
            host = raw_host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise FhirServerNotAllowed("fhirServer has an invalid host name") from None
        if not _HOSTNAME.fullmatch(host):
            raise FhirServerNotAllowed("fhirServer has an invalid host name")
        ip = _ip_literal(host)
        if ip is not None:
            host = str(ip)
    path = parts.path
    segments = path.split("/")
    lowered = path.lower()
    if any(s in {".", ".."} for s in segments) or "%2e" in lowered or "%2f" in lowered:
        raise FhirServerNotAllowed(
            "fhirServer path must not contain dot-segments or encoded slashes"
        )
    path = re.sub(r"/{2,}", "/", path).rstrip("/")
    return ServerUrl(
        scheme=scheme,
        host=host,
        port=port if port is not None else _DEFAULT_PORTS[scheme],
        path=path,
        ip=ip,
    )


def _is_special(address: IpAddress) -> bool:
    return bool(
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        or not address.is_global
    )


def _parse_networks(values: Iterable[str]) -> tuple[IpNetwork, ...]:
    networks: list[IpNetwork] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ConfigError(
                f"CDS_ALLOWED_PRIVATE_FHIR_NETWORKS: {value!r} is not an IP network (CIDR)"
            ) from None
    return tuple(networks)


class FhirServerPolicy:
    """Decides whether a FHIR base URL (and URLs reached from it) may be called.

    ``resolver`` (optional) maps a host name to its addresses; when given, host names are
    resolved and refused if any address is private (defence against an allowlisted name that
    points into the internal network). The default checks the URL text only.
    """

    def __init__(self, settings: Settings, resolver: Resolver | None = None) -> None:
        self._dev_mode = settings.dev_mode
        self._resolver = resolver
        allowed: list[ServerUrl] = []
        for entry in settings.allowed_fhir_servers:
            try:
                allowed.append(parse_server_url(entry))
            except FhirServerNotAllowed as exc:
                raise ConfigError(
                    f"CDS_ALLOWED_FHIR_SERVERS: {entry!r} is not a usable base URL ({exc.reason})"
                ) from None
        self._allowed = tuple(allowed)
        self._private_networks = _parse_networks(settings.allowed_private_fhir_networks)

    @property
    def allowed(self) -> tuple[ServerUrl, ...]:
        return self._allowed

    def check(self, url: str) -> ServerUrl:
        """Raise FhirServerNotAllowed unless ``url`` may be called; return it normalised."""
        # A query is allowed: callers check full request URLs (base + "/Observation?...");
        # it does not change where the request goes.
        target = parse_server_url(url, allow_query=True)
        self._check_target(target)
        return target

    def check_follow(self, base_url: str, url: str) -> ServerUrl:
        """Check a URL reached from ``base_url`` (a paging link or a redirect ``Location``).

        It must stay under the same base URL (same origin, path prefix), and pass :meth:`check`
        rules, so the bearer token is only ever sent where it was meant to go.
        """
        base = parse_server_url(base_url, allow_query=True)
        target = parse_server_url(urljoin(base_url.rstrip("/") + "/", url), allow_query=True)
        if target.origin != base.origin:
            raise FhirServerNotAllowed("the FHIR server sent the service to another origin")
        if not base.contains(target):
            raise FhirServerNotAllowed("the FHIR server sent the service outside its base URL")
        self._check_target(target)
        return target

    def _check_target(self, target: ServerUrl) -> None:
        if target.scheme != "https" and not self._dev_mode:
            raise FhirServerNotAllowed("fhirServer must use https")
        if not any(allowed.contains(target) for allowed in self._allowed):
            raise FhirServerNotAllowed(
                "fhirServer is not on this service's list of allowed FHIR servers"
            )
        if self._dev_mode:
            return
        if target.ip is not None:
            self._check_address(target.ip)
        elif target.host in _LOCAL_NAMES or target.host.endswith(".localhost"):
            self._check_address(ipaddress.IPv4Address("127.0.0.1"))
        elif self._resolver is not None:
            for text in self._resolver(target.host):
                address = _ip_literal(text) or _ip_literal(text.split("%", 1)[0])
                if address is None:
                    raise FhirServerNotAllowed("fhirServer host resolved to an unusable address")
                self._check_address(address)

    def peer_allowed(self, address: str) -> bool:
        """May the service talk to this connected peer address? (connect-time check)

        Used by :class:`cds_service.security.outbound.GuardedAdapter` on the address a socket
        actually connected to, which also covers allowlisted names whose DNS answer points
        into the internal network (no check-then-connect race).
        """
        if self._dev_mode:
            return True
        parsed = _ip_literal(address.split("%", 1)[0])
        if parsed is None:
            return False
        try:
            self._check_address(parsed)
        except FhirServerNotAllowed:
            return False
        return True

    def _check_address(self, address: IpAddress) -> None:
        if not _is_special(address):
            return
        if any(address in network for network in self._private_networks):
            return
        raise FhirServerNotAllowed(
            "fhirServer is a private, loopback or link-local address the operator has not allowed"
        )


def redirect_guard(policy: FhirServerPolicy, base_url: str) -> Callable[..., Any]:
    """A ``requests`` response hook that refuses redirects leaving ``base_url``.

    Use per request: ``session.get(url, hooks={"response": redirect_guard(policy, base)})``.
    requests runs response hooks before it follows a redirect (and again on every hop), so a
    ``Location`` that fails :meth:`FhirServerPolicy.check_follow` raises
    :class:`FhirServerNotAllowed` and the next request never leaves. The alternative is
    ``allow_redirects=False`` and calling :meth:`FhirServerPolicy.check_follow` yourself.
    """

    def refuse_foreign_redirect(response: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(response, "is_redirect", False):
            policy.check_follow(base_url, response.headers.get("Location", ""))
        return response

    return refuse_foreign_redirect


def harden_session(session: Any, max_redirects: int = 3) -> Any:
    """Settings for a ``requests.Session`` that carries EHR tokens.

    ``trust_env = False``: proxies, ``.netrc`` credentials and CA bundles from the
    environment do not apply (``.netrc`` could replace the bearer token, a proxy would see it).
    Redirects are still checked per request with :func:`redirect_guard`.
    """
    session.trust_env = False
    session.max_redirects = max_redirects
    return session
