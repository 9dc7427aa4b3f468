"""Every command, given bad input: one message naming the problem, a non-zero exit, never a traceback.

Each case is a command line, what to break first, the exit status and a fragment the message must hold. None
runs a kernel: every one of them must be refused before any work starts (or, for a gradebook that cannot be
written, before anything is recorded). Secrets in database URLs must not reach the output.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from course_lib.cli import main

from conftest import REPO, copy_course

SECRET = "hunter2-pw"


def append_config(text: str):
    def setup(course: Path, tmp: Path) -> None:
        path = course / "nbgrader_config.py"
        path.write_text(path.read_text() + "\n" + text + "\n")
    return setup


_MADE: dict = {}


def with_gradebook(course: Path, tmp: Path) -> None:
    """A real gradebook that knows 01-tensors (no kernel needed; made once, copied for each case)."""
    import shutil

    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.gradebook import ensure_notebook

    if "gradebook" not in _MADE or not _MADE["gradebook"].is_file():
        config = CourseConfig.load(course)
        ensure_notebook(config, Assignment.load(config, "01-tensors").notebook("tensors"))
        _MADE["gradebook"] = tmp.parent.parent / "gradebook-template.db"
        shutil.copyfile(course / "gradebook.db", _MADE["gradebook"])
    else:
        shutil.copyfile(_MADE["gradebook"], course / "gradebook.db")


def files(course: Path, tmp: Path) -> None:
    (tmp / "empty.ipynb").write_bytes(b"")
    (tmp / "corrupt.ipynb").write_text('{"cells": [{"cell_type": "code", "sou')
    (tmp / "a-folder").mkdir()
    (tmp / "existing-file").write_text("not a folder")


def both(*setups):
    def setup(course: Path, tmp: Path) -> None:
        for s in setups:
            s(course, tmp)
    return setup


def no_gpu() -> bool:
    from course_lib.config import gpu_count

    return gpu_count() == 0


RELEASED_GRADIENTS = str(REPO / "release" / "02-gradients" / "gradients.ipynb")
RELEASED_TENSORS = str(REPO / "release" / "01-tensors" / "tensors.ipynb")
UNREACHABLE = f"postgresql://grader:{SECRET}@127.0.0.1:1/gradebook"

# (id, argv ({tmp} is the test's folder), setup, exit status, fragment of the message)
CASES = [
    # nbgrader_config.py of the wrong types or out of range: named, with the file
    ("config-workers-text", ["autograde", "01-tensors"], append_config('c.Course.workers = "two"'), 2,
     "c.Course.workers = 'two'"),
    ("config-seed-text", ["grade", RELEASED_TENSORS, "--assignment", "01-tensors"],
     append_config('c.Course.seed = "abc"'), 2, "c.Course.seed = 'abc'"),
    ("config-assignments-text", ["feedback", "01-tensors"], append_config('c.Course.assignments = "x"'), 2,
     "c.Course.assignments = 'x'"),
    ("config-cell-timeout-negative", ["check", RELEASED_TENSORS],
     append_config('c.Course.cell_timeout = -1'), 2, "c.Course.cell_timeout = -1"),
    ("config-notebook-timeout-zero", ["autograde", "01-tensors"],
     append_config('c.Course.assignments["01-tensors"]["notebook_timeout"] = 0'), 2, "must be more than 0"),
    ("config-memory-text", ["autograde", "01-tensors"], append_config('c.Course.memory_mb = "4G"'), 2,
     "c.Course.memory_mb = '4G'"),
    ("config-db-url-malformed", ["report", "01-tensors", "-o", "{tmp}/r"],
     append_config(f'c.CourseDirectory.db_url = "postgresql://grader:{SECRET}@dbhost:port/x"'), 2,
     "port is not a number"),
    # flags out of range
    ("workers-negative", ["autograde", "01-tensors", "--workers", "-1"], None, 2, "--workers -1"),
    ("demo-workers-negative", ["demo", "--dir", "{tmp}/demo", "--workers", "-1"], None, 2, "--workers -1"),
    ("db-url-malformed", ["feedback", "01-tensors", "--db-url", "not a url"], None, 2, "is not a database URL"),
    ("db-url-unknown-kind", ["export", "gradebook", "-o", "{tmp}/x.csv", "--db-url", f"mongo://u:{SECRET}@h/x"],
     None, 2, "unknown kind of database"),
    ("student-nobody", ["autograde", "01-tensors", "--student", "nobody"], None, 1,
     "no submission of 01-tensors from nobody"),
    ("feedback-student-nobody", ["feedback", "01-tensors", "--student", "nobody"], with_gradebook, 1,
     "no graded submission of 01-tensors from nobody"),
    ("unknown-assignment", ["autograde", "99-nope"], None, 2, "no assignment '99-nope'"),
    ("release-unknown-assignment", ["release", "99-nope"], None, 2, "no assignment '99-nope'"),
    # the gradebook: missing for a reading command (and not created), unreachable, read-only
    ("feedback-no-gradebook", ["feedback", "01-tensors"], None, 7, "no gradebook at"),
    ("report-no-gradebook", ["report", "01-tensors", "-o", "{tmp}/r"], None, 7, "no gradebook at"),
    ("export-no-gradebook", ["export", "gradebook", "-o", "{tmp}/x.csv"], None, 7, "no gradebook at"),
    ("formgrade-no-gradebook", ["formgrade", "--no-browser"], None, 7, "no gradebook at"),
    ("unreachable-database", ["feedback", "01-tensors", "--db-url", UNREACHABLE], None, 7,
     "cannot open the gradebook postgresql://grader:***@127.0.0.1:1/gradebook"),
    ("read-only-gradebook", ["autograde", "02-gradients", "--unsafe-no-sandbox", "--db-url",
                             "sqlite:///file:{course}/gradebook.db?mode=ro&uri=true"], with_gradebook, 7,
     "readonly database"),
    # files that are not what the command needs
    ("grade-folder", ["grade", "{tmp}/a-folder", "--assignment", "01-tensors"], files, 3, "is a folder"),
    ("check-folder", ["check", "{tmp}/a-folder"], files, 3, "is a folder"),
    ("grade-missing", ["grade", "{tmp}/missing.ipynb", "--assignment", "01-tensors"], None, 3,
     "No such file or directory"),
    ("grade-empty", ["grade", "{tmp}/empty.ipynb", "--assignment", "01-tensors"], files, 3, "the file is empty"),
    ("grade-corrupt", ["grade", "{tmp}/corrupt.ipynb", "--assignment", "01-tensors", "--json"], files, 3,
     "truncated"),
    ("grade-other-assignment", ["grade", RELEASED_GRADIENTS, "--assignment", "01-tensors"], None, 3,
     "is a copy of 02-gradients/gradients.ipynb, not of 01-tensors/tensors.ipynb"),
    ("check-other-assignment", ["check", RELEASED_GRADIENTS, "--assignment", "01-tensors"], None, 3,
     "pass --assignment 02-gradients"),
    ("report-onto-a-file", ["report", "01-tensors", "-o", "{tmp}/existing-file"], both(files, with_gradebook), 1,
     "is a file; the report is a folder"),
    ("collect-missing-folder", ["collect", "01-tensors", "--from", "{tmp}/nowhere"], None, 1, "is not a directory"),
    ("collect-two-sources", ["collect", "01-tensors"], None, 1, "give exactly one source"),
    ("export-missing-worksheet", ["export", "moodle", "01-tensors", "--worksheet", "{tmp}/nowhere.csv",
                                  "-o", "{tmp}/up.csv"], with_gradebook, 2, "nowhere.csv"),
    ("demo-onto-a-file", ["demo", "--dir", "{tmp}/existing-file"], files, 1, "is a file, not a directory"),
    ("verify-nothing-named", ["verify"], None, 1, "give one assignment id or --all"),
    ("manual-missing-sheet", ["manual", "import", "04-ethics", "--csv", "{tmp}/nowhere.csv"], None, 2,
     "nowhere.csv: No such file or directory"),
    ("manual-no-gradebook", ["manual", "export", "04-ethics", "--csv", "{tmp}/sheet.csv"], None, 7, "no gradebook at"),
    # a full disk: the device that is always full
    ("disk-full", ["export", "gradebook", "-o", "/dev/full"], with_gradebook, 1, "no space left on the disk"),
]
if no_gpu():
    CASES.append(("cuda-without-gpu", ["grade", RELEASED_TENSORS, "--assignment", "01-tensors", "--device", "cuda"],
                  None, 2, "no usable CUDA GPU"))


@pytest.mark.parametrize("argv, setup, status, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_message(tmp_path, capsys, argv, setup, status, fragment):
    course = copy_course(tmp_path / "course")
    work = tmp_path / "work"
    work.mkdir()
    if setup:
        setup(course, work)
    gradebook = course / "gradebook.db"
    before = hashlib.sha256(gradebook.read_bytes()).hexdigest() if gradebook.exists() else None
    argv = [a.replace("{tmp}", str(work)).replace("{course}", str(course)) for a in argv]

    code = main(["--course", str(course), *argv])

    out, err = capsys.readouterr()
    assert code == status, (code, out, err)
    assert "Traceback" not in out + err
    assert len([line for line in err.splitlines() if line.startswith("error: ")]) == 1 and fragment in err, err
    assert SECRET not in out + err
    # nothing made or changed on the side: no empty gradebook for a command that only reads one
    after = hashlib.sha256(gradebook.read_bytes()).hexdigest() if gradebook.exists() else None
    assert after == before


@pytest.mark.parametrize("argv, setup, status, fragment", [
    (["feedback", "01-tensors"], append_config('c.Course.seed = "abc"'), 2, "error: c.Course.seed = 'abc'"),
    # nbgrader logs each failed commit with its traceback before raising: that log stays off the terminal
    (["autograde", "02-gradients", "--unsafe-no-sandbox", "--db-url",
      "sqlite:///file:{course}/gradebook.db?mode=ro&uri=true"], with_gradebook, 7, "readonly database"),
], ids=["config", "read-only-gradebook"])
def test_the_command_itself_prints_no_traceback(tmp_path, argv, setup, status, fragment):
    """The program as an instructor runs it: one error line on stderr (and the exit status), nothing else."""
    import subprocess
    import sys

    course = copy_course(tmp_path / "course")
    (tmp_path / "work").mkdir()
    setup(course, tmp_path / "work")
    argv = [a.replace("{course}", str(course)) for a in argv]
    done = subprocess.run([sys.executable, "-m", "course_lib.cli", "--course", str(course), *argv],
                          capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stderr.splitlines() if not line.startswith(("warning: ", "  -> "))]
    assert done.returncode == status and "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], done.stderr


@pytest.mark.slow
def test_a_full_disk_mid_batch_is_a_message_and_loses_no_grade(tmp_path, capsys, monkeypatch):
    """The disk fills after the first submission is recorded: one line, exit 1; the rerun completes the class."""
    import errno

    from nbgrader.api import Gradebook

    from course_lib import autograde as batch
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.synth import build, load_variants, write

    course = copy_course(tmp_path / "course")
    spec = Assignment.load(CourseConfig.load(course), "01-tensors").notebook("tensors")
    variants = {v.name: v for v in load_variants(spec)}
    for student, variant in (("s-a", "solution"), ("s-b", "blank"), ("s-c", "invert_negates")):
        write(build(spec, variants[variant]), tmp_path / "inbox" / f"{student}.ipynb")
    root = ["--course", str(course)]
    assert main([*root, "collect", "01-tensors", "--from", str(tmp_path / "inbox")]) == 0
    real, calls = batch.save_results, []

    def fills_up(config, graded, digest, *rest):
        calls.append(graded.student)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")  # as the kernel reports it: no file name
        real(config, graded, digest, *rest)

    monkeypatch.setattr(batch, "save_results", fills_up)
    args = [*root, "autograde", "01-tensors", "--device", "cpu", "--workers", "1", "--quiet"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "no space left on the disk" in err and "what was graded is kept" in err
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "dl-pytorch") as gb:
        recorded = {s.student.id for s in gb.find_assignment("01-tensors").submissions}
    assert set(calls) <= recorded  # everything judged before the disk filled is in the gradebook

    monkeypatch.setattr(batch, "save_results", real)
    assert main(args) == 0
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "dl-pytorch") as gb:
        scores = {s.student.id: s.score for s in gb.find_assignment("01-tensors").submissions}
    assert scores["s-a"] == 20.0 and scores["s-b"] == 0.0 and set(scores) == {"s-a", "s-b", "s-c"}
