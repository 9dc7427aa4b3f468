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


def test_an_interpreter_reached_through_tmp_is_refused_before_any_kernel_starts(tmp_path):
    """A virtual environment reached through /tmp (the sandbox's own scratch) would kill every kernel at start."""
    import subprocess
    from pathlib import Path

    if sandbox.missing_features():
        pytest.skip(f"no sandbox here: {sandbox.missing_features()}")
    repo = Path(__file__).resolve().parent.parent
    assert str(tmp_path).startswith("/tmp/")
    (tmp_path / "link").symlink_to(repo)
    python = tmp_path / "link" / ".venv" / "bin" / "python"
    assert sandbox.interpreter_hidden(str(python)) == (str(python), "/tmp")
    assert sandbox.interpreter_hidden() is None  # the environment the tests run in is seen as it is
    # as an activated environment runs it: `python` found on PATH through the link
    done = subprocess.run([str(python), "-c", "import sys; from course_lib.cli import main; sys.exit(main())",
                           "--course", str(repo), "check",
                           str(repo / "release" / "01-tensors" / "tensors.ipynb"), "--device", "cpu"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"the sandbox cannot see this Python interpreter: {python}, under /tmp" in done.stderr
    assert f"run the same environment by its real path ({repo}/.venv/bin/course" in done.stderr
    assert "Kernel died" not in done.stdout + done.stderr


def test_a_kernel_never_falls_back_to_tcp(tmp_path):
    """ipykernel that cannot read its connection file makes up settings (TCP by default); the options keep IPC."""
    import json
    import subprocess
    import time

    conn = tmp_path / "kernel.json"  # not there: the kernel writes its own
    proc = subprocess.Popen([sys.executable, "-m", "ipykernel_launcher", "-f", str(conn), *sandbox.KERNEL_OPTIONS],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not conn.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        proc.kill()
    out = proc.communicate(timeout=30)[0]
    assert json.loads(conn.read_text())["transport"] == "ipc"
    assert "TCP" not in out


@pytest.mark.slow
def test_course_grade_prints_nothing_about_tcp(own_course):
    """The solution's run and the student's, in fresh kernels: what `course grade` prints is the grade alone."""
    import subprocess
    from pathlib import Path

    done = subprocess.run([str(Path(sys.executable).parent / "course"), "--course", str(own_course), "grade",
                           str(own_course / "release" / "06-autograd" / "autograd.ipynb"), "--assignment",
                           "06-autograd", "--device", "cpu"], capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "score: 0 / 10" in out
    assert "TCP" not in out and "encryption" not in out
