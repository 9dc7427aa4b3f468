"""Collect: submissions from a folder into nbgrader's ``submitted/<student>/<aid>/``.

Accepted layouts: ``DIR/<student_id>.ipynb`` and ``DIR/<student_id>/<anything>.ipynb``.
Unreadable or ambiguous files are reported per student and skipped; the batch goes on.

A student's new submission replaces their whole ``submitted/<student>/<aid>/`` folder, as
nbgrader's own collect does: a notebook collected earlier that the new submission lacks is
removed (and said), and the gradebook scores it 0, as nbgrader's autograde scores a missing file.

The submission time goes into nbgrader's ``timestamp.txt``. A folder of notebooks carries
only file modification times, which a copy or a browser download sets to when it was made:
with a due date, collect warns when they look like that, and ``timestamp`` (one time for
all) or ``no_timestamps`` (no ``timestamp.txt``: on time, as nbgrader treats it) say it.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .assignment import Assignment
from .config import CourseConfig
from .errors import ConfigError, CourseError, GradebookError, SubmissionError
from .models import Submission
from .notebooks import read_notebook

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")
TIMESTAMP_FILE = "timestamp.txt"
#: Modification times of every collected notebook within this many seconds: they look like one copy.
COPY_SPAN_S = 300
#: A late modification time this recent (seconds before the collect) is almost surely a copy's.
RECENT_S = 3600


@dataclass
class CollectReport:
    """What collect did: submissions placed and problems found."""

    assignment: str
    collected: list = field(default_factory=list)  # Submission
    problems: list = field(default_factory=list)  # (student, file, message)
    removed: list = field(default_factory=list)  # (student, file, why): collected earlier, not in the new one
    warnings: list = field(default_factory=list)  # about the submission times


def parse_timestamp(text: str, tz: str) -> datetime:
    """``YYYY-MM-DD HH:MM`` (in the course's time zone unless it names its own) as an aware datetime."""
    from zoneinfo import ZoneInfo

    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"--timestamp {text!r} is not a date and time",
                          hint="write it as \"2026-10-05 23:59\" (in c.Course.timezone)") from None
    return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(tz))


def collect(*, config: CourseConfig, assignment_id: str, source: Path, timestamp: datetime | None = None,
            no_timestamps: bool = False) -> CollectReport:
    """Copy every readable notebook under ``source`` into ``submitted/``.

    The submission time is ``timestamp`` for every notebook when given; none at all with
    ``no_timestamps`` (nbgrader counts such a submission on time); else the latest modification time of the
    student's notebooks, with a warning when those look like copy times and would make work late.
    """
    assignment = Assignment.load(config, assignment_id)
    source = Path(source)
    if not source.is_dir():
        raise CourseError(f"{source} is not a directory", hint="pass the folder that holds the notebooks")
    if timestamp is not None and no_timestamps:
        raise ConfigError("give --timestamp or --no-timestamps, not both")
    report = CollectReport(assignment_id)
    mtimes = []  # (student, file, modification time) of what was collected by its file's time
    for student, files in sorted(_by_student(source, report).items()):
        if not STUDENT_ID.match(student):
            report.problems.append((student, str(files[0].name),
                                    "not a usable student id (letters, digits and . _ @ + - only); skipped"))
            continue
        matched = _match(assignment, student, files, report)
        readable = _readable(student, matched, report)
        if len(readable) < len(matched) and _kept(config, assignment_id, student, report):
            continue
        earlier = start_submission(config, assignment_id, student)
        placed, homes = set(), set()
        when = timestamp
        if timestamp is None and not no_timestamps and readable:
            stamps = [(student, path.name, _modified(path)) for _, path in readable]
            mtimes += stamps
            when = submission_time([t for *_, t in stamps])
        for spec, path in readable:
            report.collected.append(_place(config, assignment_id, spec.name, student, path, when,
                                           stamp=not no_timestamps))
            placed.add(spec.name)
            homes.add(path.parent)
        if placed:
            _keep_others(config, assignment_id, student, source, homes, report)
        finish_submission(config, assignment_id, student, earlier, placed, report.removed,
                          untimed=no_timestamps)
    report.warnings += copy_time_warnings(config, assignment_id, mtimes)
    return report


def _kept(config: CourseConfig, assignment_id: str, student: str, report: CollectReport) -> bool:
    """Whether the student's earlier submission stays as it is, because a notebook of the new one is unusable.

    The new submission would replace the earlier one as a whole, and the unusable notebook would then score 0
    where a graded one was: nothing is replaced (or lost) until the folder holds a submission that can be read.
    """
    folder = config.path("submitted", student, assignment_id)
    if not folder.is_dir() or not any(folder.glob("*.ipynb")):
        return False
    report.problems.append((student, "(the earlier submission)",
                            "kept as it was: a notebook of the new one is unusable (above); fix or replace it and "
                            "collect again"))
    return True


