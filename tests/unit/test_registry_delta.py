"""Registry changes applied as deltas equal a snapshot built whole from the same rows, whatever the
sequence of changes (random sequences, one family per kind of change, seeded so that a failure
replays); the snapshot a delta started from is left as it was; the safety net finds exactly the rows
a lost notification would have announced."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from partners import chunked, delta
from partners.model import ConnectionStatus, Role
from partners.registry import AgreementRow, PartyRow, PlatformRow, Snapshot, build_snapshot
from partners.tokens import hash_token

ROLES = (Role.CPO, Role.EMSP, Role.NSP, Role.OTHER)
STAMPS = ("2024-05-01T10:00:00Z", "2024-05-01T10:00:01Z", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z")
MODULES = (["locations"], ["sessions", "cdrs"], None)


@dataclass
class Database:
    """The store's rows, as a model: each write bumps the version of the rows it touches, as PostgreSQL
    gives a written row a new xmin."""

    rng: random.Random
    platforms: dict[int, PlatformRow] = field(default_factory=dict)
    parties: dict[int, list[tuple[int, PartyRow]]] = field(default_factory=dict)  # platform -> (row id, row)
    agreements: dict[int, AgreementRow] = field(default_factory=dict)
    next_id: int = 1
    version: int = 1

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _bump(self, platform_id: int) -> None:
        self.version += 1
        self.platforms[platform_id].row_version = self.version

    def _taken(self) -> set[tuple[str, str, Role]]:
        return {(r.country_code, r.party_id, r.role) for rows in self.parties.values() for _, r in rows}

    def _new_party(self, platform_id: int) -> PartyRow | None:
        for _ in range(20):
            key = (self.rng.choice("ABC") + self.rng.choice("DE"), self.rng.choice(["X01", "X02", "Y01", "Z99"]),
                   self.rng.choice(ROLES))
            if key not in self._taken():
                return PartyRow(platform_id=platform_id, country_code=key[0], party_id=key[1], role=key[2],
                                business_name=self.rng.choice(["", "Acme"]), last_updated=self.rng.choice(STAMPS))
        return None

    def _some_platform(self) -> int | None:
        return self.rng.choice(sorted(self.platforms)) if self.platforms else None

    def rows(self) -> tuple[list[PlatformRow], list[PartyRow], list[AgreementRow]]:
        parties = sorted((row_id, row) for rows in self.parties.values() for row_id, row in rows)
        return ([self.platforms[k] for k in sorted(self.platforms)], [r for _, r in parties],
                [a for _, a in sorted(self.agreements.items()) if a.in_force])

    def changed(self, platform_ids: set[int], agreement_ids: set[int]
                ) -> tuple[dict[int, delta.PlatformChange], dict[int, AgreementRow | None]]:
        """What ``store.load_changed`` returns for these ids, shaped as the sync hands it to ``delta.apply``."""
        platforms: dict[int, delta.PlatformChange] = {
            i: (copy.copy(self.platforms[i]), [r for _, r in sorted(self.parties.get(i, []))])
            if i in self.platforms else None for i in platform_ids}
        return platforms, {i: copy.copy(self.agreements.get(i)) for i in agreement_ids}

    # -- writes, each returning (platform ids, agreement ids) as its NOTIFY names them ------------------
    def create(self) -> tuple[set[int], set[int]]:
        platform_id = self._id()
        self.platforms[platform_id] = PlatformRow(
            id=platform_id, name=f"p{platform_id}", status=ConnectionStatus.PLANNED,
            token_hash=hash_token(f"a{platform_id}"), outbound_token=None, versions_url=None, version=None,
            endpoints=[])
        self._bump(platform_id)
        return {platform_id}, set()

    def register(self) -> tuple[set[int], set[int]]:
        platform_id = self._some_platform()
        if platform_id is None:
            return self.create()
        row = self.platforms[platform_id]
        row.status = ConnectionStatus.CONNECTED
        row.token_hash = hash_token(f"c{platform_id}-{self.version}")
        row.outbound_token = f"out-{self.version}"
        row.versions_url, row.version = f"http://p{platform_id}/versions", "2.2.1"
        row.endpoints = [{"identifier": m, "role": r, "url": f"http://p{platform_id}/{m}/{r}"}
                         for m in self.rng.sample(["locations", "sessions", "hubclientinfo", "cdrs"], 2)
                         for r in ("SENDER", "RECEIVER")]
        kept = [p for p in self.parties.get(platform_id, []) if self.rng.random() < 0.5]
        self.parties[platform_id] = kept
        for _ in range(self.rng.randint(1, 3)):
            party = self._new_party(platform_id)
            if party is not None:
                self.parties[platform_id].append((self._id(), party))
        self._bump(platform_id)
        return {platform_id}, set()

    def take_over(self) -> tuple[set[int], set[int]]:
        """A registration that takes a party from another platform (both are named)."""
        holders = [i for i, rows in self.parties.items() if rows]
        if len(self.platforms) < 2 or not holders:
            return self.register()
        loser = self.rng.choice(holders)
        winner = self.rng.choice([i for i in self.platforms if i != loser])
        moved = self.parties[loser].pop(self.rng.randrange(len(self.parties[loser])))[1]
        moved.platform_id = winner
        self.parties.setdefault(winner, []).append((self._id(), moved))
        self._bump(loser)
        self._bump(winner)
        return {loser, winner}, set()

    def _flag(self, change: Callable[[PlatformRow], None], touch_parties: bool = True) -> tuple[set[int], set[int]]:
        platform_id = self._some_platform()
        if platform_id is None:
            return self.create()
        change(self.platforms[platform_id])
        if touch_parties:  # the store stamps the parties' last_updated with such a change
            stamp = self.rng.choice(STAMPS)
            for _, party in self.parties.get(platform_id, []):
                party.last_updated = stamp
        self._bump(platform_id)
        return {platform_id}, set()

    def status(self) -> tuple[set[int], set[int]]:
        statuses = (ConnectionStatus.CONNECTED, ConnectionStatus.OFFLINE)
        return self._flag(lambda row: setattr(row, "status", self.rng.choice(statuses)))

    def suspend(self) -> tuple[set[int], set[int]]:
        return self._flag(lambda row: setattr(row, "suspended", not row.suspended))

    def token(self) -> tuple[set[int], set[int]]:
        tokens = [None, hash_token(str(self.version))]
        return self._flag(lambda row: setattr(row, "token_hash", self.rng.choice(tokens)), touch_parties=False)

    def rotate(self) -> tuple[set[int], set[int]]:
        """A credentials update: the token before it stays accepted for a while, or ends."""
        def change(row: PlatformRow) -> None:
            if row.previous_token_hash is not None and self.rng.random() < 0.5:
                row.previous_token_hash, row.previous_token_until = None, None
            else:
                row.previous_token_hash, row.previous_token_until = row.token_hash, 9e9
                row.token_hash = hash_token(f"rotated-{self.version}")
        return self._flag(change, touch_parties=False)

    def settings(self) -> tuple[set[int], set[int]]:
        return self._flag(lambda row: setattr(row, "settings", self.rng.choice([{}, {"rate_limit": 5.0}])),
                          touch_parties=False)

    def unregister(self) -> tuple[set[int], set[int]]:
        def change(row: PlatformRow) -> None:
            row.status, row.token_hash, row.outbound_token = ConnectionStatus.SUSPENDED, None, None
        return self._flag(change)

    def planned(self) -> tuple[set[int], set[int]]:
        platform_id = self._some_platform()
        if platform_id is None:
            return self.create()
        party = self._new_party(platform_id)
        if party is not None:
            self.parties.setdefault(platform_id, []).append((self._id(), party))
        self._bump(platform_id)
        return {platform_id}, set()

    def delete(self) -> tuple[set[int], set[int]]:
        platform_id = self._some_platform()
        if platform_id is None:
            return self.create()
        del self.platforms[platform_id]
        self.parties.pop(platform_id, None)
        return {platform_id}, set()

    def agreement(self) -> tuple[set[int], set[int]]:
        agreement_id = self._id()
        cpo = (self.rng.choice(["AD", "BE"]), self.rng.choice(["X01", "X02"]))
        emsp = (self.rng.choice(["CD", "BE"]), self.rng.choice(["Y01", "Z99"]))
        self.version += 1
        self.agreements[agreement_id] = AgreementRow(
            id=agreement_id, cpo_country_code=cpo[0], cpo_party_id=cpo[1], emsp_country_code=emsp[0],
            emsp_party_id=emsp[1], modules=self.rng.choice(MODULES), valid_from=1.0,
            valid_until=self.rng.choice([None, 9e9]), row_version=self.version)
        return set(), {agreement_id}

    def agreement_status(self) -> tuple[set[int], set[int]]:
        """Suspend, resume, end, or pass its end by the clock: the row says whether it is in force."""
        if not self.agreements:
            return self.agreement()
        agreement_id = self.rng.choice(sorted(self.agreements))
        row = self.agreements[agreement_id]
        self.version += 1
        row.in_force, row.row_version = not row.in_force, self.version
        return set(), {agreement_id}


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of a few parties, so that the party views split and empty chunks in these small registries."""
    monkeypatch.setattr(chunked, "LOAD", 2)


