"""The warm grading sandbox that `course grade` and `course check` reuse between commands.

Each `with pools.lent(...)` block below is what one command does (`course grade` and `course check` run
their kernels inside one); the service outlives it. Every test checks that the service really served (its
`served` count), so none passes by quietly falling back to a sandbox of its own.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_lib.execute import pool as pools
from course_lib.execute import sandbox, warm
from course_lib.execute.run import kernel_env, run_job
from course_lib.execute.sandbox import Policy

from conftest import REPO, copy_course
from test_pool import LEAVE_TRACES, OBSERVE, job, printed

pytestmark = pytest.mark.skipif(bool(sandbox.missing_features()), reason="no sandbox on this machine")


def key(j) -> str:
    return warm.service_key(j, kernel_env(j))


A = job("a", "print(1)")  # every job(...) of the default policy is served by the same service as this one


@pytest.fixture
def warm_on(monkeypatch):
    keys = {key(A), key(job("b", "", policy=Policy(memory_mb=1536)))}
    warm.stop_all(keys=keys)  # only this test's: other commands on the machine may have theirs
    monkeypatch.setenv(warm.IDLE_ENV, "120")
    yield
    warm.stop_all(keys=keys)


def one_command(config, j):
    with pools.lent(config, j):
        return run_job(j)


def mine(j=A) -> list[dict]:
    """The running services that serve jobs like ``j``."""
    return [about for about in warm.services() if about["key"] == key(j)]


def served(j=A) -> dict:
    """pid -> commands served, of the running services that serve jobs like ``j``."""
    return {about["pid"]: about["served"] for about in mine(j)}


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def mount_parents() -> set:
    """What a sandbox's /tmp holds of its own: the parents of its mount points (its connection folder, the Python
    installation when that lives under /tmp)."""
    mounts = [*(Path(about["conn"]) for about in mine()), *map(Path, sandbox._python_roots())]
    return {m.relative_to("/tmp").parts[0] for m in mounts if m.is_relative_to("/tmp")}


def left_running(about: dict) -> list:
    """Processes of the service's sandbox uid (none between two commands)."""
    return sandbox.processes_of(about["uid"]) if about["uid"] is not None else []


def test_the_next_command_gets_a_clean_sandbox(config, warm_on):
    first = one_command(config, job("a", LEAVE_TRACES, files={"data.txt": b"a"}))
    assert "traces left" in printed(first)
    (pid, count), = served().items()
    assert count == 1
    second = one_command(config, job("b", OBSERVE, files={"other.txt": b"b"}))
    assert served() == {pid: 2}  # the same service lent its sandbox to the second command
    seen = json.loads(printed(second))
    assert seen["preloaded"]  # forked from the warm sandbox, PyTorch already imported
    assert seen["home"] == ["other.txt"]  # not a.txt's data file, nor what the first kernel wrote
    assert set(seen["tmp"]) <= mount_parents() and "left-by-a" not in seen["tmp"]
    assert seen["sleepers"] == [] and not seen["torch_marker"] and not seen["env"]
    if os.geteuid() == 0:
        assert seen["uid"] >= sandbox.UID_BASE and seen["cap_eff"] == "0000000000000000"
    assert seen["no_new_privs"] == "1"
    (about,) = mine()
    assert left_running(about) == []


SLOW = """import os, sys
sys.path.insert(0, {repo!r})
os.environ[{env!r}] = "120"
from course_lib.config import CourseConfig
from course_lib.execute import pool as pools
from course_lib.execute.run import Job, run_job
import nbformat
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    "open('/tmp/slow-was-here', 'w').write('x')\\nimport time\\ntime.sleep(120)")])
nb.metadata["kernelspec"] = {{"name": "python3", "display_name": "Python 3", "language": "python"}}
j = Job(student="slow", assignment="pool", notebook="pool", source=nbformat.writes(nb),
        parameters={{"DEVICE": "cpu", "SEED": 7}}, cell_timeout=200, notebook_timeout=200, files={{"data.txt": b"x"}})
with pools.lent(CourseConfig.load({course!r}), j):
    run_job(j)
"""


def test_a_command_killed_mid_run_leaves_nothing_for_the_next(config, warm_on, tmp_path):
    one_command(config, job("warm-up", "print('up')"))
    (about,) = mine()
    script = tmp_path / "slow.py"
    script.write_text(SLOW.format(repo=str(REPO), env=warm.IDLE_ENV, course=str(config.root)))
    slow = subprocess.Popen([sys.executable, str(script)])
    try:
        # the slow command's kernel runs as the service's sandbox uid once its cell started
        assert wait_for(lambda: left_running(about) or slow.poll() is not None, timeout=60)
        assert slow.poll() is None
        # meanwhile another command does not wait for the busy service: it grades in a sandbox of its own
        meanwhile = one_command(config, job("meanwhile", "print(6 * 7)"))
        assert "42" in printed(meanwhile)
        assert served() == {about["pid"]: 2}  # the warm-up and the slow command
    finally:
        slow.send_signal(signal.SIGKILL)
        slow.wait()
    after = one_command(config, job("after", OBSERVE))
    assert served() == {about["pid"]: 3}  # the service cleaned up after the killed command and served again
    seen = json.loads(printed(after))
    assert set(seen["tmp"]) <= mount_parents() and "slow-was-here" not in seen["tmp"]
    assert seen["sleepers"] == [] and seen["home"] == ["data.txt"]
    assert left_running(about) == []


