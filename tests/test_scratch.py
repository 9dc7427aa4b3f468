"""Scratch folders of runs and kernel pools: private (they hold the hidden probes' code), swept when stale."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from course_lib.execute import scratch


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_folders_are_private_whatever_the_umask_and_named_after_their_process(tmp_path, monkeypatch):
    monkeypatch.setattr(scratch.tempfile, "tempdir", str(tmp_path))
    old = os.umask(0)
    try:
        run, zygote = scratch.make("run"), scratch.make("zygote")
    finally:
        os.umask(old)
    for path, kind in ((run, "run"), (zygote, "zygote")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
        assert path.parent == tmp_path and path.name.startswith(f"course-{kind}-{os.getpid()}-")


def test_sweep_removes_only_the_folders_of_dead_processes(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    stale_run = tmp_path / f"course-run-{dead}-abc"
    stale_zygote = tmp_path / f"course-zygote-{dead}-def"
    for path in (stale_run, stale_zygote):
        (path / "home").mkdir(parents=True)
        (path / ".course-in.ipynb").write_text("{}")  # the hidden probes' code, left by a killed grader
    live = tmp_path / f"course-run-{alive}-ghi"
    own = tmp_path / f"course-run-{os.getpid()}-jkl"
    other = tmp_path / f"course-other-{dead}-mno"
    unnamed = tmp_path / "course-run-xyz"
    for path in (live, own, other, unnamed):
        path.mkdir()
    link = tmp_path / f"course-run-{dead}-link"
    link.symlink_to(live)

    removed = scratch.sweep(tmp_path)
    assert sorted(removed) == sorted([stale_run, stale_zygote])
    assert not stale_run.exists() and not stale_zygote.exists()
    assert all(p.exists() for p in (live, own, other, unnamed, link))


@pytest.mark.slow
def test_a_real_run_keeps_its_folders_private_and_leaves_none(config, tensors_spec):
    import tempfile

    from course_lib.execute import pool as pools
    from course_lib.execute.run import kernel_env, run_job
    from course_lib.judge.references import solution_job

    job = solution_job(config, tensors_spec, device="cpu")
    mine = f"course-*-{os.getpid()}-*"
    seen: dict[str, int] = {}
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            for path in Path(tempfile.gettempdir()).glob(mine):
                try:
                    seen[path.name] = stat.S_IMODE(path.stat().st_mode)
                except FileNotFoundError:
                    pass
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with pools.active(pools.KernelPool(1)) as kernels:
            kernels.prime(job, kernel_env(job))
            result = run_job(job)
    finally:
        stop.set()
        watcher.join()
    assert result.status == "completed" and result.setup_done and result.probes
    assert {name.split("-")[1] for name in seen} == {"run", "zygote"}
    assert set(seen.values()) == {0o700}
    assert not list(Path(tempfile.gettempdir()).glob(mine))
