"""A student's self-check with nothing but the released notebook and `pip install nbgrader` (the README's
student section): `nbgrader validate` in a fresh folder, without this repository or a course directory."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_lib.notebooks import grade_id
from course_lib.synth import build, write

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def validate(folder: Path, name: str) -> str:
    """``nbgrader validate NAME`` run in ``folder`` as a student runs it: no course, no repository on the path."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(folder), "LANG": "C.UTF-8"}
    done = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "validate", name], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    return done.stdout + done.stderr


def test_the_released_notebook_checks_itself_in_an_empty_folder(tensors_spec, variants, tmp_path):
    alone = tmp_path / "downloads"
    alone.mkdir()
    shutil.copyfile(REPO / "release" / "01-tensors" / "tensors.ipynb", alone / "tensors.ipynb")
    assert sorted(os.listdir(alone)) == ["tensors.ipynb"]
    out = validate(alone, "tensors.ipynb")
    assert "VALIDATION FAILED ON 7 CELL(S)" in out and "NotImplementedError" in out
    assert "course_lib" not in out and "ModuleNotFoundError" not in out  # it needs nothing of the course's

    done = build(tensors_spec, variants["solution"])
    for cell in done.cells:
        if grade_id(cell) == "invert_tests":  # a visible test made easier: the checksum nbgrader released tells
            cell.source = "assert True\n"
    write(done, alone / "mine.ipynb")
    out = validate(alone, "mine.ipynb")
    assert "THE CONTENTS OF 1 TEST CELL(S) HAVE CHANGED" in out and "assert True" in out

    write(build(tensors_spec, variants["solution"]), alone / "final.ipynb")
    assert "Success! Your notebook passes all the tests." in validate(alone, "final.ipynb")
    assert nbformat.read(alone / "tensors.ipynb", as_version=4).cells  # the release itself is left as it was
