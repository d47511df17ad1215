"""Path confinement as a table: what a routed request target becomes, or why it is refused."""

from __future__ import annotations

import pytest

from partners.errors import MethodNotAllowedError
from partners.model import InterfaceRole
from routing.modules import RoutePath
from routing.paths import CallbackPath, NoSuchEndpointError, UnsafePathError, confine

P = "/ocpi/2.2.1"


@pytest.mark.parametrize(("raw", "module", "interface", "segments", "suffix"), [
    (f"{P}/receiver/tokens/DE/MSP/TOK1", "tokens", "RECEIVER", ("DE", "MSP", "TOK1"), "/DE/MSP/TOK1"),
    (f"{P}/sender/locations", "locations", "SENDER", (), ""),
    # The collection is the receiver's endpoint as it advertised it, whatever the caller's slash.
    (f"{P}/sender/tariffs/", "tariffs", "SENDER", (), ""),
    (f"{P}/sender/tariffs//", "tariffs", "SENDER", (), ""),
    (f"{P}/sender/locations/LOC1/", "locations", "SENDER", ("LOC1",), "/LOC1/"),
    (f"{P}/receiver//tokens//DE/MSP///TOK1", "tokens", "RECEIVER", ("DE", "MSP", "TOK1"), "/DE/MSP/TOK1"),
    # Reserved characters in ids pass as the caller encoded them; the rules read them decoded.
    (f"{P}/sender/tokens/AB%20CD/authorize", "tokens", "SENDER", ("AB CD", "authorize"), "/AB%20CD/authorize"),
    (f"{P}/receiver/locations/NL/CPO/LOC.1", "locations", "RECEIVER", ("NL", "CPO", "LOC.1"), "/NL/CPO/LOC.1"),
    (f"{P}/receiver/locations/NL/CPO/...", "locations", "RECEIVER", ("NL", "CPO", "..."), "/NL/CPO/..."),
    (f"{P}/receiver/locations/NL/CPO/L%3B1", "locations", "RECEIVER", ("NL", "CPO", "L;1"), "/NL/CPO/L%3B1"),
])
def test_clean_paths(raw: str, module: str, interface: str, segments: tuple[str, ...], suffix: str) -> None:
    found = confine("PUT", raw.encode(), "ignored")
    assert isinstance(found, RoutePath)
    assert (found.module, found.interface, found.segments, found.suffix) == (
        module, InterfaceRole(interface), segments, suffix)


@pytest.mark.parametrize(("raw", "module", "segments", "suffix"), [
    (f"{P}/sender/locationsLOC1", "locations", ("LOC1",), "/LOC1"),
    (f"{P}/sender/locationsLOC1/EVSE1/1", "locations", ("LOC1", "EVSE1", "1"), "/LOC1/EVSE1/1"),
    (f"{P}/receiver/locationsNL/CPO/LOC1", "locations", ("NL", "CPO", "LOC1"), "/NL/CPO/LOC1"),
    (f"{P}/receiver/commandsSTART_SESSION", "commands", ("START_SESSION",), "/START_SESSION"),
    (f"{P}/sender/tokens012345678/authorize", "tokens", ("012345678", "authorize"), "/012345678/authorize"),
    (f"{P}/receiver/chargingprofilesS%201", "chargingprofiles", ("S 1",), "/S%201"),
    (f"{P}/receiver/cdrsCDR1/", "cdrs", ("CDR1",), "/CDR1/"),
])
def test_endpoint_and_id_glued_without_a_slash(raw: str, module: str, segments: tuple[str, ...], suffix: str) -> None:
    found = confine("GET", raw.encode(), "ignored")
    assert isinstance(found, RoutePath)
    assert (found.module, found.segments, found.suffix, found.tolerated) == (module, segments, suffix, "glued_path")
    clean = confine("GET", f"{P}/sender/locations/LOC1".encode(), "ignored")
    assert isinstance(clean, RoutePath) and clean.tolerated is None


