"""What `course collect --moodle-zip` lists besides what it collected: worksheet rows without a submission,
and uploads it cannot choose between."""

from __future__ import annotations

import zipfile

from course_lib.cli import main

from test_moodle import CLASS, make_worksheet, make_zip, notebook_bytes


def test_worksheet_rows_without_a_submission_are_listed(own_course, tmp_path, capsys):
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig

    spec = Assignment.load(CourseConfig.load(own_course), "01-tensors").notebook("tensors")
    people = CLASS + [("Quiet Quentin", "6789012", "quentin@uni.example", "Submitted for grading",
                       "Monday, 5 October 2026, 9:15 PM")]  # submitted, yet the zip has no file of his
    sheet = make_worksheet(tmp_path / "Grades.csv", people=people)
    archive = make_zip(tmp_path / "s.zip", spec, "folders", people=CLASS)
    assert main(["--course", str(own_course), "collect", "01-tensors", "--moodle-zip", str(archive),
                 "--worksheet", str(sheet)]) == 0
    out = capsys.readouterr().out
    listing = out[out.index("in the worksheet without a submission"):]
    assert out.count("in the worksheet without a submission") == 1 and "2 in the worksheet" in out
    assert "ned" in listing and "Nobody Ned" in listing and "No submission" in listing
    assert "quentin" in listing and "the zip holds no file of theirs" in listing
    assert "ada.lovelace" not in listing and "dora" not in listing  # Dora's draft is in the zip: skipped, listed above


def test_two_uploads_equally_like_the_notebook_are_not_guessed_between(own_course, tmp_path):
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.moodle.importer import collect_moodle

    config = CourseConfig.load(own_course)
    spec = Assignment.load(config, "01-tensors").notebook("tensors")
    sheet = make_worksheet(tmp_path / "Grades.csv", people=CLASS[:1])
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as zf:
        for name in ("draft one.ipynb", "draft two.ipynb"):
            zf.writestr(f"Ada Lovelace_1234567_assignsubmission_file/{name}", notebook_bytes(spec, name))
    report = collect_moodle(config=config, assignment_id="01-tensors", zip_path=tmp_path / "s.zip", worksheet=sheet)
    assert report.collected == []
    (student, files, message), = report.problems
    assert student == "ada.lovelace" and "draft one.ipynb" in message and "draft two.ipynb" in message
    assert "look equally like tensors.ipynb" in message and "ask the student which to grade" in message
