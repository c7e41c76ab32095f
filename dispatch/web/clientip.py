"""Who is on the other end of a request: the one place dispatch decides a visitor's address
and whether they came over https.

The connecting address is the visitor's, unless it is one of `web.trusted_proxies`: only
then does the proxy's header (`web.proxy_header`: X-Forwarded-For or Forwarded) count, read
from the right, skipping the trusted proxies themselves, so that whatever a visitor writes in
the header before the proxy appends to it is ignored. uvicorn runs with its own proxy
handling off (`workers/main.py`), so the peer address here is the real peer.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Sequence

from fastapi import Request

from dispatch.config import WebSettings

log = logging.getLogger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_FOR = re.compile(r'(?:^|;)\s*for\s*=\s*("[^"]*"|[^;,\s]+)', re.IGNORECASE)
_PROTO = re.compile(r'(?:^|;)\s*proto\s*=\s*("[^"]*"|[^;,\s]+)', re.IGNORECASE)
_warned = False


def _address(value: str) -> Address | None:
    """An address as proxies write it: 203.0.113.9, [2001:db8::1]:4711, "1.2.3.4:80"…"""
    text = value.strip().strip('"').strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None  # "unknown", an obfuscated name (RFC 7239): not an address


def _trusted(address: Address | None, networks: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def _chain(request: Request, header: str) -> list[str]:
    """The addresses the proxies recorded, first hop first."""
    values = request.headers.getlist(header)
    if header == "forwarded":
        return [
            m.group(1) for v in values for element in v.split(",") for m in _FOR.finditer(element)
        ]
    return [part for v in values for part in v.split(",") if part.strip()]


def client_ip(request: Request, web: WebSettings) -> str | None:
    """The visitor's address, as decided by `web.trusted_proxies`."""
    peer = request.client.host if request.client else None
    networks = web.trusted_networks()
    if peer is None or not _trusted(_address(peer), networks):
        _hint(request, peer, networks)
        return peer
    first = peer
    for hop in reversed(_chain(request, web.proxy_header)):
        address = _address(hop)
        if address is None:
            return first  # the proxy could not tell: the last known hop is all we have
        if not _trusted(address, networks):
            return str(address)
        first = str(address)  # another proxy of ours: the visitor is further left
    return first


def is_https(request: Request, web: WebSettings) -> bool:
    """Whether the visitor's connection is https: ours, or the trusted proxy's word."""
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else None
    if peer is None or not _trusted(_address(peer), web.trusted_networks()):
        return False
    if web.proxy_header == "forwarded":
        protos = [
            m.group(1).strip('"').lower()
            for value in request.headers.getlist("forwarded")
            for element in value.split(",")
            for m in _PROTO.finditer(element)
        ]
    else:
        protos = [
            p.strip().lower() for p in request.headers.get("x-forwarded-proto", "").split(",")
        ]
    return bool(protos) and protos[-1] == "https"


def _hint(request: Request, peer: str | None, networks: Sequence[Network]) -> None:
    """Say once, in the log, that a proxy seems to be in front while none is trusted."""
    global _warned
    if _warned or networks or peer is None:
        return
    if request.headers.get("x-forwarded-for") or request.headers.get("forwarded"):
        address = _address(peer)
        if address is not None and (address.is_loopback or address.is_private):
            _warned = True
            log.warning(
                "requests from %s carry a forwarded-for header but web.trusted_proxies is "
                "empty: every visitor behind that proxy counts as one address; set "
                "DISPATCH_WEB__TRUSTED_PROXIES to the proxy's address",
                peer,
            )
