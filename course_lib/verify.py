"""Verify: before any student is graded, prove that every check pays only for correct work.

``course verify AID`` grades, through the same jobs, kernels (the kernel pool) and
verdicts as ``course autograde``: the solution (full marks), the released blank
notebook (zero), every known submission of ``graders/<aid>/variants.py``
(alternatives keep full marks, each misconception fails exactly the checks it
names), and do-nothing *stubs* generated from the solution: every function the
solution defines returns ``None``, or its first argument, or zeros like it (``0``
for a non-array). A stub must score zero. It also refuses, naming the check, a
grader whose property check requires no main check and a check whose message
gives the expected number (or an array's shape) away. Grader modules and
nbgrader-format notebooks (test cells as checks) are verified alike.

Variants of kind ``slow`` are not run: they prove the time limits, not the checks,
and would only make verification wait for a cell timeout.

What it finds falls in three classes. *Failures* (a stub earns a point, a variant
does not score as declared, a message gives the answer away) always fail.
*Warnings* fail only under ``--strict``: a check no mutant fails, a question without
a mutant, a notebook without known submissions or without a single alternative
(nothing then shows that the checks accept correct work written differently from
the solution). *Recommendations* never fail, not even under ``--strict``: fewer
alternatives or mutants than :data:`RECOMMENDED` (strict already asks for a mutant
for every check and an alternative; how many more a question deserves is the
instructor's judgement, and a new assignment must not fail the course's tests for
it).
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .assignment import Assignment, NotebookSpec
from .config import CourseConfig
from .errors import AssignmentError
from .notebooks import grade_id, is_solution
from .synth import Variant, build, load_variants, solution_code

STUB_BODIES = {
    "stub_returns_none": "return None",
    "stub_returns_first_argument": "return {first}",
    "stub_returns_zeros": ("import numpy as _np\nimport torch as _torch\n"
                           "if isinstance({first}, _torch.Tensor):\n    return _torch.zeros_like({first})\n"
                           "if isinstance({first}, _np.ndarray):\n    return _np.zeros_like({first})\n"
                           "return 0"),
}
NOT_RUN = ("slow",)
RECOMMENDED = {"alternative": 2, "mutant": 6}
"""How many known submissions of each kind a notebook should have (the shipped assignments have 2-3 alternatives
and 11-26 mutants); fewer is a printed recommendation, never a failure."""


@dataclass(frozen=True)
class CheckRow:
    """What verification found out about one check."""

    grade_id: str
    name: str
    points: float
    kills: tuple = ()  # mutants (misconceptions) that fail it
    paid_stubs: tuple = ()  # stubs it gave points to (must be empty)
    costs_alternatives: tuple = ()  # correct alternatives it took points from (must be empty)


@dataclass
class NotebookVerification:
    """The verification of one notebook: a row per check, failures and warnings (each naming its check)."""

    assignment: str
    notebook: str
    rows: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    recommendations: list = field(default_factory=list)  # never failures, not even under --strict
    graded: dict = field(default_factory=dict)  # variant name -> (Variant, GradedSubmission)
    skipped: list = field(default_factory=list)


@dataclass
class VerifyReport:
    """Every verified notebook; ``ok(strict)`` says whether the instructor may go on."""

    notebooks: list = field(default_factory=list)

    def problems(self, strict: bool) -> list[str]:
        out = []
        for nb in self.notebooks:
            where = f"{nb.assignment}/{nb.notebook}"
            out += [f"{where}: {f}" for f in nb.failures]
            if strict:
                out += [f"{where}: {w}" for w in nb.warnings]
        return out

    def ok(self, strict: bool = False) -> bool:
        return not self.problems(strict)


def verify(*, config: CourseConfig, assignment_ids: list[str], device: str | None = None) -> VerifyReport:
    """Verify every autograded notebook of the given assignments (see the module docstring)."""
    from .execute import pool as pools
    from .execute.jobs import device_for, resolve_device
    from .execute.runners import LocalRunner

    runner = LocalRunner(config.worker_count(resolve_device(device or config.device)))
    report = VerifyReport()
    # one pool of warm sandboxes for every notebook: its solution's run, its variants and its stubs
    with tempfile.TemporaryDirectory(prefix="course-verify-") as scratch, \
            pools.active(pools.KernelPool(runner.workers)):
        for aid in assignment_ids:
            for spec in Assignment.load(config, aid).autograded():
                # nbgrader's format (no grader module) reads the tests nbgrader generated into a gradebook
                here = config if spec.grader_path.is_file() else _with_gradebook(config, Path(scratch))
                report.notebooks.append(verify_notebook(here, spec, device_for(config, [spec], device), runner))
    return report


def _with_gradebook(config: CourseConfig, scratch: Path) -> CourseConfig:
    """The course's gradebook (the tests nbgrader generated into it) or, before any grading, a new one aside."""
    from .errors import GradebookError
    from .gradebook import open_gradebook, require_gradebook

    try:
        require_gradebook(config)
        return config
    except GradebookError:  # verification never creates the course's gradebook
        aside = config.with_overrides(db_url=f"sqlite:///{scratch / 'gradebook.db'}")
        with open_gradebook(aside, create=True):
            pass
        return aside


