"""The Dask runner against a real scheduler and two workers on loopback, one advertising a GPU."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_lib.execute.cluster import DaskRunner
from course_lib.execute.runners import LocalRunner

pytestmark = pytest.mark.slow
DASK = str(Path(sys.executable).parent / "dask")
NAMES = ["solution", "invert_negates", "blank", "mean_over_wrong_axis"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask")
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=open(logs / "scheduler.log", "w"), stderr=subprocess.STDOUT)]
    time.sleep(3)
    for name, extra in (("cpu-worker", []), ("gpu-worker", ["--resources", "GPU=1"])):
        procs.append(subprocess.Popen([DASK, "worker", address, "--name", name, "--nthreads", "1",
                                       "--no-dashboard", "--host", "127.0.0.1", *extra],
                                      stdout=open(logs / f"{name}.log", "w"), stderr=subprocess.STDOUT))
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
    yield address
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def jobs(config, tensors_spec, variants):
    from course_lib.grade import Context
    from course_lib.synth import build

    context = Context.prepare(config, tensors_spec, "cpu")
    return context, [context.job(n, Path(f"{n}.ipynb"), student_nb=build(tensors_spec, variants[n])) for n in NAMES]


def scores(context, results):
    return {job.student: [(c.name, c.points) for c in context.judge(result).checks] for job, result in results}


def test_same_results_as_the_local_runner(cluster, jobs):
    context, batch = jobs
    remote = list(DaskRunner(cluster).run(batch))
    assert scores(context, remote) == scores(context, LocalRunner(2).run(batch))
    assert {result.worker for _, result in remote} <= {"cpu-worker", "gpu-worker"}


def test_workers_fork_kernels_from_warm_sandboxes_during_a_batch(cluster):
    import json

    from course_lib.execute import sandbox
    from test_pool import OBSERVE, job, printed

    if sandbox.missing_features():
        pytest.skip("no sandbox on this machine")
    batch = [job(f"s{i}", OBSERVE) for i in range(5)]  # more submissions than workers: each worker keeps a pool
    seen = {j.student: json.loads(printed(r)) for j, r in DaskRunner(cluster).run(batch)}
    assert len(seen) == 5 and all(s["preloaded"] and s["home"] == ["data.txt"] for s in seen.values()), seen
    # no more than the workers: kernels start plainly, and the pools of the last batch are gone
    (_, alone), = DaskRunner(cluster).run(batch[:1])
    assert not json.loads(printed(alone))["preloaded"]


def test_ids_that_read_alike_when_joined_are_two_tasks(cluster):
    import dataclasses

    from test_pool import job, printed

    # notebook "lab" of student "extra-jo" and notebook "lab-extra" of student "jo"
    first = dataclasses.replace(job("extra-jo", "print('I am extra-jo')"), notebook="lab")
    second = dataclasses.replace(job("jo", "print('I am jo')"), notebook="lab-extra")
    results = {(j.notebook, j.student): printed(r) for j, r in DaskRunner(cluster).run([first, second])}
    assert results == {("lab", "extra-jo"): "I am extra-jo\n", ("lab-extra", "jo"): "I am jo\n"}


def test_gpu_jobs_run_only_on_gpu_workers(cluster, jobs):
    context, batch = jobs
    remote = list(DaskRunner(cluster, gpu=True).run(batch))
    assert {result.worker for _, result in remote} == {"gpu-worker"}
    assert dict((job.student, context.judge(r).score) for job, r in remote)["solution"] == 20


def test_autograde_through_the_cluster(cluster, tmp_path, capsys):
    from conftest import copy_course
    from course_lib.assignment import Assignment
    from course_lib.cli import main
    from course_lib.config import CourseConfig
    from course_lib.synth import build, load_variants, write
    from nbgrader.api import Gradebook

    course = copy_course(tmp_path / "course")
    spec = Assignment.load(CourseConfig.load(course), "01-tensors").notebook("tensors")
    variants = {v.name: v for v in load_variants(spec)}
    for name in ("solution", "invert_negates"):
        write(build(spec, variants[name]), course / "submitted" / name / "01-tensors" / "tensors.ipynb")
    assert main(["--course", str(course), "autograde", "01-tensors", "--scheduler", cluster, "--device", "cpu",
                 "--quiet"]) == 0
    assert "graded 2" in capsys.readouterr().out
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "dl-pytorch") as gb:
        assert gb.find_submission("01-tensors", "solution").score == 20
        assert gb.find_submission("01-tensors", "invert_negates").score == 17


def start_cluster(logs: Path, workers: dict) -> tuple[str, list]:
    """A scheduler and named workers (``name -> extra args``) as separate processes on loopback."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=open(logs / "scheduler.log", "w"), stderr=subprocess.STDOUT)]
    time.sleep(3)
    for name, extra in workers.items():
        procs.append(subprocess.Popen([DASK, "worker", address, "--name", name, "--nthreads", "1",
                                       "--no-dashboard", "--host", "127.0.0.1", *extra],
                                      stdout=open(logs / f"{name}.log", "w"), stderr=subprocess.STDOUT))
    return address, procs


def test_a_worker_killed_mid_batch_has_its_submissions_run_elsewhere(jobs, tmp_path):
    import threading

    import psutil
    from distributed import Client

    context, batch = jobs
    address, procs = start_cluster(tmp_path, {"victim": [], "survivor": ["--resources", "GPU=1"]})
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            victim = next(addr for addr, info in client.scheduler_info()["workers"].items()
                          if info["name"] == "victim")
            results = []
            runner = threading.Thread(target=lambda: results.extend(DaskRunner(address).run(batch)), daemon=True)
            runner.start()
            victim_proc = psutil.Process(procs[1].pid)
            deadline = time.monotonic() + 120
            # wait until the victim is running a submission's kernel, then kill the whole worker (nanny too)
            while not any("ipykernel" in " ".join(p.cmdline()) for p in _alive(victim_proc.children(recursive=True))):
                assert time.monotonic() < deadline, "the victim never started a submission"
                time.sleep(0.1)
            on_victim = {key.rsplit("-", 1)[-1] for key in client.processing(workers=[victim])[victim]}
            for proc in [*victim_proc.children(recursive=True), victim_proc]:
                with _suppress():
                    proc.kill()
            runner.join(timeout=300)
        assert not runner.is_alive(), "the batch did not finish after the worker died"
        assert sorted(job.student for job, _ in results) == sorted(NAMES)
        assert all(r.status == "completed" for _, r in results)
        assert on_victim, "nothing was running on the killed worker"
        moved = {job.student: r.worker for job, r in results if job.student in on_victim}
        assert set(moved.values()) == {"survivor"}, moved
        assert scores(context, results) == scores(context, LocalRunner(2).run(batch))
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_an_unreachable_scheduler_is_a_clear_error(jobs):
    from course_lib.errors import CourseError

    _, batch = jobs
    with pytest.raises(CourseError, match="cannot reach the Dask scheduler"):
        list(DaskRunner(f"tcp://127.0.0.1:{free_port()}", connect_timeout=3).run(batch[:1]))


def _alive(procs):
    import psutil

    out = []
    for p in procs:
        try:
            p.cmdline()
            out.append(p)
        except psutil.Error:
            pass
    return out


def _suppress():
    import contextlib

    import psutil

    return contextlib.suppress(psutil.Error)
