"""The sandbox every student kernel runs in.

A kernel is started as ``bwrap … -- setpriv … -- prlimit … -- python -m ipykernel_launcher``:

* **bubblewrap** gives it new PID, network, IPC and UTS namespaces (no network at all,
  no view of other processes, the grader's included) and a private file system
  view: the OS and the Python installation read-only, an empty ``/tmp``, and one
  writable directory, its own home, holding the assignment's data files. The
  course directory (``graders/``, the gradebook, other students' work) is not
  there. When the grading worker goes away, the whole sandbox dies with it.
* **setpriv** (when grading as root) drops to an unprivileged uid of its own, so
  no capability survives and the process cap counts only this kernel's processes.
* **prlimit** sets the memory cap (``RLIMIT_DATA``: heap and private mappings,
  which leaves CUDA's address-space reservations alone), the process/thread cap,
  the largest file it may write, open files, and no core dumps.

The kernel talks to the grader over IPC sockets in a connection directory shared
with the sandbox; there is no TCP port. When a feature is missing on a machine,
:func:`check` says what and how to install it, and grading refuses to run
untrusted code unless the instructor opts out explicitly.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

HOME = "/home/student"
IPYTHON_DIR = "/tmp/.ipython"  # a kernel's IPython profile: in the sandbox's tmpfs, gone with the kernel
UID_BASE = 61000  # unprivileged uids for kernels when grading as root (one per worker slot)
INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) and util-linux (setpriv, prlimit)"


@dataclass(frozen=True)
class Policy:
    """Resource caps of one kernel (from ``nbgrader_config.py``, per assignment)."""

    memory_mb: int = 4096
    max_processes: int = 256  # processes and threads of the kernel's own uid
    max_file_mb: int = 256
    max_open_files: int = 1024
    max_output_kb: int = 1000  # output kept per cell


class SandboxUnavailable(ConfigError):
    """The machine lacks what the sandbox needs."""


@functools.lru_cache(maxsize=None)
def missing_features() -> tuple[str, ...]:
    """What this machine lacks for the sandbox (empty when everything works)."""
    missing = [tool for tool in ("bwrap", "prlimit", "setpriv") if shutil.which(tool) is None]
    if "bwrap" not in missing:
        trial = [shutil.which("bwrap"), "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid",
                 "--unshare-ipc", "--unshare-uts", "--dev", "/dev", "--proc", "/proc", "--", "true"]
        try:
            done = subprocess.run(trial, capture_output=True, timeout=30)
            if done.returncode != 0:
                reason = done.stderr.decode(errors="replace").strip().splitlines()
                missing.append(f"bwrap cannot create namespaces here ({reason[-1] if reason else 'no reason given'})")
        except (OSError, subprocess.TimeoutExpired) as exc:
            missing.append(f"bwrap does not run ({exc})")
    return tuple(missing)


def check() -> None:
    """Raise :class:`SandboxUnavailable` naming what is missing, or why the sandbox could not see the interpreter."""
    missing = missing_features()
    if missing:
        raise SandboxUnavailable(
            "cannot sandbox student code on this machine: missing " + "; ".join(missing),
            hint=f"{INSTALL_HINT}, or pass --unsafe-no-sandbox to run untrusted code without one")
    hidden = interpreter_hidden()
    if hidden:
        path, cover = hidden
        real = os.path.join(os.path.realpath(sys.prefix), "bin", "course")
        instead = (f"run the same environment by its real path ({real} ...), " if os.path.isfile(real)
                   and not interpreter_hidden(os.path.join(os.path.dirname(real), os.path.basename(sys.executable)))
                   else "")
        raise SandboxUnavailable(
            f"the sandbox cannot see this Python interpreter: {sys.executable}"
            f"{'' if path == sys.executable else f' is reached through {path}'}, under {cover}, which the sandbox {'replaces with a scratch folder of its own' if cover in REPLACED else 'hides'}"
            "; every kernel would die at its start",
            hint=f"{instead}or create the virtual environment outside {' and '.join(REPLACED)} (e.g. in the course "
                 "directory: python3 -m venv .venv), or pass --unsafe-no-sandbox for your own notebooks")


REPLACED = ("/tmp", "/home")  # the sandbox's own empty tmpfs at these paths
VISIBLE = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64")  # what it binds of the OS, read-only


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def interpreter_hidden(executable: str | None = None) -> tuple[str, str] | None:
    """``(path, what covers it)`` when the kernel's interpreter is not where the sandbox would look for it.

    The kernel is started by the interpreter's path as given (``sys.executable``), and each
    symbolic link on the way is followed inside the sandbox, whose file system holds only the
    OS, the Python installations (by their real paths) and empty ``/tmp`` and ``/home``: a
    virtual environment reached through ``/tmp`` (say ``/tmp/work -> /srv/work``) is not there.
    """
    roots = _python_roots()
    path = os.path.abspath(executable or sys.executable)
    for _ in range(40):  # the kernel's own limit on links is about as deep
        if not any(_under(path, root) for root in roots):
            cover = next((top for top in REPLACED if _under(path, top)), None)
            if cover is not None or not any(_under(path, top) for top in VISIBLE):
                return path, cover or os.sep.join(path.split(os.sep)[:2])
        parent = os.path.realpath(os.path.dirname(path))
        if parent != os.path.dirname(path):  # a directory on the way is a link: the rest of the path follows it
            path = os.path.join(parent, os.path.basename(path))
            continue
        if not os.path.islink(path):
            return None
        path = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
    return None


def _python_roots() -> list[str]:
    roots = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), os.path.realpath(sys.exec_prefix)}
    return sorted(roots)


def _parents(path: str) -> list[str]:
    """Create the mount point's parents world-traversable (bwrap would make them 0700)."""
    out, current = [], ""
    for part in Path(path).parent.parts[1:]:
        current += "/" + part
        out += ["--perms", "0755", "--dir", current]
    return out


