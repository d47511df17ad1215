"""The ASGI application: Starlette for the hub's own endpoints, the raw routing app for the hot path.

One lifespan starts things in order (migrations -> pool -> registry + listener -> HTTP clients ->
routing) and closes them in reverse.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import re
import sys
import time
from collections.abc import AsyncIterator
from typing import Any, BinaryIO

import aiohttp
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub import outbound, tls
from hub.access_log import AccessLog
from hub.admin_token import generate as generate_admin_token
from hub.config import Config, ConfigError
from hub.endpoints import admin, credentials, health, hubclientinfo, versions
from hub.leader import LeaderLease
from hub.learning import LearnedSync
from hub.liveness import Liveness
from hub.metrics import Metrics
from hub.observer import HubObserver
from hub.outbound_auth import OutboundAuthFailures
from hub.responses import admin_error, ocpi_error
from hub.state import HubState
from hub.tickets import TicketCollector
from partners import secrets as sealing
from partners import store
from partners.errors import (
    ClientError,
    DatabaseUnavailableError,
    HubError,
    MethodNotAllowedError,
    NoSuchEndpointError,
    ServerError,
)
from partners.outage import Outage
from partners.outbox import PostgresOutbox
from partners.registration import HubIdentity, Registrar
from partners.registry import Registry, party_key
from partners.secrets import Keyring, SecretsKeyError
from partners.sync import Change, RegistrySync
from partners.tickets_store import PgTicketStore
from routing.backlog import Limits
from routing.broadcast import BroadcastSettings
from routing.forward import Forwarder
from routing.handler import Receive, RoutingApp, RoutingSettings, Scope, Send
from routing.learned import LearnedRoutes
from routing.modules import CALLBACK_PREFIX
from routing.outbound_guard import Resolver
from routing.perimeter import Perimeter, PerimeterSettings
from routing.policy import Policy
from routing.tickets import TicketBook
from routing.timeouts import Timeouts
from routing.translation_memory import TranslationMemory
from routing.version_endpoints import (
    HUB_VERSIONS,
    credentials_path,
    hubclientinfo_path,
    routed_prefixes,
    version_path,
)

log = logging.getLogger("ocpihub")

_ROUTED_PREFIXES = (*routed_prefixes(), CALLBACK_PREFIX)
_SLASHES = re.compile(r"//+")
_RAW_SLASHES = re.compile(rb"//+")


def _clean(path: str) -> str:
    """``path`` with ``//`` collapsed and no trailing slash: the form the hub's own routes are matched in,
    so that every endpoint answers with or without the slash (and no 307 redirect is ever made)."""
    if "//" in path:
        path = _SLASHES.sub("/", path)
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path


def _clean_raw(raw: bytes) -> bytes:
    """The request target's path (as sent, still percent-encoded) cleaned the way :func:`_clean` cleans the
    decoded one."""
    raw = raw.partition(b"?")[0]
    if b"//" in raw:
        raw = _RAW_SLASHES.sub(b"/", raw)
    if len(raw) > 1 and raw.endswith(b"/"):
        raw = raw.rstrip(b"/") or b"/"
    return raw


class HubApp:
    """ASGI entry point: routed paths go straight to :class:`RoutingApp`, everything else through
    Starlette (whose lifespan builds the state both use)."""

    def __init__(self, config: Config, dsn: str, *, admin_token: str | None = None,
                 log_stream: BinaryIO | None = None, resolver: Resolver | None = None,
                 secrets_key: str | None = None) -> None:
        self.config = config
        # Host names to addresses for every outbound call (None: the system's); tests inject a stub.
        self.resolver = resolver
        self.log_stream = log_stream
        self.dsn = dsn
        self.admin_token = admin_token or config.admin_token or generate_admin_token()
        key = secrets_key or config.secrets_key
        if not key:
            raise ConfigError("no secrets key: set OCPI_HUB_SECRETS_KEY (ocpi-hub serve makes a key file for the "
                              "embedded database)")
        try:
            self.keyring = Keyring.from_text(key, config.secrets_old_keys)
        except SecretsKeyError as exc:
            raise ConfigError(str(exc)) from None
        if config.tls_client_ca_file:
            tls.expose_client_certificates()
        self.state: HubState | None = None
        self.starlette = Starlette(
            routes=[
                Route("/ocpi/versions", versions.versions, methods=["GET"]),
                Route("/ocpi/versions/", versions.versions, methods=["GET"]),
                *_version_routes(),
                Route("/healthz", health.healthz, methods=["GET"]),
                Route("/readyz", health.readyz, methods=["GET"]),
                Route("/metrics", health.metrics, methods=["GET"]),
                *admin.routes,
            ],
            lifespan=self._lifespan,
            exception_handlers={HTTPException: _no_route, Exception: _unexpected,
                                **dict.fromkeys(store.UNREACHABLE_ERRORS, _database_down)},
        )
        # Paths are cleaned before routing (see _clean): a redirect to the other slash form would be built
        # from the Host header, as http:// behind a TLS-terminating proxy.
        self.starlette.router.redirect_slashes = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            # Routed paths are cleaned by path confinement itself (it reads the raw target).
            if self.state is not None and (path if "//" not in path else _clean(path)).startswith(_ROUTED_PREFIXES):
                await self.state.routing(scope, receive, send)
                return
            if path.endswith("/") or "//" in path:
                clean = _clean(path)
                if clean != path:
                    raw: bytes | None = scope.get("raw_path")
                    scope = dict(scope, path=clean, **({"raw_path": _clean_raw(raw)} if raw else {}))
        await self.starlette(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        config = self.config
        await store.migrate(self.dsn)
        async with contextlib.AsyncExitStack() as stack:
            pool = await store.create_pool(self.dsn, max_size=config.database_pool_size)
            stack.push_async_callback(pool.close)
            outage = Outage(store.unreachable)
            sealed = await sealing.prepare(pool, self.keyring)
            if sealed:
                log.info("sealed secrets stored in the clear by an earlier version", extra={"count": sealed})
            registry = Registry()
            metrics = Metrics(registry)
            access_log = AccessLog(self.log_stream or sys.stderr.buffer,
                                   enabled=logging.getLogger("ocpihub.request").isEnabledFor(logging.INFO))
            stack.callback(access_log.flush)
            guard, outbound_tls = outbound.build(config, metrics.outbound_refused, self.resolver)
            outbound.announce(config, guard.policy)
            forwarder = Forwarder(
                connect_timeout=config.connect_timeout,
                request_timeout=config.request_timeout,
                connections_per_receiver=config.connections_per_receiver,
                client=config.outbound_client,
                guard=guard,
                tls=outbound_tls,
                max_answer_bytes=config.max_answer_bytes,
                answer_buffer_bytes=config.answer_buffer_bytes,
                on_answer_refused=metrics.answer_refused,
            )
            stack.push_async_callback(forwarder.close)
            refusals = OutboundAuthFailures(pool, metrics.receiver_auth_refused)
            forwarder.on_hub_refused = refusals
            stack.push_async_callback(refusals.close)
            lease = LeaderLease(self.dsn, retry_seconds=min(5.0, config.still_alive_seconds), outage=outage)
            await lease.start()
            stack.push_async_callback(lease.stop)
            liveness = Liveness(registry, pool, forwarder, lease, still_alive_seconds=config.still_alive_seconds,
                                offline_after=config.offline_after_failures, concurrency=config.background_concurrency,
                                loop_share=config.background_loop_share, on_busy=metrics.background("still_alive"))

            def changed(change: Change) -> None:
                metrics.registry_changed(change)
                liveness.registry_changed(change)

            sync = RegistrySync(registry, pool, self.dsn, keyring=self.keyring,
                                full_reload_seconds=config.registry_reload_seconds, on_change=changed,
                                on_reload=metrics.reloaded, on_reload_failed=metrics.reload_failed, outage=outage,
                                loop_share=config.background_loop_share, on_busy=metrics.background("registry"))
            await sync.start()
            stack.push_async_callback(sync.stop)
            await liveness.start()
            stack.push_async_callback(liveness.stop)
            collector = TicketCollector(pool, lease)
            await collector.start()
            stack.push_async_callback(collector.stop)
            learned = LearnedRoutes(max_per_kind=config.learned_routes_max)
            memory = TranslationMemory(config.translation_memory_bytes)
            learned_sync = LearnedSync(learned, pool, outage=outage, loop_share=config.background_loop_share,
                                       on_busy=metrics.background("learned_routes"), memory=memory,
                                       on_dropped=metrics.dropped_unsaved)
            await learned_sync.start()
            stack.push_async_callback(learned_sync.stop)
            # The registration client: every address checked by the guard, partners' certificates by
            # `outbound_tls`.
            http = aiohttp.ClientSession(connector=guard.aiohttp_connector(ssl_context=outbound_tls.verified),
                                         cookie_jar=aiohttp.DummyCookieJar())
            stack.push_async_callback(http.close)
            identity = HubIdentity(
                country_code=config.country_code.upper(), party_id=config.party_id.upper(),
                name=config.name, public_url=config.base_url,
            )
            callback_key = await sealing.shared_key(pool, "callback_signing_key", self.keyring)
            routing = RoutingApp(
                registry,
                forwarder,
                RoutingSettings(
                    public_url=config.base_url,
                    hub_party=party_key(identity.country_code, identity.party_id),
                    max_body_bytes=config.max_body_bytes,
                    callback_ttl=config.callback_ttl,
                    command_timeout=config.command_timeout,
                    translation_memory_bytes=config.translation_memory_bytes,
                    location_ttl=config.location_ttl,
                ),
                callback_key,
                observer=HubObserver(metrics, access_log, liveness),
                learned=learned,
                memory=memory,
                broadcast=broadcast_settings(config),
                outbox=PostgresOutbox(pool),
                database_health=outage,
                policy=Policy(agreements_required=config.agreements == "required"),
                perimeter=Perimeter(PerimeterSettings(
                    rate_limit=config.rate_limit, rate_limit_burst=config.rate_limit_burst,
                    auth_failures_per_minute=config.auth_failures_per_minute,
                    trusted_proxies=config.trusted_proxy_networks, client_cert_header=config.tls_client_cert_header,
                ), registry, metrics),
                tickets=TicketBook(PgTicketStore(pool), callback_key, clock=time.time, on_fallback=lambda: log.warning(
                    "database unavailable: issued a self-contained callback URL (longer) instead of a short one")),
                timeouts=Timeouts(config.request_timeout, config.module_timeout_table),
            )
            metrics.backlog_limits(config.broadcast_backlog_entries, config.broadcast_backlog_bytes)
            # Before serving: what a stopped process left in the outbox goes first. At shutdown the
            # backlog is delivered or written to the outbox before the outbound client and the pool close.
            await routing.broadcaster.start()
            stack.push_async_callback(routing.broadcaster.close)
            registrar = Registrar(pool, sync, http, identity, guard, outbound_tls, self.keyring,
                                  token_grace_seconds=config.token_grace_seconds, tolerated=metrics.tolerated)
            stack.push_async_callback(registrar.close)
            # A platform's first use of its new token ends the grace of the one before (in the store).
            registry.new_token_used = registrar.new_token_used
            registry.snapshot.new_token_used = registrar.new_token_used
            state = HubState(
                config=config, identity=identity, pool=pool, registry=registry, sync=sync, http=http,
                forwarder=forwarder, registrar=registrar, routing=routing,
                metrics=metrics, admin_token=self.admin_token, liveness=liveness, lease=lease, outage=outage,
            )
            app.state.hub = state
            self.state = state
            # What startup built (the registry snapshot, learned routes, the broadcast backlog's
            # structures: millions of objects at 100,000 parties) lives as long as its entries do and holds
            # no reference cycles: out of the cyclic collector's sight, a full collection no longer walks it
            # (it held the event loop for 1-2 s at 100,000 parties; ~60 ms with a small registry). Entries
            # replaced later are still freed by their reference counts.
            gc.freeze()
            try:
                yield
            finally:
                self.state = None
                gc.unfreeze()  # what became garbage meanwhile (in cycles) can be collected again


async def _no_route(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route: 404, method not allowed: 405) in each surface's format,
    the OCPI envelope or the admin API's JSON, instead of plain text."""
    assert isinstance(exc, HTTPException)
    where = f"{request.method} {request.url.path[:200]}"
    error: HubError
    if exc.status_code == 404:
        error = NoSuchEndpointError(f"no endpoint at {where}")
    elif exc.status_code == 405:
        error = MethodNotAllowedError(f"method not allowed: {where}")
    else:
        error = ClientError(exc.detail)
        error.http_status = exc.status_code  # ClientError alone is an OCPI-layer answer (HTTP 200)
    if request.url.path.startswith("/admin"):
        response = admin_error(error.message, error.http_status)
    else:
        response = ocpi_error(request, error)
    response.headers.update(exc.headers or {})
    return response


