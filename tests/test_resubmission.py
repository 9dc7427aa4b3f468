"""A new submission replaces the student's whole submitted folder, from Moodle's zip or from a folder, and a
notebook it no longer holds scores 0 in every total; times taken from file modification times are warned
about and can be given explicitly. No kernels: verdicts are recorded as autograde records them."""

from __future__ import annotations

import csv
import os
import shutil
import time
import zipfile
from datetime import timezone
from pathlib import Path

import nbformat
import pytest

from test_moodle import grade, make_worksheet

ADA = ("Ada Lovelace", "1234567", "ada.lovelace@uni.example", "Submitted for grading",
       "Monday, 5 October 2026, 9:15 PM")


@pytest.fixture
def two_notebooks(own_course):
    """01-tensors with a second notebook, extra.ipynb (a copy of tensors with its own grader module)."""
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig

    for folder, suffix in (("source", ".ipynb"), ("release", ".ipynb"), ("graders", ".py")):
        base = own_course / folder / "01-tensors"
        shutil.copyfile(base / f"tensors{suffix}", base / f"extra{suffix}")
    config = CourseConfig.load(own_course).with_overrides(device="cpu")
    assignment = Assignment.load(config, "01-tensors")
    assert [s.name for s in assignment.notebooks] == ["extra", "tensors"]
    return config, assignment


def moodle_zip(path: Path, files: dict) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(f"Ada Lovelace_1234567_assignsubmission_file/{name}", data)
    return path


def released(assignment, name: str) -> str:
    return nbformat.writes(assignment.notebook(name).release_nb())


