"""Views of the registry's parties for the hub's own readers: hubclientinfo's order, an index by
``last_updated``, and counts by status and role for the metrics.

They belong to a snapshot and are kept up to date by each change (a chunk of each sorted sequence per
changed party, see :meth:`PartyViews.changed`), so that neither a ``GET hubclientinfo`` nor a scrape
walks or sorts every party of the registry.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from partners.chunked import Chunked

if TYPE_CHECKING:
    from partners.registry import Party, Platform

OrderKey = tuple[str, str, str]
TimeKey = tuple[str, str, str, str]


def order_key(party: Party) -> OrderKey:
    """hubclientinfo's order: by country code, party id, role."""
    return (party.country_code, party.party_id, party.role)


def time_key(party: Party) -> TimeKey:
    return (party.last_updated, party.country_code, party.party_id, party.role)


def bound(moment: datetime.datetime) -> str:
    """``moment`` as ``last_updated`` is written (UTC, whole seconds), rounded up to the next second: a
    ``last_updated`` (whole seconds) is before ``moment`` exactly when its text sorts before this."""
    utc = moment.astimezone(datetime.UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + datetime.timedelta(seconds=1)
    return (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z")


class PartyViews:
    """``order`` (every party in hubclientinfo's order), ``by_time`` (by ``last_updated``), and counts of
    platforms by status and of parties by (role, status). Never changed in place once in use."""

    __slots__ = ("by_time", "order", "parties_by_role_status", "platforms_by_status")

    def __init__(self, order: Chunked[Party], by_time: Chunked[Party], platforms_by_status: dict[str, int],
                 parties_by_role_status: dict[tuple[str, str], int]) -> None:
        self.order = order
        self.by_time = by_time
        self.platforms_by_status = platforms_by_status
        self.parties_by_role_status = parties_by_role_status

    @classmethod
    def build(cls, platforms: Iterable[Platform]) -> PartyViews:
        parties: list[Party] = []
        by_status: dict[str, int] = {}
        by_role_status: dict[tuple[str, str], int] = {}
        for platform in platforms:
            _count(by_status, by_role_status, platform, 1)
            parties.extend(platform.parties)
        return cls(Chunked.build(parties, order_key), Chunked.build(parties, time_key), by_status, by_role_status)

    def changed(self, pairs: Sequence[tuple[Platform | None, Platform | None]]) -> PartyViews:
        """The views after each ``(before, after)`` platform pair (None: absent on that side)."""
        by_status = dict(self.platforms_by_status)
        by_role_status = dict(self.parties_by_role_status)
        gone: list[Party] = []
        came: list[Party] = []
        for before, after in pairs:
            if before is not None:
                _count(by_status, by_role_status, before, -1)
            if after is not None:
                _count(by_status, by_role_status, after, 1)
            old = before.parties if before is not None else ()
            new = after.parties if after is not None else ()
            if old is not new and old != new:
                gone.extend(old)
                came.extend(new)
        if not gone and not came:
            return PartyViews(self.order, self.by_time, by_status, by_role_status)
        return PartyViews(self.order.changed(gone, came), self.by_time.changed(gone, came), by_status, by_role_status)

    def page(self, since: str | None, until: str | None, offset: int, limit: int) -> tuple[int, list[Party]]:
        """How many parties have ``since <= last_updated < until`` (texts from :func:`bound`; None: no
        bound; a party without ``last_updated`` always counts), and those from ``offset`` on, at most
        ``limit``, in hubclientinfo's order."""
        order = self.order
        if since is None and until is None:
            return len(order), order.slice(offset, offset + limit)
        times = self.by_time
        undated = times.rank(("\x00",))  # "" sorts before any date
        low = max(undated, times.rank((since,))) if since is not None else undated
        high = max(low, times.rank((until,)) if until is not None else len(times))
        total = undated + high - low
        if limit <= 0 or offset >= total:
            return total, []
        wanted = offset + limit
        # Two ways to the page: sort the matches (total * log total), or walk the whole order skipping
        # what does not match until the page is full (about wanted * parties / total). The cheaper one.
        if total * math.log2(total + 1) <= wanted * len(order) / total:
            matched = sorted([*times.slice(0, undated), *times.slice(low, high)], key=order_key)
            return total, matched[offset:wanted]
        found: list[Party] = []
        skip = offset
        for party in order:
            updated = party.last_updated
            if updated and ((since is not None and updated < since) or (until is not None and updated >= until)):
                continue
            if skip:
                skip -= 1
                continue
            found.append(party)
            if len(found) == limit:
                break
        return total, found


def _count(by_status: dict[str, int], by_role_status: dict[tuple[str, str], int], platform: Platform,
           sign: int) -> None:
    status = platform.status.value
    _add(by_status, status, sign)
    for party in platform.parties:
        _add(by_role_status, (party.role.value, status), sign)


K = TypeVar("K")


def _add(counts: dict[K, int], key: K, sign: int) -> None:
    total = counts.get(key, 0) + sign
    if total:
        counts[key] = total
    else:
        counts.pop(key, None)  # a count of 0 is no series, as in a snapshot built whole