def _readable(student: str, pairs: list, report: CollectReport) -> list:
    """The ``(spec, path)`` pairs whose file is a usable notebook; each other one is reported."""
    out = []
    for spec, path in pairs:
        try:
            read_notebook(path, student=student)
        except SubmissionError as exc:
            report.problems.append((student, path.name, exc.message + (f" ({exc.hint})" if exc.hint else "")))
            continue
        out.append((spec, path))
    return out


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)


def submission_time(modified: list) -> datetime:
    """The time of a submission of several notebooks, from their modification times: the latest.

    A submission is complete when its last file is, and nbgrader's own ``zip_collect`` keeps the newest
    time it finds among a student's files; the time of whichever notebook happened to be placed last
    would let a late notebook count as on time.
    """
    return max(modified)


def start_submission(config: CourseConfig, assignment_id: str, student: str) -> set[str]:
    """Empty the student's ``submitted/<student>/<aid>/`` for a new submission; the notebooks it held.

    The new submission replaces the old one as a whole, as nbgrader's collect replaces the folder:
    a notebook of the old one never stays beside the new.
    """
    folder = config.path("submitted", student, assignment_id)
    if not folder.is_dir():
        return set()
    earlier = {p.stem for p in folder.glob("*.ipynb")}
    shutil.rmtree(folder)
    folder.mkdir()  # kept, empty until the new files arrive: a notebook missing from it is not submitted
    return earlier


def _keep_others(config: CourseConfig, assignment_id: str, student: str, source: Path, homes: set,
                 report: CollectReport) -> None:
    """The other files of the notebook's folder beside it (:func:`place_others`); those of the student's folder
    outside it, or of a submission whose notebooks lie in several, are named (the notebook runs without them)."""
    from .execute.jobs import students_file

    home = next(iter(homes)) if len(homes) == 1 else None
    if home is not None and home != source:
        place_others(config, assignment_id, student, folder_files(home), report.problems)
    top = source / student
    if not top.is_dir():
        return
    wanted = students_file(config)
    for rel, _, _ in folder_files(top):
        if wanted(rel) and (home in (None, source) or not (top / rel).is_relative_to(home)):
            report.problems.append((student, rel, "not a notebook, and not in the notebook's folder; ignored"))


def folder_files(folder: Path) -> list:
    """``(relative path, size, read)`` of every plain file below ``folder`` (symbolic links are not followed)."""
    out = []
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(here, d)))
        for name in sorted(names):
            path = Path(here) / name
            if path.is_file() and not path.is_symlink():
                out.append((path.relative_to(folder).as_posix(), path.stat().st_size, path.read_bytes))
    return out


def place_others(config: CourseConfig, assignment_id: str, student: str, entries: list, problems: list) -> list[str]:
    """Put the student's other files of the submission (``(relative path, size, read)``, relative to the folder
    of their notebook) beside it in ``submitted/``, as nbgrader's collect keeps them: autograde runs the
    notebook beside them, as nbgrader's does. Files nbgrader's autograde would not copy (other notebooks,
    its ``CourseDirectory.ignore``) are left out silently; past :data:`MAX_EXTRA_BYTES` in all, each is
    named in ``problems``. Returns the relative paths placed."""
    from .execute.jobs import MAX_EXTRA_BYTES, students_file

    wanted = students_file(config)
    target_dir = config.path("submitted", student, assignment_id)
    placed, total = [], 0
    for rel, size, read in entries:
        if not wanted(rel) or any(part in ("", ".", "..") for part in rel.split("/")):
            continue
        if total + size > MAX_EXTRA_BYTES:
            problems.append((student, rel, f"the submission's other files exceed {MAX_EXTRA_BYTES // 2**20} MiB; "
                                           "this one is not kept (the notebook runs without it)"))
            continue
        try:
            data = read()
            if total + len(data) > MAX_EXTRA_BYTES:  # a size that lied
                problems.append((student, rel, "larger than it claimed; not kept"))
                continue
            target = target_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except (OSError, zipfile.BadZipFile) as exc:  # a name this file system refuses, a corrupt member...
            problems.append((student, rel, f"could not be kept ({exc.strerror or exc})" if isinstance(exc, OSError)
                             else f"could not be read ({exc}); not kept"))
            continue
        total += len(data)
        placed.append(rel)
    return placed


def finish_submission(config: CourseConfig, assignment_id: str, student: str, earlier: set[str], placed: set[str],
                      removed: list, *, untimed: bool = False) -> None:
    """Say which notebooks of the earlier submission are gone, and score them 0 in the gradebook (if any).

    ``untimed``: the new submission has no time (``--no-timestamps``), so the earlier one's time leaves the
    gradebook too (nbgrader keeps a stored time when a submission comes without one).
    """
    gone = sorted(earlier - placed)
    for name in gone:
        removed.append((student, f"{name}.ipynb", "collected earlier, not in this submission: removed "
                                                  "(scores 0)"))
    if gone or untimed:
        forget(config, assignment_id, student, gone, clear_time=untimed)