def _version_routes() -> list[Route]:
    """Versions, credentials and hubclientinfo of every OCPI version, each with and without the trailing
    slash (advertised with it; no redirect either way)."""
    routes = []
    for version in HUB_VERSIONS:
        paths: list[tuple[str, Any, list[str]]] = [
            (version_path(version), versions.details(version), ["GET"]),
            (credentials_path(version), credentials.credentials(version), ["GET", "POST", "PUT", "DELETE"]),
        ]
        clientinfo = hubclientinfo_path(version)
        if clientinfo is not None:
            paths.append((clientinfo, hubclientinfo.hubclientinfo(version), ["GET"]))
        for path, endpoint, methods in paths:
            routes += [Route(path.rstrip("/"), endpoint, methods=methods), Route(path, endpoint, methods=methods)]
    return routes


def broadcast_settings(config: Config) -> BroadcastSettings:
    return BroadcastSettings(
        workers=config.broadcast_concurrency,
        limits=Limits(receiver_entries=config.broadcast_receiver_backlog_entries,
                      receiver_bytes=config.broadcast_receiver_backlog_bytes,
                      total_entries=config.broadcast_backlog_entries, total_bytes=config.broadcast_backlog_bytes,
                      max_age=config.broadcast_max_age, receiver_concurrency=config.broadcast_receiver_concurrency),
        shutdown_seconds=config.broadcast_shutdown_seconds,
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    """Anything the hub's own endpoints did not expect: 3000 in the OCPI envelope (or the admin API's
    JSON), never a stack trace. Starlette logs the traceback."""
    if request.url.path.startswith("/admin"):
        return admin_error("internal hub error", 500)
    return ocpi_error(request, ServerError("internal hub error"))



async def _database_down(request: Request, exc: Exception) -> Response:
    """The database is away (an outage the background tasks report once): a clear answer, no traceback."""
    error = DatabaseUnavailableError("the hub's database is unavailable; try again later")
    if request.url.path.startswith("/admin"):
        return admin_error(error.message, 503)
    return ocpi_error(request, error)
