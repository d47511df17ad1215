"""What the operator writes as agreements, checked without a database: input shapes, CSV and JSON
imports, and every reason a new agreement is refused."""

from __future__ import annotations

import datetime

import pytest

from partners.agreements import (
    Existing,
    InvalidAgreements,
    Problem,
    check,
    parse_csv,
    parse_json,
    parse_one,
)
from partners.model import Role

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
ROLES = {("NL", "CPO"): frozenset({Role.CPO}), ("NL", "CP2"): frozenset({Role.CPO}),
         ("DE", "MSP"): frozenset({Role.EMSP}), ("SE", "NSP"): frozenset({Role.NSP}),
         ("BE", "ABC"): frozenset({Role.CPO, Role.EMSP})}
MODULES = frozenset({"cdrs", "chargingprofiles", "commands", "locations", "sessions", "tariffs", "tokens"})
EMSP_ROLES = frozenset({Role.EMSP, Role.NSP, Role.NAP, Role.SCSP, Role.OTHER})


def problems_of(raw: bytes, existing: list[Existing] | None = None) -> list[Problem]:
    return check([parse_one(raw, NOW)], roles_of=ROLES, existing=existing or [], modules=MODULES,
                 emsp_roles=EMSP_ROLES, now=NOW)


def test_a_minimal_agreement_covers_every_module_from_now_on() -> None:
    found = parse_one(b'{"cpo": {"country_code": "nl", "party_id": "cpo"}, '
                      b'"emsp": {"country_code": "DE", "party_id": "MSP"}}', NOW)
    assert (found.cpo, found.emsp, found.modules, found.valid_from, found.valid_until) == (
        ("NL", "CPO"), ("DE", "MSP"), None, NOW, None)
    assert problems_of(b'{"cpo": {"country_code": "NL", "party_id": "CPO"}, '
                       b'"emsp": {"country_code": "SE", "party_id": "NSP"}, "modules": ["Locations", "tariffs"], '
                       b'"valid_until": "2027-01-01T00:00:00Z"}') == []


@pytest.mark.parametrize(("body", "field", "words"), [
    (b'{"cpo": {"country_code": "NL", "party_id": "XXX"}, "emsp": {"country_code": "DE", "party_id": "MSP"}}',
     "cpo", "unknown party NL*XXX"),
    (b'{"cpo": {"country_code": "SE", "party_id": "NSP"}, "emsp": {"country_code": "DE", "party_id": "MSP"}}',
     "cpo", "SE*NSP is not a CPO (it is NSP)"),
    (b'{"cpo": {"country_code": "NL", "party_id": "CPO"}, "emsp": {"country_code": "NL", "party_id": "CP2"}}',
     "emsp", "NL*CP2 is a CPO"),  # a CPO on both sides
    (b'{"cpo": {"country_code": "BE", "party_id": "ABC"}, "emsp": {"country_code": "BE", "party_id": "ABC"}}',
     "emsp", "the same party on both sides"),
    (b'{"cpo": {"country_code": "NL", "party_id": "CPO"}, "emsp": {"country_code": "DE", "party_id": "MSP"},'
     b' "modules": ["locations", "parking"]}', "modules", "unknown module 'parking'"),
    (b'{"cpo": {"country_code": "NL", "party_id": "CPO"}, "emsp": {"country_code": "DE", "party_id": "MSP"},'
     b' "modules": []}', "modules", "leave modules out"),
    (b'{"cpo": {"country_code": "NL", "party_id": "CPO"}, "emsp": {"country_code": "DE", "party_id": "MSP"},'
     b' "valid_from": "2026-06-01T00:00:00Z", "valid_until": "2026-05-01T00:00:00Z"}', "valid_until",
     "after valid_from"),
    (b'{"cpo": {"country_code": "NL", "party_id": "CPO"}, "emsp": {"country_code": "DE", "party_id": "MSP"},'
     b' "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2026-01-01T00:00:00Z"}', "valid_until",
     "already past"),
])
def test_refusals_name_the_field(body: bytes, field: str, words: str) -> None:
    [problem] = problems_of(body)
    assert problem.field == field and words in problem.message


