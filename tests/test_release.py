"""Release is nbgrader's generate_assignment; release/ in git must match source/; nothing hidden leaks."""

import json
from pathlib import Path
import re

import nbformat
import pytest

from course_lib.cli import main
from course_lib.errors import ReleaseStale
from course_lib.notebooks import is_solution
from course_lib.release import release
from course_lib.synth import solution_code

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENTS = sorted(p.name for p in (REPO / "source").iterdir() if p.is_dir())


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_committed_release_is_up_to_date(course_dir, aid, capsys):
    assert main(["--course", str(course_dir), "release", aid, "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_has_no_solutions_and_nothing_from_graders(course_dir, aid):
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig

    for spec in Assignment.load(CourseConfig.load(course_dir), aid).notebooks:
        released = spec.release.read_text()
        for cell in spec.source_nb().cells:
            if is_solution(cell) and cell.cell_type == "code":
                body = [ln.strip() for ln in solution_code(cell.source).splitlines()
                        if ln.strip() and not ln.strip().startswith(("def ", '"""', "#"))]
                for line in body:
                    assert line not in released, f"solution line leaked into release: {line}"
        if spec.in_notebook:  # nbgrader's format: the hidden tests stay in source/
            for cell in spec.test_cells().values():
                hidden = re.search(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S)
                for line in (hidden.group(1).splitlines() if hidden else []):
                    if line.strip() and not line.strip().startswith("#"):
                        assert line.strip() not in released, f"hidden test leaked into release: {line}"
            continue
        grader = spec.grader_path.read_text()
        for q in spec.grader.questions:
            assert q.probe.__name__ not in released
            for c in q.checks:
                assert c.name not in released
        for seed in re.findall(r"manual_seed\(\d+\)", grader):  # the hidden inputs' seeds
            assert seed not in released
        nb = json.loads(released)
        assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")


def test_stale_release_is_detected(own_course, capsys):
    from course_lib.config import CourseConfig

    source = own_course / "source" / "01-tensors" / "tensors.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells[0].source += "\n\nOne more instruction."
    nbformat.write(nb, source)
    with pytest.raises(ReleaseStale, match="tensors.ipynb differs"):
        release(config=CourseConfig.load(own_course), assignment_id="01-tensors", check=True)
    assert main(["--course", str(own_course), "release", "01-tensors", "--check"]) == ReleaseStale.exit_code
    assert "course release 01-tensors" in capsys.readouterr().err
    # releasing again makes it current
    assert main(["--course", str(own_course), "release", "01-tensors"]) == 0
    assert main(["--course", str(own_course), "release", "01-tensors", "--check"]) == 0
