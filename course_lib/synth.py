"""Synthetic submissions: the released notebook filled in with known answers.

An assignment's ``graders/<aid>/variants.py`` lists :class:`Variant` s: the
solution, alternative correct solutions, and plausible wrong answers named after
the misconception they encode, each with the checks it is expected to fail. The
demo builds its class from them and the tests prove the hidden checks with them.
Fixtures are synthetic: no real student's work is involved.
"""

from __future__ import annotations

import copy
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

from .assignment import NotebookSpec
from .errors import AssignmentError
from .notebooks import grade_id, is_solution

_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


@dataclass(frozen=True)
class Variant:
    """A known submission: the solution with some answer cells replaced.

    ``graders/<aid>/variants.py`` (or ``<notebook>_variants.py`` beside a notebook's grader) defines
    ``VARIANTS``, a list of these; ``course verify`` grades each and compares with ``fails``, and
    ``course demo`` builds its class from them. The released notebook as it is (the *blank*, every answer a
    stub) is added by itself, named ``blank``: it must fail every check.

    Kinds:
        ``solution``: the source notebook's own answers (no ``answers``); full marks.
        ``alternative``: a correct answer written differently; full marks (``fails`` empty).
        ``mutant``: a plausible mistake named after its misconception; fails exactly ``fails``. It counts
        as a kill for each check it fails (``course verify`` wants every check killed).
        ``error``: a cell that raises (or a notebook that breaks part-way); fails exactly ``fails``, and
        shows that a broken cell costs only the checks that need it. Not counted as a kill.
        ``slow``: a cell that runs past the time limit; ``course verify`` does not run it (it proves the
        limits, not the checks), the demo does.

    Args:
        name: What it is, e.g. ``mean_over_wrong_axis`` (the misconception); unique in the file.
        answers: Solution cell grade id -> the whole cell's code (the cell as a student writes it, without
            nbgrader's ``### BEGIN/END SOLUTION`` markers); cells not named keep the solution's code.
        fails: Names of the checks it must fail (all others must pass). In nbgrader's format each test
            cell is one check named after its grade id.
        kind: ``solution``, ``alternative``, ``mutant``, ``error`` or ``slow`` (see above).
        blank: Start from the released notebook (unanswered cells stay stubs).
    """

    name: str
    answers: dict = field(default_factory=dict)
    fails: tuple = ()
    kind: str = "mutant"
    blank: bool = False


def solution_code(source: str) -> str:
    """A solution cell's code without nbgrader's markers."""
    return _MARKERS.sub("", source)


def build(spec: NotebookSpec, variant: Variant):
    """The notebook a student answering as ``variant`` would upload."""
    release = spec.release_nb()
    solutions = {grade_id(c): solution_code(c.source) for c in spec.source_nb().cells if is_solution(c)}
    nb = copy.deepcopy(release)
    known = set(solutions)
    unknown = set(variant.answers) - known
    if unknown:
        raise AssignmentError(f"variant {variant.name!r} answers unknown cells {sorted(unknown)}")
    for cell in nb.cells:
        gid = grade_id(cell)
        if not is_solution(cell):
            continue
        if gid in variant.answers:
            cell.source = variant.answers[gid]
        elif not variant.blank:
            cell.source = solutions[gid]
    return nb


def load_variants(spec: NotebookSpec) -> list[Variant]:
    """The variants declared next to a notebook's grader (``<notebook>_variants.py`` or ``variants.py``)."""
    base = spec.grader_path.parent
    for path in (base / f"{spec.name}_variants.py", base / "variants.py"):
        if path.is_file():
            break
    else:
        return []
    module_spec = importlib.util.spec_from_file_location(f"course_variants_{spec.assignment}_{spec.name}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    variants = list(getattr(module, "VARIANTS", []))
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise AssignmentError(f"{path}: variant names must be unique")
    all_checks = {c.name for q in spec.grader.questions for c in q.checks}
    blank = Variant("blank", fails=tuple(sorted(all_checks)), kind="blank", blank=True)
    for v in variants:
        bad = set(v.fails) - all_checks
        if bad:
            raise AssignmentError(f"{path}: variant {v.name!r} names unknown checks {sorted(bad)}")
    return [blank, *variants]


def write(nb, path: Path) -> Path:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
