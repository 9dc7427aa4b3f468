"""The instructor's class report: how an assignment went, as HTML with PNG plots.

Statistics are computed first (plain data, tested on their own) and rendered after.
Totals come from nbgrader's gradebook, so hand-graded points and late penalties
count; per-check verdicts, run times and where each submission ran come from the
results ``course autograde`` saved. Only check names, descriptions and the messages
students also see appear: no hidden inputs, code or reference values.
"""

from __future__ import annotations

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
    questions: list = field(default_factory=list)  # (notebook, grade_id, mean fraction, max points)
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
    report = ClassReport(assignment_id)
    base = config.path("autograded")
    students = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    per_check: dict[tuple, list] = {}
    per_question: dict[tuple, list] = {}
    from .verify import load_kills

    kills = {spec.name: load_kills(config, spec) or {} for spec in assignment.autograded()}
    report.verified = all(kills.values())
    from .gradebook import recorded_scores

    # graded means the gradebook holds its scores (it may have been deleted or replaced since autograded/ was)
    held = {spec.name: recorded_scores(config, assignment_id, spec.name) for spec in assignment.autograded()}
    for student in students:
        for spec in assignment.autograded():
            graded = load_results(config, student, assignment_id, spec.name)
            if graded is None or not held[spec.name].get(student):
                continue
            problem = graded.problems[0] if graded.problems else ""
            run = Run(student, spec.name, graded.status, graded.runtime, graded.device, graded.worker or "local",
                      graded.score, graded.max_score, problem)
            report.runs.append(run)
            if graded.status != "completed" or any(w in p.lower() for p in graded.problems for w in LIMIT_WORDS):
                report.trouble.append(run)
            for c in graded.checks:
                per_check.setdefault((spec.name, c.grade_id, c.name), []).append(c)
            for gid, (score, most) in graded.question_scores().items():
                per_question.setdefault((spec.name, gid), []).append((score, most))
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
    for (nb, gid), pairs in per_question.items():
        most = pairs[0][1]
        report.questions.append((nb, gid, statistics.fmean(s / m for s, m in pairs) if most else 0.0, most))
    with open_gradebook(config) as gb:
        try:
            ga = gb.find_assignment(assignment_id)
        except Exception:
            ga = None
        if ga is not None:
            report.max_score = ga.max_score
            for sub in ga.submissions:
                report.totals.append((sub.student.id, max(0.0, sub.score - (sub.late_submission_penalty or 0.0))))
    report.totals.sort()
    return report


def _plots(report: ClassReport, out: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        files[name.removesuffix(".png")] = name

    fig, ax = plt.subplots(figsize=(6, 3.2))
    s = report.summary()
    ax.hist(report.scores, bins=min(20, max(5, len(report.scores) // 2)), range=(0, report.max_score or None),
            color="#4c72b0", edgecolor="white")
    for value, label, style in ((s["mean"], "mean", "-"), (s["median"], "median", "--")):
        ax.axvline(value, color="#c44e52", linestyle=style, label=f"{label} {value:.2f}")
    ax.set_xlabel(f"total score (of {report.max_score:g})")
    ax.set_ylabel("students")
    ax.legend()
    save(fig, "scores.png")

    fig, ax = plt.subplots(figsize=(6, 0.4 * len(report.questions) + 1.2))
    labels = [f"{gid}" for _, gid, _, _ in report.questions]
    ax.barh(labels, [m for _, _, m, _ in report.questions], color="#55a868")
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("mean score as a fraction of the question's points")
    save(fig, "questions.png")

    fig, ax = plt.subplots(figsize=(6, 3.2))
    places = sorted({f"{r.worker} ({r.device})" for r in report.runs})
    for place in places:
        mine = [r.runtime for r in report.runs if f"{r.worker} ({r.device})" == place]
        ax.hist(mine, bins=15, alpha=0.7, label=place)
    ax.set_xlabel("run time per submission (s)")
    ax.set_ylabel("submissions")
    ax.legend(fontsize="small")
    save(fig, "runtime.png")
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
    places = Counter(f"{r.worker} ({r.device})" for r in report.runs)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    page = env.get_template("report.html").render(report=report, summary=report.summary(), plots=plots,
                                                  places=sorted(places.items()),
                                                  mean_runtime=statistics.fmean(r.runtime for r in report.runs))
    target = out / "index.html"
    target.write_text(page, encoding="utf-8")
    return target
