"""The one place that decides whether a routed request crosses OCPI versions, and that translates what
crosses: the request body on the way in, the answer on the way back.

The sender's version is the one of the URL it called (the documents it sends and expects), the
receiver's the one its platform registered in. Same version: no :class:`Crossing`, and the bytes pass
through untouched, as before the bridge. Otherwise every document is decoded, translated by
``routing.versions`` with the context the hub knows (``routing.translation_context``), and encoded again:

* the request body (an object, a PATCH document, a command, a command result); a body the hub cannot
  carry into the receiver's version is refused with 2001 naming the field, and nothing is forwarded;
* the answer's ``data`` (an object, a page of objects with ``X-Total-Count`` and ``Link`` passed on and
  rebased as for any answer, a command response); one object of a page that cannot be carried is left
  out and said so, a single object that cannot be carried is 4000 naming the field;
* what was lost on the way (``ocpihub_translation_losses_total{module,field}``) and which partner
  deviations were worked around (``ocpihub_tolerated_deviations_total{kind}``) are counted, and the
  caller is told in the answer's ``status_message``:
  ``hub: translated between OCPI 2.2.1 and 2.1.1; not carried: locations.evses.capabilities``.

Charging profiles are the same objects in every version that has them (2.2 on) and pass untouched;
payments exist in 2.3.0 only and never cross.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import msgspec

from partners.model import InterfaceRole
from partners.registry import Party, PartyKey, Platform
from routing.errors import UntranslatableAnswerError
from routing.learned import Kind, LearnedRoutes
from routing.modules import RoutePath
from routing.object_kinds import Kinds, kinds
from routing.observe import RoutingObserver
from routing.resolve import Route
from routing.translation_context import Contexts, Fetched, Sides
from routing.translation_memory import TranslationMemory
from routing.upstream_client import Response
from routing.version_endpoints import MODULES
from routing.versions import (
    Loss,
    NotInVersionError,
    OcpiVersion,
    UntranslatableError,
    codec,
    needs_translation,
    translate,
    translate_patch,
)
from routing.versions.chain import Translated

log = logging.getLogger("ocpihub.translation")

_IDENTICAL = frozenset({"chargingprofiles"})
"""Modules whose objects are the same in every version that has them."""
_MESSAGE_MAX = 600
_SESSION_LIKE = frozenset({"sessions", "cdrs"})
_SENDER, _RECEIVER = InterfaceRole.SENDER, InterfaceRole.RECEIVER
_LOG_EVERY = 60.0
_NULL = msgspec.Raw(b"null")
"""Compared as is (Raw equality is by content): ``bytes(data) == b"null"`` would copy a whole page first."""


def version_of(platform: Platform) -> OcpiVersion:
    """The version a platform registered in (platforms from before versions were recorded: 2.2.1)."""
    return platform.version or OcpiVersion.V2_2_1


class _Envelope(msgspec.Struct):
    """A receiver's answer, with ``data`` left as bytes until it is known what to do with it."""

    status_code: Any = None
    status_message: Any = None
    timestamp: Any = None
    data: msgspec.Raw = msgspec.Raw()  # empty: no data; b"null" is treated the same


_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_items = msgspec.json.Decoder(list[msgspec.Raw]).decode


class _Report:
    """What one request's crossings lost or left out, told to the caller in the answer's status_message
    (each document's losses are counted as it is translated)."""

    __slots__ = ("left_out", "lost")

    def __init__(self) -> None:
        self.lost: dict[Loss, None] = {}
        self.left_out: list[str] = []

    def add(self, result: Translated) -> None:
        for loss in result.losses:
            self.lost[loss] = None

    def message(self, a: OcpiVersion, b: OcpiVersion) -> str | None:
        parts = []
        if self.lost:
            parts.append("not carried: " + ", ".join(f"{loss.module}.{loss.field}" for loss in self.lost))
        if self.left_out:
            parts.append(f"left out {len(self.left_out)}: " + "; ".join(self.left_out))
        if not parts:
            return None
        text = f"hub: translated between OCPI {a} and {b}; " + "; ".join(parts)
        return text if len(text) <= _MESSAGE_MAX else text[:_MESSAGE_MAX - 3] + "..."


