"""Late work: the course's policy applied through nbgrader's own late-penalty mechanism.

The due date goes into nbgrader's gradebook (``Assignment.duedate``), the submission
time into ``SubmittedAssignment.timestamp`` (from ``timestamp.txt``, which a Moodle
import fills from the worksheet). nbgrader's ``AssignLatePenalties`` preprocessor then
asks :class:`CourseLatePenalty` for the penalty and stores it in
``SubmittedNotebook.late_submission_penalty``, so ``nbgrader export``, formgrader and
our own exports all subtract the same number.
"""

from __future__ import annotations

import logging

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float

from .config import CourseConfig, LatePolicy


class CourseLatePenalty(LateSubmissionPlugin):
    """A share of the earned score per started day late, and zero after a cut-off.

    Usable on its own in ``nbgrader_config.py``::

        c.AssignLatePenalties.plugin_class = "course_lib.late.CourseLatePenalty"
        c.CourseLatePenalty.late_penalty_per_day = 0.1
        c.CourseLatePenalty.late_cutoff_days = 7
    """

    late_penalty_per_day = Float(0.0, help="fraction of the earned score deducted per started day late").tag(
        config=True)
    late_cutoff_days = Float(None, allow_none=True, help="days after which late work scores zero").tag(config=True)

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        policy = LatePolicy(late_penalty_per_day=self.late_penalty_per_day, late_cutoff_days=self.late_cutoff_days)
        return policy.penalty(score or 0.0, total_seconds_late)


def apply_late_penalty(config: CourseConfig, assignment: str, notebook: str, student: str) -> None:
    """(Re)compute one submitted notebook's late penalty from its current score, with nbgrader's preprocessor.

    Run after autograding and again before exporting, because hand-graded points
    entered in formgrader change the score the penalty is a share of.
    """
    import nbformat
    from nbgrader.preprocessors import AssignLatePenalties
    from traitlets.config import Config

    from .gradebook import tools_on_path

    tools_on_path()
    policy = config.late_for(assignment)
    cfg = Config()
    cfg.CourseLatePenalty.late_penalty_per_day = float(policy.late_penalty_per_day)
    cfg.CourseLatePenalty.late_cutoff_days = (None if policy.late_cutoff_days is None
                                              else float(policy.late_cutoff_days))
    pre = AssignLatePenalties(config=cfg, plugin_class=CourseLatePenalty)
    resources = {"nbgrader": {"notebook": notebook, "assignment": assignment, "student": student,
                              "db_url": config.db_url}}
    # nbgrader logs every late notebook as a warning; feedback and exports say it, the batch log need not
    level = pre.log.level
    pre.log.setLevel(logging.ERROR)
    try:
        pre.preprocess(nbformat.v4.new_notebook(), resources)
    finally:
        pre.log.setLevel(level)


def _due_naive(config: CourseConfig, assignment: str):
    """The configured due date as nbgrader stores it (naive UTC), or ``None``."""
    due = config.due_utc(assignment)
    return due.replace(tzinfo=None) if due is not None else None


def absent_notebooks(config: CourseConfig, assignment: str, student: str, notebooks) -> set[str]:
    """Those of ``notebooks`` missing from the student's ``submitted/<student>/<aid>/`` folder.

    Only a folder that exists says anything: a gradebook read where ``submitted/`` is not (another
    machine, a shared database) keeps every notebook it holds.
    """
    folder = config.path("submitted", student, assignment)
    if not folder.is_dir():
        return set()
    return {name for name in notebooks if not (folder / f"{name}.ipynb").is_file()}


def expected_penalty(policy: LatePolicy, score: float | None, seconds_late: float | None) -> float:
    """The penalty nbgrader's ``AssignLatePenalties`` stores with :class:`CourseLatePenalty` (0 for none)."""
    score = score or 0.0
    if not seconds_late or seconds_late <= 0:
        return 0.0
    return min(max(policy.penalty(score, seconds_late), 0.0), score)


def clear_absent(gb, submitted_notebook) -> bool:
    """Score a notebook that is no longer submitted 0, as nbgrader's autograde does for a missing file
    (``auto_score`` 0, no manual grade needed), and drop a hand score and automatic comments given to the
    file that was removed. Returns whether anything changed (not committed here)."""
    changed = False
    for grade in submitted_notebook.grades:
        if grade.auto_score not in (None, 0) or grade.manual_score is not None or grade.needs_manual_grade:
            grade.auto_score, grade.manual_score, grade.needs_manual_grade = 0.0, None, False
            changed = True
    for comment in submitted_notebook.comments:
        if comment.auto_comment:
            comment.auto_comment = None
            changed = True
    if submitted_notebook.late_submission_penalty:
        submitted_notebook.late_submission_penalty = None
        changed = True
    return changed


def refresh_totals(config: CourseConfig, assignment: str, students=None) -> None:
    """Bring an assignment's totals in the gradebook up to date with the configuration and ``submitted/``.

    Every command that shows or exports a total runs this first, so what it shows never depends
    on when ``autograde`` last ran:

    1. the due date of ``nbgrader_config.py`` goes into nbgrader's ``Assignment.duedate`` (an
       extension or a correction counts at once);
    2. a notebook no longer in a student's submitted folder (a resubmission without it replaced the
       folder) scores 0, as nbgrader's autograde scores a missing file;
    3. every late penalty that differs from what the policy gives for the current score (hand grades
       included) and lateness is computed again by nbgrader's ``AssignLatePenalties``.

    Nothing is written when everything is already up to date. ``students`` limits steps 2 and 3.
    """
    from nbgrader.api import MissingEntry

    from .gradebook import open_gradebook

    policy = config.late_for(assignment)
    due = _due_naive(config, assignment)
    wanted = set(students) if students else None
    stale = []
    with open_gradebook(config) as gb:
        try:
            record = gb.find_assignment(assignment)
        except MissingEntry:
            return
        changed = False
        if record.duedate != due:
            record.duedate = due
            changed = True
        subs = [s for s in record.submissions if wanted is None or s.student.id in wanted]
        for sub in subs:
            gone = absent_notebooks(config, assignment, sub.student.id, [nb.name for nb in sub.notebooks])
            for nb in sub.notebooks:
                if nb.name in gone:
                    changed = clear_absent(gb, nb) or changed
        if changed:
            gb.db.commit()
        for sub in subs:
            seconds = sub.total_seconds_late
            for nb in sub.notebooks:
                if abs((nb.late_submission_penalty or 0.0) - expected_penalty(policy, nb.score, seconds)) > 1e-9:
                    stale.append((nb.name, sub.student.id))
    for notebook, student in stale:
        apply_late_penalty(config, assignment, notebook, student)


def percent_text(fraction: float) -> str:
    """A fraction as a percentage for people: ``0.1`` -> ``10%``, ``0.001`` -> ``0.1%``, ``0.125`` -> ``12.5%``.

    Two decimals at most, but never rounded to a misleading ``0%``: a rate below 0.005 % keeps two
    significant digits.
    """
    percent = fraction * 100
    shown = round(percent, 2)
    text = f"{shown:g}" if shown or not percent else f"{percent:.2g}"
    return f"{text}%"


def describe_policy(policy: LatePolicy) -> str:
    """The policy in words, for feedback pages and Moodle comments (the rate as it is set, see
    :func:`percent_text`)."""
    parts = []
    if policy.late_penalty_per_day:
        parts.append(f"{percent_text(policy.late_penalty_per_day)} of the score per started day late")
    if policy.late_cutoff_days is not None:
        parts.append(f"no points after {policy.late_cutoff_days:g} day(s)")
    return "; ".join(parts) or "no penalty"
