"""A student's other submitted files (a helper module, a data file) lie beside their notebook, as in nbgrader.

nbgrader's collect keeps every file of a submission, and its autograde runs each notebook in a copy of the
student's ``submitted/<student>/<aid>/`` (other notebooks and its ``CourseDirectory.ignore`` globs left out),
with the assignment's own files written over the student's. The nbgrader-against-course comparison of a helper
module is in ``test_nbgrader_output_rules.py``; these tests follow the files through collect (a folder and
Moodle's zip), the job and a re-grade.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from course_lib.collect import collect
from course_lib.config import CourseConfig

HELPER = "import torch\n\ndef invert(images):\n    return 1.0 - images\n"


def _answer_by_import(spec) -> nbformat.NotebookNode:
    """The solution, with invert imported from the student's own module instead of written in the cell."""
    from course_lib.synth import Variant, build

    return build(spec, Variant("imports_invert", answers={"invert": "from helper import invert\n"}))


def test_collect_keeps_the_other_files_of_a_students_folder(own_course, tmp_path, tensors_spec):
    config = CourseConfig.load(own_course)
    inbox = tmp_path / "inbox"
    alice = inbox / "alice" / "hw1"
    (alice / "__pycache__").mkdir(parents=True)
    (alice / ".ipynb_checkpoints").mkdir()
    (alice / "data").mkdir()
    nbformat.write(tensors_spec.release_nb(), alice / "tensors.ipynb")
    (alice / "helper.py").write_text(HELPER)
    (alice / "data" / "points.csv").write_text("x,y\n1,2\n")
    (alice / "__pycache__" / "helper.cpython-311.pyc").write_bytes(b"\0")
    (alice / ".ipynb_checkpoints" / "tensors-checkpoint.ipynb").write_text("{}")
    (alice / "scratch.ipynb").write_text("{}")  # another notebook: nbgrader's autograde leaves it out
    (alice / "timestamp.txt").write_text("2000-01-01 00:00:00")  # collect writes its own
    secret = tmp_path / "instructor-only.txt"
    secret.write_text("not the student's")
    os.symlink(secret, alice / "link.txt")
    nbformat.write(tensors_spec.release_nb(), inbox / "bob.ipynb")  # flat: the inbox is nobody's folder
    (inbox / "bob-notes.txt").write_text("x")

    report = collect(config=config, assignment_id="01-tensors", source=inbox)

    assert sorted(s.student for s in report.collected) == ["alice", "bob"]
    kept = own_course / "submitted" / "alice" / "01-tensors"
    files = sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*") if p.is_file())
    assert files == ["data/points.csv", "helper.py", "tensors.ipynb", "timestamp.txt"]
    assert (kept / "helper.py").read_text() == HELPER
    assert not (kept / "timestamp.txt").read_text().startswith("2000")
    bob = own_course / "submitted" / "bob" / "01-tensors"
    assert sorted(p.name for p in bob.iterdir()) == ["tensors.ipynb", "timestamp.txt"]

    # a new submission replaces the old one whole: the helper it no longer has is gone
    (alice / "helper.py").unlink()
    collect(config=config, assignment_id="01-tensors", source=inbox)
    assert not (kept / "helper.py").exists() and (kept / "data" / "points.csv").is_file()


def test_the_job_places_the_students_files_under_the_assignments_own(own_course, tmp_path):
    from course_lib.assignment import Assignment
    from course_lib.execute.jobs import merged_files, submitted_files
    from course_lib.grade import Context

    config = CourseConfig.load(own_course).with_overrides(device="cpu")
    folder = tmp_path / "submitted"
    (folder / "feedback").mkdir(parents=True)
    (folder / "benefit_claims.csv").write_text("the student's own version\n")
    (folder / "helper.py").write_text(HELPER)
    (folder / "feedback" / "old.html").write_text("<p>")
    os.symlink(own_course / "nbgrader_config.py", folder / "config-link.py")
    own, left_out = submitted_files(config, folder)
    assert sorted(own) == ["benefit_claims.csv", "helper.py"]
    assert left_out == ["config-link.py: not a plain file; not placed beside the notebook"]

    spec = Assignment.load(config, "04-ethics").notebook("ethics")
    released = (own_course / "release" / "04-ethics" / "benefit_claims.csv").read_bytes()
    context = Context.prepare(config, spec, "cpu")
    job = context.job("alice", Path("ethics.ipynb"), student_nb=spec.release_nb(), own_files=own)
    assert job.files["benefit_claims.csv"] == released  # the assignment's file wins, as nbgrader's master copy
    assert job.files["helper.py"] == HELPER.encode()
    # a file of the student's where the assignment has a folder, or inside one of its files, gives way
    assert merged_files({"data": b"x", "a.csv/b": b"y", "c": b"z"}, {"data/d.csv": b"1", "a.csv": b"2"}) == \
        {"c": b"z", "data/d.csv": b"1", "a.csv": b"2"}


