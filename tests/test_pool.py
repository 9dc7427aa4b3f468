"""The kernel pool: kernels forked from warm sandboxes grade like plainly started ones and share nothing."""

import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest

from course_lib.execute import pool as pools
from course_lib.execute import sandbox
from course_lib.execute.run import Job, kernel_env, run_job
from course_lib.execute.runners import LocalRunner
from course_lib.execute.sandbox import Policy

MIB = 1024 * 1024

LEAVE_TRACES = """\
import os, subprocess, torch
open(os.path.expanduser("~/left-by-a.txt"), "w").write("a")
open("/tmp/left-by-a", "w").write("a")
torch.left_by_a = True
startup = get_ipython().profile_dir.startup_dir  # a start-up script of IPython's, which a later kernel would run
open(os.path.join(startup, "00-left-by-a.py"), "w").write("import builtins\\nbuiltins.left_by_a = True\\n")
os.environ["LEFT_BY_A"] = "1"
subprocess.Popen(["/bin/sh", "-c", "exec sleep 300"], start_new_session=True)
print("traces left")
"""

OBSERVE = """\
import builtins, json, os, resource, sys  # (/tmp/.ipython is this kernel's own profile)
preloaded = "torch" in sys.modules
import torch
procs = []
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            procs.append(open(f"/proc/{p}/cmdline", "rb").read().replace(b"\\0", b" ").decode())
        except OSError:
            pass
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
print(json.dumps({
    "preloaded": preloaded, "home": sorted(os.listdir(os.path.expanduser("~"))), "tmp": sorted(set(os.listdir("/tmp")) - {".ipython"}),
    "startup": os.listdir(get_ipython().profile_dir.startup_dir), "ran_startup": hasattr(builtins, "left_by_a"),
    "torch_marker": hasattr(torch, "left_by_a"), "env": "LEFT_BY_A" in os.environ,
    "sleepers": [c for c in procs if c.startswith("sleep ")], "uid": os.getuid(), "cap_eff": status["CapEff"].strip(),
    "cap_prm": status["CapPrm"].strip(), "no_new_privs": status["NoNewPrivs"].strip(),
    "data": resource.getrlimit(resource.RLIMIT_DATA)[0], "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0],
    "fsize": resource.getrlimit(resource.RLIMIT_FSIZE)[0], "hash_seed": os.environ.get("PYTHONHASHSEED")}))
"""

KILL_PARENT = """\
import os
try:
    os.kill(os.getppid(), 9)
    print("killed", os.getppid())
except PermissionError:
    print("not allowed")
"""


def job(name: str, *cells: str, policy: Policy = Policy(), files: dict | None = None) -> Job:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return Job(student=name, assignment="pool", notebook="pool", source=nbformat.writes(nb),
               parameters={"DEVICE": "cpu", "SEED": 7}, cell_timeout=60, notebook_timeout=120,
               files=files or {"data.txt": b"x"}, policy=policy)


def printed(result) -> str:
    nb = nbformat.reads(result.executed, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.output_type == "stream")


@pytest.fixture
def pool():
    if sandbox.missing_features():
        pytest.skip("no sandbox on this machine")
    with pools.active(pools.KernelPool(1)) as kp:
        yield kp


