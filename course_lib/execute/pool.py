"""A pool of warm sandboxes whose kernels start by ``fork``, with PyTorch already imported.

Starting a kernel costs a Python start, ipykernel's imports and, for every
submission of this course, ``import torch``: seconds of CPU per submission
that no student code needs. A :class:`Zygote` is a grading sandbox (the same
``bwrap`` set-up as a plain kernel's, see :mod:`course_lib.execute.sandbox`)
running :mod:`course_lib.execute.zygote_main`, which imports all that once and
forks one child per submission. The child takes the job's resource limits and
drops to the sandbox's own unprivileged uid before it becomes an ordinary
ipykernel; every kernel serves exactly one submission. Between two kernels
every process of the sandbox is killed, and ``/tmp`` and the home directory are
emptied, so one submission cannot leave anything for the next.

The grader drives a forked kernel through jupyter_client as any other: an
``AsyncKernelManager`` whose provisioner (:class:`~course_lib.execute.forked.ForkedKernel`) asks the zygote,
not the operating system, whether the kernel lives and to end it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import pkgutil
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from . import sandbox, scratch as scratches

ZYGOTE_MODULE = "zygote_main.py"  # read through the package's loader: on a Dask worker the course is a zip
PRELOAD = ("torch", "numpy")  # what (nearly) every submission imports; absent packages are skipped
AT_ONCE = "first-kernel-at-once"  # zygote_main's AT_ONCE (it imports nothing of the course)
START_TIMEOUT = 300  # seconds for a zygote's imports on however loaded a machine
REQUEST_TIMEOUT = 30
log = logging.getLogger(__name__)


class ZygoteError(RuntimeError):
    """The zygote did not start or stopped answering; the job runs in a plainly started kernel instead."""


def start_env(env: dict) -> dict:
    """The kernel environment a zygote starts with: all but the GPU choice, which each forked kernel sets."""
    return {k: v for k, v in env.items() if k not in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES")}


def pool_key(job, env: dict) -> tuple:
    """Jobs whose kernels a zygote can fork: same sandbox, device, limits and start-up environment."""
    return (job.policy, str(job.parameters.get("DEVICE", "cpu")), tuple(sorted(start_env(env).items())))


def _empty(directory: Path) -> None:
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()


class Zygote:
    """One warm sandbox that forks kernels, one at a time."""

    def __init__(self, job, env: dict, *, at_once: bool = False):
        """``at_once``: it serves one command, whose kernel it forks before the imports only some kernels need
        (:class:`~course_lib.execute.zygote_main.Later`); a batch's has those done while the batch prepares."""
        self._blank(job, env)
        try:
            self._start(job, env, at_once)
        except BaseException:
            self.close()
            raise

    def _blank(self, job, env: dict) -> None:
        """What it is before it has a sandbox: the kind of jobs it serves, and nothing to close yet."""
        self.key = pool_key(job, env)
        self.device = str(job.parameters.get("DEVICE", "cpu"))
        self._stack = contextlib.ExitStack()
        self._counter = itertools.count(1)
        self.proc = None
        self.sock = None
        self.ended = threading.Event()
        self.settling = True  # it may do its later imports before the first answer (nobody asked yet)

    def _start(self, job, env: dict, at_once: bool = False) -> None:
        self.scratch = scratches.make("zygote")  # 0700: the sandbox reaches home and conn through its binds
        self.home, self.conn, self.control = self.scratch / "home", self.scratch / "conn", self.scratch / "ctl"
        for d in (self.home, self.conn, self.control):
            d.mkdir()
        os.chmod(self.control, 0o700)
        self.slot = self._stack.enter_context(sandbox.claim_slot())
        self.uid = sandbox.uid_for(self.slot)
        sandbox.hand_over([self.home, self.conn], self.slot)
        control = self.control / "zygote.sock"
        source = pkgutil.get_data(__package__, ZYGOTE_MODULE).decode()
        command = [sys.executable, "-c", source, str(control), ",".join(PRELOAD), *([AT_ONCE] if at_once else [])]
        argv = sandbox.kernel_argv(job.policy, conn_dir=self.conn, home=self.home, device=self.device,
                                   slot=self.slot, zygote=(self.control, command))
        sandbox.write_kernelspec(self.scratch / "kernels", argv, "course-sandbox")  # for interrupt_mode only
        self.log = open(self.scratch / "zygote.log", "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=start_env(env), start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise ZygoteError(f"the kernel pool's sandbox exited ({self.proc.returncode}): {self._log_tail()}")
            if control.exists():
                try:
                    self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    self.sock.connect(str(control))
                    break
                except OSError:
                    self.sock.close()
                    self.sock = None
            if time.monotonic() > deadline:
                raise ZygoteError("the kernel pool's sandbox did not start in time")
            time.sleep(0.02)
        self.reader = self.sock.makefile("r")
        self.lock = threading.Lock()

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.scratch / "zygote.log").read_text(errors="replace")[-500:].strip()
        return ""

    def request(self, **message) -> dict:
        with self.lock:
            try:
                # after its first kernel the zygote does the imports only some kernels need (``settling``):
                # the next answer may take as long as its start-up's
                self.sock.settimeout(START_TIMEOUT if self.settling else REQUEST_TIMEOUT)
                self.sock.sendall((json.dumps(message) + "\n").encode())
                line = self.reader.readline()
            except OSError as exc:
                raise ZygoteError(f"the kernel pool's sandbox stopped answering ({exc})") from None
            if not line:
                raise ZygoteError(f"the kernel pool's sandbox exited: {self._log_tail()}")
            reply = json.loads(line)
            self.settling = bool(reply.get("settling"))
        return reply

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self.sock is not None

    def start_kernel(self, job, env: dict):
        """A kernel manager for a kernel forked for ``job``, with the job's files in an otherwise empty home."""
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import AsyncKernelManager

        from .engine import QUICK_START_CLIENT, kernel_context
        from .forked import ForkedKernel
        from .instrument import kernel_side_code

        _empty(self.home)
        sandbox.place_files(job.files, self.home)
        sandbox.hand_over([self.home], self.slot)
        n = next(self._counter)
        specs = KernelSpecManager(kernel_dirs=[str(self.scratch / "kernels")], ensure_native_kernel=False)
        km = AsyncKernelManager(kernel_name="course-sandbox", kernel_spec_manager=specs, transport="ipc",
                                ip=str(self.conn / f"k{n}"), context=kernel_context())
        km.client_class = QUICK_START_CLIENT
        km.connection_file = str(self.conn / f"k{n}.json")
        km.write_connection_file()
        sandbox.hand_over([self.conn], self.slot)
        digest, code = kernel_side_code()
        reply = self.request(op="spawn", connection_file=km.connection_file, env=env,
                             limits=sandbox.rlimits(job.policy), uid=self.uid, options=sandbox.KERNEL_OPTIONS,
                             setup={"digest": digest, "source": code})
        if "pid" not in reply:
            raise ZygoteError(f"the kernel pool's sandbox could not fork: {reply}")
        km.course_setup = reply.get("setup")  # the digest of the set-up module the kernel has compiled
        km.provisioner = ForkedKernel(zygote=self, pid=reply["pid"], kernel_id=km.kernel_id or "",
                                      kernel_spec=km.kernel_spec, parent=km)
        return km

    def stop_kernel(self, km) -> bool:
        """End the kernel and everything it started; ``False`` if this zygote must not serve again."""
        from jupyter_core.utils import run_sync

        with contextlib.suppress(Exception):
            run_sync(km.shutdown_kernel)(now=True)
        with contextlib.suppress(Exception):
            run_sync(km.cleanup_resources)()
        try:
            reply = self.request(op="kill")
        except ZygoteError:
            return False
        gone = sandbox.end_all(self.uid)  # belt and braces: the uid is this sandbox's alone
        if not reply.get("clean") or not gone:
            return False
        _empty(self.conn)
        return True

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, 9)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        if getattr(self, "uid", None) is not None:
            sandbox.end_all(self.uid)
        if getattr(self, "log", None):
            self.log.close()
        self._stack.close()  # the slot
        if getattr(self, "scratch", None):
            shutil.rmtree(self.scratch, ignore_errors=True)
        self.ended.set()


