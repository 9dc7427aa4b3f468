"""The Dask runner: the same jobs on an existing Dask cluster.

Same interface and the same plain results as the local runners in
:mod:`course_lib.execute.runners`; the coordinator alone writes the gradebook.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import traceback
from typing import Callable, Iterable, Iterator

from distributed.diagnostics.plugin import WorkerPlugin

from ..errors import ClusterError, CourseError
from ..models import ExecutionResult
from .run import Job, run_job
from .runners import _failed

POOL_PLUGIN = "course-kernel-pool"


class KernelPoolPlugin(WorkerPlugin):
    """A Dask worker plugin: the worker keeps a kernel pool (:mod:`course_lib.execute.pool`) during a batch.

    One warm sandbox per worker thread, as the local runner has; the coordinator
    registers the plugin when a batch starts and removes it at the end, which
    closes the pool and frees the sandboxes' memory.
    """

    name = POOL_PLUGIN
    idempotent = False

    def setup(self, worker) -> None:
        from .pool import KernelPool

        self.pool = KernelPool(worker.state.nthreads)

    async def teardown(self, worker) -> None:
        import asyncio

        pool = getattr(self, "pool", None)
        if pool is not None:
            await asyncio.to_thread(pool.close)


def _run_on_worker(job: Job) -> ExecutionResult:
    """What a Dask worker runs: the same job function, labelled with the worker's name (and Slurm job)."""
    import dataclasses
    import os

    from distributed import get_worker

    worker = get_worker()
    plugin = worker.plugins.get(POOL_PLUGIN)
    label = str(worker.name or worker.address)
    if os.environ.get("SLURM_JOB_ID"):  # a worker started by Slurm: the job says where and with what it ran
        label += f"/slurm-job-{os.environ['SLURM_JOB_ID']}"
    with own_gpu(job) as (job, gpu):
        result = run_job(job, pool=getattr(plugin, "pool", None))
    return dataclasses.replace(result, worker=label + (f"/gpu{gpu}" if gpu is not None else ""))


_GPU_SLOTS: "queue.Queue[str] | None" = None
_GPU_SLOTS_LOCK = threading.Lock()


@contextlib.contextmanager
def own_gpu(job: Job):
    """``(job, gpu)``: on a worker that sees several GPUs, a CUDA job holds one of its own while it runs.

    As the local runner's GPU slots: the kernel sees only that device (``CUDA_VISIBLE_DEVICES``), so ``cuda``
    means that GPU, and two submissions never share one while another is idle. With one GPU or none visible,
    or a CPU job, the job is unchanged (``gpu`` is ``None``).
    """
    global _GPU_SLOTS
    import dataclasses
    import os

    visible = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    if len(visible) < 2 or not str(job.parameters.get("DEVICE", "cpu")).startswith("cuda"):
        yield job, None
        return
    with _GPU_SLOTS_LOCK:  # the worker's threads share the slots of its process
        if _GPU_SLOTS is None:
            _GPU_SLOTS = queue.Queue()
            for device in visible:
                _GPU_SLOTS.put(device)
    gpu = _GPU_SLOTS.get()
    try:
        yield dataclasses.replace(job, env={**job.env, "CUDA_VISIBLE_DEVICES": gpu}), gpu
    finally:
        _GPU_SLOTS.put(gpu)


def _package_zip(directory) -> str:
    """The grading code as a zip that workers import (no shared file system assumed)."""
    import shutil
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent
    return shutil.make_archive(str(Path(directory) / "course_lib"), "zip", root_dir=package.parent,
                               base_dir=package.name)