class Crossing:
    """One request between parties of two versions: ``source`` is the caller's, ``target`` the receiver's."""

    def __init__(self, bridge: Bridge, module: str, method: str, object_kinds: Kinds, source: OcpiVersion,
                 target: OcpiVersion, request_sides: Sides, answer_sides: Sides, token_uid: str | None = None) -> None:
        self.bridge = bridge
        self.module = module
        self.method = method
        self.kinds = object_kinds
        self.source = source
        self.target = target
        self.request_sides = request_sides
        self.answer_sides = answer_sides
        self.token_uid = token_uid
        self.report = _Report()
        self.fetched: Fetched = {}
        """The Locations this request fetched (a page of Sessions names the same ones again)."""

    # -- the request, caller → receiver ------------------------------------------------------------
    async def request(self, body: bytes | None) -> bytes | None:
        """The body in the receiver's version; raises 2001 (UntranslatableError, NotInVersionError)."""
        if not body:
            return body
        kind = self.kinds.body
        if kind is None:
            raise UntranslatableError(self.module, "body", f"the hub knows no OCPI object at this path to carry "
                                                           f"from OCPI {self.source} to {self.target}")
        document = codec.decode(body)
        partial = self.method == "PATCH"
        sides = self.request_sides
        if isinstance(document, list):  # a single object wrapped in a list: each element on its own
            out: Any = [await self._one(d, kind, self.source, self.target, sides, partial) for d in document]
        else:
            out = await self._one(document, kind, self.source, self.target, sides, partial, raw=body)
        return codec.encode(out)

    # -- the answer, receiver → caller -------------------------------------------------------------
    async def answer(self, response: Response) -> Response:
        """The receiver's answer with its data in the caller's version and the report in status_message."""
        kind = self.kinds.answer
        try:
            envelope = _decode_envelope(response.body) if kind is not None or self._reportable() else None
        except (msgspec.DecodeError, msgspec.ValidationError):
            envelope = None  # not an OCPI answer (an HTML error page): passed on as it came
        if envelope is None:
            return response
        data: msgspec.Raw | None = envelope.data if envelope.data and envelope.data != _NULL else None
        ok = isinstance(envelope.status_code, int) and 1000 <= envelope.status_code < 2000
        if kind is not None and data is not None and ok:
            data = await self._answer_data(kind, data)
        message = self.report.message(self.source, self.target)
        if message is None and (data is None or data is envelope.data):
            return response
        status_message = envelope.status_message
        if message is not None:
            status_message = f"{status_message}; {message}" if isinstance(status_message, str) and status_message \
                else message
        out: dict[str, Any] = {"data": data} if data is not None else {}
        out["status_code"] = envelope.status_code
        if status_message is not None:
            out["status_message"] = status_message
        out["timestamp"] = envelope.timestamp
        translated = Response(response.status, response.headers, codec.encode(out))
        response.release()
        return translated

    def _reportable(self) -> bool:
        return bool(self.report.lost or self.report.left_out)

    async def _answer_data(self, kind: str, data: msgspec.Raw) -> msgspec.Raw:
        source, target, sides = self.target, self.source, self.answer_sides
        if self.kinds.page:
            try:
                items = _decode_items(data)
            except msgspec.ValidationError:
                return data  # not a list: passed on as it came
            return msgspec.Raw(b"[" + b",".join(await self.page(items, kind, source, target, sides)) + b"]")
        document = codec.decode(data)
        if not isinstance(document, dict):
            return data
        try:
            return msgspec.Raw(codec.encode(await self._one(document, kind, source, target, sides, False, raw=data)))
        except (UntranslatableError, NotInVersionError) as error:
            raise UntranslatableAnswerError(
                f"the receiver's answer cannot be carried into OCPI {target}: {error.message}") from None

    async def page(self, items: Sequence[msgspec.Raw], kind: str, source: OcpiVersion, target: OcpiVersion,
                   sides: Sides) -> list[bytes]:
        """Each object of a page translated on its own; one that cannot be carried is left out (and said)."""
        out = []
        for raw in items:
            document = codec.decode(raw)
            if not isinstance(document, dict):
                continue
            try:
                out.append(codec.encode(await self._one(document, kind, source, target, sides, False, raw=raw)))
            except (UntranslatableError, NotInVersionError) as error:
                self.report.left_out.append(f"{kind} {document.get('id', document.get('uid', '?'))!s:.40}: "
                                            f"{error.message}")
        return out

    # -- one document ------------------------------------------------------------------------------
    async def _one(self, document: Any, kind: str, source: OcpiVersion, target: OcpiVersion, sides: Sides,
                   partial: bool, raw: bytes | msgspec.Raw | None = None) -> Any:
        if not isinstance(document, dict):
            raise UntranslatableError(self.module, kind, "not a JSON object")
        contexts = self.bridge.contexts
        step = translate_patch if partial else translate
        context = await contexts.context(document, self.module, kind, source, target, sides, token_uid=self.token_uid,
                                         fetched=self.fetched)
        try:
            result = step(document, self.module, kind, source, target, context)
        except UntranslatableError as error:
            if error.field != "location" or context.location is None or self.module not in _SESSION_LIKE:
                raise
            # The Location kept lacks the EVSE or connector used (it changed since): fetched again, once.
            context = await contexts.context(document, self.module, kind, source, target, sides,
                                             token_uid=self.token_uid, fresh=True, fetched=self.fetched)
            result = step(document, self.module, kind, source, target, context)
        self.report.add(result)
        self.bridge.counted(result)
        if not partial:
            self.bridge.learn(self.module, kind, document, source, sides, raw)
        elif self.module == "locations":
            self.bridge.forget_location(sides, document)
        return result.document


