"""``course autograde --cluster slurm`` on a real single-node Slurm cluster (tests/slurm_local.py).

The node advertises one ``gpu`` generic resource; a GPU assignment's workers are Slurm jobs that ask for it
(``--gres=gpu:1``), the work runs on the CPU. The tests skip, saying why, where Slurm cannot run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_lib.config import SlurmSettings
from course_lib.execute.slurm import cluster_options

AID, NB = "05-gpu-classifier", "gpu_classifier"
CLASS = ["solution", "linear_model_only", "evaluate_returns_tensor"]
COURSE = str(Path(sys.executable).parent / "course")
SLURM_SETTINGS = f"""
c.Slurm.partition = "grading"
c.Slurm.cores = 1
c.Slurm.memory = "1GB"
c.Slurm.walltime = "00:20:00"
c.Slurm.interface = "lo"
c.Slurm.max_jobs = 2
c.Slurm.start_wait = {{wait}}
"""


def test_gpu_workers_ask_slurm_for_gpus_and_cpu_workers_do_not(tmp_path):
    from course_lib.execute.slurm import slurm_cluster_class

    SLURMCluster = slurm_cluster_class()
    settings = SlurmSettings(partition="gpu", account="dl", gpus_per_worker=2, cores=3, memory="8GB",
                             activate="source /opt/course/.venv/bin/activate", extra_directives=["--qos=short"],
                             interface="lo")
    scripts = {}
    for gpu in (True, False):
        with SLURMCluster(**cluster_options(settings, gpu=gpu, name="course-x", log_directory=tmp_path)) as cluster:
            scripts[gpu] = cluster.job_script()
    for script in scripts.values():
        assert all(line in script.splitlines() for line in (
            "#SBATCH -p gpu", "#SBATCH -A dl", "#SBATCH --cpus-per-task=3", "#SBATCH --qos=short",
            "#SBATCH -J course-x", "source /opt/course/.venv/bin/activate"))
        assert re.search(r"^python3 -m distributed.cli.dask_worker .* --nthreads 3 ", script, re.M), script
    assert "#SBATCH --gres=gpu:2" in scripts[True] and "--resources GPU=2" in scripts[True]
    assert "gres" not in scripts[False] and "--resources" not in scripts[False]


def test_slurm_settings_are_checked_where_they_are_written(own_course):
    from course_lib.config import CourseConfig
    from course_lib.errors import ConfigError

    config_file = own_course / "nbgrader_config.py"
    original = config_file.read_text()
    for line, words in (('c.Slurm.partitoin = "gpu"', "unknown setting(s) c.Slurm.partitoin"),
                        ("c.Slurm.max_jobs = 0", "c.Slurm.max_jobs = 0"),
                        ('c.Slurm.cores = "4"', "must be a whole number"),
                        ('c.Slurm.extra_directives = "--qos=short"', "must be a list")):
        config_file.write_text(original + line + "\n")
        with pytest.raises(ConfigError, match=re.escape(words)):
            CourseConfig.load(own_course)
    config_file.write_text(original + 'c.Slurm.partition = "gpu"\nc.Slurm.gpus_per_worker = 2\n')
    assert CourseConfig.load(own_course).slurm == SlurmSettings(partition="gpu", gpus_per_worker=2)


def test_without_slurm_here_the_batch_is_refused_before_anything_runs(own_course, tmp_path, monkeypatch, capsys):
    from course_lib.cli import main

    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch on this machine's path
    assert main(["--course", str(own_course), "autograde", AID, "--cluster", "slurm", "--quiet"]) == 8
    assert "sbatch is not installed here: this machine is not a Slurm submit host" in capsys.readouterr().err
    assert main(["--course", str(own_course), "autograde", AID, "--cluster", "slurm", "--scheduler",
                 "tcp://127.0.0.1:1", "--quiet"]) == 2
    assert "--scheduler and --cluster both say where to grade" in capsys.readouterr().err
    assert not (own_course / "gradebook.db").exists()


# -- on a real Slurm ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    from slurm_local import Unavailable, local_slurm

    try:
        with local_slurm(tmp_path_factory.mktemp("slurm")) as env:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("SLURM_CONF", env["SLURM_CONF"])
                yield env
    except Unavailable as exc:
        pytest.skip(f"no local Slurm cluster on this machine: {exc}")


def slurm_out(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=30).stdout


def course_jobs() -> dict[str, str]:
    """Every job of a batch Slurm still knows (running or ended within MinJobAge): id -> ``scontrol`` record."""
    records = slurm_out("scontrol", "show", "job", "-o")
    return {re.search(r"JobId=(\d+)", r)[1]: r for r in records.splitlines()
            if re.search(r"JobName=course-", r)}


def queue() -> list[str]:
    return slurm_out("squeue", "-h", "-o", "%i %j %T").splitlines()


def slurm_course(own_course, students, *, wait: int = 180) -> Path:
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.synth import build, load_variants, write

    with open(own_course / "nbgrader_config.py", "a") as f:
        f.write(SLURM_SETTINGS.format(wait=wait))
    spec = Assignment.load(CourseConfig.load(own_course), AID).notebook(NB)
    variants = {v.name: v for v in load_variants(spec)}
    for name in students:
        write(build(spec, variants[name]), own_course / "submitted" / name / AID / f"{NB}.ipynb")
    return own_course


def local_scores(course: Path, students) -> dict:
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.execute.runners import LocalRunner
    from course_lib.grade import Context
    from course_lib.synth import build, load_variants

    config = CourseConfig.load(course).with_overrides(device="cpu")
    spec = Assignment.load(config, AID).notebook(NB)
    variants = {v.name: v for v in load_variants(spec)}
    context = Context.prepare(config, spec, "cpu")
    jobs = [context.job(n, Path(f"{n}.ipynb"), student_nb=build(spec, variants[n])) for n in students]
    return {job.student: [(c.name, c.points) for c in context.judge(r).checks] for job, r in LocalRunner(2).run(jobs)}


def _as_from_a_terminal() -> None:
    # Ctrl-C as a shell gives it: a process inherits an ignored or blocked SIGINT from its parent (here the
    # test session, where earlier tests' libraries may have left it so), and Python then keeps it ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def start_autograde(course: Path) -> subprocess.Popen:
    return subprocess.Popen([COURSE, "--course", str(course), "autograde", AID, "--cluster", "slurm",
                             "--device", "cpu", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, preexec_fn=_as_from_a_terminal)


def kernel_jobs() -> set[str]:
    """Slurm jobs that are running a submission's kernel right now (a plain one, or one forked by a zygote)."""
    import psutil

    found = set()
    for proc in psutil.process_iter(["cmdline"]):
        try:
            line = " ".join(proc.info["cmdline"] or ())
            if not ("ipykernel" in line or ("zygote_main" in line and proc.children())):
                continue
            for ancestor in proc.parents():  # the kernel's environment is the sandbox's: its worker knows the job
                job = ancestor.environ().get("SLURM_JOB_ID")
                if job:
                    found.add(job)
                    break
        except (psutil.Error, OSError):
            continue
    return found


