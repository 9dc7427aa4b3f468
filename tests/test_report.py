"""The class report from saved verdicts (no kernels): statistics, plots, escaping, failed runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_lib.models import CheckResult, GradedSubmission


@pytest.fixture
def graded_course(own_course):
    """Five students of 01-tensors with chosen verdicts, recorded as autograde records them."""
    from course_lib.assignment import Assignment
    from course_lib.autograde import save_results
    from course_lib.config import CourseConfig
    from course_lib.gradebook import ensure_notebook, record

    config = CourseConfig.load(own_course).with_overrides(device="cpu")
    spec = Assignment.load(config, "01-tensors").notebook("tensors")
    ensure_notebook(config, spec)
    questions = spec.grader.questions
    first = questions[0].checks[0]
    plan = {  # student: (first check's message or None if it passes, status, problems, worker)
        "s1": (None, "completed", (), "w-gpu"),
        "s2": ("shape (3,) expected (2, 3)", "completed", (), "w-gpu"),
        "s3": ("shape (3,) expected (2, 3)", "completed", (), "w-cpu"),
        "s4": ("<script>alert(1)</script>", "completed", (), "w-cpu"),
        "s5": ("the notebook did not run", "timeout", ("the notebook ran out of time (120 s); cells after 3 did "
                                                      "not run",), "w-cpu"),
    }
    for i, (student, (message, status, problems, worker)) in enumerate(plan.items()):
        checks = tuple(CheckResult(name=c.name, grade_id=q.grade_id, max_points=c.points,
                                   points=0.0 if (c is first and message) else c.points,
                                   passed=not (c is first and message), message=message if c is first and message
                                   else "", describe=c.name.replace("_", " "))
                       for q in questions for c in q.checks)
        graded = GradedSubmission(student=student, assignment="01-tensors", notebook="tensors", checks=checks,
                                  status=status, problems=problems, runtime=1.0 + i, device="cuda" if "gpu" in worker
                                  else "cpu", worker=worker)
        record(config, spec, graded, release_nb=spec.release_nb())
        save_results(config, graded, "x")
    return config, spec, first


def test_statistics_of_checks_questions_and_runs(graded_course):
    from course_lib.report import compute

    config, spec, first = graded_course
    report = compute(config, "01-tensors")
    top = report.checks[0]
    assert (top.name, top.runs, top.failures) == (first.name, 5, 4)
    assert top.failure_rate == pytest.approx(0.8)
    assert top.messages[0] == ("shape (3,) expected (2, 3)", 2)
    assert all(c.failures == 0 for c in report.checks[1:])
    total = sum(q.points for q in spec.grader.questions)
    assert sorted(report.scores) == pytest.approx(sorted([total] + [total - first.points] * 4))
    q = next(q for q in report.questions if q.grade_id == spec.grader.questions[0].grade_id)
    assert q.mean == pytest.approx(1 - 0.8 * first.points / spec.grader.questions[0].points)
    assert [r.student for r in report.trouble] == ["s5"]
    assert {r.worker for r in report.runs} == {"w-gpu", "w-cpu"}


def test_html_report_has_valid_plots_escapes_text_and_lists_failed_runs(graded_course, tmp_path):
    from course_lib.cli import main

    config, _, _ = graded_course
    assert main(["--course", str(config.root), "report", "01-tensors", "-o", str(tmp_path / "r")]) == 0
    page = (tmp_path / "r" / "index.html").read_text()
    import re

    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == 3
    for name in images:
        assert (tmp_path / "r" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "ran out of time" in page and "timeout" in page
    assert "w-gpu (cuda)" in page


def test_each_check_shows_how_many_known_misconceptions_it_kills(graded_course, tmp_path):
    from course_lib.report import compute, write_report
    from course_lib.verify import CheckRow, NotebookVerification, save_kills

    config, spec, first = graded_course
    assert all(c.kills is None for c in compute(config, "01-tensors").checks)  # never verified: unknown
    rows = [CheckRow(q.grade_id, c.name, c.points, kills=("m1", "m2") if c is first else ())
            for q in spec.grader.questions for c in q.checks]
    save_kills(config, spec, NotebookVerification("01-tensors", "tensors", rows=rows))
    report = compute(config, "01-tensors")
    assert report.verified and report.checks[0].kills == 2 and report.checks[1].kills == 0
    page = write_report(config=config, assignment_id="01-tensors", out=tmp_path / "r").read_text()
    assert "<th>kills</th>" in page and "course verify 01-tensors" not in page


def test_report_without_graded_submissions_says_what_to_do(own_course, tmp_path):
    from course_lib.config import CourseConfig
    from course_lib.errors import CourseError
    from course_lib.report import write_report

    with pytest.raises(CourseError, match="course autograde 01-tensors"):
        write_report(config=CourseConfig.load(own_course), assignment_id="01-tensors", out=tmp_path / "r")


def test_the_data_behind_the_plots(graded_course):
    """Whole students per bin, bins on whole points, the legend clear of the bars, run times adding up."""
    from course_lib.report import compute, runtime_histogram, score_figure, score_histogram

    config, spec, first = graded_course
    report = compute(config, "01-tensors")
    edges, counts = score_histogram(report)
    assert all(isinstance(c, int) for c in counts) and sum(counts) == len(report.scores) == 5
    assert all(e == int(e) for e in edges) and edges[0] == 0 and edges[-1] > report.max_score
    total = sum(q.points for q in spec.grader.questions)
    assert counts[edges.index(total)] == 1  # full marks: a bin of their own
    assert counts[edges.index(total - first.points)] == 4
    fig = score_figure(report)
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    assert not any(legend.overlaps(bar.get_window_extent()) for bar in ax.patches if bar.get_height() > 0)
    assert all(tick == int(tick) for tick in ax.get_yticks())
    edges, by_place = runtime_histogram(report)
    assert sorted(by_place) == ["w-cpu (cpu)", "w-gpu (cuda)"]
    assert sum(map(sum, by_place.values())) == len(report.runs) == 5
    assert sum(by_place["w-gpu (cuda)"]) == 2 and all(isinstance(c, int) for c in by_place["w-cpu (cpu)"])


def test_hand_graded_questions_are_in_the_per_question_chart_by_title(own_course, tmp_path):
    from nbgrader.api import Gradebook

    from course_lib.assignment import Assignment
    from course_lib.autograde import save_results
    from course_lib.config import CourseConfig
    from course_lib.gradebook import ensure_notebook, record
    from course_lib.report import compute, question_figure, write_report

    config = CourseConfig.load(own_course).with_overrides(device="cpu")
    spec = Assignment.load(config, "04-ethics").notebook("ethics")
    ensure_notebook(config, spec)
    for student in ("s1", "s2"):
        checks = tuple(CheckResult(name=c.name, grade_id=q.grade_id, max_points=c.points, points=c.points,
                                   passed=True, message="", describe=c.name) for q in spec.grader.questions
                       for c in q.checks)
        graded = GradedSubmission(student=student, assignment="04-ethics", notebook="ethics", checks=checks,
                                  status="completed", runtime=1.0, device="cpu", worker="local")
        record(config, spec, graded, release_nb=spec.release_nb())
        save_results(config, graded, "x")
    with Gradebook(config.db_url) as gb:  # a TA gave s1 2 of 3 points for `recourse` in formgrader
        grade = gb.find_grade("recourse", "ethics", "04-ethics", "s1")
        grade.manual_score = 2.0
        gb.db.commit()
    report = compute(config, "04-ethics")
    manual = {q.grade_id: q for q in report.questions if q.manual}
    assert set(manual) == {"feedback_loops", "recourse", "bias_sources", "went_well"}
    assert manual["recourse"].scored == 1 and manual["recourse"].pending == 1
    assert manual["recourse"].mean == pytest.approx(2 / 3)
    assert manual["went_well"].pending == 2 and manual["went_well"].scored == 0
    assert sum(q.points for q in report.questions) == pytest.approx(report.max_score)
    assert all(q.title != q.grade_id and "points" not in q.title for q in report.questions)
    fig = question_figure(report)
    labels = [t.get_text().replace("\n", " ") for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == len(report.questions) and any("by hand, 1 to grade" in t for t in labels)
    page = write_report(config=config, assignment_id="04-ethics", out=tmp_path / "r").read_text()
    assert manual["recourse"].title in page and "1 still to grade" in page
