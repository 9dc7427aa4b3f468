"""An assignment as the course directory defines it: source, release and graders."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import nbformat

from .config import CourseConfig
from .errors import AssignmentError, SubmissionError
from .judge.spec import Grader, NotebookTests, load_grader, notebook_tests
from .notebooks import grade_cells, grade_id, is_grade, is_locked, is_solution


@dataclass(frozen=True)
class NotebookSpec:
    """One notebook of an assignment and its hidden checks."""

    assignment: str
    name: str  # nbgrader notebook id (file name without .ipynb)
    source: Path
    release: Path
    grader_path: Path

    @cached_property
    def grader(self) -> Grader | NotebookTests:
        """The grader module if there is one, else the notebook's own (nbgrader-format) test cells."""
        if not self.grader_path.is_file():
            tests = self.tests
            if tests is not None:
                return tests
        return load_grader(self.grader_path)

    @cached_property
    def tests(self) -> NotebookTests | None:
        """The source notebook's autograder-tests cells, hidden tests included."""
        return notebook_tests(self.source)

    @property
    def in_notebook(self) -> bool:
        """Graded by the notebook's own test cells (nbgrader's format) rather than a grader module."""
        return getattr(self.grader, "in_notebook", False)

    def test_cells(self) -> dict:
        """``grade_id -> cell`` of the source notebook's test cells (what the student's copy lacks)."""
        from .notebooks import is_grade, is_solution

        return {grade_id(c): c for c in self.source_nb().cells
                if c.cell_type == "code" and is_grade(c) and not is_solution(c) and grade_id(c)}

    def source_nb(self):
        return nbformat.read(self.source, as_version=4)

    def release_nb(self):
        if not self.release.is_file():
            raise AssignmentError(f"{self.release} does not exist",
                                  hint=f"run `course release {self.assignment}` first")
        return nbformat.read(self.release, as_version=4)

    def grade_cells(self) -> list[tuple[str, float, bool]]:
        """``(grade_id, points, manual)`` of the source notebook."""
        return grade_cells(self.source_nb())

    def validate(self) -> None:
        """The grader's points per question must equal the grade cells' points."""
        cells = {gid: (points, manual) for gid, points, manual in self.grade_cells()}
        auto = {gid for gid, (_, manual) in cells.items() if not manual}
        declared = {q.grade_id for q in self.grader.questions}
        for gid in sorted(declared - auto):
            raise AssignmentError(f"{self.grader_path}: question {gid!r} is not an autograded grade cell of "
                                  f"{self.source.name}", hint="fix the grade_id in QUESTIONS or in the notebook")
        for gid in sorted(auto - declared):
            raise AssignmentError(f"{self.source.name}: grade cell {gid!r} has no hidden checks in "
                                  f"{self.grader_path.name}", hint="add a Question for it to QUESTIONS")
        for q in self.grader.questions:
            if abs(q.points - cells[q.grade_id][0]) > 1e-9:
                raise AssignmentError(f"{self.grader_path.name}: checks of {q.grade_id!r} add up to {q.points:g} "
                                      f"points but its grade cell gives {cells[q.grade_id][0]:g}",
                                      hint="make the check points add up to the cell's points")


@dataclass(frozen=True)
class Assignment:
    """An assignment id with its notebooks."""

    id: str
    notebooks: tuple

    @classmethod
    def load(cls, config: CourseConfig, assignment_id: str) -> "Assignment":
        source_dir = config.path("source", assignment_id)
        if not source_dir.is_dir():
            known = sorted(p.name for p in config.path("source").glob("*") if p.is_dir())
            raise AssignmentError(f"no assignment {assignment_id!r} in {config.path('source')}",
                                  hint=f"known assignments: {', '.join(known) or 'none'}")
        notebooks = tuple(
            NotebookSpec(assignment=assignment_id, name=path.stem, source=path,
                         release=config.path("release", assignment_id, path.name),
                         grader_path=config.path("graders", assignment_id, f"{path.stem}.py"))
            for path in sorted(source_dir.glob("*.ipynb"))
        )
        if not notebooks:
            raise AssignmentError(f"{source_dir} holds no notebook")
        return cls(id=assignment_id, notebooks=notebooks)

    def notebook(self, name: str) -> NotebookSpec:
        for spec in self.notebooks:
            if spec.name == name:
                return spec
        raise AssignmentError(f"assignment {self.id} has no notebook {name!r}",
                              hint=f"its notebooks: {', '.join(n.name for n in self.notebooks)}")

    def autograded(self) -> list[NotebookSpec]:
        """Notebooks with hidden checks: a grader module, or nbgrader test cells (a purely hand-graded notebook has neither)."""
        return [nb for nb in self.notebooks if nb.grader_path.is_file() or nb.tests is not None]


