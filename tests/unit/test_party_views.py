"""hubclientinfo's pages from the snapshot's party views equal filtering and sorting every party (what
the endpoint did per request before), for either way the views take to a page; date bounds as text
compare as the dates do."""

from __future__ import annotations

import datetime
import random

import pytest

from partners.model import ConnectionStatus, Role
from partners.party_views import PartyViews, bound, order_key
from partners.registry import Party, Platform

STAMPS = ["", "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z", "2024-03-05T12:00:00Z", "2025-07-01T08:30:00Z"]


def views(count: int, seed: int) -> tuple[PartyViews, list[Party]]:
    rng = random.Random(seed)
    parties = {}
    while len(parties) < count:
        party = Party(country_code=rng.choice(["NL", "DE", "BE"]), party_id=f"{rng.randrange(200):03d}",
                      role=rng.choice([Role.CPO, Role.EMSP]), platform_id=1, last_updated=rng.choice(STAMPS))
        parties[order_key(party)] = party
    found = list(parties.values())
    platform = Platform(id=1, name="p", status=ConnectionStatus.CONNECTED, registered=True, versions_url=None,
                        version=None, endpoints={}, parties=tuple(found))
    return PartyViews.build([platform]), found


def when(text: str | None) -> datetime.datetime | None:
    return None if text is None else datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def naive(parties: list[Party], since: datetime.datetime | None, until: datetime.datetime | None, offset: int,
          limit: int) -> tuple[int, list[Party]]:
    found = []
    for party in sorted(parties, key=lambda p: (p.key, p.role)):
        updated = when(party.last_updated) if party.last_updated else None
        if (since and updated and updated < since) or (until and updated and updated >= until):
            continue
        found.append(party)
    return len(found), found[offset:offset + limit]


BOUNDS = [None, "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z", "2024-02-01T00:00:00+01:00",
          "2025-07-01T08:30:00Z", "1999-01-01T00:00:00Z", "2999-01-01T00:00:00Z"]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("count", [1, 40, 400])
def test_pages_equal_filtering_and_sorting_every_party(seed: int, count: int) -> None:
    rng = random.Random(seed)
    built, parties = views(count, seed)
    for _ in range(60):
        since, until = when(rng.choice(BOUNDS)), when(rng.choice(BOUNDS))
        offset, limit = rng.choice([0, 0, 3, 50, count]), rng.choice([1, 10, 100, 1000])
        got = built.page(bound(since) if since else None, bound(until) if until else None, offset, limit)
        assert got == naive(parties, since, until, offset, limit), (since, until, offset, limit)


@pytest.mark.parametrize(("moment", "text"), [
    ("2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00Z"),
    ("2024-01-01T00:00:00.000001+00:00", "2024-01-01T00:00:01Z"),
    ("2024-01-01T01:00:00+01:00", "2024-01-01T00:00:00Z"),
    ("2024-12-31T23:59:59.9+00:00", "2025-01-01T00:00:00Z"),
])
def test_bound_is_the_first_whole_second_not_before_the_moment(moment: str, text: str) -> None:
    assert bound(datetime.datetime.fromisoformat(moment)) == text
