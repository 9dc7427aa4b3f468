"""The instructor's class report: how an assignment went, as HTML with PNG plots.

Statistics are computed first (plain data, tested on their own) and rendered after.
Totals come from nbgrader's gradebook, so hand-graded points and late penalties
count; per-check verdicts, run times and where each submission ran come from the
results ``course autograde`` saved. Only check names, descriptions and the messages
students also see appear: no hidden inputs, code or reference values.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from .assignment import Assignment
from .autograde import load_results
from .config import CourseConfig
from .errors import CourseError

TOP_MESSAGES = 3


@dataclass(frozen=True)
class CheckStats:
    """How often one hidden check failed, and with which messages."""

    notebook: str
    grade_id: str
    name: str
    describe: str
    runs: int
    failures: int
    messages: tuple  # (message, count), most frequent first
    kills: int | None = None  # known misconceptions (mutants) it catches, from `course verify`; None: not verified

    @property
    def failure_rate(self) -> float:
        return self.failures / self.runs if self.runs else 0.0


@dataclass(frozen=True)
class QuestionStats:
    """One grade cell across the class, from the gradebook (hand-graded cells included)."""

    notebook: str
    grade_id: str
    title: str  # the heading the student reads above the question
    points: float
    mean: float  # mean score as a fraction of ``points``, over the submissions that have a score for it
    manual: bool  # graded by hand (formgrader)
    scored: int  # submissions with a score for it
    pending: int  # submissions still waiting for a person's grade


@dataclass(frozen=True)
class Run:
    """One graded submission's run."""

    student: str
    notebook: str
    status: str
    runtime: float
    device: str
    worker: str
    score: float
    max_score: float
    problem: str


@dataclass
class ClassReport:
    """Everything the report shows, computed."""

    assignment: str
    totals: list = field(default_factory=list)  # (student, final score) from the gradebook
    max_score: float = 0.0
    questions: list = field(default_factory=list)  # QuestionStats, in notebook order
    checks: list = field(default_factory=list)  # CheckStats, most failed first
    runs: list = field(default_factory=list)  # Run
    trouble: list = field(default_factory=list)  # Run that hit a limit or failed to run
    verified: bool = False  # kill counts from an up-to-date `course verify` for every notebook

    @property
    def scores(self) -> list[float]:
        return [s for _, s in self.totals]

    def summary(self) -> dict:
        s = self.scores
        return {"n": len(s), "mean": statistics.fmean(s) if s else 0.0, "median": statistics.median(s) if s else 0.0,
                "max": max(s) if s else 0.0, "min": min(s) if s else 0.0, "max_score": self.max_score}


LIMIT_WORDS = ("limit", "timed out", "timeout", "memory", "killed", "too much output")


