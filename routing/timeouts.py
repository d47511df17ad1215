"""How long a forwarded request may take, per module: real-time authorization has a driver waiting at a
charger, a paginated GET of a big location list may take a while.

``OCPI_HUB_MODULE_TIMEOUTS`` is a small table, ``module=seconds`` separated by commas. Keys are the
routed modules, ``authorize`` (``POST /sender/tokens/{uid}/authorize``, real-time authorization) and
``callback`` (asynchronous results and ``Location`` tickets); a module not named takes
``OCPI_HUB_REQUEST_TIMEOUT``. The default names ``authorize`` only.
"""

from __future__ import annotations

from collections.abc import Mapping

from partners.model import InterfaceRole
from routing.modules import ROUTED_MODULES

DEFAULT = "authorize=10"
"""Real-time authorization: a charger typically gives the whole round trip (CPO -> hub -> eMSP and
back) 10 to 30 s before it tells the driver no, and the CPO must still answer in time; a hub that waits
its general 30 s for a hung eMSP leaves the CPO nothing. Beyond 10 s the CPO is better off falling back
to its whitelist."""

KEYS: tuple[str, ...] = (*ROUTED_MODULES, "authorize", "callback")


def parse(text: str) -> dict[str, float]:
    """``module=seconds,...`` as a dict; ValueError naming what is wrong."""
    table: dict[str, float] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in KEYS:
            raise ValueError(f"{item!r}: expected module=seconds with module one of {', '.join(KEYS)}")
        try:
            seconds = float(value)
        except ValueError:
            raise ValueError(f"{item!r}: {value.strip()!r} is not a number of seconds") from None
        if not seconds > 0:
            raise ValueError(f"{item!r}: seconds must be positive")
        table[key] = seconds
    return table


class Timeouts:
    """The timeout of each request, from the table worked out once."""

    __slots__ = ("_modules", "authorize", "callback", "default")

    def __init__(self, default: float, table: Mapping[str, float] | None = None) -> None:
        table = table or {}
        self.default = default
        self._modules = {m: table.get(m, default) for m in ROUTED_MODULES}
        self.authorize = table.get("authorize", self._modules["tokens"])
        self.callback = table.get("callback", default)

    def of(self, module: str, interface: InterfaceRole, method: str, segments: tuple[str, ...]) -> float:
        if (module == "tokens" and method == "POST" and interface is InterfaceRole.SENDER and segments
                and segments[-1] == "authorize"):
            return self.authorize
        return self._modules.get(module, self.default)
