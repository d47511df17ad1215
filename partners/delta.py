"""Registry changes proportional to what changed: the next snapshot from the previous one and the rows
that changed, and (for the safety net) which rows differ between the database and a snapshot.

Both are pure generators: they yield between slices of work, so that a caller on the event loop can
let requests run in between (``partners.pacing``), and return their result; :func:`run` drives one
to its end at once. Applying a change rebuilds only the changed entries; the snapshot's maps
(``immutables.Map``) and sorted views (``partners.chunked``) share everything else with the previous
snapshot, which stays valid, unchanged, for the requests still using it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from typing import TypeVar

from immutables import Map

from partners.registry import (
    Agreement,
    AgreementKey,
    AgreementRow,
    Party,
    PartyKey,
    PartyRow,
    Platform,
    PlatformRow,
    Snapshot,
    by_id,
    by_platform,
    make_agreement,
    make_party,
    make_platform,
)

T = TypeVar("T")
Steps = Generator[None, None, T]
PlatformChange = tuple[PlatformRow, Sequence[PartyRow]] | None
"""A platform's row and its parties' rows (in row order) as the database has them now; None: gone."""

# Yield after this many platforms made (each some 10-20 microseconds), or entries compared.
_STEP = 50
_COMPARE_STEP = 1000


def run(steps: Steps[T]) -> T:
    """Drive ``steps`` to its end without yielding to anyone (tests, and the first build)."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def apply(snapshot: Snapshot, platforms: Mapping[int, PlatformChange],
          agreements: Mapping[int, AgreementRow | None]) -> Steps[tuple[Snapshot, frozenset[int]]]:
    """The snapshot with these platforms and agreements as the database has them now (an agreement
    whose row says it is not in force, or None for a row that is gone, leaves the snapshot), and the
    ids of the platforms whose entry changed. Equal to a snapshot built whole from the same rows."""
    pairs: list[tuple[Platform | None, Platform | None]] = []
    changed: set[int] = set()
    for made, (platform_id, change) in enumerate(platforms.items(), 1):
        before = snapshot.platforms.get(platform_id)
        after = None if change is None else _platform(before, *change)
        if after is not before:
            pairs.append((before, after))
            changed.add(platform_id)
        if made % _STEP == 0:
            yield
    views = snapshot.views
    new_platforms, by_token, by_party = snapshot.platforms, snapshot.by_token_hash, snapshot.by_party
    by_previous = snapshot.by_previous_token
    if pairs:
        with new_platforms.mutate() as mutation:
            for before, after in pairs:
                if after is not None:
                    mutation[after.id] = after
                elif before is not None:
                    del mutation[before.id]
            new_platforms = mutation.finish()
        by_token = _tokens(by_token, pairs, _token_hash)
        by_previous = _tokens(by_previous, pairs, _previous_token_hash)
        by_party = _parties(by_party, pairs)
        views = views.changed(pairs)
    new_agreements = snapshot.agreements
    if agreements:
        new_agreements = yield from _agreements(new_agreements, agreements)
    return (snapshot.successor(new_platforms, by_token, by_party, new_agreements, views, by_previous),
            frozenset(changed))


def _platform(before: Platform | None, row: PlatformRow, party_rows: Sequence[PartyRow]) -> Platform:
    """The new entry, or ``before`` itself when nothing in it changed; parties equal to the ones before
    stay the same objects (so a status change leaves every party view alone)."""
    parties = tuple(make_party(r) for r in party_rows)
    if before is not None and parties == before.parties:
        parties = before.parties
    after = make_platform(row, parties)
    return before if before is not None and after == before else after


def _token_hash(platform: Platform | None) -> bytes | None:
    return None if platform is None else platform.token_hash


def _previous_token_hash(platform: Platform | None) -> bytes | None:
    return None if platform is None else platform.previous_token_hash


def _tokens(by_token: Map[bytes, int], pairs: Sequence[tuple[Platform | None, Platform | None]],
            token: Callable[[Platform | None], bytes | None]) -> Map[bytes, int]:
    """``by_token`` (token hash -> platform id) with the tokens of the changed platforms moved."""
    moved = [(b, a) for b, a in pairs if token(b) != token(a)]
    if not moved:
        return by_token
    with by_token.mutate() as mutation:
        for before, _ in moved:
            old = token(before)
            if before is not None and old is not None and mutation.get(old) == before.id:
                del mutation[old]
        for _, after in moved:
            new = token(after)
            if after is not None and new is not None:
                mutation[new] = after.id
        result = mutation.finish()
    return result


