"""Reference values: the hidden probes run on the instructor's solution.

References are computed by the same execution path as a submission (same
kernel set-up, same device and seed) and cached under ``.course-cache/``
(git-ignored, instructor-only) keyed by everything they depend on: the
notebook, the grader, and the whole set-up of the run (limits, timeouts, the
kernel's environment and interpreter, installed packages, device, seed), so a
changed setting runs the solution again under it before any student is graded.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import sys

from ..assignment import NotebookSpec
from ..config import CourseConfig
from ..errors import AssignmentError, GradingSetupError

# per-kernel thread counts follow --workers; they change no result worth regrading for
_UNGRADED_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


@functools.lru_cache(maxsize=None)
def _packages() -> tuple[str, ...]:
    from importlib import metadata

    return tuple(sorted({f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()
                         if d.metadata['Name']}))


def setup_key(job) -> str:
    """A digest of everything about how ``job`` runs, but its notebook, that can change a grade."""
    from ..execute.run import kernel_env

    env = {k: v for k, v in kernel_env(job).items() if k not in _UNGRADED_ENV}
    parts = {"parameters": job.parameters, "kernel": job.kernel_name, "cell_timeout": job.cell_timeout,
             "notebook_timeout": job.notebook_timeout, "sandbox": job.sandbox,
             "policy": dataclasses.asdict(job.policy), "env": env,
             "files": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(job.files.items())},
             "python": [os.path.realpath(sys.executable), sys.version], "packages": _packages(),
             "tools": [shutil.which(t) for t in ("bwrap", "setpriv", "prlimit")]}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()[:20]


def _notebook_digest(source: str) -> str:
    """A digest of an instrumented notebook without its cell ids (new grading cells get random ones) and
    without the run's signing key (a new random one for every run, in the set-up cell's metadata and source)."""
    nb = json.loads(source)
    for cell in nb.get("cells", ()):
        cell.pop("id", None)
        meta = cell.get("metadata", {}).get("course")
        if isinstance(meta, dict) and meta.get("role") == "setup" and meta.get("key"):
            key = str(meta.pop("key"))
            text = "".join(cell["source"]) if isinstance(cell.get("source"), list) else str(cell.get("source", ""))
            cell["source"] = text.replace(key, "")
    return hashlib.sha256(json.dumps(nb, sort_keys=True).encode()).hexdigest()


def solution_job(config: CourseConfig, spec: NotebookSpec, *, device: str, files: dict | None = None):
    """The job that runs the instructor's solution exactly as a submission of it would run."""
    from ..execute.jobs import make_job

    return make_job(config, spec, student="(solution)", notebook_path=spec.source, device=device,
                    student_nb=spec.source_nb(), files=files)


def describe_setup(job) -> str:
    """The settings a broken set-up usually comes from, for an instructor to check."""
    policy = job.policy
    return (f"memory_mb={policy.memory_mb!r}, max_processes={policy.max_processes!r}, "
            f"max_file_mb={policy.max_file_mb!r}, cell_timeout={job.cell_timeout!r}, "
            f"notebook_timeout={job.notebook_timeout!r}, device {job.parameters.get('DEVICE')!r}, "
            f"kernel {job.kernel_name!r}, interpreter {sys.executable}, "
            f"sandbox {'on' if job.sandbox else 'off'}")


def _setup_failure(result) -> bool:
    """Whether a run of the (trusted) solution failed because of how it ran, not because of what it does."""
    from ..execute.run import CELL_TIMEOUT_ERROR

    return (not result.setup_done or result.status in ("kernel-died", "failed", "timeout")
            or any(e.ename == CELL_TIMEOUT_ERROR or e.evalue.startswith("it hit the ") for e in result.cell_errors))

CACHE_DIR = ".course-cache"


def reference_key(spec: NotebookSpec, *, device: str, seed: int, job=None) -> str:
    """The cache key of the solution's references; with ``job`` (the solution's), its whole set-up too."""
    from ..execute.instrument import KERNEL_SIDE

    h = hashlib.sha256()
    grader = spec.grader_path.read_bytes() if spec.grader_path.is_file() else b"(the notebook's own tests)"
    setup = (_notebook_digest(job.source) + setup_key(job)).encode() if job is not None else b""
    for part in (spec.source.read_bytes(), grader, KERNEL_SIDE.read_bytes(), device.encode(), str(seed).encode(),
                 setup):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:20]