KINDS = ("create", "register", "take_over", "status", "suspend", "token", "rotate", "settings", "unregister",
         "planned", "delete", "agreement", "agreement_status")


def content(snapshot: Snapshot) -> tuple[object, ...]:
    views = snapshot.views
    return (snapshot.platforms, snapshot.by_token_hash, snapshot.by_previous_token, snapshot.by_party,
            snapshot.agreements, views.order, views.by_time, views.platforms_by_status, views.parties_by_role_status)


def rebuilt(db: Database) -> Snapshot:
    return build_snapshot(*copy.deepcopy(db.rows()))


def seeded(seed: int, size: int = 12) -> tuple[Database, Snapshot]:
    db = Database(random.Random(seed))
    for _ in range(size):
        db.create()
        db.register()
        db.agreement()
    return db, rebuilt(db)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(6))
def test_deltas_of_one_kind_equal_a_full_rebuild(kind: str, seed: int) -> None:
    db, snapshot = seeded(seed)
    for step in range(25):
        # Mostly this kind, with others in between so that it meets every state.
        name = kind if step % 3 else db.rng.choice(KINDS)
        before, as_it_was = snapshot, content(rebuilt(db))
        platform_ids, agreement_ids = getattr(db, name)()
        snapshot, changed = delta.run(delta.apply(snapshot, *db.changed(platform_ids, agreement_ids)))
        assert content(snapshot) == content(rebuilt(db)), f"{name} at step {step}"
        assert content(before) == as_it_was, "the snapshot in use was changed in place"
        assert changed <= platform_ids