class Bridge:
    """Builds the crossings of a hub process and keeps what they teach."""

    def __init__(self, memory: TranslationMemory, contexts: Contexts, learned: LearnedRoutes,
                 observer: RoutingObserver) -> None:
        self.memory = memory
        self.contexts = contexts
        self.learned = learned
        self.observer = observer
        self._logged: dict[str, float] = {}

    # -- the decision ------------------------------------------------------------------------------
    def crossing(self, route_path: RoutePath, method: str, sender: Party, sender_platform: Platform,
                 receiver: Party, receiver_platform: Platform) -> Crossing | None:
        """The crossing of a request from ``sender`` (calling on ``route_path``, in its version) to
        ``receiver``, or None when both speak the same version, or the module's objects are the same in
        both. A request on a SENDER interface pulls the receiver's objects; on a RECEIVER interface it
        pushes the sender's."""
        module, source, target = route_path.module, route_path.version, version_of(receiver_platform)
        if not self.crosses(module, source, target):
            return None
        segments = route_path.segments
        pull = route_path.interface is _SENDER
        if pull:
            answer_owner, answer_platform = receiver.key, receiver_platform
            token_owner = receiver.key if module == "tokens" else sender.key
        else:
            answer_owner, answer_platform, token_owner = sender.key, sender_platform, receiver.key
        request_sides = Sides(owner=sender.key, owner_platform=sender_platform, token_owner=receiver.key,
                              peer=receiver.key)
        answer_sides = Sides(owner=answer_owner, owner_platform=answer_platform, token_owner=token_owner,
                             peer=sender.key)
        uid = segments[0] if module == "tokens" and segments else None
        return Crossing(self, module, method, kinds(module, route_path.interface, method, segments), source, target,
                        request_sides, answer_sides, uid)

    def crosses(self, module: str, source: OcpiVersion, target: OcpiVersion) -> bool:
        """Whether documents of ``module`` change between the two versions; refuses a module one of the
        two versions lacks (payments before 2.3.0), as the hub's own version details say
        (``routing.version_endpoints.MODULES``)."""
        if not needs_translation(source, target) or module in _IDENTICAL:
            return False
        for version in (target, source):
            if module not in MODULES[version]:
                raise NotInVersionError(module, "objects", version.value)
        return True

    def callback(self, kind: str, module: str, caller_platform: Platform, caller: PartyKey,
                 holder_platform: Platform, holder: PartyKey) -> Crossing | None:
        """The crossing of a request on a hub ticket URL. ``callback``: an asynchronous result (a command's)
        that the caller POSTs in its version to the requester (``holder``) in its own. ``location``: the
        caller GETs an object (a CDR) the holder keeps, which comes back in the holder's version."""
        source, target = version_of(caller_platform), version_of(holder_platform)
        if not self.crosses(module, source, target):
            return None
        if kind == "callback":
            object_kinds = Kinds("command_result" if module == "commands" else None, None)
        else:
            object_kinds = Kinds(None, kinds(module, _RECEIVER, "GET", ("-",)).answer)
        return Crossing(self, module, "POST" if kind == "callback" else "GET", object_kinds, source, target, Sides(),
                        Sides(owner=caller, owner_platform=caller_platform, token_owner=holder))

    def broadcast(self, route_path: RoutePath, method: str, sender: Party, sender_platform: Platform,
                  target: OcpiVersion) -> Crossing | None:
        """The crossing of a broadcast push towards the receivers of version ``target``."""
        module = route_path.module
        if not self.crosses(module, route_path.version, target):
            return None
        sides = Sides(owner=sender.key, owner_platform=sender_platform)
        return Crossing(self, module, method, kinds(module, route_path.interface, method, route_path.segments),
                        route_path.version, target, sides, Sides())

    def owner_pages(self, target: OcpiVersion, module: str, caller: Party) -> OwnerPages:
        """Translation of each owner's objects of a GET all into the caller's version ``target``."""
        return OwnerPages(self, target, module, caller)

    # -- what crossings teach ----------------------------------------------------------------------
    def learn(self, module: str, kind: str, document: dict[str, Any], version: OcpiVersion, sides: Sides,
              raw: bytes | msgspec.Raw | None) -> None:
        if module == "locations":
            if kind == "location" and sides.owner is not None:
                location_id = document.get("id")
                if isinstance(location_id, str) and location_id:
                    self.memory.remember_location(sides.owner, version, raw if raw is not None
                                                  else codec.encode(document), location_id)
                    if sides.peer is not None:
                        self.learned.learn(Kind.LOCATION, sides.owner, location_id, sides.peer)
            else:
                self.forget_location(sides, document)
            return
        token: Any = None
        owner = sides.owner
        if module == "tokens" and kind == "token":
            token = document
        elif kind in ("start_session", "reserve_now", "authorization_info"):
            token = document.get("token")
        if isinstance(token, dict) and owner is not None:
            contract = self.memory.remember_token(owner, version, token, raw if token is document else None)
            if contract is not None and sides.peer is not None:
                self.learned.learn(Kind.CONTRACT, owner, contract, sides.peer)

    def forget_location(self, sides: Sides, document: dict[str, Any]) -> None:
        """A Location changed in part (a PATCH, an EVSE or connector PUT): the kept one is stale."""
        location_id = document.get("id")
        if sides.owner is not None and isinstance(location_id, str):
            self.memory.forget_location(sides.owner, location_id)

    def counted(self, result: Translated) -> None:
        """Each loss and each tolerated deviation of one translated document, counted."""
        if result.losses:
            self.observer.translation_lost(result.losses)
        for kind in result.tolerated:
            self.observer.tolerated(kind)
            # Counted every time, logged at most once a minute per kind: a page of Locations may repeat it.
            now = time.monotonic()
            if now - self._logged.get(kind, -_LOG_EVERY) >= _LOG_EVERY:
                self._logged[kind] = now
                log.warning("tolerated a partner deviation while translating", extra={"kind": kind})