def cell_ids(nb) -> set[str]:
    """The ids (``grade_id``) of a notebook's answer and graded cells (not of shared ones such as ``intro``)."""
    return {grade_id(c) for c in nb.cells if grade_id(c) and (is_grade(c) or is_solution(c))}


def _read_only(nb) -> dict[str, str]:
    """``grade_id -> source`` of a notebook's read-only cells (instructions, visible tests)."""
    return {grade_id(c): c.source for c in nb.cells if grade_id(c) and is_locked(c)}


def released_matches(config: CourseConfig, nb) -> list[tuple[tuple[str, str], int]]:
    """The released notebooks ``nb`` is most likely a copy of: ``[((assignment id, notebook name), ids shared)]``.

    A notebook is matched by the answer and graded cell ids it shares with a release,
    ties broken by how many read-only cells it keeps word for word. A course that copies
    an assignment to a new id has two releases with the same ids and often the same
    text: then more than one candidate is returned, and only the person can say which.
    """
    ids, mine = cell_ids(nb), _read_only(nb)
    scored = []
    for path in sorted(config.path("release").glob("*/*.ipynb")):
        try:
            release = nbformat.read(path, as_version=4)
        except (OSError, ValueError):
            continue
        common = len(ids & cell_ids(release))
        if common:
            same = sum(1 for gid, text in _read_only(release).items() if mine.get(gid) == text)
            scored.append(((common, same), (path.parent.name, path.stem)))
    if not scored:
        return []
    best = max(score for score, _ in scored)
    return [(where, score[0]) for score, where in scored if score == best]


def released_match(config: CourseConfig, nb) -> tuple[str, str] | None:
    """``(assignment id, notebook name)`` of the one release ``nb`` is a copy of; ``None`` when none is.

    Raises :class:`AssignmentError` naming the candidates when several releases fit equally well.
    """
    matches = released_matches(config, nb)
    if len(matches) > 1:
        names = ", ".join(f"{aid}/{name}.ipynb" for (aid, name), _ in matches)
        raise AssignmentError(f"this notebook fits more than one released assignment equally well: {names}",
                              hint="say which with --assignment "
                                   + " or --assignment ".join(aid for (aid, _), _ in matches))
    return matches[0][0] if matches else None


def recognise(config: CourseConfig, nb) -> tuple[str, str]:
    """``(assignment id, notebook name)`` of the release ``nb`` is a copy of, for commands run without --assignment.

    Raises :class:`AssignmentError` when none fits, or when several fit equally well (naming them).
    """
    best = released_match(config, nb)
    if best is None:
        raise AssignmentError("this notebook matches no released assignment (its nbgrader cells are gone)",
                              hint="pass --assignment AID, or start again from the released notebook")
    return best


def ensure_copy_of(config: CourseConfig, spec: NotebookSpec, nb, path: Path) -> None:
    """Raise :class:`SubmissionError` unless ``nb`` is a copy of ``spec``'s released notebook.

    A copy keeps nbgrader's cell ids; a notebook sharing none of them is another
    assignment's (named, when it is one) or not a copy at all, and grading it would
    report zeros, or visible tests of the wrong notebook, as if they meant something.
    """
    matches = released_matches(config, nb)
    here = (spec.assignment, spec.name)
    if here in (where for where, _ in matches):
        return
    if not matches and cell_ids(nb) & cell_ids(spec.release_nb()):
        return
    shared = len(cell_ids(nb) & cell_ids(spec.release_nb()))
    if shared and shared == matches[0][1]:
        return  # as many cells as the best fit: asked for by name, it is this assignment's copy
    if matches:
        names = " or ".join(f"{aid}/{name}.ipynb" for (aid, name), _ in matches)
        raise SubmissionError(f"{path} is a copy of {names}, not of {spec.assignment}/{spec.name}.ipynb",
                              hint="pass --assignment " + " or --assignment ".join(aid for (aid, _), _ in matches))
    raise SubmissionError(f"{path} has none of the answer cells of {spec.assignment}/{spec.name}.ipynb",
                          hint=f"start from release/{spec.assignment}/{spec.name}.ipynb and keep its cells "
                               "(their nbgrader ids are how answers are found)")
