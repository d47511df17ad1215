"""What the hub learns from the traffic it forwards, for open routing: who owns a location id, a
session id or a token uid, and where that object went. Keyed by owner *and* id: two CPOs may both
have a location ``LOC1`` or a session ``S1``, and each keeps its own entry. Only requests that passed
the policy (the URL's owner is the sender) teach anything, so a forged push cannot poison it.

In memory for lookups (no database on the request path), with the changes queued for ``hub`` to
persist and share with the other replicas.
"""

from __future__ import annotations

import enum
from collections import OrderedDict

from partners.registry import PartyKey


class Kind(enum.StrEnum):
    LOCATION = "location"  # (CPO, location id) -> where it was pushed (an eMSP, or the hub for a broadcast)
    SESSION = "session"  # (CPO, session id) -> the eMSP it was delivered to
    TOKEN = "token"  # (eMSP, token uid) -> where it was pushed
    # (eMSP, contract id) -> where its token went: the eMSP of a 2.1.1 Session or CDR, which names only
    # the contract (auth_id).
    CONTRACT = "contract"
    RESERVATION = "reservation"  # (CPO, reservation id) -> the eMSP whose RESERVE_NOW made it


MAX_ID_LENGTH = 64
"""Longer object ids are not learned. OCPI's are at most 36 characters (39 in 2.1.1); the bound on the
number of entries is no bound on their size, and an id is the sender's choice, up to the length of a
request line: 8 KB ids grew a hub by 146 MB per 10,000 pushes, kept in the database and loaded again
by every replica at its start."""

Entry = tuple[PartyKey, PartyKey]
"""``(owner, target)``."""

PendingKey = tuple[Kind, PartyKey, str]
Pending = tuple[Kind, PartyKey, str, PartyKey]
"""``(kind, owner, object id, target)``: one learned entry not yet written to the database."""


class LearnedRoutes:
    """Bounded maps ``object id -> ((owner, target), ...)``: past ``max_per_kind`` ids the least recently
    learned one is forgotten by this process (the database keeps it; open routing then answers 2001
    for that object until it is pushed through the hub again).

    Memory per id is the id's string and its dict slot: the ``(owner, target)`` entries, and the
    one-entry tuples most ids map to, are shared by every id with the same owner and target (there are
    as many of them as pairs of parties that exchange objects, not as objects)."""

    def __init__(self, max_per_kind: int = 1_000_000, max_pending: int = 100_000) -> None:
        self.max_per_kind = max_per_kind
        self.maps: dict[Kind, dict[str, tuple[Entry, ...]]] = {kind: {} for kind in Kind}
        # Entries not yet written, oldest first. While the database is down nothing drains it, so it is
        # capped (a few hundred bytes an entry): past ``max_pending`` the oldest are dropped and counted.
        # A dropped entry stays known to this process; only the other replicas (and the next start) miss it.
        self.max_pending = max_pending
        self.pending: OrderedDict[PendingKey, PartyKey] = OrderedDict()
        self.pending_dropped = 0
        self._shared: dict[Entry, tuple[Entry]] = {}
        self._keys: dict[PartyKey, PartyKey] = {}

    def learn(self, kind: Kind, owner: PartyKey, object_id: str, target: PartyKey) -> None:
        if len(object_id) > MAX_ID_LENGTH or self.target(kind, owner, object_id) == target:
            return
        self._put(self.maps[kind], owner, object_id, target)
        pending = self.pending
        key = (kind, owner, object_id)
        pending.pop(key, None)  # learned again: now the newest
        pending[key] = target
        if len(pending) > self.max_pending:
            pending.popitem(last=False)
            self.pending_dropped += 1

    def merge(self, kind: Kind, owner: PartyKey, object_id: str, target: PartyKey) -> None:
        """Knowledge from another replica (or from before a restart): not queued again. What this
        process knows already (its own writes, read back) is left where it is."""
        if len(object_id) > MAX_ID_LENGTH:
            return
        if self.target(kind, owner, object_id) != target:
            self._put(self.maps[kind], owner, object_id, target)

    def owners(self, kind: Kind, object_id: str) -> tuple[Entry, ...]:
        """Every ``(owner, target)`` known for ``object_id``: usually one, several when ids collide."""
        return self.maps[kind].get(object_id, ())

    def target(self, kind: Kind, owner: PartyKey, object_id: str) -> PartyKey | None:
        for known_owner, target in self.maps[kind].get(object_id, ()):
            if known_owner == owner:
                return target
        return None

    def take_pending(self) -> list[Pending]:
        taken = [(kind, owner, object_id, target) for (kind, owner, object_id), target in self.pending.items()]
        self.pending.clear()
        return taken

    def requeue(self, taken: list[Pending]) -> None:
        """Put back entries ``take_pending`` gave that could not be written: as the oldest, under what was
        learned since (which wins where both name the same object), within ``max_pending``."""
        restored: OrderedDict[PendingKey, PartyKey] = OrderedDict(
            ((kind, owner, object_id), target) for kind, owner, object_id, target in taken)
        for key, target in self.pending.items():
            restored.pop(key, None)
            restored[key] = target
        while len(restored) > self.max_pending:
            restored.popitem(last=False)
            self.pending_dropped += 1
        self.pending = restored

    def _single(self, owner: PartyKey, target: PartyKey) -> tuple[Entry]:
        """The shared one-entry tuple for ``(owner, target)``."""
        keys = self._keys
        if len(keys) > 4 * self.max_per_kind or len(self._shared) > 4 * self.max_per_kind:
            keys.clear()  # a bound on memory, not a loss: entries in use stay where they are
            self._shared.clear()
        owner = keys.setdefault(owner, owner)
        target = keys.setdefault(target, target)
        entry = (owner, target)
        shared = self._shared.get(entry)
        if shared is None:
            shared = self._shared[entry] = (entry,)
        return shared

    def _put(self, known: dict[str, tuple[Entry, ...]], owner: PartyKey, object_id: str, target: PartyKey) -> None:
        # Re-insert at the end: recently seen ids are evicted last.
        single = self._single(owner, target)
        others = tuple(e for e in known.pop(object_id, ()) if e[0] != owner)
        known[object_id] = (*others, single[0]) if others else single
        if len(known) > self.max_per_kind:
            del known[next(iter(known))]
