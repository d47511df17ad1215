"""The outbound address policy as a table: every address class and spelling, without a socket.

These addresses are only ever judged here, never connected to (the integration tests use listeners
on 127.0.0.2 / 127.0.0.3 only)."""

from __future__ import annotations

import ipaddress

import pytest

from hub.config import ConfigError, load
from hub.outbound import build_policy
from routing.outbound_policy import (
    DEFAULT_ALLOW,
    OutboundPolicy,
    OutboundRefused,
    Rule,
    check_address,
    check_url,
    classify,
    host_address,
    parse_allow,
    policy,
    safe_url,
)

# The policy of a hub listening on 127.0.0.1:8080 that advertises https://hub.example.com, with the
# operator's allow-list empty (public addresses only).
STRICT = policy(allow="", allow_http=True, listen_host="127.0.0.1", listen_port=8080,
                public_url="https://hub.example.com")


@pytest.mark.parametrize(("address", "rule"), [
    # loopback, in every spelling of one address
    ("127.0.0.1", Rule.LOOPBACK),
    ("127.0.0.2", Rule.LOOPBACK),
    ("::1", Rule.LOOPBACK),
    ("::ffff:127.0.0.2", Rule.LOOPBACK),
    ("::127.0.0.1", Rule.LOOPBACK),  # IPv4-compatible (deprecated)
    ("64:ff9b::7f00:1", Rule.LOOPBACK),  # NAT64 of 127.0.0.1: is_global says True, the embedded IPv4 says no
    ("2002:7f00:1::1", Rule.LOOPBACK),  # 6to4 of 127.0.0.1
    # private (RFC 1918, ULA, site-local, local-use NAT64)
    ("10.0.0.1", Rule.PRIVATE),
    ("172.16.5.4", Rule.PRIVATE),
    ("172.31.255.255", Rule.PRIVATE),
    ("192.168.1.1", Rule.PRIVATE),
    ("::ffff:10.1.2.3", Rule.PRIVATE),
    ("64:ff9b::a00:1", Rule.PRIVATE),  # NAT64 of 10.0.0.1
    ("2002:c0a8:101::1", Rule.PRIVATE),  # 6to4 of 192.168.1.1
    ("fd00::1", Rule.PRIVATE),
    ("fc12:3456::1", Rule.PRIVATE),
    ("fec0::1", Rule.PRIVATE),
    ("64:ff9b:1::a", Rule.PRIVATE),
    # link-local, cloud metadata included
    ("169.254.169.254", Rule.LINK_LOCAL),
    ("::ffff:169.254.169.254", Rule.LINK_LOCAL),
    ("2002:a9fe:a9fe::1", Rule.LINK_LOCAL),
    ("fe80::1", Rule.LINK_LOCAL),
    ("febf::1", Rule.LINK_LOCAL),
    # carrier-grade NAT
    ("100.64.0.1", Rule.SHARED),
    ("100.127.255.254", Rule.SHARED),
    # multicast: is_global says True for 224.0.0.1
    ("224.0.0.1", Rule.MULTICAST),
    ("239.255.255.250", Rule.MULTICAST),
    ("ff02::1", Rule.MULTICAST),
    # unspecified and broadcast
    ("0.0.0.0", Rule.UNSPECIFIED),
    ("0.1.2.3", Rule.UNSPECIFIED),
    ("::", Rule.UNSPECIFIED),
    ("255.255.255.255", Rule.BROADCAST),
    # other non-public ranges
    ("192.0.2.10", Rule.RESERVED),
    ("198.18.0.1", Rule.RESERVED),
    ("240.0.0.1", Rule.RESERVED),
    ("2001:db8::1", Rule.RESERVED),
    ("::8.8.8.8", Rule.RESERVED),  # IPv4-compatible form of a public address: never needed, refused
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Rule.RESERVED),  # Teredo
    # public
    ("8.8.8.8", None),
    ("93.184.215.14", None),
    ("2606:4700::1111", None),
    ("::ffff:8.8.8.8", None),
    ("64:ff9b::808:808", None),  # NAT64 of a public address
    ("2002:808:808::1", None),  # 6to4 of a public address
])
def test_address_classes(address: str, rule: Rule | None) -> None:
    assert classify(ipaddress.ip_address(address)) is rule
    assert check_address(ipaddress.ip_address(address), 443, STRICT) is rule


