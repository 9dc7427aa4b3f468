"""Check: the student's self-check. Runs the notebook as the grader would and reports
the visible tests, plus structural problems that would cost points at grading time."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .assignment import Assignment, ensure_copy_of, released_match
from .config import CourseConfig
from .errors import AssignmentError
from .execute import sandbox
from .execute.instrument import instrument
from .execute.jobs import assignment_files, resolve_device
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

    @property
    def ok(self) -> bool:
        return not self.problem and all(passed for _, passed, _ in self.tests)


def find_assignment(config: CourseConfig, nb) -> tuple[str, str]:
    """``(assignment id, notebook name)`` whose released notebook shares the most cell ids with ``nb``."""
    best = released_match(config, nb)
    if best is None:
        raise AssignmentError("this notebook matches no released assignment (its nbgrader cells are gone)",
                              hint="pass --assignment AID, or start again from the released notebook")
    return best


def defined_names(nb) -> set[str]:
    """Functions and classes defined at the top level of the notebook's code cells."""
    names = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        names |= {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    return names


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
    missing = sorted(defined_names(release_nb) - defined_names(student_nb))
    for name in missing:
        warnings.append(f"`{name}` is no longer defined: keep the function names given in the assignment")
    return warnings


def self_check(*, config: CourseConfig, path: Path, assignment_id: str | None = None,
               device: str | None = None) -> SelfCheck:
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
                       warnings=structure_warnings(nb, release_nb))
    device = resolve_device(device or config.device)
    limits = config.limits_for(spec.assignment)
    if config.sandbox:
        sandbox.check()
    prepared = instrument(nb, release_nb, [], seed=config.seed, device=device)
    result = run_job(Job(student="self-check", assignment=spec.assignment, notebook=spec.name,
                         source=nbformat.writes(prepared), parameters={"DEVICE": device, "SEED": config.seed},
                         kernel_name=config.kernel_name, cell_timeout=limits.cell_timeout,
                         notebook_timeout=limits.notebook_timeout, files=assignment_files(config, spec),
                         sandbox=config.sandbox, policy=limits.policy(),
                         env={"NBGRADER_EXECUTION": "validate"}))  # what nbgrader validate sets
    report.problem = result.problem
    if not result.executed:
        return report
    executed = nbformat.reads(result.executed, as_version=4)
    for cell in executed.cells:
        if not (is_grade(cell) and not is_solution(cell) and cell.cell_type == "code"):
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        ran = cell.get("execution_count") is not None
        if errors:
            message = f"{errors[0].get('ename')}: {errors[0].get('evalue')}".rstrip(": ")
            report.tests.append((grade_id(cell), False, message))
        else:
            report.tests.append((grade_id(cell), ran, "" if ran else "did not run"))
    return report
