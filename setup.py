"""Builds fakens' optional C accelerator (everything else is in pyproject.toml).

``fakens._udpbatch`` (recvmmsg/sendmmsg) is Linux-only and optional: without a C
compiler, or elsewhere, the install goes on and fakens uses its pure-Python UDP path.
"""

import sys

from setuptools import Extension, setup

extensions = []
if sys.platform.startswith("linux"):
    extensions.append(Extension("fakens._udpbatch", ["fakens/_udpbatch.c"], optional=True))

setup(ext_modules=extensions)
