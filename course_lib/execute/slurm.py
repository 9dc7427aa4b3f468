"""Workers from Slurm for one batch: dask-jobqueue's ``SLURMCluster`` around the Dask runner.

The course schedules nothing itself: dask-jobqueue submits each worker as a Slurm job
(``sbatch``), scales between none and ``c.Slurm.max_jobs`` jobs as the batch needs them,
and cancels them (``scancel``). GPU assignments get workers whose jobs ask for
``--gres=gpu:N`` and which advertise the ``GPU`` resource the Dask runner requires.
The cluster's whole life sits inside :func:`slurm_runner`: when it ends, by success,
error or Ctrl-C, no job of the batch is left in Slurm's queue.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

from ..config import CourseConfig, SlurmSettings
from ..errors import ClusterError
from .cluster import DaskRunner

IDLE_BEFORE_RELEASE = 20
"""Seconds a worker stays idle before its job ends: the solution's reference run and the class follow each other."""
CANCEL_WAIT = 30
"""Seconds to wait for cancelled jobs to leave the queue."""


def job_name(assignment: str) -> str:
    """A Slurm job name of this batch alone: its jobs are found (and cancelled) by it."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in assignment)
    return f"course-{safe}-{uuid.uuid4().hex[:6]}"


def cluster_options(settings: SlurmSettings, *, gpu: bool, name: str, log_directory: Path) -> dict:
    """The keyword arguments of dask-jobqueue's ``SLURMCluster`` for one batch (one worker per job)."""
    directives = list(settings.extra_directives)
    worker_args: list[str] = []
    if gpu:
        directives.insert(0, f"--gres=gpu:{settings.gpus_per_worker}")
        worker_args = ["--resources", f"GPU={settings.gpus_per_worker}"]
    python = settings.python or ("python3" if settings.activate else sys.executable)
    return dict(
        queue=settings.partition, account=settings.account, walltime=settings.walltime,
        cores=settings.cores, processes=1, memory=settings.memory, job_name=name, name=name,
        python=python, job_script_prologue=[settings.activate] if settings.activate else [],
        job_extra_directives=directives, worker_extra_args=worker_args, interface=settings.interface,
        log_directory=str(log_directory), death_timeout=60,
        # the scheduler runs in this process: no dashboard, and its small HTTP endpoint on a free port (two
        # batches on one login node must not compete for 8787)
        scheduler_options={"dashboard": False, "dashboard_address": ":0"},
    )


SUBMIT_FAILURES: dict[str, str] = {}
"""Job name -> what ``sbatch`` last said when it refused one of that batch's workers (while scaling up)."""


def slurm_cluster_class():
    """dask-jobqueue's ``SLURMCluster``, imported without the SIGINT handler its import installs.

    Importing dask-jobqueue replaces Python's Ctrl-C handler with ``sys.exit()``, which would end a batch
    as if it had succeeded (exit status 0, no summary); Ctrl-C must stay a ``KeyboardInterrupt``.
    """
    import signal
    import threading

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main_thread else None
    from dask_jobqueue import SLURMCluster

    if main_thread and signal.getsignal(signal.SIGINT) is not previous:
        signal.signal(signal.SIGINT, previous)
    return SLURMCluster


def recording_job_class():
    """dask-jobqueue's Slurm job, keeping what ``sbatch`` says when it refuses a worker (:data:`SUBMIT_FAILURES`).

    The cluster submits workers in the background as the batch scales up, where a refusal is only logged;
    the batch's error when no worker starts must say it.
    """
    slurm_cluster_class()  # imported once without its SIGINT handler
    from dask_jobqueue.slurm import SLURMJob

    class RecordingSLURMJob(SLURMJob):
        async def start(self):
            try:
                await super().start()
            except Exception as exc:
                SUBMIT_FAILURES[self.job_name] = " ".join(str(exc).split())[:500]
                raise

    return RecordingSLURMJob


