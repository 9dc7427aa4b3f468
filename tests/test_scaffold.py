"""`course new`: a scaffolded assignment releases and verifies at once, in both formats; bad ids change nothing."""

from __future__ import annotations

import nbformat
import pytest

from course_lib.cli import main
from course_lib.notebooks import grade_cells, is_locked, is_solution


def _tree(root):
    """Every file of the course with its content, to show that nothing changed."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("aid, fragment", [
    ("01-tensors", "exists already (source/01-tensors, release/01-tensors, graders/01-tensors)"),
    ("../escape", "is not a usable assignment id"),
    ("-07", "is not a usable assignment id"),
    ("07 attention", "is not a usable assignment id"),
    ("07/attention", "is not a usable assignment id"),
    ("x" * 65, "is not a usable assignment id"),
])
def test_a_bad_or_existing_id_is_refused_and_nothing_changes(own_course, capsys, aid, fragment):
    before = _tree(own_course)
    assert main(["--course", str(own_course), "new", aid]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and fragment in err and "\n  -> " in err
    assert _tree(own_course) == before


def test_an_id_taken_only_in_graders_is_refused_too(own_course, capsys):
    (own_course / "graders" / "07-left-over").mkdir()
    before = _tree(own_course)
    assert main(["--course", str(own_course), "new", "07-left-over", "--nbgrader-format"]) == 2
    assert "exists already (graders/07-left-over)" in capsys.readouterr().err
    assert _tree(own_course) == before and not (own_course / "source" / "07-left-over").exists()


def test_the_notebook_has_each_kind_of_cell(own_course, capsys):
    assert main(["--course", str(own_course), "new", "07-attention"]) == 0
    out = capsys.readouterr().out
    for path in ("source/07-attention/attention.ipynb", "graders/07-attention/attention.py",
                 "graders/07-attention/variants.py", "course release 07-attention", "course verify 07-attention"):
        assert path in out
    nb = nbformat.read(own_course / "source" / "07-attention" / "attention.ipynb", as_version=4)
    nbformat.validate(nb)
    parameters = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and is_locked(parameters[0]) and "DEVICE" in parameters[0].source
    assert grade_cells(nb) == [("scale_to_unit_tests", 3.0, False), ("explain_scaling", 2.0, True)]
    assert [c.cell_type for c in nb.cells if is_solution(c)] == ["code", "markdown"]
    assert "### BEGIN SOLUTION" in nb.cells[4].source and "HIDDEN TESTS" not in nb.cells[5].source


@pytest.mark.slow
@pytest.mark.parametrize("flags", [[], ["--nbgrader-format"]], ids=["grader-module", "nbgrader-format"])
def test_a_new_assignment_releases_and_verifies_strictly(own_course, capsys, flags):
    aid = "07-scaling"
    assert main(["--course", str(own_course), "new", aid, *flags]) == 0
    capsys.readouterr()
    assert (own_course / "graders" / aid / "scaling.py").is_file() == (not flags)
    if flags:
        assert "### BEGIN HIDDEN TESTS" in (own_course / "source" / aid / "scaling.ipynb").read_text()
    assert main(["--course", str(own_course), "release", aid]) == 0
    assert main(["--course", str(own_course), "release", aid, "--check"]) == 0
    released = (own_course / "release" / aid / "scaling.ipynb").read_text()
    assert "HIDDEN TESTS" not in released and "Model answer" not in released and "YOUR ANSWER HERE" in released
    capsys.readouterr()
    assert main(["--course", str(own_course), "verify", aid, "--strict", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "graded 10 (1 blank, 1 solution, 2 alternative, 2 mutant, 1 error, 3 stub)" in out
    assert "NOTE     only 2 mutants: recommended at least 6" in out  # a recommendation, even under --strict
    assert "verified 1 notebook(s): every check pays only for correct work (1 recommendation(s))" in out