def verify_notebook(config: CourseConfig, spec: NotebookSpec, device: str, runner) -> NotebookVerification:
    """Grade the known submissions and the stubs of one notebook and judge the checks by them."""
    from .grade import Context

    out = NotebookVerification(spec.assignment, spec.name)
    try:
        grader = spec.grader
        variants = load_variants(spec)
        context = Context.prepare(config, spec, device)
    except AssignmentError as exc:  # e.g. a property check without a main check: refused before grading
        out.failures.append(f"refused: {exc.message}")
        return out
    if len(variants) <= 1:
        out.warnings.append(f"no known submissions: write {spec.grader_path.parent / 'variants.py'} "
                            "(the solution, alternatives and misconceptions)")
    else:
        _recommend(out, [v.kind for v in variants])
    if not getattr(grader, "in_notebook", False):
        out.failures += [f"refused: {p}" for p in message_leaks(grader, context.references)]
        if out.failures:
            return out
    to_run = [v for v in variants if v.kind not in NOT_RUN] + stub_variants(spec)
    out.skipped = [v.name for v in variants if v.kind in NOT_RUN]
    jobs = [context.job(v.name, Path(f"{v.name}.ipynb"), student_nb=build(spec, v)) for v in to_run]
    by_name = {v.name: v for v in to_run}
    results = {}
    for job, result in runner.run(jobs):
        results[job.student] = result
        out.graded[job.student] = (by_name[job.student], context.judge(result))
    out.graded = {v.name: out.graded[v.name] for v in to_run}
    _judge_checks(out, grader, context.references, results)
    save_kills(config, spec, out)
    return out


def _recommend(out: NotebookVerification, kinds: list) -> None:
    """A warning without any alternative; recommendations below :data:`RECOMMENDED`."""
    what = {"alternative": "correct answers written differently from the solution",
            "mutant": "plausible mistakes, each named after its misconception"}
    if not kinds.count("alternative"):
        out.warnings.append("no alternative: add a correct answer written differently from the solution "
                            "(Variant(..., kind=\"alternative\")); it must keep full marks")
    for kind, wanted in RECOMMENDED.items():
        have = kinds.count(kind)
        if have < wanted:
            out.recommendations.append(f"{'only ' if have else ''}{have or 'no'} {kind}{'s' if have != 1 else ''}: "
                                       f"recommended at least {wanted} ({what[kind]}) in variants.py")


# -- what the class report shows: each check's kill count -------------------------------------------

KILLS_DIR = ("verify",)


def _checks_digest(spec: NotebookSpec) -> str:
    """What the kill counts depend on: the notebook, its grader and its variants."""
    h = hashlib.sha256()
    for path in (spec.source, spec.grader_path, spec.grader_path.parent / "variants.py"):
        h.update(path.read_bytes() if path.is_file() else b"-")
    return h.hexdigest()[:20]


