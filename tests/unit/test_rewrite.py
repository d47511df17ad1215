from __future__ import annotations

import pytest

from routing.rewrite import (
    rebase_url,
    rewrite_body_response_url,
    rewrite_link_header,
    rewrite_query_response_url,
)

UP = "https://cpo.example.com/ocpi/cpo/2.2.1/locations"
HUB = "https://hub.example.com/ocpi/2.2.1/sender/locations"


@pytest.mark.parametrize(("url", "expected", "clean"), [
    (f"{UP}?offset=50&limit=50", f"{HUB}?offset=50&limit=50", True),
    (f"{UP}/?offset=50", f"{HUB}/?offset=50", True),
    (f"{UP}/LOC1", f"{HUB}/LOC1", True),
    # Another host name, same path: salvaged.
    ("http://10.0.0.7:8080/ocpi/cpo/2.2.1/locations?offset=9", f"{HUB}?offset=9", False),
    # Somewhere else entirely: only the query is kept.
    ("https://other/x/y?offset=3&limit=3", f"{HUB}?offset=3&limit=3", False),
])
def test_rebase_url(url: str, expected: str, clean: bool) -> None:
    assert rebase_url(url, UP, HUB) == (expected, clean)


def test_prefix_must_end_at_a_segment_boundary() -> None:
    assert rebase_url(UP + "extra", UP, HUB)[1] is False


def test_link_header_keeps_its_parameters() -> None:
    value = f'<{UP}?offset=100&limit=100&date_from=2016-01-01T00:00:00Z>; rel="next"'
    assert rewrite_link_header(value, UP, HUB) == (
        f'<{HUB}?offset=100&limit=100&date_from=2016-01-01T00:00:00Z>; rel="next"', True)


def test_broken_link_header_is_passed_without_crash() -> None:
    assert rewrite_link_header(f"<{UP}?offset=1", UP, HUB) == (f"<{UP}?offset=1", False)


def test_body_response_url_is_replaced_and_the_rest_kept() -> None:
    out = rewrite_body_response_url(b'{"response_url": "https://msp/cb", "location_id": "L1"}', lambda u: u + "!")
    assert out == b'{"response_url":"https://msp/cb!","location_id":"L1"}'


@pytest.mark.parametrize("body", [b"[]", b'{"x": 1}', b'{"response_url": 5}', b"not json"])
def test_body_without_response_url_is_left_alone(body: bytes) -> None:
    assert rewrite_body_response_url(body, lambda u: "X") is None


def test_query_response_url_is_replaced() -> None:
    out = rewrite_query_response_url("duration=900&response_url=https%3A%2F%2Fmsp%2Fcb%3Fid%3D1", lambda u: "H/" + u)
    assert out == "duration=900&response_url=H%2Fhttps%3A%2F%2Fmsp%2Fcb%3Fid%3D1"
    assert rewrite_query_response_url("duration=900", lambda u: u) is None


@pytest.mark.parametrize(("body", "expected"), [
    # JSON the hub's body check accepts must be rewritten, whatever another parser thinks of it; the
    # other values come back as written (no float in between).
    (b'{"response_url": "https://msp/cb", "n": 1e400, "price": 0.10, "big": 123456789012345678901234567890}',
     b'{"response_url":"H","n":1E+400,"price":0.10,"big":123456789012345678901234567890}'),
    # A key in another case is what a case-insensitive receiver binds as its response_url.
    (b'{"Response_URL": "https://msp/cb", "location_id": "L1"}', b'{"Response_URL":"H","location_id":"L1"}'),
    (b'{"response_url": "https://a", "RESPONSE_URL": "https://b"}', b'{"response_url":"H","RESPONSE_URL":"H"}'),
])
def test_every_response_url_a_receiver_could_read_is_replaced(body: bytes, expected: bytes) -> None:
    assert rewrite_body_response_url(body, lambda u: "H") == expected


def test_query_response_url_in_another_case_is_replaced() -> None:
    assert rewrite_query_response_url("Response_Url=https%3A%2F%2Fmsp%2Fcb", lambda u: "H") == "Response_Url=H"
