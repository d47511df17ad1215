"""Who may do what to whom: the one decision every routed request passes before anything is forwarded.

May this sender do this method on this module interface, to this receiver, on an object owned by
this party, now? Pure, over the immutable registry snapshot (roles, agreements, suspension) and the
body view; a refusal is one :class:`routing.errors.DeniedError` naming its rule and the parties.

Rules (the README's tables say the same to partners and operators):

* **suspended** — a platform the operator suspended gets nothing routed (it keeps the versions
  module and GET/PUT on credentials, see :func:`refuse_suspended`).
* **role** — the sender's role calls this module interface (a CPO pushes locations, an eMSP pulls
  them...), and the receiver's role serves it.
* **ownership** — on ``/receiver/{locations,sessions,tariffs,tokens}/{cc}/{pid}/...`` the URL's party is
  the sender; the owner fields of a pushed object (and the ``token`` of a command) are the sender's;
  a session or CDR goes only to the eMSP of its ``cdr_token``.
* **agreement** — with ``OCPI_HUB_AGREEMENTS=required``, a roaming agreement between the CPO and the
  eMSP-side party covers the module now.
* **ambiguous** — open routing found several receivers and will not guess (see ``open_routing``).
* **ownership of a session or reservation** — a command naming a ``session_id`` (STOP_SESSION) and
  every charging profile request act on a session; RESERVE_NOW and CANCEL_RESERVATION on a
  reservation: the CPO's session must have gone to the sender, the reservation been made by it, as
  far as the hub has seen (:meth:`Policy.admit_session`). One the hub never saw is let through: it
  cannot tell, and refusing would break sessions pushed before the hub learned (or after it forgot).

The sender-side rules run once per request (:meth:`Policy.authorize`), the receiver-side rules once
per receiver (:meth:`Policy.admit` for one, :meth:`Policy.receivers` to filter a broadcast or a GET
all, :meth:`Policy.admits` to filter open routing's candidates). Callbacks are not asked again:
a ticket is issued only for a request that passed, and redeeming it checks the caller's suspension
and the ticket itself (``routing.callbacks``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from partners.model import ConnectionStatus, InterfaceRole, Role
from partners.registry import Agreement, Party, PartyKey, Platform, Snapshot
from routing.body_view import Views, party
from routing.errors import (
    AgreementDeniedError,
    OwnershipDeniedError,
    RoleDeniedError,
    SuspendedError,
)
from routing.learned import Kind
from routing.modules import ROUTED_MODULES, caller_roles, receiver_roles

_R = InterfaceRole.RECEIVER
_PUSHES = frozenset({"PUT", "PATCH", "POST"})


class Interface:
    """What the rules need to know about one module interface, worked out once at import: the
    request path then reads attributes instead of hashing enums."""

    __slots__ = ("callers", "cpo_calls", "module", "name", "one_emsp", "owned_in_body", "owned_in_url", "servers",
                 "token_in_body")

    def __init__(self, module: str, interface: InterfaceRole) -> None:
        receiver = interface is _R
        self.module = module
        self.name = interface.value
        # Tuples, not sets: membership tests by identity first, without hashing an enum.
        self.callers = tuple(sorted(caller_roles(module, interface)))
        self.servers = tuple(sorted(receiver_roles(module, interface)))
        self.cpo_calls = Role.CPO in self.callers
        # Client-owned object URLs /{country_code}/{party_id}/{id}: the client owns the object.
        self.owned_in_url = receiver and module in ("locations", "sessions", "tariffs", "tokens")
        # Pushed objects that carry their owner's country_code / party_id.
        self.owned_in_body = receiver and module in ("locations", "sessions", "cdrs", "tariffs", "tokens")
        # Objects that belong to the eMSP named in their cdr_token.
        self.one_emsp = receiver and module in ("sessions", "cdrs")
        # START_SESSION and RESERVE_NOW carry the eMSP's token.
        self.token_in_body = receiver and module == "commands"


INTERFACES: dict[str, tuple[Interface, Interface]] = {
    m: (Interface(m, InterfaceRole.SENDER), Interface(m, _R)) for m in ROUTED_MODULES}
"""module -> (its SENDER interface, its RECEIVER interface)."""


class Ask:
    """One routed request as the policy sees it."""

    __slots__ = ("interface", "method", "module", "segments", "sender", "side", "views")

    def __init__(self, sender: Party, method: str, module: str, interface: InterfaceRole,
                 segments: tuple[str, ...], views: Views) -> None:
        self.sender = sender
        self.method = method
        self.module = module
        self.interface = interface
        self.side = INTERFACES[module][interface is _R]
        self.segments = segments  # the path after the module, percent-decoded
        self.views = views


def refuse_suspended(platform: Platform) -> None:
    """Rule *suspended*: the operator's suspension closes everything but versions and GET/PUT
    credentials (whose endpoints do not call this for those methods)."""
    if platform.suspended or platform.status is ConnectionStatus.SUSPENDED:
        raise SuspendedError("platform is suspended by the hub operator: only the versions module and "
                             "GET or PUT on credentials are open to it")


def session_acted_on(ask: Ask) -> tuple[Kind, str] | None:
    """The session or reservation a request to a CPO's receiver interface acts on: a command's
    ``session_id`` (STOP_SESSION) or ``reservation_id`` (RESERVE_NOW, CANCEL_RESERVATION), the first URL
    segment of a charging profile request; None for anything else."""
    if ask.interface is not _R:
        return None
    if ask.module == "chargingprofiles":
        return (Kind.SESSION, ask.segments[0]) if ask.segments else None
    if ask.module == "commands" and len(ask.views) == 1:
        view = ask.views[0]
        if isinstance(view.session_id, str) and view.session_id:
            return Kind.SESSION, view.session_id
        if isinstance(view.reservation_id, str) and view.reservation_id:
            return Kind.RESERVATION, view.reservation_id
    return None


def _roles(roles: tuple[Role, ...]) -> str:
    return ", ".join(roles)


def _mine(value: Any, expected: str) -> bool:
    return value is None or (isinstance(value, str) and value.upper() == expected)


def _names(value: Any) -> str:
    return value.upper() if isinstance(value, str) else repr(value)


def _pair(sender: Party, other_cc: str, other_pid: str, cpo_calls: bool) -> tuple[str, str, str, str]:
    """The agreement key of a request between ``sender`` and another party: (cpo, emsp-side)."""
    if cpo_calls:
        return (sender.country_code, sender.party_id, other_cc, other_pid)
    return (other_cc, other_pid, sender.country_code, sender.party_id)


def _covered(terms: tuple[Agreement, ...] | None, module: str, now: float) -> bool:
    """Whether one of a pair's agreements covers ``module`` at ``now`` (written out: no generator)."""
    if terms is not None:
        for a in terms:
            if a.valid_from <= now < a.valid_until and (a.modules is None or module in a.modules):
                return True
    return False


