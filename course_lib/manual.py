"""Hand grading offline: a score sheet (CSV) of the written answers, out of and back into the gradebook.

``course manual export AID --csv FILE`` writes one row per submitted student and hand-graded
question, with the score and comment the gradebook holds now; a teaching assistant fills it in
a spreadsheet, and ``course manual import AID --csv FILE`` writes it back as formgrader would
(nbgrader's ``manual_score`` and ``manual_comment``, ``needs_manual_grade`` cleared once scored).

Import checks every row before it writes anything: the student has a submission, the question
is a hand-graded cell of the assignment, the score is a number from 0 to the cell's points. One
bad row and nothing is written; the error lists every bad row by its line in the file. The rows
then go in as one transaction. A blank score or comment cell leaves what the gradebook holds.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from .assignment import Assignment
from .config import CourseConfig
from .errors import CourseError
from .gradebook import open_gradebook
from .late import absent_notebooks, refresh_totals
from .notebooks import grade_cells, question_of_answers

#: The columns import reads (``notebook`` as well, when questions of two notebooks share a name).
COLUMNS = ("student", "question", "score", "comment")
#: Written by export for the person filling the sheet; import ignores it.
POINTS = "max_score"
#: Written by export when a changed answer waits for review: the score standing until then (import ignores it).
EARLIER = "earlier_score"


class ScoreSheetError(CourseError):
    """A score sheet that cannot be imported; ``rows`` holds ``(line, why)`` for each bad row."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str = "", rows: tuple = ()):
        super().__init__(message, hint=hint)
        self.rows = tuple(rows)


@dataclass(frozen=True)
class Question:
    """One hand-graded cell of an assignment."""

    notebook: str
    name: str  # nbgrader grade id
    points: float
    comment_cell: str  # the solution cell nbgrader keeps its comment on ("" if none)


@dataclass(frozen=True)
class SheetRow:
    """A checked row of a score sheet, ready to write."""

    line: int
    student: str
    question: Question
    score: float | None  # None: leave the score as it is
    comment: str | None  # None: leave the comment as it is


@dataclass
class ManualReport:
    """What an import or export did."""

    assignment: str
    path: Path
    rows: int = 0
    scores: int = 0
    comments: int = 0
    students: list = field(default_factory=list)


def hand_graded_questions(assignment: Assignment) -> list[Question]:
    """Every hand-graded cell of the assignment, in notebook order (from its released notebooks)."""
    out = []
    for spec in assignment.notebooks:
        nb = spec.release_nb()
        owner = question_of_answers(nb)
        for gid, points, manual in grade_cells(nb):
            if not manual:
                continue
            answers = [s for s, q in owner.items() if q == gid]
            comment_cell = gid if gid in answers else (answers[0] if answers else "")
            out.append(Question(spec.name, gid, points, comment_cell))
    return out


def export_sheet(*, config: CourseConfig, assignment_id: str, path: Path) -> ManualReport:
    """Write the score sheet of ``assignment_id`` to ``path``: every submitted student x hand-graded question.

    ``score`` is the hand score if there is one, else the automatic one (0 for an answer left as
    released), else blank, and blank for a changed answer waiting for review (:func:`sheet_scores`);
    ``comment`` is the grader's comment; ``max_score`` and ``earlier_score`` are there to read.
    """
    assignment = Assignment.load(config, assignment_id)
    questions = hand_graded_questions(assignment)
    if not questions:
        raise CourseError(f"{assignment_id} has no hand-graded question",
                          hint="nothing to grade by hand: its scores are all automatic")
    several = len({q.notebook for q in questions}) > 1
    path = Path(path)
    report = ManualReport(assignment_id, path)
    with open_gradebook(config) as gb:
        grades, comments = _cells(gb, assignment_id, config)
        students = sorted({s for s, _, _ in grades})
        if not students:
            raise CourseError(f"the gradebook holds no submission of {assignment_id}",
                              hint=f"collect and autograde it first (course autograde {assignment_id})")
        rows, earlier = [], []
        for student in students:
            for q in questions:
                grade = grades.get((student, q.notebook, q.name))
                if grade is None:
                    continue  # that notebook was not submitted
                score, standing = sheet_scores(grade)
                comment = comments.get((student, q.notebook, q.comment_cell))
                rows.append([student, *([q.notebook] if several else []), q.name, score, f"{q.points:g}",
                             (comment.manual_comment or "") if comment is not None else ""])
                earlier.append(standing)
    header = ["student", *(["notebook"] if several else []), "question", "score", POINTS, "comment"]
    if any(earlier):
        header.append(EARLIER)
        rows = [[*row, standing] for row, standing in zip(rows, earlier)]
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")
    report.rows, report.students = len(rows), students
    return report


