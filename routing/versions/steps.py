"""What every translation step shares: the step signature, the notes a step leaves, and small
document edits. A step never changes the document it is given; it returns a new one (copying only
the levels it touches) and appends what it could not carry to the notes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from routing.versions.context import Context
from routing.versions.errors import UntranslatableError
from routing.versions.losses import Loss
from routing.versions.version import OcpiVersion

Doc = dict[str, Any]
T = TypeVar("T")


@dataclass(slots=True)
class Notes:
    """What a crossing lost (each loss once per document) and which partner deviations it tolerated."""

    losses: dict[Loss, None] = field(default_factory=dict)
    tolerated: dict[str, None] = field(default_factory=dict)

    def lost(self, loss: Loss) -> None:
        self.losses[loss] = None

    def tolerate(self, kind: str) -> None:
        self.tolerated[kind] = None


Step = Callable[[Doc, Context, Notes, bool], Doc]
"""``step(document, context, notes, partial) -> document``. ``partial`` is set for PATCH bodies:
translate what is there, derive nothing that is absent."""

StepKey = tuple[str, OcpiVersion, OcpiVersion]
"""(object kind, from version, to version) — adjacent versions only."""


def unchanged(doc: Doc, ctx: Context, notes: Notes, partial: bool) -> Doc:
    """The step between two versions that agree on this object."""
    return doc


def drop(out: Doc, key: str, notes: Notes, loss: Loss) -> None:
    if key in out:
        del out[key]
        notes.lost(loss)


def rename(out: Doc, old: str, new: str) -> None:
    if old in out:
        out[new] = out.pop(old)


def keep_known(values: list[Any], known: frozenset[str], notes: Notes, loss: Loss) -> list[Any]:
    kept = [v for v in values if v in known]
    if len(kept) != len(values):
        notes.lost(loss)
    return kept


def each(out: Doc, key: str, fn: Callable[[Doc], Doc | None]) -> None:
    """Apply ``fn`` to every object of the list ``out[key]``; objects for which it returns None go."""
    items = out.get(key)
    if isinstance(items, list):
        out[key] = [r for r in (fn(x) if isinstance(x, dict) else x for x in items) if r is not None]


def need(value: T | None, module: str, field_name: str, reason: str) -> T:
    if value is None:
        raise UntranslatableError(module, field_name, reason)
    return value
