"""Turning probe records into verdicts, in the grader process.

The student's probe record and the reference record (the same probe run on the
instructor's solution) are decoded into plain values and compared by each
check's comparator. Nothing here runs student code.
"""

from __future__ import annotations

import logging

from ..errors import AssignmentError
from ..models import CheckResult, ExecutionResult, GradedSubmission
from .spec import Grader
from .values import Missing, Raised, decode

log = logging.getLogger(__name__)


def judge(grader: Grader, result: ExecutionResult, references: dict) -> GradedSubmission:
    """Every check of ``grader`` judged on ``result`` against ``references``."""
    if getattr(grader, "in_notebook", False):
        return judge_tests(grader, result)
    checks, passed_by_name = [], {}
    describes = {c.name: c.describe for q in grader.questions for c in q.checks}
    for question in grader.questions:
        reference = _reference(question, references)
        record = result.probes.get(question.grade_id)
        not_reached = _not_reached(result, question.grade_id) if record is None else ""
        probe_error = _probe_error(record) if record is not None else ""
        for check in question.checks:
            hint = False
            if not_reached or probe_error:
                message = not_reached or probe_error
            else:
                message = _prerequisite(check, record) or _required(check, passed_by_name, describes)
                if not message:
                    message, hint = _compare(check, record, reference)
            passed = not message
            passed_by_name[check.name] = passed
            if message and hint and check.hint:
                message = f"{message}. Hint: {check.hint}"
            checks.append(CheckResult(name=check.name, grade_id=question.grade_id,
                                      points=check.points if passed else 0.0, max_points=check.points,
                                      passed=passed, message=message, describe=check.describe))
    return _graded(result, checks)


def judge_tests(grader, result: ExecutionResult) -> GradedSubmission:
    """An nbgrader-format notebook: each test cell scored by nbgrader's rule (see :mod:`.nbtests`)."""
    from .nbtests import judge_tests as judge_nbgrader_tests

    return judge_nbgrader_tests(grader, result)


def _graded(result: ExecutionResult, checks: list) -> GradedSubmission:
    return GradedSubmission(student=result.student, assignment=result.assignment, notebook=result.notebook,
                            checks=tuple(checks), status=result.status, problems=tuple(problems(result)),
                            runtime=result.runtime, device=result.device, worker=result.worker)


def _reference(question, references: dict) -> dict:
    """The solution's record for a question; every value a check reads must be there and usable."""
    reference = references.get(question.grade_id)
    if reference is None or reference.get("error"):
        error = (reference or {}).get("error") or {}
        raise AssignmentError(f"the solution's probe for {question.grade_id!r} did not run: "
                              f"{error.get('ename', 'no record')}: {error.get('evalue', '')}",
                              hint="fix the probe or the solution")
    for check in question.checks:
        for key in (check.value_key, *check.needs):
            if key not in reference["values"]:
                raise AssignmentError(f"check {check.name!r} reads {key!r}, which its probe never records")
            ref = decode(reference["values"][key])
            if isinstance(ref, (Raised, Missing)):
                raise AssignmentError(f"on the solution, {key!r} {ref.describe()}",
                                      hint="fix the solution or the probe")
    return reference


def _required(check, passed: dict, describes: dict) -> str:
    """A check that counts only once the checks it requires passed (a property of a right result)."""
    failed = [name for name in check.requires if not passed.get(name)]
    if not failed:
        return ""
    what = "; ".join(describes.get(name) or name for name in failed)
    return f"not counted: this counts only once the main result is right ({what})"


def _prerequisite(check, record: dict) -> str:
    for key in check.needs:
        data = record.get("values", {}).get(key)
        value = decode(data) if data is not None else None
        if data is None or isinstance(value, (Raised, Missing)):
            what = value.describe() if data is not None else "did not run"
            return f"could not be checked: {what}"
    return ""


def _compare(check, record: dict, reference: dict) -> tuple[str, bool]:
    """The failure message ("" when it passes), and whether a hint helps (a value was produced)."""
    key = check.value_key
    ref = decode(reference["values"][key])
    if key not in record.get("values", {}):
        return "could not be checked: an earlier step of this question failed", False
    try:
        got = decode(record["values"][key])
        # a hint about the right answer's details helps only a student who returned something
        return check.compare(got, ref) or "", not isinstance(got, (Raised, Missing, type(None)))
    except Exception as exc:  # malformed data from a tampered kernel must not stop the batch
        log.warning("check %s could not compare: %r", check.name, exc)
        return "could not be checked: the value could not be read", False


def _probe_error(record: dict) -> str:
    if record.get("altered"):  # read_run found no record with the run's valid signature
        from ..execute.instrument import ALTERED

        return ALTERED
    error = record.get("error")
    if not error:
        return ""
    return (f"could not be checked: grading this question raised {error.get('ename')}: {error.get('evalue')} "
            "(was a name the question needs deleted or overwritten?)")


def _not_reached(result: ExecutionResult, grade_id: str) -> str:
    if result.status == "failed":
        return f"not graded: {result.problem}"
    if result.problem:
        return f"not graded: {result.problem}"
    return "not graded: the notebook stopped before this question"


def problems(result: ExecutionResult, names: dict | None = None) -> list[str]:
    """Notes for the student about how the run went.

    A cell is named by the question it belongs to (``names``: grade id -> heading; the grade id
    without it), never by its position, which a student cannot map to a cell of their notebook.
    """
    notes = []
    for error in result.cell_errors:
        where = _where(error, names or {})
        if error.ename == "CellTimeoutError":
            notes.append(f"{where} was stopped: {error.evalue}")
            continue
        if error.ename == "OutputLimit":
            notes.append(f"{where} {error.evalue}")
            continue
        evalue = _without_file(error) if error.ename in SYNTAX_ERRORS else error.evalue
        notes.append(f"{where} raised {error.ename}: {evalue}" if evalue else f"{where} raised {error.ename}")
    if result.problem:
        notes.append(result.problem)
    return notes


SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")


def _where(error, names: dict) -> str:
    if not error.question:
        return "A cell above the first question"
    name = names.get(error.question)
    return f"A cell under \"{name}\"" if name else f"A cell of question {error.question!r}"


def _without_file(error) -> str:
    """A syntax error's message without the kernel's temporary file name (``(3417439207.py, line 2)``)."""
    import re

    return re.sub(r"\s*\((?:[^(),]*[/\\])?[^(),/\\]*, line (\d+)\)\s*$", r" (line \1 of that cell)", error.evalue)
