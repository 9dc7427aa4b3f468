"""Grades and feedback back to Moodle: the filled worksheet, a feedback zip and course-wide grades.

The worksheet written is the instructor's own download with two kinds of cells
filled for every graded student, ``Grade`` (the gradebook total after the late
penalty, hand-graded points included, scaled to the row's ``Maximum Grade`` and
clamped to it) and ``Feedback comments`` (short HTML, no backslash: Moodle's reader
takes it as an escape character). Every other cell, the column set and the rows of
students without a graded submission stay byte for byte as downloaded. A comment
someone wrote in Moodle is kept, with the course's summary after it (Moodle's
upload replaces the stored comment with the cell), so a re-upload never clears it. Members of a team
submission were each collected with the team's notebook, so each row gets the grade.

Course-wide grades go out as a CSV (matched by email) or in Moodle's XML grade
import format (``grade/import/xml``: ``<results><result>`` with the grade item's ID
number, the user's ID number and the score), which needs no column mapping. Both
imports store the number as points of the grade item (bounded by its maximum), so
each grade is written on its item's scale: the maximum given on the command line,
else ``c.Course.assignments[aid]["moodle_max_grade"]``, else the ``Maximum Grade``
of the assignment's latest worksheet the course read, else Moodle's default of 100
(with a warning).
"""

from __future__ import annotations

import csv
import html
import io
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from xml.etree import ElementTree

from ..assignment import Assignment
from ..config import CourseConfig
from ..errors import CourseError
from ..gradebook import manual_comments, open_gradebook, waiting_cells
from ..late import absent_notebooks, describe_policy, refresh_totals
from . import worksheet as ws
from .names import feedback_entry
from .roster import (SCALE, id_numbers, participant_map, record_maximum, record_scale, recorded_maximums,
                     shared_ids)


@dataclass(frozen=True)
class Total:
    """One student's assignment total as nbgrader's gradebook has it."""

    student: str
    score: float  # before the late penalty
    max_score: float
    late_penalty: float
    seconds_late: float
    notebooks: dict  # notebook -> {grade_id: (score, max_score)}
    needs_manual_grade: bool
    comments: dict = field(default_factory=dict)  # notebook -> {solution cell: what a grader wrote}
    pending: dict = field(default_factory=dict)  # notebook -> grade cells still waiting for a person
    absent: frozenset = frozenset()  # notebooks not in the student's current submission (scored 0)

    @property
    def final(self) -> float:
        return max(0.0, self.score - self.late_penalty)


@dataclass
class ExportReport:
    """What an export wrote and what it left alone."""

    assignment: str
    out: Path
    filled: list = field(default_factory=list)  # (student, participant, grade text, maximum grade text)
    untouched: int = 0  # rows of students without a graded submission
    pending: list = field(default_factory=list)  # students whose total still waits for hand grading
    held_back: list = field(default_factory=list)  # of those, the ones whose row was left as it was (skip_pending)
    locked: list = field(default_factory=list)  # students whose grade Moodle's upload cannot change (row left alone)
    unmatched: list = field(default_factory=list)  # (identifier, full name, why)
    missing: list = field(default_factory=list)  # graded students with no row in the worksheet
    feedback_files: int = 0
    warnings: list = field(default_factory=list)


def assignment_totals(config: CourseConfig, assignment_id: str) -> dict[str, Total]:
    """Every submitted student's total, brought up to date first (:func:`~course_lib.late.refresh_totals`:
    the configured due date, notebooks a resubmission dropped, late penalties of the current scores)."""
    with open_gradebook(config) as gb:
        try:
            gb.find_assignment(assignment_id)
        except Exception as exc:
            raise CourseError(f"the gradebook has no assignment {assignment_id!r}",
                              hint=f"run `course autograde {assignment_id}` first") from exc
    refresh_totals(config, assignment_id)
    out = {}
    with open_gradebook(config) as gb:
        assignment = gb.find_assignment(assignment_id)
        for sub in assignment.submissions:
            out[sub.student.id] = Total(
                student=sub.student.id, score=sub.score, max_score=assignment.max_score,
                late_penalty=sub.late_submission_penalty or 0.0, seconds_late=sub.total_seconds_late,
                notebooks={nb.name: {g.cell.name: (g.score, g.max_score) for g in nb.grades} for nb in sub.notebooks},
                needs_manual_grade=sub.needs_manual_grade,
                comments={nb.name: manual_comments(nb) for nb in sub.notebooks},
                pending={nb.name: waiting_cells(nb) for nb in sub.notebooks},
                absent=frozenset(absent_notebooks(config, assignment_id, sub.student.id,
                                                  [nb.name for nb in sub.notebooks])))
    return out


