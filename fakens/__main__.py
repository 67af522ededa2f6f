"""``python -m fakens`` is the ``fakens`` command."""

import sys

from fakens.cli import main

if __name__ == "__main__":  # not when a signing worker process (spawned) imports this module as its main
    sys.exit(main())
