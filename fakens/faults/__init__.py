"""The fault chain: the seam where faults sit between the engine and the wire.

A server asks its chain twice per query: ``before(query)`` may end the query
with an Outcome (drop, delay, close, a reply of its own); ``after(query,
answer)`` may edit the engine's Answer. An empty chain changes nothing, and a
fault whose selector does not match a query leaves it as the engine made it.
The fault types themselves come with the fault engine (issue 3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fakens.answer import Answer
    from fakens.outcome import Outcome
    from fakens.query import Query


class FaultChain:
    """An ordered list of faults; empty, it passes every query through."""

    def __init__(self) -> None:
        self.faults: list[object] = []

    def __bool__(self) -> bool:
        return bool(self.faults)

    def before(self, query: Query) -> Outcome | None:
        """An Outcome that ends the query here, or None to go on to the engine."""
        return None

    def after(self, query: Query, answer: Answer) -> Answer:
        """The Answer as faults edit it (unchanged when no fault matches)."""
        return answer
