"""Enables pytest's ``pytester`` fixture for the plugin tests.

``pytest_plugins = ["pytester"]`` would be the usual way, but pytest refuses
``pytest_plugins`` in a conftest that is not at the rootdir once collection has
started ("Defining 'pytest_plugins' in a non-top-level conftest is no longer
supported"), which is what happens when the whole suite runs (``python -m pytest``
from the repository, testpaths = tests). Importing the plugin from
``pytest_configure`` (a historic hook: it is called for conftests loaded late too)
works both for ``pytest tests/plugin`` and for the whole suite.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
