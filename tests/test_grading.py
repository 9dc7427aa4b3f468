"""Grading real notebooks in real kernels: full marks, zero, and exactly the points of what is wrong."""

import json

import pytest

from course_lib.cli import main
from course_lib.synth import build, write

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def graded_variants(graded_all):
    """Every known variant of 01-tensors, graded once for the whole session."""
    return {name: graded for name, (_, graded) in graded_all("01-tensors", "tensors").items()}


def grade_json(course_dir, path, capsys):
    assert main(["--course", str(course_dir), "grade", str(path), "--assignment", "01-tensors", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_solution_scores_full_marks(course_dir, tensors_spec, capsys):
    doc = grade_json(course_dir, tensors_spec.source, capsys)
    assert doc["score"] == doc["max_score"] == 20
    assert doc["assignment"] == "01-tensors" and doc["errors"] == []
    assert {c["grade_id"] for c in doc["checks"]} == {q.grade_id for q in tensors_spec.grader.questions}
    assert all(set(c) == {"name", "grade_id", "points", "max_points", "passed", "message"} for c in doc["checks"])


def test_released_blank_notebook_scores_zero(course_dir, tensors_spec, capsys):
    doc = grade_json(course_dir, tensors_spec.release, capsys)
    assert doc["score"] == 0 and doc["max_score"] == 20
    assert all(not c["passed"] for c in doc["checks"])
    assert "not answered yet" in doc["checks"][0]["message"]


def test_unreadable_file_is_refused_with_reason_not_scored_zero(course_dir, tmp_path, capsys):
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [')
    assert main(["--course", str(course_dir), "grade", str(path), "--assignment", "01-tensors", "--json"]) == 3
    out, err = capsys.readouterr()
    assert out == "" and "truncated" in err and "Traceback" not in err


def test_one_wrong_answer_loses_exactly_its_question(graded_variants, tensors_spec):
    graded = graded_variants["invert_negates"]
    full = {q.grade_id: (q.points, q.points) for q in tensors_spec.grader.questions}
    assert graded.question_scores() == {**full, "invert_tests": (0.0, 3.0)}  # no property point for a wrong result


def test_erroring_cell_loses_only_its_question(graded_variants, tensors_spec):
    graded = graded_variants["error_in_one_cell"]
    full = {q.grade_id: (q.points, q.points) for q in tensors_spec.grader.questions}
    assert graded.question_scores() == {**full, "crop_center_tests": (0.0, 3.0)}
    assert any("NameError" in p for p in graded.problems)
    # named by the question's heading, as the feedback page titles it, not by a cell number
    assert any(p.startswith('A cell under "Question ') and "NameError" in p for p in graded.problems), graded.problems


def test_slow_cell_is_stopped_and_loses_only_its_question(graded_variants):
    graded = graded_variants["slow_cell"]
    assert graded.question_scores()["channel_means_tests"] == (0.0, 4.0)
    assert graded.score == 16
    assert any("was stopped" in p and "time limit" in p for p in graded.problems)


def test_grade_table_output(course_dir, tensors_spec, tmp_path, variants, capsys):
    path = write(build(tensors_spec, variants["means_squeeze_drops_batch"]), tmp_path / "x.ipynb")
    assert main(["--course", str(course_dir), "grade", str(path), "--assignment", "01-tensors"]) == 0
    out = capsys.readouterr().out
    assert "score: 19 / 20" in out and "means_batch_of_one" in out
