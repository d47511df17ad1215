"""What a registry NOTIFY says changed: a kind and ids, never a secret.

Every registry write ends with notifications naming what it wrote (``platform:12,15``: those
platforms' rows or their parties; ``agreement:7``: that agreement), so that each replica re-reads
just those rows and applies them to its snapshot (``partners.sync``). Anything else (``*``, or a
payload this version does not know) means "re-check everything": the full reload, which compares
row versions and re-reads only what differs.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

EVERYTHING_PAYLOAD = "*"
# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more: ids are spread over several.
MAX_PAYLOAD = 7000
_KINDS = {"platform": "platforms", "agreement": "agreements"}


class Changed(msgspec.Struct, frozen=True, kw_only=True):
    platforms: frozenset[int] = frozenset()
    agreements: frozenset[int] = frozenset()
    everything: bool = False


EVERYTHING = Changed(everything=True)


def encode(*, platforms: Iterable[int] = (), agreements: Iterable[int] = ()) -> list[str]:
    """The payloads that announce these changes (none when nothing changed)."""
    out: list[str] = []
    for kind, ids in (("platform", platforms), ("agreement", agreements)):
        head = f"{kind}:"
        payload = head
        for number in sorted(set(ids)):
            text = str(int(number))
            if len(payload) + len(text) + 1 > MAX_PAYLOAD:
                out.append(payload.rstrip(","))
                payload = head
            payload += text + ","
        if payload != head:
            out.append(payload.rstrip(","))
    return out


def decode(payload: str) -> Changed:
    """What ``payload`` names; :data:`EVERYTHING` for ``*`` and for anything not understood (a write by
    another version of the hub, say), which is always safe, only slower."""
    kind, colon, ids = payload.partition(":")
    field = _KINDS.get(kind)
    if not colon or field is None:
        return EVERYTHING
    try:
        numbers = frozenset(int(text) for text in ids.split(","))
    except ValueError:
        return EVERYTHING
    if field == "platforms":
        return Changed(platforms=numbers)
    return Changed(agreements=numbers)
