"""Broken bytes, for testing clients and resolvers: wrong-id, wrong-question, malformed."""

from __future__ import annotations

import random
import struct
from typing import TYPE_CHECKING

import dns.message
import dns.name
import dns.rdatatype
import dns.rrset

from fakens.errors import ConfigError
from fakens.fastpath import question_end
from fakens.faults.base import Fault, Param, register

if TYPE_CHECKING:
    from fakens.faults.view import View


@register
class WrongId(Fault):
    """Name: wrong-id

    Imitates: a reply that does not belong to the query (a spoofing attempt, a
    broken middlebox).

    Parameters: ``offset`` (default 1): added to the query's ID (mod 65536).

    Client sees: a reply whose ID differs from its query's; a correct client
    ignores it and times out.

    Example: ``wrong-id``
    """

    type_name = "wrong-id"
    summary = "reply with another message ID"
    params = {"offset": Param("int", 1, "added to the ID")}

    def wire(self, view: View, messages: list[bytes]) -> str | None:
        for i, message in enumerate(messages):
            msg_id = (int.from_bytes(message[:2], "big") + self.offset) % 65536
            messages[i] = msg_id.to_bytes(2, "big") + message[2:]
        return f"ID changed by {self.offset}"


@register
class WrongQuestion(Fault):
    """Name: wrong-question

    Imitates: a reply whose question is not the one asked, or whose name lost the
    client's 0x20 mixed case (which resolvers use against spoofing).

    Modes: ``case`` (default): the question name's case changed (lowered; raised
    when the query had no upper case); ``name``: the question name replaced by
    ``to``; ``type``: the question type replaced by ``to_type`` (default TXT).

    Parameters: ``to`` (mode name): the question name sent; ``to_type`` (mode
    type): the question type sent.

    Client sees: a reply whose question differs from its query's.

    Example: ``wrong-question mode=name to=other.example.test.``
    """

    type_name = "wrong-question"
    summary = "reply whose question differs (name, type or 0x20 case)"
    modes = ("case", "name", "type")
    params = {
        "to": Param("name", None, "question name to send (mode name)"),
        "to_type": Param("str", "TXT", "question type to send (mode type)"),
    }

    def validate(self) -> None:
        if self.mode == "name" and self.to is None:
            raise ConfigError("fault wrong-question mode=name needs to=DOMAIN")
        try:
            self._type = dns.rdatatype.from_text(self.to_type.upper())
        except Exception:
            raise ConfigError(f"fault wrong-question: to_type={self.to_type!r} is not a DNS type") from None

    def wire(self, view: View, messages: list[bytes]) -> str | None:
        if view.part is not None and view.part.index > 0:
            return None  # the first message of a stream only
        message = messages[0]
        end = question_end(message)
        if end is None or message[4:6] != b"\x00\x01":
            return None
        if self.mode == "case":
            qname = message[12 : end - 4]
            changed = qname.lower() if qname != qname.lower() else qname.upper()
            messages[0] = message[:12] + changed + message[end - 4 :]
            return "question name case changed"
        if self.mode == "type":
            messages[0] = message[: end - 4] + struct.pack("!H", self._type) + message[end - 2 :]
            return f"question type {dns.rdatatype.to_text(self._type)}"
        parsed = dns.message.from_wire(message)
        q = parsed.question[0]
        parsed.question = [dns.rrset.RRset(self.to, q.rdclass, q.rdtype)]
        messages[0] = parsed.to_wire()
        return f"question name {self.to}"


@register
class Malformed(Fault):
    """Name: malformed

    Imitates: broken packets a client must survive without crashing.

    Modes: ``compression-loop`` (default): the question name is a compression
    pointer to itself; ``counts``: ANCOUNT one higher than the records present;
    ``short``: the reply cut to half its length; ``garbage``: the ID followed by
    random bytes (from the fault's own generator, ``seed``).

    Client sees: a reply it cannot parse (a FORMERR-worthy packet).

    Example: ``malformed mode=counts``
    """

    type_name = "malformed"
    summary = "a compression loop, counts that lie, a packet cut short, random garbage"
    modes = ("compression-loop", "counts", "short", "garbage")

    def validate(self) -> None:
        self._rng = random.Random(self.schedule.seed)

    def wire(self, view: View, messages: list[bytes]) -> str | None:
        if view.part is not None and view.part.index > 0:
            return None  # the first message of a stream only
        message = messages[0]
        if self.mode == "compression-loop":
            end = question_end(message)
            rest = message[end - 4 :] if end is not None else b"\x00\x01\x00\x01"
            messages[0] = message[:4] + b"\x00\x01" + message[6:12] + b"\xc0\x0c" + rest
        elif self.mode == "counts":
            ancount = (int.from_bytes(message[6:8], "big") + 1) % 65536
            messages[0] = message[:6] + ancount.to_bytes(2, "big") + message[8:]
        elif self.mode == "short":
            messages[0] = message[: max(6, len(message) // 2)]
        else:
            with self.lock:
                noise = bytes(self._rng.randrange(256) for _ in range(max(10, len(message) - 2)))
            messages[0] = message[:2] + noise
        return f"malformed: {self.mode}"
