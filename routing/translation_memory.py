"""What the hub keeps from the documents it translates, for the crossings that need more than the
document itself says.

* Locations, by (CPO, location id): a Session or CDR going down to 2.1.1 carries its whole Location,
  where 2.2 on name only its ids. Kept from the Locations the hub translated (pushes, pages) and from
  the ones it fetched when it had none (``routing.location_fetch``); a miss is fetched again.
* Tokens, by (eMSP, uid), and their contract ids: a 2.1.1 Session or CDR names only the contract
  (``auth_id``), where 2.2 on need the token's ``uid`` and ``type``; a 2.1.1 AuthorizationInfo lacks the
  Token 2.2 requires. Kept from the Tokens the hub translated (pushes, pages, commands, authorizations).
  The contract facts are also queued for ``hub.learning`` to share with every process and replica
  through the database (``partners/token_facts_store.py``), as open routing's learned routes are;
  whole Tokens stay in the process that saw them.

Only crossing traffic fills it: same-version bytes never enter the version bridge. Bounded by bytes
(least recently used first out); documents are kept as the bytes they came in, and decoded on use.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Generic, NamedTuple, TypeVar

from partners.registry import PartyKey
from routing.versions import VersionedDocument, codec
from routing.versions.version import OcpiVersion

K = TypeVar("K")
V = TypeVar("V")

# A contract entry's bookkeeping beside its strings (a fair estimate: the bound is about bytes, not exact).
_ENTRY_OVERHEAD = 200


class TokenFacts(NamedTuple):
    """What a 2.1.1 ``auth_id`` leaves out of a 2.2 CdrToken."""

    uid: str
    type: str


class _Lru(Generic[K, V]):
    """A map bounded by the sum of its entries' sizes; the least recently used entries go first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def put(self, key: K, value: V, size: int) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        if size > self.max_bytes:
            return  # larger than the whole budget: not kept (it would evict everything else)
        self._items[key] = (value, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, (_, gone) = self._items.popitem(last=False)
            self.bytes -= gone

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is None:
            return None
        self._items.move_to_end(key)
        return found[0]

    def discard(self, key: K) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old[1]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _document(kept: tuple[OcpiVersion, bytes] | None) -> VersionedDocument | None:
    """A kept document decoded for use (None: not kept, or not a JSON object)."""
    if kept is None:
        return None
    document = codec.decode(kept[1])
    return VersionedDocument(kept[0], document) if isinstance(document, dict) else None


class TranslationMemory:
    def __init__(self, max_bytes: int) -> None:
        # Locations are large (up to hundreds of KB) and tokens small: each kind gets its own half, so that
        # a burst of big Locations does not push out every token.
        self._locations: _Lru[tuple[PartyKey, str], tuple[OcpiVersion, bytes]] = _Lru(max_bytes // 2)
        self._tokens: _Lru[tuple[PartyKey, str], tuple[OcpiVersion, bytes]] = _Lru(max_bytes // 4)
        self._contracts: _Lru[tuple[PartyKey, str], TokenFacts] = _Lru(max_bytes // 4)
        # Contract facts not yet shared through the database, oldest first. Nothing drains it while the
        # database is away, so it holds at most as many as this process keeps itself: past that the oldest
        # are dropped (still known here; only the other processes miss them) and counted.
        self.pending: dict[tuple[PartyKey, str], TokenFacts] = {}
        self.max_pending = self.contract_capacity
        self.pending_dropped = 0

    # -- Locations --------------------------------------------------------------------------------------
    def remember_location(self, owner: PartyKey, version: OcpiVersion, raw: bytes, location_id: str) -> None:
        self._locations.put((owner, location_id.upper()), (version, bytes(raw)), len(raw))

    def forget_location(self, owner: PartyKey, location_id: str) -> None:
        self._locations.discard((owner, location_id.upper()))

    def location(self, owner: PartyKey, location_id: str) -> VersionedDocument | None:
        return _document(self._locations.get((owner, location_id.upper())))

    # -- Tokens ----------------------------------------------------------------------------------------
    def remember_token(self, owner: PartyKey, version: OcpiVersion, document: dict[str, Any],
                       raw: bytes | None = None) -> str | None:
        """Keep a Token of ``owner`` (an eMSP); returns its contract id, if it has one."""
        uid = _text(document.get("uid"))
        if uid is None:
            return None
        data = bytes(raw) if raw is not None else codec.encode(document)
        self._tokens.put((owner, uid.upper()), (version, data), len(data))
        contract = _text(document.get("contract_id" if version is not OcpiVersion.V2_1_1 else "auth_id"))
        token_type = _text(document.get("type"))
        if contract is not None and token_type is not None:
            facts = TokenFacts(uid, token_type)
            if self.contract(owner, contract) != facts:
                self.merge_contract(owner, contract, facts)
                pending = self.pending
                pending.pop((owner, contract), None)  # learned again: now the newest
                pending[(owner, contract)] = facts
                if len(pending) > self.max_pending:
                    del pending[next(iter(pending))]
                    self.pending_dropped += 1
        return contract

    def merge_contract(self, owner: PartyKey, contract_id: str, facts: TokenFacts) -> None:
        """A fact another process learned (or this one before a restart): kept, not queued again."""
        self._contracts.put((owner, contract_id.upper()), facts, len(contract_id) + len(facts.uid) + _ENTRY_OVERHEAD)

    def take_pending(self) -> list[tuple[PartyKey, str, TokenFacts]]:
        taken = [(owner, contract, facts) for (owner, contract), facts in self.pending.items()]
        self.pending.clear()
        return taken

    def requeue(self, taken: list[tuple[PartyKey, str, TokenFacts]]) -> None:
        """Put back facts ``take_pending`` gave that could not be written: as the oldest, under what was
        learned since (which wins for the same contract), within ``max_pending``."""
        restored = {(owner, contract): facts for owner, contract, facts in taken}
        for key, facts in self.pending.items():
            restored.pop(key, None)
            restored[key] = facts
        while len(restored) > self.max_pending:
            del restored[next(iter(restored))]
            self.pending_dropped += 1
        self.pending = restored

    @property
    def contract_capacity(self) -> int:
        """About how many contract facts fit (what a process loads at start)."""
        return max(1, self._contracts.max_bytes // (_ENTRY_OVERHEAD + 40))

    def token(self, owner: PartyKey, uid: str) -> VersionedDocument | None:
        return _document(self._tokens.get((owner, uid.upper())))

    def contract(self, owner: PartyKey, contract_id: str) -> TokenFacts | None:
        """The uid and type of ``owner``'s token with ``contract_id`` (a 2.1.1 ``auth_id``)."""
        return self._contracts.get((owner, contract_id.upper()))

    def sizes(self) -> dict[str, int]:
        return {"locations": self._locations.bytes, "tokens": self._tokens.bytes, "contracts": self._contracts.bytes}
