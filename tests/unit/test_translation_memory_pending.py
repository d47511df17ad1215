"""Contract facts waiting to be shared through the database are bounded: while the database is away
nothing drains them, and a process must not grow with every token it translates."""

from __future__ import annotations

from routing.translation_memory import TokenFacts, TranslationMemory
from routing.versions.version import OcpiVersion

EMSP = ("DE", "MSP")


def token(n: int) -> dict[str, str]:
    return {"uid": f"UID{n}", "type": "RFID", "contract_id": f"DE-MSP-C{n:08d}"}


def test_pending_facts_are_capped_oldest_first_and_counted() -> None:
    memory = TranslationMemory(64 * 1024)
    cap = memory.max_pending
    assert 0 < cap < 100, "bounded by the memory's size, not by the number of tokens seen"
    for n in range(cap + 10):
        memory.remember_token(EMSP, OcpiVersion.V2_2_1, token(n))
    taken = memory.take_pending()
    assert len(taken) == cap and memory.pending_dropped == 10
    assert [contract for _, contract, _ in taken][:2] == ["DE-MSP-C00000010", "DE-MSP-C00000011"]
    assert taken[-1] == (EMSP, f"DE-MSP-C{cap + 9:08d}", TokenFacts(f"UID{cap + 9}", "RFID"))
    # The queue holds no more than the process keeps itself: every fact still waiting is known here.
    assert all(memory.contract(owner, contract) == facts for owner, contract, facts in taken)


def test_a_failed_write_puts_facts_back_as_the_oldest_and_newer_facts_win() -> None:
    memory = TranslationMemory(64 * 1024)
    memory.remember_token(EMSP, OcpiVersion.V2_2_1, token(1))
    memory.remember_token(EMSP, OcpiVersion.V2_2_1, token(2))
    taken = memory.take_pending()
    # Meanwhile contract 2 now belongs to another token, and contract 3 is new.
    memory.remember_token(EMSP, OcpiVersion.V2_2_1, token(2) | {"uid": "NEWUID"})
    memory.remember_token(EMSP, OcpiVersion.V2_2_1, token(3))
    memory.requeue(taken)
    assert memory.take_pending() == [
        (EMSP, "DE-MSP-C00000001", TokenFacts("UID1", "RFID")),
        (EMSP, "DE-MSP-C00000002", TokenFacts("NEWUID", "RFID")),
        (EMSP, "DE-MSP-C00000003", TokenFacts("UID3", "RFID")),
    ]


def test_requeue_keeps_within_the_cap() -> None:
    memory = TranslationMemory(64 * 1024)
    cap = memory.max_pending
    for n in range(cap):
        memory.remember_token(EMSP, OcpiVersion.V2_2_1, token(n))
    taken = memory.take_pending()
    for n in range(cap, cap + 5):
        memory.remember_token(EMSP, OcpiVersion.V2_2_1, token(n))
    memory.requeue(taken)
    assert len(memory.pending) == cap and memory.pending_dropped == 5
    assert next(iter(memory.pending))[1] == "DE-MSP-C00000005"  # the five oldest went
