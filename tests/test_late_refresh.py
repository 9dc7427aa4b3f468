"""Late penalties are brought up to date with the configuration by every command that shows or exports a
total, whatever ran before: a changed due date and hand grades entered after autograding count at once.

No kernels: verdicts are recorded through the same gradebook code autograde uses (see test_moodle).
"""

from __future__ import annotations

import csv
import os
import re
from datetime import datetime, timezone

import pytest

from test_moodle import course, grade, graded_class, make_worksheet, spec, with_setting  # noqa: F401

EXTENDED = 'c.Course.assignments["01-tensors"]["due"] = "2026-10-10 23:59"'
ORIGINAL = 'c.Course.assignments["01-tensors"]["due"] = "2026-10-05 23:59"'


def worksheet_grades(path) -> dict:
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    return {r["Identifier"]: r["Grade"] for r in rows}


def gradebook_percent(path) -> dict:
    return {r["Email address"]: r["01-tensors"] for r in csv.DictReader(path.open())}


def xml_scores(path) -> dict:
    return dict(re.findall(r"<student>(.*?)</student>\s*<score>(.*?)</score>", path.read_text()))


def test_a_changed_due_date_counts_in_every_command_without_autograding_again(graded_class, tmp_path, capsys):
    """Émile is 1 day 10 hours late (20 % off his half marks) until an extension, and again after it ends."""
    from course_lib.cli import main
    from course_lib.moodle.importer import people_from
    from course_lib.moodle.roster import register
    from course_lib.moodle import worksheet as ws
    from course_lib.report import compute

    root = str(graded_class.root)
    sheet = make_worksheet(tmp_path / "w.csv", extra=[("ID number", ["S-1", "S-2", "S-3", "S-4", "S-5"])])
    register(graded_class, "01-tensors", people_from(ws.Worksheet.read(sheet), graded_class.timezone))
    assert main(["--course", root, "export", "gradebook", "-o", str(tmp_path / "before.csv")]) == 0
    assert gradebook_percent(tmp_path / "before.csv")["emile@uni.example"] == "40.00"

    config = with_setting(graded_class, EXTENDED)  # an extension: nobody is late now
    assert main(["--course", root, "export", "moodle", "01-tensors", "--worksheet", str(sheet),
                 "-o", str(tmp_path / "up.csv")]) == 0
    assert worksheet_grades(tmp_path / "up.csv")["Participant 2345678"] == "50.00"
    assert main(["--course", root, "export", "gradebook", "-o", str(tmp_path / "ext.csv")]) == 0
    assert gradebook_percent(tmp_path / "ext.csv")["emile@uni.example"] == "50.00"
    assert main(["--course", root, "export", "gradebook", "-o", str(tmp_path / "ext.xml")]) == 0
    assert xml_scores(tmp_path / "ext.xml")["S-2"] == "50.00"
    assert main(["--course", root, "feedback", "01-tensors", "--student", "emile"]) == 0
    page = config.path("feedback", "emile", "01-tensors", "tensors.html").read_text()
    assert "late penalty" not in page
    half = compute(config, "01-tensors")
    assert dict(half.totals)["emile"] == pytest.approx(half.max_score / 2)

    config = with_setting(graded_class, ORIGINAL)  # the extension withdrawn: feedback first, then the rest
    assert main(["--course", root, "feedback", "01-tensors", "--student", "emile"]) == 0
    page = config.path("feedback", "emile", "01-tensors", "tensors.html").read_text()
    assert "late penalty" in page and "1 day 10 hours" in page
    assert dict(compute(config, "01-tensors").totals)["emile"] == pytest.approx(half.max_score / 2 * 0.8)
    assert main(["--course", root, "export", "gradebook", "-o", str(tmp_path / "back.xml")]) == 0
    assert xml_scores(tmp_path / "back.xml")["S-2"] == "40.00"
    assert main(["--course", root, "export", "moodle", "01-tensors", "--worksheet", str(sheet),
                 "-o", str(tmp_path / "up2.csv")]) == 0
    assert worksheet_grades(tmp_path / "up2.csv")["Participant 2345678"] == "40.00"


def test_nbgrader_export_sees_the_changed_due_date_after_a_course_command(graded_class, tmp_path):
    """The due date reaches nbgrader's gradebook, so nbgrader's own export agrees with ours."""
    import subprocess
    import sys

    from course_lib.moodle.export import assignment_totals

    config = with_setting(graded_class, EXTENDED)
    assert assignment_totals(config, "01-tensors")["emile"].late_penalty == 0
    out = tmp_path / "nbgrader.csv"
    subprocess.run([sys.executable, "-m", "nbgrader", "export", f"--to={out}"], cwd=config.root, check=True,
                   capture_output=True)
    rows = {r["student_id"]: r for r in csv.DictReader(out.open())}
    assert float(rows["emile"]["late_submission_penalty"]) == 0
    assert rows["emile"]["duedate"].startswith("2026-10-10 21:59")  # 23:59 Berlin summer time, in UTC


