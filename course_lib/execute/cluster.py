"""The Dask runner: the same jobs on an existing Dask cluster.

Same interface and the same plain results as the local runners in
:mod:`course_lib.execute.runners`; the coordinator alone writes the gradebook.
"""

from __future__ import annotations

import traceback
from typing import Iterable, Iterator

from ..errors import CourseError
from ..models import ExecutionResult
from .run import Job, run_job
from .runners import _failed


def _run_on_worker(job: Job) -> ExecutionResult:
    """What a Dask worker runs: the same job function, labelled with the worker's name."""
    import dataclasses

    from distributed import get_worker

    worker = get_worker()
    return dataclasses.replace(run_job(job), worker=str(worker.name or worker.address))


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
    """

    def __init__(self, scheduler: str, *, gpu: bool = False, retries: int = 2, connect_timeout: float = 30):
        self.scheduler = scheduler
        self.gpu = gpu
        self.retries = retries
        self.connect_timeout = connect_timeout

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, ExecutionResult]]:
        import tempfile
        import uuid

        from distributed import Client, as_completed as dask_completed

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
            batch = uuid.uuid4().hex[:8]
            futures = {client.submit(_run_on_worker, job, pure=False, retries=self.retries,
                                     key=f"grade-{batch}-{job.assignment}-{job.notebook}-{job.student}",
                                     resources={"GPU": 1} if self.gpu else None): job for job in jobs}
            for future in dask_completed(futures):
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
