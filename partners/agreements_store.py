"""PostgreSQL storage of roaming agreements (asyncpg): the only module with agreement SQL.

Writes run in one transaction that ends with ``pg_notify`` on the registry channel naming the
agreements written, so every replica re-reads them into its snapshot (agreements are part of it)
within a second. Agreements are never
deleted: ending one keeps it, with ``ended_at``, for audit.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from partners import store
from partners.agreements import Candidate, Existing, InvalidAgreements, Problem
from partners.model import Role
from partners.registry import PartyKey

_COLUMNS = """
id, cpo_country_code, cpo_party_id, emsp_country_code, emsp_party_id, modules, valid_from, valid_until, status,
created_at, updated_at, ended_at,
status = 'active' AND valid_from <= now() AND (valid_until IS NULL OR valid_until > now()) AS in_effect
"""

# Serialises writers, so that two imports cannot both pass the duplicate check; readers are not held up.
_LOCK = "LOCK TABLE agreements IN SHARE ROW EXCLUSIVE MODE"

Check = Callable[[dict[PartyKey, frozenset[Role]], list[Existing]], list[Problem]]


def _when(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def shown(row: Any) -> dict[str, Any]:
    """An agreement as the admin API shows it."""
    return {
        "id": row["id"],
        "cpo": {"country_code": row["cpo_country_code"], "party_id": row["cpo_party_id"]},
        "emsp": {"country_code": row["emsp_country_code"], "party_id": row["emsp_party_id"]},
        "modules": row["modules"],
        "valid_from": _when(row["valid_from"]),
        "valid_until": _when(row["valid_until"]),
        "status": row["status"],
        "in_effect": row["in_effect"],
        "created_at": _when(row["created_at"]),
        "updated_at": _when(row["updated_at"]),
        "ended_at": _when(row["ended_at"]),
    }


async def create(pool: store.Pool, candidates: list[Candidate], check: Check) -> list[dict[str, Any]]:
    """Write every candidate, or none: ``check`` sees the roles of the parties named and the agreements
    of the same pairs that have not ended, inside the transaction, and its problems (if any) are raised
    as :class:`InvalidAgreements` with nothing written."""
    keys = {c.cpo for c in candidates} | {c.emsp for c in candidates}
    pairs = {(c.cpo, c.emsp) for c in candidates}
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_LOCK)
        party_rows = await conn.fetch(
            "SELECT p.country_code, p.party_id, array_agg(p.role) AS roles FROM parties p"
            " JOIN unnest($1::text[], $2::text[]) AS k(cc, pid) ON p.country_code = k.cc AND p.party_id = k.pid"
            " GROUP BY p.country_code, p.party_id",
            [k[0] for k in keys], [k[1] for k in keys],
        )
        roles = {(r["country_code"], r["party_id"]): frozenset(Role(x) for x in r["roles"]) for r in party_rows}
        existing_rows = await conn.fetch(
            "SELECT a.id, a.cpo_country_code, a.cpo_party_id, a.emsp_country_code, a.emsp_party_id, a.valid_from,"
            " a.valid_until FROM agreements a"
            " JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(ccc, cpid, ecc, epid)"
            " ON a.cpo_country_code = k.ccc AND a.cpo_party_id = k.cpid AND a.emsp_country_code = k.ecc"
            " AND a.emsp_party_id = k.epid WHERE a.status <> 'ended'",
            [p[0][0] for p in pairs], [p[0][1] for p in pairs], [p[1][0] for p in pairs], [p[1][1] for p in pairs],
        )
        existing = [Existing(id=r["id"], cpo=(r["cpo_country_code"], r["cpo_party_id"]),
                             emsp=(r["emsp_country_code"], r["emsp_party_id"]), valid_from=r["valid_from"],
                             valid_until=r["valid_until"]) for r in existing_rows]
        problems = check(roles, existing)
        if problems:
            raise InvalidAgreements(problems)
        # One statement for the whole batch; modules travel as one text per row ('' = every module)
        # because unnest() would flatten an array of arrays.
        rows = await conn.fetch(
            "INSERT INTO agreements (cpo_country_code, cpo_party_id, emsp_country_code, emsp_party_id, modules,"
            " valid_from, valid_until)"
            " SELECT ccc, cpid, ecc, epid, CASE WHEN m = '' THEN NULL ELSE string_to_array(m, ',') END, vf, vu"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],"
            " $7::timestamptz[]) WITH ORDINALITY AS k(ccc, cpid, ecc, epid, m, vf, vu, n)"
            f" ORDER BY n RETURNING {_COLUMNS}",
            [c.cpo[0] for c in candidates], [c.cpo[1] for c in candidates],
            [c.emsp[0] for c in candidates], [c.emsp[1] for c in candidates],
            ["" if c.modules is None else ",".join(c.modules) for c in candidates],
            [c.valid_from for c in candidates], [c.valid_until for c in candidates],
        )
        await store.notify_changed(conn, agreements=[r["id"] for r in rows])
    return [shown(r) for r in rows]


async def get(pool: store.Pool, agreement_id: int) -> dict[str, Any] | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM agreements WHERE id = $1", agreement_id)
    return None if row is None else shown(row)


async def find(pool: store.Pool, *, party: PartyKey | None, status: str | None, limit: int,
               offset: int) -> tuple[list[dict[str, Any]], int]:
    """Agreements (newest first) naming ``party`` on either side and in ``status``; and how many match."""
    where = ["($1::text IS NULL OR (cpo_country_code = $1 AND cpo_party_id = $2)"
             " OR (emsp_country_code = $1 AND emsp_party_id = $2))", "($3::text IS NULL OR status = $3)"]
    args = [party[0] if party else None, party[1] if party else None, status]
    async with pool.acquire() as conn:
        total = await conn.fetchval(f"SELECT count(*) FROM agreements WHERE {' AND '.join(where)}", *args)
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM agreements WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT $4 OFFSET $5",
            *args, limit, offset,
        )
    return [shown(r) for r in rows], int(total)


async def of_parties(pool: store.Pool, keys: list[PartyKey]) -> dict[PartyKey, list[dict[str, Any]]]:
    """Agreements not ended that name any of ``keys``, by party (an agreement appears under both)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM agreements a WHERE status <> 'ended' AND EXISTS ("
            " SELECT 1 FROM unnest($1::text[], $2::text[]) AS k(cc, pid)"
            " WHERE (a.cpo_country_code = k.cc AND a.cpo_party_id = k.pid)"
            " OR (a.emsp_country_code = k.cc AND a.emsp_party_id = k.pid)) ORDER BY id",
            [k[0] for k in keys], [k[1] for k in keys],
        )
    found: dict[PartyKey, list[dict[str, Any]]] = {k: [] for k in keys}
    for row in rows:
        for key in ((row["cpo_country_code"], row["cpo_party_id"]), (row["emsp_country_code"], row["emsp_party_id"])):
            if key in found:
                found[key].append(shown(row))
    return found


class AgreementEnded(Exception):
    """The agreement has ended: it can no longer be suspended or resumed."""


async def set_status(pool: store.Pool, agreement_id: int, status: str) -> dict[str, Any] | None:
    """Suspend (``suspended``), resume (``active``) or end (``ended``) an agreement; None when there is
    no such agreement. Ending an ended agreement changes nothing; suspending or resuming one raises
    :class:`AgreementEnded`."""
    async with pool.acquire() as conn, conn.transaction():
        current = await conn.fetchval("SELECT status FROM agreements WHERE id = $1 FOR UPDATE", agreement_id)
        if current is None:
            return None
        if current == "ended" and status != "ended":
            raise AgreementEnded(f"agreement {agreement_id} has ended")
        if current != status:
            await conn.execute(
                "UPDATE agreements SET status = $2, updated_at = now(),"
                " ended_at = CASE WHEN $2 = 'ended' THEN now() ELSE ended_at END WHERE id = $1",
                agreement_id, status,
            )
            await store.notify_changed(conn, agreements=[agreement_id])
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM agreements WHERE id = $1", agreement_id)
    return shown(row)