def test_nothing_of_one_submission_reaches_the_next(pool):
    first = run_job(job("a", LEAVE_TRACES))
    assert first.status == "completed" and "traces left" in printed(first), printed(first)
    second = run_job(job("b", OBSERVE))
    assert second.status == "completed", second.problem
    seen = json.loads(printed(second))
    assert seen["preloaded"], "the kernel was not forked from a warm sandbox"
    # /tmp holds nothing but the parents of the sandbox's own mount points (its connection directory, and the
    # Python installation when that lives under /tmp)
    mounts = [pool._idle[0].conn, *map(Path, sandbox._python_roots())]
    parents = {m.relative_to("/tmp").parts[0] for m in mounts if m.is_relative_to("/tmp")}
    assert seen["home"] == ["data.txt"] and set(seen["tmp"]) <= parents and "left-by-a" not in seen["tmp"]
    assert not seen["torch_marker"] and not seen["env"] and seen["sleepers"] == []
    assert "00-left-by-a.py" not in seen["startup"] and not seen["ran_startup"]
    assert seen["hash_seed"] == "7"
    # the job's limits and no privileges, in the forked kernel as in a plainly started one
    policy = Policy()
    assert (seen["data"], seen["nproc"], seen["fsize"]) == (policy.memory_mb * MIB, policy.max_processes,
                                                            policy.max_file_mb * MIB)
    assert int(seen["cap_eff"], 16) == 0 and int(seen["cap_prm"], 16) == 0 and seen["no_new_privs"] == "1"
    if os.geteuid() == 0:
        assert sandbox.UID_BASE <= seen["uid"] < sandbox.UID_BASE + sandbox.SLOTS
    assert len(pool._idle) == 1 and next(pool._idle[0]._counter) == 3  # one zygote served both
    assert pool.failures == 0


DETERMINISM = """\
import json, sys, torch
dynamo_at_start = "torch._dynamo" in sys.modules
state = [torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()]
import torch._inductor.config as inductor
print(json.dumps({"dynamo_at_start": dynamo_at_start, "aten": state, "inductor": inductor.deterministic}))
"""


def _setup_then(*cells: str) -> tuple:
    from course_lib.execute.instrument import setup_source

    return (setup_source(seed=7, device="cpu"), *cells)


@pytest.mark.parametrize("pooled", [True, False], ids=["forked", "plain"])
def test_the_grading_set_up_asks_for_deterministic_algorithms_everywhere(pooled, request):
    """ATen's flag (warnings only) and TorchInductor's, in a kernel forked before the zygote's later imports
    (the first), one forked after them (the second) and a plainly started one."""
    if pooled:
        request.getfixturevalue("pool")
    seen = [json.loads(printed(run_job(job(name, *_setup_then(DETERMINISM))))) for name in ("a", "b")]
    for kernel in seen:
        assert kernel["aten"] == [True, True] and kernel["inductor"] is True, seen
    if pooled:  # the zygote did its later imports after the first kernel: the second has them from the start
        assert seen[1]["dynamo_at_start"], seen


def test_other_limits_get_a_zygote_of_their_own(pool):
    run_job(job("a", OBSERVE))
    small = Policy(memory_mb=1500, max_processes=64)
    seen = json.loads(printed(run_job(job("b", OBSERVE, policy=small))))
    assert seen["preloaded"] and (seen["data"], seen["nproc"]) == (1500 * MIB, 64)
    assert [z.key[0] for z in pool._idle] == [small]


def test_a_kernel_that_attacks_its_zygote_costs_only_itself(pool):
    attacker = run_job(job("a", KILL_PARENT))
    if os.geteuid() == 0:  # another uid: the zygote cannot even be signalled
        assert "not allowed" in printed(attacker)
    after = run_job(job("b", OBSERVE))
    assert after.status == "completed", after.problem
    seen = json.loads(printed(after))
    assert seen["home"] == ["data.txt"] and seen["sleepers"] == []


def test_a_primed_pool_serves_from_sandboxes_started_ahead():
    if sandbox.missing_features():
        pytest.skip("no sandbox on this machine")
    from course_lib.execute.runners import LocalRunner

    with pools.active(pools.KernelPool(2)) as kp:
        sample = job("sample", OBSERVE)
        kp.prime(sample, kernel_env(sample))
        deadline = time.monotonic() + 300
        while kp._starting and time.monotonic() < deadline:
            time.sleep(0.1)
        started = list(kp._idle)
        assert len(started) == 2 and kp.failures == 0
        for zygote in started:  # warmed up without a complaint (a failed preload or warm-up is only logged)
            assert "preload" not in zygote._log_tail() and "warm-up" not in zygote._log_tail()
        time.sleep(1)  # the sandboxes must outlive the moment their start-up work is done
        results = dict((j.student, r) for j, r in LocalRunner(2).run([job(f"s{i}", OBSERVE) for i in range(4)]))
        assert all(r.status == "completed" and json.loads(printed(r))["preloaded"] for r in results.values())
        # no sandbox was started for the jobs: the two primed ones served all four
        assert sorted(map(id, kp._idle)) == sorted(map(id, started)) and kp.failures == 0
        assert sum(next(z._counter) - 1 for z in started) == 4