def compute(config: CourseConfig, assignment_id: str) -> ClassReport:
    """The statistics of every graded submission of an assignment."""
    from .gradebook import open_gradebook, require_gradebook

    assignment = Assignment.load(config, assignment_id)
    require_gradebook(config, assignment_id)  # the totals come from there: never describe what a new, empty one holds
    from .late import absent_notebooks, refresh_totals

    refresh_totals(config, assignment_id)  # the current due date, resubmissions and hand grades in the totals
    report = ClassReport(assignment_id)
    base = config.path("autograded")
    students = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    per_check: dict[tuple, list] = {}
    from .verify import load_kills

    kills = {spec.name: load_kills(config, spec) or {} for spec in assignment.autograded()}
    report.verified = all(kills.values())
    from .gradebook import recorded_scores

    # graded means the gradebook holds its scores (it may have been deleted or replaced since autograded/ was)
    held = {spec.name: recorded_scores(config, assignment_id, spec.name) for spec in assignment.autograded()}
    for student in students:
        for spec in assignment.autograded():
            graded = load_results(config, student, assignment_id, spec.name)
            if graded is None or not held[spec.name].get(student) or absent_notebooks(
                    config, assignment_id, student, [spec.name]):
                continue  # not graded, or a notebook the student's current submission no longer holds
            problem = graded.problems[0] if graded.problems else ""
            run = Run(student, spec.name, graded.status, graded.runtime, graded.device, graded.worker or "local",
                      graded.score, graded.max_score, problem)
            report.runs.append(run)
            if graded.status != "completed" or any(w in p.lower() for p in graded.problems for w in LIMIT_WORDS):
                report.trouble.append(run)
            for c in graded.checks:
                per_check.setdefault((spec.name, c.grade_id, c.name), []).append(c)
    if not report.runs:
        raise CourseError(f"no graded submission of {assignment_id}", hint=f"run `course autograde {assignment_id}`")
    for (nb, gid, name), results in per_check.items():
        failed = [c for c in results if not c.passed]
        messages = Counter(c.message.strip().splitlines()[0] if c.message.strip() else "(no message)" for c in failed)
        known = kills.get(nb, {}).get(name)
        report.checks.append(CheckStats(nb, gid, name, results[0].describe, len(results), len(failed),
                                        tuple(messages.most_common(TOP_MESSAGES)),
                                        None if known is None else len(known)))
    report.checks.sort(key=lambda c: (-c.failure_rate, c.notebook, c.grade_id, c.name))
    cells: dict[tuple, list] = {}  # (notebook, grade id) -> [(score or None, max score)], one per submission
    with open_gradebook(config) as gb:
        try:
            ga = gb.find_assignment(assignment_id)
        except Exception:
            ga = None
        if ga is not None:
            report.max_score = ga.max_score
            for sub in ga.submissions:
                report.totals.append((sub.student.id, max(0.0, sub.score - (sub.late_submission_penalty or 0.0))))
                for nb in sub.notebooks:
                    for g in nb.grades:
                        given = g.manual_score if g.manual_score is not None else g.auto_score
                        cells.setdefault((nb.name, g.cell.name), []).append((given, g.max_score))
    report.totals.sort()
    report.questions = question_stats(assignment, cells)
    return report


def question_stats(assignment: Assignment, cells: dict) -> list[QuestionStats]:
    """Every grade cell of the assignment (autograded and hand-graded) with its class mean, in notebook order."""
    out = []
    for spec in assignment.notebooks:
        source = spec.source_nb()
        titles = question_titles(source)
        for gid, points, manual in spec.grade_cells():
            given = cells.get((spec.name, gid), [])
            scores = [score for score, _ in given if score is not None]
            mean = statistics.fmean(scores) / points if scores and points else 0.0
            out.append(QuestionStats(spec.name, gid, titles.get(gid, gid), points, mean, manual, len(scores),
                                     len(given) - len(scores)))
    return out


_POINTS = re.compile(r"\s*\(\s*\d+(\.\d+)?\s*points?\s*\)\s*$", re.IGNORECASE)


def question_titles(nb) -> dict[str, str]:
    """``grade_id -> the heading above it`` (``Question 1 — Creating a tensor``), its points left off."""
    from .notebooks import grade_id

    titles, heading = {}, ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = [line for line in cell.source.splitlines() if line.lstrip().startswith("#")]
            if lines:
                heading = _POINTS.sub("", lines[-1].lstrip("# ").strip())
        gid = grade_id(cell)
        if gid and heading:
            titles[gid] = heading
    return titles


def score_bins(max_score: float, n_bins: int = 30) -> list[float]:
    """Bin edges on whole points from 0 past ``max_score``: full marks get a bin of their own.

    One point per bin, or a whole number of points when that would make more than ``n_bins``.
    """
    width = max(1, math.ceil(max_score / n_bins)) if max_score > 0 else 1
    top = math.floor(max_score / width) * width + width if max_score > 0 else 1
    return [float(x) for x in range(0, int(top) + 1, width)]


def score_histogram(report: ClassReport) -> tuple[list[float], list[int]]:
    """``(bin edges, students per bin)`` of the totals: each bin holds ``edge <= total < next edge``."""
    import numpy as np

    edges = score_bins(report.max_score or max(report.scores, default=0.0))
    counts, _ = np.histogram(np.clip(report.scores, edges[0], edges[-1] - 1e-9), bins=edges)
    return edges, [int(c) for c in counts]


