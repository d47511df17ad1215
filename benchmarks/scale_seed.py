"""Registries of 100,000 parties for the scale benchmark, written in bulk (COPY), then changed the way
an operator's hub changes all day (:class:`Churn`).

Every scale platform is a registered, CONNECTED platform with one party (CPOs and eMSPs in turn), 12
module endpoints on the benchmark's loopback upstream, a sealed outbound token and a token hash; each
CPO has an agreement with the eMSP after it. The benchmark's own callers (``benchmarks.seed``) come
on top. Bulk SQL lives here, not in ``partners/``: it is a benchmark fixture, not something the hub does.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import random
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec
import orjson

from benchmarks.seed import _endpoints, _role, _sealed
from partners import agreements, agreements_store, store
from partners.model import ConnectionStatus, Role
from partners.tokens import hash_token
from routing.modules import EMSP_SIDE, ROUTED_MODULES

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_REGISTERED = itertools.count(1)  # numbers the churn's own parties (YA001, YA002, ...), for every Churn


def party_key(n: int) -> tuple[str, str]:
    """The n-th scale party: ``Z?`` country codes, so they never meet the benchmark's own parties."""
    rest = n % 46656
    return ("Z" + chr(65 + n // 46656), _DIGITS[rest // 1296] + _DIGITS[rest // 36 % 36] + _DIGITS[rest % 36])


def role_of(n: int) -> Role:
    return Role.CPO if n % 2 == 0 else Role.EMSP


async def scale_parties(conn: Any) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM parties WHERE country_code LIKE 'Z%'"))


async def grow(dsn: str, upstream_base: str, total: int, chunk: int = 20_000) -> int:
    """Add scale platforms (one party each) until there are ``total`` scale parties, with an agreement
    for each new CPO; returns how many were added."""
    conn = await asyncpg.connect(dsn)
    try:
        start = await scale_parties(conn)
        endpoints = orjson.dumps([msgspec.to_builtins(e) for e in _endpoints(upstream_base)]).decode()
        for first in range(start, total, chunk):
            numbers = range(first, min(total, first + chunk))
            ids = [r[0] for r in await conn.fetch(
                "SELECT nextval('platforms_id_seq') FROM generate_series(1, $1)", len(numbers))]
            await conn.copy_records_to_table(
                "platforms", columns=["id", "name", "status", "token_hash", "outbound_token", "versions_url",
                                      "version", "endpoints"],
                records=[(i, f"scale-{n}", "CONNECTED", hash_token(f"scale-{n}"), _sealed(f"out-{n}", i),
                          f"{upstream_base}/versions", "2.2.1", endpoints) for i, n in zip(ids, numbers, strict=True)])
            await conn.copy_records_to_table(
                "parties", columns=["platform_id", "country_code", "party_id", "role", "business_details"],
                records=[(i, *party_key(n), role_of(n).value, f'{{"name": "Scale {n}"}}')
                         for i, n in zip(ids, numbers, strict=True)])
            await conn.copy_records_to_table(
                "agreements", columns=["cpo_country_code", "cpo_party_id", "emsp_country_code", "emsp_party_id"],
                records=[(*party_key(n), *party_key(n + 1)) for n in numbers if role_of(n) is Role.CPO])
        await store.notify(conn)  # a running hub re-checks everything (not used: the benchmark restarts it)
        return max(0, total - start)
    finally:
        await conn.close()


async def platform_ids(dsn: str, keys: list[tuple[str, str]]) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        return [int(await conn.fetchval("SELECT platform_id FROM parties WHERE country_code = $1 AND party_id = $2",
                                        *key)) for key in keys]
    finally:
        await conn.close()


async def agree(dsn: str, cpo: tuple[str, str], emsp: tuple[str, str]) -> None:
    """One agreement through the store, as the admin API writes it."""
    pool = await store.create_pool(dsn)
    try:
        now = datetime.datetime.now(datetime.UTC)
        candidates = [agreements.Candidate(cpo=cpo, emsp=emsp, modules=None, valid_from=now, valid_until=None)]

        def check(roles: dict[tuple[str, str], frozenset[Role]], existing: list[agreements.Existing]
                  ) -> list[agreements.Problem]:
            return agreements.check(candidates, roles_of=roles, existing=existing, modules=frozenset(ROUTED_MODULES),
                                    emsp_roles=EMSP_SIDE, now=now)

        await agreements_store.create(pool, candidates, check)
    finally:
        await pool.close()


@dataclass
class Churn:
    """Changes a running registry ``per_second`` times a second, in turn: a new platform registered
    (through the store, as a handshake ends), a platform suspended or unsuspended (admin API), a
    platform's connection status flipped (through the store, as a still-alive check does), an agreement
    suspended or resumed (admin API). Targets are random scale platforms, never the measured callers."""

    dsn: str
    admin_url: str
    admin_token: str
    upstream_base: str
    scale_size: int
    per_second: float = 10.0
    seed: int = 14
    seconds: list[float] = field(default_factory=list)  # how long each change took to answer
    kinds: dict[str, int] = field(default_factory=dict)

    async def run(self, duration: float) -> None:
        rng = random.Random(self.seed)
        pool = await store.create_pool(self.dsn, max_size=2)
        try:
            started = time.perf_counter()
            suspended: set[int] = set()
            done = 0
            while time.perf_counter() - started < duration:
                kind = ("register", "suspension", "status", "agreement")[done % 4]
                began = time.perf_counter()
                await getattr(self, f"_{kind}")(pool, rng, suspended)
                self.seconds.append(time.perf_counter() - began)
                self.kinds[kind] = self.kinds.get(kind, 0) + 1
                done += 1
                await asyncio.sleep(max(0.0, started + done / self.per_second - time.perf_counter()))
        finally:
            await pool.close()

    async def _platform(self, pool: store.Pool, rng: random.Random) -> int:
        key = party_key(rng.randrange(self.scale_size))
        async with pool.acquire() as conn:
            platform_id: int = await conn.fetchval(
                "SELECT platform_id FROM parties WHERE country_code = $1 AND party_id = $2", *key)
        return platform_id

    async def _register(self, pool: store.Pool, rng: random.Random, _: set[int]) -> None:
        n = next(_REGISTERED)
        cc, pid = "Y" + chr(65 + n // 46656 % 26), _DIGITS[n // 1296 % 36] + _DIGITS[n // 36 % 36] + _DIGITS[n % 36]
        platform_id = await store.create_platform(pool, name=f"churn-{cc}{pid}", token_hash=hash_token(f"a-{n}"))
        await store.register_platform(
            pool, platform_id, token_hash=hash_token(f"churn-{n}"), outbound_token=_sealed(f"out-{n}", platform_id),
            versions_url=f"{self.upstream_base}/versions", version="2.2.1", endpoints=_endpoints(self.upstream_base),
            roles=[_role(Role.EMSP, cc, pid)])

    async def _suspension(self, pool: store.Pool, rng: random.Random, suspended: set[int]) -> None:
        if suspended and rng.random() < 0.5:
            platform_id, action = suspended.pop(), "unsuspend"
        else:
            platform_id, action = await self._platform(pool, rng), "suspend"
            suspended.add(platform_id)
        await asyncio.to_thread(self._admin, f"/admin/platforms/{platform_id}/{action}")

    async def _status(self, pool: store.Pool, rng: random.Random, _: set[int]) -> None:
        status = rng.choice([ConnectionStatus.OFFLINE, ConnectionStatus.CONNECTED])
        await store.set_status(pool, await self._platform(pool, rng), status)

    async def _agreement(self, pool: store.Pool, rng: random.Random, _: set[int]) -> None:
        n = rng.randrange(0, self.scale_size - 1, 2)
        async with pool.acquire() as conn:
            row = await conn.fetchrow("SELECT id, status FROM agreements WHERE cpo_country_code = $1"
                                      " AND cpo_party_id = $2 AND status <> 'ended' LIMIT 1", *party_key(n))
        if row is not None:
            action = "unsuspend" if row["status"] == "suspended" else "suspend"
            await asyncio.to_thread(self._admin, f"/admin/agreements/{row['id']}/{action}")

    def _admin(self, path: str) -> None:
        request = urllib.request.Request(self.admin_url + path, method="POST", data=b"",
                                         headers={"Authorization": f"Bearer {self.admin_token}"})
        with urllib.request.urlopen(request, timeout=30) as r:
            r.read()