def scaled(total: Total, maximum: float) -> float:
    """The total on the worksheet's scale, rounded to two decimals and clamped to ``[0, maximum]``."""
    return on_scale(total.final, total.max_score, maximum)


def on_scale(final: float, max_score: float, maximum: float) -> float:
    """``final`` of ``max_score`` points as points out of ``maximum``, two decimals, clamped to ``[0, maximum]``.

    Rounded as Moodle rounds (PHP's ``round``): half away from zero on the number's 15 significant digits.
    Python's ``round`` gives 5.62 for 5.625 (half to even) and 7.42 for 8.25 less 10 % (the binary
    7.42499...), a hundredth below the grade Moodle would show for the same total.
    """
    if max_score <= 0:
        return 0.0
    value = Decimal(f"{final * maximum / max_score:.15g}").quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return min(maximum, max(0.0, float(value)))


def summary_start(assignment_id: str) -> str:
    """How :func:`comment_html` begins, for finding an earlier export's summary in a comment."""
    return f"<p><strong>{assignment_id}: "


def kept_comment(existing: str, assignment_id: str) -> str:
    """The part of a downloaded ``Feedback comments`` cell that a person wrote in Moodle.

    Moodle's upload replaces the stored comment with the cell, so a marker's comment typed in Moodle
    must be written back; an earlier export's summary (from its start on) is not kept, so a second
    export does not repeat it.
    """
    at = existing.find(summary_start(assignment_id))
    return (existing if at < 0 else existing[:at]).strip()


def comment_html(config: CourseConfig, assignment: Assignment, total: Total) -> str:
    """Short HTML for Moodle's ``Feedback comments``: the total, each question with a grader's comment
    beside it (escaped, its line breaks as ``<br>``), the late penalty."""
    from ..feedback import comments_by_question, duration, question_titles

    parts = [f"{summary_start(assignment.id)}{total.final:g} / {total.max_score:g} points</strong></p>"]
    for spec in assignment.notebooks:
        cells = total.notebooks.get(spec.name)
        if spec.name in total.absent and len(assignment.notebooks) > 1:
            parts.append(f"<p>{html.escape(spec.name)}.ipynb: not submitted (0 points)</p>")
            continue
        if not cells:
            continue
        release_nb = spec.release_nb()
        titles = question_titles(release_nb)
        comments = comments_by_question(release_nb, total.comments.get(spec.name, {}))
        lines = []
        for gid, title in titles.items():
            score, most = cells.get(gid, (None, 0.0))
            pending = score is None or gid in total.pending.get(spec.name, ())
            shown = "not graded yet" if pending else f"{score:g} / {most:g}"
            lines.append(f"{html.escape(title)}: {shown}" + "".join(
                f"<br><em>{comment_text(text)}</em>" for text in comments.get(gid, [])))
        parts.append("<p>" + "<br>".join(lines) + "</p>")
    if total.late_penalty:
        parts.append(f"<p>Submitted {duration(total.seconds_late)} late: &minus;{total.late_penalty:g} points "
                     f"({html.escape(describe_policy(config.late_for(assignment.id)))}).</p>")
    if total.needs_manual_grade:
        parts.append("<p>Some answers are still to be graded by hand.</p>")
    return "".join(parts)


def comment_text(text: str) -> str:
    """A grader's plain-text comment as Moodle comment HTML: escaped, line breaks as ``<br>``."""
    lines = html.escape(text.strip()).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br>".join(lines)


