"""Where a routed request goes on the receiver's side, and per-module timeouts, as tables."""

from __future__ import annotations

import pytest

from partners.model import InterfaceRole
from routing.receiver_urls import CollectionUrls, redirects_to_twin
from routing.timeouts import Timeouts, parse

EP = "https://cpo.example/ocpi/2.2.1/tariffs"


@pytest.mark.parametrize(("endpoint", "suffix", "url"), [
    (EP, "", EP),
    (EP + "/", "", EP + "/"),  # a collection: the endpoint exactly as advertised
    (EP, "/T1", EP + "/T1"),
    (EP + "/", "/T1", EP + "/T1"),  # never '//'
    (EP + "/", "/T1/", EP + "/T1/"),
])
def test_forwarded_url(endpoint: str, suffix: str, url: str) -> None:
    assert CollectionUrls().url(endpoint, suffix) == url


@pytest.mark.parametrize(("sent", "location", "twin"), [
    (EP + "?limit=5", EP + "/?limit=5", True),
    (EP + "/?limit=5", EP + "?limit=5", True),
    (EP + "?limit=5", "/ocpi/2.2.1/tariffs/?limit=5", True),  # relative
    (EP, EP + "/", True),
    (EP + "?limit=5", EP + "/?limit=6", False),  # another query
    (EP, "https://other.example/ocpi/2.2.1/tariffs/", False),
    (EP, "http://cpo.example/ocpi/2.2.1/tariffs/", False),  # another scheme
    (EP, EP + "/x", False),
    (EP, EP, False),
])
def test_redirect_to_the_slash_twin(sent: str, location: str, twin: bool) -> None:
    assert redirects_to_twin(sent, location) is twin


def test_a_slash_redirect_is_learned_per_endpoint_and_nothing_else_is() -> None:
    urls = CollectionUrls()
    assert not urls.learn(EP, EP + "?limit=5", 200, EP + "/?limit=5")  # not a redirect
    assert not urls.learn(EP, EP + "?limit=5", 307, "https://evil.example/")
    assert urls.url(EP, "") == EP
    assert urls.learn(EP, EP + "?limit=5", 307, EP + "/?limit=5")
    assert urls.url(EP, "") == EP + "/" and urls.url(EP, "/T1") == EP + "/T1"
    assert urls.url("https://other.example/t", "") == "https://other.example/t"
    assert urls.learn(EP, EP + "/", 308, EP)  # it changed its mind: back
    assert urls.url(EP, "") == EP


def test_module_timeouts() -> None:
    table = parse("authorize=4, locations=60,callback=5")
    timeouts = Timeouts(30.0, table)
    S, R = InterfaceRole.SENDER, InterfaceRole.RECEIVER
    assert timeouts.of("tokens", S, "POST", ("012345678", "authorize")) == 4
    assert timeouts.of("tokens", S, "GET", ()) == 30
    assert timeouts.of("tokens", R, "PUT", ("DE", "MSP", "authorize")) == 30  # a token whose uid is 'authorize'
    assert timeouts.of("locations", S, "GET", ()) == 60
    assert timeouts.callback == 5
    assert Timeouts(30.0, parse("tokens=8")).of("tokens", S, "POST", ("X", "authorize")) == 8


@pytest.mark.parametrize("text", ["nothing=3", "locations", "locations=fast", "locations=0", "authorize=-1"])
def test_bad_module_timeouts_are_refused_naming_the_item(text: str) -> None:
    with pytest.raises(ValueError, match=text.split("=")[0]):
        parse(text)
