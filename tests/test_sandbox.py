"""The sandbox's command line and its refusal to run where it cannot isolate student code."""

import os
import sys

import pytest

from course_lib.execute import sandbox
from course_lib.execute.sandbox import Policy, SandboxUnavailable


def test_refuses_and_says_what_to_install(monkeypatch):
    monkeypatch.setattr(sandbox, "missing_features", lambda: ("bwrap",))
    with pytest.raises(SandboxUnavailable) as info:
        sandbox.check()
    assert "bwrap" in str(info.value) and "apt-get install bubblewrap" in info.value.hint
    assert "--unsafe-no-sandbox" in info.value.hint


def test_grading_refuses_without_sandbox_unless_told(monkeypatch, config, tensors_spec):
    from course_lib.grade import Context

    monkeypatch.setattr(sandbox, "missing_features", lambda: ("bwrap",))
    with pytest.raises(SandboxUnavailable):
        Context.prepare(config, tensors_spec, "cpu")


def test_kernel_command_isolates(tmp_path):
    argv = sandbox.kernel_argv(Policy(memory_mb=512, max_processes=32, max_file_mb=8), conn_dir=tmp_path / "c",
                               home=tmp_path / "h", device="cpu", slot=3)
    joined = " ".join(argv)
    for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--unsetenv JPY_PARENT_PID"):
        assert flag in joined
    assert f"--data={512 * 2**20}" in joined and "--nproc=32" in joined and f"--fsize={8 * 2**20}" in joined
    options = len(sandbox.KERNEL_OPTIONS)
    assert argv[-2 - options:] == ["-f", "{connection_file}", *sandbox.KERNEL_OPTIONS] and sys.executable in argv
    assert "--InteractiveShell.xmode=Plain" in sandbox.KERNEL_OPTIONS
    assert "/dev/nvidiactl" not in joined
    if os.geteuid() == 0:
        assert f"--reuid={sandbox.UID_BASE + 3}" in joined
    cuda = " ".join(sandbox.kernel_argv(Policy(), conn_dir=tmp_path, home=tmp_path, device="cuda", slot=0))
    assert "--dev-bind-try /dev/nvidiactl /dev/nvidiactl" in cuda