class _Reaching(Protocol):
    @property
    def party(self) -> Party: ...


_Route = TypeVar("_Route", bound=_Reaching)


class Policy:
    def __init__(self, *, agreements_required: bool) -> None:
        self.agreements_required = agreements_required

    # -- sender side: once per request ---------------------------------------------------------
    def authorize(self, ask: Ask) -> None:
        """Rules *role* (sender) and *ownership* (URL, body owner fields, a command's token)."""
        sender, side = ask.sender, ask.side
        if sender.role not in side.callers:
            raise RoleDeniedError(
                f"{sender.label} is a {sender.role} party: the {side.module} {side.name} interface is called by "
                f"{_roles(side.callers)} parties only"
            )
        segments = ask.segments
        if segments and side.owned_in_url and (
            len(segments) < 2 or segments[0].upper() != sender.country_code
            or segments[1].upper() != sender.party_id
        ):
            named = "*".join(segments[:2]).upper()
            raise OwnershipDeniedError(
                f"{sender.label} may only address its own {side.module}: the URL names {named} as the owner"
            )
        if not ask.views or ask.method not in _PUSHES:
            return
        if side.owned_in_body:
            for view in ask.views:
                if not (_mine(view.country_code, sender.country_code) and _mine(view.party_id, sender.party_id)):
                    raise OwnershipDeniedError(
                        f"{sender.label} may only push its own {side.module}: the object's country_code/party_id "
                        f"name {_names(view.country_code)}*{_names(view.party_id)}"
                    )
        elif side.token_in_body:
            for view in ask.views:
                token = view.token
                if isinstance(token, dict) and not (_mine(token.get("country_code"), sender.country_code)
                                                    and _mine(token.get("party_id"), sender.party_id)):
                    raise OwnershipDeniedError(
                        f"{sender.label} may only send commands with its own tokens: the token's "
                        f"country_code/party_id name {_names(token.get('country_code'))}*"
                        f"{_names(token.get('party_id'))}"
                    )

    # -- receiver side: once per receiver ------------------------------------------------------
    def admit(self, snapshot: Snapshot, ask: Ask, receiver: Party, now: float) -> None:
        """Rules *role* (receiver), *ownership* (cdr_token) and *agreement* for one receiver."""
        rule = self._receiver_rule(snapshot, ask, receiver, now)
        if rule is None:
            return
        side = ask.side
        if rule == "role":
            raise RoleDeniedError(
                f"{receiver.label} is a {receiver.role} party: the {side.module} {side.name} interface is served by "
                f"{_roles(side.servers)} parties only"
            )
        if rule == "ownership":
            named = next(k for v in ask.views if (k := party(v.cdr_token)) is not None and k != receiver.key)
            raise OwnershipDeniedError(
                f"this {side.module[:-1]} belongs to the eMSP in its cdr_token, {named[0]}*{named[1]}: it may not "
                f"go to {receiver.label}"
            )
        cpo, emsp = (ask.sender, receiver) if side.cpo_calls else (receiver, ask.sender)
        raise AgreementDeniedError(
            f"no roaming agreement between CPO {cpo.label} and {emsp.label} covers {side.module} now"
        )

    def admit_session(self, ask: Ask, receiver: Party,
                      emsp_of: Callable[[Kind, PartyKey, str], PartyKey | None]) -> None:
        """Rule *ownership* of a session or reservation: an eMSP stops or steers its own sessions, and
        replaces or cancels its own reservations, only. ``emsp_of`` says which party the hub saw the CPO's
        session go to, or make the reservation (None: not seen)."""
        acted_on = session_acted_on(ask)
        if acted_on is None:
            return
        kind, object_id = acted_on
        emsp = emsp_of(kind, receiver.key, object_id)
        if emsp is not None and emsp != ask.sender.key:
            what = "sessions" if kind is Kind.SESSION else "reservations"
            raise OwnershipDeniedError(
                f"{kind.value} {object_id} of {receiver.label} belongs to {emsp[0]}*{emsp[1]}: {ask.sender.label} "
                f"may only send {ask.module} for its own {what}"
            )

    def admits(self, snapshot: Snapshot, ask: Ask, key: PartyKey, now: float) -> bool:
        """Whether open routing may consider party ``key`` at all (rule *agreement*; the rest is
        checked by :meth:`admit` once the receiver is chosen)."""
        if not self.agreements_required:
            return True
        return _covered(snapshot.agreements.get(_pair(ask.sender, key[0], key[1], ask.side.cpo_calls)),
                        ask.module, now)

    def receivers(self, snapshot: Snapshot, ask: Ask, routes: Sequence[_Route], now: float) -> list[_Route]:
        """The broadcast receivers or GET-all owners (``routes``) the sender may reach."""
        return [r for r in routes if self._receiver_rule(snapshot, ask, r.party, now) is None]

    def decide(self, snapshot: Snapshot, ask: Ask, receiver: Party, now: float) -> None:
        """The whole decision for one request to one receiver (what the table tests ask)."""
        self.authorize(ask)
        self.admit(snapshot, ask, receiver, now)

    def _receiver_rule(self, snapshot: Snapshot, ask: Ask, receiver: Party, now: float) -> str | None:
        side = ask.side
        if receiver.role not in side.servers:
            return "role"
        if side.one_emsp:
            for view in ask.views:
                owner = party(view.cdr_token)
                if owner is not None and (owner[0] != receiver.country_code or owner[1] != receiver.party_id):
                    return "ownership"
        if self.agreements_required:
            terms = snapshot.agreements.get(
                _pair(ask.sender, receiver.country_code, receiver.party_id, side.cpo_calls))
            if not _covered(terms, side.module, now):
                return "agreement"
        return None
