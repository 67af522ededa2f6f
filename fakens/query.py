"""A query as the server sees it: the parsed message and where it came from.

The engine and the fault chain work on this, never on sockets, so they can be
tested with a Query built in memory::

    query = Query.from_message(dns.message.make_query("www.example.test.", "A"))
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.message

from fakens.wire import Question


@dataclass
class Query:
    """One received query."""

    message: dns.message.Message
    wire: bytes
    client: tuple[str, int] = ("127.0.0.1", 0)
    local: tuple[str, int] = ("127.0.0.1", 0)
    transport: str = "udp"
    server: str = "fakens"
    time: float = 0.0

    @property
    def question(self) -> Question:
        """The (single) question, the name as the client wrote it."""
        rrset = self.message.question[0]
        return Question(rrset.name, rrset.rdtype, rrset.rdclass)

    @classmethod
    def from_message(cls, message: dns.message.Message, transport: str = "udp",
                     client: tuple[str, int] = ("127.0.0.1", 0)) -> Query:
        """A Query for an in-memory message (tests of the engine and faults)."""
        return cls(message, message.to_wire(), client=client, transport=transport)
