"""Where a host is: only loopback hosts may be spoken to in plain http."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from fbcli.errors import ConfigError


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``), so nothing else can reach it."""
    name = host.strip().removeprefix("[").removesuffix("]").lower()
    if name in ("localhost", "localhost."):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    # ::ffff:127.0.0.1 is loopback too (Python counts it so only from 3.13 on).
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def check_base_url(url: str) -> str:
    """A usable base URL: ``https://host``, or ``http://`` to a loopback host only.

    No user name or password, query or fragment, spaces or control characters;
    a port, when given, must be a number from 0 to 65535.  The URL is quoted
    in a message only once it is known to carry no user info.
    """
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ConfigError("the base URL must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        hostname, _ = parts.hostname, parts.port
    except ValueError:
        raise ConfigError("the base URL is not a valid URL (check the host and port)") from None
    if "@" in parts.netloc:
        raise ConfigError(
            "the base URL must not carry a user name or password",
            hint="give the credentials with FRIENDBUY_MAPI_KEY and FRIENDBUY_MAPI_SECRET",
        )
    if parts.scheme not in ("http", "https") or not hostname:
        raise ConfigError(f"the base URL must be an http(s) URL, not '{url}'")
    if parts.scheme == "http" and not is_loopback(hostname):
        raise ConfigError(
            f"plain http is only allowed to this machine, not '{hostname}'",
            hint="use https:// (TLS is always verified)",
        )
    if "?" in url or "#" in url:
        # Not quoted whole: a query is where a token pasted by mistake would be.
        cut = min(i for i in (url.find("?"), url.find("#")) if i >= 0)
        raise ConfigError(
            f"the base URL must not carry a query or fragment: '{url[:cut]}' is followed by "
            f"{'a query' if url[cut] == '?' else 'a fragment'} (not shown)"
        )
    return url.rstrip("/")