class KernelPool:
    """Up to ``size`` zygotes, each serving one running job at a time.

    A zygote starts when a job needs one, or ahead of time with :meth:`prime`:
    a batch primes its pool before its own set-up, so the sandboxes import
    PyTorch while the coordinator prepares the gradebook and the jobs. Every
    zygote is started by a thread of the pool that stays until the zygote ends
    (bwrap's ``--die-with-parent`` ends a sandbox with the thread that started
    it), so any thread may use any zygote, whatever becomes of the thread that
    first asked for it.
    """

    def __init__(self, size: int, start=None):
        self.size = max(1, size)
        self._make = start or Zygote  # (job, env) -> a started zygote
        self._idle: list[Zygote] = []
        self._busy = 0  # zygotes in use, or starting for a job that waits for it
        self._starting: list[tuple] = []  # the keys of zygotes starting ahead of time
        self._threads: list[threading.Thread] = []
        self._changed = threading.Condition()
        self._closing = threading.Event()
        self.closed = False
        self.failures = 0

    def prime(self, job, env: dict) -> None:
        """Start, in the background, as many zygotes for jobs like ``job`` as the pool has room for."""
        key = pool_key(job, env)
        with self._changed:
            if self.closed:
                return
            room = self.size - len(self._idle) - self._busy - len(self._starting)
            for _ in range(room):
                self._starting.append(key)
                self._launch(job, env, key, None)

    def _launch(self, job, env: dict, key: tuple, claim: Future | None) -> None:
        thread = threading.Thread(target=self._start, args=(job, env, key, claim), name="zygote", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def _start(self, job, env: dict, key: tuple, claim: Future | None) -> None:
        """A pool thread: start a zygote (for the pool, or for the job waiting on ``claim``), then keep it alive."""
        zygote = error = None
        try:
            zygote = self._make(job, env)
        except ZygoteError as exc:
            error = exc
        except BaseException as exc:  # the pool's fault, never the submission's: the job falls back to a plain kernel
            error = ZygoteError(f"the kernel pool's sandbox could not start ({type(exc).__name__}: {exc})")
        with self._changed:
            if claim is None:
                self._starting.remove(key)
            if zygote is None:
                self.failures += 1
                if claim is not None:
                    self._busy -= 1
            elif claim is None and not self.closed:
                self._idle.append(zygote)
            self._changed.notify_all()
            closed = self.closed
        if claim is not None:
            claim.set_exception(error) if zygote is None else claim.set_result(zygote)
        elif zygote is not None and closed:
            zygote.close()
        while zygote is not None and not zygote.ended.wait(1) and not self._closing.is_set():
            pass

    def acquire(self, job, env: dict) -> Zygote:
        key = pool_key(job, env)
        with self._changed:
            while True:
                if self.closed:
                    raise ZygoteError("the kernel pool is closed")
                for zygote in self._idle:
                    if zygote.key == key and zygote.alive():
                        self._idle.remove(zygote)
                        self._busy += 1
                        return zygote
                if key not in self._starting:
                    break
                self._changed.wait()  # one like it is on its way
            # make room: a zygote of another kind (or a dead one) goes
            while self._idle and len(self._idle) + self._busy + len(self._starting) >= self.size:
                self._idle.pop(0).close()
            self._busy += 1
            claim: Future = Future()
            self._launch(job, env, key, claim)
        return claim.result()  # its error (ZygoteError, or a failed sandbox set-up) is the caller's

    def release(self, zygote: Zygote, healthy: bool) -> None:
        with self._changed:
            self._busy -= 1
            self._changed.notify_all()
            if healthy and zygote.alive() and not self.closed:
                self._idle.append(zygote)
                return
        zygote.close()

    def close(self) -> None:
        with self._changed:
            self.closed = True
            idle, self._idle = self._idle, []
            self._changed.notify_all()
        for zygote in idle:
            zygote.close()
        self._closing.set()
        for thread in self._threads:  # a zygote still starting closes itself when it is up
            thread.join()
        self._threads.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_current: KernelPool | None = None


@contextlib.contextmanager
def inactive():
    """No pool for the block, whatever is active around it: its kernels start plainly."""
    global _current
    previous, _current = _current, None
    try:
        yield
    finally:
        _current = previous


@contextlib.contextmanager
def started_ahead(config, assignment_id: str, device: str):
    """A pool of one warm sandbox for the assignment's kernels, started now, active until the block ends.

    For a single notebook: the sandbox imports PyTorch while the grader imports and prepares the rest,
    and the block's kernels (the submission's; the solution's when its references are computed) are
    forked from it as a batch's are, each serving one notebook. The sandbox is the warm service's when
    it is on (:mod:`course_lib.execute.warm`): started by the first command, reused by the next ones.
    Without the sandbox (``--unsafe-no-sandbox``), or inside an active pool already, nothing is started.
    """
    from .jobs import kernel_job

    with lent(config, kernel_job(config, assignment_id, device)):
        yield


@contextlib.contextmanager
def lent(config, job):
    """A pool of one sandbox for jobs like ``job`` (the warm service's, or its own), active until the block ends.

    Started now, in the background; nothing for an unsandboxed job or inside an active pool already.
    """
    if not (config.sandbox and job.sandbox) or current() is not None:
        yield
        return
    from . import warm
    from .run import kernel_env

    try:
        idle = warm.idle_seconds(config.warm_idle)
    except ZygoteError as exc:
        log.warning("%s; the warm sandbox is not used", exc)
        idle = 0
    with active(KernelPool(1, start=warm.zygote_for(idle))) as kernels:
        kernels.prime(job, kernel_env(job))
        yield


def current() -> KernelPool | None:
    """The pool this process's runner set up (``None``: every kernel starts plainly)."""
    return _current


@contextlib.contextmanager
def active(pool: KernelPool):
    """Make ``pool`` the one :func:`course_lib.execute.run.run_job` uses, until the block ends."""
    global _current
    previous, _current = _current, pool
    try:
        with pool:
            yield pool
    finally:
        _current = previous
