"""Signing rounds, watched cheaply: are the signatures kept in replies still the signers'?

A :class:`~fakens.dnssec.signer.ZoneSigner` makes its signatures anew when it gets new keys
or when its window is renewed, once half the lifetime has passed (seen when it next signs, or
asked: :meth:`~fakens.dnssec.signer.ZoneSigner.signing_round`). A server that keeps replies
(the reply cache, the express path's tails) must then forget them. Asking every signer at every
message costs a call per signed zone (a server of 1,000 signed zones: some 170 µs a message);
a :class:`Watch` reads one counter (:data:`begun`, every signer's new rounds) and one clock
per clock the signers use (one for signers on the default ``time.time``), against the earliest
renewal due on it::

    watch = Watch(signers)
    if watch.moved():          # a signer began a new round since: forget what was kept
        watch = Watch(signers)

Importing this module loads no cryptography (a server of unsigned zones watches nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fakens.dnssec.signer import ZoneSigner

begun = 0
"""Signing rounds begun by every signer of the process (new keys, a renewed window, another
clock): counted by :func:`begin`."""
_counting = threading.Lock()


def begin() -> None:
    """Count a signing round begun (or a signer's clock changed): every :class:`Watch` looks
    again at its next :meth:`~Watch.moved`. Under a lock, so that no increment is lost."""
    global begun
    with _counting:
        begun += 1


class Watch:
    """The signing rounds of *signers* when made (their windows renewed first where due), and
    when the next renewal is due on each clock they use."""

    __slots__ = ("_begun", "_due", "_rounds", "signers")

    def __init__(self, signers: Sequence[ZoneSigner]) -> None:
        self.signers = list(signers)
        self._begun = begun  # (read first: a round begun while the rounds are read is seen next time)
        self._rounds = [signer.signing_round() for signer in self.signers]
        self._due = _deadlines(self.signers)

    def moved(self) -> bool:
        """Has a signer begun a round since the watch was made (a renewal now due is made)?"""
        if begun != self._begun:
            return self._look()
        for now, due in self._due:
            if now() > due:
                return self._look()
        return False

    def _look(self) -> bool:
        counted = begun
        if any(signer.signing_round() != kept for signer, kept in zip(self.signers, self._rounds, strict=True)):
            return True
        self._begun = counted  # another signer's round, or a renewal not due after all: not ours
        self._due = _deadlines(self.signers)
        return False


def _deadlines(signers: Sequence[ZoneSigner]) -> list[tuple[Callable[[], float], float]]:
    """(a clock, the earliest renewal due on it) for each clock *signers* use (most use ``time.time``)."""
    due: dict[Callable[[], float], float] = {}
    for signer in signers:
        at = signer.renews_at()
        if at < due.get(signer.now, float("inf")):
            due[signer.now] = at
    return list(due.items())
