#!/usr/bin/env python3
"""Throughput of ``course autograde`` against ``nbgrader autograde`` on the same class.

The class is synthetic: ``--students`` copies of 06-autograd (an nbgrader-format
PyTorch assignment: its test cells, hidden tests included, are the checks), each
answered as one of the assignment's known submissions (``graders/06-autograd/
variants.py``: the solution, alternative solutions, misconceptions, partial
credit, stderr output, a syntax error, blank). Both tools grade their own copy
of the course, from the same submissions, one after the other on this machine:

* nbgrader: ``nbgrader generate_assignment`` (untimed: it makes the gradebook
  entries with the hidden tests), then ``nbgrader autograde`` (timed);
* course: ``course release`` (untimed: nbgrader's generate_assignment again,
  through the course), then ``course autograde`` (timed from a cold start: the
  solution's own check run and the sandboxes' start are included).

It prints wall time, submissions per minute, the cost per submission and the
part of it that is not the student's code, the ratio of the two throughputs,
and the peak resident memory of each coordinating process, sampled while it
runs, and the course's open file descriptors (start, middle, end, peak). The
scores of every test cell of every submission must agree; the script exits 1
when one does not.

    python benchmarks/bench_autograde.py --students 120
    python benchmarks/bench_autograde.py --students 1000 --only course   # memory over a long batch
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ASSIGNMENT = "06-autograd"
NOTEBOOK = "autograd"


@dataclass
class Run:
    """One tool's timed run over the class."""

    tool: str
    students: int
    wall: float
    peak_rss_mb: float
    rss_samples: list = field(default_factory=list)  # (seconds since start, MB)
    workers: int = 1
    fd_samples: list = field(default_factory=list)  # (seconds since start, open file descriptors)

    @property
    def per_minute(self) -> float:
        return self.students / self.wall * 60

    @property
    def per_submission(self) -> float:
        return self.wall / self.students


def build_class(course: Path, students: int) -> dict[str, str]:
    """``submitted/`` of ``students`` synthetic students; returns student -> variant name."""
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.synth import build, load_variants, write

    spec = Assignment.load(CourseConfig.load(course), ASSIGNMENT).notebook(NOTEBOOK)
    variants = load_variants(spec)
    notebooks = {v.name: build(spec, v) for v in variants}
    who = {}
    for i in range(students):
        variant = variants[i % len(variants)]
        student = f"s{i + 1:04d}"
        write(notebooks[variant.name], course / "submitted" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
        who[student] = variant.name
    return who


def _tools_env() -> dict:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _open_fds(pid: int) -> int | None:
    """How many file descriptors the process has open (``None`` once it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def timed(tool: str, argv: list[str], cwd: Path, students: int, workers: int = 1, log: Path | None = None) -> Run:
    """Run ``argv`` to completion, sampling its process's resident memory and open descriptors twice a second."""
    out = open(log, "wb") if log else subprocess.DEVNULL
    started = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=_tools_env(), stdout=out, stderr=subprocess.STDOUT)
    samples: list = []
    fds: list = []

    def sample():
        while proc.poll() is None:
            rss, open_fds = _rss_mb(proc.pid), _open_fds(proc.pid)
            at = time.monotonic() - started
            if rss:
                samples.append((at, rss))
            if open_fds is not None and proc.poll() is None:
                fds.append((at, open_fds))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = proc.wait()
    wall = time.monotonic() - started
    sampler.join()
    if log:
        out.close()
    if code != 0:
        tail = log.read_text(errors="replace")[-3000:] if log else ""
        raise SystemExit(f"{tool} failed (exit {code}):\n{tail}")
    return Run(tool, students, wall, max((mb for _, mb in samples), default=0.0), samples, workers, fds)


def run_nbgrader(course: Path, students: int) -> Run:
    env = _tools_env()
    subprocess.run(["nbgrader", "generate_assignment", ASSIGNMENT, "--force"], cwd=course, env=env, check=True,
                   capture_output=True)
    return timed("nbgrader autograde", ["nbgrader", "autograde", ASSIGNMENT], course, students,
                 log=course / "nbgrader-autograde.log")


def run_course(course: Path, students: int, workers: int | None) -> Run:
    from course_lib.config import CourseConfig

    course_cmd = [str(Path(sys.executable).parent / "course"), "--course", str(course)]
    # untimed, as nbgrader's generate_assignment is: the gradebook with the assignment's cells
    subprocess.run([*course_cmd, "release", ASSIGNMENT], cwd=course, env=_tools_env(), check=True,
                   capture_output=True)
    argv = [*course_cmd, "autograde", ASSIGNMENT, "--device", "cpu", "--quiet"]
    if workers:
        argv += ["--workers", str(workers)]
    used = workers or CourseConfig.load(course).worker_count("cpu")
    return timed("course autograde", argv, course, students, used, log=course / "course-autograde.log")


