"""Collect: submissions from a folder into nbgrader's ``submitted/<student>/<aid>/``.

Accepted layouts: ``DIR/<student_id>.ipynb`` and ``DIR/<student_id>/<anything>.ipynb``.
Unreadable or ambiguous files are reported per student and skipped; the batch goes on.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .assignment import Assignment
from .config import CourseConfig
from .errors import CourseError, SubmissionError
from .models import Submission
from .notebooks import read_notebook

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")
TIMESTAMP_FILE = "timestamp.txt"


@dataclass
class CollectReport:
    """What collect did: submissions placed and problems found."""

    assignment: str
    collected: list = field(default_factory=list)  # Submission
    problems: list = field(default_factory=list)  # (student, file, message)


def collect(*, config: CourseConfig, assignment_id: str, source: Path) -> CollectReport:
    """Copy every readable notebook under ``source`` into ``submitted/``."""
    assignment = Assignment.load(config, assignment_id)
    source = Path(source)
    if not source.is_dir():
        raise CourseError(f"{source} is not a directory", hint="pass the folder that holds the notebooks")
    report = CollectReport(assignment_id)
    for student, files in sorted(_by_student(source, report).items()):
        if not STUDENT_ID.match(student):
            report.problems.append((student, str(files[0].name),
                                    "not a usable student id (letters, digits and . _ @ + - only); skipped"))
            continue
        for spec, path in _match(assignment, student, files, report):
            try:
                read_notebook(path, student=student)
            except SubmissionError as exc:
                report.problems.append((student, path.name, exc.message + (f" ({exc.hint})" if exc.hint else "")))
                continue
            report.collected.append(_place(config, assignment_id, spec.name, student, path))
    return report


def _by_student(source: Path, report: CollectReport) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for entry in sorted(source.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file():
            if entry.suffix == ".ipynb":
                found.setdefault(entry.stem, []).append(entry)
            else:
                report.problems.append((entry.stem, entry.name, "not a notebook (.ipynb); skipped"))
        elif entry.is_dir():
            notebooks = sorted(p for p in entry.rglob("*.ipynb")
                               if ".ipynb_checkpoints" not in p.parts and not p.name.startswith("."))
            if notebooks:
                found.setdefault(entry.name, []).extend(notebooks)
            else:
                report.problems.append((entry.name, entry.name + "/", "no notebook in this folder; skipped"))
    return found


def _match(assignment: Assignment, student: str, files: list[Path], report: CollectReport):
    """Pair the student's files with the assignment's notebooks (by name, or the only one)."""
    specs = assignment.notebooks
    if len(specs) == 1 and len(files) == 1:
        return [(specs[0], files[0])]
    pairs = []
    for spec in specs:
        named = [f for f in files if f.stem == spec.name]
        if len(named) == 1:
            pairs.append((spec, named[0]))
        elif len(specs) == 1:
            report.problems.append((student, ", ".join(f.name for f in files),
                                    f"several notebooks and none named {spec.name}.ipynb; skipped "
                                    "(keep only the one to grade)"))
        else:
            report.problems.append((student, spec.name + ".ipynb", "no notebook with this name; skipped"))
    return pairs


def _place(config: CourseConfig, assignment_id: str, notebook: str, student: str, path: Path,
           when: datetime | None = None) -> Submission:
    """Copy one notebook to ``submitted/<student>/<aid>/`` with nbgrader's ``timestamp.txt``.

    ``when`` is the submission time (aware); without it the file's modification time counts.
    """
    target_dir = config.path("submitted", student, assignment_id)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{notebook}.ipynb"
    shutil.copyfile(path, target)
    stamp = (when or datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)).astimezone(timezone.utc)
    text = stamp.strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    (target_dir / TIMESTAMP_FILE).write_text(text)
    return Submission(student=student, assignment=assignment_id, notebook=notebook, path=str(target), timestamp=text)


def submissions(config: CourseConfig, assignment_id: str, students: list[str] | None = None) -> list[Submission]:
    """Everything in ``submitted/`` for an assignment (optionally only some students)."""
    assignment = Assignment.load(config, assignment_id)
    base = config.path("submitted")
    if students:
        unknown = sorted(s for s in set(students) if not (base / s / assignment_id).is_dir())
        if unknown:
            raise CourseError(f"no submission of {assignment_id} from {', '.join(unknown)} in {base}",
                              hint=f"check the student id (the folder names in {base}), or collect their work first")
    out = []
    for student_dir in sorted(base.iterdir()) if base.is_dir() else []:
        if students and student_dir.name not in students:
            continue
        adir = student_dir / assignment_id
        if not adir.is_dir():
            continue
        stamp_file = adir / TIMESTAMP_FILE
        stamp = stamp_file.read_text().strip() if stamp_file.is_file() else None
        for spec in assignment.autograded():
            path = adir / f"{spec.name}.ipynb"
            if path.is_file():
                out.append(Submission(student_dir.name, assignment_id, spec.name, str(path), stamp))
    return out
