"""Runners on this machine: where jobs execute. They all take jobs and yield results as they finish.

The Dask runner (:mod:`course_lib.execute.cluster`) has the same interface.

A runner never judges and never writes the gradebook; the coordinator does both,
so every runner returns the same plain :class:`~course_lib.models.ExecutionResult`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import queue
import socket
import traceback
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Iterable, Iterator, Protocol

from ..models import ExecutionResult
from . import pool as pools
from .run import Job, kernel_env, run_job


class Runner(Protocol):
    """Runs jobs; yields ``(job, result)`` in completion order."""

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, ExecutionResult]]: ...


def _failed(job: Job, problem: str) -> ExecutionResult:
    """The result of a job the grading machinery itself failed to run: never a grade (``setup_done`` false)."""
    return ExecutionResult(job.student, job.assignment, job.notebook, status="failed", problem=problem,
                           device=str(job.parameters.get("DEVICE", "cpu")), worker=socket.gethostname(),
                           setup_done=False)


class InlineRunner:
    """Runs jobs one by one in this process (single notebooks, debugging)."""

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, ExecutionResult]]:
        for job in jobs:
            yield job, run_job(job)


class LocalRunner:
    """``workers`` submissions at a time on this machine.

    The student's code runs in each job's own kernel process; the worker only
    drives that kernel over its sockets, so threads suffice, and a submission
    that crashes its kernel cannot take a worker (or the batch) down with it.
    With ``gpus``, each running submission holds one GPU of its own: its kernel
    sees only that device (``CUDA_VISIBLE_DEVICES``), so ``cuda`` means that GPU.
    With ``pool`` (the default) and more jobs than workers, each worker keeps a
    warm sandbox that forks every kernel with PyTorch already imported
    (:mod:`course_lib.execute.pool`); each kernel still serves one submission.
    """

    def __init__(self, workers: int, *, gpus: int = 0, pool: bool = True):
        self.workers = max(1, workers)
        self.gpus = max(0, gpus)
        self.pool = pool

    def _on_own_gpu(self, slots: "queue.Queue[int]", job: Job) -> ExecutionResult:
        gpu = slots.get()
        try:
            own = dataclasses.replace(job, env={**job.env, "CUDA_VISIBLE_DEVICES": str(gpu)})
            result = run_job(own)
            return dataclasses.replace(result, worker=f"{result.worker or socket.gethostname()}/gpu{gpu}")
        finally:
            slots.put(gpu)

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, ExecutionResult]]:
        jobs = iter(jobs)  # taken as workers free up: a long batch never holds all its prepared jobs
        first = list(itertools.islice(jobs, self.workers + 1))
        if not first:
            return
        work = run_job
        if self.gpus:
            slots: queue.Queue[int] = queue.Queue()
            for gpu in range(self.gpus):
                slots.put(gpu)
            work = functools.partial(self._on_own_gpu, slots)
        workers = min(self.workers, len(first))
        # more than one job per worker: kernels are forked from warm sandboxes (see execute.pool)
        own_pool = self.pool and len(first) > workers and pools.current() is None
        kernels = pools.active(pools.KernelPool(workers)) if own_pool else contextlib.nullcontext()
        with kernels as kernel_pool, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grader") as pool:
            if own_pool and first[0].sandbox:
                kernel_pool.prime(first[0], kernel_env(first[0]))
            waiting, running = itertools.chain(first, jobs), {}

            def top_up() -> None:  # one job queued behind each running one
                while len(running) < 2 * workers and (job := next(waiting, None)) is not None:
                    running[pool.submit(work, job)] = job

            top_up()
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:  # a bug in the run itself: this submission fails, the batch goes on
                        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                        result = _failed(job, f"the grading worker failed: {detail}")
                    yield job, result
                top_up()