def test_pooled_and_plain_kernels_grade_alike(config):
    from course_lib.assignment import Assignment
    from course_lib.grade import Context
    from course_lib.synth import build, load_variants

    spec = Assignment.load(config, "06-autograd").notebook("autograd")
    context = Context.prepare(config, spec, "cpu")
    chosen = {v.name: v for v in load_variants(spec)
              if v.name in ("solution", "blank", "fit_line_ignores_steps", "fit_line_logs_to_stderr",
                            "leaky_relu_in_place")}
    jobs = [context.job(name, Path(f"{name}.ipynb"), student_nb=build(spec, v)) for name, v in chosen.items()]

    def tracebacks(result) -> list[str]:
        nb = nbformat.reads(result.executed, as_version=4)
        return [re.sub(r"\x1b\[[0-9;]*m", "", "".join(o.traceback)) for c in nb.cells
                for o in c.get("outputs", []) if o.output_type == "error"]

    def grade(runner):
        return {j.student: ([(c.name, c.points, c.message) for c in context.judge(r).checks], tracebacks(r))
                for j, r in runner.run(jobs)}

    pooled, plain = grade(LocalRunner(2)), grade(LocalRunner(2, pool=False))
    assert pooled == plain
    assert sum(p for _, p, _ in pooled["fit_line_ignores_steps"][0]) == 9  # partial credit survives the pool
    # tracebacks as Python prints them (the kernels' xmode), from either kind of kernel
    blank = pooled["blank"][1]
    assert blank and all(t.startswith("Traceback (most recent call last)") and "NotImplementedError" in t
                         for t in blank), blank


def test_a_forked_kernel_takes_the_set_up_its_zygote_compiled_and_a_plain_one_compiles_it(config):
    """The kernel-side module is compiled once in the zygote (not in each kernel's set-up cell), and nothing of
    it is left where the student's code could find it; a plainly started kernel compiles the cell's own copy."""
    from course_lib.assignment import Assignment
    from course_lib.grade import Context

    spec = Assignment.load(config, "01-tensors").notebook("tensors")
    context = Context.prepare(config, spec, "cpu")
    nb = spec.release_nb()
    nb.cells.append(nbformat.v4.new_code_cell(
        "import builtins, json\nprint(json.dumps([len(In[1]), '__course_setup_code__' in builtins.__dict__, "
        "type(__course_probe__).__name__]))"))
    job = context.job("probe", Path("tensors.ipynb"), student_nb=nb)

    def seen(result):
        return json.loads(printed(result).strip().splitlines()[-1])

    with pools.active(pools.KernelPool(1)):
        forked = [seen(run_job(job)) for _ in range(2)]
    plain = seen(run_job(job))
    assert forked[0] == forked[1] and forked[0][0] < 1000 and forked[0][1:] == [False, "CourseRunner"], forked
    assert plain[0] > 40_000 and plain[1:] == [False, "CourseRunner"], plain
    assert context.judge(run_job(job)).score == 0  # the blank notebook, graded as ever


