"""Path confinement: a routed request stays inside the receiver's module endpoint.

The first stage of every routed request, run on the request target exactly as the caller sent it
(``scope["raw_path"]``) before anything else reads the path. Only GET, PUT, PATCH, POST and DELETE
are routed (TRACE, CONNECT, OPTIONS, HEAD and the rest get 405: the hub would otherwise send them on
with its own token). A segment that is a dot segment, raw or percent-encoded in any case mix
(``..``, ``%2e%2E``, ``.%2e``, also with a ``;param`` as some servers strip it), or that hides a slash
or backslash (``%2F``, ``%5C``, a raw ``\\``, or such an escape encoded twice), is refused: a receiver
that normalises paths would otherwise resolve it outside its module endpoint, where the hub's token
opens its credentials module. Empty segments (``//``) are collapsed (a tolerated deviation,
``empty_path_segment``). What is forwarded is always
``{receiver's module endpoint}`` + the clean suffix.

URL shapes partners' libraries build are all accepted here, in one place: with or without a trailing
slash, with ``//`` anywhere, and ``{endpoint}{id}`` glued without a separator
(``/sender/locationsLOC1``, ``/receiver/commandsSTART_SESSION``, ``/sender/tokens012345678/authorize``:
what the spec's own URL templates give for an endpoint URL without a trailing ``/``). No module name
is a prefix of another, so the split is never ambiguous; a glued path is reported as a tolerated
deviation (``RoutePath.tolerated``).

Every version's module URLs are read here too, by their prefix (:func:`_routed`): ``/ocpi/{2.2,2.2.1,
2.3.0}/{sender|receiver}/{module}`` and ``/ocpi/2.1.1/{module}`` (no interface role: a
:class:`~routing.modules.RolelessPath` until the caller is known). A module the version lacks is no
endpoint.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from partners.errors import ClientError, InvalidParametersError, MethodNotAllowedError
from routing.modules import ROUTED_MODULES, SEGMENT_INTERFACE, VERSION, RolelessPath, RoutePath
from routing.version_endpoints import MODULES
from routing.versions.version import OcpiVersion

ROUTED_METHODS = frozenset({"GET", "PUT", "PATCH", "POST", "DELETE"})

# Characters whose presence sends a segment through the slow checks; most segments have none.
_SUSPECT = re.compile(r"[%.\\;]")
# An escape that decodes (once more) to a dot, slash or backslash: encoded twice.
_ESCAPED_AGAIN = re.compile(r"%(?:2e|2f|5c)", re.IGNORECASE)
# What the hub issues as a callback ticket (urlsafe base64 payload "." urlsafe base64 MAC).
_TICKET = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


# Longest first, though no module name is a prefix of another today (checked at import).
_GLUED = tuple(sorted(ROUTED_MODULES, key=len, reverse=True))
assert not any(a != b and b.startswith(a) for a in _GLUED for b in _GLUED), "a module name prefixes another"


class UnsafePathError(InvalidParametersError):
    """2001: the path could leave the module endpoint (dot segment, encoded slash) or is no hub URL."""

    http_status = 404


class NoSuchEndpointError(ClientError):
    """2000: the path names no OCPI endpoint of the hub."""

    http_status = 404


_VERSIONS = {v.value: v for v in OcpiVersion}
_MODULES = {v: frozenset(m) for v, m in MODULES.items()}


class CallbackPath:
    """``/ocpi/2.2.1/callback/{ticket}``: nothing may follow the ticket."""

    __slots__ = ("ticket",)

    def __init__(self, ticket: str) -> None:
        self.ticket = ticket


def _check(decoded: str) -> None:
    if "\\" in decoded or "/" in decoded:
        raise UnsafePathError("path refused: a segment holds an encoded slash or a backslash")
    name = decoded.partition(";")[0]
    if name in (".", ".."):
        raise UnsafePathError("path refused: dot segments ('..', '%2e%2e', ...) are not allowed in OCPI URLs")
    if "%" in decoded and _ESCAPED_AGAIN.search(decoded):
        raise UnsafePathError("path refused: a segment holds a dot, slash or backslash encoded twice")


def confine(method: str, raw_path: bytes | None, path: str) -> RoutePath | RolelessPath | CallbackPath:
    """The routed path, or an error naming why it is refused (405 method, 404 unsafe or unknown path)."""
    if method not in ROUTED_METHODS:
        raise MethodNotAllowedError(f"{method} is not routed: the hub forwards GET, PUT, PATCH, POST and DELETE")
    raw = raw_path.decode("latin-1") if raw_path else quote(path, safe="/:@!$&'()*+,;=~-._")
    raw = raw.partition("?")[0]
    raw_parts: list[str] = []
    parts: list[str] = []
    for part in raw.split("/"):
        if not part:
            continue  # '//' collapses; a leading or trailing '/' is no segment
        if _SUSPECT.search(part) is None:
            raw_parts.append(part)
            parts.append(part)
            continue
        if "\\" in part:
            raise UnsafePathError("path refused: a segment holds an encoded slash or a backslash")
        decoded = unquote(part, errors="replace")
        _check(decoded)
        raw_parts.append(part)
        parts.append(decoded)
    return _routed(parts, raw_parts, raw.endswith("/"), path, "//" in raw)


def _routed(parts: list[str], raw_parts: list[str], trailing_slash: bool,
            path: str, collapsed: bool = False) -> RoutePath | RolelessPath | CallbackPath:
    """What a confined path names, by its version prefix: ``/ocpi/{version}/{sender|receiver}/{module}...``
    (2.2, 2.2.1, 2.3.0), ``/ocpi/2.1.1/{module}...`` (no interface roles), or a callback ticket. A module
    the version lacks (payments below 2.3.0, charging profiles in 2.1.1) is no endpoint."""
    version = _VERSIONS.get(parts[1]) if len(parts) >= 3 and parts[0] == "ocpi" else None
    if version is None:
        raise NoSuchEndpointError(f"no OCPI endpoint at {path}")
    if parts[2] == "callback" and parts[1] == VERSION:
        if len(parts) != 4 or not _TICKET.fullmatch(parts[3]) or trailing_slash:
            raise UnsafePathError("callback URL refused: it must be exactly the URL the hub issued")
        return CallbackPath(parts[3])
    if version is OcpiVersion.V2_1_1:
        at = 2
        interface = None
    else:
        at = 3
        interface = SEGMENT_INTERFACE.get(parts[2])
        if interface is None or len(parts) < 4:
            raise NoSuchEndpointError(f"no OCPI endpoint at {path}")
    # One kind per request: a glued path says more about the caller's URL building than a '//' does.
    tolerated = "empty_path_segment" if collapsed else None
    if parts[at] not in _MODULES[version]:
        module = _glued_module(parts[at], version)
        # The raw segment is split where the decoded one is: only when the module name was sent as is, or
        # the checked path ('%6CocationsNL' -> NL) and the forwarded one ('nsNL') would differ.
        if module is None or not raw_parts[at].startswith(module):
            raise NoSuchEndpointError(f"no OCPI endpoint at {path}")
        # '{endpoint}{id}' without a separator: the rest of the segment is the first segment of the suffix.
        parts[at:at + 1] = [module, parts[at][len(module):]]
        raw_parts[at:at + 1] = [module, raw_parts[at][len(module):]]
        _check(parts[at + 1])  # 'locations..' is harmless whole, a dot segment once split
        tolerated = "glued_path"
    module = parts[at]
    suffix = "".join("/" + p for p in raw_parts[at + 1:])
    if trailing_slash and len(parts) > at + 1:
        suffix += "/"  # kept as sent on an object URL; a collection is the receiver's endpoint as it gave it
    if interface is None:
        return RolelessPath(module, tuple(parts[at + 1:]), suffix, version, tolerated)
    return RoutePath(interface, module, tuple(parts[at + 1:]), suffix, tolerated, version)


def _glued_module(segment: str, version: OcpiVersion) -> str | None:
    for module in _GLUED:
        if segment.startswith(module) and module in _MODULES[version]:
            return module
    return None
