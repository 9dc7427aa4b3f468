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
    assert auto.worker_count("cpu") == len(os.sched_getaffinity(0))
    assert config.with_overrides(workers=5).worker_count("cuda") == 5


def test_default_cpu_workers_are_the_cores_this_process_may_use(monkeypatch, tmp_path):
    """A batch job pinned to 4 of a node's 64 cores, or a container allowed 2.5 CPUs, runs as many workers
    as it has cores (rounded up), not one per core of the machine."""
    import os

    from course_lib.config import usable_cpus

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(4)))
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    cpu_max = tmp_path / "cpu.max"
    assert usable_cpus(cpu_max) == 4  # no cgroup file
    cpu_max.write_text("max 100000\n")
    assert usable_cpus(cpu_max) == 4
    cpu_max.write_text("250000 100000\n")
    assert usable_cpus(cpu_max) == 3
    cpu_max.write_text("800000 100000\n")
    assert usable_cpus(cpu_max) == 4
    cpu_max.write_text("10000 100000\n")
    assert usable_cpus(cpu_max) == 1
    cpu_max.write_text("garbage\n")
    assert usable_cpus(cpu_max) == 4


def _a_gpu_here(monkeypatch):
    """This machine as one with an NVIDIA driver and a usable GPU, to ``resolve_device`` (nothing runs on it)."""
    import os

    import torch

    exists = os.path.exists
    monkeypatch.setattr(os.path, "exists", lambda p: p in ("/dev/nvidiactl", "/proc/driver/nvidia") or exists(p))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


def test_auto_runs_nbgrader_format_notebooks_where_nbgrader_runs_them(monkeypatch, config, tmp_path):
    """On a GPU runner ``auto`` is CUDA for the course's own graders, but the CPU for a notebook in nbgrader's
    format that does not declare "gpu": nbgrader runs it with its parameters cell's DEVICE, and its hidden tests
    make CPU tensors, so an answer that follows DEVICE would lose their points on the GPU runner alone."""
    from course_lib.assignment import Assignment
    from course_lib.execute.jobs import device_for
    from course_lib.grade import grade_file
    from course_lib.synth import Variant, build, write

    _a_gpu_here(monkeypatch)
    auto = config.with_overrides(device="auto")
    autograd, = Assignment.load(auto, "06-autograd").autograded()
    tensors = Assignment.load(auto, "01-tensors").autograded()
    assert device_for(auto, [autograd], None) == "cpu"
    assert device_for(auto, tensors, None) == "cuda"
    assert device_for(auto, [autograd], "cuda", here=False) == "cuda"  # asked for by name: as asked
    declared = auto.with_overrides(assignment_limits={**auto.assignment_limits, "06-autograd": {"gpu": True}})
    assert device_for(declared, [autograd], None) == "cuda"
    # through `course grade`'s own path: the answer that puts its parameters on DEVICE keeps its points
    answer = (
        "def fit_line(x, y, steps=500, lr=0.1):\n"
        "    w = torch.zeros((), device=DEVICE, requires_grad=True)\n"
        "    b = torch.zeros((), device=DEVICE, requires_grad=True)\n"
        "    for _ in range(steps):\n"
        "        loss = ((w * x + b - y) ** 2).mean()\n"
        "        loss.backward()\n"
        "        with torch.no_grad():\n"
        "            w -= lr * w.grad\n"
        "            b -= lr * b.grad\n"
        "        w.grad = None\n"
        "        b.grad = None\n"
        "    return w.item(), b.item()\n")
    follows_device = Variant("fit_line_on_device", kind="alternative", answers={"fit_line": answer})
    graded, _ = grade_file(config=auto, assignment_id="06-autograd",
                           path=write(build(autograd, follows_device), tmp_path / "autograd.ipynb"))
    assert graded.score == graded.max_score, [(c.name, c.message) for c in graded.checks if not c.passed]
