"""An immutable sorted sequence kept in chunks, so that a change costs a chunk, not the sequence.

A sorted list of 100,000 items costs a copy of 100,000 pointers per change if it must stay valid for
its readers (a snapshot in use is never changed). Kept as a list of chunks of at most ``2 * LOAD``
items, a batch of changes copies the list of chunks (a few hundred pointers) and the chunks it
touches; every other chunk is shared with the previous sequence.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any, Generic, TypeVar

T = TypeVar("T")
LOAD = 256


class Chunked(Generic[T]):
    __slots__ = ("_chunks", "_key", "_length", "_maxes")

    def __init__(self, chunks: list[list[T]], key: Callable[[T], Any]) -> None:
        self._chunks = chunks
        self._key = key
        self._maxes = [key(c[-1]) for c in chunks]
        self._length = sum(len(c) for c in chunks)

    @classmethod
    def build(cls, items: Iterable[T], key: Callable[[T], Any]) -> Chunked[T]:
        ordered = sorted(items, key=key)
        return cls([ordered[i:i + LOAD] for i in range(0, len(ordered), LOAD)], key)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[T]:
        return chain.from_iterable(self._chunks)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Chunked) and len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def slice(self, start: int, stop: int) -> list[T]:
        """Items ``start`` to ``stop`` (positions), as a list."""
        out: list[T] = []
        for chunk in self._chunks:
            if start >= len(chunk):
                start -= len(chunk)
                stop -= len(chunk)
                continue
            out.extend(chunk[max(0, start):stop])
            start, stop = 0, stop - len(chunk)
            if stop <= 0:
                break
        return out

    def rank(self, key: Any, *, right: bool = False) -> int:
        """How many items have a key below ``key`` (``right``: at most ``key``)."""
        find = bisect_right if right else bisect_left
        i = find(self._maxes, key)
        before = sum(len(c) for c in self._chunks[:i])
        if i == len(self._chunks):
            return before
        return before + find(self._chunks[i], key, key=self._key)

    def changed(self, removed: Iterable[T], added: Iterable[T]) -> Chunked[T]:
        """A new sequence without ``removed`` (matched by key) and with ``added``; this one stays as it is."""
        key = self._key
        chunks, maxes = list(self._chunks), list(self._maxes)
        owned: set[int] = set()  # ids of the chunks copied for the new sequence (free to change)

        def own(i: int) -> list[T]:
            chunk = chunks[i]
            if id(chunk) not in owned:
                chunk = chunks[i] = list(chunk)
                owned.add(id(chunk))
            return chunk

        for item in removed:
            wanted = key(item)
            i = bisect_left(maxes, wanted)
            if i == len(chunks):
                continue
            j = bisect_left(chunks[i], wanted, key=key)
            if j < len(chunks[i]) and key(chunks[i][j]) == wanted:
                chunk = own(i)
                del chunk[j]
                if chunk:
                    maxes[i] = key(chunk[-1])
                else:
                    del chunks[i], maxes[i]
        for item in added:
            wanted = key(item)
            i = min(bisect_left(maxes, wanted), len(chunks) - 1)
            if i < 0:
                chunks.append([item])
                owned.add(id(chunks[-1]))
                maxes.append(wanted)
                continue
            chunk = own(i)
            insort(chunk, item, key=key)
            maxes[i] = key(chunk[-1])
            if len(chunk) > 2 * LOAD:
                half = chunk[LOAD:]
                del chunk[LOAD:]
                chunks.insert(i + 1, half)
                owned.add(id(half))
                maxes[i:i + 1] = [key(chunk[-1]), key(half[-1])]
        out = Chunked.__new__(Chunked)
        out._chunks, out._key, out._maxes = chunks, key, maxes
        out._length = sum(len(c) for c in chunks)
        return out
