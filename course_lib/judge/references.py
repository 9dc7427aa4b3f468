"""Reference values: the hidden probes run on the instructor's solution.

References are computed by the same execution path as a submission (same
kernel set-up, same device and seed) and cached under ``.course-cache/``
(git-ignored, instructor-only) keyed by everything they depend on.
"""

from __future__ import annotations

import hashlib
import json

from ..assignment import NotebookSpec
from ..config import CourseConfig
from ..errors import AssignmentError

CACHE_DIR = ".course-cache"


def reference_key(spec: NotebookSpec, *, device: str, seed: int) -> str:
    from ..execute.instrument import KERNEL_SIDE

    h = hashlib.sha256()
    grader = spec.grader_path.read_bytes() if spec.grader_path.is_file() else b"(the notebook's own tests)"
    for part in (spec.source.read_bytes(), grader, KERNEL_SIDE.read_bytes(), device.encode(), str(seed).encode()):
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:20]


def load_references(config: CourseConfig, spec: NotebookSpec, *, device: str, run=None) -> dict:
    """Probe records of the solution notebook (computed once, then read from the cache).

    Args:
        run: The function that executes a job (default: run it here, in a fresh kernel).
    """
    from ..execute.jobs import make_job
    from ..execute.run import run_job

    key = reference_key(spec, device=device, seed=config.seed)
    path = config.path(CACHE_DIR, "references", spec.assignment, f"{spec.name}-{device}-{key}.json")
    if path.is_file():
        return json.loads(path.read_text())
    job = make_job(config, spec, student="(solution)", notebook_path=spec.source, device=device,
                   student_nb=spec.source_nb())
    result = (run or run_job)(job)
    if spec.in_notebook:  # nbgrader's format: nothing to compare with, but the solution must pass its own tests
        missing = [q.grade_id for q in spec.grader.questions if q.grade_id not in result.tests]
        broken = {gid: rec["reason"] or f"scored {rec['score']:g} of {rec['max_score']:g}"
                  for gid, rec in result.tests.items() if rec["score"] < rec["max_score"]}
    else:
        missing = [q.grade_id for q in spec.grader.questions if q.grade_id not in result.probes]
        broken = {gid: rec["error"] for gid, rec in result.probes.items() if rec.get("error")}
    if result.status != "completed" or result.cell_errors or missing or broken:
        details = "; ".join([*(f"cell {e.cell_index + 1} raised {e.ename}: {e.evalue}" for e in result.cell_errors),
                             *(f"{'test cell' if spec.in_notebook else 'probe'} {gid} failed: {err}"
                               for gid, err in broken.items()),
                             *([f"probes not reached: {', '.join(missing)}"] if missing else []),
                             *([result.problem] if result.problem else [])])
        raise AssignmentError(f"the solution notebook {spec.source} does not run cleanly under grading: {details}",
                              hint="fix the solution or its grader before grading students")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result.probes))
    tmp.replace(path)
    return result.probes
