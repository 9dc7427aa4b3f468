"""nbgrader's gradebook: the only place scores are kept.

The coordinator is the only writer. Every graded submission is committed as soon
as it is judged, so an interrupted batch keeps what it finished. nbgrader's own
``formgrader`` and ``nbgrader export`` read what is written here.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

from .assignment import NotebookSpec
from .config import CourseConfig
from .errors import GradebookError
from .models import GradedSubmission
from .notebooks import grade_id, is_solution


def tools_on_path() -> None:
    # nbgrader runs the `alembic` command when it creates a gradebook; it lives next to our interpreter.
    bindir = os.path.dirname(sys.executable)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


@contextlib.contextmanager
def open_gradebook(config: CourseConfig, *, create: bool = False):
    """nbgrader's :class:`~nbgrader.api.Gradebook` for this course, closed on exit.

    Only ``create`` makes a new gradebook (autograde, the roster); a command that reads
    grades raises :class:`GradebookError` when there is none rather than reading an empty
    one it just made. Database failures inside the block (a read-only file, a lost
    connection, a full disk) become :class:`GradebookError` too; what was committed stays.
    """
    tools_on_path()
    from nbgrader.api import Gradebook, InvalidEntry
    from sqlalchemy.exc import SQLAlchemyError

    if not create:
        require_gradebook(config)
    try:
        gb = Gradebook(config.db_url, config.course_id)
    except (SQLAlchemyError, InvalidEntry, ImportError) as exc:
        raise gradebook_error(config, exc, "open") from None
    with gb:
        try:
            yield gb
        except (SQLAlchemyError, InvalidEntry) as exc:  # nbgrader wraps some database errors in InvalidEntry
            raise gradebook_error(config, exc, "use") from None


def require_gradebook(config: CourseConfig, assignment_id: str = "AID") -> None:
    """Raise :class:`GradebookError` unless ``config.db_url`` holds an nbgrader gradebook (creating nothing)."""
    from pathlib import Path

    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    url = make_url(config.db_url)
    hint = (f"run `course autograde {assignment_id}` first, or name the gradebook it wrote: --db-url URL or "
            "c.CourseDirectory.db_url in nbgrader_config.py")
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        database = url.database.removeprefix("file:").split("?")[0] if url.query.get("uri") else url.database
        if not Path(database).is_file():
            raise GradebookError(f"no gradebook at {database}", hint=hint)
    try:
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                tables = set(inspect(connection).get_table_names())
        finally:
            engine.dispose()
    except (SQLAlchemyError, ImportError) as exc:
        raise gradebook_error(config, exc, "open") from None
    if "assignment" not in tables or "grade" not in tables:
        raise GradebookError(f"{config.shown_db_url} holds no nbgrader gradebook", hint=hint)


def gradebook_error(config: CourseConfig, exc: BaseException, doing: str) -> GradebookError:
    """A database failure as one line: the gradebook (password hidden), the database's reason, what to do."""
    original = getattr(exc, "orig", None) or getattr(exc.__cause__, "orig", None)
    text = str(exc).strip()
    reason = (" ".join(str(original).split()) if original is not None else text.splitlines()[0] if text
              else type(exc).__name__)
    where = config.shown_db_url
    password = getattr(getattr(exc, "url", None), "password", None) or _password(config.db_url)
    if password:
        reason = reason.replace(str(password), "***")
    low = reason.lower()
    if isinstance(exc, ImportError):
        return GradebookError(f"cannot {doing} the gradebook {where}: no database driver ({reason})",
                              hint="install the driver (PostgreSQL: pip install 'psycopg[binary]'), or make setup")
    if "readonly" in low or "read-only" in low:
        hint = "make the gradebook file and its folder writable by you, then run the command again"
    elif "disk is full" in low or "no space" in low:
        hint = "free some disk space and run the command again; what was committed is kept"
    elif "password" in low or "authentication" in low or "role" in low:
        hint = "check the user name and password in the gradebook URL (--db-url or c.CourseDirectory.db_url)"
    elif "does not exist" in low and "database" in low:
        hint = "create the database (createdb NAME), or fix the name in the gradebook URL"
    elif "connect" in low or "refused" in low or "timeout" in low or "translate host" in low:
        hint = "check the host and port in the gradebook URL, and that the database server is running"
    elif "no such table" in low or "unable to open" in low:
        hint = ("the gradebook file was deleted, moved or replaced while in use; run the command again "
                "(submissions not recorded are graded again)")
    else:
        hint = "check the gradebook URL (--db-url or c.CourseDirectory.db_url) and the database server"
    return GradebookError(f"cannot {doing} the gradebook {where}: {reason[:300]}", hint=hint)


