"""Bad input, continuously: property-based fuzzing of a real hub over HTTP, with real recording partners.

Three surfaces — the routing path (modules and callbacks), the hub's own OCPI endpoints, the admin API —
each get a few hundred to a thousand generated requests (seeded: ``derandomize=True``, so every run sends
the same ones). Every request is written byte for byte on its own connection, and for every answer:

* it is below 500, and it is an OCPI envelope (JSON for the admin API) unless a receiver wrote it;
* where the input was bad (no valid token, a body that is not JSON, too large), it is a 4xx and
  nothing reached a partner;
* whatever reached a partner carries the hub's token for that partner and a body that is JSON by an
  independent judge (the standard library), and no answer or log line holds a token;
* the hub is alive and routing after each surface's run.

Nothing generated can make the hub contact an address other than the test's own loopback partners: the
registrations the admin fuzzing may create point at a closed loopback port, credentials bodies that could
start a handshake are only sent with tokens the hub refuses first, and callback URLs are redeemed only for
the ticket the test obtained itself.

Known and tolerated here (URL shapes are for the conformance work, #11): an admin path whose id decodes to
"/" gets Starlette's trailing-slash redirect (307, no body), with a Location built from the Host header.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partners.strict_json import MAX_DEPTH
from routing.modules import ROUTED_MODULES
from tests.support.network import Network, RunningHub
from tests.support.partner import FakePlatform, cpo, emsp, envelope, token_header
from tests.support.servers import free_port, served

pytestmark = pytest.mark.anyio

LIMIT = 16 * 1024
FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])


# -- the world ---------------------------------------------------------------------------------------
class Recorder:
    """A partner's module endpoints as a raw ASGI app: records every request whatever its method (so that
    nothing the hub forwards goes unseen) and answers each with an OCPI success."""

    def __init__(self, expected_auth: str) -> None:
        self.expected_auth = expected_auth
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.clientinfo = 0  # the hub's own ClientInfo pushes, counted apart

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if "/hubclientinfo" in scope["path"]:
            self.clientinfo += 1
        else:
            self.requests.append((scope["method"], scope["path"], headers, body))
        answer = json.dumps(envelope()).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]})
        await send({"type": "http.response.body", "body": answer})


class World:
    def __init__(self, hub: RunningHub, cpo: FakePlatform, emsp: FakePlatform, recorders: list[Recorder],
                 ticket_path: str, access_log: io.BytesIO) -> None:
        self.hub = hub
        self.cpo = cpo
        self.emsp = emsp
        self.recorders = recorders
        self.ticket_path = ticket_path  # a genuine callback URL's path (a command the eMSP sent to the CPO)
        self.access_log = access_log

    def __repr__(self) -> str:
        return f"World(hub at {self.hub.base_url})"

    def counts(self) -> list[int]:
        return [len(r.requests) for r in self.recorders]

    def tokens(self) -> list[str]:
        return [t for p in (self.cpo, self.emsp) for t in (p.token_for_hub, p.token_to_hub or "") if t]


@pytest.fixture(scope="module")
async def shared_world(module_net: Network) -> World:
    log = io.BytesIO()
    # Abuse limits off: thousands of requests from one address, many with bad tokens, would otherwise turn
    # into 429s before reaching what is fuzzed here (the limits have tests of their own).
    hub = await module_net.hub(log_stream=log, request_timeout=3.0, max_body_bytes=LIMIT, rate_limit=0,
                               auth_failures_per_minute=0)
    station, msp = cpo("cpo"), emsp("emsp")
    recorders = []
    for platform in (station, msp):
        recorder = Recorder(token_header(platform.token_for_hub))
        port = free_port()
        await module_net.stack.enter_async_context(served(recorder, port))
        platform.module_base = f"http://127.0.0.1:{port}"
        recorders.append(recorder)
        await module_net.registered(hub, platform)
    status, _, _ = await msp.call("POST", "commands", "RECEIVER", "/START_SESSION", to=station.party(),
                                  body={"response_url": f"{msp.module_base}/results/1", "location_id": "LOC1"})
    assert status == 200
    ticket_url = json.loads(recorders[0].requests[-1][3])["response_url"]
    return World(hub, station, msp, recorders, urlsplit(ticket_url).path, log)


@pytest.fixture
def world(shared_world: World, caplog: pytest.LogCaptureFixture) -> Iterator[World]:
    caplog.set_level(logging.INFO)
    yield shared_world
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR], "the hub logged an error"
    logged = caplog.text + shared_world.access_log.getvalue().decode("utf-8", "replace")
    assert not [t for t in shared_world.tokens() if t in logged], "a token reached a log"


# -- the wire ----------------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def send(hub: RunningHub, method: str, target: str, headers: list[tuple[str, str]],
               body: bytes | None) -> Answer:
    """One request, exactly these bytes, on its own connection; the whole answer."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
    url = urlsplit(hub.base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(request)
        async with asyncio.timeout(10):
            raw = await reader.read()
    finally:
        writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    if found.get("transfer-encoding") == "chunked":
        payload = _dechunk(payload)
    return Answer(int(status_line.split(" ")[1]), found, payload)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2:]