@pytest.mark.parametrize("seed", range(20))
def test_batches_of_mixed_changes_equal_a_full_rebuild(seed: int) -> None:
    """Notifications that arrive together are applied as one batch: ids named twice, changes that undo
    each other, a platform created and deleted before its batch."""
    db, snapshot = seeded(100 + seed)
    for _ in range(10):
        platform_ids: set[int] = set()
        agreement_ids: set[int] = set()
        for _ in range(db.rng.randint(1, 6)):
            more_platforms, more_agreements = getattr(db, db.rng.choice(KINDS))()
            platform_ids |= more_platforms
            agreement_ids |= more_agreements
        snapshot, _ = delta.run(delta.apply(snapshot, *db.changed(platform_ids, agreement_ids)))
        assert content(snapshot) == content(rebuilt(db))


@pytest.mark.parametrize("seed", range(10))
def test_safety_net_finds_exactly_what_lost_notifications_named(seed: int) -> None:
    db, snapshot = seeded(200 + seed)
    announced_platforms: set[int] = set()
    announced_agreements: set[int] = set()
    for _ in range(8):  # none of these is applied: their notifications were lost
        platform_ids, agreement_ids = getattr(db, db.rng.choice(KINDS))()
        announced_platforms |= platform_ids
        announced_agreements |= agreement_ids
    platform_rows, _, agreement_rows = db.rows()
    found_platforms, found_agreements = delta.run(delta.differences(
        snapshot, [(r.id, r.row_version) for r in platform_rows], [(r.id, r.row_version) for r in agreement_rows]))
    # Exactly the rows whose version moved (a write that changed nothing still moves it), never others.
    assert found_platforms <= announced_platforms
    assert found_agreements <= announced_agreements
    expected = {i for i in announced_platforms
                if (i in db.platforms) != (i in snapshot.platforms)
                or (i in db.platforms and db.platforms[i].row_version != snapshot.platforms[i].row_version)}
    assert found_platforms == expected
    repaired, _ = delta.run(delta.apply(snapshot, *db.changed(found_platforms, found_agreements)))
    assert content(repaired) == content(rebuilt(db))


