"""``python -m fakens`` is the ``fakens`` command."""

import sys

from fakens.cli import main

sys.exit(main())