@pytest.mark.parametrize(("body", "field"), [
    (b'{"cpo": {"country_code": "NLD", "party_id": "CPO"}, "emsp": {"country_code": "DE", "party_id": "MSP"}}',
     "cpo.country_code"),
    (b'{"cpo": {"country_code": "NL", "party_id": "CPO"}}', "body"),
    (b'{"cpo": {"country_code": "NL", "party_id": "CPO"}, "emsp": {"country_code": "DE", "party_id": "MSP"},'
     b' "valid_from": "2026-06-01T00:00:00"}', "valid_from"),  # no time zone
    (b'{"cpo": {"country_code": "NL", "party_id": "CPO"}, "emsp": {"country_code": "DE", "party_id": "MSP"},'
     b' "colour": "blue"}', "body"),
    (b"{", "body"),
])
def test_malformed_input_names_the_field(body: bytes, field: str) -> None:
    with pytest.raises(InvalidAgreements) as caught:
        parse_one(body, NOW)
    assert caught.value.problems[0].field == field
    if field == "body" and body.startswith(b'{"cpo": {"country_code": "NL", "party_id": "CPO"}}'):
        assert "emsp" in caught.value.problems[0].message


@pytest.mark.parametrize(("start", "until", "duplicate"), [
    ("2026-01-01T00:00:00Z", None, True),  # open-ended overlaps everything after
    ("2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z", False),  # renewal after the existing one ends
    ("2026-03-31T00:00:00Z", "2026-05-01T00:00:00Z", True),
])
def test_duplicates_are_overlapping_agreements_of_the_same_pair(start: str, until: str | None,
                                                                duplicate: bool) -> None:
    existing = [Existing(id=7, cpo=("NL", "CPO"), emsp=("DE", "MSP"), valid_from=NOW,
                         valid_until=datetime.datetime(2026, 4, 1, tzinfo=datetime.UTC))]
    text = ('{"cpo": {"country_code": "NL", "party_id": "CPO"}, "emsp": {"country_code": "DE", "party_id": "MSP"}, '
            f'"valid_from": "{start}"' + (f', "valid_until": "{until}"' if until else "") + "}")
    found = problems_of(text.encode(), existing)
    assert [p.field for p in found] == (["duplicate"] if duplicate else [])
    if duplicate:
        assert "agreement 7 already joins NL*CPO and DE*MSP" in found[0].message


CSV = """cpo_country_code,cpo_party_id,emsp_country_code,emsp_party_id,modules,valid_from,valid_until
NL,CPO,DE,MSP,locations tariffs,,
NL,CPO,SE,NSP,,2026-04-01T00:00:00Z,
NLX,CPO,DE,MSP,,,
NL,CP2,DE,MSP,sessions;cdrs,2026-04-01T00:00:00Z,2026-03-01T00:00:00Z

NL,XXX,DE,MSP,,,
NL,CPO,DE,MSP,,,
NL,CP2
"""


def test_csv_import_reports_every_bad_line_by_number() -> None:
    candidates, problems = parse_csv(CSV, NOW)
    assert [(p.line, p.field) for p in problems] == [(4, "cpo_country_code"), (9, "line")]
    assert [c.line for c in candidates] == [2, 3, 5, 7, 8]
    assert candidates[0].modules == ["locations", "tariffs"] and candidates[3].modules is None
    found = check(candidates, roles_of=ROLES, existing=[], modules=MODULES, emsp_roles=EMSP_ROLES, now=NOW)
    assert [(p.line, p.field) for p in found] == [(5, "valid_until"), (7, "cpo"), (8, "duplicate")]
    assert "line 2 already joins" in found[2].message


@pytest.mark.parametrize(("text", "words"), [
    ("cpo,emsp\nNL*CPO,DE*MSP\n", "unknown column(s) cpo, emsp"),
    ("cpo_country_code,cpo_party_id,emsp_country_code\nNL,CPO,DE\n", "missing column(s) emsp_party_id"),
    ("", "expected cpo_country_code"),
])
def test_csv_header_must_name_known_columns(text: str, words: str) -> None:
    candidates, [problem] = parse_csv(text, NOW)
    assert candidates == [] and problem.line == 1 and words in problem.message


def test_json_import_reports_every_bad_item_by_index() -> None:
    raw = (b'[{"cpo": {"country_code": "NL", "party_id": "CPO"}, "emsp": {"country_code": "DE", "party_id": "MSP"}},'
           b' {"cpo": {"country_code": "NL", "party_id": "CPO"}}, 5,'
           b' {"cpo": {"country_code": "NL", "party_id": "CP2"}, "emsp": {"country_code": "DE", "party_id": "MSP"},'
           b' "modules": "locations"}]')
    candidates, problems = parse_json(raw, NOW)
    assert [c.index for c in candidates] == [0]
    assert [(p.index, p.field) for p in problems] == [(1, "body"), (2, "body"), (3, "modules")]
    assert parse_json(b'{"not": "a list"}', NOW)[1][0].field == "body"
