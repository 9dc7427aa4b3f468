"""Where a submission's CPU goes: the coordinator against the sandbox, per known submission of 06-autograd.

    .venv/bin/python benchmarks/bench_cpu_split.py               # each known submission 3 times, one after another
    .venv/bin/python benchmarks/bench_cpu_split.py --rounds 5

In a copy of the course (released, so nbgrader's generated tests are in its gradebook), every known submission
of ``06-autograd`` is run through ``run_job`` from a warm pool of one sandbox, one after another, and judged, as a
batch's worker does. For each it measures the coordinator's CPU (``getrusage`` of this process: papermill,
nbclient, the messages, the judge) and the sandbox's (the zygote and every kernel it forked, user and system,
from ``/proc``: ticks of 10 ms, hence the means over rounds). The blank notebook (every answer raising at once)
is what grading costs with next to no student code; the solution's extra is the student's code and the tests.
Run it on a quiet machine: it measures CPU, not wall time, but a loaded machine still moves it.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def sandbox_cpu() -> tuple[float, float]:
    """User and system seconds of every process below this one, with the children they reaped."""
    import psutil

    user = system = 0.0
    for proc in psutil.Process().children(recursive=True):
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        user += t.user + t.children_user
        system += t.system + t.children_system
    return user, system


def coordinator_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="times each known submission runs (default 3)")
    args = parser.parse_args(argv)

    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig, copy_course
    from course_lib.execute import pool as pools
    from course_lib.execute.run import run_job
    from course_lib.grade import Context
    from course_lib.release import release
    from course_lib.synth import build, load_variants

    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
        config = CourseConfig.load(copy_course(REPO, Path(tmp) / "course")).with_overrides(device="cpu")
        release(config=config, assignment_id="06-autograd")
        spec = Assignment.load(config, "06-autograd").notebook("autograd")
        context = Context.prepare(config, spec, "cpu")
        variants = [v for v in load_variants(spec) if v.kind != "slow"]
        notebooks = {v.name: build(spec, v) for v in variants}
        rows = {v.name: [] for v in variants}
        with pools.active(pools.KernelPool(1)):
            warm = context.job("warm-up", Path("warm-up.ipynb"), student_nb=notebooks[variants[0].name])
            run_job(warm), run_job(warm)  # the sandbox's start and its later imports are not a submission's
            started = time.monotonic()
            for round_ in range(args.rounds):
                for v in variants:
                    job = context.job(f"{v.name}-{round_}", Path(f"{v.name}.ipynb"), student_nb=notebooks[v.name])
                    c0, (u0, s0), w0 = coordinator_cpu(), sandbox_cpu(), time.monotonic()
                    context.judge(run_job(job))
                    c1, (u1, s1), w1 = coordinator_cpu(), sandbox_cpu(), time.monotonic()
                    rows[v.name].append((c1 - c0, u1 - u0, s1 - s0, w1 - w0))
            elapsed = time.monotonic() - started

    def mean(values) -> float:
        return statistics.fmean(values) * 1000

    print(f"{len(variants)} known submissions of 06-autograd, {args.rounds} rounds, one at a time "
          f"({elapsed:.1f} s); milliseconds per submission, means over the rounds:\n")
    print(f"| submission | coordinator | sandbox user | sandbox system | wall |\n| --- | --- | --- | --- | --- |")
    for name, samples in rows.items():
        c, u, s, w = zip(*samples)
        print(f"| {name} | {mean(c):.0f} | {mean(u):.0f} | {mean(s):.0f} | {mean(w):.0f} |")
    every = [x for samples in rows.values() for x in samples]
    c, u, s, w = zip(*every)
    print(f"| **all** | **{mean(c):.0f}** | **{mean(u):.0f}** | **{mean(s):.0f}** | **{mean(w):.0f}** |")
    print(f"\nCPU per submission: {mean(c) + mean(u) + mean(s):.0f} ms "
          f"(coordinator {mean(c):.0f}, sandbox {mean(u) + mean(s):.0f}); with two workers on two cores a batch "
          f"can grade one every {(mean(c) + mean(u) + mean(s)) / 2:.0f} ms at best.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
