#!/usr/bin/env python3
"""Cold start of ``course grade`` on one submission, and a class of 5 against ``nbgrader autograde``.

For each assignment (default ``06-autograd`` and ``01-tensors``) it grades the released
(blank) notebook with ``course grade --device cpu`` in a copy of the course, ``--runs``
times, each in a fresh process, after one untimed run that fills the solution's reference
cache (its time is printed too: the first grade of a changed set-up). Each run sets
``COURSE_TIMINGS``, so the command prints where its time went (see
:mod:`course_lib.timings`); the table shows the median of each phase over the runs.

Then, unless ``--no-class``, a class of 5 submissions of 06-autograd (built as
``bench_autograde.py`` builds its class) is graded by ``nbgrader autograde`` and by
``course autograde`` from a cold start, each in its own copy, and the scores compared.

    python benchmarks/bench_single.py                     # 7 runs each, then the class of 5
    python benchmarks/bench_single.py --runs 3 --no-class --assignment 06-autograd
"""

from __future__ import annotations

import argparse
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


def grade_once(course: Path, assignment: str, notebook: Path) -> tuple[float, dict, str]:
    """One ``course grade`` in a fresh process: (wall seconds, phase -> seconds, last line of its output)."""
    env = _tools_env()
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


def bench_assignment(course: Path, assignment: str, runs: int) -> str:
    """The released notebook graded ``runs`` times cold, after one run that fills the reference cache."""
    release = course / "release" / assignment
    notebook = next(iter(sorted(release.glob("*.ipynb"))))
    first, _, score = grade_once(course, assignment, notebook.relative_to(course))
    walls, table = [], []
    for _ in range(runs):
        wall, phases, again = grade_once(course, assignment, notebook.relative_to(course))
        if again != score:
            raise SystemExit(f"{assignment}: the grade changed between runs: {score!r} then {again!r}")
        walls.append(wall)
        table.append(phases)
    lines = [f"== course grade {notebook.relative_to(course)} --assignment {assignment} --device cpu ({score})",
             f"first run (references computed): {first:.2f} s",
             f"{runs} cold runs (references cached): min {min(walls):.2f} s, median {statistics.median(walls):.2f} s, "
             f"max {max(walls):.2f} s"]
    names = list(dict.fromkeys(name for phases in table for name in phases))
    if names:
        lines.append(f"  {'phase (median over the runs)':<34} {'s':>6}")
        for name in names:
            lines.append(f"  {name:<34} {statistics.median(p.get(name, 0.0) for p in table):>6.3f}")
        accounted = statistics.median(sum(p.values()) for p in table)
        lines.append(f"  {'(sum of the phases)':<34} {accounted:>6.3f}")
    return "\n".join(lines)


def class_of(base: Path, students: int) -> tuple[str, bool]:
    """Both tools on the same class of ``students``: one line of times, one of whether the scores agree."""
    from course_lib.config import copy_course

    runs, scores = [], {}
    for tool in ("nbgrader", "course"):
        course = copy_course(REPO, base / f"class-{tool}")
        build_class(course, students)
        run = run_nbgrader(course, students) if tool == "nbgrader" else run_course(course, students, None)
        runs.append(run)
        scores[tool] = cell_scores(course)
    nbgrader, course = runs
    wrong = disagreements(scores["course"], scores["nbgrader"])
    verdict = (f"scores agree on all {len(scores['nbgrader'])} graded cells" if not wrong
               else f"SCORES DISAGREE on {len(wrong)} cells: " + "; ".join(wrong[:10]))
    return (f"== class of {students} (06-autograd): nbgrader autograde {nbgrader.wall:.1f} s, "
            f"course autograde {course.wall:.1f} s ({course.workers} workers, cold start included); "
            f"course / nbgrader wall: {course.wall / nbgrader.wall:.2f}\n{verdict}"), not wrong


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="cold runs per assignment (default 7)")
    parser.add_argument("--assignment", action="append", metavar="AID",
                        help=f"assignment to grade (repeatable; default {' and '.join(DEFAULT_ASSIGNMENTS)})")
    parser.add_argument("--no-class", action="store_true", help="skip the class of 5 against nbgrader")
    parser.add_argument("--students", type=int, default=5, help="the class's size (default 5)")
    args = parser.parse_args(argv)

    from course_lib.config import copy_course

    base = Path(tempfile.mkdtemp(prefix="bench-single-"))
    print(f"machine: {os.cpu_count()} cores; work in {base}", flush=True)
    ok = True
    try:
        course = copy_course(REPO, base / "course")
        for assignment in args.assignment or DEFAULT_ASSIGNMENTS:
            print(bench_assignment(course, assignment, args.runs), flush=True)
        if not args.no_class:
            text, ok = class_of(base, args.students)
            print(text)
        return 0 if ok else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