def pending_warning(assignment_id: str, students: list, skipped: bool) -> str:
    """The warning about totals that still wait for hand grading ("" when there are none)."""
    if not students:
        return ""
    if skipped:
        return (f"{len(students)} student(s) of {assignment_id} still have answers to be graded by hand; their "
                f"grades were left out (--skip-pending): {', '.join(students)}")
    return (f"{len(students)} student(s) of {assignment_id} still have answers to be graded by hand, so their "
            f"grade is partial and will change: {', '.join(students)}; grade them first (course formgrade or "
            "course manual), or pass --skip-pending to leave them out until then")


def export_worksheet(*, config: CourseConfig, assignment_id: str, worksheet: Path, out: Path,
                     feedback_zip: Path | None = None, skip_pending: bool = False) -> ExportReport:
    """Fill the instructor's worksheet for ``assignment_id`` into ``out`` (and a feedback zip).

    ``skip_pending`` leaves the rows of students whose total still waits for hand grading as they were."""
    assignment = Assignment.load(config, assignment_id)
    worksheet, out = Path(worksheet), Path(out)
    if out.resolve() == worksheet.resolve():
        raise CourseError(f"{out} is the worksheet itself", hint="write the filled worksheet to a new file (-o)")
    sheet = ws.Worksheet.read(worksheet, headers=ws.Headers.of(config.moodle_headers))
    for column in (ws.GRADE, ws.GRADED_AT):
        sheet.index(column)  # Moodle's upload needs both: a clear error naming the header and the setting
    if ws.graded_on_scale(sheet):
        record_scale(config, assignment_id)
        raise CourseError(scale_refusal(assignment_id, f"its worksheet {worksheet.name} has a {ws.SCALE!r} column "
                                                       f"and no {ws.MAX_GRADE!r}"),
                          hint="in Moodle, set the assignment's grade type to Point (Settings > Grade > Type), "
                               "download the worksheet again and export to it; nothing was written")
    report = ExportReport(assignment_id, out)
    scale_known = sheet.has(ws.MAX_GRADE)
    known_maximum = None  # without the column: the grade item's maximum as the course knows it
    if not scale_known:  # a column we only read: warn, never refuse
        no_column = f"the worksheet has no {' or '.join(map(repr, sheet.headers.spellings(ws.MAX_GRADE)))} column"
        known_maximum, source = item_maximum_known(config, assignment_id)
        if known_maximum is None:
            report.warnings.append(f"{no_column}: grades are written in points out of the assignment's own total; "
                                   f"Moodle skips a grade above its maximum (set {ws.SETTING} if the site names "
                                   f"that column otherwise, or c.Course.assignments[{assignment_id!r}]"
                                   "['moodle_max_grade'])")
        else:
            report.warnings.append(f"{no_column}: grades are written in points out of {known_maximum:g}, the grade "
                                   f"item's maximum from {source}")
    if sheet.delimiter != ",":
        report.warnings.append(f"the worksheet's cells are separated by {sheet.delimiter!r}, not Moodle's comma (a "
                               "spreadsheet program saved it): the filled worksheet keeps that separator, so choose "
                               f"{ws.DELIMITERS[sheet.delimiter]!r} as the separator in Moodle's upload form")
    if not sheet.has(ws.FEEDBACK):
        report.warnings.append(f"the worksheet has no {ws.FEEDBACK!r} column (feedback comments are off for this "
                               "assignment in Moodle): grades only")
    if ws.maximum_of(sheet) is not None:
        record_maximum(config, assignment_id, ws.maximum_of(sheet))
    totals = assignment_totals(config, assignment_id)
    by_pid = participant_map(config, assignment_id)
    with open_gradebook(config) as gb:
        owners = Counter(s.email.lower() for s in gb.students if s.email)
        # an email several accounts share (allowaccountssameemail) names none of them
        by_email = {s.email.lower(): s.id for s in gb.students if s.email and owners[s.email.lower()] == 1}
    rows_of = Counter(sheet.get(row, ws.EMAIL).strip().lower() for row in sheet.rows)
    by_email = {email: sid for email, sid in by_email.items() if rows_of[email] <= 1}
    recorded = {sid: pid for pid, sid in by_pid.items()}
    ambiguous = shared_ids(by_pid)
    seen, feedback_rows, unreadable = set(), [], []
    for row in sheet.rows:
        identifier = sheet.get(row, ws.IDENTIFIER)
        pid = ws.participant_id(identifier)
        email = sheet.get(row, ws.EMAIL).strip().lower()
        student = by_pid.get(pid) or by_email.get(email)
        if student in ambiguous:
            report.unmatched.append((identifier, sheet.get(row, ws.FULL_NAME),
                                     f"participants {', '.join(ambiguous[student])} have the same email and the "
                                     "same full name, so the course cannot tell whose grade is whose; row left as "
                                     "it was"))
            continue
        if student is None:
            report.unmatched.append((identifier, sheet.get(row, ws.FULL_NAME),
                                     "not in the roster (collect this assignment with --moodle-zip and this "
                                     "worksheet first); row left as it was"))
            continue
        if pid not in by_pid and student in recorded:
            # a participant id is Moodle's per (assignment, user): another id for the same person is another
            # assignment's, and Moodle's upload would give the grade to that assignment
            report.unmatched.append((identifier, sheet.get(row, ws.FULL_NAME),
                                     f"{student} is participant {recorded[student]} in {assignment_id}, so this row "
                                     "is another assignment's (is the worksheet this assignment's?); row left as "
                                     "it was"))
            continue
        total = totals.get(student)
        if total is None:
            report.untouched += 1
            continue
        if not ws.grade_changeable(sheet.get(row, ws.CHANGEABLE, "")):
            seen.add(student)
            report.locked.append(student)
            continue
        if total.needs_manual_grade:
            report.pending.append(student)
            if skip_pending:
                seen.add(student)
                report.held_back.append(student)
                continue
        maximum = ws.number(sheet.get(row, ws.MAX_GRADE)) if scale_known else known_maximum or total.max_score
        if maximum is None or maximum <= 0:
            report.warnings.append(f"{identifier}: Maximum Grade {sheet.get(row, ws.MAX_GRADE)!r} is not a positive "
                                   "number (scale or no grade in Moodle?); row left as it was")
            continue
        seen.add(student)
        grade = ws.grade_text(scaled(total, maximum))
        if grade == ws.grade_text(0) and _holds_null_grade(sheet, row):
            report.warnings.append(f"{identifier} ({student}): Moodle may skip this 0.00: it holds a grade record "
                                   "without a grade, which its upload takes as equal to 0 (no tick helps); after "
                                   "the upload, enter 0 by hand for this student if the grade is still empty")
        sheet.set(row, ws.GRADE, grade)
        if sheet.has(ws.FEEDBACK):
            kept = kept_comment(sheet.get(row, ws.FEEDBACK), assignment.id)
            if kept:
                report.warnings.append(f"{identifier} ({student}): kept the comment already in Moodle's "
                                       "Feedback comments and put the course's summary after it")
            sheet.set(row, ws.FEEDBACK, ws.no_backslash(kept + comment_html(config, assignment, total)))
        report.filled.append((student, pid, grade, ws.grade_text(maximum)))
        feedback_rows.append((student, pid, sheet.get(row, ws.FULL_NAME)))
        graded_at = sheet.get(row, ws.GRADED_AT).strip()
        if graded_at not in ("", "-") and not ws.moodle_reads_time(graded_at):
            unreadable.append((student, graded_at))
    report.missing = sorted(set(totals) - seen)
    if unreadable:
        report.warnings.append(
            f"Moodle's upload cannot read the {ws.GRADED_AT!r} time of {len(unreadable)} student(s) who already have "
            f"a grade record in Moodle (e.g. {unreadable[0][1]!r}: PHP's strtotime reads English dates only), so it "
            "takes their rows as changed in Moodle since the download and skips their grade and comment: tick 'Allow "
            "updating records that have been modified more recently in Moodle than in the spreadsheet' when "
            f"uploading (or download the worksheet with Moodle in English): {', '.join(s for s, _ in unreadable)}")
    penalised = sorted(student for student, *_ in report.filled if totals[student].late_penalty > 0)
    if penalised:
        report.warnings.append(
            f"{len(penalised)} grade(s) already include the course's late penalty ({', '.join(penalised)}): if the "
            "Moodle assignment applies Moodle's own grade penalties (Moodle 4.5+, the assignment's penalty setting "
            "under Grade), Moodle deducts its penalty again from every grade it stores, uploads included; turn "
            "that setting off, or give the course no late policy for this assignment")
    if report.pending:
        report.warnings.append(pending_warning(assignment_id, sorted(report.pending), skip_pending))
    if report.locked:
        report.warnings.append(
            f"Moodle cannot change the grade of {len(report.locked)} student(s) ({ws.CHANGEABLE!r} is No: the grade "
            f"is locked or overridden in the gradebook, or its marking workflow state is beyond you): "
            f"{', '.join(sorted(report.locked))}; their rows were left as they were, since the upload would skip "
            "the grade but still store the comment; unlock the grade or remove its override in Moodle's gradebook, "
            "download the worksheet again and export to it")
    if totals and not report.filled and not report.held_back and not report.locked:
        raise CourseError(f"no row of {worksheet} belongs to a student graded in {assignment_id}",
                          hint="use the worksheet of this assignment, and collect it with --moodle-zip and "
                               "--worksheet so participant ids are known")
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.write(out)
    if feedback_zip is not None:
        report.feedback_files = write_feedback_zip(config, assignment, feedback_rows, Path(feedback_zip))
    return report