def sheet_scores(grade) -> tuple[str, str]:
    """The ``score`` cell of a hand-graded answer's row, and its ``earlier_score`` cell.

    An answer the student changed after a person scored it waits for review with that earlier score
    standing (as nbgrader keeps it): its ``score`` cell is left blank, since a sheet imported as it was
    exported would otherwise mark the new answer as graded with the score of the old one; the earlier
    score is shown beside it, to read.
    """
    if grade.needs_manual_grade and grade.manual_score is not None:
        return "", f"{grade.manual_score:g}"
    score = grade.manual_score if grade.manual_score is not None else grade.auto_score
    return ("" if score is None else f"{score:g}"), ""


def import_sheet(*, config: CourseConfig, assignment_id: str, path: Path) -> ManualReport:
    """Write a filled score sheet into the gradebook, all rows or none (see the module's description)."""
    assignment = Assignment.load(config, assignment_id)
    questions = hand_graded_questions(assignment)
    path = Path(path)
    header, records = _read(path)
    report = ManualReport(assignment_id, path)
    with open_gradebook(config) as gb:
        grades, comments = _cells(gb, assignment_id, config)
        checked, bad = _check(records, header, questions, grades, comments, assignment_id)
        if bad:
            shown = "\n".join(f"  line {line}: {why}" for line, why in bad)
            raise ScoreSheetError(f"{len(bad)} row(s) of {path} cannot be imported, so nothing was written:\n{shown}",
                                  hint="fix those rows and run the same command again "
                                       f"(`course manual export {assignment_id} --csv FILE` writes a sheet to fill)",
                                  rows=bad)
        try:
            for row in checked:
                key = (row.student, row.question.notebook, row.question.name)
                if row.score is not None:
                    grade = grades[key]
                    grade.manual_score = row.score
                    grade.needs_manual_grade = False  # as formgrader: scored by a person
                    report.scores += 1
                if row.comment is not None:
                    comments[(row.student, row.question.notebook, row.question.comment_cell)].manual_comment = \
                        row.comment
                    report.comments += 1
            gb.db.commit()
        except BaseException:
            gb.db.rollback()
            raise
    report.rows = len(checked)
    report.students = sorted({r.student for r in checked})
    # a hand score changes the total a late penalty is a share of: nbgrader computes it again
    refresh_totals(config, assignment_id, report.students)
    return report


def _cells(gb, assignment_id: str, config: CourseConfig) -> tuple[dict, dict]:
    """``(student, notebook, cell) -> Grade`` and ``-> Comment`` of every submission of the assignment.

    A notebook the student's current submission no longer holds (a resubmission without it) is left out:
    there is nothing of theirs to grade by hand.
    """
    from nbgrader.api import MissingEntry

    try:
        assignment = gb.find_assignment(assignment_id)
    except MissingEntry:
        raise CourseError(f"the gradebook has no assignment {assignment_id!r}",
                          hint=f"run `course autograde {assignment_id}` first") from None
    grades, comments = {}, {}
    for sub in assignment.submissions:
        gone = absent_notebooks(config, assignment_id, sub.student.id, [nb.name for nb in sub.notebooks])
        for nb in sub.notebooks:
            if nb.name in gone:
                continue
            for grade in nb.grades:
                grades[(sub.student.id, nb.name, grade.cell.name)] = grade
            for comment in nb.comments:
                comments[(sub.student.id, nb.name, comment.cell.name)] = comment
    return grades, comments


