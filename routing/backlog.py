"""The broadcast backlog: what waits to be delivered to each receiver, as a pure data structure.

No I/O and no clock of its own (``now`` is passed in), so every rule here is a table test away.

* **Lanes.** Per receiver, deliveries wait in one lane per object: a module's client-owned object
  ``/{country_code}/{party_id}/{id}`` with its query (a token's ``type``). A Location's EVSEs and
  connectors share their Location's lane, so a PUT of the Location and a PATCH of one of its EVSEs keep
  their order. A lane has at most one delivery in flight and hands its entries out in the order they
  came: for one receiver and one object, never two deliveries in flight and never an older state after a
  newer one. Different lanes and receivers stay parallel.
* **Coalescing.** A push for a path that still has an entry waiting (not in flight) for the same receiver
  supersedes it instead of queueing behind it: a PUT or a DELETE replaces it, a PATCH merges into a
  waiting PUT or PATCH field by field (OCPI PATCH replaces every top-level field it names, lists
  included, so a shallow merge is exact; values are merged as raw JSON, never re-encoded). Never across a
  waiting entry on an enclosing or enclosed path (a Location PUT between two PATCHes of one of its EVSEs),
  never into or out of a POST, never a PATCH into a DELETE: those queue behind.
* **Limits** in entries and bytes, per receiver and in total. A push is admitted for all its receivers or
  for none (:class:`Refused` names the limit), so nothing admitted is ever dropped for lack of room. Bytes
  are what the backlog holds in memory: a body shared by many receivers counts once in the total (and
  once per receiver in that receiver's share), plus :data:`ENTRY_BYTES` per entry.
* **Expiry.** An entry that has waited longer than ``max_age`` since the oldest push it carries is
  dropped and handed back to the caller to count (:meth:`Backlog.expire`; :meth:`Backlog.take` skips such
  entries too).
* **Fairness.** Receivers take turns, and each has at most ``receiver_concurrency`` deliveries in
  flight, so a slow receiver ties up that many workers, not all of them.

Entries and lanes are linked lists of msgspec Structs with ``gc=False``: the garbage collector does not
track them, so a full collection costs the same with an empty backlog as with a full one (measured with
tracked objects: ~100 ms at 100,000 entries, ~230 ms at 200,000, each one a pause of the event loop).
That is safe because nothing here is left in a cycle: an entry is unlinked from its neighbours when it
leaves its lane, and a lane or receiver is dropped only when it holds no entries.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable

import msgspec

ReceiverKey = tuple[int, str, str]
"""``(platform id, country code, party id)`` of a receiving party."""

ENTRY_BYTES = 256
"""Memory one waiting entry takes beyond its body (entry, lane, queue slots), measured by
``tests/unit/test_backlog.py`` with tracemalloc; counted against the byte limits."""

SCAN = 32
"""How far back a push looks for a waiting entry to coalesce with; beyond, it queues (always correct)."""

_decode_object = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
_encode = msgspec.json.encode


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    receiver_entries: int
    receiver_bytes: int
    total_entries: int
    total_bytes: int
    max_age: float
    receiver_concurrency: int


class Reason(enum.StrEnum):
    """Why a push was refused: the ``reason`` label of ``ocpihub_broadcast_refused_total``."""

    RECEIVER_ENTRIES = "receiver_entries"
    RECEIVER_BYTES = "receiver_bytes"
    TOTAL_ENTRIES = "total_entries"
    TOTAL_BYTES = "total_bytes"
    SHUTTING_DOWN = "shutting_down"


class Payload:
    """A body, shared by every entry that carries it; ``refs`` counts them (memory is counted once)."""

    __slots__ = ("data", "refs")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.refs = 0


def lane_key(module: str, path: str, query: str) -> str:
    """The object a push is about: module and the first three path segments (country code, party id,
    object id) with the query; a shorter path is its own object."""
    parts = path.split("/", 4)
    obj = "/".join(parts[:4]) if len(parts) >= 4 else path
    return f"{module}{obj.rstrip('/')}?{query}"


def _overlaps(a: str, b: str) -> bool:
    """Whether one path encloses the other (a Location and one of its EVSEs)."""
    return a.startswith(b + "/") or b.startswith(a + "/")


class Push:
    """One admitted push: the same request for every receiver (entries share it)."""

    __slots__ = ("_doc", "_merged", "base_bytes", "correlation_id", "key", "lane", "method", "module", "path",
                 "payload", "query", "sender", "since")

    def __init__(self, module: str, method: str, path: str, query: str, body: bytes | None, *, since: float,
                 correlation_id: str = "", sender: str = "") -> None:
        self.module = module
        self.method = method
        self.path = path
        self.key = path.rstrip("/")
        self.query = query
        self.lane = lane_key(module, path, query)
        self.payload = Payload(body) if body is not None else None
        self.since = since
        self.correlation_id = correlation_id
        self.sender = sender
        self._doc: dict[str, msgspec.Raw] | bool | None = False
        self._merged: dict[int, Payload] = {}
        # What an entry of this push counts beyond its body. The correlation id is the sender's choice, up
        # to the size of a request head (16 KiB): uncounted, DELETEs with long ones held hundreds of MB
        # while the byte limits saw a few.
        self.base_bytes = ENTRY_BYTES + len(path) + len(query) + len(correlation_id) + len(sender)

    def doc(self) -> dict[str, msgspec.Raw] | None:
        """The body as a JSON object of raw values (None when it is no JSON object), decoded once."""
        if self._doc is False:
            self._doc = _object(self.payload)
        assert self._doc is not True
        return self._doc

    def settle(self) -> None:
        """Drop what admission needed (decoded body, merges): entries keep the push for long."""
        self._doc = False
        self._merged.clear()


def _object(payload: Payload | None) -> dict[str, msgspec.Raw] | None:
    if payload is None:
        return None
    try:
        return _decode_object(payload.data)
    except (msgspec.DecodeError, RecursionError):
        return None


# Entry states (plain ints: compared on every take).
QUEUED, IN_FLIGHT, DONE = 0, 1, 2


class Entry(msgspec.Struct, gc=False, eq=False):
    """One delivery to one receiver: the latest push it carries (``push``; paths and ids come from it),
    its body (``payload``: the push's own, or a merge of several), the method to send, and ``since``, when
    the oldest push it carries was accepted. ``prev``/``next`` link it into its lane."""

    push: Push
    lane: _Lane
    payload: Payload | None
    method: str
    since: float
    state: int = QUEUED
    prev: Entry | None = None
    next: Entry | None = None

    def __repr__(self) -> str:  # the default would follow prev/next through the whole lane
        return f"Entry({self.method} {self.push.module}{self.push.path} for {self.lane.receiver.key})"

    @property
    def body(self) -> bytes | None:
        return self.payload.data if self.payload is not None else None

    @property
    def receiver(self) -> ReceiverKey:
        return self.lane.receiver.key

    @property
    def size(self) -> int:
        """What this entry counts against its receiver's byte limit."""
        return self.push.base_bytes + (len(self.payload.data) if self.payload is not None else 0)


class _Lane(msgspec.Struct, gc=False, eq=False):
    """One object's waiting entries for one receiver, oldest first (``head``)."""

    key: str
    receiver: _Receiver
    head: Entry | None = None
    tail: Entry | None = None
    busy: bool = False  # an entry of this lane is in flight
    ready: bool = False  # this lane is in its receiver's ready queue

    def __repr__(self) -> str:
        return f"Lane({self.key} for {self.receiver.key})"

    def append(self, entry: Entry) -> None:
        entry.prev = self.tail
        if self.tail is None:
            self.head = entry
        else:
            self.tail.next = entry
        self.tail = entry

    def push_front(self, entry: Entry) -> None:
        entry.next = self.head
        entry.prev = None
        if self.head is None:
            self.tail = entry
        else:
            self.head.prev = entry
        self.head = entry

    def unlink(self, entry: Entry) -> None:
        before, after = entry.prev, entry.next
        if before is None:
            self.head = after
        else:
            before.next = after
        if after is None:
            self.tail = before
        else:
            after.prev = before
        entry.prev = entry.next = None


class _Receiver:
    __slots__ = ("bytes", "entries", "in_flight", "key", "lanes", "ready", "turn")

    def __init__(self, key: ReceiverKey) -> None:
        self.key = key
        self.lanes: dict[str, _Lane] = {}
        self.ready: deque[_Lane] = deque()
        self.entries = 0
        self.bytes = 0
        self.in_flight = 0
        self.turn = False  # this receiver is in the backlog's turns queue


class Admitted(msgspec.Struct, frozen=True):
    queued: int
    coalesced: int


class Refused(msgspec.Struct, frozen=True):
    reason: Reason
    receiver: ReceiverKey | None = None
    held: int = 0
    limit: int = 0


_Plan = tuple[ReceiverKey, _Receiver | None, _Lane | None, Entry | None, Payload | None]


class Backlog:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.entries = 0
        self.bytes = 0
        self.accepting = True
        self._receivers: dict[ReceiverKey, _Receiver] = {}
        self._turns: deque[_Receiver] = deque()
        self._fifo: deque[Entry] = deque()  # every entry in the order it was queued (for expiry and age)
        self.expired_on_take: list[Entry] = []

    # -- admission ------------------------------------------------------------------------
    def admit(self, push: Push, receivers: Iterable[ReceiverKey]) -> Admitted | Refused:
        """Queue ``push`` for every receiver, or for none of them."""
        if not self.accepting:
            return Refused(Reason.SHUTTING_DOWN)
        limits = self.limits
        base = push.base_bytes
        own = push.payload
        own_len = len(own.data) if own is not None else 0
        plan: list[_Plan] = []
        add_entries = 0
        add_bytes = 0
        counted: set[int] = set()  # payloads already counted in add_bytes
        for key in dict.fromkeys(receivers):
            r = self._receivers.get(key)
            lane = r.lanes.get(push.lane) if r is not None else None
            target, payload = self._coalescing_target(lane, push) if lane is not None else (None, None)
            if target is None:
                payload = own
                grow_entries, grow_bytes = 1, base + own_len
                add_bytes += base
            else:
                grow_entries = 0
                grow_bytes = (len(payload.data) if payload is not None else 0) - \
                    (len(target.payload.data) if target.payload is not None else 0) + base - target.push.base_bytes
                add_bytes += base - target.push.base_bytes
            if payload is not None and id(payload) not in counted and payload.refs == 0:
                counted.add(id(payload))
                add_bytes += len(payload.data)
            held_entries = r.entries if r is not None else 0
            held_bytes = r.bytes if r is not None else 0
            if held_entries + grow_entries > limits.receiver_entries:
                return Refused(Reason.RECEIVER_ENTRIES, key, held_entries, limits.receiver_entries)
            if held_bytes + grow_bytes > limits.receiver_bytes:
                return Refused(Reason.RECEIVER_BYTES, key, held_bytes, limits.receiver_bytes)
            add_entries += grow_entries
            plan.append((key, r, lane, target, payload))
        if self.entries + add_entries > limits.total_entries:
            return Refused(Reason.TOTAL_ENTRIES, None, self.entries, limits.total_entries)
        if self.bytes + add_bytes > limits.total_bytes:
            return Refused(Reason.TOTAL_BYTES, None, self.bytes, limits.total_bytes)
        queued = coalesced = 0
        for key, r, lane, target, payload in plan:
            if target is None:
                self._append(key, r, lane, push)
                queued += 1
            else:
                self._supersede(target, push, payload)
                coalesced += 1
        push.settle()
        return Admitted(queued, coalesced)

    def restore(self, push: Push, receiver: ReceiverKey) -> bool:
        """Queue an entry taken over from the outbox: it was admitted once already, so no limit applies
        (new pushes are refused until there is room again). Returns whether it was coalesced."""
        r = self._receivers.get(receiver)
        lane = r.lanes.get(push.lane) if r is not None else None
        target, payload = self._coalescing_target(lane, push) if lane is not None else (None, None)
        if target is None:
            self._append(receiver, r, lane, push)
        else:
            self._supersede(target, push, payload)
        push.settle()
        return target is not None

    def _coalescing_target(self, lane: _Lane, push: Push) -> tuple[Entry | None, Payload | None]:
        """The waiting entry ``push`` supersedes in ``lane`` and the body it will then carry, if any."""
        key = push.key
        entry = lane.tail
        for _ in range(SCAN):
            if entry is None:
                break
            other = entry.push.key
            if other == key:
                return _combine(entry, push)
            if _overlaps(key, other):
                return None, None
            entry = entry.prev
        return None, None

    def _append(self, key: ReceiverKey, r: _Receiver | None, lane: _Lane | None, push: Push) -> None:
        if r is None:
            r = self._receivers[key] = _Receiver(key)
        if lane is None:
            lane = r.lanes[push.lane] = _Lane(push.lane, r)
        entry = Entry(push, lane, push.payload, push.method, push.since)
        lane.append(entry)
        self._fifo.append(entry)
        self._ref(entry.payload)
        r.entries += 1
        r.bytes += entry.size
        self.entries += 1
        self.bytes += push.base_bytes
        if not lane.busy and not lane.ready:
            lane.ready = True
            r.ready.append(lane)
            self._give_turn(r)

    def _supersede(self, target: Entry, push: Push, payload: Payload | None) -> None:
        r = target.lane.receiver
        r.bytes -= target.size
        self._unref(target.payload)
        self._ref(payload)
        target.payload = payload
        if push.method != "PATCH":
            target.method = push.method  # a PATCH merged into a PUT stays a PUT
        self.bytes += push.base_bytes - target.push.base_bytes  # correlation ids differ in length
        target.push = push
        r.bytes += target.size

    def _ref(self, payload: Payload | None) -> None:
        if payload is not None:
            if payload.refs == 0:
                self.bytes += len(payload.data)
            payload.refs += 1

    def _unref(self, payload: Payload | None) -> None:
        if payload is not None:
            payload.refs -= 1
            if payload.refs == 0:
                self.bytes -= len(payload.data)

    def _give_turn(self, r: _Receiver) -> None:
        if not r.turn and r.ready and r.in_flight < self.limits.receiver_concurrency:
            r.turn = True
            self._turns.append(r)

    # -- delivery -------------------------------------------------------------------------
    def take(self, now: float) -> Entry | None:
        """The next entry to deliver (receivers in turn), now in flight; None when nothing may go now.
        Entries found expired on the way are moved to ``expired_on_take``."""
        cutoff = now - self.limits.max_age
        turns = self._turns
        while turns:
            r = turns.popleft()
            r.turn = False
            entry = self._next_of(r, cutoff)
            if entry is not None:
                self._give_turn(r)
                return entry
            self._forget_if_idle(r)
        return None

    def _next_of(self, r: _Receiver, cutoff: float) -> Entry | None:
        ready = r.ready
        while ready:
            lane = ready.popleft()
            lane.ready = False
            while lane.head is not None and lane.head.since < cutoff:
                expired = lane.head
                lane.unlink(expired)
                self._release(expired)
                self.expired_on_take.append(expired)
            entry = lane.head
            if entry is None:
                del r.lanes[lane.key]
                continue
            lane.unlink(entry)
            entry.state = IN_FLIGHT
            lane.busy = True
            r.in_flight += 1
            return entry
        return None

    def done(self, entry: Entry) -> None:
        """``entry`` is delivered (or failed): its lane may hand out the next one."""
        lane = entry.lane
        r = lane.receiver
        lane.busy = False
        r.in_flight -= 1
        self._release(entry)
        if lane.head is not None:
            lane.ready = True
            r.ready.append(lane)
        else:
            del r.lanes[lane.key]
        self._give_turn(r)
        self._forget_if_idle(r)

    def requeue(self, entry: Entry) -> None:
        """An entry taken but not delivered (its worker was stopped): first in its lane again."""
        lane = entry.lane
        r = lane.receiver
        lane.busy = False
        r.in_flight -= 1
        entry.state = QUEUED
        lane.push_front(entry)
        if not lane.ready:
            lane.ready = True
            r.ready.append(lane)
        self._give_turn(r)

    def _release(self, entry: Entry) -> None:
        r = entry.lane.receiver
        r.entries -= 1
        r.bytes -= entry.size
        self.entries -= 1
        self.bytes -= entry.push.base_bytes
        self._unref(entry.payload)
        entry.state = DONE

    def _forget_if_idle(self, r: _Receiver) -> None:
        if not r.lanes and not r.in_flight and self._receivers.get(r.key) is r:
            del self._receivers[r.key]

    # -- expiry, age, shutdown -----------------------------------------------------------------
    def expire(self, now: float) -> list[Entry]:
        """Drop every waiting entry older than ``max_age`` and return them (oldest first)."""
        cutoff = now - self.limits.max_age
        fifo = self._fifo
        out: list[Entry] = []
        while fifo:
            entry = fifo[0]
            if entry.state != QUEUED:
                fifo.popleft()
                continue
            if entry.since >= cutoff:
                break
            fifo.popleft()
            # The oldest waiting entry in queue order is the first of its lane (lanes keep queue order)
            # but for a requeue at shutdown; unlinking works wherever it is.
            entry.lane.unlink(entry)
            self._release(entry)
            out.append(entry)
        return out

    def oldest_since(self) -> float | None:
        """When the push carried by the longest-waiting entry was accepted (None: nothing waits)."""
        fifo = self._fifo
        while fifo and fifo[0].state != QUEUED:
            fifo.popleft()
        return fifo[0].since if fifo else None

    def drain(self) -> list[Entry]:
        """Every waiting entry, receiver by receiver and lane by lane in delivery order, taken out of
        the backlog (in-flight entries stay). Linear in the size of the backlog."""
        out: list[Entry] = []
        for r in list(self._receivers.values()):
            for lane in list(r.lanes.values()):
                while (entry := lane.head) is not None:
                    lane.unlink(entry)
                    self._release(entry)
                    out.append(entry)
                lane.ready = False
                if not lane.busy:
                    del r.lanes[lane.key]
            r.ready.clear()
            self._forget_if_idle(r)
        self._fifo.clear()
        return out


def _combine(entry: Entry, push: Push) -> tuple[Entry | None, Payload | None]:
    """Whether ``push`` can supersede the waiting ``entry`` on the same path, and with which body."""
    new, old = push.method, entry.method
    if new == "POST" or old == "POST":
        return None, None
    if new != "PATCH":
        return entry, push.payload  # PUT or DELETE: the newest state replaces whatever waited
    if old == "DELETE" or entry.payload is None:
        return None, None
    fields = push.doc()
    if fields is None:
        return None, None
    cached = push._merged.get(id(entry.payload))
    if cached is not None:
        return entry, cached
    before = _object(entry.payload)
    if before is None:
        return None, None
    if fields.keys() >= before.keys():
        merged = push.payload  # the PATCH names every field that waited: it is the merge, shared
    else:
        merged = Payload(_encode(before | fields))
    assert merged is not None
    push._merged[id(entry.payload)] = merged
    return entry, merged
