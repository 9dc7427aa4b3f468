"""Where a command's time goes: phase timings printed to stderr when ``COURSE_TIMINGS`` is set.

For benchmarks (``benchmarks/bench_single.py``). ``COURSE_TIMINGS`` holds the wall-clock time
(``time.time()``) at which the caller started the process, so the first phase includes the
interpreter's own start; any other non-empty value starts the first phase at this module's import.
Each :func:`mark` ends a phase that began where the previous one ended; a phase marked twice (the
solution's run and the student's, say) adds up. Without the variable :func:`mark` does nothing.
"""

from __future__ import annotations

import json
import os
import sys
import time

_SETTING = os.environ.get("COURSE_TIMINGS", "")
_IMPORTED = time.time()
_marks: list[tuple[str, float]] = []

PREFIX = "course-timings: "


def mark(phase: str) -> None:
    """End ``phase`` now."""
    if _SETTING:
        _marks.append((phase, time.time()))


def phases() -> dict[str, float]:
    """``phase -> seconds``, in the order the phases first ended."""
    try:
        previous = float(_SETTING)
    except ValueError:
        previous = _IMPORTED
    out: dict[str, float] = {}
    for phase, at in _marks:
        out[phase] = out.get(phase, 0.0) + (at - previous)
        previous = at
    return out


def report() -> None:
    """One line on stderr: :data:`PREFIX` and the phases as JSON (nothing unless enabled)."""
    if _SETTING and _marks:
        print(PREFIX + json.dumps(phases()), file=sys.stderr, flush=True)
