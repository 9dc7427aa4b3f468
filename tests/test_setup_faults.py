"""A fault of the grader is never a student's zero: broken set-ups stop the batch, and what can change a grade
is in the fingerprint. Fast tests fake the runs; the end-to-end ones at the bottom start real kernels."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib.autograde import BatchReport, _SetupGuard
from course_lib.errors import GradingSetupError
from course_lib.execute.run import Job
from course_lib.execute.sandbox import Policy
from course_lib.models import ExecutionResult, Submission

from conftest import copy_course


def _job(student: str) -> Job:
    return Job(student=student, assignment="01-tensors", notebook="tensors", source="{}",
               parameters={"DEVICE": "cpu", "SEED": 0}, policy=Policy(max_processes=1))


def _result(student: str, status: str = "completed", done: bool = True, problem: str = "") -> ExecutionResult:
    return ExecutionResult(student, "01-tensors", "tensors", status=status, setup_done=done, problem=problem)


class FakeContext:
    """Stands for a notebook's grading context: counts (and can fail) the solution's set-up check."""

    def __init__(self, broken: bool):
        self.broken, self.checks = broken, 0

    def check_setup(self):
        self.checks += 1
        if self.broken:
            raise GradingSetupError("the grading set-up is broken: the solution's kernel died")


def _feed(guard, results):
    recorded = []
    for result in results:
        sub = Submission(result.student, "01-tensors", "tensors", f"{result.student}.ipynb")
        recorded += [item for item, _ in guard.admit(_job(result.student), sub, result, sub)]
    return recorded + [item for item, _ in guard.close()]


def test_the_same_set_up_failure_for_the_first_runs_stops_the_batch_with_nothing_recorded():
    report = BatchReport("01-tensors", "cpu")
    guard = _SetupGuard(report, {"tensors": FakeContext(broken=False)}, 3)
    dead = "could not run the notebook: RuntimeError: Kernel died before replying to kernel_info"
    with pytest.raises(GradingSetupError) as info:
        _feed(guard, [_result(s, "failed", done=False, problem=dead) for s in ("s1", "s2", "s3", "s4")])
    assert "before any student code ran" in str(info.value) and "max_processes=1" in str(info.value)
    assert dead in str(info.value)
    assert report.graded == []


def test_dead_kernels_at_the_start_are_held_until_the_solution_proves_the_set_up_works():
    context = FakeContext(broken=False)
    guard = _SetupGuard(BatchReport("01-tensors", "cpu"), {"tensors": context}, 3)
    recorded = _feed(guard, [_result(s, "kernel-died") for s in ("s1", "s2", "s3")] + [_result("s4")])
    assert [s.student for s in recorded] == ["s1", "s2", "s3", "s4"]  # the students' own kernel deaths
    assert context.checks == 1


def test_dead_kernels_at_the_start_stop_the_batch_when_the_solution_dies_too():
    guard = _SetupGuard(BatchReport("01-tensors", "cpu"), {"tensors": FakeContext(broken=True)}, 3)
    with pytest.raises(GradingSetupError):
        _feed(guard, [_result(s, "kernel-died") for s in ("s1", "s2", "s3", "s4")])


def test_one_completed_run_releases_the_held_results_without_a_check():
    context = FakeContext(broken=True)
    guard = _SetupGuard(BatchReport("01-tensors", "cpu"), {"tensors": context}, 3)
    recorded = _feed(guard, [_result("s1", "kernel-died"), _result("s2"), _result("s3", "timeout")])
    assert [s.student for s in recorded] == ["s1", "s2", "s3"] and context.checks == 0


def test_a_later_set_up_failure_is_not_a_grade():
    report = BatchReport("01-tensors", "cpu")
    guard = _SetupGuard(report, {"tensors": FakeContext(broken=False)}, 3)
    recorded = _feed(guard, [_result("s1"), _result("s2", "failed", done=False, problem="the zygote went away"),
                             _result("s3")])
    assert [s.student for s in recorded] == ["s1", "s3"]
    assert [(s.student, p) for s, p in report.not_graded] == [("s2", "the zygote went away")]


def test_a_small_batch_of_dead_kernels_is_checked_before_it_is_recorded():
    context = FakeContext(broken=True)
    guard = _SetupGuard(BatchReport("01-tensors", "cpu"), {"tensors": context}, 1)
    with pytest.raises(GradingSetupError):
        _feed(guard, [_result("s1", "kernel-died")])


@pytest.mark.slow
def test_a_kernel_killed_by_the_student_is_the_students_and_one_that_cannot_set_up_is_the_graders(config,
                                                                                                   tensors_spec):
    import nbformat

    from course_lib.execute.jobs import make_job
    from course_lib.execute.run import run_job

    nb = tensors_spec.release_nb()
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first, nbformat.v4.new_code_cell("import os\nos._exit(1)"))  # the student's very first code
    job = make_job(config, tensors_spec, student="s1", notebook_path=Path("s1.ipynb"), device="cpu", student_nb=nb)
    killed = run_job(job)
    assert killed.status == "kernel-died" and killed.setup_done

    starved = run_job(dataclasses.replace(job, policy=Policy(max_processes=1)))
    assert starved.status != "completed" and not starved.setup_done


def test_the_reference_key_changes_with_every_setting_that_can_change_a_grade(config, tensors_spec):
    from course_lib.judge.references import reference_key, solution_job

    job = solution_job(config, tensors_spec, device="cpu")
    key = reference_key(tensors_spec, device="cpu", seed=config.seed, job=job)
    changed = [dataclasses.replace(job, policy=Policy(memory_mb=1)),
               dataclasses.replace(job, policy=Policy(max_processes=1)),
               dataclasses.replace(job, cell_timeout=1.0), dataclasses.replace(job, notebook_timeout=5.0),
               dataclasses.replace(job, kernel_name="other"), dataclasses.replace(job, sandbox=False),
               dataclasses.replace(job, env={**job.env, "PYTHONPATH": "/elsewhere"}),
               dataclasses.replace(job, parameters={**job.parameters, "SEED": 1})]
    keys = {reference_key(tensors_spec, device="cpu", seed=config.seed, job=j) for j in changed}
    assert key not in keys and len(keys) == len(changed)
    # the threads per kernel follow --workers and change no grade
    fewer = dataclasses.replace(job, env={**job.env, "OMP_NUM_THREADS": "7", "MKL_NUM_THREADS": "7"})
    assert reference_key(tensors_spec, device="cpu", seed=config.seed, job=fewer) == key


def test_the_reference_key_is_the_same_for_the_same_set_up(config, tensors_spec):
    from course_lib.judge.references import reference_key, solution_job

    first, again = (solution_job(config, tensors_spec, device="cpu") for _ in range(2))
    assert first.source != again.source  # new grading cells get new random ids...
    assert (reference_key(tensors_spec, device="cpu", seed=config.seed, job=first)
            == reference_key(tensors_spec, device="cpu", seed=config.seed, job=again))  # ...which change no grade


def test_the_reference_key_changes_with_the_interpreter(config, tensors_spec, monkeypatch):
    from course_lib.judge import references

    job = references.solution_job(config, tensors_spec, device="cpu")
    key = references.reference_key(tensors_spec, device="cpu", seed=config.seed, job=job)
    monkeypatch.setattr(references.sys, "executable", "/opt/other/bin/python3")
    assert references.reference_key(tensors_spec, device="cpu", seed=config.seed, job=job) != key
    monkeypatch.undo()
    monkeypatch.setattr(references, "_packages", lambda: ("torch==0.0.1",))
    assert references.reference_key(tensors_spec, device="cpu", seed=config.seed, job=job) != key


# -- end to end: real kernels ------------------------------------------------------------------------------------

CLASS = {"s1": "solution", "s2": "invert_negates", "s3": "blank"}


def _class(root: Path, students: dict = CLASS) -> Path:
    from course_lib.assignment import Assignment
    from course_lib.collect import collect
    from course_lib.config import CourseConfig
    from course_lib.synth import build, load_variants, write

    course = copy_course(root)
    config = CourseConfig.load(course)
    spec = Assignment.load(config, "01-tensors").notebook("tensors")
    variants = {v.name: v for v in load_variants(spec)}
    inbox = root.parent / f"{root.name}-inbox"
    for student, variant in students.items():
        write(build(spec, variants[variant]), inbox / f"{student}.ipynb")
    assert len(collect(config=config, assignment_id="01-tensors", source=inbox).collected) == len(students)
    return course


def _autograde(course: Path, *extra: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    return subprocess.run([sys.executable, "-m", "course_lib.cli", "--course", str(course), "autograde",
                           "01-tensors", "--device", "cpu", "--workers", "1", "--quiet", *extra],
                          env=env, capture_output=True, text=True, timeout=timeout)


def _graded_students(course: Path) -> dict:
    from course_lib.config import CourseConfig
    from course_lib.gradebook import recorded_scores

    if not (course / "gradebook.db").is_file():
        return {}
    return recorded_scores(CourseConfig.load(course), "01-tensors", "tensors")


@pytest.mark.slow
def test_a_broken_limit_stops_the_batch_records_nothing_and_a_fixed_rerun_grades_everyone(tmp_path):
    course = _class(tmp_path / "course")
    good = _autograde(course, "--student", "s1")  # the solution's references cached under good limits
    assert good.returncode == 0, good.stderr
    config_file = course / "nbgrader_config.py"
    original = config_file.read_text()
    config_file.write_text(original + "\nc.Course.max_processes = 1\n")

    broken = _autograde(course)
    assert broken.returncode == GradingSetupError.exit_code, broken.stdout + broken.stderr
    assert "Traceback" not in broken.stderr
    assert "grading set-up is broken" in broken.stderr and "max_processes=1" in broken.stderr
    assert set(_graded_students(course)) == {"s1"}  # only what the good run recorded
    assert not (course / "autograded" / "s2").exists()

    config_file.write_text(original)
    fixed = _autograde(course)
    assert fixed.returncode == 0, fixed.stderr
    assert "graded 2, unchanged and skipped 1" in fixed.stdout, fixed.stdout
    assert set(_graded_students(course)) == set(CLASS)


@pytest.mark.slow
def test_a_set_up_that_cannot_start_the_kernel_says_what_the_kernel_printed(tmp_path, capsys):
    from course_lib.cli import main

    course = copy_course(tmp_path / "course")
    with open(course / "nbgrader_config.py", "a") as f:
        f.write("\nc.Course.memory_mb = 1\n")
    code = main(["--course", str(course), "grade", str(course / "release" / "06-autograd" / "autograd.ipynb"),
                 "--assignment", "06-autograd"])
    err = capsys.readouterr().err
    assert code == 5, err
    assert "memory_mb=1" in err and "the kernel's last output:" in err
