"""The ``routing.versions.Context`` of one document crossing versions: what the hub knows that the
document does not say.

* owner: the party the request established (the sender of a push, the receiver of a pull), never a
  value read from the document itself; its platform's ``time_zone`` setting is the default for a
  Location that lacks one.
* token owner: the eMSP a Session or CDR goes to (a push's receiver, a pull's caller), or whose token
  an authorization answers for.
* the token behind a 2.1.1 ``auth_id`` (uid, type) and the Token a 2.1.1 AuthorizationInfo answers
  for: from what the hub kept of the tokens it translated (``routing.translation_memory``). Not known:
  the crossing is refused naming the field, never guessed.
* the Location a Session or CDR going down to 2.1.1 carries: kept, or fetched from its CPO
  (``routing.location_fetch``).
* the command ``timeout`` a 2.1.1 CPO's answer lacks: ``OCPI_HUB_COMMAND_TIMEOUT``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from partners.registry import PartyKey, Platform
from routing.translation_memory import TranslationMemory
from routing.versions import Context, Party, VersionedDocument
from routing.versions.version import OcpiVersion

FetchLocation = Callable[[Platform, PartyKey, str], Awaitable[VersionedDocument | None]]
"""``(CPO's platform, CPO, location id) -> the Location as the CPO has it now, or None``."""

Fetched = dict[tuple[PartyKey, str], VersionedDocument | None]
"""What one request fetched, by (CPO, location id upper-cased), a failure as None: a page of Sessions
naming the same Location (an unreachable one above all) fetches it once, not once per Session, each up
to the request timeout. A failure is not kept in ``TranslationMemory``: the next request tries again."""

_OLDEST = OcpiVersion.V2_1_1


@dataclasses.dataclass(frozen=True, slots=True)
class Sides:
    """Who the documents of one direction of a crossing belong to."""

    owner: PartyKey | None = None
    owner_platform: Platform | None = None
    token_owner: PartyKey | None = None
    peer: PartyKey | None = None
    """The other party of the request (where a pushed document goes, who pulled it): what the hub learns
    the document's route to be."""


def _party(key: PartyKey | None) -> Party | None:
    return Party(key[0], key[1]) if key is not None else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class Contexts:
    def __init__(self, memory: TranslationMemory, fetch_location: FetchLocation, command_timeout: int) -> None:
        self.memory = memory
        self.fetch_location = fetch_location
        self.command_timeout = command_timeout
        self._bases: dict[tuple[PartyKey | None, PartyKey | None, str | None], Context] = {}

    def base(self, sides: Sides) -> Context:
        """What every document of one direction shares (built once per owner, token owner and time zone)."""
        time_zone = sides.owner_platform.settings.time_zone if sides.owner_platform is not None else None
        key = (sides.owner, sides.token_owner, time_zone)
        context = self._bases.get(key)
        if context is None:
            if len(self._bases) > 10_000:
                self._bases.clear()
            context = self._bases[key] = Context(owner=_party(sides.owner), token_owner=_party(sides.token_owner),
                                                 time_zone=time_zone, command_timeout=self.command_timeout)
        return context

    async def context(self, document: dict[str, Any], module: str, kind: str, source: OcpiVersion,
                      target: OcpiVersion, sides: Sides, *, token_uid: str | None = None,
                      fresh: bool = False, fetched: Fetched | None = None) -> Context:
        """The context of ``document`` (``kind`` of ``module``, written in ``source``) crossing to ``target``;
        ``fresh``: a Location is fetched even if one is kept (the kept one lacked the EVSE used), unless
        this request (``fetched``) already fetched it."""
        context = self.base(sides)
        if module in ("sessions", "cdrs"):
            if source is _OLDEST:
                context = self._token_facts(context, document, sides)
            elif target is _OLDEST:
                context = await self._location(context, document, module, sides, fresh, fetched)
        elif kind == "authorization_info" and source is _OLDEST and token_uid is not None and "token" not in document:
            if sides.owner is not None:
                token = self.memory.token(sides.owner, token_uid)
                if token is not None:
                    context = dataclasses.replace(context, token=token)
        return context

    def _token_facts(self, context: Context, document: dict[str, Any], sides: Sides) -> Context:
        contract = _text(document.get("auth_id"))
        if contract is None or sides.token_owner is None:
            return context
        facts = self.memory.contract(sides.token_owner, contract)
        if facts is None:
            return context
        return dataclasses.replace(context, token_uid=facts.uid, token_type=facts.type)

    async def _location(self, context: Context, document: dict[str, Any], module: str, sides: Sides,
                        fresh: bool, fetched: Fetched | None) -> Context:
        if module == "sessions":
            location_id = _text(document.get("location_id"))
        else:
            where = document.get("cdr_location")
            location_id = _text(where.get("id")) if isinstance(where, dict) else None
        if location_id is None or sides.owner is None:
            return context
        key = (sides.owner, location_id.upper())
        if fetched is not None and key in fetched:
            location = fetched[key]
        else:
            location = None if fresh else self.memory.location(sides.owner, location_id)
            if location is None and sides.owner_platform is not None:
                location = await self.fetch_location(sides.owner_platform, sides.owner, location_id)
                if fetched is not None:
                    fetched[key] = location
        return dataclasses.replace(context, location=location) if location is not None else context