@pytest.mark.parametrize("raw", [
    f"{P}/receiver/tokens..",  # a dot segment once the module is split off
    f"{P}/receiver/tokens%2e%2e/credentials",
    f"{P}/receiver/tokens%2Fx",
    f"{P}/receiver/tokens/DE/MSP/TOK1/../../../../credentials",
    f"{P}/receiver/tokens/DE/MSP/TOK1/%2e%2e/%2e%2e/%2e%2e/%2e%2e/credentials",
    f"{P}/receiver/tokens/DE/MSP/TOK1/%2E%2e/x",
    f"{P}/receiver/tokens/DE/MSP/TOK1/.%2E/x",
    f"{P}/receiver/tokens/DE/MSP/TOK1/%2e./x",
    f"{P}/receiver/tokens/DE/MSP/./TOK1",
    f"{P}/receiver/tokens/DE/MSP/%2e/TOK1",
    f"{P}/receiver/tokens/DE/MSP/TOK1/..;jsessionid=1/x",  # stripped to '..' by some servers
    f"{P}/receiver/tokens/DE/MSP/TOK1/..",
    f"{P}/receiver/tokens/DE%2FMSP/TOK1",
    f"{P}/receiver/tokens/DE%2fMSP%2f..%2f..%2fcredentials",
    f"{P}/receiver/tokens/DE/MSP/TOK1%5C..%5Ccredentials",
    f"{P}/receiver/tokens/DE/MSP/TOK1\\..\\credentials",
    f"{P}/receiver/tokens/DE/MSP/%252e%252e/x",  # encoded twice
    f"{P}/receiver/tokens/DE/MSP/TOK1%252F..",
    f"{P}/./receiver/tokens/DE/MSP/TOK1",
    f"{P}/receiver/../credentials",
])
def test_paths_that_could_leave_the_module_endpoint_are_refused(raw: str) -> None:
    with pytest.raises(UnsafePathError) as caught:
        confine("DELETE", raw.encode(), "ignored")
    assert caught.value.http_status == 404 and caught.value.ocpi_status == 2001


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "OPTIONS", "HEAD", "PROPFIND", "get"])
def test_only_the_five_ocpi_methods_are_routed(method: str) -> None:
    with pytest.raises(MethodNotAllowedError) as caught:
        confine(method, f"{P}/sender/locations/LOC1".encode(), "ignored")
    assert caught.value.http_status == 405


@pytest.mark.parametrize("raw", [f"{P}/sender/nothing", f"{P}/elsewhere/locations", f"{P}/receiver", "/ocpi/2.2/x/y"])
def test_paths_naming_no_endpoint_are_404(raw: str) -> None:
    with pytest.raises(NoSuchEndpointError):
        confine("GET", raw.encode(), raw)


def test_callback_ticket_with_nothing_after_it() -> None:
    found = confine("POST", f"{P}/callback/abc_-DEF.gh-_I".encode(), "ignored")
    assert isinstance(found, CallbackPath) and found.ticket == "abc_-DEF.gh-_I"
    for junk in ("/x", "/", "/../../credentials", "%2F..", ".extra"):
        with pytest.raises(UnsafePathError):
            confine("POST", f"{P}/callback/abc.def{junk}".encode(), "ignored")


def test_without_a_raw_path_the_decoded_path_is_encoded_again() -> None:
    found = confine("GET", None, f"{P}/sender/tokens/AB CD/authorize")
    assert isinstance(found, RoutePath) and found.suffix == "/AB%20CD/authorize"
    with pytest.raises(UnsafePathError):
        confine("GET", None, f"{P}/sender/tokens/../../credentials")


@pytest.mark.parametrize("raw", [
    f"{P}/receiver/%6CocationsNL/CPO/LOC1",  # decoded: locationsNL; raw cut at 9 would forward '/nsNL/...'
    f"{P}/sender/locatio%6EsLOC1",
])
def test_a_glued_module_name_sent_encoded_is_no_endpoint(raw: str) -> None:
    # What the policy checks (the decoded segments) and what is forwarded (the raw suffix) must be one path.
    with pytest.raises(NoSuchEndpointError):
        confine("PUT", raw.encode(), "ignored")


def test_an_encoded_module_name_on_its_own_is_the_module() -> None:
    found = confine("GET", f"{P}/sender/%6Cocations/LOC1".encode(), "ignored")
    assert isinstance(found, RoutePath) and (found.module, found.segments, found.suffix) == (
        "locations", ("LOC1",), "/LOC1")