def _holds_null_grade(sheet: ws.Worksheet, row: ws.Row) -> bool:
    """Whether Moodle has a grade record without a grade for the row (its upload skips a 0.00 then).

    The download leaves ``Grade`` empty for a NULL (or -1) grade but writes the
    record's time in ``Last modified (grade)`` whenever a record exists; the upload
    compares the stored grade with PHP's ``==``, where NULL equals 0.
    """
    return not sheet.get(row, ws.GRADE).strip() and sheet.get(row, ws.GRADED_AT).strip() not in ("", "-")


def write_feedback_zip(config: CourseConfig, assignment: Assignment, rows: list, target: Path) -> int:
    """Each student's feedback pages, named so Moodle matches them to participants; returns the file count."""
    from ..feedback import render

    count = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for student, pid, full_name in rows:
            if not pid.isdigit():
                continue
            for spec in assignment.notebooks:
                page = render(config, assignment.id, spec.name, student)
                if page is None:
                    continue
                zf.writestr(feedback_entry(full_name, pid, f"feedback-{spec.name}.html"), page)
                count += 1
    return count


DEFAULT_MAX_GRADE = 100.0  # a new Moodle grade item's maximum grade (site setting gradepointdefault)


def scale_refusal(assignment_id: str, why: str) -> str:
    """Why no number is written for an assignment Moodle grades on a scale."""
    return (f"{assignment_id} is graded on a scale in Moodle ({why}): Moodle's uploads take a scale's own words, "
            "not points (the worksheet upload clears the grade of a number it cannot find on the scale), and this "
            "course has no rule from points to scale items")


