"""The SSRF guard: a webhook may only reach public addresses. The host is resolved here,
every address it resolves to is checked (loopback, private, link-local, shared, reserved,
multicast and unspecified ones are refused), and the request is sent to the address that
was checked, with the name kept for the ``Host`` header and for TLS (SNI and certificate),
so a second DNS answer cannot send it elsewhere. Redirects are not followed.

An admin may allow private addresses for one endpoint (a receiver on the same network).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kefu.outbox.service import PermanentFailure

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(PermanentFailure):
    """The endpoint resolves to an address kefu may not call: retrying cannot help."""


class Unresolved(Exception):
    """The name did not resolve (now): the delivery is tried again later."""


@dataclass(frozen=True)
class Target:
    url: str  # with the checked address in place of the host name
    headers: dict[str, str]
    extensions: dict[str, Any] = field(default_factory=dict)


def check_url(url: str) -> str | None:
    """What is wrong with a URL as a webhook endpoint, or None."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        return "must start with https:// or http://"
    if not parts.hostname:
        return "has no host"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    try:
        _ = parts.port
    except ValueError:
        return "has a port that is not a number"
    return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def resolve(url: str, allow_private: bool) -> Target:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    addresses = await _addresses(host, port)
    if not addresses:
        raise Unresolved(f"{host} does not resolve")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise Refused(f"{host} resolves to {address}, which is not a public address")
    chosen = addresses[0]
    literal = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    netloc = f"{literal}:{port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    default = DEFAULT_PORTS[parts.scheme] == port
    host_header = host if default else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if default else f"[{host}]:{port}"
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return Target(pinned, {"host": host_header}, extensions)


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Unresolved(f"{host} does not resolve: {exc.strerror}") from exc
    found: dict[IPAddress, None] = {}
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]
        found[ipaddress.ip_address(raw)] = None
    return list(found)
