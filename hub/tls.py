"""Inbound TLS: ``ocpi-hub serve`` terminating HTTPS itself, optionally asking for client certificates.

Hypercorn does the TLS (``certfile``, ``keyfile``, ``ca_certs``, ``verify_mode``) but hands the
application no client certificate: its scope has no ASGI TLS extension. To pin a platform to its
certificate without a proxy in front, :func:`expose_client_certificates` hooks Hypercorn's
per-connection server: when a TLS connection is accepted (its handshake done), the peer certificate
is read once from the connection's ``ssl_object``, and every request on that connection carries it
as the ASGI TLS extension (``scope["extensions"]["tls"]["client_cert_chain"]``), which
``routing.peer`` reads. Cost: one ``getpeercert`` and one small wrapper per TLS connection, one dict
store per request; plain-HTTP connections are left as they were.

Behind a TLS-terminating proxy, the proxy's verified-certificate header is read instead
(``OCPI_HUB_TLS_CLIENT_CERT_HEADER``, from ``OCPI_HUB_TRUSTED_PROXIES`` only): see ``routing.peer``.
"""

from __future__ import annotations

import inspect
import logging
import ssl
from typing import Any

from hub.config import Config

log = logging.getLogger("ocpihub.tls")

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
_EXPECTED_INIT = ["self", "app", "loop", "config", "context", "state", "reader", "writer"]


def configure(hc: Any, config: Config) -> None:
    """Set Hypercorn's TLS options from the hub's settings (nothing when no certificate is set)."""
    if not config.tls_cert_file:
        return
    hc.certfile = config.tls_cert_file
    hc.keyfile = config.tls_key_file
    # HTTP/1.1 only: it is what the hub is tested and measured with (HTTP/2 would arrive through ALPN).
    hc.alpn_protocols = ["http/1.1"]
    if config.tls_client_ca_file:
        hc.ca_certs = config.tls_client_ca_file
        hc.verify_mode = ssl.CERT_REQUIRED if config.tls_client_cert_required else ssl.CERT_OPTIONAL


def tls_extension(ssl_object: Any) -> dict[str, Any]:
    """The ASGI TLS extension of one connection (``client_cert_chain`` holds the peer's certificate as
    PEM, the first and only entry: Python 3.11 gives no verified chain)."""
    der = ssl_object.getpeercert(binary_form=True)
    name = None
    if der:
        from cryptography import x509

        try:
            name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
        except ValueError:
            name = None
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": name,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


class _WithTls:
    """Hypercorn's app wrapper for one TLS connection: every request's scope gets the connection's
    TLS extension."""

    __slots__ = ("app", "tls")

    def __init__(self, app: Any, tls: dict[str, Any]) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: Any, receive: Any, send: Any, sync_spawn: Any, call_soon: Any) -> None:
        extensions = scope.get("extensions")
        if extensions is None:
            extensions = scope["extensions"] = {}
        extensions["tls"] = self.tls
        await self.app(scope, receive, send, sync_spawn, call_soon)


def expose_client_certificates() -> None:
    """Hook Hypercorn's asyncio/uvloop workers so that requests on TLS connections carry the ASGI TLS
    extension. Idempotent; raises at start-up (not at the first request) if this Hypercorn is shaped
    differently from the one it was written for, so that pinning never silently sees no certificate."""
    from hypercorn.asyncio import run as hypercorn_run
    from hypercorn.asyncio.tcp_server import TCPServer

    current = getattr(hypercorn_run, "TCPServer", None)
    if getattr(current, "exposes_client_certificates", False):
        return
    if current is not TCPServer or list(inspect.signature(TCPServer.__init__).parameters) != _EXPECTED_INIT:
        raise RuntimeError(
            "this Hypercorn version serves connections differently from the one ocpi-hub hooks to read client "
            "certificates; pin platforms through a TLS-terminating proxy (OCPI_HUB_TLS_CLIENT_CERT_HEADER) instead")

    class TCPServerWithClientCertificate(TCPServer):
        exposes_client_certificates = True

        def __init__(self, app: Any, loop: Any, config: Any, context: Any, state: Any, reader: Any,
                     writer: Any) -> None:
            ssl_object = writer.get_extra_info("ssl_object")
            if ssl_object is not None:
                try:
                    app = _WithTls(app, tls_extension(ssl_object))
                except (OSError, ValueError):  # the peer went away mid-handshake: no certificate to pass on
                    log.debug("could not read the TLS peer certificate", exc_info=True)
            super().__init__(app, loop, config, context, state, reader, writer)

    # worker_serve looks the name up in its module each time a connection arrives.
    setattr(hypercorn_run, "TCPServer", TCPServerWithClientCertificate)  # noqa: B010
    log.debug("client certificates of TLS connections are passed to the application")
