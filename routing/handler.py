"""The hot path: a raw ASGI app for ``/ocpi/{version}/{sender|receiver}/{module}...`` (2.2, 2.2.1,
2.3.0), ``/ocpi/2.1.1/{module}...`` and callbacks.

Each request reads top to bottom: confine path -> authenticate -> admit (perimeter: address,
certificate, rate) -> interface (2.1.1: from the caller's role) -> check sender -> read body (and its
view) -> authorize -> resolve receiver (admitted by the policy) -> translate (only between versions) ->
rewrite -> forward -> translate back -> rewrite response. Any stage ends the request by raising a
``HubError``, which becomes the OCPI envelope; anything else becomes 3000 with the traceback logged,
never shown.

Every answer carries the routing headers (transport chapter, "Overview of required/optional routing
headers"): from = the party that answered (the receiver, or the hub for its own answers, GET all and
broadcasts), to = the requester. The hub writes them itself, replacing what a receiver's answer says
(a receiver cannot answer in another party's name); the header pairs are built once per party and reused.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec

from partners.errors import (
    DatabaseUnavailableError,
    ForbiddenError,
    HubError,
    InvalidJsonError,
    InvalidParametersError,
    MethodNotAllowedError,
    PayloadTooLargeError,
    PerimeterRefusedError,
    ResponseUrlRefusedError,
    TooManyRequestsError,
)
from partners.model import ConnectionStatus, Envelope, InterfaceRole
from partners.registry import PartyKey, Platform, Registry
from routing import body_view, envelope, headerless, open_routing
from routing.broadcast import Broadcaster, BroadcastSettings, DatabaseHealth, Outbox
from routing.crossing import Bridge, version_of
from routing.errors import BacklogFullError, DeniedError, ReceiverRefusedHubError, ReceiverUnreachableError
from routing.forward import Forwarder, Outcome, UpstreamFailure, forwarded_headers
from routing.get_all import Totals, get_all
from routing.headers import RequestHeaders, read_headers
from routing.learned import LearnedRoutes
from routing.location_fetch import LocationFetcher
from routing.modules import CALLBACK_MODULES, CALLBACK_PREFIX, RolelessPath, RoutePath, hub_endpoint_path
from routing.observe import NoObserver, RequestRecord, RoutingObserver
from routing.paths import CallbackPath, confine
from routing.perimeter import Perimeter
from routing.policy import Ask, Policy
from routing.receiver_urls import REDIRECTS, CollectionUrls
from routing.resolve import (
    Route,
    authenticate,
    broadcast_routes,
    check_sender,
    owner_routes,
    resolve_receiver,
    to_key,
)
from routing.rewrite import (
    ResponseUrls,
    rebase_url,
    rewrite_link_header,
)
from routing.tickets import MemoryTicketStore, Ticket, TicketBook, callback_expiry
from routing.timeouts import Timeouts
from routing.translation_context import Contexts
from routing.translation_memory import TranslationMemory
from routing.upstream_client import Response
from routing.version_endpoints import MODULES
from routing.versions import OcpiVersion

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
# A receiver answering 401/403 refuses the hub's token: never passed on as such (the caller would take its own
# token for dead).
_REFUSED_HUB = frozenset({401, 403})
_Headers = tuple[tuple[bytes, bytes], ...]
_FROM_CC, _FROM_PID = b"ocpi-from-country-code", b"ocpi-from-party-id"
_TO_CC, _TO_PID = b"ocpi-to-country-code", b"ocpi-to-party-id"
_ROUTING = frozenset({_FROM_CC, _FROM_PID, _TO_CC, _TO_PID})
# What the log says of each URL-shape deviation ``routing.paths`` reports.
_PATH_DEVIATIONS = {"glued_path": "accepted a URL glued to the module without '/'",
                    "empty_path_segment": "collapsed '//' in a routed URL"}
# A body that is a JSON array: OCPI requests carry one object (the view reads each element alike).
_LIST = re.compile(rb"\s*\[")
# A deviation is counted every time, logged at most once a minute per platform and kind.
_LOG_EVERY = 60.0


class ClientGone(Exception):
    """The caller disconnected before its body arrived: nothing to answer."""


class RoutingSettings(msgspec.Struct, frozen=True, kw_only=True):
    public_url: str
    hub_party: PartyKey
    max_body_bytes: int
    callback_ttl: float
    location_ttl: float = 30 * 24 * 3600.0
    # The command `timeout` announced for a 2.1.1 CPO's answer, and the bytes of documents kept for
    # translating (routing.translation_memory).
    command_timeout: int = 60
    translation_memory_bytes: int = 32 * 1024 * 1024


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
        tickets: TicketBook | None = None,
        timeouts: Timeouts | None = None,
        memory: TranslationMemory | None = None,
    ) -> None:
        self.registry = registry
        self.forwarder = forwarder
        self.settings = settings
        self.tickets = tickets or TicketBook(MemoryTicketStore(), callback_key, clock=clock)
        self.timeouts = timeouts or Timeouts(forwarder.request_timeout)
        self.collections = CollectionUrls()
        self.totals = Totals()
        self.observer: RoutingObserver = observer or NoObserver()
        self.clock = clock
        self.learned = learned or LearnedRoutes()
        self.policy = policy or Policy(agreements_required=False)
        self.perimeter = perimeter or Perimeter(registry=registry)
        self.broadcaster = Broadcaster(forwarder, self.observer, registry, broadcast or BroadcastSettings(),
                                       hub_party=settings.hub_party, outbox=outbox, health=database_health)
        self.bridge = _bridge(forwarder, settings, self.learned, self.observer, memory)
        self._callback_base = settings.public_url + CALLBACK_PREFIX
        # The hub's own endpoint URL per version, module and interface: what Link/Location headers are rebased on.
        self._hub_bases = {(v, m, i): settings.public_url + hub_endpoint_path(m, i, v)
                           for v, modules in MODULES.items() for m in modules for i in InterfaceRole}
        # Routing header pairs per party: ((from-headers), (to-headers)), built on first use.
        self._routing_pairs: dict[PartyKey, tuple[_Headers, _Headers]] = {}
        self._answer_headers: dict[tuple[PartyKey, PartyKey], tuple[_Headers, dict[bytes, bytes]]] = {}
        self._logged: dict[tuple[str, int], float] = {}

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
                module = target.module
                interface = target.interface.value if isinstance(target, RoutePath) else "-"
                upstream = await self._forward(scope, receive, headers, correlation_id, target, parties)
                interface = parties.interface
            status = upstream.status
            outcome = Outcome.OK
            await self._respond_upstream(send, upstream, request_id, correlation_id, parties)
        except ClientGone:
            outcome = "client_gone"
            return
        except HubError as error:
            interface = parties.interface or interface
            if error.http_status == 401:
                self.observer.auth_failed()
                error = self.perimeter.auth_failed(scope, error)
            outcome = error.outcome if isinstance(error, UpstreamFailure) else _error_kind(error)
            status = error.http_status
            detail = error.message
            if isinstance(error, DeniedError):
                self.observer.denied(error.rule)
            await _respond_error(send, error, request_id, correlation_id, self._error_routing(parties, headers))
        except Exception:
            log.exception("unexpected error while routing", extra={"correlation_id": correlation_id.decode()})
            await _respond_error(send, _Internal("internal hub error"), request_id, correlation_id,
                                 self._error_routing(parties, headers))
        finally:
            self.observer.request_done(RequestRecord(
                scope["method"], module, interface, str(outcome), status, time.perf_counter() - started,
                parties.sender or _party_text(headers.from_country_code, headers.from_party_id),
                parties.receiver or _party_text(headers.to_country_code, headers.to_party_id),
                request_id.decode("latin-1"), correlation_id.decode("latin-1"), detail,
                parties.sender_platform, parties.receiver_platform,
            ))

    async def _forward(
        self, scope: Scope, receive: Receive, headers: RequestHeaders, correlation_id: bytes,
        path: RoutePath | RolelessPath, parties: _Parties,
    ) -> Response:
        method: str = scope["method"]
        snapshot = self.registry.snapshot
        platform = authenticate(snapshot, headers.authorization)
        self.perimeter.admit(platform, scope)
        route_path = headerless.routed(path, platform, method)
        module, interface = route_path.module, route_path.interface
        parties.interface = interface.value
        if route_path.tolerated is not None:
            self._tolerate(route_path.tolerated, platform.id, _PATH_DEVIATIONS[route_path.tolerated])
        sender = check_sender(platform, headers.from_country_code, headers.from_party_id, module, interface)
        parties.sender, parties.sender_platform, parties.answer_to = sender.label, platform.id, sender.key
        if not headers.from_country_code and route_path.version not in headerless.HEADERLESS:
            self._tolerate("sender_inferred", platform.id, "inferred the sender: no OCPI-from headers")
        hub_party = self.settings.hub_party
        key = headerless.addressed(to_key(headers.to_country_code, headers.to_party_id), route_path, hub_party)
        body = await _read_body(receive, headers, self.settings.max_body_bytes, method)
        ask = Ask(sender, method, module, interface, route_path.segments, body_view.read(body))
        if body is not None and _LIST.match(body) is not None:
            self._tolerate("list_body", platform.id, "accepted a JSON list where OCPI sends one object")
        self.policy.authorize(ask)
        now = self.clock()
        if key is not None and key != hub_party:
            route = resolve_receiver(snapshot, key, module, interface)
        else:
            query_text: str = scope.get("query_string", b"").decode("latin-1")
            if method == "GET" and key == hub_party and interface is InterfaceRole.SENDER and not route_path.segments:
                owners = self.policy.receivers(snapshot, ask, owner_routes(snapshot, module), now)
                parties.answer_from = hub_party
                return await get_all(self.forwarder, owners, sender, query_text, correlation_id.decode("latin-1"),
                                     self._hub_bases[(route_path.version, module, interface)],
                                     collection_url=self.collections.url,
                                     timeout=self.timeouts.of(module, interface, method, ()), totals=self.totals,
                                     translate=self.bridge.owner_pages(route_path.version, module, sender),
                                     tolerated=self.observer.tolerated)
            target = open_routing.decide(ask, self.learned, lambda k: self.policy.admits(snapshot, ask, k, now))
            if target is None or target == hub_party:
                if open_routing.broadcastable(module, interface, method):
                    parties.answer_from = hub_party
                    return await self._broadcast(scope, route_path, ask, platform, body, query_text, correlation_id,
                                                 now)
                raise InvalidParametersError(
                    f"no receiver: {method} {module} {interface.value} needs OCPI-to-country-code and "
                    "OCPI-to-party-id naming a party (GET all with OCPI-to = the hub works on SENDER list "
                    "endpoints only; broadcast push on locations, tariffs and tokens RECEIVER endpoints)"
                )
            route = resolve_receiver(snapshot, target, module, interface)
        parties.receiver, parties.receiver_platform = route.party.label, route.platform.id
        self.policy.admit(snapshot, ask, route.party, now)
        self.policy.admit_session(ask, route.party, self.learned.target)
        assert route.platform.outbound_auth is not None
        crossing = self.bridge.crossing(route_path, method, sender, platform, route.party, route.platform)
        if crossing is not None:
            body = await crossing.request(body)

        query: str = scope.get("query_string", b"").decode("latin-1")
        if module in CALLBACK_MODULES and interface is InterfaceRole.RECEIVER:
            body, query = await self._issue_callbacks(body, query, ask, platform.id, route.platform.id,
                                                      route.party.label)

        suffix = route_path.suffix
        url = self.collections.url(route.endpoint, suffix)
        if query:
            url = f"{url}?{query}"
        out_headers = forwarded_headers(route.platform.outbound_auth, str(uuid.uuid4()),
                                        correlation_id.decode("latin-1"), sender.key, route.party.key,
                                        json_body=body is not None,
                                        routing=headerless.sends_routing_headers(route.platform))
        upstream = await self.forwarder.send(method, url, out_headers, body, route.party.label, route.platform,
                                             timeout=self.timeouts.of(module, interface, method, route_path.segments))
        if upstream.status in _REFUSED_HUB:
            raise _refused_hub(route.party.label, upstream)
        if crossing is not None:
            upstream = await crossing.answer(upstream)
        if not suffix and upstream.status in REDIRECTS and self.collections.learn(
                route.endpoint, url, upstream.status, _header(upstream, b"location")):
            self._tolerate("slash_redirect", route.platform.id,
                           "receiver redirects its collection to the other trailing-slash form")
        if upstream.status < 400 and interface is InterfaceRole.RECEIVER:
            open_routing.learn_from(ask, route.party.key, self.learned.learn)
        parties.rebase = (route.endpoint, self._hub_bases[(route_path.version, module, interface)])
        parties.answer_from, parties.module = route.party.key, module
        return upstream

    async def _issue_callbacks(self, body: bytes | None, query: str, ask: Ask, sender_platform: int,
                               receiver_platform: int, receiver_label: str) -> tuple[bytes | None, str]:
        """Every ``response_url`` (body, or query of a charging-profile GET/DELETE) replaced by a short
        hub ticket URL, issued only once each original passed the outbound policy."""
        urls = ResponseUrls(body, query)  # parsed once: what is replaced below is what was found here
        originals = urls.originals
        if not originals:
            return body, query
        for original in originals:
            # The hub will POST the result there later: a URL it may not call fails the request now,
            # before anything is forwarded or stored.
            await self.forwarder.guard.require(original, platform=sender_platform, what="response_url",
                                               error=ResponseUrlRefusedError)
        view = body_view.single(ask.views)
        command = ask.segments[0] if ask.module == "commands" and ask.segments else None
        expires = callback_expiry(command, view.expiry_date if view is not None else None, self.clock(),
                                  self.settings.callback_ttl)
        issued: dict[str, str] = {}
        for original in originals:
            if original not in issued:
                issued[original] = self._callback_base + await self.tickets.issue(Ticket(
                    kind="callback", sender_platform=sender_platform, sender_party=ask.sender.label,
                    receiver_platform=receiver_platform, receiver_party=receiver_label, url=original,
                    module=ask.module, expires=expires))
        return urls.replaced(body, query, issued.__getitem__)

    async def _broadcast(self, scope: Scope, route_path: RoutePath, ask: Ask, platform: Platform, body: bytes | None,
                         query: str, correlation_id: bytes, now: float) -> Response:
        module, interface, sender = route_path.module, route_path.interface, ask.sender
        snapshot = self.registry.snapshot
        routes = self.policy.receivers(snapshot, ask, broadcast_routes(snapshot, sender, module, interface), now)
        method: str = scope["method"]
        # Receivers of another version get the push translated into theirs, once per version. Each version's
        # receivers are queued on their own: a backlog refusal (429) may come after some were queued, and the
        # sender's retry is then coalesced with what waits, or delivered again (pushes are idempotent).
        said = ""
        for version, group in _by_version(routes):
            crossing = self.bridge.broadcast(route_path, method, sender, platform, version)
            try:
                sent = await crossing.request(body) if crossing is not None else body
            except HubError as error:
                said += f"; not to the {len(group)} OCPI {version} receivers: {error.message}"
                routes = [r for r in routes if r not in group]
                continue
            if crossing is not None:
                said += "; " + (crossing.report.message(route_path.version, version)
                                or f"translated for the OCPI {version} receivers")
            self.broadcaster.push(
                group, module=module, method=method, suffix=route_path.suffix, query=query,
                body=sent, correlation_id=correlation_id.decode("latin-1"), sender_label=sender.label,
            )
        open_routing.learn_from(ask, self.settings.hub_party, self.learned.learn)
        answer = envelope.encode(Envelope(status_code=1000, timestamp=envelope.timestamp(),
                                          status_message=f"broadcast to {len(routes)} receivers{said}"))
        # Routing headers (from = the hub, to = the sender) are written by _respond_upstream.
        return Response(200, [_JSON], answer)

    async def _callback(
        self, scope: Scope, receive: Receive, headers: RequestHeaders, correlation_id: bytes, ticket_text: str,
        parties: _Parties,
    ) -> Response:
        snapshot = self.registry.snapshot
        platform = authenticate(snapshot, headers.authorization)
        self.perimeter.admit(platform, scope)
        ticket = await self.tickets.redeem(ticket_text, caller_platform=platform.id)
        parties.sender, parties.receiver = ticket.receiver_party, ticket.sender_party
        parties.sender_platform, parties.receiver_platform = platform.id, ticket.sender_platform
        from_key, to_key_ = _key(ticket.receiver_party), _key(ticket.sender_party)
        parties.answer_to = from_key
        method = "POST" if ticket.kind == "callback" else "GET"
        if scope["method"] != method:
            raise MethodNotAllowedError("callbacks are delivered with POST" if method == "POST" else
                                        "this hub URL stands for a Location: read it with GET")
        target: Platform | None = snapshot.platforms.get(ticket.sender_platform)
        if target is None or target.outbound_auth is None:
            raise ReceiverUnreachableError(f"receiver {ticket.sender_party} is no longer registered")
        if target.status is ConnectionStatus.SUSPENDED:
            # The request was allowed, so its result stays allowed (no agreement is asked again), but a
            # platform the operator suspended receives nothing.
            raise ReceiverUnreachableError(f"receiver {ticket.sender_party} is suspended by the hub operator")
        body = await _read_body(receive, headers, self.settings.max_body_bytes, method)
        body_view.read(body)  # the JSON check only: a callback's body is the receiver's result, not an object
        crossing = self.bridge.callback(ticket.kind, ticket.module, platform, from_key, target, to_key_)
        if crossing is not None:
            body = await crossing.request(body)
        out_headers = forwarded_headers(target.outbound_auth, str(uuid.uuid4()), correlation_id.decode("latin-1"),
                                        from_key, to_key_, json_body=body is not None,
                                        routing=headerless.sends_routing_headers(target))
        upstream = await self.forwarder.send(method, ticket.url, out_headers, body, ticket.sender_party, target,
                                             timeout=self.timeouts.callback)
        if upstream.status in _REFUSED_HUB:
            raise _refused_hub(ticket.sender_party, upstream)
        if crossing is not None:
            upstream = await crossing.answer(upstream)
        parties.answer_from = to_key_
        return upstream

    async def _respond_upstream(self, send: Send, upstream: Response, request_id: bytes, correlation_id: bytes,
                                parties: _Parties) -> None:
        """The receiver's answer to the caller, in one pass over its headers: the OCPI ones are kept,
        Link/Location are rebased from the receiver's endpoint (``parties.rebase[0]``) onto the hub's,
        and missing routing headers are added (from = the answering party, to = the requester)."""
        # A Content-Length of our own spares Hypercorn the chunked encoding (and its extra write).
        out = [(b"content-length", str(len(upstream.body)).encode()), (b"x-request-id", request_id),
               (b"x-correlation-id", correlation_id)]
        passed = _PASSED_BACK
        rebase = parties.rebase
        # The hub says who answered and to whom, whatever the receiver's headers claim: the party it routed
        # the request to, and the requester. A receiver naming another party would otherwise make the caller
        # file the answer under that party.
        answer_from, answer_to = parties.answer_from, parties.answer_to
        ours, expected = (((), None) if answer_from is None or answer_to is None
                          else self._answer_pair(answer_from, answer_to))
        said = 0
        differs = False
        for name, value in upstream.headers:
            lname = name.lower()
            if lname not in passed:
                continue
            if lname in _ROUTING:
                said += 1
                if expected is None:
                    out.append((lname, value))  # no party established (not on a routed answer): passed on
                elif value != expected[lname] and value.upper() != expected[lname]:
                    differs = True
                continue
            if rebase is not None and lname in _REBASED:
                rebased = await self._rebase(lname, value, *rebase, parties, upstream.status)
                if rebased is None:
                    continue
                value = rebased
            out.append((lname, value))
        out += ours
        if rebase is not None and expected is not None:  # a receiver's answer, not one the hub made
            if not said:
                self._tolerate("no_routing_headers", parties.receiver_platform,
                               "receiver answered without OCPI-from/OCPI-to headers")
            elif differs or said != len(ours):
                self._tolerate("answer_routing_headers", parties.receiver_platform,
                               "receiver's answer named other parties in OCPI-from/OCPI-to (or some of them); "
                               "the hub sent the parties it routed between")
        await send({"type": "http.response.start", "status": upstream.status, "headers": out})
        await send({"type": "http.response.body", "body": upstream.body})
        upstream.release()  # written: its bytes no longer count against the answer budget

    async def _rebase(self, name: bytes, value: bytes, upstream_base: str, hub_base: str, parties: _Parties,
                      status: int) -> bytes | None:
        """The header rebased on the hub, or None when it is dropped: it pointed away from the receiver's
        endpoint, at a URL the outbound policy refuses (the hub never follows it either way). A Location
        elsewhere on an answer that is no redirect (a CDR's, after POST) becomes a hub ticket URL, so the
        object stays reachable through the hub."""
        text = value.decode("latin-1")
        platform = parties.receiver_platform
        if name == b"link":
            new, clean = rewrite_link_header(text, upstream_base, hub_base)
        else:
            new, clean = rebase_url(text, upstream_base, hub_base)
        if not clean:
            if self.forwarder.guard.refused_in_header(text, platform=platform, what=f"{name.decode()} header"):
                return None
            if name == b"location" and status not in REDIRECTS:
                ticketed = await self._location_ticket(text, parties)
                if ticketed is not None:
                    return ticketed.encode("latin-1")
            self._tolerate(f"{name.decode()}_header", platform,
                           f"rewrote a {name.decode()} header that did not point at the receiver's endpoint")
        return new.encode("latin-1")

    async def _location_ticket(self, url: str, parties: _Parties) -> str | None:
        """A hub URL standing for ``url`` (GET, by the requester only), or None while the database is away."""
        try:
            text = await self.tickets.issue(Ticket(
                kind="location", sender_platform=parties.receiver_platform, sender_party=parties.receiver,
                receiver_platform=parties.sender_platform, receiver_party=parties.sender, url=url,
                module=parties.module, expires=self.clock() + self.settings.location_ttl))
        except DatabaseUnavailableError:
            log.warning("could not keep a Location header reachable through the hub: database unavailable")
            return None
        return self._callback_base + text

    def _answer_pair(self, answer_from: PartyKey, answer_to: PartyKey) -> tuple[_Headers, dict[bytes, bytes]]:
        """The routing headers of an answer from ``answer_from`` to ``answer_to``, and the same as a map
        to check a receiver's own against, built once per pair of parties."""
        key = (answer_from, answer_to)
        found = self._answer_headers.get(key)
        if found is None:
            ours = self._pairs(answer_from)[0] + self._pairs(answer_to)[1]
            found = (ours, dict(ours))
            if len(self._answer_headers) > 100_000:
                self._answer_headers.clear()
            self._answer_headers[key] = found
        return found

    def _pairs(self, key: PartyKey) -> tuple[_Headers, _Headers]:
        """(OCPI-from-* headers, OCPI-to-* headers) naming ``key``, built once per party."""
        pairs = self._routing_pairs.get(key)
        if pairs is None:
            cc, pid = key[0].encode("latin-1"), key[1].encode("latin-1")
            pairs = (((_FROM_CC, cc), (_FROM_PID, pid)), ((_TO_CC, cc), (_TO_PID, pid)))
            if len(self._routing_pairs) > 100_000:
                self._routing_pairs.clear()
            self._routing_pairs[key] = pairs
        return pairs

    def _error_routing(self, parties: _Parties, headers: RequestHeaders) -> _Headers:
        """Routing headers of an answer the hub makes itself: from = the hub, to = the requester (as the
        hub established it, else as it named itself in its OCPI-from-* headers)."""
        found = self._pairs(self.settings.hub_party)[0]
        if parties.answer_to is not None:
            return found + self._pairs(parties.answer_to)[1]
        if headers.from_country_code and headers.from_party_id:
            return (*found, (_TO_CC, headers.from_country_code), (_TO_PID, headers.from_party_id))
        return found

    def _tolerate(self, kind: str, platform: int, what: str) -> None:
        """A partner's deviation the hub worked around: counted each time, logged at most once a minute
        per platform and kind."""
        self.observer.tolerated(kind)
        now = time.monotonic()
        key = (kind, platform)
        if now - self._logged.get(key, -_LOG_EVERY) >= _LOG_EVERY:
            if len(self._logged) > 10_000:
                self._logged.clear()
            self._logged[key] = now
            log.warning("tolerated: %s", what, extra={"kind": kind, "platform": platform})


class _Parties:
    """Who a request turned out to be from and for (inferred or open-routed ones included), for the
    request log and the liveness evidence."""

    __slots__ = ("answer_from", "answer_to", "interface", "module", "rebase", "receiver", "receiver_platform",
                 "sender", "sender_platform")

    def __init__(self) -> None:
        self.interface = ""  # as decided (2.1.1: from the caller's role)
        self.sender = ""
        self.receiver = ""
        self.sender_platform = -1
        self.receiver_platform = -1
        # (receiver endpoint, hub endpoint) when the answer's Link/Location headers must be rebased.
        self.rebase: tuple[str, str] | None = None
        # The routing headers of the answer: from = who answered, to = the requester.
        self.answer_from: PartyKey | None = None
        self.answer_to: PartyKey | None = None
        self.module = ""


class _Internal(HubError):
    pass


def _by_version(routes: list[Route]) -> list[tuple[OcpiVersion, list[Route]]]:
    groups: dict[OcpiVersion, list[Route]] = {}
    for route in routes:
        groups.setdefault(version_of(route.platform), []).append(route)
    return list(groups.items())


def _bridge(forwarder: Forwarder, settings: RoutingSettings, learned: LearnedRoutes, observer: RoutingObserver,
            memory: TranslationMemory | None) -> Bridge:
    memory = memory or TranslationMemory(settings.translation_memory_bytes)
    fetch = LocationFetcher(forwarder, settings.hub_party, memory)
    return Bridge(memory, Contexts(memory, fetch, settings.command_timeout), learned, observer)


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


def _key(label: str) -> PartyKey:
    cc, _, pid = label.partition("*")
    return (cc, pid)


def _header(response: Response, name: bytes) -> str | None:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _refused_hub(receiver: str, upstream: Response) -> ReceiverRefusedHubError:
    """4003 for a receiver that answered 401/403: it refuses the hub's credentials, not the caller's."""
    upstream.release()  # not passed on: its bytes no longer count against the answer budget
    said = ""
    try:
        message = msgspec.json.decode(upstream.body).get("status_message")
        if isinstance(message, str) and message:
            said = f": {message[:200]!r}"
    except (msgspec.DecodeError, AttributeError):
        pass
    return ReceiverRefusedHubError(
        f"receiver {receiver} refused the hub's credentials (HTTP {upstream.status}{said}); the hub operator "
        "has been told. Nothing is wrong with your own token")


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
            raise InvalidJsonError("Content-Length is not a number") from None
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
            raise InvalidJsonError(f"{method} needs a JSON body")
        return None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _respond_error(send: Send, error: HubError, request_id: bytes, correlation_id: bytes,
                         routing: _Headers) -> None:
    body = envelope.error_body(error)
    headers = [_JSON, (b"content-length", str(len(body)).encode()), (b"x-request-id", request_id),
               (b"x-correlation-id", correlation_id), *routing, *error.headers()]
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
