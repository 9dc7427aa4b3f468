"""Demo: the whole path on a synthetic class, from scratch, in a directory of its own.

It copies the course (config, source, graders) into the target directory, releases
with nbgrader, writes a class of synthetic submissions built from each
assignment's known variants (correct, alternative, wrong, blank, erroring, slow,
one corrupt file), then collects, autogrades and writes feedback, and prints the
class table. No real student's data is used.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from .assignment import Assignment
from .autograde import autograde
from .cli import summary_rows, table
from .collect import collect
from .config import CONFIG_FILE, CourseConfig
from .errors import CourseError
from .feedback import feedback
from .release import release
from .synth import build, load_variants, write

SENTINEL = ".course-demo"
NAMES = ["ada.lovelace", "alan.turing", "grace.hopper", "ken.thompson", "margaret.hamilton", "dennis.ritchie",
         "edsger.dijkstra", "barbara.liskov", "donald.knuth", "john.mccarthy", "frances.allen",
         "katherine.johnson", "radia.perlman", "leslie.lamport", "shafi.goldwasser", "tim.berners-lee"]
CLASS_SIZE = 12
DEMO_CELL_TIMEOUT = 10  # so the slow student's cell is stopped quickly


def _fresh(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise CourseError(f"{target} is a file, not a directory; not touching it",
                          hint="pass --dir with a new or empty directory")
    if target.exists():
        if not (target / SENTINEL).exists() and any(target.iterdir()):
            raise CourseError(f"{target} exists and is not a demo directory; not touching it",
                              hint="pass --dir with a new or empty directory")
        shutil.rmtree(target)
    target.mkdir(parents=True)
    (target / SENTINEL).write_text("made by `course demo`; safe to delete\n")


def _class(variants) -> list:
    """Pick the class: the solution, alternatives, blank, error, slow, then misconceptions."""
    by_kind = lambda kind: [v for v in variants if v.kind == kind]  # noqa: E731
    picked = by_kind("solution") + by_kind("alternative")[:2] + by_kind("blank") + by_kind("error") + by_kind("slow")
    picked += by_kind("mutant")[:max(0, CLASS_SIZE - len(picked))]
    return picked


DEFAULT_ASSIGNMENT = "01-tensors"


def demo(*, course: Path, target: Path, workers: int | None = None, assignments: list[str] | None = None) -> int:
    """Build and grade the demo course in ``target`` (default: the first assignment); returns the exit status."""
    started = time.monotonic()
    source_config = CourseConfig.load(course).with_overrides(workers=workers)  # a bad --workers: before any copy
    _fresh(target)
    for name in ("source", "graders"):
        shutil.copytree(source_config.path(name), target / name)
    config_text = (source_config.path(CONFIG_FILE)).read_text()
    config_text += (f"\n# demo only: a short cell limit so the slow submission is stopped quickly\n"
                    f"c.Course.assignments.setdefault('01-tensors', {{}})['cell_timeout'] = {DEMO_CELL_TIMEOUT}\n")
    (target / CONFIG_FILE).write_text(config_text)
    config = CourseConfig.load(target).with_overrides(workers=workers)
    known = sorted(p.name for p in config.path("source").iterdir() if p.is_dir())
    assignments = assignments or [DEFAULT_ASSIGNMENT]
    unknown = sorted(set(assignments) - set(known))
    if unknown:
        raise CourseError(f"no assignment {', '.join(unknown)} in the course", hint=f"known: {', '.join(known)}")
    print(f"demo course in {target}")
    for aid in assignments:
        assignment = Assignment.load(config, aid)
        specs = [s for s in assignment.autograded() if load_variants_safe(s)]
        if not specs:
            continue
        release(config=config, assignment_id=aid)
        print(f"\n== {aid}: released with nbgrader to {config.path('release', aid)}")
        inbox = target / "inbox" / aid
        roles = {}
        for spec in specs:
            for name, variant in zip(NAMES, _class(load_variants(spec))):
                nb = build(spec, variant)
                if name == "katherine.johnson":  # a student who uploads inside a folder, under another name
                    write(nb, inbox / name / "My tensors (1).ipynb")
                else:
                    write(nb, inbox / f"{name}.ipynb")
                roles[name] = variant.name
        broken = NAMES[len(roles)]
        (inbox / f"{broken}.ipynb").write_text('{"cells": [{"cell_type": "code", "sou')  # an upload cut short
        roles[broken] = "corrupt upload"
        print(f"synthetic class of {len(roles)} in {inbox}:")
        print(table([[n, r] for n, r in roles.items()], ["student", "submission"]))
        report = collect(config=config, assignment_id=aid, source=inbox)
        print(f"\ncollected {len(report.collected)} into submitted/; problems:")
        print(table([list(p) for p in report.problems], ["student", "file", "problem"]) if report.problems else "none")
        batch = autograde(config=config, assignment_id=aid, force=True)
        print()
        print(table(summary_rows(batch.graded), ["student", "notebook", "score", "status", "time", "first problem"]))
        written = feedback(config=config, assignment_id=aid)
        print(f"\ngradebook:  {config.db_url}\nautograded: {config.path('autograded')}\n"
              f"feedback:   {config.path('feedback')} ({len(written.files)} HTML files), e.g.\n"
              f"            {written.files[0] if written.files else '-'}")
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s")
    return 0


def load_variants_safe(spec) -> list:
    return load_variants(spec) if spec.grader_path.is_file() else []
