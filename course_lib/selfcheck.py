"""Check: the student's self-check. Runs the notebook as the grader would and reports
the visible tests, plus structural problems that would cost points at grading time."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .assignment import Assignment, ensure_copy_of, recognise
from .config import CourseConfig
from .errors import AssignmentError
from .execute import pool as pools, sandbox
from .execute.instrument import OUTPUT_LIMIT, ROLE, instrument, read_run
from .execute.jobs import assignment_files, device_for
from .execute.run import Job, run_job
from .notebooks import grade_id, is_grade, is_locked, is_solution, read_notebook


@dataclass
class SelfCheck:
    """Outcome of a self-check."""

    notebook: str
    assignment: str
    tests: list = field(default_factory=list)  # (grade_id, passed, message)
    warnings: list = field(default_factory=list)
    problem: str = ""
    first_error: str = ""  # where the first of the student's own cells raised, and what
    unanswered: list = field(default_factory=list)  # (grade_id, points) of written answers left as released

    @property
    def ok(self) -> bool:
        return not self.problem and all(passed for _, passed, _ in self.tests)


def find_assignment(config: CourseConfig, nb) -> tuple[str, str]:
    """``(assignment id, notebook name)`` whose released notebook ``nb`` is a copy of (see :func:`recognise`)."""
    return recognise(config, nb)


def _python(source: str) -> str:
    """A cell's source as plain Python (``%magic`` and ``!cmd`` lines translated as IPython does)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def defined_names(nb) -> tuple[set[str], bool]:
    """Functions and classes defined at the top level of the notebook's code cells, and whether every cell parsed."""
    names, parsed = set(), True
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(_python(cell.source))
        except (SyntaxError, ValueError):
            parsed = False
            continue
        names |= {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    return names, parsed


def unanswered(student_nb, release_nb) -> list[tuple[str, float]]:
    """``(grade_id, points)`` of the hand-graded answers the student left exactly as released."""
    mine = {grade_id(c): c for c in student_nb.cells if grade_id(c)}
    out = []
    for cell in release_nb.cells:
        gid = grade_id(cell)
        if gid in mine and is_grade(cell) and is_solution(cell) and mine[gid].source.strip() == cell.source.strip():
            out.append((gid, float(cell.metadata["nbgrader"].get("points", 0))))
    return out


def structure_warnings(student_nb, release_nb) -> list[str]:
    """Deleted or edited test cells, renamed functions, changed cell types."""
    warnings = []
    mine = {grade_id(c): c for c in student_nb.cells if grade_id(c)}
    for cell in release_nb.cells:
        gid = grade_id(cell)
        if not gid:
            continue
        if gid not in mine:
            what = "test cell" if is_grade(cell) and not is_solution(cell) else "answer cell" if is_solution(cell) else "cell"
            warnings.append(f"the {what} {gid!r} was deleted; undo the deletion or start from a fresh copy")
        elif is_locked(cell) and mine[gid].source != cell.source:
            warnings.append(f"the read-only cell {gid!r} was edited; the grader uses the original, not your edits")
        elif mine[gid].cell_type != cell.cell_type:
            warnings.append(f"the cell {gid!r} was changed from {cell.cell_type} to {mine[gid].cell_type}")
    released, _ = defined_names(release_nb)
    kept, parsed = defined_names(student_nb)
    # A cell that does not parse defines nothing we can see: its syntax error is the finding, not a rename.
    for name in sorted(released - kept) if parsed else []:
        warnings.append(f"`{name}` is no longer defined: keep the function names given in the assignment")
    return warnings


def self_check(*, config: CourseConfig, path: Path, assignment_id: str | None = None,
               device: str | None = None) -> SelfCheck:
    """Run ``path`` as the grader would and report its visible tests, its first error and what would cost points.

    Without ``assignment_id`` the assignment is recognised from the notebook's cells; a notebook that
    fits several releases equally well raises :class:`AssignmentError` naming them.
    """
    nb = read_notebook(Path(path))
    if assignment_id:
        assignment = Assignment.load(config, assignment_id)
        spec = assignment.notebooks[0] if len(assignment.notebooks) == 1 else assignment.notebook(Path(path).stem)
        ensure_copy_of(config, spec, nb, Path(path))
    else:
        aid, name = find_assignment(config, nb)
        spec = Assignment.load(config, aid).notebook(name)
    release_nb = spec.release_nb()
    report = SelfCheck(notebook=str(path), assignment=spec.assignment,
                       warnings=structure_warnings(nb, release_nb), unanswered=unanswered(nb, release_nb))
    device = device_for(config, [spec], device)
    limits = config.limits_for(spec.assignment, device)
    if config.sandbox:
        sandbox.check()
    prepared = instrument(nb, release_nb, [], seed=config.seed, device=device)
    job = Job(student="self-check", assignment=spec.assignment, notebook=spec.name,
              source=nbformat.writes(prepared),
              parameters={"DEVICE": device, "SEED": config.seed, **limits.parameters},
              kernel_name=config.kernel_name, cell_timeout=limits.cell_timeout,
              notebook_timeout=limits.notebook_timeout, files=assignment_files(config, spec),
              sandbox=config.sandbox, policy=limits.policy(),
              env={"NBGRADER_EXECUTION": "validate"})  # what nbgrader validate sets
    with pools.lent(config, job):  # the warm sandbox a previous check left, when there is one
        result = run_job(job)
    report.problem = result.problem
    if not result.executed:
        return report
    executed = nbformat.reads(result.executed, as_version=4)
    _, errors, _ = read_run(executed)
    cells = student_cells(executed)
    # The first of the student's own cells to raise is the cause; test cells failing after it
    # with a NameError are its consequences, and only the cause is worth the student's time.
    first = next((e for e in errors if e.cell_index < len(cells) and _is_cause(e, cells[e.cell_index])), None)
    if first is not None:
        report.first_error = (f"cell {first.cell_index + 1}{_where(first, cells)}: "
                              f"{first.ename}: {first.evalue}").rstrip(": ")
    for index, cell in enumerate(cells):
        if not _is_test(cell):
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        ran = cell.get("execution_count") is not None
        if errors:
            message = f"{errors[0].get('ename')}: {errors[0].get('evalue')}".rstrip(": ")
            if first is not None and index > first.cell_index and errors[0].get("ename") == "NameError":
                message += f" (probably because cell {first.cell_index + 1} failed, see above)"
            report.tests.append((grade_id(cell), False, message))
        else:
            report.tests.append((grade_id(cell), ran, "" if ran else "did not run"))
    return report


BROKEN = ("ModuleNotFoundError", "ImportError", "SyntaxError", "IndentationError", "TabError")


def _is_cause(error, cell) -> bool:
    """An error worth showing first: a broken import or syntax anywhere, or any error in a cell the student edits.

    Not a failing test (that is a test result), not an answer still raising its stub's
    ``NotImplementedError`` (the tests show it), not a read-only cell failing because an
    answer it calls is wrong (the tests of that answer show it).
    """
    if error.ename == OUTPUT_LIMIT or _is_test(cell):
        return False
    if error.ename in BROKEN:
        return True
    return error.ename != "NotImplementedError" and not is_locked(cell)


def _is_test(cell) -> bool:
    return is_grade(cell) and not is_solution(cell) and cell.cell_type == "code"


def student_cells(executed) -> list:
    """The executed notebook's cells without those grading added (numbered as the student's notebook is)."""
    return [c for c in executed.cells if ROLE not in c.get("metadata", {})
            and not {"injected-parameters", "papermill-error-cell-tag"} & set(c.get("metadata", {}).get("tags", []))]


def _where(error, cells) -> str:
    """`` (answer cell 'x')``, `` (test cell 'x')`` or `` (after 'x')``: which question a failing cell belongs to."""
    cell = cells[error.cell_index] if error.cell_index < len(cells) else None
    gid = grade_id(cell) if cell is not None else ""
    if gid:
        kind = "answer cell" if is_solution(cell) else "test cell" if is_grade(cell) else "cell"
        return f" ({kind} {gid!r})"
    return f" (after {error.question!r})" if error.question else " (before the first question)"
