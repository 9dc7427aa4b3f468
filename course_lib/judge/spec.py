"""How an assignment's hidden checks are declared (the API of ``graders/``).

A grader module ``graders/<aid>/<notebook>.py`` defines ``QUESTIONS``, a list of
:class:`Question`. Each question names the nbgrader grade cell it scores, a
*probe* that runs inside the student's kernel right after that cell, and the
:class:`Check` s that judge what the probe recorded, in the grader process,
against what the same probe recorded on the instructor's solution.

Probe functions are sent to the kernel as source text: they may use only their
argument (a ``Student`` handle with ``call``, ``value`` and ``record``) and what
they import inside their own body.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import AssignmentError


@dataclass(frozen=True)
class Check:
    """One hidden check worth ``points``.

    Args:
        name: Short id, unique in the notebook (shown in feedback and reports).
        points: Points it is worth; a question's checks add up to its grade cell's points.
        compare: A comparator from :mod:`course_lib.judge.compare`.
        key: The probe value it reads (default: ``name``).
        describe: What it checks, in a student's words.
        hint: Added to the message when it fails (the misconception it targets).
        requires: Other probe values that must exist and not be errors for this
            check to count (e.g. "the input is unchanged" means nothing if the
            call raised).
    """

    name: str
    points: float
    compare: Callable
    key: str = ""
    describe: str = ""
    hint: str = ""
    requires: tuple = ()

    @property
    def value_key(self) -> str:
        return self.key or self.name


@dataclass(frozen=True)
class Question:
    """The hidden checks of one nbgrader grade cell."""

    grade_id: str
    probe: Callable
    checks: tuple = field(default_factory=tuple)

    def __post_init__(self):
        object.__setattr__(self, "checks", tuple(self.checks))

    @property
    def points(self) -> float:
        return sum(c.points for c in self.checks)

    def probe_source(self) -> tuple[str, str]:
        """The probe function's source and name, ready to send to a kernel."""
        return textwrap.dedent(inspect.getsource(self.probe)), self.probe.__name__


@dataclass(frozen=True)
class Grader:
    """The loaded grader module of one notebook."""

    path: Path
    questions: tuple
    digest: str

    def question(self, grade_id: str) -> Question:
        for q in self.questions:
            if q.grade_id == grade_id:
                return q
        raise KeyError(grade_id)

    def probes(self) -> list[tuple[str, str, str]]:
        """``(grade_id, source, function name)`` for every question."""
        return [(q.grade_id, *q.probe_source()) for q in self.questions]


@dataclass(frozen=True)
class NotebookTests:
    """nbgrader's own format: the notebook's test cells are its checks (no grader module).

    Each autograder-tests cell of the source notebook, hidden tests included, runs in
    the student's kernel in place of the released one (as nbgrader's ``OverwriteCells``
    restores it) and is scored by nbgrader's rule: no points if it raises or writes to
    stderr, the number it outputs as partial credit, else all its points. Each cell is
    one question with one check named after it.
    """

    path: Path  # the source notebook
    questions: tuple
    digest: str
    in_notebook = True

    def question(self, grade_id: str) -> Question:
        return Grader.question(self, grade_id)  # type: ignore[arg-type]

    def probes(self) -> list:
        return []


TESTS_DESCRIBE = "the notebook's tests for this question"


def notebook_tests(source: Path) -> NotebookTests | None:
    """The test cells of an nbgrader-format source notebook (``None`` when it has none)."""
    import nbformat

    from ..notebooks import grade_id, is_grade, is_solution, nbgrader_meta

    nb = nbformat.read(source, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and is_grade(c) and not is_solution(c)]
    if not cells:
        return None
    questions = tuple(Question(grade_id=grade_id(c), probe=None,
                               checks=(Check(name=grade_id(c), points=float(nbgrader_meta(c).get("points", 0)),
                                             compare=None, describe=TESTS_DESCRIBE),))
                      for c in cells)
    digest = hashlib.sha256("\0".join(c.source for c in cells).encode()).hexdigest()
    return NotebookTests(path=source, questions=questions, digest=digest)


def load_grader(path: Path) -> Grader:
    """Import ``graders/<aid>/<notebook>.py`` and check its declarations."""
    if not path.is_file():
        raise AssignmentError(f"no hidden checks at {path}",
                              hint="write the grader module that defines QUESTIONS for this notebook")
    name = "course_graders_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise AssignmentError(f"{path} could not be imported: {exc!r}") from exc
    questions = tuple(getattr(module, "QUESTIONS", ()))
    if not questions or not all(isinstance(q, Question) for q in questions):
        raise AssignmentError(f"{path} must define QUESTIONS, a non-empty list of Question")
    seen: set[str] = set()
    for q in questions:
        if q.grade_id in seen:
            raise AssignmentError(f"{path}: grade cell {q.grade_id!r} has two Question entries")
        seen.add(q.grade_id)
        names = [c.name for c in q.checks]
        if not names or len(set(names)) != len(names):
            raise AssignmentError(f"{path}: question {q.grade_id!r} needs checks with distinct names")
        if inspect.getsource(q.probe).lstrip().startswith("@"):
            raise AssignmentError(f"{path}: probe {q.probe.__name__} must be a plain function (no decorators)")
    return Grader(path=path, questions=questions, digest=hashlib.sha256(path.read_bytes()).hexdigest())