def is_json(body: bytes) -> bool:
    """The standard library's judgement (strict UTF-8, no NaN/Infinity): independent of the hub's check."""
    def refuse(constant: str) -> None:
        raise ValueError(constant)
    try:
        json.loads(body.decode("utf-8"), parse_constant=refuse)
    except (ValueError, RecursionError):
        return False
    return True


def is_envelope(answer: Answer) -> bool:
    try:
        data = answer.json()
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("status_code"), int) and "timestamp" in data


# -- what is generated -------------------------------------------------------------------------------
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=24)
SEGMENT = st.one_of(
    st.sampled_from(["LOC1", "EVSE1", "1", "NL", "CPO", "DE", "MSP", "HUB", "START_SESSION", "TOKEN1",
                     "authorize", "..", ".", "", "%2F", "%2e%2e", "%FF", "%00", "%C0%AF", "a%20b", "é"]),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"), max_size=10),
).map(lambda s: quote(s, safe="%.:@!$&'()*+,;=~-_") if s not in ("..", ".") else s)
QUERY = st.one_of(st.just(""), st.lists(st.tuples(st.sampled_from(["offset", "limit", "date_from", "response_url",
                                                                   "type", "x"]), HEADER_TEXT), max_size=3)
                  .map(lambda kv: "?" + "&".join(f"{k}={quote(v)}" for k, v in kv)))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)
OCPI_FIELDS = st.fixed_dictionaries({}, optional={
    "id": st.text(max_size=8), "country_code": st.sampled_from(["NL", "DE", "XX", "nl"]),
    "party_id": st.sampled_from(["CPO", "MSP", "HUB", "ZZZ"]), "location_id": st.sampled_from(["LOC1", "LOC9", ""]),
    "evse_uid": st.sampled_from(["NL*CPO*E1", "DE*MSP*E1", "x"]), "session_id": st.text(max_size=6),
    "contract_id": st.sampled_from(["DE-MSP-C00122045-K", "NL-CPO-C00000001", "?"]),
    "cdr_token": st.fixed_dictionaries({"country_code": st.sampled_from(["DE", "NL"]),
                                        "party_id": st.sampled_from(["MSP", "CPO", "ABC"])}),
    "response_url": st.sampled_from(["http://127.0.0.1:1/cb", "not a url", "https://127.0.0.1:9/r?x=1"]),
    "last_updated": st.just("2026-01-01T00:00:00Z"), "vendor": JSON_VALUES,
})
BAD_UTF8 = [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]


class Body(tuple[str, bytes | None]):
    """(kind, bytes), shown short when Hypothesis reports a failing case."""

    def __repr__(self) -> str:
        kind, data = self
        if data is None:
            return f"Body({kind!r}, None)"
        return f"Body({kind!r}, {data[:60]!r}{'...' if len(data) > 60 else ''}, {len(data)} bytes)"


