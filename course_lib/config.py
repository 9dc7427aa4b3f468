"""The one typed configuration object, built from ``nbgrader_config.py``.

nbgrader reads the same file for its own sections (``CourseDirectory`` and the
like); the course tools read the ``Course`` section and nbgrader's
``CourseDirectory.course_id`` / ``db_url``. Command-line flags override the file
through :meth:`CourseConfig.with_overrides`, so no setting is declared twice.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

CONFIG_FILE = "nbgrader_config.py"


@dataclass(frozen=True)
class Limits:
    """Per-assignment execution limits and runner needs.

    ``parameters`` are injected into the notebook next to ``DEVICE`` and ``SEED`` (e.g. ``{"TRAINING":
    "small"}`` for an assignment that declares a smaller training configuration). An assignment's
    ``on_cpu`` / ``on_cuda`` settings override these for runs on that device only (see :data:`DEVICE_KEYS`).
    """

    cell_timeout: float = 60.0
    notebook_timeout: float = 300.0
    gpu: bool = False
    memory_mb: int = 4096
    max_processes: int = 256
    max_file_mb: int = 256
    max_output_kb: int = 1000
    parameters: dict = field(default_factory=dict, hash=False)

    def policy(self):
        """The sandbox caps these limits set."""
        from .execute.sandbox import Policy

        return Policy(memory_mb=self.memory_mb, max_processes=self.max_processes, max_file_mb=self.max_file_mb,
                      max_output_kb=self.max_output_kb)


@dataclass(frozen=True)
class LatePolicy:
    """How late work loses points (applied through nbgrader's late-penalty plugin).

    Attributes:
        due: Due date and time in the course's time zone (``2026-10-05 23:59``); ``None``: never late.
        late_penalty_per_day: Fraction of the earned score deducted per started day late.
        late_cutoff_days: Work later than this many days scores zero; ``None``: no cut-off.
    """

    due: str | None = None
    late_penalty_per_day: float = 0.0
    late_cutoff_days: float | None = None

    def penalty(self, score: float, seconds_late: float) -> float:
        """Points deducted from ``score`` for work handed in ``seconds_late`` after the due date."""
        if seconds_late <= 0 or score <= 0:
            return 0.0
        days = seconds_late / 86400.0
        if self.late_cutoff_days is not None and days > self.late_cutoff_days:
            return score
        return min(score, score * self.late_penalty_per_day * math.ceil(days))


@dataclass(frozen=True)
class SlurmSettings:
    """How ``course autograde --cluster slurm`` asks Slurm for workers (the ``c.Slurm`` section).

    Each Slurm job runs one Dask worker (dask-jobqueue's ``SLURMCluster``); jobs come and go with the batch,
    between none and ``max_jobs``.

    Attributes:
        partition: Slurm partition (``-p``); ``None``: the cluster's default partition.
        account: Slurm account charged (``-A``); ``None``: the user's default account.
        walltime: Time limit of each worker's job (``-t``, ``HH:MM:SS``).
        memory: Memory of each worker's job (``--mem``), e.g. ``"16GB"``; room for ``cores`` sandboxes.
        cores: CPU cores of each job (``--cpus-per-task``): submissions a CPU worker runs at a time.
        gpus_per_worker: GPUs each worker's job asks for (``--gres=gpu:N``) when the assignment needs a GPU;
            the worker then runs that many submissions at a time (its ``GPU`` resource), each kernel seeing
            only a GPU of its own.
        activate: Shell line that makes the course's Python environment available in a job, e.g.
            ``"source /home/me/course/.venv/bin/activate"`` or ``"module load python/3.11"``.
        python: The workers' interpreter; ``""``: this one, or ``python3`` on the path ``activate`` sets.
        max_jobs: Most worker jobs at a time.
        start_wait: Seconds to wait for a first worker (or a new one, when every worker is gone) before the
            batch stops with the Slurm jobs' states.
        interface: Network interface the workers reach this machine on (e.g. ``ib0``); ``None``: any.
        extra_directives: More ``#SBATCH`` options, e.g. ``["--qos=short"]``.
    """

    partition: str | None = None
    account: str | None = None
    walltime: str = "01:00:00"
    memory: str = "16GB"
    cores: int = 4
    gpus_per_worker: int = 1
    activate: str = ""
    python: str = ""
    max_jobs: int = 4
    start_wait: float = 600.0
    interface: str | None = None
    extra_directives: list = field(default_factory=list)

    @classmethod
    def from_section(cls, section: dict, path: Path) -> "SlurmSettings":
        """The settings of ``c.Slurm`` in ``path``, each checked for its type and range."""
        hints = typing.get_type_hints(cls)
        unknown = sorted(set(section) - set(hints))
        if unknown:
            raise ConfigError(f"unknown setting(s) c.Slurm.{', c.Slurm.'.join(unknown)} in {path}",
                              hint=f"known settings: {', '.join(sorted(hints))}")
        for name, value in section.items():
            problem = _setting_problem(name, value, hints[name])
            if name == "extra_directives" and not (isinstance(value, (list, tuple))
                                                   and all(isinstance(v, str) for v in value)):
                problem = "must be a list of text (strings)"
            elif not problem and name in ("cores", "gpus_per_worker", "max_jobs", "start_wait") and value <= 0:
                problem = "must be more than 0"
            if problem:
                raise ConfigError(f"c.Slurm.{name} = {value!r} in {path}: {problem}",
                                  hint="fix it in nbgrader_config.py")
        values = {**section}
        if "extra_directives" in values:
            values["extra_directives"] = list(values["extra_directives"])
        return cls(**values)


@dataclass(frozen=True)
class CourseConfig:
    """Settings for one course directory.

    Attributes:
        root: The course directory (holds ``nbgrader_config.py``).
        course_id: nbgrader's course id.
        db_url: SQLAlchemy URL of nbgrader's gradebook.
        device: ``auto``, ``cpu`` or ``cuda`` (``auto`` picks CUDA when present).
        seed: The seed injected into every submission as ``SEED``.
        workers: Parallel submissions on the local runner; 0 means one per core.
        sandbox: Run student kernels in the sandbox (off only by ``--unsafe-no-sandbox``).
        accept_failing_solution: Grade an nbgrader-format assignment whose solution fails its own tests (as
            nbgrader would); off by default, so a broken solution stops the batch before anyone is graded.
        kernel_name: Jupyter kernel every submission runs in, whatever its metadata says.
        limits: Default limits; ``assignment_limits`` overrides them per assignment.
        timezone: The Moodle site's time zone: due dates and the worksheet's times are read in it.
        late: Default late policy; ``assignment_limits`` holds each assignment's ``due`` and overrides.
        moodle_headers: The Moodle site's worksheet headers by their English names
            (``{"Grade": "Bewertung"}``); names not given are English.
        slurm: How ``--cluster slurm`` asks Slurm for workers (``c.Slurm``).
        warm_idle: Seconds the warm grading sandbox of ``course grade`` and ``course check`` waits for the
            next command before it ends (:mod:`course_lib.execute.warm`); 0 turns it off.
    """

    root: Path
    course_id: str = "course"
    db_url: str = ""
    device: str = "auto"
    seed: int = 0
    workers: int = 0
    kernel_name: str = "python3"
    sandbox: bool = True
    accept_failing_solution: bool = False
    limits: Limits = field(default_factory=Limits)
    assignment_limits: dict = field(default_factory=dict)
    timezone: str = "UTC"
    late: LatePolicy = field(default_factory=LatePolicy)
    moodle_headers: dict = field(default_factory=dict)
    slurm: SlurmSettings = field(default_factory=SlurmSettings)
    warm_idle: int = 300

    # -- construction ---------------------------------------------------
    @classmethod
    def load(cls, root: str | os.PathLike | None = None) -> "CourseConfig":
        """Read ``nbgrader_config.py`` from ``root`` (default: search upwards from cwd)."""
        root = Path(root).resolve() if root else find_course_root(Path.cwd())
        path = root / CONFIG_FILE
        if not path.is_file():
            raise ConfigError(f"no {CONFIG_FILE} in {root}",
                              hint="run the command inside the course directory or pass --course DIR")
        from traitlets.config.loader import PyFileConfigLoader

        try:
            cfg = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
        except Exception as exc:  # the file is the instructor's Python code
            raise ConfigError(f"{path} could not be read: {exc}", hint="fix the Python error in it") from exc
        course = cfg.get("Course", {})
        # `sandbox` is not a file setting: running without it takes an explicit flag on each command.
        late_keys = {f.name for f in dataclasses.fields(LatePolicy)} - {"due"}
        known = (({f.name for f in dataclasses.fields(cls)} - {"sandbox", "late", "accept_failing_solution", "slurm"})
                 | {f.name for f in dataclasses.fields(Limits)} | late_keys)
        unknown = sorted(set(course) - known - {"assignments"})
        if unknown:
            raise ConfigError(f"unknown setting(s) c.Course.{', c.Course.'.join(unknown)} in {path}",
                              hint=f"known settings: {', '.join(sorted(known - {'root', 'limits'}))}")
        check_settings(course, path)
        limit_keys = {f.name for f in dataclasses.fields(Limits)}
        limits = Limits(**{k: course[k] for k in limit_keys if k in course})
        execute_timeout = cfg.get("Execute", {}).get("timeout")
        if "cell_timeout" not in course and type(execute_timeout) is int and execute_timeout > 0:
            # an nbgrader course's own per-cell limit (c.Execute.timeout), unless the course sets its own
            limits = dataclasses.replace(limits, cell_timeout=float(execute_timeout))
        coursedir = cfg.get("CourseDirectory", {})
        for key in ("course_id", "db_url"):
            if key in coursedir and not isinstance(coursedir[key], str):
                raise ConfigError(f"c.CourseDirectory.{key} = {coursedir[key]!r} in {path} must be text (a string)")
        if coursedir.get("db_url"):
            check_db_url(coursedir["db_url"], f"c.CourseDirectory.db_url in {path}")
        db_url = coursedir.get("db_url") or f"sqlite:///{root / 'gradebook.db'}"
        late = LatePolicy(**{k: course[k] for k in late_keys if k in course})
        simple = {k: course[k] for k in ("device", "seed", "workers", "kernel_name", "timezone", "moodle_headers",
                                         "warm_idle") if k in course}
        slurm = SlurmSettings.from_section(dict(cfg.get("Slurm", {})), path)
        conf = cls(root=root, course_id=coursedir.get("course_id", "course"), db_url=db_url,
                   limits=limits, late=late, assignment_limits=dict(course.get("assignments", {})), slurm=slurm,
                   **simple)
        conf._validate()
        return conf

    def with_overrides(self, **changes) -> "CourseConfig":
        """A copy with command-line values applied (``None`` means "not given")."""
        changes = {k: v for k, v in changes.items() if v is not None}
        for name, value in changes.items():
            flag = f"--{name.replace('_', '-')} {value}"
            problem = _setting_problem(name, value, _HINTS.get(name))
            if problem:
                raise ConfigError(f"{flag}: {problem}", hint="see `course COMMAND --help`")
        if "db_url" in changes:
            check_db_url(changes["db_url"], "--db-url")
        conf = dataclasses.replace(self, **changes)
        conf._validate()
        return conf

    def _validate(self) -> None:
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"device must be auto, cpu or cuda, not {self.device!r}")
        for aid, extra in self.assignment_limits.items():
            bad = set(extra) - _LIMIT_KEYS - _LATE_KEYS - set(DEVICE_KEYS) - set(MOODLE_KEYS)
            bad |= {f"{key}.{k}" for key in DEVICE_KEYS for k in extra.get(key, {}) if k not in _DEVICE_LIMIT_KEYS}
            if bad:
                raise ConfigError(f"c.Course.assignments[{aid!r}] has unknown keys {sorted(bad)}")
            self.due_utc(aid)
        if not isinstance(self.moodle_headers, dict):
            raise ConfigError(f"c.Course.moodle_headers must be a dict, not {type(self.moodle_headers).__name__}",
                              hint='e.g. {"Identifier": "ID", "Grade": "Bewertung"}')
        from .moodle.worksheet import Headers

        Headers.of(self.moodle_headers)  # unknown names are reported here, not at export time

    @property
    def shown_db_url(self) -> str:
        """The gradebook URL as it may be printed: any password replaced by ``***``."""
        return masked_url(self.db_url)

    # -- derived values -------------------------------------------------
    def limits_for(self, assignment: str, device: str | None = None) -> Limits:
        """Limits of one assignment: the defaults with its own overrides, then (given ``device``) its
        ``on_cpu`` / ``on_cuda`` ones; ``parameters`` are merged, not replaced."""
        own = self.assignment_limits.get(assignment, {})
        limits = self.limits
        layers = [own, own.get(device_key(device), {})] if device else [own]
        for layer in layers:
            changes = {k: v for k, v in layer.items() if k in _LIMIT_KEYS}
            if "parameters" in changes:
                changes["parameters"] = {**limits.parameters, **changes["parameters"]}
            limits = dataclasses.replace(limits, **changes)
        return limits

    def late_for(self, assignment: str) -> LatePolicy:
        """Late policy of one assignment: its ``due`` with the course's penalty unless it sets its own."""
        own = self.assignment_limits.get(assignment, {})
        return dataclasses.replace(self.late, **{k: v for k, v in own.items() if k in _LATE_KEYS})

    def moodle_max_grade(self, assignment: str) -> float | None:
        """The maximum grade of the assignment's grade item in Moodle, if the course sets it."""
        value = self.assignment_limits.get(assignment, {}).get("moodle_max_grade")
        return float(value) if value is not None else None

    def due_utc(self, assignment: str):
        """The assignment's due date as an aware UTC datetime (``None`` if it has none)."""
        due = self.late_for(assignment).due
        if not due:
            return None
        from datetime import datetime, timezone
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"c.Course.timezone {self.timezone!r} is not a known time zone",
                              hint="use a name such as Europe/Berlin or UTC") from exc
        try:
            when = datetime.fromisoformat(str(due))
        except ValueError as exc:
            raise ConfigError(f"c.Course.assignments[{assignment!r}]['due'] = {due!r} is not a date and time",
                              hint="write it as 2026-10-05 23:59 (in c.Course.timezone)") from exc
        return (when if when.tzinfo else when.replace(tzinfo=zone)).astimezone(timezone.utc)

    def worker_count(self, device: str = "cpu") -> int:
        """Workers for the local runner: ``workers``, else one per GPU on CUDA, else one per core."""
        if self.workers > 0:
            return self.workers
        if device.startswith("cuda"):
            return max(1, gpu_count())
        return usable_cpus()

    def path(self, *parts: str) -> Path:
        """A path inside the course directory."""
        return self.root.joinpath(*parts)


CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "QUOTA PERIOD", or "max PERIOD" without a quota


def usable_cpus(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may run on: its CPU affinity (a batch job's cpuset, ``taskset``), capped by its
    cgroup's CPU quota (a container's ``--cpus``), whole cores rounded up; ``os.cpu_count()`` counts the whole
    machine's, and kernels on more workers than cores only wait for each other."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max" and int(period) > 0 and int(quota) > 0:
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def gpu_count() -> int:
    """CUDA devices this process may use (0 without a driver; no torch import needed then)."""
    if not (os.path.exists("/dev/nvidiactl") or os.path.exists("/proc/driver/nvidia")):
        return 0
    try:
        import torch

        return torch.cuda.device_count()
    except ImportError:
        return 0


_LIMIT_KEYS = {f.name for f in dataclasses.fields(Limits)}
_LATE_KEYS = {f.name for f in dataclasses.fields(LatePolicy)}
DEVICE_KEYS = ("on_cpu", "on_cuda")
MOODLE_KEYS = ("moodle_max_grade",)
"""An assignment's settings for Moodle: ``moodle_max_grade``, the maximum grade of its grade item in Moodle's
gradebook (the course-wide exports write each grade in that item's points)."""
"""An assignment's settings for runs on one kind of device only, e.g. ``"on_cpu": {"cell_timeout": 300}``."""
_DEVICE_LIMIT_KEYS = _LIMIT_KEYS - {"gpu"}  # whether it needs a GPU cannot depend on the device it runs on


def device_key(device: str) -> str:
    """The assignment setting that holds overrides for ``device`` (``cuda:1`` -> ``on_cuda``)."""
    return "on_cuda" if str(device).startswith("cuda") else "on_cpu"


def _parameters_problem(value) -> str:
    """What is wrong with a ``parameters`` setting ("" if nothing)."""
    if not isinstance(value, dict):
        return "must be a dict of parameter name to value"
    for name, item in value.items():
        if not (isinstance(name, str) and name.isidentifier()) or name in ("DEVICE", "SEED"):
            return f"{name!r} is not a parameter name the course may inject (DEVICE and SEED are its own)"
        if type(item) not in (str, int, float, bool):
            return f"the value of {name!r} must be text, a number or True/False"
    return ""
_HINTS = {**typing.get_type_hints(CourseConfig), **typing.get_type_hints(LatePolicy),
          **typing.get_type_hints(Limits)}
"""The type each setting must have, read from the dataclasses so a new setting is checked as it is declared."""

_RANGES = {
    # name: (lowest, lowest allowed itself, highest)
    "seed": (0, True, 2**32 - 1),  # NumPy's seeds are 0 .. 2**32 - 1
    "workers": (0, True, None),  # 0: one per core
    "warm_idle": (0, True, None),  # 0: no warm sandbox
    "cell_timeout": (0, False, None),
    "notebook_timeout": (0, False, None),
    "memory_mb": (0, False, None),
    "max_processes": (0, False, None),
    "max_file_mb": (0, False, None),
    "max_output_kb": (0, False, None),
    "late_penalty_per_day": (0, True, 1),
    "late_cutoff_days": (0, True, None),
}
_KINDS = {bool: "True or False", int: "a whole number", float: "a number", str: "text (a string)", dict: "a dict"}


def _setting_problem(name: str, value, hint) -> str:
    """What is wrong with ``value`` for the setting ``name`` of type ``hint`` ("" if nothing)."""
    if hint is None:
        return ""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    options = [typing.get_origin(t) or t for t in options]
    if value is None and type(None) in options:
        return ""
    kinds = [t for t in options if t in _KINDS]
    if len(kinds) < len([t for t in options if t is not type(None)]):
        return ""  # a kind of value this table does not describe (dataclasses, paths): not judged here
    fits = any(isinstance(value, bool) if t is bool else
               isinstance(value, (int, float)) and not isinstance(value, bool) if t is float else
               isinstance(value, int) and not isinstance(value, bool) if t is int else isinstance(value, t)
               for t in kinds)
    if not fits:
        return f"must be {' or '.join(_KINDS[t] for t in kinds)}" + (", or None" if type(None) in options else "")
    if name in _RANGES and not isinstance(value, bool):
        low, inclusive, high = _RANGES[name]
        if value < low or (value == low and not inclusive) or (high is not None and value > high):
            bound = f"at least {low}" if inclusive else f"more than {low}"
            return f"must be {bound}" + (f" and at most {high}" if high is not None else "")
    return ""


def _max_grade_problem(value) -> str:
    """What is wrong with a ``moodle_max_grade`` ("" if nothing)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return "must be a number above 0 (the grade item's maximum grade in Moodle)"
    return ""


def check_settings(course: dict, path: Path) -> None:
    """Raise :class:`ConfigError` naming the first ``c.Course`` setting of the wrong type or out of range."""
    for name, value in course.items():
        if name == "assignments":
            continue
        problem = _setting_problem(name, value, _HINTS.get(name))
        problem = problem or (_parameters_problem(value) if name == "parameters" else "")
        if problem:
            raise ConfigError(f"c.Course.{name} = {value!r} in {path}: {problem}",
                              hint="fix it in nbgrader_config.py")
    assignments = course.get("assignments", {})
    if not isinstance(assignments, dict):
        raise ConfigError(f"c.Course.assignments = {assignments!r} in {path}: must be a dict of assignment id to "
                          "settings", hint='for example {"01-tensors": {"cell_timeout": 30}}')
    for aid, extra in assignments.items():
        if not isinstance(extra, dict):
            raise ConfigError(f"c.Course.assignments[{aid!r}] = {extra!r} in {path}: must be a dict of settings",
                              hint='for example {"cell_timeout": 30, "due": "2026-10-05 23:59"}')
        settings = [((name,), value) for name, value in extra.items() if name not in DEVICE_KEYS]
        for key in DEVICE_KEYS:
            if key in extra and not isinstance(extra[key], dict):
                raise ConfigError(f"c.Course.assignments[{aid!r}][{key!r}] = {extra[key]!r} in {path}: must be a "
                                  "dict of settings", hint='for example {"cell_timeout": 300}')
            settings += [((key, name), value) for name, value in extra.get(key, {}).items()]
        for where, value in settings:
            name = where[-1]
            problem = _setting_problem(name, value, _HINTS.get(name)) if name in _LIMIT_KEYS | _LATE_KEYS else ""
            if name in MOODLE_KEYS and where[0] not in DEVICE_KEYS:
                problem = problem or _max_grade_problem(value)
            problem = problem or (_parameters_problem(value) if name == "parameters" else "")
            if problem:
                shown = "".join(f"[{part!r}]" for part in where)
                raise ConfigError(f"c.Course.assignments[{aid!r}]{shown} = {value!r} in {path}: {problem}",
                                  hint="fix it in nbgrader_config.py")


def masked_url(url: str) -> str:
    """A database URL with its password replaced by ``***`` (the URL unchanged when it has none)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
        return url if parsed.password is None else parsed.render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: hide whatever stands where a password would
        import re

        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def check_db_url(url: str, where: str) -> None:
    """Raise :class:`ConfigError` when ``url`` is not a SQLAlchemy URL of a known database kind."""
    from sqlalchemy.engine import make_url

    example = "sqlite:////path/to/gradebook.db or postgresql://user:password@host:5432/dbname"
    try:
        parsed = make_url(url)
    except Exception as exc:
        reason = "its port is not a number" if "int()" in str(exc) else str(exc).split("\n")[0]
        raise ConfigError(f"{where}: {masked_url(url)} is not a database URL ({reason})",
                          hint=f"write it as {example}") from None
    try:
        parsed.get_dialect()
    except Exception:
        raise ConfigError(f"{where}: {masked_url(url)} names an unknown kind of database "
                          f"{parsed.drivername!r}", hint=f"write it as {example}") from None


COURSE_FILES = (CONFIG_FILE, "source", "release", "graders")
"""What a course is, without its students: the config, the assignments, their release and hidden graders."""


def copy_course(root: Path, target: Path) -> Path:
    """A new course directory ``target`` with ``root``'s :data:`COURSE_FILES` (no students, no gradebook)."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for part in COURSE_FILES:
        src = Path(root) / part
        if src.is_dir():
            shutil.copytree(src, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(src, target / part)
    return target


def find_course_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding ``nbgrader_config.py``."""
    for candidate in (start, *start.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise ConfigError(f"no {CONFIG_FILE} in {start} or any parent directory",
                      hint="run the command inside the course directory or pass --course DIR")
