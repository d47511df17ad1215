"""Roaming agreements as the operator writes them: the input shapes (admin API, CSV and JSON import)
and the pure checks every new agreement passes before anything is written.

An agreement joins one CPO party and one eMSP-side party for a set of modules (or all of them) from
``valid_from`` until ``valid_until``. The checks run inside the store's transaction over what the
database holds at that moment (which parties exist, which agreements already join the pair), so a
whole batch is written or none of it.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

import msgspec

from partners.model import CountryCode, PartyId, Role
from partners.registry import PartyKey

TzDateTime = Annotated[datetime.datetime, msgspec.Meta(tz=True)]
STATUSES = ("active", "suspended", "ended")


class PartyRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    country_code: CountryCode
    party_id: PartyId

    @property
    def key(self) -> PartyKey:
        return (self.country_code.upper(), self.party_id.upper())


class AgreementIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``POST /admin/agreements`` and one item of a JSON import."""

    cpo: PartyRef
    emsp: PartyRef
    modules: list[str] | None = None  # absent: every module
    valid_from: TzDateTime | None = None  # absent: now
    valid_until: TzDateTime | None = None  # absent: open-ended


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One thing wrong with one agreement: ``field`` names what to fix; ``line`` (CSV) or ``index``
    (JSON list) says which agreement of an import."""

    field: str
    message: str
    line: int | None = None
    index: int | None = None


class Candidate(msgspec.Struct, kw_only=True):
    """An agreement about to be written, normalised (upper-case keys, a start time)."""

    cpo: PartyKey
    emsp: PartyKey
    modules: list[str] | None
    valid_from: datetime.datetime
    valid_until: datetime.datetime | None
    line: int | None = None
    index: int | None = None


class Existing(msgspec.Struct, kw_only=True):
    """An agreement already stored and not ended (what a new one must not overlap)."""

    id: int
    cpo: PartyKey
    emsp: PartyKey
    valid_from: datetime.datetime
    valid_until: datetime.datetime | None


class InvalidAgreements(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


def _field(error: msgspec.ValidationError) -> tuple[str, str]:
    """(field, message) from a msgspec error: '... - at `$.cpo.country_code`' names the field."""
    text = str(error)
    match = re.search(r" - at `\$\.?([^`]*)`$", text)
    if match is None:
        return "body", text
    path = re.sub(r"\[\d+\]", "", match.group(1)) or "body"
    return path, text[:match.start()]


def candidate(given: AgreementIn, now: datetime.datetime, *, line: int | None = None,
              index: int | None = None) -> Candidate:
    modules = None if given.modules is None else sorted({m.lower() for m in given.modules})
    return Candidate(cpo=given.cpo.key, emsp=given.emsp.key, modules=modules,
                     valid_from=given.valid_from or now, valid_until=given.valid_until, line=line, index=index)


def _overlap(a_from: datetime.datetime, a_until: datetime.datetime | None,
             b_from: datetime.datetime, b_until: datetime.datetime | None) -> bool:
    return (b_until is None or a_from < b_until) and (a_until is None or b_from < a_until)


def _label(key: PartyKey) -> str:
    return f"{key[0]}*{key[1]}"


def check(candidates: list[Candidate], *, roles_of: Mapping[PartyKey, frozenset[Role]], existing: Iterable[Existing],
          modules: frozenset[str], emsp_roles: frozenset[Role], now: datetime.datetime) -> list[Problem]:
    """Everything wrong with ``candidates``, as one list (empty: write them all).

    ``roles_of`` holds the roles each named party has at the hub; ``existing`` the stored agreements
    that are not ended for the same pairs; ``modules`` the module names an agreement may list."""
    problems: list[Problem] = []
    taken: dict[tuple[PartyKey, PartyKey], list[tuple[str, datetime.datetime, datetime.datetime | None]]] = {}
    for e in existing:
        taken.setdefault((e.cpo, e.emsp), []).append((f"agreement {e.id}", e.valid_from, e.valid_until))

    for c in candidates:
        def problem(field: str, message: str, c: Candidate = c) -> None:
            problems.append(Problem(field=field, message=message, line=c.line, index=c.index))

        cpo_roles = roles_of.get(c.cpo, frozenset())
        if not cpo_roles:
            problem("cpo", f"unknown party {_label(c.cpo)}: no platform at the hub has it")
        elif Role.CPO not in cpo_roles:
            problem("cpo", f"{_label(c.cpo)} is not a CPO (it is {', '.join(sorted(cpo_roles))})")
        emsp_has = roles_of.get(c.emsp, frozenset())
        if not emsp_has:
            problem("emsp", f"unknown party {_label(c.emsp)}: no platform at the hub has it")
        elif not emsp_has & emsp_roles:
            problem("emsp", f"{_label(c.emsp)} is a {', '.join(sorted(emsp_has))}: the emsp side must be one of "
                            f"{', '.join(sorted(emsp_roles))} (an agreement joins a CPO with an eMSP-side party)")
        if c.cpo == c.emsp:
            problem("emsp", "the same party on both sides")
        if c.modules is not None:
            if not c.modules:
                problem("modules", "an empty list would cover nothing: leave modules out to cover every module")
            for unknown in sorted(set(c.modules) - modules):
                problem("modules", f"unknown module {unknown!r}; known: {', '.join(sorted(modules))}")
        if c.valid_until is not None:
            if c.valid_until <= c.valid_from:
                problem("valid_until", "must be after valid_from")
            elif c.valid_until <= now:
                problem("valid_until", "is already past")
        where = f"line {c.line}" if c.line is not None else f"item {c.index}" if c.index is not None else "this"
        pair = (c.cpo, c.emsp)
        for other, start, until in taken.get(pair, ()):
            if _overlap(c.valid_from, c.valid_until, start, until):
                problem("duplicate", f"{other} already joins {_label(c.cpo)} and {_label(c.emsp)} "
                                     "for an overlapping time (end it first, or start the new one after it)")
                break
        taken.setdefault(pair, []).append((where, c.valid_from, c.valid_until))
    return problems


_decode_one = msgspec.json.Decoder(AgreementIn)
_decode_list = msgspec.json.Decoder(list[Any])


def parse_one(raw: bytes, now: datetime.datetime) -> Candidate:
    """The body of ``POST /admin/agreements``; raises :class:`InvalidAgreements` naming the field."""
    try:
        return candidate(_decode_one.decode(raw), now)
    except msgspec.ValidationError as exc:
        field, message = _field(exc)
        raise InvalidAgreements([Problem(field=field, message=message)]) from None
    except msgspec.DecodeError as exc:
        raise InvalidAgreements([Problem(field="body", message=f"not JSON: {exc}")]) from None


def parse_json(raw: bytes, now: datetime.datetime) -> tuple[list[Candidate], list[Problem]]:
    """A JSON import: a list of agreement objects. Every bad item is reported, by ``index``."""
    try:
        items = _decode_list.decode(raw)
    except msgspec.DecodeError as exc:
        return [], [Problem(field="body", message=f"expected a JSON list of agreements: {exc}")]
    found, problems = [], []
    for index, item in enumerate(items):
        try:
            found.append(candidate(msgspec.convert(item, AgreementIn), now, index=index))
        except msgspec.ValidationError as exc:
            field, message = _field(exc)
            problems.append(Problem(field=field, message=message, index=index))
    return found, problems


CSV_COLUMNS = ("cpo_country_code", "cpo_party_id", "emsp_country_code", "emsp_party_id", "modules", "valid_from",
               "valid_until")
_REQUIRED_COLUMNS = CSV_COLUMNS[:4]


def parse_csv(text: str, now: datetime.datetime) -> tuple[list[Candidate], list[Problem]]:
    """A CSV import with a header line naming the columns (``CSV_COLUMNS``; the last three may be left
    out or left empty). ``modules`` lists module names separated by spaces, ``;`` or ``|``. Every bad
    line is reported, by its line number (the header is line 1)."""
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    missing = [h for h in _REQUIRED_COLUMNS if h not in header]
    if unknown or missing or not header:
        what = (f"unknown column(s) {', '.join(unknown)}; " if unknown else "") + \
            (f"missing column(s) {', '.join(missing)}; " if missing else "")
        return [], [Problem(field="header", line=1, message=f"{what}expected {','.join(CSV_COLUMNS)}")]
    found, problems = [], []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(Problem(field="line", line=line,
                                    message=f"{len(row)} values for {len(header)} columns"))
            continue
        cells = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
        item: dict[str, Any] = {
            "cpo": {"country_code": cells["cpo_country_code"], "party_id": cells["cpo_party_id"]},
            "emsp": {"country_code": cells["emsp_country_code"], "party_id": cells["emsp_party_id"]},
        }
        if cells.get("modules"):
            item["modules"] = [m for m in re.split(r"[\s;|,]+", cells["modules"]) if m]
        for name in ("valid_from", "valid_until"):
            if cells.get(name):
                item[name] = cells[name]
        try:
            found.append(candidate(msgspec.convert(item, AgreementIn), now, line=line))
        except msgspec.ValidationError as exc:
            field, message = _field(exc)
            problems.append(Problem(field=field.replace(".", "_"), message=message, line=line))
    return found, problems