def load_references(config: CourseConfig, spec: NotebookSpec, *, device: str, run=None, job=None,
                    fresh: bool = False, accept_failing: bool = False, notes: list | None = None) -> dict:
    """Probe records of the solution notebook (computed once per set-up, then read from the cache).

    Args:
        run: The function that executes a job (default: run it here, in a fresh kernel).
        job: The solution's job (default: made here).
        fresh: Run the solution even when its references are cached (a check that the set-up still works).
        accept_failing: An nbgrader-format notebook whose solution fails its own tests is graded anyway
            (as nbgrader grades it); ``notes`` gets a line saying so. A source notebook without solution
            cells is graded that way without asking: there is no solution to check.

    Raises:
        GradingSetupError: The solution fails because of how it runs (a kernel that dies or cannot start,
            a limit it hits, a time-out): the set-up is broken, not the solution.
        AssignmentError: The solution itself fails its probes or tests.
    """
    from ..execute.run import run_job

    job = job if job is not None else solution_job(config, spec, device=device)
    key = reference_key(spec, device=device, seed=config.seed, job=job)
    path = config.path(CACHE_DIR, "references", spec.assignment, f"{spec.name}-{device}-{key}.json")
    if path.is_file() and not fresh:
        return json.loads(path.read_text())
    result = (run or run_job)(job)
    lenient = spec.in_notebook and (accept_failing or not _has_solution(spec))
    if spec.in_notebook:  # nbgrader's format: nothing to compare with, but the solution must pass its own tests
        from .nbtests import solution_failures

        missing = [q.grade_id for q in spec.grader.questions if q.grade_id not in result.tests]
        broken = solution_failures(spec.grader, result)
    else:
        missing = [q.grade_id for q in spec.grader.questions if q.grade_id not in result.probes]
        broken = {gid: rec["error"] for gid, rec in result.probes.items() if rec.get("error")}
    if result.status != "completed" or result.cell_errors or missing or broken:
        # without a solution to trust, only a set-up that never completed says the set-up is broken
        setup_broken = _setup_failure(result) if not lenient else not result.setup_done
        details = "; ".join([*(f"cell {e.cell_index + 1} raised {e.ename}: {e.evalue}" for e in result.cell_errors),
                             *(f"{'test cell' if spec.in_notebook else 'probe'} {gid} failed: {err}"
                               for gid, err in broken.items()),
                             *([f"probes not reached: {', '.join(missing)}"] if missing else []),
                             *([result.problem] if result.problem else [])])
        if setup_broken:
            if not result.setup_done:  # nothing of the notebook ran: the probes it did not reach say nothing
                details = result.problem or f"the run ended ({result.status}) before the grading set-up completed"
            raise GradingSetupError(
                f"the grading set-up is broken: the solution notebook {spec.source} fails under the current "
                f"settings ({describe_setup(job)}): {details or result.problem or result.status}"
                + (f"; the kernel's last output: {result.log_tail}" if result.log_tail else ""),
                hint="fix the limits in nbgrader_config.py (c.Course / c.Course.assignments), the interpreter or "
                     "the sandbox, then run the same command again; nothing was recorded",
                notebook=spec.name)
        if lenient:
            why = ("its source has no solution cells to check" if not _has_solution(spec)
                   else "--accept-failing-solution was given")
            if notes is not None:
                notes.append(f"{spec.assignment}/{spec.name}: graded although the solution notebook does not pass "
                             f"its own tests ({why}): {details}")
            return result.probes  # never cached: the next run checks again
        raise AssignmentError(f"the solution notebook {spec.source} does not run cleanly under grading: {details}",
                              hint="fix the solution or its grader before grading students"
                                   + ("; to grade an nbgrader-format assignment anyway, as nbgrader would, pass "
                                      "--accept-failing-solution" if spec.in_notebook else ""))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # two graders may compute the same key at once
    tmp.write_text(json.dumps(result.probes))
    tmp.replace(path)
    return result.probes


def _has_solution(spec: NotebookSpec) -> bool:
    """Whether the source notebook holds a solution to check its tests with.

    An nbgrader assignment may have no solution cells, or solution cells that hold only a stub (no
    ``### BEGIN SOLUTION`` region and still raising ``NotImplementedError``, as in nbgrader's own fixtures).
    """
    from ..notebooks import is_solution

    return any(is_solution(c) and c.cell_type == "code"
               and ("BEGIN SOLUTION" in c.source or "NotImplementedError" not in c.source)
               for c in spec.source_nb().cells)
