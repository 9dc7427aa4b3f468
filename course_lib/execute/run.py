"""Running one prepared submission with papermill, in a fresh kernel.

:func:`run_job` is what every runner (local pool or Dask worker) calls. It takes
a :class:`Job` (plain, picklable data: the instrumented notebook is inside it)
and returns an :class:`~course_lib.models.ExecutionResult`. It never judges and
never touches the gradebook. The kernel's whole life is inside
:func:`kernel_session`, so no kernel outlives a run, whatever the run did.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..models import ExecutionResult
from ..timings import mark
from . import pool as pools
from . import sandbox, scratch as scratches
from .sandbox import Policy

# engine (papermill's), instrument and nbformat are imported by the functions that run a notebook: a
# sandbox can start (execute.pool) before they are loaded


CELL_TIMEOUT_ERROR = "CellTimeoutError"
SETUP_TIMEOUT = 300  # the grading set-up cell: seeding and importing torch, on however loaded a machine
IOPUB_TIMEOUT = 60
# papermill logs every cell error and timeout; they are reported per student instead.
logging.getLogger("papermill").setLevel(logging.CRITICAL)
log = logging.getLogger(__name__)


class NotebookTimeout(Exception):
    """The notebook used up its wall-clock limit; the remaining cells do not run."""


@dataclass(frozen=True)
class Job:
    """One submission to execute (everything a worker needs, as plain data)."""

    student: str
    assignment: str
    notebook: str
    source: str  # the instrumented notebook, JSON text
    parameters: dict
    kernel_name: str = "python3"
    cell_timeout: float = 60.0
    notebook_timeout: float = 300.0
    files: dict = field(default_factory=dict)  # relative path -> bytes, copied next to the notebook
    env: dict = field(default_factory=dict)
    sandbox: bool = True
    policy: Policy = field(default_factory=Policy)
    ignore_pattern: str = ""  # nbgrader's c.IgnorePattern.pattern: stderr of test cells that does not count
    limit_lines: int = 1000  # nbgrader's c.LimitOutput.max_lines: stream lines a test cell keeps (-1: all)


@contextlib.contextmanager
def kernel_session(job: Job, scratch: Path, pool: "pools.KernelPool | None" = None):
    """A started kernel (sandboxed unless the job says otherwise), gone with everything it started on exit.

    The sandbox slot (its uid) is held for the kernel's whole life and released after
    every process of that uid is gone. A sandboxed kernel is forked from ``pool`` (by
    default this process's current pool, if any).
    """
    pool = pool if pool is not None else pools.current()
    if pool is not None and job.sandbox:
        env, zygote, km = kernel_env(job), None, None
        try:
            zygote = pool.acquire(job, env)
            km = zygote.start_kernel(job, env)
        except pools.ZygoteError as exc:  # the pool failed, not the submission: start this kernel plainly
            log.warning("kernel pool: %s; starting a kernel the plain way", exc)
            if zygote is not None:
                pool.release(zygote, healthy=False)
        if km is not None:
            healthy = False
            try:
                yield km
            finally:
                healthy = zygote.stop_kernel(km)
                pool.release(zygote, healthy)
            return
    with contextlib.ExitStack() as stack:
        slot = stack.enter_context(sandbox.claim_slot()) if job.sandbox else 0
        (scratch / "home").mkdir(exist_ok=True)  # a kernel started plainly has its home here (a pool's, its own)
        sandbox.place_files(job.files, scratch / "home")
        with _kernel(job, scratch, slot) as km:
            yield km


@contextlib.contextmanager
def _kernel(job: Job, scratch: Path, slot: int):
    # nbclient drives kernels asynchronously; it needs the async manager (a blocking one
    # never delivers the interrupt that ends a timed-out cell).
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    from .engine import QUICK_START_CLIENT, kernel_context

    home, conn = scratch / "home", scratch / "conn"
    conn.mkdir(exist_ok=True)
    # IPC sockets in the run's own directory: no TCP port, nothing reachable from elsewhere.
    options = {"transport": "ipc", "ip": str(conn / "kernel"), "context": kernel_context()}
    if job.sandbox:
        argv = sandbox.kernel_argv(job.policy, conn_dir=conn, home=home,
                                   device=str(job.parameters.get("DEVICE", "cpu")), slot=slot)
        sandbox.write_kernelspec(scratch / "kernels", argv, "course-sandbox")
        specs = KernelSpecManager(kernel_dirs=[str(scratch / "kernels")], ensure_native_kernel=False)
        km = AsyncKernelManager(kernel_name="course-sandbox", kernel_spec_manager=specs, **options)
    else:
        km = AsyncKernelManager(kernel_name=job.kernel_name, **options)
    km.client_class = QUICK_START_CLIENT
    km.connection_file = str(conn / "kernel.json")
    km.write_connection_file()
    if job.sandbox:
        sandbox.hand_over([home, conn], slot)
    log = open(scratch / "kernel.log", "wb")  # the kernel's own stdout/stderr, for diagnosing deaths
    pid = None
    try:
        run_sync(km.start_kernel)(cwd=str(home), env=kernel_env(job), stdout=log, stderr=subprocess.STDOUT)
        pid = getattr(km.provisioner, "pid", None)
        yield km
    finally:
        with contextlib.suppress(Exception):
            run_sync(km.shutdown_kernel)(now=True)
        if pid:  # the kernel is started in its own process group: end anything it left behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        if job.sandbox:  # and anything that left the group (setsid) but still runs as the sandbox's uid
            sandbox.end_all(sandbox.uid_for(slot))
        with contextlib.suppress(Exception):
            run_sync(km.cleanup_resources)()
        log.close()


def kernel_env(job: Job) -> dict:
    """A minimal environment: nothing of the grader's (tokens, paths, settings) reaches the student."""
    env = {"PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
           "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": sandbox.HOME if job.sandbox else str(Path.cwd()),
           "MPLBACKEND": "Agg", "PYTHONHASHSEED": str(job.parameters.get("SEED", 0)),
           # Determinism on CUDA needs this before the CUDA context exists, i.e. in the kernel's environment.
           "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    if job.sandbox:
        # IPython's profile (six folders every kernel makes) in the sandbox's own /tmp, a tmpfs emptied after
        # each kernel, rather than in the home on the grader's disk, where removing them after every kernel
        # costs milliseconds each on a file system that discards freed blocks at once
        env["IPYTHONDIR"] = sandbox.IPYTHON_DIR
        # the home holds the student's files: no user site there (its .pth files and usercustomize would run as
        # the interpreter starts, before the grading set-up)
        env["PYTHONNOUSERSITE"] = "1"
    for name in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE",
                 "OPENBLAS_L2_SIZE"):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(job.env)
    return env


def _name_the_limit(error, policy):
    """Say which sandbox limit an error comes from, where it plainly does."""
    if error.ename == "MemoryError":
        return dataclasses.replace(error, evalue=f"it hit the memory limit ({policy.memory_mb} MB)")
    if "can't start new thread" in error.evalue or (error.ename == "BlockingIOError" and "fork" in error.evalue) \
            or "Resource temporarily unavailable" in error.evalue:
        return dataclasses.replace(error, evalue=f"it hit the process limit ({policy.max_processes} processes and "
                                                 f"threads): {error.evalue}")
    if error.ename == "OSError" and "File too large" in error.evalue:
        return dataclasses.replace(error, evalue=f"it hit the file size limit ({policy.max_file_mb} MB)")
    return error


def _role(cell) -> str:
    from .instrument import ROLE

    return cell.get("metadata", {}).get(ROLE, {}).get("role", "")


def run_job(job: Job, pool: "pools.KernelPool | None" = None) -> ExecutionResult:
    """Execute one prepared submission and return what happened (never raises for the student's faults).

    ``pool``: the kernel pool to fork a sandboxed kernel from (default: this process's current one).
    """
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from .engine import execute_notebook
    from .instrument import read_run, strip

    started = time.monotonic()
    # The notebook's clock starts at its first own cell: the grading set-up (which imports torch) is not
    # the student's time, however loaded the machine is.
    clock = {"deadline": None}
    # Whether the kernel answered the grading set-up cell with success. Until then no code of the student's ran,
    # so a kernel that dies, hangs or fails before (seeding, ``import torch``) is a fault of the limits, the
    # interpreter or the sandbox, never the student's.
    setup = {"done": False}
    # private (0700): it holds the probes' code; the sandbox reaches its home and conn only through its binds
    scratch = scratches.make("run")
    status, problem = "completed", ""
    try:
        # the notebook is run from the job's text and kept in memory: neither path is read or written
        src, out, run = scratch / ".course-in.ipynb", scratch / ".course-out.ipynb", {}

        def cell_timeout(cell) -> int:
            if _role(cell) == "setup":
                return SETUP_TIMEOUT
            remaining = (clock["deadline"] or time.monotonic() + job.notebook_timeout) - time.monotonic()
            return max(1, int(min(job.cell_timeout, remaining) + 0.999))

        def on_cell_executed(cell, cell_index, execute_reply):
            if _role(cell) == "setup" and (execute_reply or {}).get("content", {}).get("status") == "ok":
                setup["done"] = True
                mark("set-up cell (import torch)")
            else:
                mark("cells")

        def on_cell_start(cell, cell_index):
            if cell_index == 0:
                mark("kernel start")
            if _role(cell) == "setup":
                return
            if clock["deadline"] is None:
                clock["deadline"] = time.monotonic() + job.notebook_timeout
            elif time.monotonic() >= clock["deadline"]:
                raise NotebookTimeout()

        mark("run set-up")
        try:
            with kernel_session(job, scratch, pool) as km:
                execute_notebook(
                    job.source, input_path=str(src), output_path=str(out), parameters=job.parameters,
                    kernel_name=job.kernel_name, language="python", max_output_bytes=job.policy.max_output_kb * 1000,
                    ignore_pattern=job.ignore_pattern, limit_lines=job.limit_lines,
                    progress_bar=False, log_output=False, km=km,  # no cwd=: papermill would chdir the whole process
                    allow_errors=True, interrupt_on_timeout=True, timeout_func=cell_timeout,
                    error_on_timeout={"ename": CELL_TIMEOUT_ERROR,
                                      "evalue": f"the cell ran longer than its time limit "
                                                f"({job.cell_timeout:g} s per cell, {job.notebook_timeout:g} s "
                                                "per notebook) and was interrupted",
                                      "traceback": []},
                    on_cell_start=on_cell_start, on_cell_executed=on_cell_executed,
                    # a loaded machine can be slow to deliver the last output of a cell; that is not the student's fault
                    iopub_timeout=IOPUB_TIMEOUT,
                    course_run=run, precompiled=getattr(km, "course_setup", None),
                )
        except NotebookTimeout:
            status, problem = "timeout", (f"the notebook ran out of time ({job.notebook_timeout:g} s); "
                                          "later cells did not run")
        except CellTimeoutError:  # the kernel stopped answering, even to interrupts
            status, problem = "timeout", ("the notebook stopped responding (it ignored the interrupt at its time "
                                          "limit); later cells did not run")
        except DeadKernelError:
            status, problem = "kernel-died", ("the Python kernel died (os._exit, a signal, a crash, or a resource "
                                              "limit); later cells did not run")
        except Exception as exc:  # the run itself broke: report it as this submission's problem
            # first line only: nbclient's messages quote the cell, and grading cells must not reach feedback
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            status, problem = "failed", f"could not run the notebook: {type(exc).__name__}: {first}"
        mark("kernel shutdown")
        executed = run.get("notebook")
        if executed is None:
            return ExecutionResult(job.student, job.assignment, job.notebook, status="failed",
                                   problem=problem or "the notebook produced no output",
                                   runtime=time.monotonic() - started,
                                   device=str(job.parameters.get("DEVICE", "cpu")), worker=socket.gethostname(),
                                   setup_done=False, log_tail=_log_tail(scratch))
        probes, errors, tests = read_run(executed, job.ignore_pattern)
        limit = (f"it ran longer than the time limit ({job.cell_timeout:g} s per cell, "
                 f"{job.notebook_timeout:g} s per notebook) and was stopped")
        errors = [dataclasses.replace(e, ename=CELL_TIMEOUT_ERROR, evalue=limit)
                  if e.ename in ("KeyboardInterrupt", CELL_TIMEOUT_ERROR) else e for e in errors]
        if job.sandbox:
            errors = [_name_the_limit(e, job.policy) for e in errors]
        return ExecutionResult(
            job.student, job.assignment, job.notebook, status=status, probes=probes, tests=tests,
            cell_errors=tuple(errors), problem=problem, executed=nbformat.writes(strip(executed)),
            runtime=time.monotonic() - started, device=str(job.parameters.get("DEVICE", "cpu")),
            worker=socket.gethostname(), setup_done=setup["done"],
            log_tail="" if setup["done"] else _log_tail(scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _log_tail(scratch: Path, size: int = 600) -> str:
    """The last lines the kernel (or the sandbox starting it) wrote, when it never got through the set-up."""
    try:
        text = (scratch / "kernel.log").read_bytes()[-size:].decode("utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines() if line.strip())