@pytest.mark.slow
def test_autograde_imports_the_students_module_and_grades_again_when_it_changes(own_course, tensors_spec):
    from course_lib.autograde import autograde

    config = CourseConfig.load(own_course).with_overrides(device="cpu")
    for student in ("with-helper", "without-helper"):
        folder = own_course / "submitted" / student / "01-tensors"
        folder.mkdir(parents=True)
        nbformat.write(_answer_by_import(tensors_spec), folder / "tensors.ipynb")
    helper = own_course / "submitted" / "with-helper" / "01-tensors" / "helper.py"
    helper.write_text(HELPER)

    report = autograde(config=config, assignment_id="01-tensors", progress=False)
    by_student = {g.student: g for g in report.graded}
    invert = {s: [c for c in g.checks if c.name.startswith("invert")] for s, g in by_student.items()}
    assert invert["with-helper"] and all(c.passed for c in invert["with-helper"])
    assert not any(c.passed for c in invert["without-helper"])
    assert by_student["with-helper"].score == by_student["with-helper"].max_score

    # `course grade` of a submission in submitted/ (one student graded again) runs it among the same files
    from course_lib.grade import grade_file

    notebook = own_course / "submitted" / "with-helper" / "01-tensors" / "tensors.ipynb"
    alone, _ = grade_file(config=config, assignment_id="01-tensors", path=notebook)
    assert alone.score == by_student["with-helper"].score

    # the notebook is unchanged but its module is not: graded again, not skipped as up to date
    helper.write_text(HELPER.replace("1.0 - images", "images"))
    again = autograde(config=config, assignment_id="01-tensors", progress=False)
    assert [g.student for g in again.graded] == ["with-helper"]
    assert not any(c.passed for c in again.graded[0].checks if c.name == "invert_values")


def test_a_file_that_cannot_be_kept_is_named_and_the_rest_are_kept(own_course):
    import zipfile

    from course_lib.collect import place_others

    config = CourseConfig.load(own_course)
    (own_course / "submitted" / "alice" / "01-tensors").mkdir(parents=True)

    def corrupt():
        raise zipfile.BadZipFile("Bad CRC-32 for file 'b.py'")

    problems = []
    placed = place_others(config, "01-tensors", "alice", [
        ("x" * 300 + ".py", 1, lambda: b"1"),  # longer than any file name may be
        ("b.py", 1, corrupt),
        ("../up.py", 1, lambda: b"no"),
        ("good.py", 1, lambda: b"ok"),
    ], problems)
    assert placed == ["good.py"]
    assert [(s, f[:4]) for s, f, _ in problems] == [("alice", "xxxx"), ("alice", "b.py")]
    assert "could not be kept" in problems[0][2] and "could not be read" in problems[1][2]
    assert not (own_course / "submitted" / "alice" / "up.py").exists()


def test_collect_names_the_files_of_a_students_folder_it_does_not_keep(own_course, tmp_path, tensors_spec):
    """Only the notebook's folder lies beside it, as from Moodle's zip: a file elsewhere in the student's folder
    is named, not dropped without a word (their notebook then runs without it)."""
    config = CourseConfig.load(own_course)
    inbox = tmp_path / "inbox"
    work = inbox / "bob" / "hw1"
    work.mkdir(parents=True)
    nbformat.write(tensors_spec.release_nb(), work / "tensors.ipynb")
    (work / "points.csv").write_text("x\n1\n")
    (inbox / "bob" / "helper.py").write_text(HELPER)
    (inbox / "bob" / "notes.ipynb").write_text("{}")  # another notebook: not the student's other files

    report = collect(config=config, assignment_id="01-tensors", source=inbox)

    kept = own_course / "submitted" / "bob" / "01-tensors"
    assert (kept / "points.csv").is_file() and not (kept / "helper.py").exists()
    assert [(s, f) for s, f, _ in report.problems] == [("bob", "helper.py")]
    assert "not in the notebook's folder" in report.problems[0][2]


def test_a_file_whose_name_is_not_utf8_is_kept_and_its_changes_grade_again(own_course, tmp_path, tensors_spec):
    """A name in another encoding (``café.py`` from a Latin-1 unzip) is a name Linux keeps as bytes: collect
    keeps it, and autograde's digest of the student's files takes it (it raised UnicodeEncodeError, the
    whole batch's end)."""
    from types import SimpleNamespace

    from course_lib.autograde import _digest
    from course_lib.collect import submissions
    from course_lib.execute.jobs import submitted_files

    config = CourseConfig.load(own_course)
    work = tmp_path / "inbox" / "carol" / "hw1"
    work.mkdir(parents=True)
    nbformat.write(tensors_spec.release_nb(), work / "tensors.ipynb")
    name = os.fsdecode(b"caf\xe9.py")
    (work / name).write_bytes(b"x = 1\n")
    collect(config=config, assignment_id="01-tensors", source=tmp_path / "inbox")

    folder = own_course / "submitted" / "carol" / "01-tensors"
    own, left_out = submitted_files(config, folder)
    assert list(own) == [name] and left_out == []
    sub, = submissions(config, "01-tensors", ["carol"])
    context = SimpleNamespace(key="set-up")
    before = _digest(sub, context, own)
    (folder / name).write_bytes(b"x = 2\n")
    assert _digest(sub, context, submitted_files(config, folder)[0]) != before