@pytest.mark.slow
def test_a_gpu_assignment_graded_on_slurm_gpu_jobs_one_killed_mid_batch(slurm, own_course):
    from course_lib.autograde import load_results
    from course_lib.config import CourseConfig

    course = slurm_course(own_course, CLASS)
    before = set(course_jobs())
    grading = start_autograde(course)
    try:
        deadline = time.monotonic() + 240
        while not (running := kernel_jobs()):  # Slurm kills a worker's job while it runs a submission
            assert grading.poll() is None and time.monotonic() < deadline, grading.communicate()[0]
            time.sleep(0.2)
        killed = running.pop()
        slurm_out("scancel", killed)
        out, _ = grading.communicate(timeout=400)
    finally:
        if grading.poll() is None:
            grading.kill()
    assert grading.returncode == 0, out
    assert f"graded {len(CLASS)}" in out, out
    config = CourseConfig.load(course)
    graded = {s: load_results(config, s, AID, NB) for s in CLASS}
    # the same points for every check as this machine's own runner gives
    assert {s: [(c.name, c.points) for c in g.checks] for s, g in graded.items()} == local_scores(course, CLASS)
    jobs = {j: r for j, r in course_jobs().items() if j not in before}
    assert "JobState=CANCELLED" in jobs[killed]
    used = {re.search(r"/slurm-job-(\d+)$", g.worker)[1] for g in graded.values()}
    assert killed not in used and used <= set(jobs), (used, jobs)  # what ran on the killed job ran again elsewhere
    for job in jobs.values():  # every worker's job asked Slurm for the GPU
        assert "TresPerNode=gres:gpu:1" in job, job
    assert queue() == []


@pytest.mark.slow
def test_ctrl_c_leaves_no_slurm_job(slurm, own_course):
    import nbformat
    from nbformat.v4 import new_code_cell

    course = slurm_course(own_course, CLASS[:2])
    # one submission is still running when Ctrl-C comes, however fast the machine grades the others
    path = course / "submitted" / CLASS[0] / AID / f"{NB}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_code_cell("import time\ntime.sleep(50)"))
    nbformat.write(nb, path)
    grading = start_autograde(course)
    try:
        # Ctrl-C while the class is graded: the solution's references are saved and a student's kernel runs
        references = course / ".course-cache" / "references" / AID
        deadline = time.monotonic() + 120
        while not (any(references.glob("*.json")) and kernel_jobs()):
            assert grading.poll() is None and time.monotonic() < deadline, grading.communicate()[0]
            time.sleep(0.2)
        status = [line for line in open(f"/proc/{grading.pid}/status") if line.startswith(("SigBlk", "SigIgn"))]
        grading.send_signal(signal.SIGINT)
        out, _ = grading.communicate(timeout=90)
        out += "".join(status)
    finally:
        if grading.poll() is None:
            grading.kill()
    assert grading.returncode == 130, out
    assert queue() == []


