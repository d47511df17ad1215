"""How the hub checks the certificates of the partners it calls.

By default a partner's certificate must chain to the system CA store (plus the operator's extra
bundle, ``OCPI_HUB_OUTBOUND_CA_FILE``) and name the host. A platform's ``outbound_tls`` setting may
pin its certificate instead (its SHA-256 fingerprint is then the only check: self-signed partners)
or relax the check for that platform alone. There is no hub-wide way to switch verification off.

The contexts are built once: a TLS context costs milliseconds to make and is shared by every
connection that uses it.
"""

from __future__ import annotations

import hashlib
import logging
import ssl

import aiohttp

from partners.model import OutboundTls
from routing.outbound_failures import PinMismatch

log = logging.getLogger("ocpihub.outbound")


class TlsContexts:
    def __init__(self, ca_file: str | None = None) -> None:
        self.ca_file = ca_file
        self.verified = ssl.create_default_context()
        if ca_file:
            # In addition to the system store, not instead of it.
            self.verified.load_verify_locations(cafile=ca_file)
        # For pinned platforms (checked by fingerprint after the handshake) and relaxed ones.
        self.unverified = ssl.create_default_context()
        self.unverified.check_hostname = False
        self.unverified.verify_mode = ssl.CERT_NONE

    def context(self, tls: OutboundTls | None) -> ssl.SSLContext:
        if tls is None or (tls.verify and tls.pin_sha256 is None):
            return self.verified
        return self.unverified

    def check(self, tls: OutboundTls | None, ssl_object: ssl.SSLObject | ssl.SSLSocket | None, host: str) -> None:
        """After the handshake: the pinned fingerprint, if any, is the presented certificate's.
        Raises :class:`PinMismatch`."""
        if tls is None:
            return
        pin = tls.pin
        if pin is None:
            if not tls.verify:
                log.warning("TLS certificate of %s not checked (verify=false in this platform's settings)", host)
            return
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der is None or hashlib.sha256(der).digest() != pin:
            raise PinMismatch(f"certificate of {host} is not the pinned one")

    def for_aiohttp(self, tls: OutboundTls | None) -> ssl.SSLContext | aiohttp.Fingerprint:
        """The ``ssl`` argument of an aiohttp request to a platform with these settings."""
        pin = tls.pin if tls is not None else None
        if pin is not None:
            return aiohttp.Fingerprint(pin)
        return self.context(tls)