def _body(draw: st.DrawFn) -> tuple[str, bytes | None]:
    """(kind, body); kinds in BAD are never JSON (or are too large) by construction."""
    kind = draw(st.sampled_from(["none", "empty", "json", "ocpi", "ocpi", "deep", "bad_utf8", "truncated",
                                 "garbage", "too_large"]))
    if kind == "none":
        return kind, None
    if kind == "empty":
        return kind, b""
    if kind == "json":
        return kind, json.dumps(draw(JSON_VALUES), ensure_ascii=draw(st.booleans())).encode()
    if kind == "ocpi":
        return kind, json.dumps(draw(OCPI_FIELDS), ensure_ascii=draw(st.booleans())).encode()
    if kind == "deep":
        depth = draw(st.sampled_from([MAX_DEPTH + 1, 995, 50_000]))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        return kind, opener * depth + b"1" * (opener != b"[") + closer * depth
    if kind == "bad_utf8":
        text = json.dumps(draw(OCPI_FIELDS))
        cut = draw(st.integers(0, max(0, len(text) - 2)))
        # Inside a string: right after an opening quote (there is always one in '{"..."}' or '{}' + a key).
        at = text.find('"', cut)
        text = text if at >= 0 else '{"x":"y"}'
        at = at if at >= 0 else 6
        return kind, text[:at + 1].encode() + draw(st.sampled_from(BAD_UTF8)) + text[at + 1:].encode()
    if kind == "truncated":
        value = draw(st.one_of(st.dictionaries(st.text(max_size=5), JSON_VALUES, min_size=1, max_size=3),
                               st.lists(JSON_VALUES, min_size=1, max_size=3)))
        return kind, json.dumps(value).encode()[:-1]
    if kind == "garbage":
        return kind, draw(st.binary(min_size=1, max_size=40))
    return kind, b'{"data":"' + b"x" * LIMIT + b'"}'


@st.composite
def bodies(draw: st.DrawFn) -> Body:
    return Body(_body(draw))


BAD = {"deep", "bad_utf8", "truncated", "too_large"}


def body_is_bad(kind: str, body: bytes | None) -> bool:
    return kind in BAD or (kind == "garbage" and body is not None and not is_json(body))


def auth_header(world: World, who: str, garbage: str) -> list[tuple[str, str]]:
    if who == "missing":
        return []
    token = {"cpo": world.cpo.token_to_hub or "", "emsp": world.emsp.token_to_hub or "",
             "unknown": "not-a-token-of-this-hub"}.get(who)
    if who == "plain-cpo":
        return [("Authorization", f"Token {world.cpo.token_to_hub}")]
    if token is None:
        return [("Authorization", garbage)]
    return [("Authorization", token_header(token))]


def check_common(world: World, answer: Answer, before: list[int], headers: list[tuple[str, str]]) -> bool:
    """Properties of every answer; returns whether a partner received something."""
    assert answer.status < 500, (answer.status, answer.body[:300])
    # GET credentials shows the caller the token it presented (the spec's credentials object); nothing else.
    presented = " ".join(value for name, value in headers if name == "Authorization")
    leaked = [t for t in world.tokens() if t.encode() in answer.body and t not in presented
              and token_header(t) not in presented]
    assert not leaked, "an answer holds a token"
    for recorder, seen in zip(world.recorders, before, strict=True):
        for _, _, headers, body in recorder.requests[seen:]:
            assert headers.get("authorization") == recorder.expected_auth, "forwarded with the wrong token"
            assert not body or is_json(body), f"forwarded a body that is not JSON: {body[:80]!r}"
    return world.counts() != before


async def settle(world: World) -> None:
    """Broadcast deliveries run after the answer: wait for them before the next request is judged."""
    broadcaster = world.hub.app.state.routing.broadcaster if world.hub.app.state else None
    for _ in range(500):
        if broadcaster is None or broadcaster.pending == 0:
            return
        await asyncio.sleep(0.002)


async def assert_alive(world: World) -> None:
    answer = await send(world.hub, "GET", "/healthz", [], None)
    assert answer.status == 200
    status, _, data = await world.emsp.call("GET", "locations", "SENDER", "/LOC1", to=world.cpo.party())
    assert status == 200 and data["status_code"] == 1000


