"""JSON from partners, read strictly: valid syntax, UTF-8 throughout (RFC 8259 section 8.1), and nesting
no deeper than the decoder can follow.

Why not msgspec alone (0.23, measured): decoding into ``msgspec.Raw``, and skipping the unknown fields
of a Struct, checks the syntax but not the bytes inside strings, so ``{"uid":"\\xff"}`` passes; and a
document nested deeper than Python's recursion limit allows (about 900 levels below a server's stack)
raises ``RecursionError``, which is no ``DecodeError``. Both become :class:`InvalidJson` here, which
every surface answers as "not JSON" (400 and OCPI 2001 for requests, 3001 for a partner's answers).

Cost: the UTF-8 check is one ``isascii`` over the bytes (memory speed) and, only for bodies with
non-ASCII bytes, Python's strict UTF-8 decoder in 64 KiB slices; both run far below the syntax check
itself (see benchmarks/json_check.py).
"""

from __future__ import annotations

import codecs
from typing import TypeVar

import msgspec

T = TypeVar("T")

_raw = msgspec.json.Decoder(msgspec.Raw)
_SLICE = 64 * 1024
_TOO_DEEP = "JSON is nested too deeply"


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
    check_utf8(body)


def decode(body: bytes, kind: type[T]) -> T:
    """``body`` decoded as ``kind``: :class:`InvalidJson` when it is not JSON, ``msgspec.ValidationError``
    when it is JSON of the wrong shape."""
    check_utf8(body)  # unknown fields are skipped unchecked: the bytes are checked here, once
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError:
        raise
    except msgspec.DecodeError as exc:
        raise InvalidJson(str(exc)) from None
    except RecursionError:
        raise InvalidJson(_TOO_DEEP) from None


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