class DaskRunner:
    """Jobs sent to an existing Dask cluster; GPU jobs only to workers that advertise a ``GPU`` resource.

    The grading code is uploaded to the workers; the hidden checks travel inside each
    job (as the probes of the prepared notebook), never as files. Results come back as
    the same plain data as from the local runner, and the coordinator alone writes
    the gradebook. A job whose worker dies is run again elsewhere by Dask.

    With ``start_wait``, a batch that has had no worker able to run its jobs for that many
    seconds stops with :class:`~course_lib.errors.ClusterError`, its message completed by
    ``stalled()`` (e.g. the states of the Slurm jobs that should have become workers);
    without it, the batch waits for workers as long as it takes.
    """

    def __init__(self, scheduler: str, *, gpu: bool = False, retries: int = 2, connect_timeout: float = 30,
                 start_wait: float | None = None, stalled: Callable[[], str] | None = None):
        self.scheduler = scheduler
        self.gpu = gpu
        self.retries = retries
        self.connect_timeout = connect_timeout
        self.start_wait = start_wait
        self.stalled = stalled

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, ExecutionResult]]:
        import tempfile

        from distributed import Client

        jobs = list(jobs)
        if not jobs:
            return
        try:
            client = Client(self.scheduler, timeout=self.connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise CourseError(f"cannot reach the Dask scheduler at {self.scheduler} ({exc})",
                              hint="start it (`dask scheduler`) or check the address and port") from None
        with client, tempfile.TemporaryDirectory() as tmp:
            client.upload_file(_package_zip(tmp))
            pooled = len(jobs) > len(client.scheduler_info().get("workers", {}))
            if pooled:  # more jobs than workers: kernels forked from warm sandboxes on each worker
                client.register_plugin(KernelPoolPlugin(), name=POOL_PLUGIN)
            try:
                yield from self._results(client, jobs)
            finally:
                if pooled:
                    with contextlib.suppress(Exception):
                        client.unregister_worker_plugin(POOL_PLUGIN)

    def _results(self, client, jobs: list[Job]) -> Iterator[tuple[Job, ExecutionResult]]:
        import uuid

        batch = uuid.uuid4().hex[:8]
        # The index keeps keys apart however ids read when joined ("lab"/"extra-jo" and "lab-extra"/"jo"): two
        # jobs under one key would be one task, and one student would get the other's result.
        futures = {client.submit(_run_on_worker, job, pure=False, retries=self.retries,
                                 key=f"grade-{batch}-{index}-{job.notebook}-{job.student}",
                                 resources={"GPU": 1} if self.gpu else None): job for index, job in enumerate(jobs)}
        for future in self._completed(client, futures):
            job = futures[future]
            try:
                yield job, future.result()
            except Exception as exc:  # the cluster could not run it: this submission fails, the batch goes on
                if type(exc).__name__ == "KilledWorker":
                    detail = ("every worker that ran it died (the scheduler's allowed-failures was reached); "
                              "the submission may crash its machine: grade it alone with `course grade`")
                else:
                    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                yield job, _failed(job, f"the cluster could not run it: {detail}")

    def _completed(self, client, futures) -> Iterator:
        """The futures as they finish; with ``start_wait``, stopping when no worker can run them for that long."""
        from distributed import as_completed as dask_completed

        if self.start_wait is None:
            yield from dask_completed(futures)
            return
        finished = dask_completed(futures)
        workerless_since = time.monotonic()
        while not finished.is_empty():
            if finished.has_ready():
                yield from finished.next_batch(block=False)
                continue
            if self._able_workers(client):
                workerless_since = time.monotonic()
            elif time.monotonic() - workerless_since > self.start_wait:
                state = self.stalled() if self.stalled else ""
                kind = "GPU worker" if self.gpu else "worker"
                raise ClusterError(f"no {kind} joined the cluster within {self.start_wait:g} s"
                                   + (f": {state}" if state else ""),
                                   hint="check the partition, account and GPUs asked for, and the workers' "
                                        "logs; if the queue is only busy, allow a longer wait")
            time.sleep(0.5)

    def _able_workers(self, client) -> int:
        """Workers that can run this batch's jobs (with a ``GPU`` resource when the jobs need one)."""
        workers = client.scheduler_info(n_workers=-1).get("workers", {}).values()
        return sum(1 for w in workers if not self.gpu or (w.get("resources") or {}).get("GPU", 0) >= 1)
