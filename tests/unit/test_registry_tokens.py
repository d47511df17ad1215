"""The registry snapshot's view of tokens: the spelling each platform is sent, and a previous token's
grace after a credentials update (pure: rows in, lookups out, the clock passed in)."""

from __future__ import annotations

from typing import Any

from partners.model import ConnectionStatus
from partners.registry import PlatformRow, build_snapshot
from partners.tokens import TokenEncoding, hash_token
from routing.versions import OcpiVersion


def row(**overrides: Any) -> PlatformRow:
    values: dict[str, Any] = {
        "id": 7, "name": "p", "status": ConnectionStatus.CONNECTED, "token_hash": hash_token("new-token"),
        "outbound_token": "their-token", "versions_url": "https://p.example/versions", "version": "2.1.1",
        "endpoints": [{"identifier": "credentials", "url": "https://p.example/2.1.1/credentials"}],
    }
    return PlatformRow(**(values | overrides))


def test_outbound_headers_follow_the_learned_spellings() -> None:
    snapshot = build_snapshot([row(token_encoding=TokenEncoding.PLAIN,
                                   versions_token_encoding=TokenEncoding.BASE64)], [])
    platform = snapshot.platforms[7]
    assert platform.version is OcpiVersion.V2_1_1
    assert platform.outbound_auth == "Token their-token"
    assert platform.versions_auth == "Token dGhlaXItdG9rZW4="
    assert platform.outbound_token is not None and platform.outbound_token.reveal() == "their-token"
    assert platform.credentials_url == "https://p.example/2.1.1/credentials"
    same = build_snapshot([row()], []).platforms[7]
    assert same.outbound_auth == same.versions_auth == "Token dGhlaXItdG9rZW4="
    assert build_snapshot([row(endpoints=[])], []).platforms[7].credentials_url is None


def test_previous_token_is_accepted_until_its_deadline_and_never_cached() -> None:
    snapshot = build_snapshot([row(previous_token_hash=hash_token("old-token"), previous_token_until=1000.0)], [])
    header = b"Token old-token"
    assert snapshot.platform_for_header(header, now=999.0) is snapshot.platforms[7]
    assert snapshot.platform_for_token("old-token", now=999.0) is snapshot.platforms[7]
    assert snapshot.platform_for_header(header, now=1000.0) is None, "a deadline passed within one snapshot"
    assert snapshot.platform_for_token("old-token", now=1000.5) is None
    assert snapshot.platform_for_header(b"Token unknown", now=0.0) is None


def test_first_use_of_the_new_token_is_reported_once_per_spelling() -> None:
    used: list[int] = []
    snapshot = build_snapshot([row(previous_token_hash=hash_token("old-token"), previous_token_until=1e12)], [])
    snapshot.new_token_used = used.append
    assert snapshot.platform_for_header(b"Token old-token") is not None
    assert used == [], "the old token is no sign that the new one arrived"
    for _ in range(3):
        assert snapshot.platform_for_header(b"Token new-token") is not None
    assert used == [7], "then cached: the request path reports it once"
    without = build_snapshot([row()], [])
    without.new_token_used = used.append
    without.platform_for_header(b"Token new-token")
    assert used == [7], "nothing to end when there is no previous token"


def test_a_platform_never_shows_its_tokens_when_printed() -> None:
    from partners.model import ConnectionStatus
    from partners.registry import Platform

    platform = Platform(id=7, name="cpo", status=ConnectionStatus.CONNECTED, registered=True, versions_url=None,
                        version=None, endpoints={}, parties=(), outbound_auth="Token c2VjcmV0LXRva2Vu",
                        versions_auth="Token secret-token")
    for text in (repr(platform), str(platform), f"{platform}", f"{platform!r}", repr([platform])):
        assert "c2VjcmV0LXRva2Vu" not in text and "secret-token" not in text and "id=7" in text
