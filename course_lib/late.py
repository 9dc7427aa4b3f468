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
