"""Attacks on the grader, graded in one batch with honest students (run as root in CI too).

Each attack must get exactly the score its honest part earns and end as stated;
the honest students in the same batch must get exactly the grades they get when
graded alone; the grader's files must be untouched; nothing may be left running.
"""

import hashlib
import os
import subprocess
import zipfile

import nbformat
import pytest

from attacks import ATTACKS, build_attack
from conftest import copy_course

pytestmark = pytest.mark.slow

LIMITS = ('\nc.Course.assignments["01-tensors"] = {"cell_timeout": 5, "notebook_timeout": 40, "memory_mb": 1024, '
          '"max_processes": 64, "max_file_mb": 64, "max_output_kb": 500}\n')
HONEST = {"honest-solution": "solution", "honest-mutant": "mean_over_wrong_axis"}


def corrupt_files(target_dir):
    """Foreign or broken uploads: each must become a per-student error."""
    files = {
        "truncated-json": b'{"cells": [{"cell_type": "code", "source": "x = ',
        "renamed-python": b"import torch\nprint('hello')\n",
        "empty-file": b"",
        "old-nbformat": nbformat.writes(nbformat.v4.new_notebook(), version=4).encode(),
    }
    for student, data in files.items():
        (target_dir / student / "01-tensors").mkdir(parents=True)
        (target_dir / student / "01-tensors" / "tensors.ipynb").write_bytes(data)
    old = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}
    (target_dir / "old-nbformat" / "01-tensors" / "tensors.ipynb").write_text(__import__("json").dumps(old))
    (target_dir / "zip-archive" / "01-tensors").mkdir(parents=True)
    with zipfile.ZipFile(target_dir / "zip-archive" / "01-tensors" / "tensors.ipynb", "w") as z:
        z.writestr("tensors.ipynb", "{}")
    (target_dir / "huge-notebook" / "01-tensors").mkdir(parents=True)
    with open(target_dir / "huge-notebook" / "01-tensors" / "tensors.ipynb", "w") as f:
        f.write('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "pad": "')
        f.write("x" * (51 * 1024 * 1024))
        f.write('"}')
    return {"truncated-json": "truncated", "renamed-python": "not valid JSON", "empty-file": "empty",
            "zip-archive": "zip", "huge-notebook": "limit"}


def sandbox_processes():
    """Processes of the sandbox uids, or of kernels started from a grading run's directory."""
    out = subprocess.run(["ps", "-eo", "pid=,uid=,args="], capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        pid, uid, args = line.strip().split(None, 2)
        if 61000 <= int(uid) < 62000 or "course-run-" in args:
            rows.append(line)
    return rows


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    from course_lib.assignment import Assignment
    from course_lib.autograde import autograde
    from course_lib.config import CourseConfig
    from course_lib.synth import build, load_variants, write

    course = copy_course(tmp_path_factory.mktemp("adversarial") / "course")
    (course / "nbgrader_config.py").write_text((course / "nbgrader_config.py").read_text() + LIMITS)
    config = CourseConfig.load(course).with_overrides(workers=2)
    spec = Assignment.load(config, "01-tensors").notebook("tensors")
    variants = {v.name: v for v in load_variants(spec)}
    submitted = course / "submitted"
    for student, variant in HONEST.items():
        write(build(spec, variants[variant]), submitted / student / "01-tensors" / "tensors.ipynb")
    alone = autograde(config=config, assignment_id="01-tensors", device="cpu", progress=False)
    for attack in ATTACKS:
        nb = build_attack(spec, variants, attack, str(course))
        write(nb, submitted / attack.name / "01-tensors" / "tensors.ipynb")
    corrupt = corrupt_files(submitted)
    guarded = [course / "graders" / "01-tensors" / "tensors.py", course / "gradebook.db",
               course / "source" / "01-tensors" / "tensors.ipynb"]
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in guarded}
    # the honest students are graded again, in the same batch as the attackers
    report = autograde(config=config, assignment_id="01-tensors", device="cpu", force=True, progress=False)
    graded = {g.student: g for g in report.graded}
    return {"course": course, "graded": graded, "alone": {g.student: g for g in alone.graded},
            "corrupt": corrupt, "guarded": guarded, "before": before}


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_gains_nothing_and_ends_as_expected(batch, attack):
    graded = batch["graded"][attack.name]
    lost = {c.name: c.message for c in graded.checks if not c.passed}
    if attack.at_least is None:
        assert graded.score == attack.score, lost
    else:
        assert attack.at_least <= graded.score <= attack.score, lost
    assert graded.status == attack.status, graded.problems
    notes = " ".join(graded.problems)
    for fragment in attack.notes:
        assert fragment in notes, graded.problems


def test_honest_students_get_the_same_grades_as_alone(batch):
    for student in HONEST:
        together, alone = batch["graded"][student], batch["alone"][student]
        assert [(c.name, c.points, c.message) for c in together.checks] == \
            [(c.name, c.points, c.message) for c in alone.checks]
    assert batch["graded"]["honest-solution"].score == 20


def test_grader_files_untouched_and_invisible(batch):
    grader, gradebook, source = batch["guarded"]
    for path in (grader, source):  # the gradebook changes, but only through the grader
        assert hashlib.sha256(path.read_bytes()).hexdigest() == batch["before"][path]
    assert b"tampered" not in gradebook.read_bytes()
    executed = (batch["course"] / "autograded" / "snoops_and_tampers" / "01-tensors" / "tensors.ipynb").read_text()
    assert "cannot read" in executed and "FileNotFoundError" in executed
    assert "found []" in executed and "no host root" in executed
    assert not os.path.exists("/tmp/left-behind.txt")


def test_output_flood_is_cut(batch):
    path = batch["course"] / "autograded" / "prints_without_end" / "01-tensors" / "tensors.ipynb"
    assert path.stat().st_size < 2_000_000


def test_corrupt_files_are_per_student_errors(batch):
    for student, fragment in batch["corrupt"].items():
        graded = batch["graded"][student]
        assert graded.status == "unreadable" and graded.score == 0
        assert fragment in graded.problems[0], graded.problems
    old = batch["graded"]["old-nbformat"]
    assert old.score == 0 and old.status == "completed"


def test_nothing_left_running(batch):
    assert sandbox_processes() == []