def test_a_status_change_shares_every_untouched_part() -> None:
    db, snapshot = seeded(7)
    platform_id = next(i for i, rows in db.parties.items() if rows)
    db.platforms[platform_id].status = ConnectionStatus.OFFLINE
    db._bump(platform_id)  # a change that leaves the parties as they were
    after, changed = delta.run(delta.apply(snapshot, *db.changed({platform_id}, set())))
    assert changed == {platform_id}
    assert after.platforms is not snapshot.platforms
    assert after.by_token_hash is snapshot.by_token_hash and after.by_party is snapshot.by_party
    assert after.agreements is snapshot.agreements and after.views.order is snapshot.views.order
    assert after.platforms[platform_id].parties is snapshot.platforms[platform_id].parties
    assert content(after) == content(rebuilt(db))


def test_rereading_an_unchanged_platform_makes_no_new_snapshot_entry() -> None:
    db, snapshot = seeded(8)
    platform_id = next(iter(db.platforms))
    after, changed = delta.run(delta.apply(snapshot, *db.changed({platform_id}, set())))
    assert changed == frozenset() and after.platforms[platform_id] is snapshot.platforms[platform_id]


def test_headers_learnt_before_a_change_still_authenticate_after_it() -> None:
    db, snapshot = seeded(9)
    platform_id, row = next((i, r) for i, r in db.platforms.items() if r.token_hash is not None)
    token = "the platform's token"
    row.token_hash = hash_token(token)
    db._bump(platform_id)
    snapshot, _ = delta.run(delta.apply(snapshot, *db.changed({platform_id}, set())))
    header = b"Token " + token.encode()
    assert snapshot.platform_for_header(header) is snapshot.platforms[platform_id]
    db.platforms[platform_id].status = ConnectionStatus.OFFLINE
    db._bump(platform_id)
    after, _ = delta.run(delta.apply(snapshot, *db.changed({platform_id}, set())))
    assert after.platform_for_header(header) is after.platforms[platform_id]  # the new entry, not the cached one
    assert after.platforms[platform_id].status is ConnectionStatus.OFFLINE
    db.platforms[platform_id].token_hash = hash_token("another token")
    db._bump(platform_id)
    replaced, _ = delta.run(delta.apply(after, *db.changed({platform_id}, set())))
    assert replaced.platform_for_header(header) is None, "a replaced token stops working at once"
    assert after.platform_for_header(header) is after.platforms[platform_id], "requests on the old snapshot"