def _slurm(command: list[str], *, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise ClusterError(f"{command[0]} is not installed here: this machine is not a Slurm submit host",
                           hint="run the command on a machine that submits Slurm jobs (a login node)") from None
    except subprocess.TimeoutExpired:
        raise ClusterError(f"`{' '.join(command)}` did not answer within {timeout:g} s",
                           hint="check that slurmctld is up (sinfo)") from None


def queued_jobs(name: str) -> list[tuple[str, str, str]]:
    """``(job id, state, reason)`` of the jobs named ``name`` still in Slurm's queue."""
    out = _slurm(["squeue", "-h", "--name", name, "-o", "%i|%T|%r"])
    if out.returncode != 0:
        raise ClusterError(f"squeue failed: {out.stderr.strip() or out.stdout.strip()}",
                           hint="check that slurmctld is up (sinfo)")
    return [tuple(line.split("|", 2)) for line in out.stdout.splitlines() if line.count("|") == 2]


def describe_queue(name: str) -> str:
    """The batch's jobs and their states, as ``squeue`` shows them, in words (and sbatch's last refusal)."""
    jobs = queued_jobs(name)
    refused = f"; sbatch refused a worker: {SUBMIT_FAILURES[name]}" if name in SUBMIT_FAILURES else ""
    if not jobs:
        return f"no job named {name} is in Slurm's queue (the workers' logs may say why they ended){refused}"
    return "Slurm job(s) " + ", ".join(f"{job} {state}" + (f" ({reason})" if reason not in ("", "None") else "")
                                       for job, state, reason in jobs) + refused


def check_submission(script: str) -> None:
    """Raise :class:`ClusterError` when Slurm would refuse the workers' job script (``sbatch --test-only``)."""
    out = _slurm(["sbatch", "--test-only"], stdin=script)
    if out.returncode != 0:
        said = " ".join((out.stderr or out.stdout).split()) or f"exit status {out.returncode}"
        raise ClusterError(f"Slurm refuses the workers' jobs: {said}",
                           hint="check c.Slurm.partition, account, memory, cores and gpus_per_worker in "
                                "nbgrader_config.py against `sinfo` and `sacctmgr show assoc user=$USER`")


def cancel_jobs(name: str) -> list[str]:
    """Cancel every job named ``name`` and wait until the queue shows none; the ids that were left."""
    left = [job for job, _, _ in queued_jobs(name)]
    if left:
        _slurm(["scancel", *left])
    deadline = time.monotonic() + CANCEL_WAIT
    while queued_jobs(name):
        if time.monotonic() > deadline:
            raise ClusterError(f"Slurm jobs named {name} are still in the queue after scancel: {describe_queue(name)}",
                               hint=f"cancel them by hand: scancel --name {name}")
        time.sleep(0.5)
    return left


@contextlib.contextmanager
def slurm_runner(*, config: CourseConfig, assignment: str, gpu: bool) -> Iterator[DaskRunner]:
    """A Dask runner on workers Slurm starts for this batch; every job it submitted is gone when it ends.

    Workers are Slurm jobs of ``config.slurm``, from none up to ``max_jobs`` as the batch needs them
    (adaptive scaling); a worker whose job Slurm kills has its submissions run again on another.

    Raises:
        ClusterError: Slurm refuses the job script, or no worker starts within ``start_wait`` seconds
            (the message names the jobs and their states).
    """
    settings = config.slurm
    if shutil.which("sbatch") is None:
        raise ClusterError("sbatch is not installed here: this machine is not a Slurm submit host",
                           hint="run course autograde --cluster slurm on a machine that submits Slurm jobs")
    SLURMCluster = slurm_cluster_class()
    name = job_name(assignment)
    logs = config.path(".course-cache", "slurm", name)
    logs.mkdir(parents=True, exist_ok=True)
    try:
        cluster = SLURMCluster(job_cls=recording_job_class(),
                               **cluster_options(settings, gpu=gpu, name=name, log_directory=logs))
    except ValueError as exc:  # dask-jobqueue's own checks of the settings (a memory it cannot read)
        raise ClusterError(f"dask-jobqueue refuses the c.Slurm settings: {exc}",
                           hint="fix c.Slurm in nbgrader_config.py") from None
    try:
        check_submission(cluster.job_script())
        cluster.adapt(minimum_jobs=0, maximum_jobs=settings.max_jobs, interval="1s",
                      wait_count=IDLE_BEFORE_RELEASE)

        def stalled() -> str:
            return f"{describe_queue(name)}; workers' logs in {logs}"

        yield DaskRunner(cluster.scheduler_address, gpu=gpu, start_wait=settings.start_wait, stalled=stalled)
    finally:
        try:
            with contextlib.suppress(Exception):
                cluster.close(timeout=CANCEL_WAIT)
        finally:  # also after a second Ctrl-C during close: whatever Slurm still holds is cancelled
            SUBMIT_FAILURES.pop(name, None)
            cancel_jobs(name)