def _read(path: Path) -> tuple[list, list]:
    """The header (lower-cased) and ``(line, cells)`` of each non-blank record."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ScoreSheetError(f"cannot read {path}: {exc.strerror}", hint="check the file name") from None
    except UnicodeDecodeError as exc:
        raise ScoreSheetError(f"{path} is not UTF-8 text (byte {exc.start})",
                              hint="save the sheet as 'CSV UTF-8' in the spreadsheet program") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first and "," not in first else ","  # spreadsheets set to a comma-decimal locale
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        records = []
        for cells in reader:
            if any(c.strip() for c in cells):
                records.append((reader.line_num, cells))
    except csv.Error as exc:
        raise ScoreSheetError(f"{path} line {reader.line_num} is not valid CSV: {exc}",
                              hint="save the sheet as CSV again") from None
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ScoreSheetError(f"{path} has no {', '.join(map(repr, missing))} column(s)",
                              hint=f"its first line must name the columns {', '.join(COLUMNS)} "
                                   "(`course manual export AID --csv FILE` writes such a sheet)")
    return header, records


def _check(records, header, questions, grades, comments, assignment_id) -> tuple[list[SheetRow], list]:
    """The rows ready to write and ``(line, why)`` for each row that is not."""
    by_name: dict[str, list[Question]] = {}
    for q in questions:
        by_name.setdefault(q.name, []).append(q)
    graded_cells = {cell for _, _, cell in grades}
    submitted = {s for s, _, _ in grades}
    manual_names = ", ".join(dict.fromkeys(q.name for q in questions)) or "none"
    col = {name: header.index(name) for name in (*COLUMNS, "notebook") if name in header}
    seen: dict[tuple, int] = {}
    checked, bad = [], []
    for line, cells in records:
        def cell(name: str) -> str:
            i = col.get(name)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        student, name, notebook = cell("student"), cell("question"), cell("notebook")
        why = []
        if not student:
            why.append("no student")
        elif student not in submitted:
            why.append(f"student {student!r} has no submission of {assignment_id} in the gradebook")
        question = None
        if not name:
            why.append("no question")
        else:
            matches = [q for q in by_name.get(name, []) if not notebook or q.notebook == notebook]
            if not matches:
                kind = ("is graded automatically, not by hand" if name in graded_cells
                        else f"is not a question of {assignment_id}")
                why.append(f"question {name!r}{f' of notebook {notebook!r}' if notebook else ''} {kind} "
                           f"(hand-graded: {manual_names})")
            elif len(matches) > 1:
                why.append(f"question {name!r} is in notebooks {', '.join(q.notebook for q in matches)}: "
                           "add a notebook column")
            else:
                question = matches[0]
        score, score_text, comment_text = None, cell("score"), cells[col["comment"]] if col["comment"] < len(cells) \
            else ""
        if score_text:
            score = _number(score_text)
            if score is None:
                why.append(f"score {score_text!r} is not a number")
            elif score < 0:
                why.append(f"score {score_text} is negative")
            elif question is not None and score > question.points + 1e-9:
                why.append(f"score {score_text} is over the {question.points:g} point(s) of {question.name!r}")
        comment = comment_text.strip() or None
        if question is not None and student in submitted and not why:
            key = (student, question.notebook, question.name)
            if key not in grades:
                why.append(f"student {student!r} did not submit notebook {question.notebook!r}")
            elif comment is not None and (student, question.notebook, question.comment_cell) not in comments:
                why.append(f"question {name!r} has no answer cell to keep a comment on")
            elif key in seen:
                why.append(f"the same student and question as line {seen[key]}")
            else:
                seen[key] = line
        if why:
            bad.append((line, "; ".join(why)))
        else:
            checked.append(SheetRow(line, student, question, score, comment))
    return checked, bad


def _number(text: str) -> float | None:
    text = text.replace(",", ".") if "," in text and "." not in text else text
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