def item_maximum_known(config: CourseConfig, assignment_id: str) -> tuple[float | None, str]:
    """The maximum grade of the assignment's Moodle grade item when the course knows it, and where from:
    ``c.Course.assignments[aid]["moodle_max_grade"]``, else the ``Maximum Grade`` its latest worksheet showed;
    ``(None, "")`` otherwise."""
    if config.moodle_max_grade(assignment_id) is not None:
        return config.moodle_max_grade(assignment_id), f"c.Course.assignments[{assignment_id!r}]['moodle_max_grade']"
    recorded = recorded_maximums(config).get(assignment_id)
    if isinstance(recorded, float):
        return recorded, "the assignment's latest Moodle worksheet"
    return None, ""


def item_maximums(config: CourseConfig, names: list, given: dict | None = None) -> dict:
    """``{assignment id: (maximum grade of its Moodle grade item, where that number comes from)}``.

    ``given`` (the command line's ``--max-grade``) maps an assignment id, or ``""`` for every
    assignment, to a maximum.
    """
    given = dict(given or {})
    for aid, value in given.items():
        if aid and aid not in names:
            raise CourseError(f"--max-grade names {aid!r}, which is not exported",
                              hint=f"exported: {', '.join(names) or 'none'}")
        if not (isinstance(value, (int, float)) and value > 0):
            raise CourseError(f"--max-grade {aid + '=' if aid else ''}{value}: the maximum must be a number above 0")
    recorded = recorded_maximums(config)
    out = {}
    for aid in names:
        if aid in given:
            out[aid] = (float(given[aid]), "--max-grade")
        elif "" in given:
            out[aid] = (float(given[""]), "--max-grade")
        elif config.moodle_max_grade(aid) is not None:
            out[aid] = (config.moodle_max_grade(aid), f"c.Course.assignments[{aid!r}]['moodle_max_grade']")
        elif recorded.get(aid) == SCALE:
            raise CourseError(scale_refusal(aid, "as its latest Moodle worksheet showed"),
                              hint=f"export the other assignments by name (course export gradebook AID), or, if "
                                   f"its grade item is now in points, give its maximum (--max-grade {aid}=N) or "
                                   "collect or export its new worksheet; nothing was written")
        elif aid in recorded:
            out[aid] = (recorded[aid], "its Moodle worksheet")
        else:
            out[aid] = (DEFAULT_MAX_GRADE, "")
    return out


