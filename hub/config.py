"""The hub's configuration: one frozen object built once from ``OCPI_HUB_*`` variables and CLI flags.

An unknown ``OCPI_HUB_*`` variable or a malformed value stops startup with a message naming the key.
Nothing below ``hub`` reads the environment; this object is passed down.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from routing import timeouts
from routing.answer_budget import DEFAULT_ANSWER_BUFFER_BYTES, DEFAULT_MAX_ANSWER_BYTES
from routing.outbound_policy import DEFAULT_ALLOW, parse_allow

PREFIX = "OCPI_HUB_"


class ConfigError(Exception):
    pass


class Config(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str | None = None
    database_pool_size: int = 5
    data_dir: str = "./.ocpi-hub"
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    country_code: str = "NL"
    party_id: str = "HUB"
    name: str = "ocpi-hub"
    admin_token: str | None = None
    max_body_bytes: int = 10 * 1024 * 1024
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    answer_buffer_bytes: int = DEFAULT_ANSWER_BUFFER_BYTES
    connect_timeout: float = 5.0
    request_timeout: float = 30.0
    connections_per_receiver: int = 64
    callback_ttl: float = 3600.0
    location_ttl: float = 30 * 24 * 3600.0
    # None: routing.timeouts.DEFAULT (real-time authorization bounded at 10 s, or the request timeout if shorter).
    module_timeouts: str | None = None
    token_grace_seconds: float = 600.0
    registry_reload_seconds: float = 30.0
    still_alive_seconds: float = 300.0
    offline_after_failures: int = 3
    broadcast_concurrency: int = 64
    broadcast_receiver_concurrency: int = 16
    broadcast_backlog_entries: int = 200_000
    broadcast_backlog_bytes: int = 128 * 1024 * 1024
    broadcast_receiver_backlog_entries: int = 50_000
    broadcast_receiver_backlog_bytes: int = 32 * 1024 * 1024
    broadcast_max_age: float = 120.0
    broadcast_shutdown_seconds: float = 5.0
    learned_routes_max: int = 1_000_000
    background_concurrency: int = 32
    background_loop_share: float = 0.1
    command_timeout: int = 60
    translation_memory_bytes: int = 32 * 1024 * 1024
    agreements: str = "open"
    outbound_client: str = "native"
    # None: the built-in default (loopback only, for a local run), said at start-up; "" allows public
    # addresses only.
    outbound_allow: str | None = None
    outbound_allow_http: bool = True
    outbound_ca_file: str | None = None
    workers: int = 1
    drain_seconds: float = 5.0
    shutdown_grace_seconds: float = 30.0
    keep_alive_seconds: float = 75.0
    receive_seconds: float = 30.0
    log_level: str = "INFO"
    rate_limit: float = 200.0
    rate_limit_burst: int = 1000
    auth_failures_per_minute: int = 30
    trusted_proxies: str = ""
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_client_ca_file: str | None = None
    tls_client_cert_required: bool = True
    tls_client_cert_header: str | None = None
    secrets_key: str | None = None
    secrets_old_keys: str = ""

    @property
    def outbound_allow_ranges(self) -> str:
        """The allow-list in force: the setting, or the built-in default when it is unset."""
        return DEFAULT_ALLOW if self.outbound_allow is None else self.outbound_allow

    @property
    def broadcast_persist_seconds(self) -> float:
        """An upper estimate of the time to write a full broadcast backlog to the outbox at shutdown:
        ~15 µs an entry and ~100 MB/s of bodies were measured on a shared 2-core machine; this allows
        3-5 times that (the Helm chart derives the pod's grace period from the same figures)."""
        return self.broadcast_backlog_entries / 20_000 + self.broadcast_backlog_bytes / (20 * 1024 * 1024)

    @property
    def base_url(self) -> str:
        """The URL partners reach us on: from config, never from a request's Host header."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"{'https' if self.tls_cert_file else 'http'}://{self.host}:{self.port}"

    @property
    def module_timeout_table(self) -> dict[str, float]:
        """Per-module forwarding timeouts in force (see ``routing.timeouts``)."""
        if self.module_timeouts is not None:
            return timeouts.parse(self.module_timeouts)
        return {k: min(v, self.request_timeout) for k, v in timeouts.parse(timeouts.DEFAULT).items()}

    @property
    def trusted_proxy_networks(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.trusted_proxies.split(",") if p.strip())


# What each variable means, for error messages and ``ocpi-hub serve --help``.
DESCRIPTIONS: dict[str, str] = {
    "database_url": "PostgreSQL DSN; unset starts an embedded PostgreSQL in data_dir",
    "database_pool_size": "database connections per process for queries, at most (LISTEN and the leader lease "
                          "use one more each)",
    "data_dir": "where the embedded database lives",
    "host": "interface to listen on",
    "port": "TCP port to listen on",
    "public_url": "base URL the hub advertises (default http://HOST:PORT)",
    "country_code": "the hub's own country code (role HUB)",
    "party_id": "the hub's own party id (role HUB)",
    "name": "business name the hub gives in its credentials",
    "admin_token": "bearer token of the admin API (default: random, printed once at start)",
    "max_body_bytes": "largest request body accepted (413 beyond)",
    "max_answer_bytes": "largest receiver answer the hub reads (4003 beyond, checked before reading a declared length)",
    "answer_buffer_bytes": "receivers' answer bytes held in memory at once, per process (429/4003 beyond)",
    "connect_timeout": "seconds to open a connection to a receiver",
    "request_timeout": "seconds a forwarded request may take in all (4002 beyond)",
    "connections_per_receiver": "open connections per receiver host at most",
    "callback_ttl": "seconds a rewritten response_url stays valid (RESERVE_NOW: until its expiry_date and as "
                    "long again)",
    "location_ttl": "seconds a Location header the hub had to replace by a ticket (a CDR's, off the receiver's "
                    "endpoint) stays reachable through the hub",
    "module_timeouts": "per-module forwarding timeouts, module=seconds comma-separated (modules, authorize, "
                       "callback); others take request_timeout",
    "token_grace_seconds": "after a credentials update: seconds the platform's previous token stays valid "
                           "(until it uses the new one)",
    "registry_reload_seconds": "full registry reload interval (safety net behind LISTEN/NOTIFY)",
    "still_alive_seconds": "silence after which a platform's versions endpoint is probed",
    "offline_after_failures": "failed probes or forwards in a row before a platform is OFFLINE",
    "broadcast_concurrency": "broadcast deliveries in flight at once: the number of delivery workers (per process)",
    "broadcast_receiver_concurrency": "broadcast deliveries in flight at once to one receiving party",
    "broadcast_backlog_entries": "broadcast deliveries waiting at most, in all (per process; beyond: 429)",
    "broadcast_backlog_bytes": "memory the waiting broadcast deliveries may take, in all (per process; beyond: 429)",
    "broadcast_receiver_backlog_entries": "broadcast deliveries waiting at most for one receiving party (beyond: 429)",
    "broadcast_receiver_backlog_bytes": "memory the deliveries waiting for one receiving party may take (beyond: 429)",
    "broadcast_max_age": "seconds a broadcast delivery may wait before it is dropped (counted as expired)",
    "broadcast_shutdown_seconds": "after SIGTERM: seconds to go on delivering broadcasts before the rest is "
                                  "written to the outbox",
    "learned_routes_max": "entries per kind that open routing keeps in memory",
    "background_concurrency": "still-alive probes, and ClientInfo pushes, in flight at once (per process)",
    "background_loop_share": "share of the event loop's time each background job may take (registry changes and "
                             "reloads, learned-route merges, still-alive walks), in slices of about a millisecond",
    "command_timeout": "seconds announced as a command answer's `timeout` to 2.2+ requesters when the CPO speaks "
                       "2.1.1 (whose answers have none)",
    "translation_memory_bytes": "bytes of Locations and Tokens kept per process for translating Sessions, CDRs "
                                "and authorizations to and from OCPI 2.1.1",
    "agreements": "open (anyone may reach anyone) or required (data flows only under roaming agreements)",
    "outbound_client": "native (asyncio + httptools, the default) or aiohttp (a fallback, slower)",
    "outbound_allow": "address ranges (CIDRs, comma-separated) partners may have the hub call besides public "
                      "addresses; empty: public only (default 127.0.0.0/8,::1/128 for a local run)",
    "outbound_allow_http": "whether the hub may call partners over plain http (false: https only)",
    "outbound_ca_file": "PEM bundle of extra CAs trusted for partners' certificates (beside the system store)",
    "workers": "Hypercorn worker processes (metrics are then aggregated through PROMETHEUS_MULTIPROC_DIR)",
    "drain_seconds": "after SIGTERM: seconds /readyz answers 503 (and answers close their connection) "
                     "before the listener closes",
    "shutdown_grace_seconds": "after the listener closes: seconds in-flight requests may take to finish",
    "keep_alive_seconds": "seconds an idle client connection stays open (also bounds a first request head)",
    "receive_seconds": "seconds a client may take to send a request head, and again its body (slow clients "
                       "are cut off)",
    "log_level": "DEBUG, INFO, WARNING or ERROR",
    "rate_limit": "requests per second a platform may make, per process (0: unlimited); per-platform override",
    "rate_limit_burst": "requests a platform may make at once above its rate; per-platform override",
    "auth_failures_per_minute": "failed authentications per client address before it is throttled (0: never)",
    "trusted_proxies": "comma-separated CIDRs of proxies whose X-Forwarded-For and client-certificate header count",
    "tls_cert_file": "PEM certificate (chain) to serve HTTPS with (with tls_key_file)",
    "tls_key_file": "PEM private key of tls_cert_file",
    "tls_client_ca_file": "PEM CA bundle that client certificates must chain to (mutual TLS)",
    "tls_client_cert_required": "with tls_client_ca_file: refuse TLS connections without a client certificate",
    "tls_client_cert_header": "header a trusted proxy forwards the verified client certificate in",
    "secrets_key": "base64 key (32 bytes) that seals outbound tokens in the database (default: a key file)",
    "secrets_old_keys": "comma-separated earlier keys, accepted for reading during a key rotation",
}

_FIELDS = set(Config.__struct_fields__)
_ROOM_FOR_REQUEST = 64 * 1024  # an entry's own bookkeeping, path and query beside its body


def load(environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    """Config from ``OCPI_HUB_*`` variables, then non-``None`` overrides (CLI flags) on top."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX):].lower()
        if name not in _FIELDS:
            raise ConfigError(f"unknown setting {key}; known: {', '.join(PREFIX + f.upper() for f in sorted(_FIELDS))}")
        raw[name] = value
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        config = msgspec.convert(raw, Config, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid setting: {_name_key(str(exc))}") from None
    _validate(config)
    return config


def _name_key(message: str) -> str:
    # msgspec says "... - at `$.port`": name the variable instead.
    return re.sub(r"`\$\.(\w+)`", lambda m: PREFIX + m.group(1).upper(), message)


def _validate(config: Config) -> None:
    if not re.fullmatch(r"[A-Za-z]{2}", config.country_code):
        raise ConfigError(f"{PREFIX}COUNTRY_CODE must be 2 letters, got {config.country_code!r}")
    if not re.fullmatch(r"[A-Za-z0-9]{3}", config.party_id):
        raise ConfigError(f"{PREFIX}PARTY_ID must be 3 letters or digits, got {config.party_id!r}")
    if config.public_url and not re.match(r"https?://", config.public_url):
        raise ConfigError(f"{PREFIX}PUBLIC_URL must start with http:// or https://")
    if config.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"{PREFIX}LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
    for name in ("max_body_bytes", "max_answer_bytes", "answer_buffer_bytes", "connections_per_receiver", "port",
                 "offline_after_failures", "broadcast_concurrency", "learned_routes_max", "workers",
                 "database_pool_size", "broadcast_receiver_concurrency", "broadcast_backlog_entries",
                 "broadcast_backlog_bytes", "broadcast_receiver_backlog_entries", "broadcast_receiver_backlog_bytes",
                 "background_concurrency", "command_timeout", "translation_memory_bytes"):
        if getattr(config, name) < (0 if name == "port" else 1):
            raise ConfigError(f"{PREFIX}{name.upper()} must be positive")
    for name in ("connect_timeout", "request_timeout", "callback_ttl", "location_ttl", "registry_reload_seconds",
                 "still_alive_seconds", "shutdown_grace_seconds", "keep_alive_seconds", "receive_seconds",
                 "broadcast_max_age"):
        if getattr(config, name) <= 0:
            raise ConfigError(f"{PREFIX}{name.upper()} must be a positive number of seconds")
    if not 0 < config.background_loop_share <= 1:
        raise ConfigError(f"{PREFIX}BACKGROUND_LOOP_SHARE must be above 0 and at most 1")
    if config.agreements not in ("open", "required"):
        raise ConfigError(f"{PREFIX}AGREEMENTS must be open or required")
    if config.outbound_client not in ("native", "aiohttp"):
        raise ConfigError(f"{PREFIX}OUTBOUND_CLIENT must be native or aiohttp")
    if config.drain_seconds < 0:
        raise ConfigError(f"{PREFIX}DRAIN_SECONDS must not be negative")
    try:
        parse_allow(config.outbound_allow or "")
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}OUTBOUND_ALLOW: {exc}") from None
    try:
        timeouts.parse(config.module_timeouts or "")
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}MODULE_TIMEOUTS: {exc}") from None
    if config.outbound_ca_file and not Path(config.outbound_ca_file).is_file():
        raise ConfigError(f"{PREFIX}OUTBOUND_CA_FILE: no such file {config.outbound_ca_file!r}")
    if config.answer_buffer_bytes < config.max_answer_bytes:
        raise ConfigError(f"{PREFIX}ANSWER_BUFFER_BYTES must be at least {PREFIX}MAX_ANSWER_BYTES "
                          "(an answer larger than the whole budget could never be read)")
    if config.token_grace_seconds < 0:
        raise ConfigError(f"{PREFIX}TOKEN_GRACE_SECONDS must not be negative")
    _validate_broadcast(config)
    _validate_security(config)