def _parties(by_party: Map[PartyKey, tuple[Party, ...]], pairs: Sequence[tuple[Platform | None, Platform | None]]
             ) -> Map[PartyKey, tuple[Party, ...]]:
    moved = [(b, a) for b, a in pairs if (b.parties if b else ()) is not (a.parties if a else ())]
    if not moved:
        return by_party
    ids = {side.id for pair in moved for side in pair if side is not None}
    added: dict[PartyKey, list[Party]] = {}
    keys: set[PartyKey] = set()
    for before, after in moved:
        keys.update(p.key for p in (before.parties if before else ()))
        for party in after.parties if after else ():
            added.setdefault(party.key, []).append(party)
    keys.update(added)
    with by_party.mutate() as mutation:
        for key in keys:
            entry = by_platform([*(p for p in mutation.get(key, ()) if p.platform_id not in ids),
                                 *added.get(key, ())])
            if entry:
                mutation[key] = entry
            elif key in mutation:
                del mutation[key]
        result = mutation.finish()
    return result


def _agreements(current: Map[AgreementKey, tuple[Agreement, ...]], rows: Mapping[int, AgreementRow | None]
                ) -> Steps[Map[AgreementKey, tuple[Agreement, ...]]]:
    keys: dict[int, AgreementKey] = {}
    gone = {agreement_id for agreement_id, row in rows.items() if row is None}
    if gone:
        # A row that vanished names no pair: look for its id (the store never deletes agreements, so
        # this happens only when someone removes rows by hand).
        for seen, (pair, entry) in enumerate(current.items(), 1):
            for agreement in entry:
                if agreement.id in gone:
                    keys[agreement.id] = pair
            if seen % _COMPARE_STEP == 0:
                yield
    with current.mutate() as mutation:
        for agreement_id, row in rows.items():
            if row is not None:
                keys[agreement_id] = (row.cpo_country_code, row.cpo_party_id, row.emsp_country_code,
                                      row.emsp_party_id)
            key = keys.get(agreement_id)
            if key is None:
                continue
            kept = [a for a in mutation.get(key, ()) if a.id != agreement_id]
            if row is not None and row.in_force:
                kept.append(make_agreement(row))
            entry = by_id(kept)
            if entry:
                mutation[key] = entry
            elif key in mutation:
                del mutation[key]
        result = mutation.finish()
    return result


def differences(snapshot: Snapshot, platform_versions: Sequence[tuple[int, int]],
                agreement_versions: Sequence[tuple[int, int]]) -> Steps[tuple[set[int], set[int]]]:
    """Ids of the platforms and agreements (in force) whose version in the database differs from the
    snapshot's, or that only one side has: what the safety-net reload re-reads."""
    platforms: set[int] = set()
    present = 0
    for seen, (platform_id, version) in enumerate(platform_versions, 1):
        platform = snapshot.platforms.get(platform_id)
        if platform is None or platform.row_version != version:
            platforms.add(platform_id)
        present += platform is not None
        if seen % _COMPARE_STEP == 0:
            yield
    if present < len(snapshot.platforms):  # some are gone from the database (rare: a lost delete)
        stored = {platform_id for platform_id, _ in platform_versions}
        yield
        platforms.update(platform_id for platform_id in snapshot.platforms if platform_id not in stored)
    agreements: set[int] = set()
    versions: dict[int, int] = {}
    for start in range(0, len(agreement_versions), _COMPARE_STEP):
        versions.update(agreement_versions[start:start + _COMPARE_STEP])
        yield
    for seen, entry in enumerate(snapshot.agreements.values(), 1):
        for agreement in entry:
            if versions.pop(agreement.id, None) != agreement.row_version:
                agreements.add(agreement.id)
        if seen % _COMPARE_STEP == 0:
            yield
    agreements.update(versions)  # in the database, not in the snapshot
    return platforms, agreements
