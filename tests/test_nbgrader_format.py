"""An nbgrader-format notebook (hidden tests in its test cells) graded by nbgrader and by the course, cell by cell."""

import re
import sys

import pytest

from conftest import REPO, copy_course

sys.path.insert(0, str(REPO / "benchmarks"))

import bench_autograde as bench  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.synth import load_variants

    base = tmp_path_factory.mktemp("nbgrader-format")
    courses = {tool: copy_course(base / tool) for tool in ("nbgrader", "course")}
    spec = Assignment.load(CourseConfig.load(courses["course"]), bench.ASSIGNMENT).notebook(bench.NOTEBOOK)
    count = len(load_variants(spec))
    who = {tool: bench.build_class(course, count) for tool, course in courses.items()}  # one student per variant
    assert who["nbgrader"] == who["course"] and len(set(who["course"].values())) == count
    bench.run_nbgrader(courses["nbgrader"], count)
    bench.run_course(courses["course"], count, workers=2)
    return courses, who["course"]


def test_every_cell_scores_as_nbgrader_scores_it(both):
    courses, who = both
    ours, theirs = bench.cell_scores(courses["course"]), bench.cell_scores(courses["nbgrader"])
    assert len(theirs) == len(who) * 4
    assert bench.disagreements(ours, theirs) == []
    by_variant = {who[student]: {} for student in who}
    for (student, cell), score in ours.items():
        by_variant[who[student]][cell] = score
    # the cases that make nbgrader's rule what it is: an error, stderr, a printed partial score, the hidden tests
    assert by_variant["solution"] == {"leaky_relu_tests": 2, "log_softmax_tests": 3, "mse_and_grad_tests": 3,
                                      "fit_line_tests": 2}
    assert by_variant["fit_line_ignores_steps"]["fit_line_tests"] == 1
    assert by_variant["fit_line_logs_to_stderr"]["fit_line_tests"] == 0
    assert by_variant["leaky_relu_in_place"]["leaky_relu_tests"] == 0  # only the hidden tests catch it
    assert set(by_variant["blank"].values()) == {0}


def test_feedback_shows_verdicts_not_hidden_tests(both):
    from course_lib.cli import main

    courses, who = both
    course = courses["course"]
    assert main(["--course", str(course), "feedback", bench.ASSIGNMENT]) == 0
    student = next(s for s, v in who.items() if v == "log_softmax_without_max_shift")
    page = (course / "feedback" / student / bench.ASSIGNMENT / f"{bench.NOTEBOOK}.html").read_text()
    assert "subtract each row" in page  # the failing test's own message reaches the student
    source = (course / "source" / bench.ASSIGNMENT / f"{bench.NOTEBOOK}.ipynb").read_text()
    for hidden in re.findall(r"### BEGIN HIDDEN TESTS\\n(.*?)### END HIDDEN TESTS", source, re.S):
        for line in hidden.split("\\n"):
            code = line.strip().replace('\\"', '"')
            if len(code) > 12 and not code.startswith("assert"):  # asserts' messages are meant to be seen
                assert code not in page, code
