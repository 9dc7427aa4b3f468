"""The self-check on notebooks that go wrong: an assignment copied to a new id, a broken cell, unanswered
written answers; and a student's self-check from the released notebook alone."""

import shutil

import nbformat
import pytest

from course_lib.assignment import Assignment, ensure_copy_of, released_matches
from course_lib.cli import main
from course_lib.config import CourseConfig
from course_lib.notebooks import grade_id
from course_lib.selfcheck import unanswered
from course_lib.synth import build, write


def copied_assignment(course, new="07-tensors-again"):
    """The course with 01-tensors copied, unchanged, to a new id (as a course reusing last year's does)."""
    for part in ("source", "release", "graders"):
        shutil.copytree(course / part / "01-tensors", course / part / new)
    return new


def test_a_notebook_of_a_copied_assignment_is_ambiguous_and_names_both(own_course, tmp_path, capsys):
    new = copied_assignment(own_course)
    path = tmp_path / "tensors.ipynb"
    shutil.copyfile(own_course / "release/01-tensors/tensors.ipynb", path)
    assert main(["--course", str(own_course), "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "01-tensors/tensors.ipynb" in err and f"{new}/tensors.ipynb" in err
    assert "--assignment 01-tensors" in err and f"--assignment {new}" in err
    assert main(["--course", str(own_course), "grade", str(path)]) == 2  # grade recognises the same way
    err = capsys.readouterr().err
    assert "fits more than one released assignment" in err and f"{new}/tensors.ipynb" in err
    # Named, either copy is accepted as what it is (grade and check with --assignment).
    config = CourseConfig.load(own_course)
    nb = nbformat.read(path, as_version=4)
    for aid in ("01-tensors", new):
        ensure_copy_of(config, Assignment.load(config, aid).notebook("tensors"), nb, path)


def test_read_only_cells_kept_word_for_word_tell_two_releases_apart(own_course, tmp_path):
    new = copied_assignment(own_course)
    release = own_course / "release" / new / "tensors.ipynb"
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        if grade_id(cell) == "intro":
            cell.source += "\n\nThis year: upload by Friday."
    nbformat.write(nb, release)
    config = CourseConfig.load(own_course)
    last_year = nbformat.read(own_course / "release/01-tensors/tensors.ipynb", as_version=4)
    assert [where for where, _ in released_matches(config, last_year)] == [("01-tensors", "tensors")]
    assert [where for where, _ in released_matches(config, nb)] == [(new, "tensors")]


def test_written_answers_left_as_released_are_listed(config):
    release = Assignment.load(config, "04-ethics").notebook("ethics").release_nb()
    assert [gid for gid, _ in unanswered(release, release)] == ["feedback_loops", "recourse", "bias_sources",
                                                                 "went_well"]
    answered = nbformat.from_dict(release)
    for cell in answered.cells:
        if grade_id(cell) == "recourse":
            cell.source = "A person flagged wrongly can ask for a review by a caseworker."
    assert ("recourse", 3.0) not in unanswered(answered, release)
    assert ("went_well", 2.0) in unanswered(answered, release)


@pytest.mark.slow
def test_a_broken_cell_is_shown_first_with_where_it_is(course_dir, tensors_spec, variants, tmp_path, capsys):
    nb = build(tensors_spec, variants["alternative_builtin_helpers"])
    for cell in nb.cells:
        if grade_id(cell) == "make_grid":
            cell.source = "import torchvision_that_is_not_installed\n" + cell.source
        if grade_id(cell) == "crop_center":
            cell.source = cell.source.replace("def crop_center(images, size):", "def crop_center(images, size)")
    path = write(nb, tmp_path / "mine.ipynb")
    assert main(["--course", str(course_dir), "check", str(path), "--device", "cpu"]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    error = next(i for i, line in enumerate(lines) if "ERROR" in line)
    assert ("cell 5 (answer cell 'make_grid'): ModuleNotFoundError: No module named "
            "'torchvision_that_is_not_installed'") in lines[error]
    assert error < next(i for i, line in enumerate(lines) if "FAIL" in line)  # the cause before its consequences
    assert "FAIL  make_grid_tests: NameError" in out and "because cell 5 failed" in out
    assert "FAIL  crop_center_tests" in out
    assert "no longer defined" not in out  # a cell that does not parse is no rename
    nb = build(tensors_spec, variants["alternative_builtin_helpers"])
    for cell in nb.cells:
        if grade_id(cell) == "crop_center":
            cell.source = cell.source.replace("def crop_center(images, size):", "def crop_center(images, size)")
    path = write(nb, tmp_path / "syntax.ipynb")
    assert main(["--course", str(course_dir), "check", str(path), "--device", "cpu"]) == 1
    out = capsys.readouterr().out
    assert "ERROR  cell 11 (answer cell 'crop_center'): SyntaxError" in out
    assert "no longer defined" not in out and "PASS  make_grid_tests" in out


def test_what_counts_as_the_first_real_error(tensors_spec):
    from course_lib.models import CellError
    from course_lib.selfcheck import _is_cause

    cells = {grade_id(c): c for c in tensors_spec.release_nb().cells if grade_id(c)}
    answer, test, imports = cells["make_grid"], cells["make_grid_tests"], cells["imports"]
    assert _is_cause(CellError(4, "ModuleNotFoundError", "No module named 'seaborn'", "make_grid"), answer)
    assert _is_cause(CellError(4, "TypeError", "unsupported operand", "make_grid"), answer)
    assert _is_cause(CellError(2, "ModuleNotFoundError", "No module named 'torch'", "imports"), imports)
    assert not _is_cause(CellError(4, "NotImplementedError", "", "make_grid"), answer)  # unanswered: tests say so
    assert not _is_cause(CellError(5, "AssertionError", "", "make_grid_tests"), test)  # a test result
    assert not _is_cause(CellError(2, "NameError", "name 'x' is not defined", "imports"), imports)
