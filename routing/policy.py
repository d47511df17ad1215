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

The sender-side rules run once per request (:meth:`Policy.authorize`), the receiver-side rules once
per receiver (:meth:`Policy.admit` for one, :meth:`Policy.receivers` to filter a broadcast or a GET
all, :meth:`Policy.admits` to filter open routing's candidates). Callbacks are not asked again:
a ticket is issued only for a request that passed, and redeeming it checks the caller's suspension
and the ticket itself (``routing.callbacks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from partners.model import ConnectionStatus, InterfaceRole, Role
from partners.registry import Party, PartyKey, Platform, Snapshot
from routing.body_view import Views, party
from routing.errors import (
    AgreementDeniedError,
    OwnershipDeniedError,
    RoleDeniedError,
    SuspendedError,
)
from routing.modules import CPO_SIDE, caller_roles, receiver_roles

# RECEIVER interfaces whose object URLs are /{country_code}/{party_id}/{id}: the client owns the object.
OWNED_IN_URL = frozenset({"locations", "sessions", "tariffs", "tokens"})
# RECEIVER interfaces whose pushed objects carry their owner's country_code / party_id.
OWNED_IN_BODY = frozenset({"locations", "sessions", "cdrs", "tariffs", "tokens"})
# Objects that belong to the eMSP named in their cdr_token.
FOR_ONE_EMSP = frozenset({"sessions", "cdrs"})
_PUSHES = frozenset({"PUT", "PATCH", "POST"})
_R = InterfaceRole.RECEIVER


class Ask:
    """One routed request as the policy sees it."""

    __slots__ = ("interface", "method", "module", "segments", "sender", "views")

    def __init__(self, sender: Party, method: str, module: str, interface: InterfaceRole,
                 segments: tuple[str, ...], views: Views) -> None:
        self.sender = sender
        self.method = method
        self.module = module
        self.interface = interface
        self.segments = segments  # the path after the module, percent-decoded
        self.views = views


def refuse_suspended(platform: Platform) -> None:
    """Rule *suspended*: the operator's suspension closes everything but versions and GET/PUT
    credentials (whose endpoints do not call this for those methods)."""
    if platform.suspended or platform.status is ConnectionStatus.SUSPENDED:
        raise SuspendedError("platform is suspended by the hub operator: only the versions module and "
                             "GET or PUT on credentials are open to it")


def _roles(roles: frozenset[Role]) -> str:
    return ", ".join(sorted(roles))


def _mine(value: Any, expected: str) -> bool:
    return value is None or (isinstance(value, str) and value.upper() == expected)


def _names(value: Any) -> str:
    return value.upper() if isinstance(value, str) else repr(value)


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
        sender, module, interface = ask.sender, ask.module, ask.interface
        callers = caller_roles(module, interface)
        if sender.role not in callers:
            raise RoleDeniedError(
                f"{sender.label} is a {sender.role} party: the {module} {interface} interface is called by "
                f"{_roles(callers)} parties only"
            )
        if interface is not _R:
            return
        segments = ask.segments
        if segments and module in OWNED_IN_URL and (
            len(segments) < 2 or segments[0].upper() != sender.country_code
            or segments[1].upper() != sender.party_id
        ):
            named = "/".join(segments[:2]).upper().replace("/", "*")
            raise OwnershipDeniedError(
                f"{sender.label} may only address its own {module}: the URL names {named} as the owner"
            )
        if ask.views and ask.method in _PUSHES:
            if module in OWNED_IN_BODY:
                for view in ask.views:
                    if not (_mine(view.country_code, sender.country_code) and _mine(view.party_id, sender.party_id)):
                        raise OwnershipDeniedError(
                            f"{sender.label} may only push its own {module}: the object's country_code/party_id "
                            f"name {_names(view.country_code)}*{_names(view.party_id)}"
                        )
            elif module == "commands":
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
        module, interface = ask.module, ask.interface
        if rule == "role":
            raise RoleDeniedError(
                f"{receiver.label} is a {receiver.role} party: the {module} {interface} interface is served by "
                f"{_roles(receiver_roles(module, interface))} parties only"
            )
        if rule == "ownership":
            named = next(k for v in ask.views if (k := party(v.cdr_token)) is not None and k != receiver.key)
            raise OwnershipDeniedError(
                f"this {module[:-1]} belongs to the eMSP in its cdr_token, {named[0]}*{named[1]}: it may not go to "
                f"{receiver.label}"
            )
        cpo, emsp = (ask.sender, receiver) if ask.sender.role in CPO_SIDE else (receiver, ask.sender)
        raise AgreementDeniedError(
            f"no roaming agreement between CPO {cpo.label} and {emsp.label} covers {module} now"
        )

    def admits(self, snapshot: Snapshot, ask: Ask, key: PartyKey, now: float) -> bool:
        """Whether open routing may consider party ``key`` at all (rule *agreement*; the rest is
        checked by :meth:`admit` once the receiver is chosen)."""
        if not self.agreements_required:
            return True
        sender = ask.sender
        pair = (sender.key, key) if sender.role in CPO_SIDE else (key, sender.key)
        return any(a.covers(ask.module, now) for a in snapshot.agreements.get(pair, ()))

    def receivers(self, snapshot: Snapshot, ask: Ask, routes: Sequence[_Route], now: float) -> list[_Route]:
        """The broadcast receivers or GET-all owners (``routes``) the sender may reach."""
        return [r for r in routes if self._receiver_rule(snapshot, ask, r.party, now) is None]

    def decide(self, snapshot: Snapshot, ask: Ask, receiver: Party, now: float) -> None:
        """The whole decision for one request to one receiver (what the table tests ask)."""
        self.authorize(ask)
        self.admit(snapshot, ask, receiver, now)

    def _receiver_rule(self, snapshot: Snapshot, ask: Ask, receiver: Party, now: float) -> str | None:
        module = ask.module
        if receiver.role not in receiver_roles(module, ask.interface):
            return "role"
        if module in FOR_ONE_EMSP and ask.interface is _R:
            for view in ask.views:
                owner = party(view.cdr_token)
                if owner is not None and owner != receiver.key:
                    return "ownership"
        if self.agreements_required:
            sender = ask.sender
            pair = (sender.key, receiver.key) if sender.role in CPO_SIDE else (receiver.key, sender.key)
            if not any(a.covers(module, now) for a in snapshot.agreements.get(pair, ())):
                return "agreement"
        return None
