"""Shared fixtures: a private copy of the course per test session, synthetic submissions."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Commands of the tests start no warm grading sandbox that outlives them (tests/test_warm.py turns it on).
os.environ["COURSE_WARM_IDLE"] = "0"


def copy_course(target: Path) -> Path:
    """A course directory with the repository's config, source, release and graders."""
    from course_lib.config import copy_course as copy

    return copy(REPO, target)


def grade_variants(course: Path, assignment_id: str, notebook: str, variants: list, workers: int = 2) -> dict:
    """Release an assignment of a course copy and grade built submissions of it on the CPU with real kernels:
    ``{variant name: GradedSubmission}``."""
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.execute.runners import LocalRunner
    from course_lib.grade import Context
    from course_lib.release import release
    from course_lib.synth import build

    config = CourseConfig.load(course).with_overrides(device="cpu")
    release(config=config, assignment_id=assignment_id)  # nbgrader stores the tests it generates in the gradebook
    spec = Assignment.load(config, assignment_id).notebook(notebook)
    context = Context.prepare(config, spec, "cpu")
    jobs = [context.job(v.name, Path(f"{v.name}.ipynb"), student_nb=build(spec, v)) for v in variants]
    return {job.student: context.judge(result) for job, result in LocalRunner(workers).run(jobs)}


@pytest.fixture(scope="session")
def course_dir(tmp_path_factory) -> Path:
    """A course copy shared by tests that do not change it (references get cached once)."""
    return copy_course(tmp_path_factory.mktemp("course"))


@pytest.fixture
def own_course(tmp_path) -> Path:
    """A course copy for a test that changes it."""
    return copy_course(tmp_path / "course")


@pytest.fixture(scope="session")
def config(course_dir):
    from course_lib.config import CourseConfig

    return CourseConfig.load(course_dir).with_overrides(device="cpu")


@pytest.fixture(scope="session")
def tensors_spec(config):
    from course_lib.assignment import Assignment

    return Assignment.load(config, "01-tensors").notebook("tensors")


@pytest.fixture(scope="session")
def variants(tensors_spec):
    from course_lib.synth import load_variants

    return {v.name: v for v in load_variants(tensors_spec)}


@pytest.fixture(autouse=True)
def _venv_tools_on_path(monkeypatch):
    # nbgrader shells out to `alembic`, installed next to this interpreter.
    bindir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", bindir + ":" + __import__("os").environ.get("PATH", ""))


@pytest.fixture(scope="session")
def graded_all(config):
    """(aid, notebook) -> {variant name: (Variant, GradedSubmission)}, graded on first use."""
    from course_lib.assignment import Assignment
    from course_lib.execute.runners import LocalRunner
    from course_lib.grade import Context
    from course_lib.synth import build, load_variants

    cache = {}

    def get(aid, name):
        if (aid, name) not in cache:
            spec = Assignment.load(config, aid).notebook(name)
            context = Context.prepare(config, spec, "cpu")
            variants = {v.name: v for v in load_variants(spec)}
            jobs = [context.job(v.name, Path(f"{v.name}.ipynb"), student_nb=build(spec, v))
                    for v in variants.values()]
            cache[(aid, name)] = {job.student: (variants[job.student], context.judge(result))
                                  for job, result in LocalRunner(2).run(jobs)}
        return cache[(aid, name)]

    return get
