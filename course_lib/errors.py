"""One error root for the course tools.

Every error the pipeline raises on purpose is a :class:`CourseError`. It carries
structured fields (which student, which notebook) and an exit code; only the
command-line layer turns it into a message and an exit status.
"""

from __future__ import annotations


class CourseError(Exception):
    """Root of every error the course tools raise on purpose.

    Args:
        message: What went wrong, in words an instructor can act on.
        hint: What to do about it.
        student: The student concerned, if any.
        notebook: The notebook concerned, if any.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str = "", student: str = "", notebook: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.student = student
        self.notebook = notebook

    def __str__(self) -> str:
        where = ", ".join(p for p in (f"student {self.student}" if self.student else "",
                                      f"notebook {self.notebook}" if self.notebook else "") if p)
        text = f"{where}: {self.message}" if where else self.message
        return f"{text}\n  -> {self.hint}" if self.hint else text

    def __reduce__(self):
        # Errors cross process boundaries (worker pools); keep the fields.
        return (_rebuild, (type(self), self.message, self.hint, self.student, self.notebook))


def _rebuild(cls, message, hint, student, notebook):
    return cls(message, hint=hint, student=student, notebook=notebook)


class ConfigError(CourseError):
    """The course directory or ``nbgrader_config.py`` is unusable."""

    exit_code = 2


class AssignmentError(CourseError):
    """An assignment is missing, malformed, or its graders disagree with its notebook."""

    exit_code = 2


class SubmissionError(CourseError):
    """A single submission cannot be read; the batch goes on without it."""

    exit_code = 3


class ReleaseStale(CourseError):
    """``release/`` no longer matches what nbgrader makes from ``source/``."""

    exit_code = 4


class GradingSetupError(CourseError):
    """The grading set-up itself fails (limits, interpreter, sandbox, device), not a student's work.

    Raised before anything of the batch is recorded, so no student gets a zero
    for a fault of the grader; fix the setting and run the same command again.
    """

    exit_code = 5


class BatchBusy(CourseError):
    """Another ``course autograde`` of the same course and assignment holds its lock."""

    exit_code = 6


class GradebookError(CourseError):
    """The gradebook's database cannot be opened, read or written (what is already committed stays)."""

    exit_code = 7


class ClusterError(CourseError):
    """The cluster cannot run the batch: Slurm refuses its workers' jobs, or no worker starts in time.

    What the batch graded before is recorded; every job it submitted is cancelled.
    """

    exit_code = 8


def from_os_error(exc: OSError) -> CourseError:
    """An operating-system error (a full disk, a missing or read-only file) in words an instructor can act on."""
    import errno
    import tempfile

    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return CourseError(f"no space left on the disk{where}",
                           hint="free some space (the course folder, and the temporary folder "
                                f"{tempfile.gettempdir()}) and run the same command again; what was graded is kept")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return CourseError(f"not allowed to write or read{where}: {exc.strerror}",
                           hint="check the permissions of that file and its folder")
    if isinstance(exc, FileNotFoundError):
        return CourseError(f"no such file or folder{where}", hint="check the path (a folder written into must exist)")
    if isinstance(exc, (IsADirectoryError, NotADirectoryError)):
        return CourseError(f"{exc.strerror}{where}", hint="give a file where a file is asked for")
    return CourseError(f"{exc.strerror or exc}{where}", hint="check the path and its permissions")
