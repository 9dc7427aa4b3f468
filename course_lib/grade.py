"""Grade: judging one notebook or one batch, shared by ``course grade`` and ``course autograde``."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from .assignment import Assignment, NotebookSpec, ensure_copy_of, recognise
from .config import CourseConfig
from .errors import GradingSetupError, SubmissionError
from .execute.jobs import assignment_files, device_for, make_job, merged_files
from .execute import pool as pools, sandbox
from .execute.runners import InlineRunner
from .judge.references import CACHE_DIR, load_references, reference_key, solution_job
from .judge.verdict import judge, problems
from .models import CheckResult, ExecutionResult, GradedSubmission
from .notebooks import question_headings, read_notebook
from .timings import mark


@dataclass(frozen=True)
class Context:
    """Everything needed to grade submissions of one notebook on one device."""

    config: CourseConfig
    spec: NotebookSpec
    device: str
    references: dict
    files: dict
    key: str = ""  # the references' key: the notebook, its grader and the whole set-up of the run
    run: object = field(default=None, compare=False, repr=False)  # how the solution runs (None: here)
    accept_failing: bool = False  # grade an nbgrader-format notebook whose solution fails its own tests
    notes: list = field(default_factory=list, compare=False)  # what the batch summary must say about it


    @classmethod
    def prepare(cls, config: CourseConfig, spec: NotebookSpec, device: str, runner=None,
                accept_failing: bool = False) -> "Context":
        """Validate the grader and get the references, computed where the students' work will run.

        ``accept_failing``: see :func:`~course_lib.judge.references.load_references`.
        """
        spec.validate()
        if config.sandbox and runner is None:
            sandbox.check()
        run = None if runner is None else (lambda job: next(iter(runner.run([job])))[1])
        files = assignment_files(config, spec)
        job = solution_job(config, spec, device=device, files=files)
        notes: list = []
        accept_failing = accept_failing or config.accept_failing_solution
        references = load_references(config, spec, device=device, run=run, job=job, accept_failing=accept_failing,
                                     notes=notes)
        return cls(config, spec, device, references, files,
                   key=reference_key(spec, device=device, seed=config.seed, job=job), run=run,
                   accept_failing=accept_failing, notes=notes)

    def check_setup(self) -> None:
        """Run the solution again, now: raises ``GradingSetupError`` if the set-up no longer runs it."""
        job = solution_job(self.config, self.spec, device=self.device, files=self.files)
        load_references(self.config, self.spec, device=self.device, run=self.run, job=job, fresh=True,
                        accept_failing=self.accept_failing)

    @cached_property
    def release_nb(self):
        return self.spec.release_nb()

    @cached_property
    def nbgrader_tests(self) -> tuple[dict, dict]:
        """An nbgrader-format notebook's test cells, as nbgrader generated them, ready to run; helpers to keep."""
        return prepared_tests(self.config, self.spec)

    def job(self, student: str, path: Path, student_nb=None, own_files: dict | None = None):
        """The job for one notebook; ``own_files``: the student's other submitted files, placed beside it."""
        tests, keeps = self.nbgrader_tests
        files = merged_files(own_files, self.files) if own_files else self.files
        return make_job(self.config, self.spec, student=student, notebook_path=path, device=self.device,
                        student_nb=student_nb, files=files, release_nb=self.release_nb,
                        tests=tests, keeps=keeps)

    def judge(self, result: ExecutionResult) -> GradedSubmission:
        graded = judge(self.spec.grader, result, self.references)
        # errors named by the question's heading, as the feedback page titles it
        return replace(graded, problems=tuple(problems(result, question_headings(self.release_nb))))

    def unreadable(self, student: str, error: SubmissionError) -> GradedSubmission:
        """Zero on every check, with the reason, for a file that cannot be run at all."""
        reason = error.message + (f" ({error.hint})" if error.hint else "")
        checks = tuple(CheckResult(name=c.name, grade_id=q.grade_id, points=0.0, max_points=c.points,
                                   passed=False, message=f"not graded: {reason}", describe=c.describe)
                       for q in self.spec.grader.questions for c in q.checks)
        return GradedSubmission(student=student, assignment=self.spec.assignment, notebook=self.spec.name,
                                checks=checks, status="unreadable", problems=(reason,), device=self.device)


def prepared_tests(config: CourseConfig, spec: NotebookSpec) -> tuple[dict, dict]:
    """``(grade_id -> ready test cell, grade_id -> helper names)``; empty for a notebook with a grader module."""
    if not spec.in_notebook:
        return {}, {}
    from .judge.nbtests import prepared_cells

    return prepared_cells(spec.source_nb(), _generated_sources(config, spec), where=str(spec.source))


def _generated_sources(config: CourseConfig, spec: NotebookSpec) -> dict[str, str]:
    """:func:`~course_lib.judge.nbtests.generated_sources`, read from the gradebook again only when it changed.

    Reading them imports nbgrader and SQLAlchemy (about 0.5 s, more than the rest of a cached set-up). With
    the gradebook in an SQLite file the answer depends only on that file (and its journal), the source
    notebook, the notebook's name and the code that reads them, so it is cached under ``.course-cache/``
    keyed by their digests, as the references are. Where the file does not exist the answer is known
    without asking: no tests generated yet, as ``generated_sources`` says. Any other gradebook URL (a
    database server, URL options) is asked every time.
    """
    from .judge import nbtests

    db = _sqlite_file(config.db_url)
    if db is None:
        return nbtests.generated_sources(config, spec)
    if not db.is_file():
        return {}  # no gradebook (grading one file before any release): the source notebook's own tests
    key = _sources_key(config, spec, db)
    path = config.path(CACHE_DIR, "tests", spec.assignment, f"{spec.name}-{key}.json")
    if path.is_file():
        return json.loads(path.read_text())
    sources = nbtests.generated_sources(config, spec)
    if _sources_key(config, spec, db) == key:  # nothing wrote the gradebook while it was read
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # two graders may read the same key at once
        tmp.write_text(json.dumps(sources))
        tmp.replace(path)
    return sources


def _sqlite_file(db_url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL (relative paths as SQLAlchemy takes them); else ``None``."""
    prefix = "sqlite:///"
    database = db_url[len(prefix):] if db_url.startswith(prefix) else ""
    if not database or "?" in database or database == ":memory:":
        return None
    return Path(database)


def _sources_key(config: CourseConfig, spec: NotebookSpec, db: Path) -> str:
    from importlib import metadata

    from .judge import nbtests

    h = hashlib.sha256()
    journals = [db.with_name(db.name + suffix) for suffix in ("-wal", "-journal")]
    for part in (db.read_bytes(), *(j.read_bytes() if j.is_file() else b"" for j in journals),
                 spec.source.read_bytes(), spec.assignment.encode(), spec.name.encode(), config.course_id.encode(),
                 Path(nbtests.__file__).read_bytes(), Path(__file__).read_bytes(),
                 metadata.version("nbgrader").encode()):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:20]


def pick_notebook(config: CourseConfig, assignment_id: str, notebook: str | None, path: Path) -> NotebookSpec:
    """The assignment notebook a file is graded as (by ``notebook``, its own name, or the only one)."""
    assignment = Assignment.load(config, assignment_id)
    if notebook:
        return assignment.notebook(notebook)
    specs = assignment.autograded()
    if len(specs) == 1:
        return specs[0]
    return assignment.notebook(Path(path).stem)


def grade_file(*, config: CourseConfig, assignment_id: str | None, path: Path, notebook: str | None = None,
               device: str | None = None) -> tuple[GradedSubmission, ExecutionResult | None]:
    """Grade one notebook file without touching the gradebook.

    Without ``assignment_id`` the assignment is recognised from the notebook's cells, as the self-check
    does (:func:`~course_lib.assignment.recognise`: several equally good fits are an error naming them).
    Raises :class:`SubmissionError` for a file that is no notebook (missing, empty, corrupt, a folder) or
    a copy of another assignment's notebook: a single file's grade of zero would only hide why.
    """
    if assignment_id is None:
        assignment_id, notebook = recognise(config, read_notebook(Path(path)))
    spec = pick_notebook(config, assignment_id, notebook, path)
    student_nb = read_notebook(Path(path))
    ensure_copy_of(config, spec, student_nb, Path(path))
    device = device_for(config, [spec], device)
    mark("read submission")
    try:
        # a warm sandbox (``course grade --assignment`` started it before the grader's imports)
        with pools.started_ahead(config, spec.assignment, device):
            return _grade(config, spec, device, Path(path), student_nb)
    except GradingSetupError:
        if not config.sandbox:
            raise
        # a broken set-up is told by a kernel started plainly: the message quotes what that kernel printed
        with pools.inactive():
            return _grade(config, spec, device, Path(path), student_nb)


def _grade(config: CourseConfig, spec: NotebookSpec, device: str, path: Path,
           student_nb) -> tuple[GradedSubmission, ExecutionResult | None]:
    context = Context.prepare(config, spec, device)
    mark("prepare")
    student = path.stem
    try:
        job = context.job(student, path, student_nb=student_nb, own_files=_submitted_beside(config, path))
    except SubmissionError as exc:
        return context.unreadable(student, exc), None
    mark("student job")
    (_, result), = InlineRunner().run([job])
    if not result.setup_done:  # nothing of the student's ran: a zero would blame them for the grader
        from .judge.references import describe_setup

        raise GradingSetupError(f"the grading set-up is broken: the run failed before any student code ran "
                                f"({result.problem or result.status}); settings: {describe_setup(job)}",
                                hint="fix the limits in nbgrader_config.py, the interpreter or the sandbox, "
                                     "then grade the file again", notebook=spec.name)
    graded = context.judge(result)
    mark("judge")
    return graded, result


def _submitted_beside(config: CourseConfig, path: Path) -> dict | None:
    """For a notebook in the course's ``submitted/`` (a student's submission graded again): the student's other
    files there, as autograde places them; ``None`` for any other file (a self-check's folder is not read)."""
    from .execute.jobs import submitted_files

    try:
        Path(path).resolve().relative_to(config.path("submitted").resolve())
    except ValueError:
        return None
    return submitted_files(config, Path(path).resolve().parent)[0]


def as_json(graded: GradedSubmission, path: Path, errors: list[str]) -> dict:
    """The ``course grade --json`` document."""
    return {
        "assignment": graded.assignment,
        "notebook": str(path),
        "score": graded.score,
        "max_score": graded.max_score,
        "checks": [{"name": c.name, "grade_id": c.grade_id, "points": c.points, "max_points": c.max_points,
                    "passed": c.passed, "message": c.message} for c in graded.checks],
        "errors": errors,
    }
