"""Outbound failures said in words: each exception the clients meet, as the sentence a partner or an
operator reads (never a class name)."""

from __future__ import annotations

import socket
import ssl

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from routing.outbound_failures import PinMismatch, describe
from routing.outbound_policy import OutboundRefused, Rule

KEY = ConnectionKey("partner.example", 443, True, True, None, None, None, None)


def untrusted(reason: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {reason}")
    error.verify_message = reason
    return error


@pytest.mark.parametrize(("exc", "words"), [
    (socket.gaierror(-2, "Name or service not known"), "could not resolve host partner.example"),
    (aiohttp.ClientConnectorDNSError(KEY, socket.gaierror(-2, "Name or service not known")),
     "could not resolve host partner.example"),
    (ConnectionRefusedError(111, "Connection refused"), "connection refused by partner.example:443"),
    (aiohttp.ClientConnectorError(KEY, ConnectionRefusedError(111, "Connection refused")),
     "connection refused by partner.example:443"),
    (TimeoutError(), "no answer within 15 s from partner.example:443"),
    (aiohttp.ConnectionTimeoutError(), "no connection to partner.example:443 within 5 s"),
    (untrusted("self-signed certificate"),
     "TLS certificate of partner.example is not trusted (self-signed certificate)"),
    (aiohttp.ClientConnectorCertificateError(KEY, untrusted("Hostname mismatch, certificate is not valid for "
                                                             "'partner.example'.")),
     "TLS certificate of partner.example is not trusted (Hostname mismatch, certificate is not valid for "
     "'partner.example'.)"),
    (PinMismatch("nope"), "TLS certificate of partner.example does not match the fingerprint pinned for this platform"),
    (aiohttp.ServerFingerprintMismatch(b"a" * 32, b"b" * 32, "127.0.0.1", 443),
     "TLS certificate of partner.example does not match the fingerprint pinned for this platform"),
    (ConnectionResetError(104, "Connection reset by peer"),
     "partner.example:443 closed the connection without answering"),
    (aiohttp.ServerDisconnectedError(), "partner.example:443 closed the connection without answering"),
    (aiohttp.ClientPayloadError("truncated"), "partner.example:443 did not answer valid HTTP"),
    (OSError(101, "Network is unreachable"), "could not connect to partner.example:443 (network is unreachable)"),
    (aiohttp.ClientConnectorError(KEY, OutboundRefused(Rule.PRIVATE, "https://partner.example/v", "partner.example",
                                                       "10.0.0.1")),
     "the hub does not connect to https://partner.example/v: partner.example resolves to a private address "
     "(outbound address policy)"),
])
def test_failures_in_words(exc: BaseException, words: str) -> None:
    said = describe(exc, "partner.example", 443, connect_seconds=5, answer_seconds=15)
    assert said == words
    assert "Error" not in said and "Exception" not in said


def test_tls_handshake_failure_names_the_reason_in_lower_case() -> None:
    error = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    error.reason = "WRONG_VERSION_NUMBER"
    assert describe(error, "partner.example", 443) == ("TLS handshake with partner.example:443 failed "
                                                       "(wrong version number)")