def test_another_policy_gets_another_sandbox(config, warm_on):
    one_command(config, A)
    small = job("b", "import resource\nprint(resource.getrlimit(resource.RLIMIT_DATA)[0])", policy=Policy(memory_mb=1536))
    assert str(1536 * 1024 * 1024) in printed(one_command(config, small))  # not the first sandbox's limit
    assert list(served().values()) == [1] and list(served(small).values()) == [1]


def test_the_service_ends_after_its_idle_time(config, monkeypatch):
    warm.stop_all(keys={key(A)})
    monkeypatch.setenv(warm.IDLE_ENV, "2")
    one_command(config, job("a", LEAVE_TRACES))
    (about,) = mine()
    assert wait_for(lambda: not warm._alive(about["pid"]))
    assert mine() == [] and not (warm.folder() / f"{key(A)}.sock").exists()
    assert left_running(about) == []  # the sleeper the kernel left ended with the service's clean-up


def test_a_killed_service_is_replaced(config, warm_on):
    one_command(config, job("a", "print(1)"))
    (pid, _), = served().items()
    os.kill(pid, signal.SIGKILL)  # leaves its socket behind
    assert wait_for(lambda: not warm._alive(pid))
    result = one_command(config, job("b", "print(6 * 7)"))
    assert "42" in printed(result)
    (new, count), = served().items()
    assert new != pid and count == 1


def test_off_means_no_service(config, monkeypatch):
    warm.stop_all(keys={key(A)})
    monkeypatch.setenv(warm.IDLE_ENV, "0")
    assert "42" in printed(one_command(config, job("a", "print(6 * 7)")))
    assert mine() == []


def cli(course: Path, *args: str, idle: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course_lib.cli", "--course", str(course), *args],
                          capture_output=True, text=True, timeout=600, cwd=REPO,
                          env={**os.environ, warm.IDLE_ENV: idle})


@pytest.mark.slow
def test_course_grade_and_check_grade_the_same_with_the_warm_sandbox(tmp_path):
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.execute.jobs import kernel_job
    from course_lib.synth import build, load_variants, write

    course = copy_course(tmp_path / "course")
    config = CourseConfig.load(course)
    grading = key(kernel_job(config, "01-tensors", "cpu"))  # shared with other assignments of the same limits
    warm.stop_all(keys={grading})
    others = {about["key"] for about in warm.services()}
    spec = Assignment.load(config, "01-tensors").notebook("tensors")
    variants = {v.name: v for v in load_variants(spec)}
    paths = {name: write(build(spec, variants[name]), tmp_path / f"{name}.ipynb")
             for name in ("solution", next(n for n, v in variants.items() if v.kind == "mutant"))}

    def started() -> dict:
        """key -> commands served, of the services this test started."""
        return {about["key"]: about["served"] for about in warm.services() if about["key"] not in others}

    def grades(idle):
        return {name: json.loads(cli(course, "grade", str(p), "--assignment", "01-tensors", "--device", "cpu",
                                     "--json", idle=idle).stdout)["checks"] for name, p in paths.items()}

    try:
        cold = grades("0")
        assert started() == {}
        hot = grades("120")
        assert hot == cold and started() == {grading: 2}
        assert all(c["points"] == c["max_points"] for c in hot["solution"]) and len(hot["solution"]) > 3
        check = cli(course, "check", str(paths["solution"]), "--assignment", "01-tensors", "--device", "cpu",
                    idle="120")
        assert check.returncode == 0 and "visible tests pass" in check.stdout
        # the self-check's kernels start as nbgrader validate's do (NBGRADER_EXECUTION): a sandbox of their own
        assert sorted(started().values()) == [1, 2]
        status = cli(course, "warm", "status", idle="120").stdout
        assert "started for 01-tensors" in status and "2 command(s) served" in status
        stopped = cli(course, "warm", "stop", idle="120")
        assert stopped.returncode == 0 and started() == {}
    finally:
        warm.stop_all(keys=set(started()))


def test_without_the_service_a_command_grades_all_the_same(config, warm_on, monkeypatch, tmp_path):
    where = tmp_path / ("x" * 90)  # too long a path for the service's socket
    where.mkdir(mode=0o700)
    monkeypatch.setattr(warm, "folder", lambda: where)
    result = one_command(config, job("a", "import sys\nprint(6 * 7, 'torch' in sys.modules)"))
    assert "42 True" in printed(result)  # forked from a sandbox of the command's own, PyTorch preloaded
    assert list(where.iterdir()) == []
