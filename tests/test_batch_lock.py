"""One autograde per course and assignment at a time: a second one waits (saying for whom) or fails at once."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from course_lib import locks
from course_lib.config import CourseConfig
from course_lib.errors import BatchBusy

from test_resume import CLASS, command, env, make_class, results, snapshot


def test_no_wait_fails_at_once_naming_the_holder(own_course):
    config = CourseConfig.load(own_course)
    with locks.hold(config, "autograde-01-tensors", what="course autograde 01-tensors"):
        done = subprocess.run([sys.executable, "-m", "course_lib.cli", "--course", str(own_course), "autograde",
                               "01-tensors", "--device", "cpu", "--no-wait", "--quiet"],
                              env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == BatchBusy.exit_code, done.stderr
    assert "Traceback" not in done.stderr
    assert "already running" in done.stderr
    assert f"pid {os.getpid()} on {socket.gethostname()}" in done.stderr


def test_a_second_holder_waits_and_is_told_who_holds_the_lock(own_course):
    config = CourseConfig.load(own_course)
    said, order = [], []
    first = threading.Event()

    def second():
        first.wait()
        with locks.hold(config, "autograde-x", what="course autograde x", notify=said.append):
            order.append("second")

    with locks.hold(config, "autograde-x", what="course autograde x"):
        thread = threading.Thread(target=second)
        thread.start()
        first.set()
        thread.join(0.5)
        assert thread.is_alive(), "the second holder must wait"
        order.append("first")
    thread.join(10)
    assert order == ["first", "second"]
    assert len(said) == 1 and said[0].startswith("waiting: course autograde x is running (pid ")
    with pytest.raises(BatchBusy):  # the lock is per name: another assignment's does not block, its own does
        with locks.hold(config, "autograde-y", what="y"):
            with locks.hold(config, "autograde-x", what="x"):
                with locks.hold(config, "autograde-y", what="y", wait=False):
                    pass


def _counts(stdout: str) -> tuple[int, int]:
    match = re.search(r"graded (\d+), unchanged and skipped (\d+)", stdout)
    assert match, stdout
    return int(match.group(1)), int(match.group(2))


@pytest.mark.slow
def test_two_autogrades_at_once_grade_each_submission_once_and_both_exit_cleanly(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell

    course = make_class(tmp_path / "course")
    # however fast the machine, the first batch still runs when the second one reaches the lock
    path = next((course / "submitted" / "s1" / "01-tensors").glob("*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_code_cell("import time\ntime.sleep(8)"))
    nbformat.write(nb, path)
    procs = [subprocess.Popen(command(course), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    counts = [_counts(out) for out, _ in outs]
    assert sorted(counts) == [(0, len(CLASS)), (len(CLASS), 0)]  # one graded everything, the other nothing
    assert sum("waiting: course autograde 01-tensors is running (pid " in err for _, err in outs) == 1
    assert len(results(course)) == len(CLASS)
    assert set(snapshot(course)) == set(CLASS)