def _password(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password
    except Exception:
        return None


def ensure_notebook(config: CourseConfig, spec: NotebookSpec) -> None:
    """Record the assignment's notebook and cells in the gradebook, as ``generate_assignment`` does.

    nbgrader's own ``SaveCells`` preprocessor reads the released notebook (which
    carries nbgrader's checksums), so a gradebook made on another machine or given
    with ``--db-url`` knows every grade cell before the first score arrives.
    """
    tools_on_path()
    from nbgrader.api import MissingEntry
    from nbgrader.preprocessors import SaveCells

    due = config.due_utc(spec.assignment)
    with open_gradebook(config, create=True) as gb:
        gb.update_or_create_assignment(spec.assignment, duedate=due.replace(tzinfo=None) if due else None)
        try:
            known = {c.name for c in gb.find_notebook(spec.name, spec.assignment).grade_cells}
        except MissingEntry:
            known = None
    wanted = {gid for gid, _, _ in spec.grade_cells()}
    if known == wanted:
        return
    # nbgrader's generate_assignment stores each cell as it generated it (hidden tests and AUTOTEST
    # expansions included): the tests nbgrader grades with. Its release goes to a temporary folder.
    import tempfile

    from .release import _generate

    try:
        with tempfile.TemporaryDirectory(prefix="course-generate-") as tmp:
            _generate(config, spec.assignment, release_directory=tmp)
        return
    except Exception:  # noqa: BLE001 - the released notebook still gives nbgrader every grade cell
        resources = {"nbgrader": {"notebook": spec.name, "assignment": spec.assignment, "db_url": config.db_url}}
        SaveCells().preprocess(spec.release_nb(), resources)


def record(config: CourseConfig, spec: NotebookSpec, graded: GradedSubmission, *,
           timestamp: str | None = None, student_nb=None, release_nb=None, gradebook=None,
           previous_nb=None) -> None:
    """Write one judged submission into the gradebook and commit it.

    Autograded cells get ``auto_score``; manually graded cells are left for
    formgrader (``needs_manual_grade``). A solution cell the student never changed
    gets nbgrader's "No response." comment; failed check messages go into the
    solution cell's automatic comment so formgrader shows them to the grader.
    A batch passes its open ``gradebook`` (nbgrader's ``Gradebook``); each
    submission is still committed on its own.

    ``previous_nb``: the student's notebook as it was last graded (``autograded/``). A written answer a person
    already scored stays scored, not waiting for review, when the student's answer is still the one scored
    (grading again after a test was mended, say); nbgrader's autograde marks it for review whatever changed,
    which would make every export call the student's grade pending. A changed answer (a resubmission) is marked
    for review, as nbgrader marks it, and its earlier score stands until a person grades it again: grading it
    again before then leaves it marked.
    """
    from nbgrader.api import Comment, Grade, MissingEntry
    from sqlalchemy.orm import joinedload

    when = _parse_time(timestamp)
    scores = graded.question_scores()
    messages = _messages_by_solution(graded, release_nb) if release_nb is not None else {}
    unchanged = _unchanged_solutions(student_nb, release_nb) if student_nb is not None else set()
    review = {c.grade_id for c in graded.checks if c.needs_review}
    scored_as_is = _same_answers(previous_nb, student_nb) if previous_nb is not None and student_nb is not None \
        else set()
    opened = contextlib.nullcontext(gradebook) if gradebook is not None else open_gradebook(config, create=True)
    with opened as gb, warnings.catch_warnings():
        # nbgrader's add_submission builds rows before adding them to the session; SQLAlchemy 2
        # warns about the autoflush in between, and the rows are added right after.
        warnings.filterwarnings("ignore", message=".*not in session, add operation along.*")
        gb.update_or_create_student(graded.student)
        try:
            submission = gb.find_submission(graded.assignment, graded.student)
            if when is not None:
                submission.timestamp = when
        except MissingEntry:
            gb.add_submission(graded.assignment, graded.student, **({"timestamp": when} if when else {}))
        notebook = gb.find_submission_notebook(graded.notebook, graded.assignment, graded.student)
        # the rows with their cells in one query each (one query per cell otherwise)
        grades = gb.db.query(Grade).options(joinedload(Grade.cell)).filter(Grade.notebook_id == notebook.id)
        comments = gb.db.query(Comment).options(joinedload(Comment.cell)).filter(Comment.notebook_id == notebook.id)
        for grade in grades:
            name = grade.cell.name
            if name in review:  # no automatic score (a deleted test cell): nbgrader leaves it to a person
                grade.auto_score = None
                grade.needs_manual_grade = True
            elif name in scores:
                grade.auto_score = scores[name][0]
                grade.needs_manual_grade = grade.manual_score is not None
            elif name in unchanged:  # a written answer left as released: nbgrader scores it 0 by itself
                grade.auto_score = 0.0
                grade.needs_manual_grade = grade.manual_score is not None
            else:  # a cell people grade (written answers): formgrader's job, as nbgrader marks it
                grade.auto_score = None
                # a person's score of this very answer is left as they left it (scored, or still to review: a
                # changed answer graded again before anyone looked); any other answer is for a person
                as_is = grade.manual_score is not None and name in scored_as_is
                grade.needs_manual_grade = bool(grade.needs_manual_grade) if as_is else True
        for comment in comments:
            name = comment.cell.name
            if name in unchanged:
                comment.auto_comment = "No response."
            else:
                comment.auto_comment = messages.get(name) or None
        gb.db.commit()
        # nbgrader's late-penalty preprocessor opens the gradebook again: only when there is a penalty to
        # set or one to clear
        late = (notebook.assignment.total_seconds_late or 0) > 0 or bool(notebook.late_submission_penalty)
        if gradebook is not None:
            # a batch's session would otherwise keep every submission it loaded (through their relationships)
            gb.db.expunge_all()
    if late:
        from .late import apply_late_penalty

        apply_late_penalty(config, graded.assignment, graded.notebook, graded.student)


def _parse_time(value: str | None):
    if not value:
        return None
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(value)
    except Exception:
        return None


def _messages_by_solution(graded: GradedSubmission, release_nb) -> dict[str, str]:
    """Failed-check messages keyed by the solution cell that precedes each question's grade cell."""
    owner, current = {}, ""
    for cell in release_nb.cells:
        if is_solution(cell):
            current = grade_id(cell)
        elif grade_id(cell):
            owner[grade_id(cell)] = current
    out: dict[str, list[str]] = {}
    for check in graded.checks:
        if not check.passed and owner.get(check.grade_id):
            out.setdefault(owner[check.grade_id], []).append(f"{check.name}: {check.message}")
    return {k: "\n".join(v) for k, v in out.items()}


def _same_answers(previous_nb, student_nb) -> set[str]:
    """Grade ids of the solution cells whose answer (type and source) is the same in both notebooks.

    Every cell of an id counts: of a cell copied with its metadata, nbgrader grades the last copy (its
    ``DeduplicateIds``), which may hold the new answer while the first is left as it was.
    """
    def answers(nb) -> dict:
        out: dict[str, list] = {}
        for cell in nb.cells:
            if is_solution(cell) and grade_id(cell):
                out.setdefault(grade_id(cell), []).append((cell.cell_type, cell.source))
        return out

    before, now = answers(previous_nb), answers(student_nb)
    return {gid for gid, answer in now.items() if before.get(gid) == answer}


def _unchanged_solutions(student_nb, release_nb=None) -> set[str]:
    """Solution cells the student left exactly as released (nbgrader's checksum, taken from the release:
    a checksum in the student's own metadata could have been edited).

    As nbgrader's ``OverwriteCells`` does before it compares, the cell's ``locked`` flag and points are the
    release's: a student who edited only those left the answer as released.
    """
    import copy

    from nbgrader.utils import compute_checksum, is_grade as nb_is_grade, is_solution as nb_is_solution

    released, originals = {}, {}
    for cell in release_nb.cells if release_nb is not None else []:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") and meta.get("checksum"):
            released[meta["grade_id"]] = meta["checksum"]
            originals[meta["grade_id"]] = meta
    out = set()
    for cell in student_nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not isinstance(meta, dict) or not nb_is_solution(cell):
            continue
        checksum = released.get(meta.get("grade_id")) if release_nb is not None else meta.get("checksum")
        original = originals.get(meta.get("grade_id"))
        if original is not None:
            cell = copy.deepcopy(cell)
            cell.metadata.nbgrader["locked"] = original.get("locked", False)
            if nb_is_grade(cell) and "points" in original:
                cell.metadata.nbgrader["points"] = original["points"]
        try:
            same = bool(checksum) and checksum == compute_checksum(cell)
        except (KeyError, TypeError, ValueError):  # points that are no number: not as released
            same = False
        if same:
            out.add(meta.get("grade_id"))
    return out


def waiting_cells(nb) -> set[str]:
    """Grade cells of a submitted notebook that no person has scored yet (nbgrader counts them as 0 meanwhile).

    nbgrader keeps ``needs_manual_grade`` on a cell a grader already scored whenever it is autograded again
    (to be reviewed): that cell has its score, the grader's, and is not waiting.
    """
    return {g.cell.name for g in nb.grades if g.needs_manual_grade and g.manual_score is None}


def notebook_scores(config: CourseConfig, assignment: str, notebook: str, student: str) -> dict:
    """``grade_id -> (score, max_score)`` and the total, as nbgrader computes them.

    ``comments`` holds what a grader typed in formgrader (nbgrader's ``manual_comment``),
    by solution cell; the automatic comments are the failed checks' messages, shown with the checks.
    ``pending``: the cells still waiting for a person (:func:`waiting_cells`).
    """
    with open_gradebook(config) as gb:
        nb = gb.find_submission_notebook(notebook, assignment, student)
        cells = {g.cell.name: (g.score, g.max_score) for g in nb.grades}
        return {"cells": cells, "score": nb.score, "max_score": nb.max_score, "comments": manual_comments(nb),
                "pending": waiting_cells(nb),
                "needs_manual_grade": nb.needs_manual_grade,
                "late_penalty": nb.late_submission_penalty or 0.0,
                "seconds_late": nb.assignment.total_seconds_late}


def manual_comments(submitted_notebook) -> dict[str, str]:
    """``solution cell -> comment`` a grader wrote on one submitted notebook (blank ones left out)."""
    return {c.cell.name: c.manual_comment.strip() for c in submitted_notebook.comments
            if c.manual_comment and c.manual_comment.strip()}


def recorded_scores(config: CourseConfig, assignment: str, notebook: str, gradebook=None) -> dict[str, dict]:
    """``student -> {grade cell: auto_score}`` of what the gradebook holds for one notebook (one query).

    What a rerun trusts: a submission is graded only if these are its scores, whatever
    ``autograded/`` says (the gradebook may have been deleted, replaced or changed by ``--db-url``).
    Cells without an automatic score are left out.
    """
    from nbgrader.api import (Assignment, BaseCell, Grade, Notebook, Student, SubmittedAssignment,
                              SubmittedNotebook)

    opened = contextlib.nullcontext(gradebook) if gradebook is not None else open_gradebook(config)
    out: dict[str, dict] = {}
    with opened as gb:
        rows = (gb.db.query(Student.id, BaseCell.name, Grade.auto_score)
                .select_from(Grade)
                .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
                .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
                .join(Assignment, Notebook.assignment_id == Assignment.id)
                .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
                .join(Student, SubmittedAssignment.student_id == Student.id)
                .join(BaseCell, Grade.cell_id == BaseCell.id)
                .filter(Assignment.name == assignment, Notebook.name == notebook, Grade.auto_score.isnot(None))
                .all())
    for student, cell, score in rows:
        out.setdefault(student, {})[cell] = float(score)
    return out
