"""JSON from partners, read strictly: valid syntax, UTF-8 throughout (RFC 8259 section 8.1), and nested
no deeper than MAX_DEPTH levels.

Why not msgspec alone (0.23, measured): decoding into ``msgspec.Raw``, and skipping the unknown fields
of a Struct, checks the syntax but not the bytes inside strings, so ``{"uid":"\\xff"}`` passes; and its
only bound on nesting is Python's recursion limit, reached at a depth that depends on the caller's
stack (a body nested 995 deep passed in one handler and raised ``RecursionError`` -- no ``DecodeError``,
so a 500 -- in another). Here the bound is a fixed number, and every failure is :class:`InvalidJson`,
which each surface answers as "not JSON" (400 and OCPI 2001 for requests, 3001 for partners' answers).

Cost (benchmarks/json_check.py): the UTF-8 check is an ``isascii`` pass and, for bodies with non-ASCII
bytes, Python's strict decoder in 64 KiB slices; the depth check is two byte counts for any body with
at most MAX_DEPTH brackets (single objects), and otherwise a skeleton of its brackets built with
``bytes`` methods (a few ms for an 800 KB page; a few hundred ms for a hostile 10 MB body).
"""

from __future__ import annotations

import codecs
import itertools
import operator
import re
from typing import TypeVar

import msgspec

T = TypeVar("T")

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted. OCPI objects nest below 10 (Tariff, CDR); vendor
extensions get the rest."""

_raw = msgspec.json.Decoder(msgspec.Raw)
_SLICE = 64 * 1024
_TOO_DEEP = f"JSON is nested deeper than {MAX_DEPTH} levels"
_UNIFY = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'[]{}"')))
_RUNS = re.compile(rb"\[+|\]+")
_PASSES = 8


class InvalidJson(ValueError):
    """The bytes are not a JSON text; ``str()`` says what is wrong in words (never quoting the body)."""


def check(body: bytes) -> None:
    """Raise :class:`InvalidJson` unless ``body`` is one JSON value in UTF-8; nothing is built."""
    try:
        _raw.decode(body)
    except msgspec.DecodeError as exc:
        raise InvalidJson(str(exc)) from None
    except RecursionError:
        raise InvalidJson(_TOO_DEEP) from None
    check_depth(body)
    check_utf8(body)


def decode(body: bytes, kind: type[T]) -> T:
    """``body`` decoded as ``kind``: :class:`InvalidJson` when it is not JSON, ``msgspec.ValidationError``
    when it is JSON of the wrong shape."""
    check_utf8(body)  # unknown fields are skipped unchecked: the bytes are checked here, once
    check_depth(body)
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError:
        raise
    except msgspec.DecodeError as exc:
        raise InvalidJson(str(exc)) from None
    except RecursionError:
        raise InvalidJson(_TOO_DEEP) from None


def check_depth(body: bytes) -> None:
    """Refuse nesting deeper than MAX_DEPTH. Exact for valid JSON; on malformed JSON it may err either
    way, and the decoder then refuses it anyway."""
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return  # too few brackets to nest that deep: single objects stop here
    if b"\\" in body:
        # Backslashes only occur in strings: with \\ and then \" gone, every quote left delimits a string.
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    # The skeleton: brackets (of one kind, validity is the decoder's business) and quotes; dropping
    # adjacent quotes keeps what is inside or outside a string where it was.
    skeleton = body.translate(_UNIFY, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = b"".join(skeleton.split(b'"')[::2])  # brackets inside strings do not nest
    # Each pass removes every innermost pair, so exactly one level of the deepest nesting; a few passes
    # shrink wide documents (the costly case for the scan below) to little.
    depth = 0
    while skeleton and depth < _PASSES:
        skeleton = skeleton.replace(b"[]", b"")
        depth += 1
    if skeleton:
        # Maximal runs alternate, opening first: the deepest point is after some opening run.
        runs = [len(run) for run in _RUNS.findall(skeleton)]
        opened = itertools.accumulate(runs[0::2])
        closed = itertools.accumulate(runs[1::2], initial=0)
        depth += max(map(operator.sub, opened, closed), default=0)
    if depth > MAX_DEPTH:
        raise InvalidJson(_TOO_DEEP)


def check_utf8(body: bytes) -> None:
    if body.isascii():
        return
    try:
        if len(body) <= _SLICE:
            body.decode("utf-8")
            return
        # In slices: a whole-body decode would build a str of up to 4x the body's size just to drop it.
        decoder = codecs.getincrementaldecoder("utf-8")()
        view = memoryview(body)
        for start in range(0, len(body), _SLICE):
            decoder.decode(view[start:start + _SLICE], start + _SLICE >= len(body))
    except UnicodeDecodeError:
        raise InvalidJson("JSON text is not valid UTF-8") from None