class OwnerPages:
    """GET all: each owner's slice of objects carried into the caller's version; the report of every
    owner together, for the hub's own answer."""

    def __init__(self, bridge: Bridge, target: OcpiVersion, module: str, caller: Party) -> None:
        self.bridge = bridge
        self.target = target
        self.module = module
        self.caller = caller
        self.report = _Report()
        self.fetched: Fetched = {}
        self.sources: set[OcpiVersion] = set()

    async def __call__(self, route: Route, items: list[msgspec.Raw]) -> list[msgspec.Raw] | list[bytes]:
        source = version_of(route.platform)
        kind = kinds(self.module, _SENDER, "GET", ()).answer
        if kind is None or not self.bridge.crosses(self.module, source, self.target):
            return items
        self.sources.add(source)
        crossing = Crossing(self.bridge, self.module, "GET", Kinds(None, kind, True), self.target, source, Sides(),
                            Sides(owner=route.party.key, owner_platform=route.platform, token_owner=self.caller.key,
                                  peer=self.caller.key))
        crossing.report = self.report
        crossing.fetched = self.fetched
        return await crossing.page(items, kind, source, self.target, crossing.answer_sides)

    def message(self) -> str | None:
        """What the caller is told once the page is assembled."""
        if not self.sources:
            return None
        others = sorted(self.sources, key=lambda v: v.value)
        return self.report.message(others[0], self.target)