def kernel_argv(policy: Policy, *, conn_dir: Path, home: Path, device: str, slot: int,
                zygote: tuple[Path, list[str]] | None = None) -> list[str]:
    """The command that starts one sandboxed kernel (``{connection_file}`` left for jupyter_client).

    With ``zygote`` (its private control directory and its command), the same sandbox
    runs the forking process of :mod:`course_lib.execute.pool` instead: it keeps the
    privileges it needs to drop them in each child, and each child applies the
    limits itself, so neither ``setpriv`` nor ``prlimit`` is in front of it.
    """
    argv = [shutil.which("bwrap"),
            "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--hostname", "grader",
            "--ro-bind", "/usr", "/usr", "--ro-bind-try", "/etc", "/etc",
            "--ro-bind-try", "/bin", "/bin", "--ro-bind-try", "/sbin", "/sbin",
            "--ro-bind-try", "/lib", "/lib", "--ro-bind-try", "/lib64", "/lib64",
            "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(policy.max_file_mb * 1024 * 1024), "--tmpfs", "/tmp",
            "--tmpfs", "/home",
            "--bind", str(home), HOME, *_parents(str(conn_dir)), "--bind", str(conn_dir), str(conn_dir),
            "--chdir", HOME, "--setenv", "HOME", HOME,
            # ipykernel polls JPY_PARENT_PID, which does not exist in the new PID namespace
            "--unsetenv", "JPY_PARENT_PID"]
    for root in _python_roots():
        argv += [*_parents(root), "--ro-bind", root, root]
    if device.startswith("cuda"):
        for node in ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset",
                     *(f"/dev/nvidia{i}" for i in range(16))):
            argv += ["--dev-bind-try", node, node]
        argv += ["--ro-bind-try", "/sys", "/sys", "--ro-bind-try", "/proc/driver/nvidia", "/proc/driver/nvidia"]
    if zygote is not None:
        control, command = zygote
        argv += [*_parents(str(control)), "--bind", str(control), str(control)]
        if os.geteuid() != 0:
            argv += ["--cap-drop", "ALL"]
        return [*argv, "--", *command]
    if os.geteuid() == 0:
        # setpriv needs CAP_SETUID to switch; switching to a plain uid then drops every capability.
        uid = UID_BASE + slot
        argv += ["--", shutil.which("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    else:
        argv += ["--cap-drop", "ALL", "--"]
    limits = rlimits(policy)
    argv += [shutil.which("prlimit"), *(f"--{name}={value}" for name, value in limits.items()), "--",
             sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", *KERNEL_OPTIONS]
    return argv


KERNEL_OPTIONS = (
    # input history in memory: no SQLite file to create in each fresh home
    "--HistoryManager.hist_file=:memory:",
    # tracebacks as Python prints them. IPython's default ("Context") reads the source of every frame and
    # scans all of sys.modules (thousands of modules once torch is imported) per frame, twice per error:
    # about 0.1 s of CPU for each failing cell, on a grader that sees many.
    "--InteractiveShell.xmode=Plain",
    # IPC even where the connection file cannot be read: ipykernel then makes up its own settings, whose
    # default is TCP (and its "Kernel is running over TCP without encryption" warning); the file's transport
    # (also IPC) wins whenever it is read
    "--IPKernelApp.transport=ipc",
)
"""ipykernel options of every sandboxed kernel, started plainly or forked from a zygote."""


def rlimits(policy: Policy) -> dict[str, int]:
    """The kernel's resource limits, by ``prlimit`` option name."""
    mib = 1024 * 1024
    return {"data": policy.memory_mb * mib, "nproc": policy.max_processes, "fsize": policy.max_file_mb * mib,
            "nofile": policy.max_open_files, "core": 0}


def write_kernelspec(directory: Path, argv: list[str], name: str) -> None:
    """A kernelspec whose interrupts travel as messages (signals would stop at the sandbox's border)."""
    spec_dir = directory / name
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": argv, "display_name": "Python 3 (grading sandbox)", "language": "python",
        "interrupt_mode": "message", "metadata": {"debugger": False}}))


