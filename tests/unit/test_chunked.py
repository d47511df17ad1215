"""The chunked sorted sequence behaves as a sorted list under random removals and insertions, with
chunks splitting and emptying, and never changes a sequence already handed out."""

from __future__ import annotations

import random

import pytest

from partners import chunked
from partners.chunked import Chunked


def _key(item: tuple[int, str]) -> tuple[int, str]:
    return item


@pytest.mark.parametrize("load", [1, 2, 5, 256])
@pytest.mark.parametrize("seed", range(5))
def test_changes_equal_a_sorted_list(monkeypatch: pytest.MonkeyPatch, load: int, seed: int) -> None:
    monkeypatch.setattr(chunked, "LOAD", load)
    rng = random.Random(seed)
    items = {(rng.randrange(50), rng.choice("abc")) for _ in range(30)}
    sequence = Chunked.build(items, _key)
    for _ in range(40):
        removed = rng.sample(sorted(items), min(len(items), rng.randrange(6)))
        added = {(rng.randrange(50), rng.choice("abcd")) for _ in range(rng.randrange(6))} - items
        before, as_it_was = sequence, sorted(items)
        items = (items - set(removed)) | added
        sequence = sequence.changed(removed, added)
        expected = sorted(items)
        assert list(sequence) == expected and len(sequence) == len(expected)
        assert list(before) == as_it_was and len(before) == len(as_it_was), "a sequence handed out changed"
        start, size = rng.randrange(len(expected) + 2), rng.randrange(1, 9)
        assert sequence.slice(start, start + size) == expected[start:start + size]
        for probe in [(rng.randrange(52), "b") for _ in range(5)]:
            assert sequence.rank(probe) == sum(1 for e in expected if e < probe)
            assert sequence.rank(probe, right=True) == sum(1 for e in expected if e <= probe)


@pytest.mark.parametrize("load", [1, 3, 256])
def test_slices_by_position(monkeypatch: pytest.MonkeyPatch, load: int) -> None:
    monkeypatch.setattr(chunked, "LOAD", load)
    items = [(n, "x") for n in range(20)]
    sequence = Chunked.build(reversed(items), _key)
    for start in range(0, 22):
        for stop in range(start, 24):
            assert sequence.slice(start, stop) == items[start:stop]


def test_removing_what_is_not_there_changes_nothing() -> None:
    sequence = Chunked.build([(1, "a"), (3, "b")], _key)
    assert list(sequence.changed([(2, "z"), (9, "q")], [])) == [(1, "a"), (3, "b")]
    assert list(Chunked.build([], _key).changed([], [(5, "e"), (4, "d")])) == [(4, "d"), (5, "e")]
