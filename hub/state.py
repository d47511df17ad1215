"""What the lifespan builds and every endpoint uses, in one typed object."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

from hub.config import Config
from hub.leader import LeaderLease
from hub.liveness import Liveness
from hub.metrics import Metrics
from partners import store
from partners.outage import Outage
from partners.registration import HubIdentity, Registrar
from partners.registry import Registry
from partners.sync import RegistrySync
from routing.forward import Forwarder
from routing.handler import RoutingApp


@dataclass
class HubState:
    config: Config
    identity: HubIdentity
    pool: store.Pool
    registry: Registry
    sync: RegistrySync
    http: aiohttp.ClientSession
    forwarder: Forwarder
    registrar: Registrar
    routing: RoutingApp
    metrics: Metrics
    admin_token: str
    liveness: Liveness
    lease: LeaderLease
    outage: Outage
    draining: bool = field(default=False)
