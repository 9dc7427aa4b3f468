"""The student's self-check, and the demo a newcomer runs first."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_lib.cli import main
from course_lib.notebooks import grade_id
from course_lib.synth import build, write

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def test_check_passes_a_correct_notebook(course_dir, tensors_spec, variants, tmp_path, capsys):
    path = write(build(tensors_spec, variants["alternative_builtin_helpers"]), tmp_path / "mine.ipynb")
    assert main(["--course", str(course_dir), "check", str(path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "7 of 7 visible tests pass" in out and "WARNING" not in out


def test_check_reports_failures_and_structure_problems(course_dir, tensors_spec, variants, tmp_path, capsys):
    nb = build(tensors_spec, variants["grid_integer_dtype"])
    nb.cells = [c for c in nb.cells if grade_id(c) != "invert_tests"]  # deleted a test cell
    for cell in nb.cells:
        if grade_id(cell) == "channel_means":
            cell.source = cell.source.replace("def channel_means", "def channel_mean")  # renamed
    path = write(nb, tmp_path / "mine.ipynb")
    assert main(["--course", str(course_dir), "check", str(path), "--device", "cpu"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  make_grid_tests: AssertionError: dtype should be torch.float32" in out
    assert "FAIL  channel_means_tests: NameError" in out
    assert "test cell 'invert_tests' was deleted" in out
    assert "`channel_means` is no longer defined" in out


def test_demo_runs_end_to_end(tmp_path):
    target = tmp_path / "demo"
    proc = subprocess.run([str(Path(sys.executable).parent / "course"), "--course", str(REPO), "demo",
                           "--dir", str(target)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "ada.lovelace" in out and "20/20" in out and "0/20" in out and "corrupt upload" in out
    pages = sorted(target.glob("feedback/*/01-tensors/tensors.html"))
    assert len(pages) >= 12
    assert (target / "gradebook.db").is_file()


def test_demo_never_overwrites_a_directory_it_did_not_make(tmp_path, capsys):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("...")
    assert main(["--course", str(REPO), "demo", "--dir", str(precious)]) != 0
    assert "not a demo directory" in capsys.readouterr().err
    assert (precious / "chapter1.tex").read_text() == "..."