def course_grades(config: CourseConfig, assignments: list[str] | None = None, max_grades: dict | None = None,
                  skip_pending: bool = False, warnings: list | None = None):
    """``(assignment ids, {student id: {assignment id: grade}}, maximums)``: totals after penalties in points of
    each assignment's Moodle grade item (``maximums`` as :func:`item_maximums` gives them), 2 decimals.

    A total still waiting for hand grading is partial: it is left out with ``skip_pending``; either
    way ``warnings`` (when given) gets a line naming those students."""
    with open_gradebook(config) as gb:
        names = [a.name for a in gb.assignments]
    if assignments:
        unknown = sorted(set(assignments) - set(names))
        if unknown:
            raise CourseError(f"the gradebook has no assignment {', '.join(unknown)}",
                              hint=f"known: {', '.join(names) or 'none'}")
        names = [n for n in names if n in assignments]
    maximums = item_maximums(config, names, max_grades)
    grades: dict = {}
    for aid in names:
        top = maximums[aid][0]
        totals = assignment_totals(config, aid)
        pending = sorted(sid for sid, total in totals.items() if total.needs_manual_grade)
        if pending and warnings is not None:
            warnings.append(pending_warning(aid, pending, skip_pending))
        for sid, total in totals.items():
            if skip_pending and total.needs_manual_grade:
                continue
            if total.max_score > 0:
                grades.setdefault(sid, {})[aid] = on_scale(total.final, total.max_score, top)
    return names, grades, maximums


def scale_warnings(maximums: dict) -> list:
    """A warning for every assignment whose Moodle maximum grade was not known, only assumed."""
    assumed = [aid for aid, (_, source) in maximums.items() if not source]
    if not assumed:
        return []
    return [f"{', '.join(assumed)}: written out of {DEFAULT_MAX_GRADE:g} (Moodle's default maximum grade); Moodle "
            "stores the number as points of the grade item, capped at its maximum, so if a grade item has another "
            "maximum, give it (--max-grade AID=N, or c.Course.assignments[AID]['moodle_max_grade']), or collect "
            "or export the assignment's worksheet once (its Maximum Grade is remembered)"]


