"""Autograde: a batch of submissions executed, judged, and written to the gradebook.

The coordinator (this module) prepares jobs, hands them to a runner, judges each
result as it arrives and commits it to nbgrader's gradebook at once. A submission
already graded with the same content, graders and references is skipped unless
``force``, so an interrupted batch resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .assignment import Assignment
from .collect import TIMESTAMP_FILE, submissions
from .config import CourseConfig
from .errors import SubmissionError
from .execute.jobs import resolve_device
from .execute import pool as pools
from .execute.runners import LocalRunner, Runner
from .gradebook import ensure_notebook, open_gradebook, record
from .grade import Context
from .judge.references import reference_key
from .models import CheckResult, GradedSubmission, Submission
from .notebooks import read_notebook

RESULTS_DIR = ".course"


@dataclass
class BatchReport:
    """Outcome of one autograde run."""

    assignment: str
    device: str
    graded: list = field(default_factory=list)  # GradedSubmission
    skipped: list = field(default_factory=list)  # Submission already up to date


def results_path(config: CourseConfig, student: str, assignment: str, notebook: str) -> Path:
    return config.path("autograded", student, assignment, RESULTS_DIR, f"{notebook}.json")


def save_results(config: CourseConfig, graded: GradedSubmission, digest: str) -> None:
    path = results_path(config, graded.student, graded.assignment, graded.notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = dataclasses.asdict(graded) | {"digest": digest}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def load_results(config: CourseConfig, student: str, assignment: str, notebook: str) -> GradedSubmission | None:
    """The judged result saved by autograde (``None`` if the submission was never graded)."""
    path = results_path(config, student, assignment, notebook)
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    data.pop("digest", None)
    data["checks"] = tuple(CheckResult(**c) for c in data["checks"])
    data["problems"] = tuple(data.get("problems", ()))
    return GradedSubmission(**data)


def _digest(sub: Submission, context: Context) -> str:
    h = hashlib.sha256(Path(sub.path).read_bytes())
    h.update(reference_key(context.spec, device=context.device, seed=context.config.seed).encode())
    h.update((sub.timestamp or "").encode())
    return h.hexdigest()


def _up_to_date(config: CourseConfig, sub: Submission, digest: str) -> bool:
    path = results_path(config, sub.student, sub.assignment, sub.notebook)
    try:
        return json.loads(path.read_text()).get("digest") == digest
    except (OSError, ValueError):
        return False


def autograde(*, config: CourseConfig, assignment_id: str, students: list[str] | None = None,
              device: str | None = None, force: bool = False, runner: Runner | None = None,
              progress: bool = True) -> BatchReport:
    """Grade every (or the given students') submission of an assignment."""
    from tqdm import tqdm

    assignment = Assignment.load(config, assignment_id)
    device = resolve_device(device or config.device)
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
    from .execute.jobs import make_job
    from .execute.run import kernel_env

    specs = assignment.autograded()
    if not specs:
        return
    try:
        spec = specs[0]
        job = make_job(config, spec, student="(solution)", notebook_path=spec.source, device=device,
                       student_nb=spec.source_nb())
    except Exception:  # a broken assignment: the batch's own checks say what is wrong
        return
    kernels.prime(job, kernel_env(job))


def _autograde(config: CourseConfig, assignment: Assignment, device: str, students, force: bool, runner: Runner,
               progress: bool) -> BatchReport:
    from tqdm import tqdm

    assignment_id = assignment.id
    report = BatchReport(assignment_id, device)
    contexts = {}
    for spec in assignment.autograded():
        ensure_notebook(config, spec)
        # a local runner's references run here (through the pool, after the sandbox check); a cluster's there
        contexts[spec.name] = Context.prepare(config, spec, device,
                                              runner=None if isinstance(runner, LocalRunner) else runner)
    queued = []
    for sub in submissions(config, assignment_id, students):
        digest = _digest(sub, contexts[sub.notebook])
        if not force and _up_to_date(config, sub, digest):
            report.skipped.append(sub)
        else:
            queued.append((sub, digest))
    pending = {}  # the submissions in flight: prepared and not yet judged
    bar = tqdm(total=len(queued), desc=f"grading {assignment_id}", unit="nb", disable=not progress or not queued,
               file=sys.stderr)
    with bar, open_gradebook(config) as gradebook:

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
                    job = context.job(sub.student, Path(sub.path), student_nb=student_nb)
                except SubmissionError as exc:
                    finish(sub, context.unreadable(sub.student, exc), None, None, digest)
                    continue
                pending[(sub.student, sub.notebook)] = (sub, digest, student_nb)
                yield job

        for job, result in runner.run(jobs()):
            sub, digest, student_nb = pending.pop((job.student, job.notebook))
            finish(sub, contexts[job.notebook].judge(result), result.executed, student_nb, digest)
    report.graded.sort(key=lambda g: (g.student, g.notebook))
    return report


def _finish(config: CourseConfig, context: Context, sub: Submission, graded: GradedSubmission,
            executed: str | None, student_nb, digest: str, gradebook=None) -> None:
    """Everything that follows a verdict: gradebook first, then files, then the done-marker."""
    record(config, context.spec, graded, timestamp=sub.timestamp, student_nb=student_nb,
           release_nb=context.release_nb, gradebook=gradebook)
    out_dir = config.path("autograded", sub.student, sub.assignment)
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
    save_results(config, graded, digest)  # last: marks the submission as done for resumption
