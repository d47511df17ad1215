"""Admin resource ``/admin/agreements``: roaming agreements between a CPO and an eMSP-side party.

Create one, import many (CSV or JSON, all or nothing, every bad line reported), list and show them,
suspend and resume one, end one (kept for audit). Every change reaches the registry snapshot of this
replica before the answer, and of the others through their NOTIFY, within a second.
"""

from __future__ import annotations

import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.endpoints.admin.common import Handler, guarded
from hub.endpoints.ocpi_auth import hub_state
from hub.responses import admin_error, admin_json
from partners import agreements, agreements_store
from partners.agreements import STATUSES, Candidate, InvalidAgreements, Problem
from partners.model import Role
from partners.registry import PartyKey
from routing.modules import EMSP_SIDE, ROUTED_MODULES

_MODULES = frozenset(ROUTED_MODULES)
_MAX_ID = 2**63 - 1


def _checker(candidates: list[Candidate], now: datetime.datetime, earlier: list[Problem]) -> agreements_store.Check:
    def check(roles_of: dict[PartyKey, frozenset[Role]], existing: list[agreements.Existing]) -> list[Problem]:
        found = earlier + agreements.check(candidates, roles_of=roles_of, existing=existing, modules=_MODULES,
                                           emsp_roles=EMSP_SIDE, now=now)
        return sorted(found, key=lambda p: (p.line or 0, p.index or 0))
    return check


def _refused(problems: list[Problem], *, status: int, what: str) -> Response:
    first = problems[0]
    shown = [{k: v for k, v in (("line", p.line), ("index", p.index), ("field", p.field), ("message", p.message))
              if v is not None} for p in problems]
    return admin_json({"error": f"{what}: {first.field}: {first.message}"
                                + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
                       "field": first.field, "problems": shown}, status)


async def create_agreement(request: Request) -> Response:
    """``POST /admin/agreements``: 201 with the agreement; 400 naming the field, 409 for a duplicate."""
    state = hub_state(request)
    now = datetime.datetime.now(datetime.UTC)
    try:
        candidate = agreements.parse_one(await request.body(), now)
        [created] = await agreements_store.create(state.pool, [candidate], _checker([candidate], now, []))
    except InvalidAgreements as exc:
        duplicate = any(p.field == "duplicate" for p in exc.problems)
        return _refused(exc.problems, status=409 if duplicate else 400, what="agreement refused")
    await state.sync.refresh(agreements=[created["id"]])
    return admin_json(created, 201)


async def import_agreements(request: Request) -> Response:
    """``POST /admin/agreements/import`` with a CSV (``text/csv``) or JSON list (``application/json``)
    body: 201 ``{"created": n, "ids": [...]}``, or 400 listing every bad line with nothing written."""
    state = hub_state(request)
    raw = await request.body()
    if len(raw) > state.config.max_body_bytes:
        return admin_error(f"import over {state.config.max_body_bytes} bytes: split it", 413)
    now = datetime.datetime.now(datetime.UTC)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    as_json = kind.endswith("json") if kind else raw.lstrip()[:1] in (b"[", b"{")
    if as_json:
        candidates, problems = agreements.parse_json(raw, now)
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return admin_error(f"CSV import is not UTF-8: {exc}", 400)
        candidates, problems = agreements.parse_csv(text, now)
    if not candidates:
        return _refused(problems or [Problem(field="body", message="no agreements in the file")], status=400,
                        what="nothing imported")
    try:
        created = await agreements_store.create(state.pool, candidates, _checker(candidates, now, problems))
    except InvalidAgreements as exc:
        return _refused(exc.problems, status=400, what=f"nothing imported, {len(exc.problems)} problem(s)")
    await state.sync.refresh(agreements=[a["id"] for a in created])
    return admin_json({"created": len(created), "ids": [a["id"] for a in created]}, 201)


async def list_agreements(request: Request) -> Response:
    """``GET /admin/agreements?party=NL*CPO&status=active&limit=&offset=`` (newest first; the
    ``X-Total-Count`` header says how many match)."""
    q = request.query_params
    key: PartyKey | None = None
    if q.get("party"):
        cc, star, pid = q["party"].upper().partition("*")
        if not star or len(cc) != 2 or len(pid) != 3:
            return admin_error("party must be written COUNTRY*PARTY, e.g. NL*CPO", 400)
        key = (cc, pid)
    status = q.get("status") or None
    if status is not None and status not in STATUSES:
        return admin_error(f"status must be one of {', '.join(STATUSES)}", 400)
    try:
        limit = int(q.get("limit") or 1000)
        offset = int(q.get("offset") or 0)
    except ValueError:
        return admin_error("limit and offset must be whole numbers", 400)
    if not 1 <= limit <= 10000 or not 0 <= offset <= _MAX_ID:
        return admin_error("limit must be 1..10000 and offset not negative", 400)
    found, total = await agreements_store.find(hub_state(request).pool, party=key, status=status, limit=limit,
                                               offset=offset)
    return admin_json(found, headers={"X-Total-Count": str(total)})


def _agreement_id(request: Request) -> int | None:
    try:
        value = int(request.path_params["agreement_id"])
    except ValueError:
        return None
    return value if 0 < value <= _MAX_ID else None


async def get_agreement(request: Request) -> Response:
    agreement_id = _agreement_id(request)
    found = None if agreement_id is None else await agreements_store.get(hub_state(request).pool, agreement_id)
    if found is None:
        return admin_error("no such agreement", 404)
    return admin_json(found)


def _set_status(status: str) -> Handler:
    async def handler(request: Request) -> Response:
        state = hub_state(request)
        agreement_id = _agreement_id(request)
        try:
            found: dict[str, Any] | None = None if agreement_id is None else await agreements_store.set_status(
                state.pool, agreement_id, status)
        except agreements_store.AgreementEnded as exc:
            return admin_error(str(exc), 409)
        if found is None:
            return admin_error("no such agreement", 404)
        await state.sync.refresh(agreements=[found["id"]])
        return admin_json(found)
    return handler


routes = [
    Route("/admin/agreements", guarded(create_agreement), methods=["POST"]),
    Route("/admin/agreements", guarded(list_agreements), methods=["GET"]),
    Route("/admin/agreements/import", guarded(import_agreements), methods=["POST"]),
    Route("/admin/agreements/{agreement_id}", guarded(get_agreement), methods=["GET"]),
    Route("/admin/agreements/{agreement_id}", guarded(_set_status("ended")), methods=["DELETE"]),
    Route("/admin/agreements/{agreement_id}/suspend", guarded(_set_status("suspended")), methods=["POST"]),
    Route("/admin/agreements/{agreement_id}/unsuspend", guarded(_set_status("active")), methods=["POST"]),
]
