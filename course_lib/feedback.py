"""Feedback: one HTML file per student and notebook under ``feedback/``.

It shows the score per question (from nbgrader's gradebook, so hand-graded points
count), each check's description and, for failed checks, the message a student
can act on. It never shows hidden check code, hidden inputs or reference values:
only what the verdicts already say.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from .assignment import Assignment
from .autograde import load_results
from .config import CourseConfig
from .gradebook import notebook_scores
from .late import absent_notebooks, describe_policy, refresh_totals
from .notebooks import grade_id, is_grade, question_headings, question_of_answers


@dataclass(frozen=True)
class FeedbackReport:
    assignment: str
    files: tuple


def question_titles(release_nb) -> dict[str, str]:
    """``grade_id -> title``: the heading of the markdown cell that introduces each grade cell
    (without its points note: the page shows the points beside it)."""
    headings = question_headings(release_nb)
    return {grade_id(cell): headings[grade_id(cell)] for cell in release_nb.cells if is_grade(cell)}


def shown_time(stamp: str) -> str:
    """A submission time as a person reads it: ``2026-12-02 22:00 UTC`` (no seconds or microseconds)."""
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(stamp).strftime("%Y-%m-%d %H:%M UTC")
    except Exception:  # noqa: BLE001 - a time nbgrader cannot read is shown as written
        return stamp


def duration(seconds: float) -> str:
    """``3 days 4 hours``-style text for a lateness."""
    minutes = int(seconds // 60)
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    parts = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in ((days, "day"), (hours, "hour"), (mins, "minute"))
             if n]
    return " ".join(parts[:2]) or "less than a minute"


def _environment() -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(str(Path(__file__).parent / "templates"))
    return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)


#: What an nbgrader-format notebook's feedback says about how its test cells were checked.
PROTECTED_FORMS = ("This notebook's test cells ran through the grader's own runner. Assertions of the forms "
                   "a == b, !=, <, <=, >, >=, is None, isinstance, np.allclose, np.array_equal, torch.allclose, "
                   "torch.equal, math.isclose, np.testing.assert_* and torch.testing.assert_close were decided "
                   "again by the grader on the values your code returned; other assertions ran in your "
                   "notebook.")


def comments_by_question(release_nb, comments: dict[str, str]) -> dict[str, list[str]]:
    """A grader's comments (by solution cell, as nbgrader keeps them) under the question they belong to."""
    owner = question_of_answers(release_nb)
    out: dict[str, list[str]] = {}
    for cell, text in comments.items():
        out.setdefault(owner.get(cell, cell), []).append(text)
    return out


def render(config: CourseConfig, assignment_id: str, notebook: str, student: str) -> str | None:
    """The feedback page of one student's notebook, or ``None`` if it was never graded.

    Graded means the gradebook holds its scores: a done-marker in ``autograded/`` whose grades the gradebook
    lost (deleted or replaced since) gets no page; the command's warning names the student.
    """
    from nbgrader.api import MissingEntry

    assignment = Assignment.load(config, assignment_id)
    spec = assignment.notebook(notebook)
    graded = load_results(config, student, assignment_id, notebook)
    if graded is None or absent_notebooks(config, assignment_id, student, [notebook]):
        return None  # never graded, or no longer part of the student's submission
    try:
        scores = notebook_scores(config, assignment_id, notebook, student)
    except MissingEntry:
        return None
    release_nb = spec.release_nb()
    titles = question_titles(release_nb)
    comments = comments_by_question(release_nb, scores["comments"])
    questions = []
    for gid, title in titles.items():
        score, most = scores["cells"].get(gid, (None, 0.0))
        checks = [c for c in graded.checks if c.grade_id == gid]
        if gid in scores["pending"] and not checks:
            score = None  # a written answer nobody has graded yet: not a 0
        questions.append({"title": title, "score": score if score is not None else 0.0 if checks else None,
                          "max_score": most, "checks": checks, "comments": comments.get(gid, [])})
    stamp = config.path("autograded", student, assignment_id, "timestamp.txt")
    return _environment().get_template("feedback.html").render(
        assignment=assignment_id, notebook=notebook, student=student,
        timestamp=shown_time(stamp.read_text().strip()) if stamp.is_file() else "",
        score=scores["score"], max_score=scores["max_score"], needs_manual=scores["needs_manual_grade"],
        late_penalty=scores["late_penalty"], seconds_late=scores["seconds_late"],
        late_text=duration(scores["seconds_late"]), late_policy=describe_policy(config.late_for(assignment_id)),
        problems=list(graded.problems), questions=questions, ran_on=ran_on(config, assignment_id, graded.device),
        protected=PROTECTED_FORMS if spec.in_notebook else "")


def ran_on(config: CourseConfig, assignment_id: str, device: str) -> str:
    """Where the notebook ran and, for an assignment that declares its own parameters (a smaller training
    configuration on the CPU, say), which ones: a student comparing with a classmate graded elsewhere sees why."""
    limits = config.limits_for(assignment_id, device)
    parameters = limits.parameters
    where = "a GPU (CUDA)" if str(device).startswith("cuda") else "the CPU"
    if not parameters:
        return f"Your notebook ran on {where}." if limits.gpu else ""
    shown = ", ".join(f"{name} = {value!r}" for name, value in sorted(parameters.items()))
    return f"Your notebook ran on {where} with {shown}."


def feedback(*, config: CourseConfig, assignment_id: str, students: list[str] | None = None) -> FeedbackReport:
    """Write ``feedback/<student>/<aid>/<notebook>.html`` for every graded submission."""
    from .errors import CourseError
    from .gradebook import require_gradebook

    assignment = Assignment.load(config, assignment_id)
    require_gradebook(config, assignment_id)  # feedback reads the totals there: never from a new, empty one
    base = config.path("autograded")
    if students:
        unknown = sorted(s for s in set(students) if not (base / s / assignment_id).is_dir())
        if unknown:
            raise CourseError(f"no graded submission of {assignment_id} from {', '.join(unknown)} in {base}",
                              hint=f"check the student id, or run `course autograde {assignment_id}` first")
    # the totals shown are the gradebook's after the current due date, hand grades and resubmissions
    refresh_totals(config, assignment_id, students)
    written = []
    for student_dir in sorted(base.iterdir()) if base.is_dir() else []:
        student = student_dir.name
        if students and student not in students:
            continue
        for spec in assignment.notebooks:
            page = render(config, assignment_id, spec.name, student)
            target = config.path("feedback", student, assignment_id, f"{spec.name}.html")
            if page is None:
                if absent_notebooks(config, assignment_id, student, [spec.name]):
                    target.unlink(missing_ok=True)  # the page of a notebook the new submission no longer has
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(page)
            written.append(target)
    return FeedbackReport(assignment_id, tuple(written))