@pytest.fixture
def ethics_late(own_course):
    """04-ethics due 2026-01-01 00:00 UTC, 0.1 % off per started day; Ada hands in 335.6 days late and the
    autograded part (10 points) is recorded; the four reflections (10 points) wait for a person."""
    import nbformat
    from nbgrader.api import Gradebook

    from course_lib.assignment import Assignment
    from course_lib.collect import collect
    from course_lib.config import CourseConfig

    cfg = own_course / "nbgrader_config.py"
    cfg.write_text(cfg.read_text() + '\nc.Course.late_penalty_per_day = 0.001\n'
                   'c.Course.assignments["04-ethics"]["due"] = "2026-01-01 00:00"\n')
    config = CourseConfig.load(own_course).with_overrides(device="cpu")
    spec = Assignment.load(config, "04-ethics").notebook("ethics")
    incoming = own_course.parent / "incoming"
    incoming.mkdir()
    nb = incoming / "ada.ipynb"
    nb.write_text(nbformat.writes(spec.release_nb()))
    when = datetime(2026, 12, 2, 14, 24, tzinfo=timezone.utc).timestamp()  # 335.6 days after the due date
    os.utime(nb, (when, when))
    collect(config=config, assignment_id="04-ethics", source=incoming)
    grade(config, spec, "ada", 1.0)
    with Gradebook(config.db_url, config.course_id) as gb:
        gb.update_or_create_student("ada", email="ada@uni.example")
    return config, spec


def grade_by_hand(config, spec, student: str) -> None:
    """Full marks on every hand-graded cell, through nbgrader's Gradebook API as formgrader saves them."""
    from nbgrader.api import Gradebook

    from course_lib.notebooks import grade_cells

    with Gradebook(config.db_url, config.course_id) as gb:
        for gid, points, manual in grade_cells(spec.release_nb()):
            if manual:
                g = gb.find_grade(gid, spec.name, spec.assignment, student)
                g.manual_score = points
                g.needs_manual_grade = False
        gb.db.commit()


def test_hand_grades_count_in_the_late_penalty_of_the_feedback_page(ethics_late):
    from course_lib.feedback import feedback
    from course_lib.gradebook import notebook_scores

    config, spec = ethics_late
    assert notebook_scores(config, "04-ethics", "ethics", "ada")["late_penalty"] == pytest.approx(3.36)
    grade_by_hand(config, spec, "ada")
    feedback(config=config, assignment_id="04-ethics")  # before any export
    page = config.path("feedback", "ada", "04-ethics", "ethics.html").read_text()
    assert "−6.72" in page and "13.28" in page and "3.36" not in page
    assert "0.1% of the score per started day late" in page


def test_hand_grades_count_in_the_report_and_the_course_gradebook(ethics_late, tmp_path):
    from course_lib.moodle.export import export_gradebook
    from course_lib.report import compute

    config, spec = ethics_late
    grade_by_hand(config, spec, "ada")
    assert dict(compute(config, "04-ethics").totals)["ada"] == pytest.approx(13.28)  # before any export
    export_gradebook(config=config, out=tmp_path / "g.csv")
    assert next(csv.DictReader((tmp_path / "g.csv").open()))["04-ethics"] == "66.40"


@pytest.mark.parametrize("rate, text", [(0.1, "10%"), (0.001, "0.1%"), (0.125, "12.5%"), (0.0125, "1.25%"),
                                        (1 / 3, "33.33%"), (0.00001, "0.001%"), (1.0, "100%")])
def test_the_rate_is_shown_as_set(rate, text):
    from course_lib.config import LatePolicy
    from course_lib.late import describe_policy

    assert describe_policy(LatePolicy(late_penalty_per_day=rate)).startswith(f"{text} of the score per started day")


def test_a_total_still_waiting_for_hand_grading_is_named_and_can_be_left_out(ethics_late, tmp_path, capsys):
    """The exports warn that such a total is partial, and --skip-pending leaves it out until a person grades it."""
    from course_lib.cli import main
    from course_lib.moodle.export import export_gradebook, export_worksheet
    from course_lib.moodle.importer import people_from
    from course_lib.moodle.roster import register
    from course_lib.moodle import worksheet as ws

    config, spec = ethics_late
    result = export_gradebook(config=config, out=tmp_path / "g.csv")
    assert next(csv.DictReader((tmp_path / "g.csv").open()))["04-ethics"] == "33.20"  # 10 of 20 less 33.6 % late, as a percentage of 20
    assert any("graded by hand" in w and "ada" in w and "partial" in w for w in result["warnings"])
    result = export_gradebook(config=config, out=tmp_path / "skip.csv", skip_pending=True)
    assert not list(csv.DictReader((tmp_path / "skip.csv").open())) and result["ungraded"] == ["ada"]
    assert any("left out (--skip-pending)" in w for w in result["warnings"])
    # the worksheet: Ada's row is left as downloaded with --skip-pending, filled (with the warning) without it
    people = [("Ada", "77", "ada@uni.example", "Submitted for grading", "Monday, 5 October 2026, 9:15 PM")]
    sheet = make_worksheet(tmp_path / "w.csv", people=people)
    register(config, "04-ethics", people_from(ws.Worksheet.read(sheet), config.timezone))
    report = export_worksheet(config=config, assignment_id="04-ethics", worksheet=sheet, out=tmp_path / "up.csv",
                              skip_pending=True)
    assert report.held_back == ["ada"] and not report.filled
    assert (tmp_path / "up.csv").read_bytes() == sheet.read_bytes()
    root = str(config.root)
    assert main(["--course", root, "export", "moodle", "04-ethics", "--worksheet", str(sheet),
                 "-o", str(tmp_path / "up2.csv")]) == 0
    assert "still have answers to be graded by hand" in capsys.readouterr().out
    assert worksheet_grades(tmp_path / "up2.csv")["Participant 77"] == "33.20"
    # once graded by hand, nothing is pending
    grade_by_hand(config, spec, "ada")
    result = export_gradebook(config=config, out=tmp_path / "after.csv", skip_pending=True)
    assert next(csv.DictReader((tmp_path / "after.csv").open()))["04-ethics"] == "66.40"
    assert not [w for w in result["warnings"] if "by hand" in w]
