"""The collector settings of a process that only serves (fakens.loops)."""

from __future__ import annotations

import subprocess
import sys


def test_a_serving_process_collector_is_frozen_and_rarer() -> None:
    """fakens serve and fakens lab set the collector for serving: what is loaded frozen, and
    passes rarer (run in a child: the thresholds are the process's)."""
    code = ("import gc; from fakens.loops import SERVING_GC_THRESHOLDS, collector_for_serving; "
            "before = gc.get_threshold(); collector_for_serving(); "
            "print(before != SERVING_GC_THRESHOLDS, gc.get_threshold() == SERVING_GC_THRESHOLDS, gc.get_freeze_count() > 1000)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["True", "True", "True"], done.stderr
