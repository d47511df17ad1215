"""Which parties a platform may register: the operator's word against the partner's credentials.

A partner names its parties itself, in its credentials. Left at that, an invited partner could pick
any ``country_code``/``party_id``, another platform's included (in another role: the unique key is
per role), and then receive traffic meant for that party. Two rules close it:

1. When the operator announced parties for the platform (an invitation's or a hub-initiated
   registration's ``parties``, kept as the platform's ``announced_parties`` setting), every role in
   its credentials must be one of them.
2. A ``country_code``+``party_id`` that another platform holds, in any role, may be registered only
   if the operator announced it for this platform: the legitimate case is one company's CPO and eMSP
   back offices on two platforms, and only the operator can vouch for that. A role this platform
   already holds stays allowed (its own earlier registration, or the operator's planned parties).

A platform "holds" a party while it has a token (registered, or invited with a token A); one that
unregistered holds nothing, as its same-role parties may be taken over too. Same role on another such
platform is refused whatever was announced (one party, one platform per role).

Pure: the registrar asks it over the snapshot before it contacts the partner, and the store asks it
again inside the transaction that writes the parties, where the answer counts.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from partners.model import PlatformSettings

PartyRole = tuple[str, str, str]
"""``(COUNTRY_CODE, PARTY_ID, ROLE)``, upper-cased."""


def announced(settings: PlatformSettings) -> frozenset[PartyRole] | None:
    """The parties the operator announced for a platform; None when it announced none (an empty list
    counts as none: announcing nothing would lock the platform out, never what an operator means)."""
    if not settings.announced_parties:
        return None
    return frozenset((p.country_code.upper(), p.party_id.upper(), p.role.value) for p in settings.announced_parties)


def refusal(claimed: Iterable[PartyRole], *, announced: Collection[PartyRole] | None,
            held_elsewhere: Mapping[tuple[str, str], Collection[str]], own: Collection[PartyRole]) -> str | None:
    """Why the platform may not register the ``claimed`` roles, in words naming the party; None when it may.

    ``held_elsewhere``: the roles other platforms (with a token) hold per ``(COUNTRY_CODE, PARTY_ID)``;
    ``own``: what this platform holds now."""
    for country_code, party_id, role in claimed:
        key = (country_code.upper(), party_id.upper(), role)
        label = f"{key[0]}*{key[1]}"
        others = held_elsewhere.get((key[0], key[1]), ())
        if role in others:
            return f"party {label} {role} is already registered by another platform"
        if announced is not None and key not in announced:
            return (f"party {label} {role} was not announced for this platform: the hub operator announced "
                    f"{_listed(announced)}; register those, or ask the operator to announce {label} {role}")
        if others and announced is None and key not in own:
            return (f"party {label} is already registered by another platform (as {', '.join(sorted(others))}); "
                    f"only the hub operator can let this platform register it as {role}, by announcing it for "
                    f"this platform")
    return None


def _listed(parties: Collection[PartyRole]) -> str:
    return ", ".join(f"{cc}*{pid} {role}" for cc, pid, role in sorted(parties))