@pytest.mark.slow
def test_workers_that_never_start_are_an_error_naming_their_jobs(slurm, own_course, capsys):
    from course_lib.cli import main

    course = slurm_course(own_course, CLASS[:1], wait=4)
    blocker = slurm_out("sbatch", "--parsable", "--gres=gpu:1", "-p", "grading", "-o", "/dev/null",
                        "--wrap", "sleep 300").strip()
    try:
        assert main(["--course", str(course), "autograde", AID, "--cluster", "slurm", "--device", "cpu",
                     "--quiet"]) == 8
        err = capsys.readouterr().err
        assert re.search(r"no GPU worker joined the cluster within 4 s: Slurm job\(s\) \d+ PENDING \(Resources\)",
                         err), err
        assert [line.split()[0] for line in queue()] == [blocker]  # the batch's own jobs are gone
    finally:
        slurm_out("scancel", blocker)
    with open(course / "nbgrader_config.py", "a") as f:
        f.write('c.Slurm.partition = "nosuch"\n')
    assert main(["--course", str(course), "autograde", AID, "--cluster", "slurm", "--device", "cpu",
                 "--quiet"]) == 8
    err = capsys.readouterr().err
    assert "Slurm refuses the workers' jobs" in err and "partition" in err.lower(), err
    deadline = time.monotonic() + 20
    while queue() and time.monotonic() < deadline:  # the cancelled blocker leaves the queue
        time.sleep(0.5)
    assert queue() == []


@pytest.mark.slow
def test_a_worker_sbatch_refuses_while_scaling_up_is_named_in_the_error(slurm, own_course, monkeypatch):
    from course_lib.config import CourseConfig
    from course_lib.errors import ClusterError
    from course_lib.execute import slurm as slurm_module
    from course_lib.grade import Context
    from course_lib.assignment import Assignment

    course = slurm_course(own_course, [], wait=3)
    with open(course / "nbgrader_config.py", "a") as f:
        f.write('c.Slurm.partition = "nosuch"\n')
    # past the check before the batch (as when a limit is reached between it and the workers' submission)
    monkeypatch.setattr(slurm_module, "check_submission", lambda script: None)
    config = CourseConfig.load(course).with_overrides(device="cpu")
    spec = Assignment.load(config, AID).notebook(NB)
    with pytest.raises(ClusterError, match=r"no job named course-05-gpu-classifier-\w+ is in Slurm's queue .*"
                                           r"sbatch refused a worker: .*[Pp]artition"):
        with slurm_module.slurm_runner(config=config, assignment=AID, gpu=True) as runner:
            Context.prepare(config, spec, "cpu", runner=runner)
    assert queue() == [] and not slurm_module.SUBMIT_FAILURES


def test_a_worker_with_several_gpus_gives_each_running_cuda_job_its_own(monkeypatch):
    """A Slurm job with --gres=gpu:2 sees both GPUs; each submission's kernel must see only the one it holds."""
    import threading
    from types import SimpleNamespace

    import distributed

    from course_lib.execute import cluster
    from course_lib.execute.run import Job

    from test_gpu_slots import exclusive_gpu_runs

    run_job, seen = exclusive_gpu_runs()
    monkeypatch.setattr(cluster, "run_job", run_job)
    monkeypatch.setattr(cluster, "_GPU_SLOTS", None)
    monkeypatch.setattr(distributed, "get_worker", lambda: SimpleNamespace(name="w", address="", plugins={}))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    jobs = [Job(student=f"s{i}", assignment="a", notebook="n", source="{}", parameters={"DEVICE": "cuda"},
                env={"OMP_NUM_THREADS": "1"}) for i in range(8)]
    results = []
    threads = [threading.Thread(target=lambda j=j: results.append(cluster._run_on_worker(j))) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(seen)) == ["3", "5"] and len(seen) == 8
    assert {r.worker for r in results} == {"w/slurm-job-42/gpu3", "w/slurm-job-42/gpu5"}
    with cluster.own_gpu(Job(student="c", assignment="a", notebook="n", source="{}",
                             parameters={"DEVICE": "cpu"})) as (job, gpu):
        assert gpu is None and "CUDA_VISIBLE_DEVICES" not in job.env  # CPU work takes no GPU
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with cluster.own_gpu(jobs[0]) as (job, gpu):
        assert gpu is None and job is jobs[0]  # one GPU: the job's own already
