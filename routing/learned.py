"""What the hub learns from the traffic it forwards, for open routing: which party owns a token uid,
a location id or a session id. In memory for lookups (no database on the request path), with the
changes queued for ``hub`` to persist and share with the other replicas.
"""

from __future__ import annotations

import enum

from partners.registry import PartyKey


class Kind(enum.StrEnum):
    TOKEN_EMSP = "token_emsp"  # token uid -> the eMSP that pushed it
    LOCATION_CPO = "location_cpo"  # location id -> the CPO that owns it
    SESSION_CPO = "session_cpo"  # session id -> the CPO that pushed it
    SESSION_EMSP = "session_emsp"  # session id -> the eMSP it was delivered to


class LearnedRoutes:
    """Bounded maps ``object id -> party``: past ``max_per_kind`` the least recently learned entry is
    forgotten by this process (the database keeps it; open routing then answers 2001 for that object
    until it is pushed through the hub again)."""

    def __init__(self, max_per_kind: int = 1_000_000) -> None:
        self.max_per_kind = max_per_kind
        self.maps: dict[Kind, dict[str, PartyKey]] = {kind: {} for kind in Kind}
        self.pending: dict[tuple[Kind, str], PartyKey] = {}

    def learn(self, kind: Kind, object_id: str, party: PartyKey) -> None:
        known = self.maps[kind]
        if known.get(object_id) == party:
            return
        self._put(known, object_id, party)
        self.pending[(kind, object_id)] = party

    def merge(self, kind: Kind, object_id: str, party: PartyKey) -> None:
        """Knowledge from another replica (or from before a restart): not queued again."""
        self._put(self.maps[kind], object_id, party)

    def lookup(self, kind: Kind, object_id: str) -> PartyKey | None:
        return self.maps[kind].get(object_id)

    def take_pending(self) -> list[tuple[Kind, str, PartyKey]]:
        taken = [(kind, object_id, party) for (kind, object_id), party in self.pending.items()]
        self.pending.clear()
        return taken

    def _put(self, known: dict[str, PartyKey], object_id: str, party: PartyKey) -> None:
        known.pop(object_id, None)  # re-insert at the end: recently seen entries are evicted last
        known[object_id] = party
        if len(known) > self.max_per_kind:
            del known[next(iter(known))]
