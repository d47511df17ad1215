"""The one entry point of the bridge: whether a crossing is needed, and the chain of adjacent steps
that makes it, for one object, a page of objects, or a PATCH body."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from routing.versions import (
    cdrs,
    chargingprofiles,
    commands,
    credentials,
    hubclientinfo,
    locations,
    sessions,
    tariffs,
    tokens,
)
from routing.versions.context import Context
from routing.versions.errors import NotInVersionError, UntranslatableError
from routing.versions.losses import Loss
from routing.versions.steps import Notes, Step
from routing.versions.version import ORDER, OcpiVersion, hops

STEPS: dict[str, dict[tuple[str, OcpiVersion, OcpiVersion], Step]] = {
    "locations": locations.STEPS,
    "sessions": sessions.STEPS,
    "cdrs": cdrs.STEPS,
    "tariffs": tariffs.STEPS,
    "tokens": tokens.STEPS,
    "commands": commands.STEPS,
    "chargingprofiles": chargingprofiles.STEPS,
    "hubclientinfo": hubclientinfo.STEPS,
    "credentials": credentials.STEPS,
    "payments": {},
}
"""Steps by OCPI module, keyed by (object kind, from, to). Payments (2.3.0 only) has none."""

KINDS: dict[str, frozenset[str]] = {module: frozenset(kind for kind, _, _ in steps) for module, steps in STEPS.items()}
KINDS["payments"] = frozenset({"terminal", "financial_advice_confirmation"})


class Translated(NamedTuple):
    document: Any
    losses: tuple[Loss, ...]
    """What the target version could not carry, each once: the labels to count."""
    tolerated: tuple[str, ...]
    """Partner deviations worked around (``routing.versions.tolerated``)."""


def needs_translation(source: OcpiVersion, target: OcpiVersion) -> bool:
    """Only a crossing between two versions touches a body; same-version bytes pass through untouched."""
    return source is not target


def translate(document: Any, module: str, kind: str, source: OcpiVersion, target: OcpiVersion,
              context: Context) -> Translated:
    """``document`` (decoded, numbers as Decimal) written in ``source``, rewritten for ``target``.

    Raises :class:`UntranslatableError` (a required field cannot be derived) or
    :class:`NotInVersionError` (the object does not exist in one of the versions). ``document`` itself
    is never changed.
    """
    return _walk([document], module, kind, source, target, context, partial=False, page=False)


def translate_list(documents: Sequence[Any], module: str, kind: str, source: OcpiVersion, target: OcpiVersion,
                   context: Context) -> Translated:
    """A page of objects (GET results): each translated alone; losses and tolerances of the page together.
    One object that cannot be translated fails the page (the caller decides what to answer)."""
    return _walk(documents, module, kind, source, target, context, partial=False, page=True)


def translate_patch(document: Any, module: str, kind: str, source: OcpiVersion, target: OcpiVersion,
                    context: Context) -> Translated:
    """A PATCH body: only the fields present are translated; nothing absent is derived or required."""
    return _walk([document], module, kind, source, target, context, partial=True, page=False)


def _walk(documents: Sequence[Any], module: str, kind: str, source: OcpiVersion, target: OcpiVersion,
          context: Context, *, partial: bool, page: bool) -> Translated:
    steps = STEPS.get(module)
    if steps is None or kind not in KINDS[module]:
        raise ValueError(f"no such object: {module} {kind}")
    chain = [_step(steps, module, kind, a, b) for a, b in hops(source, target)]
    notes = Notes()
    out = []
    for document in documents:
        if not isinstance(document, dict):
            raise UntranslatableError(module, kind, "not a JSON object")
        for step in chain:
            document = step(document, context, notes, partial)
        out.append(document)
    return Translated(out if page else out[0], tuple(notes.losses), tuple(notes.tolerated))


def _step(steps: dict[tuple[str, OcpiVersion, OcpiVersion], Step], module: str, kind: str, a: OcpiVersion,
          b: OcpiVersion) -> Step:
    step = steps.get((kind, a, b))
    if step is None:
        # Objects only ever appeared in later versions: the lower one of the pair lacks it.
        lower = a if ORDER.index(a) < ORDER.index(b) else b
        raise NotInVersionError(module, kind, lower.value)
    return step
