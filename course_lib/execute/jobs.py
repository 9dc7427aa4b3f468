"""Building runnable jobs from submissions, and the device they run on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import CourseConfig, usable_cpus
from ..errors import ConfigError
from .run import Job

if TYPE_CHECKING:
    from ..assignment import NotebookSpec

MAX_EXTRA_BYTES = 100 * 1024 * 1024


def resolve_device(device: str, *, here: bool = True) -> str:
    """``auto`` becomes ``cuda`` when this machine has a usable NVIDIA GPU, else ``cpu``.

    With ``here`` (the work runs on this machine) asking for CUDA where there is none raises
    :class:`ConfigError`; a cluster's workers decide for themselves.
    """
    if device != "auto":
        if here and device.startswith("cuda"):
            from ..config import gpu_count

            index = int(device.partition(":")[2] or 0) if device.partition(":")[2].isdigit() else 0
            count = gpu_count()
            if count <= index:
                found = f"{count} CUDA device(s)" if count else "no usable CUDA GPU"
                raise ConfigError(f"device {device} (--device, or c.Course.device), but this machine has {found}",
                                  hint="use --device cpu, or auto (CUDA where there is a GPU); "
                                       "c.Course.device sets the default")
        return device
    if not (os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia")):
        return "cpu"  # no driver: no need to import torch to know
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def assignment_files(config: CourseConfig, spec: NotebookSpec) -> dict:
    """Released data files of the assignment (everything but notebooks), to place beside the notebook."""
    base = config.path("release", spec.assignment)
    files, total = {}, 0
    for path in sorted(base.rglob("*")) if base.is_dir() else []:
        if path.is_file() and path.suffix != ".ipynb" and ".ipynb_checkpoints" not in path.parts:
            data = path.read_bytes()
            total += len(data)
            files[str(path.relative_to(base))] = data
    if total > MAX_EXTRA_BYTES:
        raise ValueError(f"release/{spec.assignment} data files exceed {MAX_EXTRA_BYTES} bytes")
    return files


#: nbgrader's ``CourseDirectory.ignore`` unless the course sets its own: what its autograde never copies
NBGRADER_IGNORE = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")
#: What a submission folder holds for the course's own use, never the student's
NOT_THE_STUDENTS = ("timestamp.txt",)


def students_file(config: CourseConfig):
    """A test of a path relative to a submission's folder (``a/b.py``): is it one of the student's other files?

    nbgrader's autograde runs each notebook in a copy of the student's ``submitted/<student>/<aid>/``:
    everything but notebooks and what its ``CourseDirectory.ignore`` globs match (a matching folder with all
    it holds), after which the assignment's own files overwrite the student's (:func:`merged_files`).
    ``timestamp.txt`` is collect's, not the student's.
    """
    from fnmatch import fnmatch

    from ..judge.nbtests import _nbgrader_setting

    ignore = _nbgrader_setting(config.root, "CourseDirectory", "ignore", list(NBGRADER_IGNORE))
    ignore = [str(g) for g in ignore] if isinstance(ignore, (list, tuple)) else list(NBGRADER_IGNORE)

    def test(rel: str) -> bool:
        parts = rel.split("/")
        if rel.endswith(".ipynb") or rel in NOT_THE_STUDENTS:
            return False
        return not any(fnmatch(part, glob) for part in parts for glob in ignore)

    return test


def submitted_files(config: CourseConfig, folder: Path) -> tuple[dict, list[str]]:
    """The student's other files in their submission ``folder`` (:func:`students_file`), to place beside the
    notebook; symbolic links are never followed, and no more than :data:`MAX_EXTRA_BYTES` in all are taken.

    Returns ``(relative path -> bytes, what was left out and why)``.
    """
    wanted = students_file(config)
    files, left_out, total = {}, [], 0
    for here, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(here, d)))
        for name in sorted(names):
            path = Path(here) / name
            rel = path.relative_to(folder).as_posix()
            if not wanted(rel):
                continue
            if path.is_symlink() or not path.is_file():
                left_out.append(f"{rel}: not a plain file; not placed beside the notebook")
                continue
            size = path.lstat().st_size
            if total + size > MAX_EXTRA_BYTES:
                left_out.append(f"{rel}: the student's files would exceed {MAX_EXTRA_BYTES // 2**20} MiB; "
                                "not placed beside the notebook")
                continue
            try:
                files[rel] = path.read_bytes()
            except OSError as exc:
                left_out.append(f"{rel}: unreadable ({exc.strerror or exc}); not placed beside the notebook")
                continue
            total += size
    return files, left_out


def merged_files(own: dict, released: dict) -> dict:
    """The student's files with the assignment's on top, as nbgrader overwrites them with its master versions.

    A file of the student's where the assignment has a folder (or inside one of the assignment's files) gives way.
    """
    def clashes(rel: str) -> bool:
        return any(r.startswith(rel + "/") or rel.startswith(r + "/") for r in released)

    return {**{rel: data for rel, data in own.items() if not clashes(rel)}, **released}


def make_job(config: CourseConfig, spec: NotebookSpec, *, student: str, notebook_path: Path, device: str,
             student_nb=None, files: dict | None = None, release_nb=None, tests: dict | None = None,
             keeps: dict | None = None) -> Job:
    """A :class:`Job` for one notebook; raises ``SubmissionError`` when the file is unreadable."""
    import nbformat

    from ..judge.nbtests import ignore_pattern, limit_lines
    from ..notebooks import read_notebook
    from .instrument import instrument

    nb = student_nb if student_nb is not None else read_notebook(notebook_path, student=student)
    if tests is None:
        from ..grade import prepared_tests

        tests, keeps = prepared_tests(config, spec)
    prepared = instrument(nb, release_nb if release_nb is not None else spec.release_nb(), spec.grader.probes(),
                          seed=config.seed, device=device, tests=tests, keeps=keeps)
    return Job(student=student, assignment=spec.assignment, notebook=spec.name,
               source=nbformat.writes(prepared),
               files=files if files is not None else assignment_files(config, spec),
               ignore_pattern=ignore_pattern(config.root) if spec.in_notebook else "",
               limit_lines=limit_lines(config.root) if spec.in_notebook else -1,
               **_run_settings(config, spec.assignment, device))


def device_for(config: CourseConfig, specs, device: str | None, *, here: bool = True) -> str:
    """The device the notebooks ``specs`` (of one assignment) run on, for ``device`` (``None``: c.Course.device).

    ``auto`` is CUDA where this machine has a GPU (:func:`resolve_device`), except for notebooks in
    nbgrader's own format whose assignment does not declare ``"gpu": True``: ``nbgrader autograde`` runs
    them with the DEVICE their parameters cell sets (the CPU), and their hidden tests make their tensors
    for it, so an answer that follows DEVICE would fail those tests on a GPU runner alone.
    """
    specs = list(specs)
    if not specs:
        return resolve_device(device or config.device, here=here)
    return assignment_device(config, specs[0].assignment, [spec.grader_path for spec in specs], device, here=here)


def assignment_device(config: CourseConfig, assignment_id: str, grader_paths, device: str | None, *,
                      here: bool = True) -> str:
    """:func:`device_for` from the notebooks' grader module paths alone (nothing loaded: a broken grader is
    reported where it is used, and a command can start its sandbox before it reads the notebooks)."""
    device = device or config.device
    nbgrader_format = any(not path.is_file() for path in grader_paths)  # no grader module: the tests are the notebook's
    if device == "auto" and nbgrader_format and not config.limits_for(assignment_id).gpu:
        return "cpu"
    return resolve_device(device, here=here)


def kernel_job(config: CourseConfig, assignment_id: str, device: str) -> Job:
    """A job without a notebook whose kernel starts as every job of the assignment's does on ``device``.

    Enough to start warm sandboxes (:meth:`~course_lib.execute.pool.KernelPool.prime`) before the
    assignment's notebooks and tests are prepared: a sandbox's kind depends only on these settings.
    """
    return Job(student="(kernel)", assignment=assignment_id, notebook="", source="",
               **_run_settings(config, assignment_id, device))


def _run_settings(config: CourseConfig, assignment_id: str, device: str) -> dict:
    """The fields of a :class:`Job` that do not depend on its notebook: parameters, limits, kernel, environment."""
    limits = config.limits_for(assignment_id, device)
    # Kernels running side by side share the cores: more BLAS/OpenMP threads than cores only slows them down.
    threads = str(max(1, usable_cpus() // config.worker_count()))
    return dict(
        # an assignment's declared parameters (e.g. a smaller training configuration on CPU) ride along
        parameters={"DEVICE": device, "SEED": config.seed, **limits.parameters},
        kernel_name=config.kernel_name, cell_timeout=limits.cell_timeout, notebook_timeout=limits.notebook_timeout,
        sandbox=config.sandbox, policy=limits.policy(),
        # nbgrader sets NBGRADER_EXECUTION while it autogrades; notebooks may look at it
        env={"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "NBGRADER_EXECUTION": "autograde"})
