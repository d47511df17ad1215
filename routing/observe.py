"""What the routing stages report, as a Protocol that ``hub`` implements with Prometheus metrics.

Labels come from closed sets only (module, interface, outcome): never a token, id or URL.
"""

from __future__ import annotations

from typing import Protocol


class RoutingObserver(Protocol):
    def request_done(self, module: str, interface: str, outcome: str, status: int, seconds: float) -> None: ...

    def auth_failed(self) -> None: ...

    def tolerated(self, kind: str) -> None:
        """A partner deviated from the spec in a way the hub worked around (``kind`` names how)."""
        ...


class NoObserver:
    def request_done(self, module: str, interface: str, outcome: str, status: int, seconds: float) -> None:
        pass

    def auth_failed(self) -> None:
        pass

    def tolerated(self, kind: str) -> None:
        pass
