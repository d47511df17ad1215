"""The hot path: a raw ASGI app for ``/ocpi/2.2.1/{sender|receiver}/{module}...`` and callbacks.

Each request reads top to bottom: confine path -> authenticate -> admit (perimeter: address,
certificate, rate) -> check sender -> read body (and its view) -> authorize -> resolve receiver
(admitted by the policy) -> rewrite -> forward -> rewrite response. Any stage ends the request by
raising a ``HubError``, which becomes the OCPI envelope; anything else becomes 3000 with the traceback
logged, never shown.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec

from partners.errors import (
    ForbiddenError,
    HubError,
    InvalidParametersError,
    MethodNotAllowedError,
    PayloadTooLargeError,
    PerimeterRefusedError,
    ResponseUrlRefusedError,
    TooManyRequestsError,
)
from partners.model import ConnectionStatus, Envelope, InterfaceRole
from partners.registry import PartyKey, Platform, Registry
from routing import body_view, callbacks, envelope, open_routing
from routing.broadcast import Broadcaster, BroadcastSettings, DatabaseHealth, Outbox
from routing.errors import BacklogFullError, DeniedError, ReceiverUnreachableError
from routing.forward import Forwarder, Outcome, UpstreamFailure, forwarded_headers
from routing.get_all import get_all
from routing.headers import RequestHeaders, read_headers
from routing.learned import LearnedRoutes
from routing.modules import CALLBACK_MODULES, CALLBACK_PREFIX, ROUTED_MODULES, RoutePath, hub_endpoint_path
from routing.observe import NoObserver, RequestRecord, RoutingObserver
from routing.paths import CallbackPath, confine
from routing.perimeter import Perimeter
from routing.policy import Ask, Policy
from routing.resolve import (
    authenticate,
    broadcast_routes,
    check_sender,
    owner_routes,
    resolve_receiver,
    to_key,
)
from routing.rewrite import (
    rebase_url,
    rewrite_body_response_url,
    rewrite_link_header,
    rewrite_query_response_url,
)
from routing.upstream_client import Response

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = logging.getLogger("ocpihub.routing")

# Response headers of a receiver that go back to the caller (Link and Location rebased on the hub first).
_PASSED_BACK = frozenset({
    b"content-type", b"content-encoding", b"x-total-count", b"x-limit", b"link", b"location",
    b"ocpi-from-country-code", b"ocpi-from-party-id", b"ocpi-to-country-code", b"ocpi-to-party-id", b"warning",
})
_REBASED = frozenset({b"link", b"location"})
_JSON = (b"content-type", b"application/json")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class ClientGone(Exception):
    """The caller disconnected before its body arrived: nothing to answer."""


class RoutingSettings(msgspec.Struct, frozen=True, kw_only=True):
    public_url: str
    hub_party: PartyKey
    max_body_bytes: int
    callback_ttl: float


class RoutingApp:
    def __init__(
        self,
        registry: Registry,
        forwarder: Forwarder,
        settings: RoutingSettings,
        callback_key: bytes,
        observer: RoutingObserver | None = None,
        clock: Callable[[], float] = time.time,
        learned: LearnedRoutes | None = None,
        broadcast: BroadcastSettings | None = None,
        outbox: Outbox | None = None,
        database_health: DatabaseHealth | None = None,
        policy: Policy | None = None,
        perimeter: Perimeter | None = None,
    ) -> None:
        self.registry = registry
        self.forwarder = forwarder
        self.settings = settings
        self.callback_key = callback_key
        self.observer: RoutingObserver = observer or NoObserver()
        self.clock = clock
        self.learned = learned or LearnedRoutes()
        self.policy = policy or Policy(agreements_required=False)
        self.perimeter = perimeter or Perimeter(registry=registry)
        self.broadcaster = Broadcaster(forwarder, self.observer, registry, broadcast or BroadcastSettings(),
                                       hub_party=settings.hub_party, outbox=outbox, health=database_health)
        self._callback_base = settings.public_url + CALLBACK_PREFIX
        # The hub's own endpoint URL per module and interface: what Link/Location headers are rebased on.
        self._hub_bases = {(m, i): settings.public_url + hub_endpoint_path(m, i)
                           for m in ROUTED_MODULES for i in InterfaceRole}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = read_headers(scope["headers"])
        request_id = headers.request_id or str(uuid.uuid4()).encode()
        correlation_id = headers.correlation_id or str(uuid.uuid4()).encode()
        module, interface, outcome = "unknown", "-", "error"
        status = 500
        detail = ""
        parties = _Parties()
        self.observer.request_started()
        try:
            target = confine(scope["method"], scope.get("raw_path"), scope["path"])
            if isinstance(target, CallbackPath):
                module = "callback"
                upstream = await self._callback(scope, receive, headers, correlation_id, target.ticket, parties)
            else:
                module, interface = target.module, target.interface.value
                upstream = await self._forward(scope, receive, headers, correlation_id, target, parties)
            status = upstream.status
            outcome = Outcome.OK
            await self._respond_upstream(send, upstream, request_id, correlation_id, parties.rebase,
                                         parties.receiver_platform)
        except ClientGone:
            outcome = "client_gone"
            return
        except HubError as error:
            if error.http_status == 401:
                self.observer.auth_failed()
                error = self.perimeter.auth_failed(scope, error)
            outcome = error.outcome if isinstance(error, UpstreamFailure) else _error_kind(error)
            status = error.http_status
            detail = error.message
            if isinstance(error, DeniedError):
                self.observer.denied(error.rule)
            await _respond_error(send, error, request_id, correlation_id)
        except Exception:
            log.exception("unexpected error while routing", extra={"correlation_id": correlation_id.decode()})
            await _respond_error(send, _Internal("internal hub error"), request_id, correlation_id)
        finally:
            self.observer.request_done(RequestRecord(
                scope["method"], module, interface, str(outcome), status, time.perf_counter() - started,
                parties.sender or _party_text(headers.from_country_code, headers.from_party_id),
                parties.receiver or _party_text(headers.to_country_code, headers.to_party_id),
                request_id.decode("latin-1"), correlation_id.decode("latin-1"), detail,
                parties.sender_platform, parties.receiver_platform,
            ))

    async def _forward(
        self, scope: Scope, receive: Receive, headers: RequestHeaders, correlation_id: bytes, route_path: RoutePath,
        parties: _Parties,
    ) -> Response:
        module = route_path.module
        interface = route_path.interface
        snapshot = self.registry.snapshot
        platform = authenticate(snapshot, headers.authorization)
        self.perimeter.admit(platform, scope)
        sender = check_sender(platform, headers.from_country_code, headers.from_party_id, module, interface)
        parties.sender, parties.sender_platform = sender.label, platform.id
        key = to_key(headers.to_country_code, headers.to_party_id)
        method: str = scope["method"]
        body = await _read_body(receive, headers, self.settings.max_body_bytes, method)
        ask = Ask(sender, method, module, interface, route_path.segments, body_view.read(body))
        self.policy.authorize(ask)
        now = self.clock()
        hub_party = self.settings.hub_party
        if key is not None and key != hub_party:
            route = resolve_receiver(snapshot, key, module, interface)
        else:
            query_text: str = scope.get("query_string", b"").decode("latin-1")
            if method == "GET" and key == hub_party and interface is InterfaceRole.SENDER and not route_path.segments:
                owners = self.policy.receivers(snapshot, ask, owner_routes(snapshot, module), now)
                return await get_all(self.forwarder, owners, sender, query_text, correlation_id.decode("latin-1"),
                                     self._hub_bases[(module, interface)])
            target = open_routing.decide(ask, self.learned, lambda k: self.policy.admits(snapshot, ask, k, now))
            if target is None or target == hub_party:
                if open_routing.broadcastable(module, interface, method):
                    return self._broadcast(scope, route_path, ask, body, query_text, correlation_id, now)
                raise InvalidParametersError(
                    f"no receiver: {method} {module} {interface.value} needs OCPI-to-country-code and "
                    "OCPI-to-party-id naming a party (GET all with OCPI-to = the hub works on SENDER list "
                    "endpoints only; broadcast push on locations, tariffs and tokens RECEIVER endpoints)"
                )
            route = resolve_receiver(snapshot, target, module, interface)
        parties.receiver, parties.receiver_platform = route.party.label, route.platform.id
        self.policy.admit(snapshot, ask, route.party, now)
        assert route.platform.outbound_auth is not None

        query: str = scope.get("query_string", b"").decode("latin-1")
        if module in CALLBACK_MODULES and interface is InterfaceRole.RECEIVER:
            originals: list[str] = []

            def make_callback(original: str) -> str:
                originals.append(original)
                ticket = callbacks.Ticket(
                    sender_platform=platform.id, sender_party=sender.label,
                    receiver_platform=route.platform.id, receiver_party=route.party.label,
                    url=original, module=module, expires=int(self.clock() + self.settings.callback_ttl),
                )
                return self._callback_base + callbacks.issue(self.callback_key, ticket)

            if body:
                body = rewrite_body_response_url(body, make_callback) or body
            if query:
                query = rewrite_query_response_url(query, make_callback) or query
            for original in originals:
                # The hub will POST the result there later: a URL it may not call fails the request now,
                # before anything is forwarded.
                await self.forwarder.guard.require(original, platform=platform.id, what="response_url",
                                                   error=ResponseUrlRefusedError)

        suffix = route_path.suffix
        url = route.endpoint.rstrip("/") + suffix if suffix else route.endpoint
        if query:
            url = f"{url}?{query}"
        out_headers = forwarded_headers(route.platform.outbound_auth, str(uuid.uuid4()),
                                        correlation_id.decode("latin-1"), sender.key, route.party.key,
                                        json_body=body is not None)
        upstream = await self.forwarder.send(method, url, out_headers, body, route.party.label, route.platform)
        if upstream.status < 400 and interface is InterfaceRole.RECEIVER:
            open_routing.learn_from(ask, route.party.key, self.learned.learn)
        parties.rebase = (route.endpoint, self._hub_bases[(module, interface)])
        return upstream

    def _broadcast(self, scope: Scope, route_path: RoutePath, ask: Ask, body: bytes | None, query: str,
                   correlation_id: bytes, now: float) -> Response:
        module, interface, sender = route_path.module, route_path.interface, ask.sender
        snapshot = self.registry.snapshot
        routes = self.policy.receivers(snapshot, ask, broadcast_routes(snapshot, sender, module, interface), now)
        self.broadcaster.push(
            routes, module=module, method=scope["method"], suffix=route_path.suffix, query=query,
            body=body, correlation_id=correlation_id.decode("latin-1"), sender_label=sender.label,
        )
        open_routing.learn_from(ask, self.settings.hub_party, self.learned.learn)
        hub_cc, hub_pid = self.settings.hub_party
        answer = envelope.encode(Envelope(status_code=1000, timestamp=envelope.timestamp(),
                                          status_message=f"broadcast to {len(routes)} receivers"))
        return Response(200, [(b"content-type", b"application/json"),
                                      (b"ocpi-from-country-code", hub_cc.encode()),
                                      (b"ocpi-from-party-id", hub_pid.encode()),
                                      (b"ocpi-to-country-code", sender.country_code.encode()),
                                      (b"ocpi-to-party-id", sender.party_id.encode())], answer)

    async def _callback(
        self, scope: Scope, receive: Receive, headers: RequestHeaders, correlation_id: bytes, ticket_text: str,
        parties: _Parties,
    ) -> Response:
        snapshot = self.registry.snapshot
        platform = authenticate(snapshot, headers.authorization)
        self.perimeter.admit(platform, scope)
        ticket = callbacks.redeem(self.callback_key, ticket_text, caller_platform=platform.id, now=self.clock())
        parties.sender, parties.receiver = ticket.receiver_party, ticket.sender_party
        parties.sender_platform, parties.receiver_platform = platform.id, ticket.sender_platform
        if scope["method"] != "POST":
            raise MethodNotAllowedError("callbacks are delivered with POST")
        target: Platform | None = snapshot.platforms.get(ticket.sender_platform)
        if target is None or target.outbound_auth is None:
            raise ReceiverUnreachableError(f"receiver {ticket.sender_party} is no longer registered")
        if target.status is ConnectionStatus.SUSPENDED:
            # The request was allowed, so its result stays allowed (no agreement is asked again), but a
            # platform the operator suspended receives nothing.
            raise ReceiverUnreachableError(f"receiver {ticket.sender_party} is suspended by the hub operator")
        body = await _read_body(receive, headers, self.settings.max_body_bytes, "POST")
        body_view.read(body)  # the JSON check only: a callback's body is the receiver's result, not an object
        from_cc, _, from_pid = ticket.receiver_party.partition("*")
        to_cc, _, to_pid = ticket.sender_party.partition("*")
        out_headers = forwarded_headers(target.outbound_auth, str(uuid.uuid4()), correlation_id.decode("latin-1"),
                                        (from_cc, from_pid), (to_cc, to_pid), json_body=True)
        return await self.forwarder.send("POST", ticket.url, out_headers, body, ticket.sender_party, target)

    async def _respond_upstream(self, send: Send, upstream: Response, request_id: bytes, correlation_id: bytes,
                                rebase: tuple[str, str] | None, receiver_platform: int = -1) -> None:
        """The receiver's answer to the caller, in one pass over its headers: the OCPI ones are kept,
        and Link/Location are rebased from the receiver's endpoint (``rebase[0]``) onto the hub's."""
        # A Content-Length of our own spares Hypercorn the chunked encoding (and its extra write).
        out = [(b"content-length", str(len(upstream.body)).encode()), (b"x-request-id", request_id),
               (b"x-correlation-id", correlation_id)]
        passed = _PASSED_BACK
        for name, value in upstream.headers:
            lname = name.lower()
            if lname not in passed:
                continue
            if rebase is not None and lname in _REBASED:
                rebased = self._rebase(lname, value, *rebase, receiver_platform)
                if rebased is None:
                    continue
                value = rebased
            out.append((lname, value))
        await send({"type": "http.response.start", "status": upstream.status, "headers": out})
        await send({"type": "http.response.body", "body": upstream.body})
        upstream.release()  # written: its bytes no longer count against the answer budget

    def _rebase(self, name: bytes, value: bytes, upstream_base: str, hub_base: str, platform: int) -> bytes | None:
        """The header rebased on the hub, or None when it is dropped: it pointed away from the receiver's
        endpoint, at a URL the outbound policy refuses (the hub never follows it either way)."""
        text = value.decode("latin-1")
        if name == b"link":
            new, clean = rewrite_link_header(text, upstream_base, hub_base)
        else:
            new, clean = rebase_url(text, upstream_base, hub_base)
        if not clean:
            if self.forwarder.guard.refused_in_header(text, platform=platform, what=f"{name.decode()} header"):
                return None
            self.observer.tolerated(f"{name.decode()}_header")
            log.warning("rewrote a %s header that did not point at the receiver's endpoint", name.decode())
        return new.encode("latin-1")


class _Parties:
    """Who a request turned out to be from and for (inferred or open-routed ones included), for the
    request log and the liveness evidence."""

    __slots__ = ("rebase", "receiver", "receiver_platform", "sender", "sender_platform")

    def __init__(self) -> None:
        self.sender = ""
        self.receiver = ""
        self.sender_platform = -1
        self.receiver_platform = -1
        # (receiver endpoint, hub endpoint) when the answer's Link/Location headers must be rebased.
        self.rebase: tuple[str, str] | None = None


class _Internal(HubError):
    pass


def _error_kind(error: HubError) -> str:
    """The closed ``outcome`` label of a request the hub answered itself."""
    if isinstance(error, DeniedError):
        return "denied"
    if error.http_status == 401:
        return "unauthorized"
    if isinstance(error, TooManyRequestsError):
        return "rate_limited"
    if isinstance(error, ForbiddenError | PerimeterRefusedError):
        return "forbidden"
    if isinstance(error, PayloadTooLargeError):
        return "too_large"
    if isinstance(error, BacklogFullError):
        return "backlog_full"
    if error.ocpi_status >= 4000:
        return "hub_error"
    return "server_error" if error.ocpi_status >= 3000 else "client_error"


def _party_text(cc: bytes | None, pid: bytes | None) -> str:
    if not cc and not pid:
        return ""
    return f"{(cc or b'').decode('latin-1').upper()}*{(pid or b'').decode('latin-1').upper()}"


async def _read_body(receive: Receive, headers: RequestHeaders, limit: int, method: str) -> bytes | None:
    """The whole request body (None when empty), refused past ``limit`` without reading the rest.
    Whether it is JSON is checked by ``body_view.read``, in the pass that reads the fields the policy needs."""
    if headers.content_length is not None:
        try:
            declared = int(headers.content_length)
        except ValueError:
            raise InvalidParametersError("Content-Length is not a number") from None
        if declared > limit:
            raise PayloadTooLargeError(f"request body of {declared} bytes is over the hub's limit of {limit}")
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(f"request body is over the hub's limit of {limit} bytes")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if not size:
        if method in _BODY_METHODS and method != "POST":
            raise InvalidParametersError(f"{method} needs a JSON body")
        return None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _respond_error(send: Send, error: HubError, request_id: bytes, correlation_id: bytes) -> None:
    body = envelope.error_body(error)
    headers = [_JSON, (b"content-length", str(len(body)).encode()), (b"x-request-id", request_id),
               (b"x-correlation-id", correlation_id), *error.headers()]
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
