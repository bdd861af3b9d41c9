"""Which URLs a webhook may call (no SSRF): checked when a subscription is saved and again before each delivery.

A target must be `http` or `https`, carry no credentials, and its host must resolve only to public addresses:
loopback, private (RFC 1918, unique-local), link-local (cloud metadata at 169.254.169.254), shared, multicast,
reserved and unspecified addresses are refused, as is a name that resolves to any of them. An operator who
runs receivers on the same machine or network allows them with `CRM_WEBHOOK_ALLOW_PRIVATE_TARGETS=true`.
The delivery connects to the address checked here (`Target.pinned_url`), not to a second resolution of the
name, so a DNS answer that changes between the check and the call (rebinding) cannot redirect it; redirects
are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import httpx

from crm.services.errors import Invalid
from crm.settings import get_settings

SCHEMES = ("http", "https")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Invalid):
    """The URL may not be called; the message says why and what to do."""

    def __init__(self, message: str):
        super().__init__("url", f"url: {message}", code="webhook-target-refused")


@dataclass(frozen=True)
class Target:
    url: httpx.URL
    address: Address   # the checked address the delivery connects to

    @property
    def pinned_url(self) -> httpx.URL:
        return self.url.copy_with(host=str(self.address))

    @property
    def host_header(self) -> str:
        return self.url.netloc.decode("ascii")

    @property
    def sni_hostname(self) -> str:
        return self.url.raw_host.decode("ascii")


def non_public_reason(address: Address) -> str | None:
    """Why `address` is not a public one (None: it is)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind in ("loopback", "link_local", "unspecified", "multicast", "private", "reserved"):   # most telling first
        if getattr(address, f"is_{kind}"):
            return f"{address} ({kind.replace('_', '-')})"
    if not address.is_global:
        return f"{address} (not public)"
    return None


def parse(url: str) -> httpx.URL:
    """The URL if its form is allowed (scheme, host, no credentials), else TargetRefused."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise TargetRefused(f"not a valid URL ({exc})") from None
    if parsed.scheme not in SCHEMES:
        raise TargetRefused(f"scheme {parsed.scheme or '(none)'!r} is not allowed: use http or https")
    if not parsed.host:
        raise TargetRefused("has no host")
    if parsed.userinfo:
        raise TargetRefused("must not carry credentials (user:password@): authenticate the delivery by its "
                            "CRM-Signature instead")
    return parsed


def resolve(parsed: httpx.URL) -> list[Address]:
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    host = parsed.raw_host.decode("ascii")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"host {host!r} does not resolve ({exc})") from None
    addresses: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])   # drop an IPv6 zone id
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetRefused(f"host {host!r} has no address")
    return addresses


def check(url: str, allow_private: bool | None = None) -> Target:
    """The target `url` names, if it may be called; else TargetRefused with the reason. Every address the host
    resolves to must be public (unless private targets are allowed), so no answer of a round-robin name
    reaches an internal service."""
    if allow_private is None:
        allow_private = get_settings().crm_webhook_allow_private_targets
    parsed = parse(url)
    addresses = resolve(parsed)
    if not allow_private:
        for address in addresses:
            if (reason := non_public_reason(address)) is not None:
                raise TargetRefused(f"host {parsed.host!r} resolves to {reason}; webhooks go to public addresses only "
                                    "(an operator may allow others with CRM_WEBHOOK_ALLOW_PRIVATE_TARGETS=true)")
    return Target(parsed, addresses[0])
