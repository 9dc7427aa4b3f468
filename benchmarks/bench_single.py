#!/usr/bin/env python3
"""``course grade`` on one submission: cold, with and without the warm sandbox; a class of 5 against nbgrader.

For each assignment (default ``06-autograd`` and ``01-tensors``) it grades the solution as a
student hands it in (every cell and hidden test runs; ``--variant NAME`` for another known
submission, ``--variant release`` for the blank released notebook) with ``course grade
--device cpu`` in a copy of the course, each run a fresh process, after one untimed run that fills the solution's reference cache (its time
is printed too: the first grade of a changed set-up). Every round times three kinds of
run, one after the other so that they see the same machine load:

* no warm sandbox (``COURSE_WARM_IDLE=0``): the command starts its own grading sandbox;
* the first command: no warm sandbox is running (``course warm stop`` first, untimed),
  so this command starts the service (:mod:`course_lib.execute.warm`) and is served by it;
* the warm sandbox running: the next command, served by the sandbox the previous one left.

Each run sets ``COURSE_TIMINGS``, so the command prints where its time went (see
:mod:`course_lib.timings`); the tables show the median of each phase over the runs.

With ``--before DIR`` (a copy of ``course_lib`` from another commit, e.g. made with ``git archive``) each
round also times that code (with ``COURSE_WARM_IDLE=0``), on the same course copy.

Then, unless ``--no-class``, a class of 5 submissions of 06-autograd (built as
``bench_autograde.py`` builds its class) is graded by ``nbgrader autograde`` and by
``course autograde`` from a cold start, each in its own copy, and the scores compared.

It stops this user's warm sandboxes before each "first command" and at the end.

    python benchmarks/bench_single.py                     # 7 rounds each, then the class of 5
    python benchmarks/bench_single.py --runs 3 --no-class --assignment 06-autograd
    python benchmarks/bench_single.py --before /tmp/before   # /tmp/before/course_lib: the code to compare with
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_autograde import (REPO, _tools_env, build_class, cell_scores, disagreements,  # noqa: E402
                             run_course, run_nbgrader)

DEFAULT_ASSIGNMENTS = ("06-autograd", "01-tensors")
PREFIX = "course-timings: "  # course_lib.timings.PREFIX (not imported: the benchmark stays cold)


WARM_IDLE = "300"
KINDS = {  # name -> (COURSE_WARM_IDLE, stop the warm sandboxes first)
    "no warm sandbox (COURSE_WARM_IDLE=0)": ("0", False),
    "first command (it starts the warm sandbox)": (WARM_IDLE, True),
    "warm sandbox running (the next command)": (WARM_IDLE, False),
}


def grade_once(course: Path, assignment: str, notebook: Path, code: Path | None = None,
               idle: str = "0") -> tuple[float, dict, str]:
    """One ``course grade`` in a fresh process: (wall seconds, phase -> seconds, last line of its output).

    ``code``: a folder holding the ``course_lib`` to run instead of the installed one; ``idle``: its
    ``COURSE_WARM_IDLE``.
    """
    env = _tools_env()
    env["COURSE_WARM_IDLE"] = idle
    if code is not None:
        env["PYTHONPATH"] = str(code)
    argv = [str(Path(sys.executable).parent / "course"), "grade", str(notebook), "--assignment", assignment,
            "--device", "cpu"]
    started = time.time()
    env["COURSE_TIMINGS"] = repr(started)
    done = subprocess.run(argv, cwd=course, env=env, capture_output=True, text=True)
    wall = time.time() - started
    if done.returncode != 0:
        raise SystemExit(f"course grade failed (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    phases = {}
    for line in done.stderr.splitlines():
        if line.startswith(PREFIX):
            phases = json.loads(line[len(PREFIX):])
    score = next((line for line in reversed(done.stdout.splitlines()) if line.startswith("score:")), "")
    return wall, phases, score


def stop_warm(course: Path) -> None:
    subprocess.run([str(Path(sys.executable).parent / "course"), "warm", "stop"], cwd=course, env=_tools_env(),
                   capture_output=True, check=True)


def submission(course: Path, assignment: str, variant: str) -> Path:
    """The notebook graded: the released one (``release``), or a known submission of the assignment built
    as a student would hand it in (``solution``: every cell runs, the hidden tests included)."""
    release = course / "release" / assignment
    released = next(iter(sorted(release.glob("*.ipynb"))))
    if variant == "release":
        return released.relative_to(course)
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.synth import build, load_variants, write

    spec = Assignment.load(CourseConfig.load(course), assignment).notebook(released.stem)
    known = {v.name: v for v in load_variants(spec)}
    if variant not in known:
        raise SystemExit(f"{assignment} has no known submission {variant!r} (graders/{assignment}/variants.py)")
    return write(build(spec, known[variant]), course / f"{assignment}-{variant}.ipynb").relative_to(course)


def bench_assignment(course: Path, assignment: str, runs: int, before: Path | None = None,
                     variant: str = "solution") -> str:
    """A notebook graded ``runs`` rounds of each kind, after one run that fills the reference cache."""
    notebook = submission(course, assignment, variant)
    shutil.rmtree(course / ".course-cache", ignore_errors=True)
    first, _, score = grade_once(course, assignment, notebook)
    kinds = {name: (None, idle, stop) for name, (idle, stop) in KINDS.items()}
    if before:  # its own untimed first run: its reference key need not be this code's
        kinds[f"before ({before})"] = (before, "0", False)
        grade_once(course, assignment, notebook, before)
    results: dict = {name: ([], []) for name in kinds}
    for _ in range(runs):
        for name, (code, idle, stop) in kinds.items():  # one of each kind per round: they see the same load
            if stop:
                stop_warm(course)
            wall, phases, again = grade_once(course, assignment, notebook, code, idle)
            if again != score:
                raise SystemExit(f"{assignment}: the grade changed: {score!r}, then {again!r} ({name})")
            results[name][0].append(wall)
            results[name][1].append(phases)
    lines = [f"== course grade {notebook} --assignment {assignment} --device cpu ({score})",
             f"first run (references computed, no warm sandbox): {first:.2f} s"]
    for name, (walls, table) in results.items():
        lines.append(_summary(name, walls, table))
    return "\n".join(lines)


def _summary(name: str, walls: list, table: list) -> str:
    lines = [f"{name}: {len(walls)} runs, each a new process (references cached): min {min(walls):.2f} s, "
             f"median {statistics.median(walls):.2f} s, max {max(walls):.2f} s"]
    phase_names = list(dict.fromkeys(phase for phases in table for phase in phases))
    if phase_names:
        lines.append(f"  {'phase (median over the runs)':<34} {'s':>6}")
        for phase in phase_names:
            lines.append(f"  {phase:<34} {statistics.median(p.get(phase, 0.0) for p in table):>6.3f}")
        accounted = statistics.median(sum(p.values()) for p in table)
        lines.append(f"  {'(sum of the phases)':<34} {accounted:>6.3f}")
    return "\n".join(lines)


def class_of(base: Path, students: int, before: Path | None = None) -> tuple[str, bool]:
    """Both tools on the same class of ``students``: a line of times, one of whether the scores agree."""
    from course_lib.config import copy_course

    runs, scores = {}, {}
    for tool in ("nbgrader", "course", *(["before"] if before else [])):
        course = copy_course(REPO, base / f"class-{tool}")
        build_class(course, students)
        if tool == "nbgrader":
            runs[tool] = run_nbgrader(course, students)
        else:
            saved = os.environ.get("PYTHONPATH")
            if tool == "before":  # the tools' environment is this one's
                os.environ["PYTHONPATH"] = str(before)
            try:
                runs[tool] = run_course(course, students, None)
            finally:
                if tool == "before":
                    os.environ.pop("PYTHONPATH") if saved is None else os.environ.update(PYTHONPATH=saved)
        scores[tool] = cell_scores(course)
    nbgrader = runs["nbgrader"]
    wrong = [f"{tool}: {line}" for tool in scores if tool != "nbgrader"
             for line in disagreements(scores[tool], scores["nbgrader"])]
    verdict = (f"scores agree on all {len(scores['nbgrader'])} graded cells" if not wrong
               else f"SCORES DISAGREE on {len(wrong)} cells: " + "; ".join(wrong[:10]))
    lines = [f"== class of {students} (06-autograd): nbgrader autograde {nbgrader.wall:.1f} s"]
    for tool in runs:
        if tool != "nbgrader":
            run = runs[tool]
            lines.append(f"course autograde ({'this code' if tool == 'course' else before}): {run.wall:.1f} s "
                         f"({run.workers} workers, cold start included); course / nbgrader wall: "
                         f"{run.wall / nbgrader.wall:.2f}")
    return "\n".join([*lines, verdict]), not wrong


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="cold runs per assignment (default 7)")
    parser.add_argument("--assignment", action="append", metavar="AID",
                        help=f"assignment to grade (repeatable; default {' and '.join(DEFAULT_ASSIGNMENTS)})")
    parser.add_argument("--no-class", action="store_true", help="skip the class of 5 against nbgrader")
    parser.add_argument("--students", type=int, default=5, help="the class's size (default 5)")
    parser.add_argument("--variant", default="solution",
                        help="the notebook graded: a known submission's name, or 'release' for the blank released "
                             "notebook (default: solution)")
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="also time the course_lib in DIR (alternating with this code's runs)")
    args = parser.parse_args(argv)

    from course_lib.config import copy_course

    base = Path(tempfile.mkdtemp(prefix="bench-single-"))
    print(f"machine: {os.cpu_count()} cores; work in {base}", flush=True)
    ok = True
    try:
        course = copy_course(REPO, base / "course")
        for assignment in args.assignment or DEFAULT_ASSIGNMENTS:
            print(bench_assignment(course, assignment, args.runs, args.before, args.variant), flush=True)
        if not args.no_class:
            text, ok = class_of(base, args.students, args.before)
            print(text)
        return 0 if ok else 1
    finally:
        with contextlib.suppress(Exception):
            stop_warm(REPO)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
