"""On CUDA the local runner gives every running submission a GPU of its own (tested without a GPU:
the slot logic and the environment each kernel would get, through the runner's real code path)."""

from __future__ import annotations

import threading
import time

from course_lib.execute import runners
from course_lib.execute.run import Job
from course_lib.models import ExecutionResult


def exclusive_gpu_runs(worker: str = ""):
    """``(run_job, seen)``: a stand-in for ``run_job`` that fails when two running jobs hold one GPU
    (``CUDA_VISIBLE_DEVICES``), and the GPUs the jobs held, in order."""
    lock, running, seen = threading.Lock(), set(), []

    def run_job(job, pool=None):
        gpu = job.env["CUDA_VISIBLE_DEVICES"]
        with lock:
            assert gpu not in running, "two kernels on one GPU"
            running.add(gpu)
            seen.append(gpu)
        time.sleep(0.05)
        with lock:
            running.discard(gpu)
        return ExecutionResult(job.student, job.assignment, job.notebook, status="completed", device="cuda",
                               worker=worker)

    return run_job, seen


def test_each_running_job_holds_its_own_gpu(monkeypatch):
    fake_run_job, seen = exclusive_gpu_runs(worker="host")
    monkeypatch.setattr(runners, "run_job", fake_run_job)
    jobs = [Job(student=f"s{i}", assignment="a", notebook="n", source="{}", parameters={"DEVICE": "cuda"},
                env={"OMP_NUM_THREADS": "1"}) for i in range(12)]
    results = list(runners.LocalRunner(4, gpus=3).run(jobs))
    assert len(results) == 12
    assert set(seen) == {"0", "1", "2"}
    assert {r.worker for _, r in results} <= {"host/gpu0", "host/gpu1", "host/gpu2"}
    assert all(j.env == {"OMP_NUM_THREADS": "1"} for j in jobs)  # the jobs themselves are unchanged


def test_default_workers_follow_gpus_on_cuda_and_cores_on_cpu(monkeypatch, config):
    import os

    from course_lib import config as config_module

    monkeypatch.setattr(config_module, "gpu_count", lambda: 3)
    auto = config.with_overrides(workers=0)
    assert auto.worker_count("cuda") == 3
    assert auto.worker_count("cpu") == (os.cpu_count() or 1)
    assert config.with_overrides(workers=5).worker_count("cuda") == 5