def forget(config: CourseConfig, assignment_id: str, student: str, notebooks, *, clear_time: bool = False) -> None:
    """Score the given submitted notebooks 0 in the gradebook (and drop the submission's time), if it has them."""
    from nbgrader.api import MissingEntry

    from .gradebook import open_gradebook, require_gradebook
    from .late import clear_absent

    try:
        require_gradebook(config, assignment_id)
    except GradebookError:
        return  # nothing graded yet (or not reachable now: exports bring the totals up to date themselves)
    with open_gradebook(config) as gb:
        try:
            submission = gb.find_submission(assignment_id, student)
        except MissingEntry:
            return
        if clear_time:
            submission.timestamp = None
        for nb in submission.notebooks:
            if nb.name in notebooks:
                clear_absent(gb, nb)
        gb.db.commit()


def copy_time_warnings(config: CourseConfig, assignment_id: str, mtimes: list) -> list[str]:
    """Warnings for submission times taken from file modification times that look like copy times.

    Only with a due date (without one no time changes a grade): all notebooks modified within a few
    minutes of each other, and each notebook late by its modification time (saying which were modified
    within the last hour, the time of this copy most likely).
    """
    due = config.due_utc(assignment_id)
    if due is None or not mtimes:
        return []
    fix = ("if these are not the submission times, collect again with --timestamp \"YYYY-MM-DD HH:MM\" (one "
           "time for all, in c.Course.timezone) or --no-timestamps (no time: on time, as nbgrader counts it)")
    out = []
    times = [t for _, _, t in mtimes]
    span = (max(times) - min(times)).total_seconds()
    if len(times) >= 2 and span <= COPY_SPAN_S:
        out.append(f"the submission times are the files' modification times, and all {len(times)} lie within "
                   f"{span:.0f} s of each other ({_shown(min(times))}): that looks like the time they were copied or "
                   f"downloaded, not submitted; {fix}")
    late = [(s, f, t) for s, f, t in mtimes if t > due]
    if late:
        now = datetime.fromtimestamp(time.time(), tz=timezone.utc)
        recent = [s for s, _, t in late if now - t <= timedelta(seconds=RECENT_S)]
        shown = ", ".join(f"{s} ({_shown(t)})" for s, _, t in late[:10]) + (" ..." if len(late) > 10 else "")
        out.append(f"{len(late)} notebook(s) count as late (due {_shown(due)}) by their file modification time: "
                   f"{shown}" + (f"; {len(recent)} of them were modified in the last hour, most likely by the copy "
                                 "itself" if recent else "") + f"; a copy (cp, a browser download, an unzip that "
                   f"drops times) sets that time to when it was made; {fix}")
    return out


def _shown(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


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
        named = _shallowest([f for f in files if f.stem == spec.name])
        if len(named) == 1:
            pairs.append((spec, named[0]))
        elif len(specs) == 1:
            report.problems.append((student, ", ".join(f.name for f in files),
                                    f"several notebooks and none named {spec.name}.ipynb; skipped "
                                    "(keep only the one to grade)"))
        else:
            report.problems.append((student, spec.name + ".ipynb", "no notebook with this name; skipped"))
    return pairs


def _shallowest(paths: list[Path]) -> list[Path]:
    """Those of ``paths`` nearest the top of the student's folder: ``alan/tensors.ipynb`` is the submission,
    ``alan/backup/tensors.ipynb`` a copy kept beside it (Moodle's zip is read the same way)."""
    if not paths:
        return []
    top = min(len(p.parts) for p in paths)
    return [p for p in paths if len(p.parts) == top]


def _place(config: CourseConfig, assignment_id: str, notebook: str, student: str, path: Path,
           when: datetime | None = None, *, stamp: bool = True) -> Submission:
    """Copy one notebook to ``submitted/<student>/<aid>/`` with nbgrader's ``timestamp.txt``.

    ``when`` is the submission time (aware); without it the file's modification time counts.
    ``stamp=False`` writes no ``timestamp.txt`` (and removes one): nbgrader counts the work on time.
    """
    target_dir = config.path("submitted", student, assignment_id)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{notebook}.ipynb"
    shutil.copyfile(path, target)
    if not stamp:
        (target_dir / TIMESTAMP_FILE).unlink(missing_ok=True)
        return Submission(student=student, assignment=assignment_id, notebook=notebook, path=str(target),
                          timestamp=None)
    moment = (when or datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)).astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%d %H:%M:%S.%f %Z")
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
