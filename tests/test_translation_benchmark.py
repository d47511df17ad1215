"""The translation micro-benchmark runs (tiny setting); its figures are not judged here."""

from __future__ import annotations

from benchmarks.translation import measure


def test_translation_benchmark_measures_every_crossing() -> None:
    rows = measure(tiny=True)
    assert [(r["object"], r["bytes"] > 250_000) for r in rows] == [
        ("location", False), ("location", True), ("session", False), ("session", True)]
    assert all(r["bytes"] < 2_000 or 250_000 < r["bytes"] < 350_000 for r in rows)
    for row in rows:
        assert all(row[key] > 0 for key in ("decode_encode_us", "down_2_1_1_us", "down_2_1_1_back_us",
                                            "up_2_3_0_us", "up_2_3_0_back_us"))
