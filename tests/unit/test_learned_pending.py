"""The queue of learned entries not yet written to the database: bounded, oldest dropped first."""

from __future__ import annotations

from routing.learned import Kind, LearnedRoutes

CPO, MSP, OTHER = ("NL", "CPO"), ("DE", "MSP"), ("BE", "MSP")


def ids(learned: LearnedRoutes) -> list[str]:
    return [object_id for _, _, object_id in learned.pending]


def test_past_the_cap_the_oldest_unsaved_entries_are_dropped_and_counted() -> None:
    learned = LearnedRoutes(max_pending=3)
    for n in range(5):
        learned.learn(Kind.LOCATION, CPO, f"L{n}", MSP)
    assert ids(learned) == ["L2", "L3", "L4"]
    assert learned.pending_dropped == 2
    assert learned.target(Kind.LOCATION, CPO, "L0") == MSP, "a dropped entry is still known in memory"


def test_an_entry_learned_again_becomes_the_newest() -> None:
    learned = LearnedRoutes(max_pending=3)
    for object_id, target in (("L0", MSP), ("L1", MSP), ("L0", OTHER), ("L2", MSP), ("L3", MSP)):
        learned.learn(Kind.LOCATION, CPO, object_id, target)
    assert ids(learned) == ["L0", "L2", "L3"], "L1, older than L0's second learning, dropped"
    assert learned.pending[(Kind.LOCATION, CPO, "L0")] == OTHER
    assert learned.pending_dropped == 1


def test_entries_that_could_not_be_written_go_back_as_the_oldest_within_the_cap() -> None:
    learned = LearnedRoutes(max_pending=4)
    for n in range(3):
        learned.learn(Kind.SESSION, CPO, f"S{n}", MSP)
    taken = learned.take_pending()
    assert not learned.pending
    # While the write was under way: S1 moved, S7 and S8 are new.
    learned.learn(Kind.SESSION, CPO, "S1", OTHER)
    learned.learn(Kind.SESSION, CPO, "S7", MSP)
    learned.learn(Kind.SESSION, CPO, "S8", MSP)
    learned.requeue(taken)
    assert ids(learned) == ["S2", "S1", "S7", "S8"], "S0 (the oldest) dropped; newer knowledge wins"
    assert learned.pending[(Kind.SESSION, CPO, "S1")] == OTHER
    assert learned.pending_dropped == 1