def test_kernel_clients_retry_unbound_sockets_within_milliseconds(tmp_path):
    """A client connects before its kernel has bound: ZeroMQ's 100 ms retry would be most of a kernel's start."""
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    from course_lib.execute.engine import QUICK_START_CLIENT, RECONNECT_MS, kernel_context

    km = AsyncKernelManager(transport="ipc", ip=str(tmp_path / "k"), context=kernel_context())
    km.client_class = QUICK_START_CLIENT
    km.connection_file = str(tmp_path / "k.json")
    km.write_connection_file()
    client = km.client()
    # No kernel yet, as when a forked kernel is still starting. Without the heartbeat channel: its thread,
    # finding no kernel, makes a new socket on every beat, and stopping it right after the start raced with
    # that loop (up to ZeroMQ's 1023 sockets, "Too many open files"). What is checked is the four message channels.
    client.start_channels(shell=True, iopub=True, stdin=True, hb=False, control=True)
    try:
        channels = (client.shell_channel, client.iopub_channel, client.stdin_channel, client.control_channel)
        assert [c.socket.getsockopt(zmq.RECONNECT_IVL) for c in channels] == [RECONNECT_MS] * 4
        assert RECONNECT_MS < 100
    finally:
        client.stop_channels()


# A module of the student's in the home, named like one the grading's own code imports after the kernel started:
# it records that it ran, then refuses, so whatever imported it goes on without it
SHADOW = """\
import builtins
builtins.shadowed = [*getattr(builtins, "shadowed", []), __name__]
raise ImportError("the student's own " + __name__)
"""
SHADOWED = "import builtins\nprint('shadowed:', sorted(getattr(builtins, 'shadowed', [])))\n"


@pytest.mark.parametrize("pooled", [True, False], ids=["forked", "plain"])
def test_a_students_module_is_imported_by_the_notebook_alone(pooled, request):
    """The set-up imports NumPy and PyTorch (a plainly started kernel has not yet) from the installation, not
    from the files beside the notebook, which would run before the set-up captured anything the checks rely
    on. The notebook's own ``import`` finds the student's modules after the standard library, as in a
    plainly started kernel and in nbgrader's: a ``colorsys.py`` of theirs is not the ``colorsys`` it gets."""
    if pooled:
        request.getfixturevalue("pool")
    elif sandbox.missing_features():
        pytest.skip("no sandbox on this machine")
    files = {f"{name}.py": SHADOW.encode() for name in ("numpy", "torch", "tqdm", "colorsys", "helper")}
    cells = (SHADOWED, "import colorsys\n", SHADOWED, "import helper\n", SHADOWED)
    result = run_job(job("a", *_setup_then(*cells), files=files))
    assert result.status == "completed", result.problem
    assert printed(result).splitlines() == ["shadowed: []", "shadowed: []", "shadowed: ['helper']"], printed(result)


@pytest.mark.parametrize("pooled", [True, False], ids=["forked", "plain"])
def test_a_kernel_reads_no_user_site_from_its_home(pooled, request):
    """The home holds the student's files: an interpreter that is not a virtual environment's would run a
    ``.local/lib/python3.X/site-packages/usercustomize.py`` (or a ``.pth`` file) of theirs as it starts, before
    the set-up. nbgrader's kernel reads the instructor's user site, which no student writes."""
    if pooled:
        request.getfixturevalue("pool")
    elif sandbox.missing_features():
        pytest.skip("no sandbox on this machine")
    result = run_job(job("a", "import sys\nprint(sys.flags.no_user_site)\n"))
    assert printed(result) == "1\n", printed(result)


def test_a_students_module_never_runs_in_the_sandbox_that_forks_the_next_kernel():
    """A sandbox serving one command (``course grade``, the warm service) does its later imports (TorchInductor,
    sympy) while its first kernel runs, the student's files in the home: from the installation, never from
    there, or a student's ``sympy.py`` would run in the process every later kernel is forked from."""
    if sandbox.missing_features():
        pytest.skip("no sandbox on this machine")
    with pools.active(pools.KernelPool(1, start=lambda j, env: pools.Zygote(j, env, at_once=True))) as kp:
        first = run_job(job("a", "import time\ntime.sleep(3)\n", files={"sympy.py": SHADOW.encode()}))
        second = run_job(job("b", SHADOWED))
        assert next(kp._idle[0]._counter) == 3  # one sandbox forked both
    assert first.status == "completed" and second.status == "completed", (first.problem, second.problem)
    assert printed(second) == "shadowed: []\n"
