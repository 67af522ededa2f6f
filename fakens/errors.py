"""The exceptions fakens raises.

Every error fakens raises derives from :class:`FakensError`, and its message
says what was wrong, where (file:line, option, address) and how to fix it::

    FakensError
     +-- ZoneError          a zone file or zone text that cannot be loaded
     +-- ConfigError        a bad option, address or argument
     +-- ServerError        a server that cannot start (address in use, no permission)
"""

from __future__ import annotations


class FakensError(Exception):
    """The root of every exception fakens raises."""


class ZoneError(FakensError):
    """A zone cannot be loaded: the message names the file and line."""


class ConfigError(FakensError):
    """An option, address or argument is wrong: the message names it."""


class ServerError(FakensError):
    """A server cannot start or run: the message names the address and the cause."""