@pytest.mark.parametrize("spelling", ["127.0.0.2", "127.2", "2130706434", "0x7f000002", "0177.0.0.2", "0x7f.2",
                                      "[::ffff:127.0.0.2]", "[::ffff:7f00:2]", "[0:0:0:0:0:ffff:127.0.0.2]"])
def test_every_spelling_of_one_address_is_that_address(spelling: str) -> None:
    assert host_address(spelling) is not None
    assert str(check_url_address(f"http://{spelling}:9000/versions")) == "127.0.0.2"
    with pytest.raises(OutboundRefused) as refused:
        check_url(f"http://{spelling}:9000/versions", STRICT)
    assert refused.value.rule is Rule.LOOPBACK
    assert f"http://{spelling}:9000/versions" in refused.value.message and "loopback" in refused.value.message


def check_url_address(url: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    from routing.outbound_policy import unmapped

    address = check_url(url, OutboundPolicy(allow=parse_allow("127.0.0.0/8"))).address
    return unmapped(address) if address is not None else None


@pytest.mark.parametrize("host", ["partner.example", "cafe.example", "deadbeef", "ocpi-1.partner.example"])
def test_names_are_not_addresses(host: str) -> None:
    assert host_address(host) is None
    assert check_url(f"https://{host}/ocpi/versions", STRICT).address is None


@pytest.mark.parametrize(("url", "rule"), [
    ("ftp://partner.example/versions", Rule.SCHEME),
    ("file:///etc/passwd", Rule.SCHEME),
    ("gopher://partner.example:70/", Rule.SCHEME),
    ("javascript:alert(1)", Rule.SCHEME),
    ("partner.example/versions", Rule.SCHEME),
    ("https://user:secret@partner.example/versions", Rule.USERINFO),
    ("https://user@partner.example/versions", Rule.USERINFO),
    ("https://@partner.example/versions", Rule.USERINFO),
    ("http://partner.example\\@127.0.0.2/", Rule.USERINFO),
    ("https:///versions", Rule.MALFORMED),
    ("https://partner.example:0/", Rule.MALFORMED),
    ("https://partner.example:99999/", Rule.MALFORMED),
    ("https://[::1/", Rule.MALFORMED),
    ("https://partner%2eexample/", Rule.MALFORMED),
    ("https://[fe80::1%25eth0]/", Rule.LINK_LOCAL),
    ("https://127.0.0.1:9000/ocpi/versions", Rule.LOOPBACK),
    ("https://127.0.0.1:8080/ocpi/versions", Rule.SELF),  # the hub's own listener
    ("https://169.254.169.254/latest/meta-data/", Rule.LINK_LOCAL),
    ("https://[fd00::1]:8443/", Rule.PRIVATE),
    ("https://10.0.0.5/", Rule.PRIVATE),
    ("https://hub.example.com/ocpi/2.2.1/receiver/locations", Rule.SELF),  # the hub's public URL
    ("https://HUB.example.com:443/ocpi/versions", Rule.SELF),
])
def test_urls_refused_before_resolving(url: str, rule: Rule) -> None:
    with pytest.raises(OutboundRefused) as refused:
        check_url(url, STRICT)
    assert refused.value.rule is rule


def test_public_urls_pass_and_other_ports_of_the_public_host_are_not_the_hub() -> None:
    for url in ("https://partner.example/ocpi/versions", "http://93.184.215.14:8080/versions",
                "https://hub.example.com:8443/ocpi/versions", "HTTPS://Partner.Example/x"):
        check_url(url, STRICT)


def test_https_only_refuses_plain_http_to_anyone() -> None:
    https_only = policy(allow="127.0.0.0/8", allow_http=False, listen_host="127.0.0.1", listen_port=8080,
                        public_url="http://127.0.0.1:8080")
    for url in ("http://partner.example/versions", "http://127.0.0.1:9000/versions"):
        with pytest.raises(OutboundRefused) as refused:
            check_url(url, https_only)
        assert refused.value.rule is Rule.PLAIN_HTTP
    assert check_url("https://127.0.0.1:9000/versions", https_only).port == 9000


def test_allow_list_opens_ranges_but_never_the_hub_itself() -> None:
    allowing = policy(allow="10.20.0.0/16, 127.0.0.0/8, fd00::/8", allow_http=True, listen_host="127.0.0.1",
                      listen_port=8080, public_url="http://127.0.0.1:8080")
    assert check_address(ipaddress.ip_address("10.20.3.4"), 443, allowing) is None
    assert check_address(ipaddress.ip_address("10.21.3.4"), 443, allowing) is Rule.PRIVATE
    assert check_address(ipaddress.ip_address("fd00::7"), 443, allowing) is None
    assert check_address(ipaddress.ip_address("127.0.0.1"), 9000, allowing) is None
    for address in ("127.0.0.1", "::ffff:127.0.0.1", "0.0.0.0", "::"):
        assert check_address(ipaddress.ip_address(address), 8080, allowing) is Rule.SELF, address
    # NAT64 leads to another machine's 127.0.0.1, not ours: the loopback range does not open it.
    assert check_address(ipaddress.ip_address("64:ff9b::7f00:1"), 443, allowing) is Rule.LOOPBACK
    # The built-in default is exactly the machine's loopback.
    assert parse_allow(DEFAULT_ALLOW) == (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def test_a_wildcard_listener_is_every_loopback_and_interface_address() -> None:
    wildcard = policy(allow="0.0.0.0/0, ::/0", allow_http=True, listen_host="0.0.0.0", listen_port=8080,
                      public_url="https://hub.example.com", local_addresses=["10.1.2.3", "fd00::5"])
    for address in ("127.0.0.5", "::1", "10.1.2.3", "fd00::5", "0.0.0.0"):
        assert check_address(ipaddress.ip_address(address), 8080, wildcard) is Rule.SELF, address
    assert check_address(ipaddress.ip_address("10.1.2.4"), 8080, wildcard) is None
    assert check_address(ipaddress.ip_address("10.1.2.3"), 8081, wildcard) is None


@pytest.mark.parametrize("text", ["10.0.0.0/33", "not-a-range", "10.0.0.0/8,,bad"])
def test_a_bad_allow_list_names_the_entry(text: str) -> None:
    with pytest.raises(ValueError, match="is not an address range"):
        parse_allow(text)


def test_messages_never_show_user_information_or_resolved_addresses() -> None:
    with pytest.raises(OutboundRefused) as refused:
        check_url("https://user:s3cr3t@partner.example/versions", STRICT)
    assert "s3cr3t" not in refused.value.message and "partner.example/versions" in refused.value.message
    assert safe_url("https://a:b@h.example:1/x?y=1") == "https://h.example:1/x?y=1"
    name = OutboundRefused(Rule.PRIVATE, "https://internal.example/v", "internal.example", "10.9.8.7")
    assert "10.9.8.7" not in name.message and "internal.example resolves to a private address" in name.message


def test_settings_become_the_policy_and_a_bad_one_stops_start_up_naming_it() -> None:
    chart = build_policy(load({"OCPI_HUB_OUTBOUND_ALLOW": "", "OCPI_HUB_OUTBOUND_ALLOW_HTTP": "false"}))
    assert chart.allow == () and chart.allow_http is False
    local = build_policy(load({}, port=9000))
    assert local.allow == parse_allow(DEFAULT_ALLOW) and local.allow_http is True
    assert check_address(ipaddress.ip_address("127.0.0.1"), 9000, local) is Rule.SELF
    with pytest.raises(ConfigError, match=r"OCPI_HUB_OUTBOUND_ALLOW: 'partner\.example' is not an address range"):
        load({"OCPI_HUB_OUTBOUND_ALLOW": "10.0.0.0/8,partner.example"})
    with pytest.raises(ConfigError, match="OCPI_HUB_OUTBOUND_CA_FILE"):
        load({"OCPI_HUB_OUTBOUND_CA_FILE": "/nonexistent/ca.pem"})