SLOTS = 1000
SLOT_DIR = Path(tempfile.gettempdir()) / "course-sandbox-slots"


@contextlib.contextmanager
def claim_slot():
    """A slot (and so a uid) no other kernel on this machine holds, whichever process runs it.

    Slots are file locks: two grading processes (say two Dask workers) never share a
    uid, and a crashed process's slot frees itself.
    """
    SLOT_DIR.mkdir(mode=0o700, exist_ok=True)
    start = os.getpid() % SLOTS
    for i in range(SLOTS):
        slot = (start + i) % SLOTS
        handle = open(SLOT_DIR / f"{slot}.lock", "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        try:
            yield slot
        finally:
            handle.close()  # closing releases the lock
        return
    raise RuntimeError(f"all {SLOTS} sandbox slots are in use on this machine")


def uid_for(slot: int) -> int | None:
    """The uid a sandboxed kernel runs as (``None`` when not grading as root: it keeps ours)."""
    return UID_BASE + slot if os.geteuid() == 0 else None


def processes_of(uid: int) -> list[int]:
    """Live processes (not zombies) whose real uid is ``uid``."""
    # /proc/PID is owned by the effective uid, or by root once a process is not dumpable (as every sandboxed
    # kernel): only the status file's Uid line says who runs it. Read as bytes and searched, not parsed.
    found, real_uid = [], f"\nUid:\t{uid}\t".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as handle:
                status = handle.read()
        except OSError:
            continue
        if real_uid in status and b"\nState:\tZ" not in status:
            found.append(int(entry))
    return found


def end_all(uid: int | None, timeout: float = 10.0) -> bool:
    """Kill whatever still runs as the sandbox's uid and wait until it is gone; ``False`` if some still runs."""
    if uid is None:
        return True
    deadline = time.monotonic() + timeout
    while pids := processes_of(uid):
        if time.monotonic() >= deadline:
            return False
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    return True


def place_files(files: dict, home: Path) -> None:
    """The assignment's data files (relative path -> bytes), next to the notebook in the kernel's home."""
    for rel, data in files.items():
        target = home / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def hand_over(paths: list[Path], slot: int) -> None:
    """Give the sandbox's uid the directories it must write (only when grading as root)."""
    if os.geteuid() != 0:
        return
    uid = UID_BASE + slot
    for top in paths:
        for dirpath, dirnames, filenames in os.walk(top):
            os.chown(dirpath, uid, uid)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), uid, uid)