# -- the routing path --------------------------------------------------------------------------------
# Requests that route (a coherent sender, method, endpoint and receiver), as the starting point of each case:
# a case mutates a few of their parts, so that bad bodies and headers also reach the stages behind a valid
# route. Hypothesis shrinks a failure towards fewer mutations, i.e. towards a request that nearly routes.
TEMPLATES = [  # who, method, callback, interface, module, suffix, from, to
    ("emsp", "GET", None, "sender", "locations", "/LOC1", "self", "other"),
    ("cpo", "PUT", None, "receiver", "locations", "/NL/CPO/LOC1", "self", "other"),
    ("cpo", "PATCH", None, "receiver", "sessions", "/NL/CPO/S1", "self", "other"),
    ("cpo", "POST", None, "receiver", "cdrs", "", "missing", "other"),
    ("emsp", "POST", None, "receiver", "commands", "/START_SESSION", "self", "other"),
    ("cpo", "POST", None, "sender", "tokens", "/TOKEN1/authorize", "self", "missing"),
    ("emsp", "PUT", None, "receiver", "tokens", "/DE/MSP/TOKEN1", "self", "other"),
    ("cpo", "PUT", None, "receiver", "locations", "/NL/CPO/LOC2", "self", "hub"),  # broadcast
    ("emsp", "GET", None, "sender", "locations", "", "self", "hub"),  # GET all
    ("cpo", "POST", "ticket", "-", "-", "", "missing", "missing"),  # callback
]
MUTATIONS: dict[str, st.SearchStrategy[Any]] = {
    "who": st.sampled_from(["cpo", "emsp", "plain-cpo", "unknown", "missing", "garbage"]),
    "method": st.sampled_from(["GET", "PUT", "PATCH", "POST", "DELETE", "HEAD", "OPTIONS", "FOO"]),
    "callback": st.sampled_from([None, "ticket", "forged"]),
    "interface": st.sampled_from(["sender", "receiver", "SENDER", "x"]),
    "module": st.sampled_from([*ROUTED_MODULES, "hubclientinfo", "credentials", "", "zz"]),
    "suffix": st.lists(SEGMENT, max_size=4).map(lambda s: "".join("/" + x for x in s)),
    "from": st.sampled_from(["self", "other", "hub", "missing", "random"]),
    "to": st.sampled_from(["other", "self", "hub", "missing", "random", "unknown"]),
}
FIELDS = ("who", "method", "callback", "interface", "module", "suffix", "from", "to")


@st.composite
def routing_cases(draw: st.DrawFn) -> dict[str, Any]:
    case: dict[str, Any] = dict(zip(FIELDS, draw(st.sampled_from(TEMPLATES)), strict=True))
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        case[field] = draw(MUTATIONS[field])
    case |= {"garbage": draw(HEADER_TEXT), "query": draw(QUERY), "body": draw(bodies()),
             "random_party": draw(st.tuples(HEADER_TEXT, HEADER_TEXT)),
             "content_type": draw(st.sampled_from(["application/json", "text/plain", None]))}
    return case


def party_headers(world: World, case: dict[str, Any]) -> list[tuple[str, str]]:
    me, other = (world.cpo, world.emsp) if case["who"] in ("cpo", "plain-cpo") else (world.emsp, world.cpo)
    choices = {"self": (me.party().country_code, me.party().party_id),
               "other": (other.party().country_code, other.party().party_id),
               "hub": ("NL", "HUB"), "random": case["random_party"], "unknown": ("XX", "YYY")}
    out: list[tuple[str, str]] = []
    for side, key in (("from", case["from"]), ("to", case["to"])):
        if key in choices:
            cc, pid = choices[key]
            out += [(f"OCPI-{side}-country-code", cc), (f"OCPI-{side}-party-id", pid)]
    return out