def save_kills(config: CourseConfig, spec: NotebookSpec, nb: NotebookVerification) -> None:
    """Keep which mutants each check kills (instructor-only cache) for the class report."""
    from .judge.references import CACHE_DIR

    path = config.path(CACHE_DIR, *KILLS_DIR, spec.assignment, f"{spec.name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"digest": _checks_digest(spec), "kills": {r.name: list(r.kills) for r in nb.rows}}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def load_kills(config: CourseConfig, spec: NotebookSpec) -> dict | None:
    """``check name -> mutants it kills`` from the last ``course verify`` (``None``: never run, or stale)."""
    from .judge.references import CACHE_DIR

    path = config.path(CACHE_DIR, *KILLS_DIR, spec.assignment, f"{spec.name}.json")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data.get("kills") if data.get("digest") == _checks_digest(spec) else None


def _judge_checks(out: NotebookVerification, grader, references: dict, results: dict) -> None:
    checks = [(q.grade_id, c) for q in grader.questions for c in q.checks]
    kills = {c.name: [] for _, c in checks}
    paid = {c.name: [] for _, c in checks}
    costs = {c.name: [] for _, c in checks}
    for name, (variant, graded) in out.graded.items():
        failed = {c.name for c in graded.checks if not c.passed}
        for c in graded.checks:
            if c.passed != (c.points == c.max_points) or bool(c.message) == c.passed:
                out.failures.append(f"check {c.name!r} on {name}: its points, verdict and message disagree")
            if not c.passed and (leak := shown_secret(c.message, _reference_value(grader, references, c.name),
                                                      _student_value(grader, results.get(name), c.name))):
                out.failures.append(f"check {c.name!r} gives {leak} away in its message on {name}: {c.message!r}")
        if variant.kind == "stub":
            for c in graded.checks:
                if c.points > 0:
                    paid[c.name].append(name)
            if graded.score > 0:
                earned = ", ".join(f"{c.name} ({c.points:g})" for c in graded.checks if c.points > 0)
                out.failures.append(f"stub {name} earns {graded.score:g} point(s): {earned}")
            continue
        if variant.kind == "mutant":
            for check_name in failed:
                kills[check_name].append(name)
        if variant.kind == "alternative":
            for check_name in failed:
                costs[check_name].append(name)
        if variant.kind == "blank" and graded.score > 0:
            out.failures.append(f"the released blank notebook earns {graded.score:g} point(s)")
        expected = set(variant.fails)
        if failed != expected:
            messages = {c.name: c.message for c in graded.checks}
            wrong = [f"passes {n}" for n in sorted(expected - failed)]
            wrong += [f"fails {n} ({messages[n]})" for n in sorted(failed - expected)]
            out.failures.append(f"{variant.kind} {name} does not behave as declared: {'; '.join(wrong)}")
    for gid, check in checks:
        out.rows.append(CheckRow(gid, check.name, check.points, tuple(kills[check.name]), tuple(paid[check.name]),
                                 tuple(costs[check.name])))
        if not kills[check.name]:
            out.warnings.append(f"check {check.name!r} kills no mutant: add a misconception (a variant) that fails it")
    for q in grader.questions:
        if not any(kills[c.name] for c in q.checks):
            out.warnings.append(f"question {q.grade_id!r} has no mutant: no known misconception loses its points")


# -- stubs --------------------------------------------------------------------------------------------


def stub_variants(spec: NotebookSpec) -> list[Variant]:
    """One do-nothing submission per kind of stub: every function of every solution cell stubbed."""
    cells = {grade_id(c): solution_code(c.source) for c in spec.source_nb().cells if is_solution(c)}
    everything = tuple(sorted(c.name for q in spec.grader.questions for c in q.checks))
    out = []
    for kind, body in STUB_BODIES.items():
        answers = {gid: stubbed for gid, code in cells.items() if (stubbed := stub_cell(code, body)) is not None}
        if answers:
            out.append(Variant(kind, answers=answers, fails=everything, kind="stub"))
    return out


def stub_cell(code: str, body: str) -> str | None:
    """``code`` with the body of every function (and non-dunder method) replaced by ``body``; ``None`` if none."""
    try:
        tree = ast.parse(code)
    except SyntaxError:  # e.g. IPython magics: the cell stays as the solution wrote it
        return None
    changed = False
    for node in tree.body:
        functions = [node] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else []
        if isinstance(node, ast.ClassDef):
            functions = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                         and not (n.name.startswith("__") and n.name.endswith("__"))]
        for fn in functions:
            params = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
            if node is not fn and params and params[0] in ("self", "cls"):
                params = params[1:]
            text = body.format(first=params[0]) if params else body.replace("{first}", "None")
            if not params and "isinstance" in body:
                text = "return 0"
            fn.body = ast.parse(text).body
            fn.decorator_list = []
            changed = True
    return ast.unparse(tree) + "\n" if changed else None


# -- messages that give the answer away ---------------------------------------------------------------

_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")


def message_leaks(grader, references: dict) -> list[str]:
    """Each check whose comparator, given a wrong value, names the expected number or an array's shape."""
    from .judge.values import decode

    problems = []
    for q in grader.questions:
        values = (references.get(q.grade_id) or {}).get("values", {})
        for check in q.checks:
            if check.value_key not in values or check.compare is None:
                continue
            ref = decode(values[check.value_key])
            for wrong in _wrong_values(ref):
                try:
                    message = check.compare(wrong, ref)
                except Exception:  # a comparator that cannot take a wrong value is the variants' business
                    continue
                if message and (leak := shown_secret(message, ref, wrong)):
                    problems.append(f"check {check.name!r} gives {leak} away in its message: {message!r}")
                    break
    return problems


