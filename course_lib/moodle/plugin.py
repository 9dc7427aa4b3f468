"""The Moodle exports as nbgrader export plugins, for ``nbgrader export`` in the course directory.

::

    nbgrader export --exporter=course_lib.moodle.plugin.MoodleWorksheetExporter \\
        --assignment=01-tensors --MoodleWorksheetExporter.worksheet=Grades-....csv --to=filled.csv
    nbgrader export --exporter=course_lib.moodle.plugin.MoodleGradebookExporter --to=course.csv
    nbgrader export --exporter=course_lib.moodle.plugin.MoodleGradebookExporter --to=course.xml \\
        --MoodleGradebookExporter.output_format=xml

Both write exactly what ``course export moodle`` / ``course export gradebook`` write.
"""

from __future__ import annotations

from pathlib import Path

from nbgrader.plugins import ExportPlugin
from traitlets import Bool, Dict, Float, Unicode


def _config(plugin: ExportPlugin, gradebook):
    from ..config import CourseConfig

    coursedir = getattr(plugin.parent, "coursedir", None)
    root = Path(coursedir.root) if coursedir is not None else Path.cwd()
    return CourseConfig.load(root).with_overrides(db_url=str(gradebook.engine.url.render_as_string(
        hide_password=False)))


def _warn_ungraded(plugin: ExportPlugin, config, assignment_ids) -> None:
    """Log, as ``course export`` prints, the students with a submission but no grade in the gradebook."""
    from ..autograde import ungraded_warnings

    for line in ungraded_warnings(config, assignment_ids):
        plugin.log.warning("%s", line)


class MoodleWorksheetExporter(ExportPlugin):
    """Fill Moodle's grading worksheet of one assignment (``--assignment``) into ``--to``."""

    worksheet = Unicode("", help="the grading worksheet downloaded from Moodle").tag(config=True)
    feedback_zip = Unicode("", help="also write per-student feedback files in a zip for Moodle").tag(config=True)
    skip_pending = Bool(False, help="leave the rows of students still waiting for hand grading as they "
                                    "were").tag(config=True)

    def export(self, gradebook) -> None:
        from .export import export_worksheet

        if len(self.assignment) != 1 or not self.worksheet:
            raise ValueError("give one --assignment and --MoodleWorksheetExporter.worksheet=CSV")
        config = _config(self, gradebook)
        _warn_ungraded(self, config, [str(self.assignment[0])])
        report = export_worksheet(config=config, assignment_id=str(self.assignment[0]),
                                  worksheet=Path(self.worksheet), out=Path(self.to or "moodle-grades.csv"),
                                  feedback_zip=Path(self.feedback_zip) if self.feedback_zip else None,
                                  skip_pending=self.skip_pending)
        self.log.info("wrote %s: %d grade(s) filled", report.out, len(report.filled))
        for warning in report.warnings:
            self.log.warning("%s", warning)
        for identifier, name, why in report.unmatched:
            self.log.warning("%s (%s): %s", identifier, name, why)


class MoodleGradebookExporter(ExportPlugin):
    """Every assignment in points of its Moodle grade item, for Moodle's grade import (``--to``): CSV by email,
    or XML by ID number."""

    output_format = Unicode("csv", help="csv (matched by email) or xml (Moodle's XML grade import, by ID "
                                        "number)").tag(config=True)
    skip_pending = Bool(False, help="leave out the totals still waiting for hand grading").tag(config=True)
    max_grade = Dict(value_trait=Float(), help="assignment id -> the maximum grade of its grade item in Moodle "
                                               "(default: as course export gradebook finds it)").tag(config=True)

    def export(self, gradebook) -> None:
        from .export import export_gradebook

        out = Path(self.to or f"moodle-gradebook.{self.output_format}")
        config = _config(self, gradebook)
        _warn_ungraded(self, config, [str(a) for a in self.assignment] or [a.name for a in gradebook.assignments])
        result = export_gradebook(config=config, out=out, fmt=self.output_format,
                                  assignments=[str(a) for a in self.assignment] or None,
                                  max_grades=dict(self.max_grade) or None, skip_pending=self.skip_pending)
        self.log.info("wrote %s: %d student(s)", result["out"], result["students"])
        for warning in result["warnings"]:
            self.log.warning("%s", warning)
