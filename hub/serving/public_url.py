"""Whether the URL the hub advertises can be reached by anyone but itself."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from hub.config import PREFIX, Config


def unroutable(config: Config) -> str | None:
    """Why partners could not use the advertised base URL, or None.

    Listening on every interface (``0.0.0.0``, ``::``) without a public URL would advertise that
    wildcard address: partners store it with the credentials and then cannot reach the hub. Refused
    rather than warned about: a wrong URL handed to a partner is hard to take back."""
    if config.public_url:
        if _wildcard(urlsplit(config.public_url).hostname or ""):
            return f"{PREFIX}PUBLIC_URL {config.public_url} names no host partners can reach"
        return None
    if _wildcard(config.host.strip("[]")):
        return (f"listening on {config.host} needs --public-url (or {PREFIX}PUBLIC_URL): partners would be "
                f"told to call {config.base_url}")
    return None


def _wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False