def test_a_moodle_resubmission_without_a_notebook_removes_it_and_its_grade(two_notebooks, tmp_path, capsys):
    from course_lib.cli import main
    from course_lib.moodle.export import assignment_totals

    config, assignment = two_notebooks
    root, sheet = str(config.root), make_worksheet(tmp_path / "w.csv", people=[ADA])
    first = moodle_zip(tmp_path / "s.zip", {"tensors.ipynb": released(assignment, "tensors"),
                                            "extra.ipynb": released(assignment, "extra")})
    assert main(["--course", root, "collect", "01-tensors", "--moodle-zip", str(first), "--worksheet", str(sheet)]) == 0
    for name in ("tensors", "extra"):
        grade(config, assignment.notebook(name), "ada.lovelace", 1.0)
    full = assignment_totals(config, "01-tensors")["ada.lovelace"]
    assert full.score == full.max_score > 0
    capsys.readouterr()

    again = moodle_zip(tmp_path / "s2.zip", {"tensors.ipynb": released(assignment, "tensors")})
    assert main(["--course", root, "collect", "01-tensors", "--moodle-zip", str(again), "--worksheet", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert "removed" in out and "extra.ipynb" in out and "ada.lovelace" in out
    folder = config.path("submitted", "ada.lovelace", "01-tensors")
    assert sorted(p.name for p in folder.iterdir()) == ["tensors.ipynb", "timestamp.txt"]
    # tensors is not graded again here: only extra's grade must be gone from the total
    total = assignment_totals(config, "01-tensors")["ada.lovelace"]
    assert total.score == pytest.approx(full.max_score / 2)
    assert main(["--course", root, "export", "moodle", "01-tensors", "--worksheet", str(sheet),
                 "-o", str(tmp_path / "up.csv")]) == 0
    row = next(csv.DictReader((tmp_path / "up.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert row["Grade"] == "50.00" and "extra.ipynb: not submitted" in row["Feedback comments"]
    assert main(["--course", root, "feedback", "01-tensors"]) == 0
    assert not config.path("feedback", "ada.lovelace", "01-tensors", "extra.html").exists()
    assert config.path("feedback", "ada.lovelace", "01-tensors", "tensors.html").exists()


def test_a_folder_replaced_by_other_means_still_counts_the_missing_notebook_as_0(two_notebooks, tmp_path):
    """The totals follow submitted/ whoever replaced the folder (nbgrader's collect, by hand)."""
    from course_lib.moodle.export import assignment_totals
    from course_lib.moodle.importer import collect_moodle

    config, assignment = two_notebooks
    collect_moodle(config=config, assignment_id="01-tensors", worksheet=make_worksheet(tmp_path / "w.csv", people=[ADA]),
                   zip_path=moodle_zip(tmp_path / "s.zip", {"tensors.ipynb": released(assignment, "tensors"),
                                                            "extra.ipynb": released(assignment, "extra")}))
    for name in ("tensors", "extra"):
        grade(config, assignment.notebook(name), "ada.lovelace", 1.0)
    config.path("submitted", "ada.lovelace", "01-tensors", "extra.ipynb").unlink()
    total = assignment_totals(config, "01-tensors")["ada.lovelace"]
    assert total.score == pytest.approx(total.max_score / 2) and total.absent == {"extra"}


def test_collect_from_a_folder_replaces_the_submission_too(two_notebooks, tmp_path):
    from course_lib.collect import collect

    config, assignment = two_notebooks
    first = tmp_path / "first" / "alan"
    first.mkdir(parents=True)
    (first / "tensors.ipynb").write_text(released(assignment, "tensors"))
    (first / "extra.ipynb").write_text(released(assignment, "extra"))
    collect(config=config, assignment_id="01-tensors", source=first.parent)
    grade(config, assignment.notebook("extra"), "alan", 1.0)
    second = tmp_path / "second" / "alan"
    second.mkdir(parents=True)
    (second / "tensors.ipynb").write_text(released(assignment, "tensors"))
    report = collect(config=config, assignment_id="01-tensors", source=second.parent)
    assert [(s, f) for s, f, _ in report.removed] == [("alan", "extra.ipynb")]
    assert not config.path("submitted", "alan", "01-tensors", "extra.ipynb").exists()
    from course_lib.gradebook import notebook_scores

    assert notebook_scores(config, "01-tensors", "extra", "alan")["score"] == 0  # at once, before any export


# -- submission times of collect --from ----------------------------------------------------------------

@pytest.fixture
def due_course(own_course):
    from course_lib.config import CourseConfig

    cfg = own_course / "nbgrader_config.py"
    cfg.write_text(cfg.read_text() + '\nc.Course.late_penalty_per_day = 0.1\n'
                   'c.Course.assignments["01-tensors"]["due"] = "2026-01-01 00:00"\n')
    return CourseConfig.load(own_course).with_overrides(device="cpu")


def copied_class(config, tmp_path: Path, students=("alan", "grace")) -> Path:
    """Notebooks copied as `cp` copies them: modified now, long after the due date."""
    from course_lib.assignment import Assignment

    text = nbformat.writes(Assignment.load(config, "01-tensors").notebook("tensors").release_nb())
    folder = tmp_path / "downloads"
    folder.mkdir()
    for student in students:
        (folder / f"{student}.ipynb").write_text(text)
    return folder


def test_copy_times_after_the_due_date_are_warned_about(due_course, tmp_path, capsys):
    from course_lib.cli import main

    folder = copied_class(due_course, tmp_path)
    assert main(["--course", str(due_course.root), "collect", "01-tensors", "--from", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "modification time" in err and "--timestamp" in err and "--no-timestamps" in err
    assert "2 notebook(s) count as late" in err and "within" in err


def test_collect_from_with_one_time_for_all_or_none(due_course, tmp_path, capsys):
    from nbgrader.utils import parse_utc

    from course_lib.cli import main

    root, folder = str(due_course.root), copied_class(due_course, tmp_path)
    assert main(["--course", root, "collect", "01-tensors", "--from", str(folder),
                 "--timestamp", "2025-12-31 18:00"]) == 0
    assert "warning" not in capsys.readouterr().err
    stamp = due_course.path("submitted", "alan", "01-tensors", "timestamp.txt").read_text()
    assert parse_utc(stamp) == parse_utc("2025-12-31 18:00:00 UTC")
    assert main(["--course", root, "collect", "01-tensors", "--from", str(folder), "--no-timestamps"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert not due_course.path("submitted", "alan", "01-tensors", "timestamp.txt").exists()
    assert main(["--course", root, "collect", "01-tensors", "--from", str(folder), "--timestamp", "soon"]) == 2
    assert "not a date and time" in capsys.readouterr().err


def test_real_modification_times_before_the_due_date_are_not_warned_about(due_course, tmp_path):
    from course_lib.collect import collect

    folder = copied_class(due_course, tmp_path)
    for i, nb in enumerate(sorted(folder.iterdir())):
        when = time.mktime((2025, 12, 20 + i, 12, 0, 0, 0, 0, -1))
        os.utime(nb, (when, when))
    report = collect(config=due_course, assignment_id="01-tensors", source=folder)
    assert len(report.collected) == 2 and report.warnings == []


def test_no_timestamps_takes_the_old_time_out_of_the_gradebook(due_course, tmp_path):
    """A submission collected again without a time is on time, also where the gradebook kept the old one."""
    from course_lib.assignment import Assignment
    from course_lib.collect import collect
    from course_lib.moodle.export import assignment_totals

    spec = Assignment.load(due_course, "01-tensors").notebook("tensors")
    folder = copied_class(due_course, tmp_path, students=("alan",))
    collect(config=due_course, assignment_id="01-tensors", source=folder)
    grade(due_course, spec, "alan", 1.0)
    assert assignment_totals(due_course, "01-tensors")["alan"].late_penalty > 0
    collect(config=due_course, assignment_id="01-tensors", source=folder, no_timestamps=True)
    assert assignment_totals(due_course, "01-tensors")["alan"].late_penalty == 0


def test_a_submission_of_several_notebooks_is_as_late_as_its_latest_file(two_notebooks, tmp_path):
    """extra.ipynb modified two days after the due date, tensors.ipynb long before: the submission is late,
    whichever notebook is placed last (nbgrader's zip_collect keeps the newest time too)."""
    from nbgrader.utils import parse_utc

    from course_lib.collect import collect

    config, assignment = two_notebooks
    path = config.root / "nbgrader_config.py"
    path.write_text(path.read_text() + '\nc.Course.assignments["01-tensors"]["due"] = "2026-01-01 00:00"\n')
    from course_lib.config import CourseConfig

    config = CourseConfig.load(config.root).with_overrides(device="cpu")
    alan = tmp_path / "downloads" / "alan"
    alan.mkdir(parents=True)
    times = {"extra": "2026-01-03 12:00:00", "tensors": "2025-12-20 12:00:00"}
    for name, when in times.items():
        (alan / f"{name}.ipynb").write_text(released(assignment, name))
        seconds = parse_utc(when).replace(tzinfo=timezone.utc).timestamp()
        os.utime(alan / f"{name}.ipynb", (seconds, seconds))
    report = collect(config=config, assignment_id="01-tensors", source=alan.parent)
    stamp = config.path("submitted", "alan", "01-tensors", "timestamp.txt").read_text()
    assert parse_utc(stamp) == parse_utc(times["extra"])
    assert {s.timestamp for s in report.collected} == {stamp}


def test_a_resubmission_collected_after_grading_is_named_until_it_is_graded(due_course, tmp_path):
    """Alan's grade is of the notebook he handed in on time; he hands in another one late. Until autograde
    runs again every total shown is of the replaced submission (its score, on time): the warnings that
    feedback, report and the exports print say so; collecting the same submission again says nothing."""
    from course_lib.assignment import Assignment
    from course_lib.autograde import collected_digest, save_results, ungraded_warnings
    from course_lib.collect import collect, submissions

    spec = Assignment.load(due_course, "01-tensors").notebook("tensors")
    folder = copied_class(due_course, tmp_path, students=("alan",))
    collect(config=due_course, assignment_id="01-tensors", source=folder, timestamp=parse_utc_aware("2025-12-31"))
    graded = grade(due_course, spec, "alan", 1.0)
    save_results(due_course, graded, "test", collected_digest(submissions(due_course, "01-tensors")[0]))
    assert ungraded_warnings(due_course, ["01-tensors"]) == []
    collect(config=due_course, assignment_id="01-tensors", source=folder, timestamp=parse_utc_aware("2025-12-31"))
    assert ungraded_warnings(due_course, ["01-tensors"]) == []
    collect(config=due_course, assignment_id="01-tensors", source=folder, timestamp=parse_utc_aware("2026-01-03"))
    warnings = ungraded_warnings(due_course, ["01-tensors"])
    assert len(warnings) == 1 and "collected again" in warnings[0] and "alan" in warnings[0]


def parse_utc_aware(day: str):
    from nbgrader.utils import parse_utc

    return parse_utc(f"{day} 12:00:00").replace(tzinfo=timezone.utc)


def test_a_copy_in_a_subfolder_does_not_hide_the_submitted_notebook(due_course, tmp_path):
    """alan/tensors.ipynb beside alan/backup/tensors.ipynb: the top one is graded, as from Moodle's zip, not
    the whole submission skipped (which also removed the one collected before, scoring it 0)."""
    from course_lib.assignment import Assignment
    from course_lib.collect import collect

    text = nbformat.writes(Assignment.load(due_course, "01-tensors").notebook("tensors").release_nb())
    alan = tmp_path / "downloads" / "alan"
    (alan / "backup").mkdir(parents=True)
    (alan / "tensors.ipynb").write_text(text)
    (alan / "backup" / "tensors.ipynb").write_text(text.replace("Question", "Old question"))
    report = collect(config=due_course, assignment_id="01-tensors", source=alan.parent, no_timestamps=True)
    assert [s.student for s in report.collected] == ["alan"] and not report.removed
    assert due_course.path("submitted", "alan", "01-tensors", "tensors.ipynb").read_text() == text


def test_an_unusable_resubmission_keeps_the_earlier_submission_and_its_grade(two_notebooks, tmp_path):
    """collect --from with a corrupt new notebook: the earlier graded submission is neither deleted nor scored 0,
    and the problem names the student and what to do."""
    from course_lib.collect import collect
    from course_lib.gradebook import notebook_scores

    config, assignment = two_notebooks
    first = tmp_path / "first" / "alan"
    first.mkdir(parents=True)
    (first / "tensors.ipynb").write_text(released(assignment, "tensors"))
    (first / "extra.ipynb").write_text(released(assignment, "extra"))
    collect(config=config, assignment_id="01-tensors", source=first.parent)
    grade(config, assignment.notebook("tensors"), "alan", 1.0)
    kept = config.path("submitted", "alan", "01-tensors", "tensors.ipynb").read_bytes()
    second = tmp_path / "second" / "alan"
    second.mkdir(parents=True)
    (second / "tensors.ipynb").write_text("{")
    (second / "extra.ipynb").write_text(released(assignment, "extra"))
    report = collect(config=config, assignment_id="01-tensors", source=second.parent)
    assert report.collected == [] and report.removed == []
    assert [(s, f) for s, f, _ in report.problems] == [("alan", "tensors.ipynb"), ("alan", "(the earlier submission)")]
    assert "collect again" in report.problems[-1][2]
    assert config.path("submitted", "alan", "01-tensors", "tensors.ipynb").read_bytes() == kept
    assert config.path("submitted", "alan", "01-tensors", "extra.ipynb").is_file()
    assert notebook_scores(config, "01-tensors", "tensors", "alan")["score"] > 0

    # a first submission that is unusable has nothing to keep: reported, nothing placed
    third = tmp_path / "third" / "grace"
    third.mkdir(parents=True)
    (third / "tensors.ipynb").write_text("{")
    report = collect(config=config, assignment_id="01-tensors", source=third.parent)
    problems = [(s, f) for s, f, _ in report.problems]
    assert ("grace", "tensors.ipynb") in problems and ("grace", "(the earlier submission)") not in problems
