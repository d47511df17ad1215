"""Rewrites that keep partners talking through the hub: Link/Location headers that point at a
receiver are turned into hub URLs, and response_url values into hub callback URLs.

Pure functions over strings; the receiver's endpoint URL and the hub's endpoint URL come in as
arguments.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

import msgspec


def rebase_url(url: str, upstream_base: str, hub_base: str) -> tuple[str, bool]:
    """``url`` under ``upstream_base`` moved under ``hub_base``; second value False when the URL did
    not sit under the upstream endpoint and was only salvaged (same path, or just its query)."""
    up = upstream_base.rstrip("/")
    hub = hub_base.rstrip("/")
    if url.startswith(up) and (len(url) == len(up) or url[len(up)] in "/?"):
        return hub + url[len(up):], True
    # Sloppy stacks link to another host name (internal, http vs https) with the right path.
    parts = urlsplit(url)
    up_path = urlsplit(up).path.rstrip("/")
    if up_path and parts.path.startswith(up_path):
        rest = parts.path[len(up_path):]
        return hub + rest + (f"?{parts.query}" if parts.query else ""), False
    return hub + (f"?{parts.query}" if parts.query else ""), False


def rewrite_link_header(value: str, upstream_base: str, hub_base: str) -> tuple[str, bool]:
    """Every ``<url>`` in a Link header rebased; parameters (``rel="next"``) kept as they came."""
    out = []
    clean = True
    pos = 0
    while True:
        start = value.find("<", pos)
        if start < 0:
            out.append(value[pos:])
            break
        end = value.find(">", start)
        if end < 0:
            out.append(value[pos:])
            clean = False
            break
        rebased, ok = rebase_url(value[start + 1:end].strip(), upstream_base, hub_base)
        clean = clean and ok
        out.append(value[pos:start + 1])
        out.append(rebased)
        pos = end
    return "".join(out), clean


# The body is parsed by the parser that checked it (``routing.body_view``): a body that check accepted
# but this parse refused (orjson refuses ``1e400``) would go on with its response_url unrewritten, and
# the receiver would post its result, with its token for the hub, wherever the sender chose. Numbers
# come back as written (``1E+400``, ``0.10``): no float in between.
_decode_body = msgspec.json.Decoder(float_hook=decimal.Decimal).decode
_encode_body = msgspec.json.Encoder(decimal_format="number").encode
_RESPONSE_URL = "response_url"


def _is_response_url(key: str) -> bool:
    # Any case: receivers that bind names case-insensitively (ASP.NET Core's defaults, for the body and
    # the query) read ``Response_URL`` as their response_url, so the hub must rewrite it too.
    return key.lower() == _RESPONSE_URL


def rewrite_body_response_url(body: bytes, make_callback: Callable[[str], str]) -> bytes | None:
    """The JSON body with its top-level ``response_url`` (in any case) replaced, or None when it has none."""
    try:
        obj = _decode_body(body)
    except msgspec.DecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    found = False
    for key, value in obj.items():
        if isinstance(value, str) and _is_response_url(key):
            obj[key] = make_callback(value)
            found = True
    return _encode_body(obj) if found else None


def rewrite_query_response_url(query: str, make_callback: Callable[[str], str]) -> str | None:
    """The query string with its ``response_url`` (in any case) replaced, or None when it has none."""
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(_is_response_url(k) for k, _ in pairs):
        return None
    return urlencode([(k, make_callback(v) if _is_response_url(k) else v) for k, v in pairs])
