"""Plain data that flows between the pipeline's stages (and across processes)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Submission:
    """One student's notebook for one assignment, as collected into ``submitted/``."""

    student: str
    assignment: str
    notebook: str  # nbgrader notebook id: the released file name without .ipynb
    path: str
    timestamp: str | None = None


@dataclass(frozen=True)
class CellError:
    """An error a cell of the submission raised while it ran."""

    cell_index: int  # index among the submission's own cells
    ename: str
    evalue: str
    question: str = ""  # grade id of the question the cell belongs to, if known


@dataclass(frozen=True)
class ExecutionResult:
    """What a runner returns for one submission: data only, no verdicts.

    ``probes`` maps a question's grade id to the raw record its probe exported;
    a question whose probe never ran is absent. ``status`` is ``completed``,
    ``timeout`` (the notebook's wall-clock limit), ``kernel-died`` or ``failed``
    (the submission could not be run at all; ``problem`` says why).
    ``setup_done`` is ``False`` when the run ended before the grading set-up cell
    completed: no code of the student's ran, so whatever went wrong is the
    grader's (its limits, interpreter or sandbox), never the student's grade.
    """

    student: str
    assignment: str
    notebook: str
    status: str
    probes: dict = field(default_factory=dict)
    tests: dict = field(default_factory=dict)  # grade id -> score of an nbgrader test cell (see instrument.test_result)
    cell_errors: tuple = ()
    problem: str = ""
    executed: str = ""  # the executed notebook (JSON text), grading cells removed
    runtime: float = 0.0
    device: str = "cpu"
    worker: str = ""
    setup_done: bool = True
    log_tail: str = ""  # the end of the kernel's own output when its set-up failed (for the instructor only)


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one hidden check."""

    name: str
    grade_id: str
    points: float
    max_points: float
    passed: bool
    message: str = ""
    describe: str = ""
    needs_review: bool = False  # not scored automatically: a person must look (nbgrader's "needs manual grade")


@dataclass(frozen=True)
class GradedSubmission:
    """A judged submission: every check's verdict plus what happened while it ran."""

    student: str
    assignment: str
    notebook: str
    checks: tuple
    status: str = "completed"
    problems: tuple = ()  # notes for the student about the run (errors, limits hit)
    runtime: float = 0.0
    device: str = "cpu"
    worker: str = ""

    @property
    def score(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.checks)

    def question_scores(self) -> dict[str, tuple[float, float]]:
        """``grade_id -> (score, max_score)`` in question order."""
        out: dict[str, tuple[float, float]] = {}
        for c in self.checks:
            score, most = out.get(c.grade_id, (0.0, 0.0))
            out[c.grade_id] = (score + c.points, most + c.max_points)
        return out
