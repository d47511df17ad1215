"""Which parties a platform may register, as a table: announced parties, parties held by others, its own."""

from __future__ import annotations

import pytest

from partners import party_claims
from partners.model import AnnouncedParty, PlatformSettings, Role

ABC_CPO = ("NL", "ABC", "CPO")
CPO_CPO = ("NL", "CPO", "CPO")
CPO_EMSP = ("NL", "CPO", "EMSP")
OTHERS_CPO = {("NL", "CPO"): {"CPO"}}


@pytest.mark.parametrize(("claimed", "announced", "held", "own", "refused"), [
    # Nothing announced, nobody else: any party.
    ([ABC_CPO, CPO_EMSP], None, {}, set(), None),
    # Announced: only those, whichever is missing is named.
    ([ABC_CPO], {ABC_CPO}, {}, set(), None),
    ([("nl", "abc", "CPO")], {ABC_CPO}, {}, set(), None),
    ([("NL", "XYZ", "CPO"), CPO_EMSP], {ABC_CPO}, OTHERS_CPO, set(),
     "party NL*XYZ CPO was not announced for this platform: the hub operator announced NL*ABC CPO"),
    ([("NL", "ABC", "EMSP")], {ABC_CPO}, {}, set(), "party NL*ABC EMSP was not announced"),
    # Another platform's party id in another role: only when announced for this one.
    ([CPO_EMSP], None, OTHERS_CPO, set(), "party NL*CPO is already registered by another platform (as CPO); "
                                          "only the hub operator can let this platform register it as EMSP"),
    ([CPO_EMSP], {CPO_EMSP}, OTHERS_CPO, set(), None),
    # What this platform already holds stays allowed (an update re-sends it).
    ([CPO_EMSP], None, OTHERS_CPO, {CPO_EMSP}, None),
    # The same role on another platform: never, announced or not.
    ([CPO_CPO], {CPO_CPO}, OTHERS_CPO, set(), "party NL*CPO CPO is already registered by another platform"),
    ([CPO_CPO], None, OTHERS_CPO, {CPO_CPO}, "party NL*CPO CPO is already registered by another platform"),
])
def test_claims(claimed: list[party_claims.PartyRole], announced: set[party_claims.PartyRole] | None,
                held: dict[tuple[str, str], set[str]], own: set[party_claims.PartyRole], refused: str | None) -> None:
    answer = party_claims.refusal(claimed, announced=announced, held_elsewhere=held, own=own)
    if refused is None:
        assert answer is None
    else:
        assert answer is not None and answer.startswith(refused), answer


def test_announced_parties_come_from_the_settings_upper_cased_and_an_empty_list_announces_nothing() -> None:
    settings = PlatformSettings(announced_parties=[AnnouncedParty(country_code="nl", party_id="abc", role=Role.CPO)])
    assert party_claims.announced(settings) == {ABC_CPO}
    assert party_claims.announced(PlatformSettings(announced_parties=[])) is None
    assert party_claims.announced(PlatformSettings()) is None
