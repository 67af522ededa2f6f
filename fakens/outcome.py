"""What a server decides to do with one query: the closed set of outcomes.

The transport carries these out and knows nothing else of DNS::

    Reply([wire])            send these messages
    Stream(messages)         send the messages an iterator makes, as the connection drains (a TCP transfer)
    Drop()                   send nothing
    Close() / Reset()        close the TCP connection (reset: with RST); UDP: nothing
    Stall()                  keep the TCP connection open and never answer

Each outcome may carry a ``delay`` in seconds before it acts, on the server's
clock (the transport waits with ``Clock.call_later``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(slots=True)
class Reply:
    """Send these messages, in order, after *delay* seconds (slotted: one is made for every
    reply, and the transport reads it at once)."""

    messages: list[bytes] = field(default_factory=list)
    delay: float = 0.0


@dataclass
class Stream:
    """Send the messages *messages* makes, in order, after *delay* seconds; then
    close a TCP connection when *close_after* (read once the iterator is done,
    so the producer may set it).

    The iterator yields a message (bytes) or ``None``, a checkpoint where the
    producer may be suspended. The transport pulls from it only while the
    connection takes data (not while the protocol is paused for a full write
    buffer), a short slice of time per turn of the event loop, and closes it
    (``close()``: a generator gets GeneratorExit where it stopped) when the
    connection is lost or closed first. Over UDP a Stream is not sent: a
    transfer over UDP is a single-message Reply."""

    messages: Iterator[bytes | None]
    delay: float = 0.0
    close_after: bool = False


@dataclass
class Drop:
    """Send nothing."""

    delay: float = 0.0


@dataclass
class Close:
    """Close the TCP connection (over UDP: send nothing)."""

    delay: float = 0.0


@dataclass
class Reset:
    """Close the TCP connection with a reset (over UDP: send nothing)."""

    delay: float = 0.0


@dataclass
class Stall:
    """Never answer, and keep the TCP connection open until the client gives up."""

    delay: float = 0.0


Outcome = Reply | Stream | Drop | Close | Reset | Stall