def _validate_broadcast(config: Config) -> None:
    if config.broadcast_shutdown_seconds < 0:
        raise ConfigError(f"{PREFIX}BROADCAST_SHUTDOWN_SECONDS must not be negative")
    if config.broadcast_receiver_backlog_entries > config.broadcast_backlog_entries:
        raise ConfigError(f"{PREFIX}BROADCAST_RECEIVER_BACKLOG_ENTRIES must not exceed "
                          f"{PREFIX}BROADCAST_BACKLOG_ENTRIES")
    if config.broadcast_receiver_backlog_bytes > config.broadcast_backlog_bytes:
        raise ConfigError(f"{PREFIX}BROADCAST_RECEIVER_BACKLOG_BYTES must not exceed {PREFIX}BROADCAST_BACKLOG_BYTES")
    # A push as large as the body limit must fit an empty receiver backlog, or it could never be accepted.
    if config.broadcast_receiver_backlog_bytes < config.max_body_bytes + _ROOM_FOR_REQUEST:
        raise ConfigError(f"{PREFIX}BROADCAST_RECEIVER_BACKLOG_BYTES must be at least {PREFIX}MAX_BODY_BYTES + "
                          f"{_ROOM_FOR_REQUEST} (one push of the largest body must fit)")


def _validate_security(config: Config) -> None:
    if config.rate_limit < 0:
        raise ConfigError(f"{PREFIX}RATE_LIMIT must not be negative (0 turns it off)")
    if config.rate_limit_burst < 1:
        raise ConfigError(f"{PREFIX}RATE_LIMIT_BURST must be positive")
    if config.auth_failures_per_minute < 0:
        raise ConfigError(f"{PREFIX}AUTH_FAILURES_PER_MINUTE must not be negative (0 turns it off)")
    for text in config.trusted_proxy_networks:
        try:
            ipaddress.ip_network(text, strict=True)
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}TRUSTED_PROXIES: {text!r} is not a network in CIDR notation ({exc})") from None
    if bool(config.tls_cert_file) != bool(config.tls_key_file):
        raise ConfigError(f"{PREFIX}TLS_CERT_FILE and {PREFIX}TLS_KEY_FILE must be set together")
    if config.tls_client_ca_file and not config.tls_cert_file:
        raise ConfigError(f"{PREFIX}TLS_CLIENT_CA_FILE needs {PREFIX}TLS_CERT_FILE and {PREFIX}TLS_KEY_FILE")
    for name in ("tls_cert_file", "tls_key_file", "tls_client_ca_file"):
        path = getattr(config, name)
        if path and not os.access(path, os.R_OK):
            raise ConfigError(f"{PREFIX}{name.upper()}: cannot read {path}")
    if config.tls_client_cert_header and not config.trusted_proxy_networks:
        raise ConfigError(f"{PREFIX}TLS_CLIENT_CERT_HEADER is only read from {PREFIX}TRUSTED_PROXIES: set those too")
    from partners.secrets import SecretsKeyError, parse_key

    try:
        if config.secrets_key:
            parse_key(config.secrets_key)
        for text in config.secrets_old_keys.split(","):
            if text.strip():
                parse_key(text, f"{PREFIX}SECRETS_OLD_KEYS")
    except SecretsKeyError as exc:
        raise ConfigError(str(exc)) from None


def data_path(config: Config) -> Path:
    return Path(config.data_dir).expanduser().resolve()
