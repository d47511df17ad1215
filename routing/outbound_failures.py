"""What went wrong on an outbound call, in words a partner or operator can act on.

Failures of the forwarding clients and the registration client arrive as Python exceptions (the
standard library's or aiohttp's); partners and operators see one sentence naming the host and what
failed: never an exception class name, never a token.
"""

from __future__ import annotations

import socket
import ssl

import aiohttp

from routing.outbound_policy import OutboundRefused


class PinMismatch(ssl.SSLError):
    """The certificate a partner presented is not the one pinned for its platform."""


def describe(exc: BaseException, host: str, port: int, *, connect_seconds: float | None = None,
             answer_seconds: float | None = None) -> str:
    """One sentence for a failed outbound call to ``host:port``."""
    where = f"{host}:{port}"
    if isinstance(exc, aiohttp.ServerFingerprintMismatch):
        return f"TLS certificate of {host} does not match the fingerprint pinned for this platform"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        exc = exc.certificate_error
    elif isinstance(exc, aiohttp.ClientConnectorError):
        exc = exc.os_error
    if isinstance(exc, OutboundRefused):
        return exc.message
    if isinstance(exc, PinMismatch):
        return f"TLS certificate of {host} does not match the fingerprint pinned for this platform"
    if isinstance(exc, ssl.SSLCertVerificationError | ssl.CertificateError):
        reason = getattr(exc, "verify_message", "") or ""
        return f"TLS certificate of {host} is not trusted" + (f" ({reason})" if reason else "")
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        return f"TLS handshake with {where} failed" + (f" ({reason.lower().replace('_', ' ')})" if reason else "")
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return f"no connection to {where}" + (f" within {connect_seconds:g} s" if connect_seconds else " in time")
    if isinstance(exc, TimeoutError):
        return "no answer" + (f" within {answer_seconds:g} s" if answer_seconds else " in time") + f" from {where}"
    if isinstance(exc, socket.gaierror):
        return f"could not resolve host {host}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where}"
    if isinstance(exc, ConnectionResetError | aiohttp.ServerDisconnectedError):
        return f"{where} closed the connection without answering"
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return f"{where} did not answer valid HTTP"
    if isinstance(exc, aiohttp.InvalidURL | ValueError):
        return "not a valid URL"
    if isinstance(exc, OSError) and exc.strerror:
        return f"could not connect to {where} ({exc.strerror[0].lower()}{exc.strerror[1:]})"
    return f"could not connect to {where}"
