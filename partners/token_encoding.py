"""Which spelling of its token the hub sends to a platform: decided per platform from its OCPI version
and from what the platform itself did, never by a hub-wide switch.

* 2.1.1: plain. The 2.1.1 text knows no base64, and 2.1.1 stacks compare the header with the token.
* 2.2: the spelling the platform used towards us (OCN-era 2.2 stacks send plain tokens and compare
  incoming ones as exact strings, answering a base64 header with 401); base64 when we do not know.
* 2.2.1 and 2.3.0: base64, as the spec demands.

Discovery proves the guess: a call to a partner's versions or version details endpoint that is
refused as unauthorised (:func:`refused`) is made once more in the other spelling, and what worked is
kept. It is kept twice: once for the versions endpoint, once for everything else, because some 2.1.1
stacks base64-decode whatever arrives on their version-less ``/versions`` endpoint while every other
endpoint of theirs compares the plain token.
"""

from __future__ import annotations

from partners.tokens import TokenEncoding
from routing.versions.version import OcpiVersion

_REFUSAL_HTTP = frozenset({401, 403})
_REFUSAL_OCPI = frozenset({3000})


def preferred(version: OcpiVersion | None, seen: TokenEncoding | None = None) -> TokenEncoding:
    """The spelling to try first towards a platform of ``version`` (None: not known yet), given the
    spelling the platform was ``seen`` using (towards us, or on its own versions endpoint)."""
    if version is OcpiVersion.V2_1_1:
        return TokenEncoding.PLAIN
    if version is OcpiVersion.V2_2 and seen is not None:
        return seen
    return TokenEncoding.BASE64


def refused(http_status: int, ocpi_status: int | None) -> bool:
    """Whether an answer says the token was not accepted, so that the other spelling is worth one more
    try: HTTP 401 (the spec's answer), 403 (what many 2.1.1 stacks answer an unknown token with), or
    OCPI 3000 in the body (stacks that fail to decode a token they did not expect)."""
    return http_status in _REFUSAL_HTTP or ocpi_status in _REFUSAL_OCPI
