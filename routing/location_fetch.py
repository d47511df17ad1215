"""The hub fetches a Location from its CPO when a Session or CDR going down to 2.1.1 must carry it and
the hub has not kept it: ``GET {CPO's locations SENDER endpoint}/{location_id}``, as the hub's own party,
with the CPO's token. What comes back is kept (``routing.translation_memory``) for the next Session."""

from __future__ import annotations

import logging
import uuid
from urllib.parse import quote

import msgspec

from partners import strict_json
from partners.model import InterfaceRole
from partners.registry import PartyKey, Platform
from routing.crossing import version_of
from routing.forward import Forwarder, UpstreamFailure, forwarded_headers
from routing.headerless import sends_routing_headers
from routing.translation_memory import TranslationMemory
from routing.versions import VersionedDocument, codec

log = logging.getLogger("ocpihub.translation")


class _Answer(msgspec.Struct):
    data: msgspec.Raw = msgspec.Raw()
    status_code: int = 0


class LocationFetcher:
    def __init__(self, forwarder: Forwarder, hub_party: PartyKey, memory: TranslationMemory) -> None:
        self.forwarder = forwarder
        self.hub_party = hub_party
        self.memory = memory

    async def __call__(self, platform: Platform, owner: PartyKey, location_id: str) -> VersionedDocument | None:
        endpoint = platform.endpoint("locations", InterfaceRole.SENDER)
        if endpoint is None or platform.outbound_auth is None:
            return None
        url = endpoint.rstrip("/") + "/" + quote(location_id, safe="")
        correlation_id = str(uuid.uuid4())
        headers = forwarded_headers(platform.outbound_auth, str(uuid.uuid4()), correlation_id, self.hub_party,
                                    owner, json_body=False, routing=sends_routing_headers(platform))
        label = f"{owner[0]}*{owner[1]}"
        try:
            response = await self.forwarder.send("GET", url, headers, None, label, platform)
            answer = strict_json.decode(response.body, _Answer)
        except (UpstreamFailure, strict_json.InvalidJson, msgspec.ValidationError) as exc:
            log.warning("could not fetch a Location to translate with", extra={
                "receiver": label, "correlation_id": correlation_id, "reason": str(exc)[:200]})
            return None
        if response.status >= 400 or not 1000 <= answer.status_code < 2000 or not answer.data:
            log.warning("could not fetch a Location to translate with", extra={
                "receiver": label, "correlation_id": correlation_id,
                "reason": f"answered HTTP {response.status}, status_code {answer.status_code}"})
            return None
        document = codec.decode(answer.data)
        if not isinstance(document, dict):
            return None
        version = version_of(platform)
        self.memory.remember_location(owner, version, answer.data, location_id)
        return VersionedDocument(version, document)
