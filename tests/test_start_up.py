"""What makes one grade start sooner (cached generated tests, sandboxes started ahead) changes nothing it runs."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_course


def test_sqlite_file_names_only_plain_sqlite_urls():
    from course_lib.grade import _sqlite_file

    assert _sqlite_file("sqlite:////srv/course/gradebook.db") == Path("/srv/course/gradebook.db")
    assert _sqlite_file("sqlite:///gradebook.db") == Path("gradebook.db")  # relative, as SQLAlchemy takes it
    for url in ("sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite:///file:gb.db?mode=ro&uri=true",
                "postgresql://grader@db/course"):
        assert _sqlite_file(url) is None


def test_a_kernel_job_starts_the_sandboxes_its_assignments_jobs_use(course_dir):
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.execute.jobs import kernel_job, make_job
    from course_lib.execute.pool import pool_key
    from course_lib.execute.run import kernel_env

    config = CourseConfig.load(course_dir)
    for aid in ("01-tensors", "06-autograd", "07-image-classifier"):
        spec = Assignment.load(config, aid).autograded()[0]
        for device in ("cpu", "cuda"):
            job = make_job(config, spec, student="s1", notebook_path=spec.release, device=device,
                           student_nb=spec.release_nb())
            pilot = kernel_job(config, aid, device)
            assert pool_key(pilot, kernel_env(pilot)) == pool_key(job, kernel_env(job))
            assert (pilot.parameters, pilot.env, pilot.policy, pilot.sandbox, pilot.cell_timeout,
                    pilot.notebook_timeout, pilot.kernel_name) == (job.parameters, job.env, job.policy, job.sandbox,
                                                                   job.cell_timeout, job.notebook_timeout,
                                                                   job.kernel_name)


@pytest.mark.slow
def test_generated_tests_are_read_again_only_when_the_gradebook_changes(tmp_path, monkeypatch):
    from course_lib import grade
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.judge import nbtests

    course = copy_course(tmp_path / "course")
    config = CourseConfig.load(course)
    spec = Assignment.load(config, "06-autograd").notebook("autograd")
    cache = course / ".course-cache" / "tests" / "06-autograd"
    assert grade._generated_sources(config, spec) == nbtests.generated_sources(config, spec) == {}  # no gradebook
    assert not cache.exists()

    subprocess.run([str(Path(sys.executable).parent / "course"), "--course", str(course), "release", "06-autograd"],
                   check=True, capture_output=True)
    expected = nbtests.generated_sources(config, spec)
    assert expected and any("BEGIN HIDDEN TESTS" in text for text in expected.values())
    assert grade._generated_sources(config, spec) == expected
    assert len(list(cache.glob("autograd-*.json"))) == 1

    def unexpected(*args):
        raise AssertionError("read the gradebook again")

    monkeypatch.setattr(nbtests, "generated_sources", unexpected)
    assert grade._generated_sources(config, spec) == expected  # the same gradebook: from the cache
    assert grade.prepared_tests(config, spec)[0]

    with sqlite3.connect(course / "gradebook.db") as db:  # any change to the file: asked again
        db.execute("PRAGMA user_version = 7")
    with pytest.raises(AssertionError, match="read the gradebook again"):
        grade._generated_sources(config, spec)
