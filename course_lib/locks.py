"""Locks of one course directory: one ``course autograde`` per assignment at a time.

Two graders on one course (two teaching assistants, a cron job overlapping a
manual run) would otherwise run the same submissions twice and race each other
in the gradebook. A lock is an ``fcntl.flock`` on a file under ``.course-cache/locks/``
of the course: the kernel frees it when its holder exits, however it exits, so
a killed run never leaves a lock behind. The file says who holds it (pid, host,
start time) for the run that waits.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
from datetime import datetime, timezone

from .config import CourseConfig
from .errors import BatchBusy

LOCK_DIR = (".course-cache", "locks")


def _holder(handle) -> str:
    with contextlib.suppress(OSError, ValueError):
        handle.seek(0)
        info = json.loads(handle.read() or "{}")
        if info:
            return (f"pid {info.get('pid')} on {info.get('host')}, running {info.get('command', 'a batch')} "
                    f"since {info.get('started')}")
    return "another process (it has not said which yet)"


@contextlib.contextmanager
def hold(config: CourseConfig, name: str, *, what: str, wait: bool = True, notify=None):
    """Hold the course's lock ``name`` for the block, waiting for another holder unless ``wait`` is false.

    Args:
        what: The held thing in words (``autograde of 01-tensors``), for messages.
        notify: Called with a line saying who holds the lock before waiting (default: printed to stderr).

    Raises:
        BatchBusy: ``wait`` is false and another process holds the lock.
    """
    path = config.path(*LOCK_DIR, f"{name}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            if not wait:
                raise BatchBusy(f"{what} is already running: {holder}",
                                hint="wait until it ends, or run without --no-wait to queue behind it") from None
            (notify or (lambda line: print(line, file=sys.stderr, flush=True)))(
                f"waiting: {what} is running ({holder}); this run goes on when it ends")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": what,
                                 "started": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")}))
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock
