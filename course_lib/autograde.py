"""Autograde: a batch of submissions executed, judged, and written to the gradebook.

The coordinator (this module) prepares jobs, hands them to a runner, judges each
result as it arrives and commits it to nbgrader's gradebook at once. A submission
already graded with the same content, graders, references and set-up is skipped
unless ``force``, so an interrupted batch resumes where it stopped; "graded" means
the gradebook holds its scores, not only that ``autograded/`` has a done-marker.

A fault of the grader is never a student's grade. A run that fails before the
grading set-up cell completes is not recorded; when the first runs of a batch
all fail so, or all end the same bad way and the solution no longer runs under
the current set-up, the batch stops with :class:`~course_lib.errors.GradingSetupError`
before anything is recorded. One batch per course and assignment runs at a time
(:mod:`course_lib.locks`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .assignment import Assignment
from .collect import TIMESTAMP_FILE, submissions
from .config import CourseConfig
from .errors import GradingSetupError, SubmissionError
from .execute.jobs import device_for, submitted_files
from .execute import pool as pools
from .execute.runners import LocalRunner, Runner
from .gradebook import ensure_notebook, open_gradebook, record, recorded_scores
from .grade import Context
from .judge.references import describe_setup
from . import locks
from .models import CheckResult, GradedSubmission, Submission
from .notebooks import read_notebook

RESULTS_DIR = ".course"
SUSPECT_AFTER = 3  # this many bad runs in a row at a batch's start, and nothing good: the set-up is checked


@dataclass
class BatchReport:
    """Outcome of one autograde run."""

    assignment: str
    device: str
    graded: list = field(default_factory=list)  # GradedSubmission
    skipped: list = field(default_factory=list)  # Submission already up to date
    not_graded: list = field(default_factory=list)  # (Submission, problem): the grader failed, nothing recorded
    notes: list = field(default_factory=list)  # what the instructor must know about how the batch was graded


def results_path(config: CourseConfig, student: str, assignment: str, notebook: str) -> Path:
    return config.path("autograded", student, assignment, RESULTS_DIR, f"{notebook}.json")


def save_results(config: CourseConfig, graded: GradedSubmission, digest: str, collected: str | None = None) -> None:
    """Keep the verdict beside the executed notebook; ``collected`` is :func:`collected_digest` of the
    submission it judged."""
    path = results_path(config, graded.student, graded.assignment, graded.notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = dataclasses.asdict(graded) | {"digest": digest} | ({"collected": collected} if collected else {})
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # unique: another process may write the same file
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def load_results(config: CourseConfig, student: str, assignment: str, notebook: str) -> GradedSubmission | None:
    """The judged result saved by autograde (``None`` if the submission was never graded)."""
    path = results_path(config, student, assignment, notebook)
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    data.pop("digest", None)
    data.pop("collected", None)
    data["checks"] = tuple(CheckResult(**c) for c in data["checks"])
    data["problems"] = tuple(data.get("problems", ()))
    return GradedSubmission(**data)


def collected_digest(sub: Submission) -> str:
    """What a grading judged: the collected notebook's bytes and its submission time (``timestamp.txt``)."""
    h = hashlib.sha256(Path(sub.path).read_bytes())
    h.update((sub.timestamp or "").encode())
    return h.hexdigest()


def _digest(sub: Submission, context: Context, own_files: dict) -> str:
    h = hashlib.sha256(Path(sub.path).read_bytes())
    h.update(context.key.encode())  # notebook, grader and the whole set-up (limits, interpreter, packages...)
    h.update((sub.timestamp or "").encode())
    for rel, data in sorted(own_files.items()):  # the student's other files, which the notebook may read
        # a name as the file system holds it: one in another encoding than UTF-8 has no UTF-8 form
        h.update(hashlib.sha256(os.fsencode(rel)).digest() + hashlib.sha256(data).digest())
    return h.hexdigest()


def _up_to_date(config: CourseConfig, sub: Submission, digest: str, recorded: dict | None) -> bool:
    """Graded with this digest, and the gradebook holds exactly the scores of that grading."""
    path = results_path(config, sub.student, sub.assignment, sub.notebook)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if data.get("digest") != digest or recorded is None:
        return False
    scores: dict[str, float] = {}
    for check in data.get("checks", ()):
        if check.get("needs_review"):  # recorded without a score, for a person: nothing to compare
            continue
        scores[check["grade_id"]] = scores.get(check["grade_id"], 0.0) + float(check["points"])
    return all(gid in recorded and abs(recorded[gid] - score) < 1e-9 for gid, score in scores.items())


def ungraded(*, config: CourseConfig, assignment_id: str, students: list[str] | None = None) -> list[str]:
    """Students with a submission of the assignment whose scores the gradebook does not hold.

    What ``feedback``, ``report`` and the exports warn about: a batch not run yet, one that
    stopped, or a gradebook deleted or replaced since.
    """
    assignment = Assignment.load(config, assignment_id)
    names = {spec.name for spec in assignment.autograded()}
    recorded = {name: recorded_scores(config, assignment_id, name) for name in names}
    return sorted({sub.student for sub in submissions(config, assignment_id, students)
                   if sub.notebook in names and not recorded[sub.notebook].get(sub.student)})


def collected_since_graded(*, config: CourseConfig, assignment_id: str) -> list[str]:
    """Students whose grade in the gradebook is of an earlier submission than the one in ``submitted/``.

    A resubmission collected after the last ``autograde`` (another notebook, or the same one at
    another time) keeps the earlier grading's scores and submission time in the gradebook until it is
    graded, so every total shown meanwhile is of work the student replaced.
    """
    assignment = Assignment.load(config, assignment_id)
    names = {spec.name for spec in assignment.autograded()}
    stale = set()
    for sub in submissions(config, assignment_id):
        if sub.notebook not in names:
            continue
        try:
            judged = json.loads(results_path(config, sub.student, assignment_id, sub.notebook).read_text())
        except (OSError, ValueError):
            continue
        if judged.get("collected") and judged["collected"] != collected_digest(sub):
            stale.add(sub.student)
    return sorted(stale)


def ungraded_warnings(config: CourseConfig, assignment_ids) -> list[str]:
    """One line per assignment naming the students with a submission but no grade in the gradebook, and one
    naming those whose grade is of a submission they have since replaced."""
    from .errors import CourseError

    lines = []
    for aid in assignment_ids:
        try:
            missing = ungraded(config=config, assignment_id=aid)
            stale = [s for s in collected_since_graded(config=config, assignment_id=aid) if s not in missing]
        except CourseError:  # an assignment the gradebook knows and this course no longer has
            continue
        if missing:
            lines.append(f"{len(missing)} student(s) have a submission of {aid} but no grade in the gradebook "
                         f"(left out here): {', '.join(missing)}; run 'course autograde {aid}' to grade them")
        if stale:
            lines.append(f"{len(stale)} student(s) were collected again for {aid} since their grading, so the "
                         f"grade shown here is of the submission they replaced: {', '.join(stale)}; run "
                         f"'course autograde {aid}' to grade the new one")
    return lines


def autograde(*, config: CourseConfig, assignment_id: str, students: list[str] | None = None,
              device: str | None = None, force: bool = False, runner: Runner | None = None,
              progress: bool = True, wait: bool = True) -> BatchReport:
    """Grade every (or the given students') submission of an assignment.

    Only one batch of a course's assignment runs at a time: another one waits for it (``wait``), or fails
    with :class:`~course_lib.errors.BatchBusy`; what the first graded, the second then skips.

    Raises:
        GradingSetupError: The set-up (limits, interpreter, sandbox) fails runs, not the students' work.
    """
    assignment = Assignment.load(config, assignment_id)
    device = device_for(config, assignment.autograded(), device, here=runner is None)
    if students:
        submissions(config, assignment_id, students)  # refuses an unknown student before anything runs
    with locks.hold(config, f"autograde-{assignment_id}", what=f"course autograde {assignment_id}", wait=wait):
        return _run_batch(config, assignment, device, students, force, runner, progress)


def _run_batch(config: CourseConfig, assignment: Assignment, device: str, students, force: bool,
               runner: Runner | None, progress: bool) -> BatchReport:
    if runner is None:
        from .config import gpu_count

        # on CUDA every kernel gets a GPU of its own: as many at a time as there are GPUs, unless told otherwise
        gpus = gpu_count() if device == "cuda" else 0
        runner = LocalRunner(config.worker_count(device), gpus=gpus)
        # one kernel pool for the solution's check run and the class, its sandboxes starting while the batch
        # prepares the gradebook and the jobs
        with pools.active(pools.KernelPool(runner.workers)) as kernels:
            if config.sandbox:
                _prime(kernels, config, assignment, device)
            return _autograde(config, assignment, device, students, force, runner, progress)
    return _autograde(config, assignment, device, students, force, runner, progress)


def _prime(kernels: pools.KernelPool, config: CourseConfig, assignment: Assignment, device: str) -> None:
    """Start the pool's sandboxes for the assignment's jobs (they are all alike: its solution's stands for them)."""
    from .execute.jobs import kernel_job
    from .execute.run import kernel_env

    if not assignment.autograded():
        return
    try:
        job = kernel_job(config, assignment.id, device)
    except Exception:  # a broken assignment: the batch's own checks say what is wrong
        return
    kernels.prime(job, kernel_env(job))


def _autograde(config: CourseConfig, assignment: Assignment, device: str, students, force: bool, runner: Runner,
               progress: bool) -> BatchReport:
    from tqdm import tqdm

    assignment_id = assignment.id
    report = BatchReport(assignment_id, device)
    contexts = {}
    # batches of other assignments may create the same gradebook's tables at the same moment
    with locks.hold(config, "gradebook-setup", what="a gradebook set-up"):
        for spec in assignment.autograded():
            ensure_notebook(config, spec)
    for spec in assignment.autograded():
        # a local runner's references run here (through the pool, after the sandbox check); a cluster's there
        contexts[spec.name] = Context.prepare(config, spec, device,
                                              runner=None if isinstance(runner, LocalRunner) else runner)
        report.notes.extend(contexts[spec.name].notes)
    queued = []
    recorded = {name: recorded_scores(config, assignment_id, name) for name in contexts}
    for sub in submissions(config, assignment_id, students):
        own, left_out = submitted_files(config, Path(sub.path).parent)
        report.notes.extend(n for n in (f"{sub.student}: {note}" for note in left_out) if n not in report.notes)
        digest = _digest(sub, contexts[sub.notebook], own)
        if not force and _up_to_date(config, sub, digest, recorded[sub.notebook].get(sub.student)):
            report.skipped.append(sub)
        else:
            queued.append((sub, digest))
    pending = {}  # the submissions in flight: prepared and not yet judged
    bar = tqdm(total=len(queued), desc=f"grading {assignment_id}", unit="nb", disable=not progress or not queued,
               file=sys.stderr)
    with bar, open_gradebook(config, create=True) as gradebook:

        def finish(sub: Submission, graded: GradedSubmission, executed, student_nb, digest: str) -> None:
            _finish(config, contexts[sub.notebook], sub, graded, executed, student_nb, digest, gradebook=gradebook)
            report.graded.append(graded)
            bar.set_postfix_str(f"{graded.student} {graded.score:g}/{graded.max_score:g}")
            bar.update()

        def jobs():
            # prepared as the runner asks for them, so a batch holds only the few submissions in flight
            for sub, digest in queued:
                context = contexts[sub.notebook]
                try:
                    student_nb = read_notebook(Path(sub.path), student=sub.student)
                    own, _ = submitted_files(config, Path(sub.path).parent)
                    job = context.job(sub.student, Path(sub.path), student_nb=student_nb, own_files=own)
                except SubmissionError as exc:
                    finish(sub, context.unreadable(sub.student, exc), None, None, digest)
                    continue
                pending[(sub.student, sub.notebook)] = (sub, digest, student_nb)
                yield job

        guard = _SetupGuard(report, contexts, min(SUSPECT_AFTER, len(queued)))
        # an error leaves the runner's generator to be closed after the kernel pool (so its kernels end first)
        for job, result in runner.run(jobs()):
            sub, digest, student_nb = pending.pop((job.student, job.notebook))
            for (sub, digest, student_nb), result in guard.admit(job, sub, result, (sub, digest, student_nb)):
                finish(sub, contexts[sub.notebook].judge(result), result.executed, student_nb, digest)
        for (sub, digest, student_nb), result in guard.close():
            finish(sub, contexts[sub.notebook].judge(result), result.executed, student_nb, digest)
    report.graded.sort(key=lambda g: (g.student, g.notebook))
    if report.not_graded:
        listed = "; ".join(f"{sub.student} ({problem})" for sub, problem in report.not_graded[:10])
        raise GradingSetupError(
            f"{len(report.not_graded)} submission(s) could not be run because of the grader, not the student, and "
            f"were not recorded: {listed}" + (" ..." if len(report.not_graded) > 10 else "")
            + f"; the other {len(report.graded)} are recorded",
            hint="run the same command again to grade the rest; if it fails again, check the limits, the "
                 "interpreter and the sandbox")
    return report


class _SetupGuard:
    """Holds a batch's first results back until a run shows the set-up works.

    A run that fails before the grading set-up cell completes is never a grade. The first ``suspect``
    results of a batch are held while they all went wrong (a failed set-up, a dead kernel, a time-out): if
    all of them failed their set-up the same way, or the solution no longer runs under the current set-up
    (checked once, then), the batch stops with nothing recorded. One run that completes releases them.
    """

    def __init__(self, report: BatchReport, contexts: dict, suspect: int):
        self.report, self.contexts, self.suspect = report, contexts, suspect
        self.held: list = []
        self.trusted = suspect == 0
        self.problems: list = []  # (job, problem) of runs whose set-up failed, before the set-up is trusted

    def admit(self, job, sub: Submission, result, item) -> list:
        """The results to record now (``(item, result)`` pairs) after ``result`` came in."""
        if not result.setup_done:
            problem = result.problem or f"the run ended ({result.status}) before the grading set-up completed"
            self.report.not_graded.append((sub, problem))
            if not self.trusted:
                self.problems.append((job, problem))
                if len(self.problems) >= self.suspect:
                    self._stop()
            return []
        if self.trusted:
            return [(item, result)]
        self.held.append((item, result))
        if result.status == "completed":
            return self._release()
        if len(self.held) + len(self.problems) >= self.suspect:
            self._check(job)
            return self._release()
        return []

    def close(self) -> list:
        """What is still held when the batch ends (checked first, as a batch smaller than ``suspect``)."""
        if self.held and not self.trusted:
            self._check(None)
        return self._release()

    def _release(self) -> list:
        self.trusted = True
        held, self.held = self.held, []
        return held

    def _check(self, job) -> None:
        notebooks = {job.notebook} if job is not None else {item[0].notebook for item, _ in self.held}
        for name in sorted(notebooks):
            self.contexts[name].check_setup()  # raises GradingSetupError when the solution fails as well

    def _stop(self) -> None:
        job, problem = self.problems[0]
        same = all(p == problem for _, p in self.problems)
        setup = describe_setup(job)  # a student's job runs under the same settings as the solution's
        raise GradingSetupError(
            f"the grading set-up is broken: the first {len(self.problems)} run(s) of the batch all failed before "
            f"any student code ran ({'every one: ' if same else 'first: '}{problem}); settings: {setup}",
            hint="fix the limits in nbgrader_config.py, the interpreter or the sandbox, then run the same command "
                 "again; nothing was recorded")


def _previous(path: Path):
    """The notebook as it was last graded (``autograded/``), or ``None``."""
    try:
        return nbformat.read(path, as_version=4) if path.is_file() else None
    except Exception:  # unreadable: as if never graded (a hand score is then marked for review)
        return None


def _finish(config: CourseConfig, context: Context, sub: Submission, graded: GradedSubmission,
            executed: str | None, student_nb, digest: str, gradebook=None) -> None:
    """Everything that follows a verdict: gradebook first, then files, then the done-marker."""
    out_dir = config.path("autograded", sub.student, sub.assignment)
    record(config, context.spec, graded, timestamp=sub.timestamp, student_nb=student_nb,
           release_nb=context.release_nb, gradebook=gradebook,
           previous_nb=_previous(out_dir / f"{sub.notebook}.ipynb"))
    out_dir.mkdir(parents=True, exist_ok=True)
    if executed:
        (out_dir / f"{sub.notebook}.ipynb").write_text(executed)
    elif student_nb is not None:
        nbformat.write(student_nb, out_dir / f"{sub.notebook}.ipynb")
    else:
        shutil.copyfile(sub.path, out_dir / f"{sub.notebook}.ipynb")
    stamp = Path(sub.path).parent / TIMESTAMP_FILE
    if stamp.is_file():
        shutil.copyfile(stamp, out_dir / TIMESTAMP_FILE)
    save_results(config, graded, digest, collected_digest(sub))  # last: marks the submission as done for resumption
