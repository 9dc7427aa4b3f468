"""An autograde killed with SIGKILL mid-batch resumes where it stopped and ends with the same gradebook; a rerun
trusts the gradebook, not the done-markers in autograded/, so grades a lost gradebook no longer holds are redone."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from course_lib.synth import build, write

from conftest import copy_course

pytestmark = pytest.mark.slow

CLASS = {"s1": "solution", "s2": "invert_negates", "s3": "blank", "s4": "error_in_one_cell", "s5": "solution",
         "s6": "invert_negates"}


def make_class(root: Path) -> Path:
    from course_lib.assignment import Assignment
    from course_lib.collect import collect
    from course_lib.config import CourseConfig
    from course_lib.synth import load_variants

    course = copy_course(root)
    config = CourseConfig.load(course)
    spec = Assignment.load(config, "01-tensors").notebook("tensors")
    variants = {v.name: v for v in load_variants(spec)}
    inbox = root.parent / f"{root.name}-inbox"
    for student, variant in CLASS.items():
        write(build(spec, variants[variant]), inbox / f"{student}.ipynb")
        os.utime(inbox / f"{student}.ipynb", (1_800_000_000, 1_800_000_000))
    assert len(collect(config=config, assignment_id="01-tensors", source=inbox).collected) == len(CLASS)
    return course


def command(course: Path) -> list[str]:
    return [sys.executable, "-m", "course_lib.cli", "--course", str(course), "autograde", "01-tensors",
            "--device", "cpu", "--workers", "1", "--quiet"]


def env() -> dict:
    return dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])


def snapshot(course: Path) -> dict:
    """Everything nbgrader keeps per student: cell scores, comments, totals."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "dl-pytorch") as gb:
        for student in CLASS:
            sub = gb.find_submission("01-tensors", student)
            nb = sub.notebooks[0]
            out[student] = {
                "score": sub.score, "max": sub.max_score,
                "grades": sorted((g.cell.name, g.auto_score, g.manual_score, g.needs_manual_grade) for g in nb.grades),
                "comments": sorted((c.cell.name, c.auto_comment or "") for c in nb.comments),
                "late": sub.late_submission_penalty}
    return out


def results(course: Path) -> list[Path]:
    return sorted(course.glob("autograded/*/01-tensors/.course/tensors.json"))


def test_kill_9_mid_batch_then_rerun_grades_only_the_rest_and_matches_an_uninterrupted_run(tmp_path):
    reference = make_class(tmp_path / "whole")
    subprocess.run(command(reference), env=env(), check=True, capture_output=True, timeout=600)
    expected = snapshot(reference)

    course = make_class(tmp_path / "killed")
    proc = subprocess.Popen(command(course), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    coordinator = psutil.Process(proc.pid)
    deadline = time.monotonic() + 300
    while len(results(course)) < 2:
        assert proc.poll() is None, "the batch ended before it could be interrupted"
        assert time.monotonic() < deadline, "no submission was graded in time"
        time.sleep(0.1)
    children = coordinator.children(recursive=True)  # kernels and their sandboxes
    assert children, "a submission should be running when the coordinator is killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"left running after the coordinator died: {[p.pid for p in alive]}"
    done = len(results(course))
    assert 2 <= done < len(CLASS)

    rerun = subprocess.run(command(course), env=env(), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"graded {len(CLASS) - done}, unchanged and skipped {done}" in rerun.stdout
    assert snapshot(course) == expected
    assert len(results(course)) == len(CLASS)
    # the killed coordinator's run and pool folders (hidden probes' code inside) are gone after the next start
    import tempfile

    assert not list(Path(tempfile.gettempdir()).glob(f"course-*-{proc.pid}-*"))


def _recorded(course: Path) -> dict:
    """``student -> score`` of what the gradebook holds for 01-tensors."""
    from course_lib.config import CourseConfig
    from course_lib.gradebook import recorded_scores

    return {s: sum(cells.values()) for s, cells in
            recorded_scores(CourseConfig.load(course), "01-tensors", "tensors").items()}


def _marked(course: Path) -> dict:
    """``student -> score`` of the done-markers in autograded/."""
    import json

    return {p.parts[-4]: sum(c["points"] for c in json.loads(p.read_text())["checks"]) for p in results(course)}


def test_a_gradebook_deleted_mid_batch_is_regraded_by_a_plain_rerun_and_the_commands_say_who_is_missing(tmp_path):
    course = make_class(tmp_path / "course")
    proc = subprocess.Popen(command(course), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(results(course)) < 2:
        assert proc.poll() is None, "the batch ended before the gradebook could be deleted"
        assert time.monotonic() < deadline, "no submission was graded in time"
        time.sleep(0.1)
    (course / "gradebook.db").unlink()  # the done-markers of the first ones stay, their grades are gone
    proc.communicate(timeout=600)  # it may finish into the deleted file or stop at the missing one

    rerun = subprocess.run(command(course), env=env(), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert _recorded(course) == _marked(course)
    assert set(_recorded(course)) == set(CLASS)

    # a submission the gradebook has no grade for is named by feedback, report and export
    shutil.copytree(course / "submitted" / "s1", course / "submitted" / "s9")
    base = [sys.executable, "-m", "course_lib.cli", "--course", str(course)]
    for args in (["feedback", "01-tensors"], ["report", "01-tensors", "-o", str(tmp_path / "report")],
                 ["export", "gradebook", "-o", str(tmp_path / "grades.csv")]):
        done = subprocess.run(base + args, env=env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert ("warning: 1 student(s) have a submission of 01-tensors but no grade in the gradebook "
                "(left out here): s9;") in done.stderr, (args, done.stderr)
    # a done-marker whose grade the gradebook does not hold gets no feedback page (and no traceback)
    shutil.copytree(course / "autograded" / "s1", course / "autograded" / "s8")
    done = subprocess.run(base + ["feedback", "01-tensors"], env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "wrote 6 feedback file(s)" in done.stdout and not (course / "feedback" / "s8").exists()
