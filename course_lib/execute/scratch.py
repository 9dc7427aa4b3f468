"""Private scratch folders of kernel runs and kernel pools, and clean-up after a killed grader.

A run's folder holds the instrumented notebook (the hidden probes' code and the
seeds) and a pool's the sandbox's control socket: only the grader may read them,
so every folder is created ``0700``, whatever the umask. The sandboxed kernel
never goes through the folder itself: bubblewrap binds its home and connection
directories at their own places.

A grader killed by ``SIGKILL`` (or a power cut) cannot remove its folders. Each
folder's name carries the pid of the process that made it, and the first folder a
process makes sweeps away those whose process is gone.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
from pathlib import Path

KINDS = ("run", "zygote")
_NAME = re.compile(r"^course-(?:%s)-(\d+)-" % "|".join(KINDS))


def make(kind: str) -> Path:
    """A new folder ``course-<kind>-<pid>-*`` in the temporary directory, mode ``0700``.

    Stale folders of dead processes are swept the first time a process calls this.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown scratch kind {kind!r}")
    _sweep_once()
    path = Path(tempfile.mkdtemp(prefix=f"course-{kind}-{os.getpid()}-"))
    os.chmod(path, 0o700)  # mkdtemp's mode already; said again so no later change can widen it unnoticed
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def sweep(directory: Path | None = None) -> list[Path]:
    """Remove the scratch folders whose creating process no longer runs; the removed folders.

    Folders of live processes (another grader, a Dask worker on this machine) are
    left alone, as is anything not named by :func:`make`.
    """
    base = Path(directory or tempfile.gettempdir())
    removed = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _NAME.match(entry.name)
        if not match or int(match.group(1)) == os.getpid() or _alive(int(match.group(1))):
            continue
        try:
            if entry.is_symlink() or not entry.is_dir() or entry.lstat().st_uid != os.geteuid():
                continue  # not one of ours to remove
        except OSError:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


@functools.lru_cache(maxsize=None)
def _sweep_once() -> None:
    sweep()