@settings(FUZZ, max_examples=1400)
@given(case=routing_cases())
async def test_fuzz_routing_path(world: World, case: dict[str, Any]) -> None:
    if case["callback"] == "ticket":
        target = world.ticket_path
    elif case["callback"] == "forged":
        target = "/ocpi/2.2.1/callback/" + quote(case["garbage"], safe="") + case["suffix"]
    else:
        target = f"/ocpi/2.2.1/{case['interface']}/{case['module']}{case['suffix']}"
    target += case["query"]
    kind, body = case["body"]
    headers = auth_header(world, case["who"], case["garbage"]) + party_headers(world, case)
    if case["content_type"] and body is not None:
        headers.append(("Content-Type", case["content_type"]))
    before = world.counts()
    answer = await send(world.hub, case["method"], target, headers, body)
    await settle(world)
    forwarded = check_common(world, answer, before, headers)
    if not forwarded:
        assert case["method"] == "HEAD" or is_envelope(answer), (answer.status, answer.body[:300])
    if case["who"] in ("unknown", "missing", "garbage"):
        assert 400 <= answer.status < 500, (kind, answer.status, answer.body[:300])
        assert not forwarded, "bad input reached a partner"
    elif body_is_bad(kind, body):
        # Refused for the body (400), or by an OCPI-layer check that ran before the body was read (a spoofed
        # sender, no receiver...): HTTP 200 with an error code (status codes chapter). Never forwarded.
        refused_in_ocpi = answer.status == 200 and is_envelope(answer) and answer.json()["status_code"] >= 2000
        assert 400 <= answer.status < 500 or refused_in_ocpi, (kind, answer.status, answer.body[:300])
        assert not forwarded, "bad input reached a partner"


async def test_hub_alive_after_fuzzing_the_routing_path(world: World) -> None:
    await assert_alive(world)


# -- the hub's own OCPI endpoints --------------------------------------------------------------------
OWN = st.fixed_dictionaries({
    "endpoint": st.sampled_from(["/ocpi/versions", "/ocpi/2.2.1", "/ocpi/2.2.1/hubclientinfo",
                                 "/ocpi/2.2.1/credentials", "/ocpi/2.2.1/credentials", "/ocpi/2.2.1/credentials",
                                 "/ocpi/", "/ocpi/2.2", "/ocpi/2.2.1/versions", "/ocpi/2.2.1/credentials/x"]),
    "method": st.sampled_from(["GET", "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
    "who": st.sampled_from(["cpo", "emsp", "unknown", "missing", "garbage", "plain-cpo"]),
    "garbage": HEADER_TEXT,
    "query": QUERY,
    "body": bodies(),
})


@settings(FUZZ, max_examples=700)
@given(case=OWN)
async def test_fuzz_own_ocpi_endpoints(world: World, case: dict[str, Any]) -> None:
    kind, body = case["body"]
    registered = case["who"] in ("cpo", "emsp", "plain-cpo")
    if case["endpoint"].startswith("/ocpi/2.2.1/credentials") and registered:
        # With a registered platform's token only what must be refused before any handshake: a body that is
        # not JSON (POST/PUT), or none; never DELETE (it would unregister the test's partner).
        if case["method"] == "DELETE" or (case["method"] in ("POST", "PUT") and not body_is_bad(kind, body)):
            case["method"], body, kind = "GET", None, "none"
    headers = auth_header(world, case["who"], case["garbage"])
    if body is not None:
        headers.append(("Content-Type", "application/json"))
    before = world.counts()
    answer = await send(world.hub, case["method"], case["endpoint"] + case["query"], headers, body)
    forwarded = check_common(world, answer, before, headers)
    assert not forwarded, "the hub's own endpoints forward nothing"
    assert case["method"] == "HEAD" or is_envelope(answer), (answer.status, answer.body[:300])
    # Every one of these endpoints wants a known token; a credentials body must be JSON before anything else.
    reads_body = case["endpoint"] == "/ocpi/2.2.1/credentials" and case["method"] in ("POST", "PUT")
    if not registered or (reads_body and body_is_bad(kind, body)):
        assert 400 <= answer.status < 500, (answer.status, answer.body[:300])


async def test_hub_alive_after_fuzzing_its_own_endpoints(world: World) -> None:
    await assert_alive(world)
    _, platforms = await world.hub.admin("GET", "/admin/platforms")
    assert [p["status"] for p in platforms[:2]] == ["CONNECTED", "CONNECTED"], "the partners stayed registered"


# -- the admin API -----------------------------------------------------------------------------------
CLOSED_PORT = free_port()  # registrations point here: on loopback, and nothing listens
SAFE_URLS = st.sampled_from([f"http://127.0.0.1:{CLOSED_PORT}/versions", "ftp://127.0.0.1/versions", "versions",
                             "", "http://", "http://[::1", f"https://127.0.0.1:{CLOSED_PORT}/v?x=1", "javascript:x"])
ADMIN_BODIES = st.one_of(
    bodies(),
    st.fixed_dictionaries({}, optional={"versions_url": SAFE_URLS, "token": st.one_of(HEADER_TEXT, st.integers()),
                                        "name": st.text(max_size=10), "extra": JSON_VALUES})
    .map(lambda d: ("ocpi", json.dumps(d).encode())),
    st.fixed_dictionaries({}, optional={"name": st.text(max_size=10), "parties": st.lists(st.fixed_dictionaries(
        {"country_code": st.sampled_from(["NL", "DE", "N", "nl"]), "party_id": st.sampled_from(["CPO", "ZZZ", "AB"]),
         "role": st.sampled_from(["CPO", "EMSP", "KING"])}), max_size=2)})
    .map(lambda d: ("ocpi", json.dumps(d).encode())),
    st.dictionaries(st.sampled_from(["rate_limit", "x", "max_answer_bytes", ""]), JSON_VALUES, max_size=2)
    .map(lambda d: ("ocpi", json.dumps(d).encode())),
)
ADMIN = st.fixed_dictionaries({
    "method": st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"]),
    "path": st.sampled_from(["/admin/invitations", "/admin/registrations", "/admin/platforms",
                             "/admin/platforms/{id}", "/admin/platforms/{id}/settings", "/admin/platforms/{id}/suspend",
                             "/admin/platforms/{id}/unsuspend", "/admin/nothing", "/admin/"]),
    # Never the ids of the test's partners: suspending or deleting them would change the world.
    "id": st.one_of(st.integers(1000, 2**70).map(str), st.sampled_from(["-1", "0", "1e3", "abc", "%2F", quote("١٢")]),
                    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#%"),
                            min_size=1, max_size=6).filter(lambda s: not s.isdigit()).map(quote)),
    "token": st.sampled_from(["valid", "valid", "valid", "wrong", "missing", "basic"]),
    "body": ADMIN_BODIES,
})


def registrations_are_safe(case: dict[str, Any]) -> bool:
    """No generated body may name an http(s) URL the hub would contact, other than the closed loopback port."""
    _, body = case["body"]
    if not body or not body.lstrip().startswith(b"{"):
        return True
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return True
    url = data.get("versions_url") if isinstance(data, dict) else None
    return not (isinstance(url, str) and re.match(r"(?i)\s*https?:", url) and f"127.0.0.1:{CLOSED_PORT}/" not in url)


@settings(FUZZ, max_examples=600)
@given(case=ADMIN.filter(registrations_are_safe))
async def test_fuzz_admin_api(world: World, case: dict[str, Any]) -> None:
    kind, body = case["body"]
    token = {"valid": f"Bearer {world.hub.admin_token}", "wrong": "Bearer nope", "basic": "Basic YTpi"}
    headers = [("Authorization", token[case["token"]])] if case["token"] in token else []
    if body is not None:
        headers.append(("Content-Type", "application/json"))
    registration = case["path"] == "/admin/registrations"
    if registration:
        _, before_platforms = await world.hub.admin("GET", "/admin/platforms")
    path = case["path"].replace("{id}", case["id"])
    before = world.counts()
    answer = await send(world.hub, case["method"], path, headers, body)
    forwarded = check_common(world, answer, before, headers)
    assert not forwarded
    if answer.status == 307 and "//" in urlsplit(path).path.replace("%2F", "/"):
        # Starlette's trailing-slash redirect of an id that decodes to "/" (see the module docstring).
        return
    assert not answer.body or isinstance(answer.json(), dict | list), answer.body[:300]
    if case["token"] != "valid":
        assert answer.status in (401, 404, 405), answer.status
    if body_is_bad(kind, body) and case["method"] in ("POST", "PATCH") and case["token"] == "valid":
        assert 400 <= answer.status < 500, answer.status
    if registration:
        _, after_platforms = await world.hub.admin("GET", "/admin/platforms")
        assert after_platforms == before_platforms, "the registration fuzz adds no platform (nothing answers it)"


async def test_hub_alive_after_fuzzing_the_admin_api(world: World) -> None:
    await assert_alive(world)