def cell_scores(course: Path) -> dict[tuple[str, str], float | None]:
    """``(student, grade cell) -> auto score`` from a course's gradebook."""
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assignment = gb.find_assignment(ASSIGNMENT)
        for submission in assignment.submissions:
            for nb in submission.notebooks:
                for grade in nb.grades:
                    scores[(submission.student_id, grade.name)] = grade.auto_score
    return scores


def disagreements(ours: dict, theirs: dict) -> list[str]:
    out = []
    for key in sorted(set(ours) | set(theirs)):
        a, b = ours.get(key), theirs.get(key)
        if a is None or b is None or abs(a - b) > 1e-9:
            out.append(f"{key[0]} {key[1]}: course {a}, nbgrader {b}")
    return out


def student_code_seconds(course: Path) -> float:
    """The solution's own cells (tests included) run once in a warm interpreter: the work no tool can avoid."""
    import nbformat

    nb = nbformat.read(course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    script = ("import time, torch\nstart = time.perf_counter()\nns = {}\n"
              f"for src in {code!r}:\n    exec(compile(src, 'cell', 'exec'), ns)\n"
              "print(time.perf_counter() - start)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def report(runs: list[Run], code_s: float) -> str:
    lines = [f"{'tool':<20} {'subs':>5} {'workers':>7} {'wall s':>8} {'subs/min':>9} {'s/sub':>7} "
             f"{'overhead s/sub':>15} {'peak RSS MB':>12}"]
    for r in runs:
        # the cost per submission in worker-seconds, less the student's own code
        overhead = r.per_submission * r.workers - code_s
        lines.append(f"{r.tool:<20} {r.students:>5} {r.workers:>7} {r.wall:>8.1f} {r.per_minute:>9.1f} "
                     f"{r.per_submission:>7.3f} {overhead:>15.3f} {r.peak_rss_mb:>12.0f}")
    lines.append(f"(the student's code alone, tests included, in a warm interpreter: {code_s:.3f} s per submission)")
    if len(runs) == 2:
        lines.append(f"ratio (course / nbgrader throughput): {runs[1].per_minute / runs[0].per_minute:.1f}x")
    return "\n".join(lines)


def memory_profile(run: Run, points: int = 5) -> str:
    if not run.rss_samples:
        return ""
    step = max(1, len(run.rss_samples) // points)
    marks = run.rss_samples[::step][:points] + [run.rss_samples[-1]]
    return f"{run.tool} RSS over the run: " + ", ".join(f"{t:.0f}s {mb:.0f} MB" for t, mb in marks)


def fd_profile(run: Run) -> str:
    """The coordinating process's open descriptors at the start, middle and end of the run, and the most seen."""
    if not run.fd_samples:
        return ""
    start, middle, end = run.fd_samples[0], run.fd_samples[len(run.fd_samples) // 2], run.fd_samples[-1]
    peak = max(n for _, n in run.fd_samples)
    return (f"{run.tool} open file descriptors: start ({start[0]:.0f}s) {start[1]}, middle ({middle[0]:.0f}s) "
            f"{middle[1]}, end ({end[0]:.0f}s) {end[1]}, peak {peak}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=120, help="class size (default 120)")
    parser.add_argument("--only", choices=("both", "course", "nbgrader"), default="both")
    parser.add_argument("--workers", type=int, default=None, help="course autograde --workers (default: its own)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the two course copies here")
    args = parser.parse_args(argv)

    from course_lib.config import copy_course

    base = args.workdir or Path(tempfile.mkdtemp(prefix="bench-autograde-"))
    base.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores; class: {args.students} submissions of {ASSIGNMENT}; work in {base}",
          flush=True)
    runs, scores = [], {}
    try:
        for tool in ("nbgrader", "course"):
            if args.only not in ("both", tool):
                continue
            course = copy_course(REPO, base / tool)
            build_class(course, args.students)
            print(f"grading with {tool} ...", flush=True)
            run = run_nbgrader(course, args.students) if tool == "nbgrader" else \
                run_course(course, args.students, args.workers)
            runs.append(run)
            scores[tool] = cell_scores(course)
            print(f"  {run.wall:.1f} s", flush=True)
        code_s = student_code_seconds(base / runs[0].tool.split()[0])
        print()
        print(report(runs, code_s))
        for run in runs:
            print(memory_profile(run))
            if run.tool.startswith("course"):
                print(fd_profile(run))
        if len(scores) == 2:
            wrong = disagreements(scores["course"], scores["nbgrader"])
            cells = len(scores["nbgrader"])
            if wrong:
                print(f"\nSCORES DISAGREE on {len(wrong)} of {cells} graded cells:")
                print("\n".join(wrong[:50]))
                return 1
            print(f"scores agree on all {cells} graded cells "
                  f"({sum(scores['nbgrader'].values()):g} points in all)")
        return 0
    finally:
        if args.workdir is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