def runtime_histogram(report: ClassReport, n_bins: int = 15) -> tuple[list[float], dict[str, list[int]]]:
    """``(bin edges, {where it ran: submissions per bin})``: one set of bins for every place, adding up to the runs."""
    import numpy as np

    times = [r.runtime for r in report.runs]
    low, high = (min(times), max(times)) if times else (0.0, 1.0)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    edges = [float(x) for x in np.linspace(low, high, n_bins + 1)]
    by_place: dict[str, list[int]] = {}
    for place in sorted({_place(r) for r in report.runs}):
        counts, _ = np.histogram([r.runtime for r in report.runs if _place(r) == place], bins=edges)
        by_place[place] = [int(c) for c in counts]
    return edges, by_place


def _place(run: Run) -> str:
    return f"{run.worker} ({run.device})"


def score_figure(report: ClassReport):
    """The histogram of totals: whole students on the y-axis, bins on whole points, the legend beside the bars."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    edges, counts = score_histogram(report)
    s = report.summary()
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    ax.bar(edges[:-1], counts, width=[b - a for a, b in zip(edges, edges[1:])], align="edge", color="#4c72b0",
           edgecolor="white")
    for value, label, style in ((s["mean"], "mean", "-"), (s["median"], "median", "--")):
        ax.axvline(value, color="#c44e52", linestyle=style, label=f"{label} {value:.2f}")
    ax.set_xlim(edges[0], edges[-1])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, max(counts, default=0) + 1)
    ax.set_xlabel(f"total score (of {report.max_score:g}); a bar holds the totals from its left edge up to its right")
    ax.set_ylabel("students")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, frameon=False)
    fig.tight_layout()
    return fig


def question_figure(report: ClassReport):
    """Mean score per question, by title, hand-graded questions marked (and how many still wait for a grade)."""
    import matplotlib.pyplot as plt

    questions = report.questions
    labels = [f"{q.title}{' (by hand' + (f', {q.pending} to grade)' if q.pending else ')') if q.manual else ''}"
              for q in questions]
    import textwrap

    labels = ["\n".join(textwrap.wrap(label, 44)) for label in labels]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(questions) + 1.2))
    ax.barh(range(len(questions)), [q.mean for q in questions],
            color=["#dd8452" if q.manual else "#55a868" for q in questions])
    ax.set_yticks(range(len(questions)), labels)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("mean score (fraction of the points)")
    fig.tight_layout()
    return fig


def runtime_figure(report: ClassReport):
    """Run time per submission, stacked by where it ran: the bars add up to the graded runs."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    edges, by_place = runtime_histogram(report)
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    bottom = [0] * (len(edges) - 1)
    for place, counts in by_place.items():
        ax.bar(edges[:-1], counts, width=[b - a for a, b in zip(edges, edges[1:])], bottom=bottom, align="edge",
               edgecolor="white", label=f"{place}: {sum(counts)}")
        bottom = [b + c for b, c in zip(bottom, counts)]
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("run time per submission (s)")
    ax.set_ylabel("submissions")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, frameon=False, fontsize="small")
    fig.tight_layout()
    return fig


def _plots(report: ClassReport, out: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}
    for name, make in (("scores", score_figure), ("questions", question_figure), ("runtime", runtime_figure)):
        fig = make(report)
        fig.savefig(out / f"{name}.png", dpi=100)
        plt.close(fig)
        files[name] = f"{name}.png"
    return files


def write_report(*, config: CourseConfig, assignment_id: str, out: Path) -> Path:
    """Write ``out/index.html`` and its PNG plots; returns the HTML file."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CourseError(f"{out} is a file; the report is a folder (index.html and its plots)",
                          hint=f"give a folder with -o, e.g. -o report/{assignment_id}")
    report = compute(config, assignment_id)
    out.mkdir(parents=True, exist_ok=True)
    plots = _plots(report, out)
    places = Counter(_place(r) for r in report.runs)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    page = env.get_template("report.html").render(report=report, summary=report.summary(), plots=plots,
                                                  places=sorted(places.items()),
                                                  titles={(q.notebook, q.grade_id): q.title for q in report.questions},
                                                  mean_runtime=statistics.fmean(r.runtime for r in report.runs))
    target = out / "index.html"
    target.write_text(page, encoding="utf-8")
    return target