WHERE = re.compile(r"\(at line \d+ of [^)]*\)")


def shown_secret(message: str, ref, got=None) -> str:
    """What of the expected value (or of a hidden input's shape) ``message`` shows; "" when nothing."""
    from .judge.values import TensorValue

    if not message or ref is None:
        return ""
    message = WHERE.sub("", message)  # a line number of the student's own code is no secret
    tokens = _NUMBER.findall(message)
    secrets = _single_numbers(ref)
    got_numbers = _single_numbers(got) if got is not None else []
    if len(secrets) == 1 and len(got_numbers) == 1:
        secrets.append(abs(got_numbers[0] - secrets[0]))  # the exact error gives the expected number too
    for token in tokens:
        for value in secrets:
            if _rounds_to(token, value):
                return f"the expected value ({token})"
    for value in (ref, got):
        if isinstance(value, TensorValue) and value.array.ndim >= 2:
            shape = ", ".join(map(str, value.shape))
            if f"({shape})" in message or f"[{shape}]" in message:
                return f"a shape ({shape})"
    return ""


def _single_numbers(value) -> list[float]:
    from .judge.values import TensorValue

    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)] if np.isfinite(value) else []
    if isinstance(value, TensorValue) and value.array.size == 1 and value.array.dtype.kind in "iuf":
        number = float(value.array.reshape(-1)[0])
        return [number] if np.isfinite(number) else []
    if isinstance(value, (list, tuple)):
        return [n for item in value for n in _single_numbers(item)]
    return []


def _rounds_to(token: str, value: float) -> bool:
    """Whether ``token`` (a number in a message, with at least two significant digits) is ``value`` rounded."""
    mantissa, _, exponent = token.lower().lstrip("+-").partition("e")
    digits = mantissa.replace(".", "").lstrip("0")
    if len(digits) < 2 or value == 0:
        return False
    decimals = len(mantissa.partition(".")[2])
    unit = 10.0 ** (int(exponent or 0) - decimals)
    return abs(abs(float(token)) - abs(value)) <= unit / 2 * (1 + 1e-9)


def _wrong_values(ref) -> list:
    """Plausible wrong answers made from the reference: scaled and shifted, and (for arrays) one more axis."""
    from .judge.values import TensorValue

    if isinstance(ref, bool) or ref is None:
        return []
    if isinstance(ref, (int, float)):
        return [float(ref) * 1.37 + 0.29]
    if isinstance(ref, TensorValue):
        arr = ref.array
        if arr.dtype.kind == "b":
            changed = ~arr
        elif arr.dtype.kind in "iu":
            changed = arr + 3
        else:
            changed = (arr * 1.37 + 0.29).astype(arr.dtype)
        return [dataclasses.replace(ref, array=changed),
                dataclasses.replace(ref, array=np.stack([arr, arr]), grad=None)]
    if isinstance(ref, (list, tuple)):
        wrong = [_wrong_values(item) for item in ref]
        if all(wrong):
            return [type(ref)(w[0] for w in wrong)]
    return []


def _reference_value(grader, references: dict, check_name: str):
    from .judge.values import decode

    for q in grader.questions:
        for c in q.checks:
            if c.name == check_name and c.compare is not None:
                data = (references.get(q.grade_id) or {}).get("values", {}).get(c.value_key)
                return decode(data) if data is not None else None
    return None


def _student_value(grader, result, check_name: str):
    from .judge.values import decode

    if result is None:
        return None
    for q in grader.questions:
        for c in q.checks:
            if c.name == check_name and c.compare is not None:
                data = (result.probes.get(q.grade_id) or {}).get("values", {}).get(c.value_key)
                try:
                    return decode(data) if data is not None else None
                except Exception:
                    return None
    return None


# -- the table ----------------------------------------------------------------------------------------


def table_rows(nb: NotebookVerification) -> list[list[str]]:
    """One row per check: question, check, points, mutants it kills, stubs it pays, alternatives it costs."""
    def names(items, width=48):
        text = ", ".join(items)
        return text if len(text) <= width else text[:width - 1] + "…"

    return [[r.grade_id, r.name, f"{r.points:g}", f"{len(r.kills)}" + (f" ({names(r.kills)})" if r.kills else ""),
             names(r.paid_stubs) or "-", names(r.costs_alternatives) or "-"] for r in nb.rows]


TABLE_HEADER = ["question", "check", "points", "kills (mutants)", "pays stubs", "costs alternatives"]
