"""Where a host is: only loopback hosts may be spoken to in plain http."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``), so nothing else can reach it."""
    name = host.strip().removeprefix("[").removesuffix("]").lower()
    if name in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
