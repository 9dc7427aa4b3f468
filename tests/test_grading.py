"""Grading real notebooks in real kernels: full marks, zero, and exactly the points of what is wrong."""

import json
from pathlib import Path

import pytest

from course_lib.cli import main
from course_lib.execute.runners import LocalRunner
from course_lib.grade import Context
from course_lib.synth import build, write

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def context(config, tensors_spec):
    return Context.prepare(config, tensors_spec, "cpu")


@pytest.fixture(scope="session")
def graded_variants(context, tensors_spec, variants):
    """Every known variant of 01-tensors graded once, two at a time."""
    jobs = [context.job(name, Path(f"{name}.ipynb"), student_nb=build(tensors_spec, v))
            for name, v in variants.items()]
    return {job.student: context.judge(result) for job, result in LocalRunner(2).run(jobs)}


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


def test_unreadable_file_is_graded_zero_with_reason(course_dir, tmp_path, capsys):
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [')
    doc = grade_json(course_dir, path, capsys)
    assert doc["score"] == 0 and "truncated" in doc["errors"][0]


def test_one_wrong_answer_loses_exactly_its_question(graded_variants, tensors_spec):
    graded = graded_variants["invert_negates"]
    full = {q.grade_id: (q.points, q.points) for q in tensors_spec.grader.questions}
    assert graded.question_scores() == {**full, "invert_tests": (1.0, 3.0)}


def test_erroring_cell_loses_only_its_question(graded_variants, tensors_spec):
    graded = graded_variants["error_in_one_cell"]
    full = {q.grade_id: (q.points, q.points) for q in tensors_spec.grader.questions}
    assert graded.question_scores() == {**full, "crop_center_tests": (0.0, 3.0)}
    assert any("NameError" in p for p in graded.problems)


def test_slow_cell_is_stopped_and_loses_only_its_question(graded_variants):
    graded = graded_variants["slow_cell"]
    assert graded.question_scores()["channel_means_tests"] == (0.0, 4.0)
    assert graded.score == 16
    assert any("was stopped" in p and "time limit" in p for p in graded.problems)


@pytest.mark.parametrize("name", ["solution", "blank", "alternative_builtin_helpers", "alternative_loops_and_reshapes",
                                  "grid_integer_dtype", "grid_column_major", "size_is_len",
                                  "crop_same_margin_both_axes", "crop_margin_rounded_up",
                                  "normalize_broadcasts_over_width", "normalize_in_place", "mean_over_wrong_axis",
                                  "means_squeeze_drops_batch", "invert_in_place", "invert_negates",
                                  "numpy_without_detach", "from_numpy_keeps_float64"])
def test_variant_fails_exactly_its_checks(graded_variants, variants, name):
    graded = graded_variants[name]
    failed = sorted(c.name for c in graded.checks if not c.passed)
    assert failed == sorted(variants[name].fails)
    for check in graded.checks:
        assert check.passed == (check.points == check.max_points)
        assert bool(check.message) == (not check.passed)


def test_every_declared_variant_is_covered(variants):
    listed = test_variant_fails_exactly_its_checks.pytestmark[0].args[1]
    assert set(variants) - {"error_in_one_cell", "slow_cell"} == set(listed)


def test_grade_table_output(course_dir, tensors_spec, tmp_path, variants, capsys):
    path = write(build(tensors_spec, variants["means_squeeze_drops_batch"]), tmp_path / "x.ipynb")
    assert main(["--course", str(course_dir), "grade", str(path), "--assignment", "01-tensors"]) == 0
    out = capsys.readouterr().out
    assert "score: 19 / 20" in out and "means_batch_of_one" in out
