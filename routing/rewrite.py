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


class ResponseUrls:
    """The ``response_url`` values of a request (top level of a JSON body, in any key case; and its query
    string), each parsed once: what :meth:`replaced` rewrites is what was found, without parsing again."""

    __slots__ = ("_keys", "_obj", "_pairs")

    def __init__(self, body: bytes | None, query: str) -> None:
        self._obj: dict[str, object] | None = None
        self._keys: list[str] = []
        if body:
            try:
                obj = _decode_body(body)
            except msgspec.DecodeError:
                obj = None
            if isinstance(obj, dict):
                self._obj = obj
                self._keys = [k for k, v in obj.items() if isinstance(v, str) and _is_response_url(k)]
        pairs = parse_qsl(query, keep_blank_values=True) if query else []
        self._pairs = pairs if any(_is_response_url(k) for k, _ in pairs) else []

    @property
    def originals(self) -> list[str]:
        found = [str(self._obj[k]) for k in self._keys] if self._obj is not None else []
        return found + [v for k, v in self._pairs if _is_response_url(k)]

    def replaced(self, body: bytes | None, query: str,
                 make_callback: Callable[[str], str]) -> tuple[bytes | None, str]:
        """``body`` and ``query`` with every ``response_url`` found replaced by ``make_callback(original)``."""
        if self._keys and self._obj is not None:
            for key in self._keys:
                self._obj[key] = make_callback(str(self._obj[key]))
            body = _encode_body(self._obj)
        if self._pairs:
            query = urlencode([(k, make_callback(v) if _is_response_url(k) else v) for k, v in self._pairs])
        return body, query


def rewrite_body_response_url(body: bytes, make_callback: Callable[[str], str]) -> bytes | None:
    """The JSON body with its top-level ``response_url`` (in any case) replaced, or None when it has none."""
    urls = ResponseUrls(body, "")
    return urls.replaced(body, "", make_callback)[0] if urls.originals else None


def rewrite_query_response_url(query: str, make_callback: Callable[[str], str]) -> str | None:
    """The query string with its ``response_url`` (in any case) replaced, or None when it has none."""
    urls = ResponseUrls(None, query)
    return urls.replaced(None, query, make_callback)[1] if urls.originals else None
