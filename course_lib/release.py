"""Release: nbgrader's own ``generate_assignment`` from ``source/`` to ``release/``."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .assignment import Assignment
from .config import CONFIG_FILE, CourseConfig
from .errors import AssignmentError, ReleaseStale


@dataclass(frozen=True)
class ReleaseReport:
    assignment: str
    directory: Path
    files: tuple


def nbgrader_api(config: CourseConfig, **overrides):
    """nbgrader's API on this course directory (its config file plus ``overrides``)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader(CONFIG_FILE, path=str(config.root)).load_config()
    cfg.merge(Config({"CourseDirectory": {"root": str(config.root), "db_url": config.db_url, **overrides}}))
    coursedir = CourseDirectory(config=cfg)
    return NbGraderAPI(coursedir=coursedir, config=cfg)


def _generate(config: CourseConfig, assignment_id: str, **overrides) -> None:
    from .gradebook import tools_on_path

    tools_on_path()
    api = nbgrader_api(config, **overrides)
    result = api.generate_assignment(assignment_id, force=True, create=True)
    if not result.get("success"):
        detail = (result.get("error") or result.get("log") or "").strip().splitlines()
        raise AssignmentError(f"nbgrader generate_assignment failed for {assignment_id}: "
                              f"{detail[-1] if detail else 'no details'}",
                              hint="run `nbgrader generate_assignment " f"{assignment_id}` to see nbgrader's log")


def release(*, config: CourseConfig, assignment_id: str, check: bool = False) -> ReleaseReport:
    """Make (or with ``check``, verify) the student version of an assignment.

    With ``check``, nbgrader generates into a temporary directory and a temporary
    gradebook, and :class:`ReleaseStale` is raised if ``release/`` differs.
    """
    assignment = Assignment.load(config, assignment_id)
    for spec in assignment.autograded():
        spec.validate()
    target = config.path("release", assignment_id)
    if not check:
        _generate(config, assignment_id)
        return ReleaseReport(assignment_id, target, tuple(sorted(_files(target))))
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        _generate(config, assignment_id, release_directory=str(Path(tmp) / "release"),
                  db_url=f"sqlite:///{Path(tmp) / 'gradebook.db'}")
        fresh = Path(tmp) / "release" / assignment_id
        stale = _differences(fresh, target)
        if stale:
            raise ReleaseStale(f"release/{assignment_id} is stale against source/{assignment_id}: "
                               f"{', '.join(stale)}", hint=f"run `course release {assignment_id}` and commit release/")
        return ReleaseReport(assignment_id, target, tuple(sorted(_files(target))))


def _files(directory: Path) -> dict[str, Path]:
    if not directory.is_dir():
        return {}
    return {str(p.relative_to(directory)): p for p in directory.rglob("*")
            if p.is_file() and ".ipynb_checkpoints" not in p.parts}


def _differences(fresh: Path, current: Path) -> list[str]:
    a, b = _files(fresh), _files(current)
    out = [f"{name} missing" for name in sorted(set(a) - set(b))]
    out += [f"{name} not in source" for name in sorted(set(b) - set(a))]
    for name in sorted(set(a) & set(b)):
        if name.endswith(".ipynb"):
            same = json.loads(a[name].read_text()) == json.loads(b[name].read_text())
        else:
            same = a[name].read_bytes() == b[name].read_bytes()
        if not same:
            out.append(f"{name} differs")
    return out