def export_gradebook(*, config: CourseConfig, out: Path, assignments: list[str] | None = None,
                     fmt: str = "csv", max_grades: dict | None = None, skip_pending: bool = False) -> dict:
    """Course-wide grades for Moodle's grade import, each in points of its grade item (``.`` as decimal point).

    Moodle's CSV and XML grade imports store a number as the grade item's points, so each
    assignment's total is scaled to its item's maximum grade (:func:`item_maximums`).
    ``fmt="csv"``: ``Email address`` and one column per assignment; students without an
    email, and students whose email another student shares (Moodle's import aborts on an email
    that finds several users), are left out. Moodle's CSV import *clears* the stored grade of a ``-`` (or empty)
    cell, so a student without any grade here has no row (Moodle keeps what it has), and a
    ``-`` left in a row is warned about. ``fmt="xml"``:
    Moodle's XML grade import, one ``<result>`` per graded student and assignment, the
    assignment id as the grade item's ID number and the student's Moodle ID number;
    students without an ID number are left out, since Moodle aborts the whole import
    on a user it cannot find; a grade it does not have is not written, so Moodle keeps its own.
    Left-out students are listed in the result. ``skip_pending`` leaves out totals that still
    wait for hand grading.
    """
    if fmt not in ("csv", "xml"):
        raise CourseError(f"unknown grade export format {fmt!r}", hint="use csv or xml")
    pending: list = []
    names, grades, maximums = course_grades(config, assignments, max_grades, skip_pending, pending)
    extra = {"maximums": {aid: top for aid, (top, _) in maximums.items()},
             "sources": {aid: source for aid, (_, source) in maximums.items()},
             "warnings": scale_warnings(maximums) + pending}
    if fmt == "xml":
        return {**_export_xml(config, Path(out), names, grades), **extra}
    with open_gradebook(config) as gb:
        students = [(s.id, s.email or "") for s in gb.students]
    rows, left_out, ungraded, gaps, shared = [], [], [], [], []
    owners = Counter(email.lower() for _, email in students if email)
    for sid, email in sorted(students, key=lambda s: s[1].lower() or s[0]):
        if not email:
            left_out.append(sid)
            continue
        if owners[email.lower()] > 1:
            shared.append(sid)  # Moodle's import aborts on an email that finds several users
            continue
        cells = [f"{grades[sid][aid]:.2f}" if aid in grades.get(sid, {}) else "-" for aid in names]
        if all(cell == "-" for cell in cells):
            ungraded.append(sid)  # no row: Moodle's import would clear each of their grades
            continue
        if "-" in cells:
            gaps.append(sid)
        rows.append([email, *cells])
    if gaps:
        extra["warnings"].append(
            f"{len(gaps)} student(s) have no grade here for some of the assignments ({', '.join(gaps[:20])}"
            f"{', ...' if len(gaps) > 20 else ''}): Moodle's CSV import clears the grade it holds for a '-' cell; "
            "export with --format xml (it leaves those grades alone), or one assignment at a time")
    if shared:
        extra["warnings"].append(
            f"{', '.join(shared)} share an email with another student: Moodle's CSV import refuses the whole file "
            "for an email several users have, so they were left out; export with --format xml (users found by ID "
            "number) for them")
    over = [aid for aid in names if maximums[aid][0] > 100]
    if over:
        extra["warnings"].append(
            f"{', '.join(over)}: out of more than 100; Moodle's CSV import refuses the whole file for a grade above "
            "100 unless the site allows unlimited grades: export with --format xml")
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["Email address", *names])
    writer.writerows(rows)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(buf.getvalue(), encoding="utf-8")
    return {"out": Path(out), "students": len(rows), "assignments": names, "left_out": left_out, "format": "csv",
            "ungraded": ungraded, **extra}


def _export_xml(config: CourseConfig, out: Path, names: list, grades_of: dict) -> dict:
    """Moodle's ``grade/import/xml`` file: ``<results>`` of ``<result>`` (assignment, student, score)."""
    with open_gradebook(config) as gb:
        students = sorted(s.id for s in gb.students)
    known = id_numbers(config)
    root = ElementTree.Element("results")
    written, left_out = set(), []
    for sid in students:
        grades = grades_of.get(sid, {})
        if not grades:
            continue  # nothing to import; Moodle keeps what it has
        idnumber = known.get(sid, "")
        if not idnumber:
            left_out.append(sid)
            continue
        for aid in names:
            if aid in grades:
                result = ElementTree.SubElement(root, "result")
                ElementTree.SubElement(result, "assignment").text = aid
                ElementTree.SubElement(result, "student").text = idnumber
                ElementTree.SubElement(result, "score").text = f"{grades[aid]:.2f}"
                written.add(sid)
    ElementTree.indent(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")
    return {"out": out, "students": len(written), "assignments": names, "left_out": left_out, "format": "xml"}
