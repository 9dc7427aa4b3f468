"""The instructor's path end to end: collect, autograde into nbgrader's gradebook, export, feedback, resume."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_lib.cli import main
from course_lib.synth import build, write

from conftest import copy_course

pytestmark = pytest.mark.slow

CLASS = {"s-correct": "solution", "s-invert": "invert_negates", "s-blank": "blank", "s-error": "error_in_one_cell"}
# invert_negates loses invert_values (2) and, with a wrong result, "leaves its input unchanged" (1)
EXPECTED = {"s-correct": 20.0, "s-invert": 17.0, "s-blank": 0.0, "s-error": 17.0}


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """One class collected and graded once; the tests below read it (the last one also regrades)."""
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.synth import load_variants

    own_course = copy_course(tmp_path_factory.mktemp("pipeline") / "course")
    spec = Assignment.load(CourseConfig.load(own_course), "01-tensors").notebook("tensors")
    variants = {v.name: v for v in load_variants(spec)}
    inbox = own_course.parent / "inbox"
    for student, variant in CLASS.items():
        write(build(spec, variants[variant]), inbox / f"{student}.ipynb")
    (inbox / "s-corrupt.ipynb").write_text('{"cells": [{"cell_type": "code", "sou')
    from course_lib.collect import collect
    from course_lib.autograde import autograde

    report = collect(config=CourseConfig.load(own_course), assignment_id="01-tensors", source=inbox)
    assert len(report.collected) == 4 and [p[0] for p in report.problems] == ["s-corrupt"]
    batch = autograde(config=CourseConfig.load(own_course).with_overrides(workers=2), assignment_id="01-tensors",
                      device="cpu", progress=False)
    assert len(batch.graded) == 4
    return own_course, spec, variants, inbox


def test_gradebook_holds_per_question_scores_readable_by_nbgrader(graded_course):
    from nbgrader.api import Gradebook

    course, spec, _, _ = graded_course
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "dl-pytorch") as gb:
        totals = {s: gb.find_submission("01-tensors", s).score for s in CLASS}
        assert totals == EXPECTED
        invert = gb.find_grade("invert_tests", "tensors", "01-tensors", "s-invert")
        assert (invert.auto_score, invert.max_score, invert.needs_manual_grade) == (0.0, 3.0, False)
        crop = gb.find_grade("crop_center_tests", "tensors", "01-tensors", "s-error")
        assert crop.auto_score == 0.0
        blank = gb.find_comment("make_grid", "tensors", "01-tensors", "s-blank")
        assert blank.auto_comment == "No response."
        wrong = gb.find_comment("invert", "tensors", "01-tensors", "s-invert")
        assert "invert_values" in wrong.auto_comment

    # nbgrader's own export reads the same totals
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    out = course / "grades.csv"
    subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "export", "--to", str(out)], cwd=course,
                   env=env, check=True, capture_output=True)
    rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader(out.open())}
    assert rows == EXPECTED


def test_autograded_notebooks_and_feedback_hide_the_grader(graded_course, capsys):
    course, spec, _, _ = graded_course
    hidden = [q.probe.__name__ for q in spec.grader.questions] + ["__course_probe__", "manual_seed(101)"]
    executed = nbformat.read(course / "autograded" / "s-invert" / "01-tensors" / "tensors.ipynb", as_version=4)
    text = nbformat.writes(executed)
    assert not any(h in text for h in hidden)
    own = [c for c in executed.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    assert len(own) == len(spec.release_nb().cells)
    assert (course / "autograded" / "s-invert" / "01-tensors" / "timestamp.txt").is_file()

    assert main(["--course", str(course), "feedback", "01-tensors"]) == 0
    assert "wrote 4 feedback" in capsys.readouterr().out
    page = (course / "feedback" / "s-invert" / "01-tensors" / "tensors.html").read_text()
    assert "17 / 20" in page and "Question 6" in page and "invert returns 1 - images" in page
    assert "values are wrong" in page
    assert not any(h in page for h in hidden)
    assert "def probe" not in page
    blank = (course / "feedback" / "s-blank" / "01-tensors" / "tensors.html").read_text()
    assert "0 / 20" in blank and "not answered yet" in blank
    error = (course / "feedback" / "s-error" / "01-tensors" / "tensors.html").read_text()
    assert "NameError" in error


def test_rerun_skips_unchanged_and_regrades_resubmissions(graded_course, capsys):
    course, spec, variants, inbox = graded_course
    args = ["--course", str(course), "autograde", "01-tensors", "--device", "cpu", "--quiet"]
    assert main(args) == 0
    assert "graded 0, unchanged and skipped 4" in capsys.readouterr().out
    # s-invert fixes the answer and uploads again
    write(build(spec, variants["solution"]), inbox / "s-invert.ipynb")
    os.utime(inbox / "s-invert.ipynb", (1_900_000_000, 1_900_000_000))
    assert main(["--course", str(course), "collect", "01-tensors", "--from", str(inbox)]) == 0
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "graded 1, unchanged and skipped 3" in out and "s-invert" in out
    assert main([*args, "--force", "--student", "s-blank"]) == 0
    assert "graded 1, unchanged and skipped 0" in capsys.readouterr().out
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "dl-pytorch") as gb:
        assert gb.find_submission("01-tensors", "s-invert").score == 20.0
        assert gb.find_submission("01-tensors", "s-blank").score == 0.0
