"""Preparing a submission for grading and reading back what the probes saw.

Before a run, :func:`instrument` makes a clean copy of the student's notebook:
outputs are dropped (saved outputs are never trusted), locked cells (visible
tests, instructions) are restored from the released notebook, cells that only
the grader may add are removed, and two kinds of grading cells are added: one
set-up cell at the top (seeds, determinism, the probe runner) and one probe cell
right after each question's grade cell. After the run, :func:`read_run` takes the
probe records and the student's cell errors out, and :func:`strip` removes the
grading cells so neither probe code nor probe data reaches ``autograded/``.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import hmac
import json
import secrets
from pathlib import Path

import nbformat

from ..judge.kernel_side import MIME
from ..judge.nbtests import define_source, keep_source
from ..models import CellError
from ..notebooks import grade_id, is_grade, is_locked, is_solution

ROLE = "course"  # cell metadata key of the cells grading adds
TRUNCATED = "\n[output truncated:"  # how the engine marks a cell whose output hit the limit
OUTPUT_LIMIT = "OutputLimit"
KERNEL_SIDE = Path(__file__).resolve().parent.parent / "judge" / "kernel_side.py"


def _grading_cell(source: str, role: str, question: str = ""):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata[ROLE] = {"role": role, "question": question}
    cell.metadata["tags"] = [f"course-{role}"]
    return cell


def setup_source(*, seed: int, device: str, key: str = "") -> str:
    """Source of the set-up cell: the kernel-side module, installed under one private name.

    ``key`` signs the records of this run (see :func:`verified`); the kernel keeps it out of reach of the
    notebook's code and wipes it from the places that keep this cell's text.
    """
    code = KERNEL_SIDE.read_text()
    return ("__course_probe__ = {'__name__': '__course__'}\n"
            f"exec(compile({code!r}, '<course set-up>', 'exec'), __course_probe__)\n"
            f"__course_probe__ = __course_probe__['install'](seed={int(seed)!r}, device={device!r}, key={key!r})\n")


def kernel_side_code() -> tuple[str, str]:
    """``(digest, source)`` of the kernel-side module, as a zygote compiles it once for all its kernels.

    Read through the package's loader where it is no plain file: a Dask worker imports ``course_lib`` from the
    zip the batch uploads to it.
    """
    try:
        code = KERNEL_SIDE.read_text()
    except OSError:
        import pkgutil

        code = (pkgutil.get_data("course_lib.judge", "kernel_side.py") or b"").decode()
    return hashlib.sha256(code.encode()).hexdigest()[:24], code


def precompiled_setup(source: str, digest: str) -> str:
    """The set-up cell ``source`` for a kernel forked from a zygote that compiled the kernel-side module
    (``digest``) before the fork: the same cell, but the module's code object taken from where the zygote left
    it (one private entry of ``builtins``, gone once read) instead of compiling its 45,000 characters again
    (about 16 ms in every kernel). Nothing of the student's has run yet when the set-up cell does."""
    first, compiled, install = source.split("\n", 2)
    if not compiled.startswith("exec(compile("):
        return source  # not a set-up cell of this module
    fetch = f"exec(__import__('builtins').__dict__.pop({PRECOMPILED!r})[{digest!r}], __course_probe__)"
    return "\n".join((first, fetch, install))


PRECOMPILED = "__course_setup_code__"
"""Where a forked kernel finds the kernel-side module's code object, by digest (zygote_main's PRECOMPILED)."""


def probe_source(question: str, source: str, name: str) -> str:
    return f"__course_probe__.run({question!r}, {source!r}, {name!r})\n"


def call_digest(*parts) -> str:
    """What the kernel-side runner reports it ran (a probe's source and name, a test cell's code and plan)."""
    return hashlib.sha256(json.dumps(list(parts), sort_keys=True).encode()).hexdigest()


def _sent_digest(source) -> str:
    """The digest of what a grading cell's runner call (``run`` or ``test``) sends the kernel, read from the
    cell's source, which the kernel cannot change ("" when the cell is no such call)."""
    try:
        call = ast.parse("".join(source) if isinstance(source, list) else source).body[0].value
        return call_digest(ast.literal_eval(call.args[1]), ast.literal_eval(call.args[2]))
    except (SyntaxError, ValueError, AttributeError, IndexError, TypeError):
        return ""


ALTERED = "not graded: the grading record of this question was altered by the notebook's code"


def verified(record, key: str, digest: str) -> str:
    """Why a record published in the kernel is not to be believed ("" when it is): a missing or wrong
    signature, a runner that found its own code replaced, or other code than the grader sent."""
    if not isinstance(record, dict):
        return "not a record"
    mac = record.get("mac")
    body = {k: v for k, v in record.items() if k != "mac"}
    try:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return "not plain data"
    expected = hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()
    if not isinstance(mac, str) or not hmac.compare_digest(mac, expected):
        return "no valid signature"
    if record.get("tampered"):
        return "the grading code was replaced while it ran"
    if record.get("digest") != digest:
        return "it ran other code than the grader sent"
    return ""


def run_key(nb) -> str:
    """The signing key of an instrumented notebook's run (in its set-up cell's metadata; "" when none)."""
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get(ROLE)
        if meta and meta.get("role") == "setup":
            return str(meta.get("key", ""))
    return ""


def instrument(student_nb, release_nb, probes: list[tuple[str, str, str]], *, seed: int, device: str,
               tests: dict | None = None, keeps: dict | None = None, key: str | None = None):
    """A copy of ``student_nb`` ready to run: clean, restored, with grading cells added.

    Args:
        student_nb: The submission (nbformat v4).
        release_nb: The released notebook it derives from (its locked cells win).
        probes: ``(grade_id, probe source, probe function name)`` per question. Each runs after its grade
            cell, and never before the probe of an earlier question of the release: a test cell moved below a
            later question's delays the later probes to after it.
        tests: ``grade_id -> cell``: the test cells as nbgrader generated them, hidden tests included,
            ready to run through the set-up's runner (:mod:`course_lib.judge.nbtests`); they replace the
            student's copies (as nbgrader's ``OverwriteCells`` does).
        keeps: ``grade_id -> names``: read-only cells whose functions and classes the tests use; a grading
            cell after each remembers them as the instructor defined them.
        key: The key that signs this run's records (default: a new random one); it is kept in the set-up
            cell's metadata, which the kernel cannot change, for :func:`read_run`.
    """
    key = secrets.token_hex(32) if key is None else key
    nb = copy.deepcopy(student_nb)
    locked = {grade_id(c): c for c in release_nb.cells if is_locked(c) and grade_id(c)}
    released = {grade_id(c): c for c in release_nb.cells if grade_id(c)}
    locked.update(tests or {})
    cells = []
    for cell in nb.cells:
        if ROLE in cell.get("metadata", {}) or "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            continue  # only the grader adds these
        gid = grade_id(cell)
        if gid in locked:
            original = locked[gid]
            cell = copy.deepcopy(original)
        elif gid in released and cell.cell_type != released[gid].cell_type:
            cell = _retyped(cell, released[gid].cell_type)  # as nbgrader's OverwriteCells restores a cell's type
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    nb.cells = cells
    nb.metadata["kernelspec"] = copy.deepcopy(release_nb.metadata.get("kernelspec", {}))

    order = [grade_id(c) for c in release_nb.cells if grade_id(c)]
    for gid, names in (keeps or {}).items():
        for i, cell in enumerate(nb.cells):
            if grade_id(cell) == gid and ROLE not in cell.metadata and cell.cell_type == "code":
                nb.cells.insert(i + 1, _grading_cell(keep_source(names), "keep", gid))
                break
        else:  # deleted, or its metadata stripped (and its code the student's): its definitions, for the tests
            if gid in released:
                nb.cells.insert(_after_earlier(nb.cells, gid, order),
                                _grading_cell(define_source(names, released[gid].source), "keep", gid))
    earliest = 0
    for question, source, name in _in_release_order(probes, order):
        index = max(_anchor(nb.cells, question, order, release_nb), earliest)
        nb.cells.insert(index, _grading_cell(probe_source(question, source, name), "probe", question))
        earliest = index + 1
    setup = _grading_cell(setup_source(seed=seed, device=device, key=key), "setup")
    setup.metadata[ROLE]["key"] = key
    setup.metadata[ROLE]["digest"] = kernel_side_code()[0]  # of the module in its source (precompiled_setup)
    nb.cells.insert(0, setup)
    return nb


def _retyped(cell, cell_type: str):
    """The cell as a cell of ``cell_type``, its source and metadata kept."""
    if cell_type == "code":
        new = nbformat.v4.new_code_cell(cell.source)
    elif cell_type == "markdown":
        new = nbformat.v4.new_markdown_cell(cell.source)
    else:
        new = nbformat.v4.new_raw_cell(cell.source)
    new.metadata = copy.deepcopy(cell.metadata)
    if "id" in cell:
        new["id"] = cell["id"]
    return new


def _after_earlier(cells, gid: str, order: list[str]) -> int:
    """Where a cell of the release the submission lacks would be: after the last cell of the submission that
    comes before it in the release (by grade id), else at the top."""
    earlier = set(order[:order.index(gid)]) if gid in order else set()
    found = [i for i, cell in enumerate(cells) if grade_id(cell) in earlier and ROLE not in cell.metadata]
    return max(found) + 1 if found else 0


def _in_release_order(probes: list[tuple[str, str, str]], order: list[str]) -> list[tuple[str, str, str]]:
    """The probes in the order of their questions in the release (a question the release lacks last).

    A later question's probe may lend the student's code correct versions of earlier questions' functions
    (``JudgedAlone`` swaps); the student's code can keep them. Were an earlier question's probe to run after
    it (its test cell moved below a later one's), a kept function could stand in for the student's answer.
    """
    rank = {gid: i for i, gid in enumerate(order)}
    return sorted(probes, key=lambda probe: rank.get(probe[0], len(order)))


def _anchor(cells, question: str, order: list[str], release_nb) -> int:
    """Where a question's probe goes: after its grade cell, else after its solution cell, else at the end."""
    for i, cell in enumerate(cells):
        if grade_id(cell) == question and ROLE not in cell.metadata:
            return i + 1
    # The grade cell was deleted: fall back to the solution cell just before it in the release.
    previous = ""
    for cell in release_nb.cells:
        if grade_id(cell) == question:
            break
        if is_solution(cell):
            previous = grade_id(cell)
    for i, cell in enumerate(cells):
        if previous and grade_id(cell) == previous:
            return i + 1
    return len(cells)


def test_outcome(cell, ignore: str = "", key: str = "") -> dict:
    """What one executed test cell showed, as plain data for the grader to score (nbgrader's rule, there).

    ``ignore``: nbgrader's ``c.IgnorePattern.pattern``; stderr matching it does not count, as in nbgrader.
    ``key``: the run's signing key; a report without its valid signature is no report (``altered`` says why).

    ``value_first``: nbgrader's rule reads the outputs in order and the first error, stderr or result decides,
    so an error or stderr after the cell's value (a ``post_run_cell`` hook's) does not cost its partial credit.
    Only the result shown after the runner's report is the cell's value (``shown``, ``value_first``): one the
    code the test called displayed itself (through ``get_ipython().displayhook``) comes before it and decides
    nothing, nor does one after a report the notebook forged.
    """
    import re

    outcome = {"ran": cell.get("execution_count") is not None or bool(cell.get("outputs")), "error": None,
               "stderr": None, "shown": None, "report": None, "value_first": False,
               "required": list(cell.metadata.get(ROLE, {}).get("required", []))}
    reported, decided = False, False
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "display_data" and MIME in output.get("data", {}):
            report = output["data"][MIME]
            if isinstance(report, dict) and report.get("kind") == "test" and outcome["report"] is None:
                why = verified(report, key, _sent_digest(cell.get("source", ""))) if key else ""
                if why:
                    outcome.setdefault("altered", why)
                else:
                    outcome["report"] = report
                    reported = True  # a report the notebook forged is not the runner's
        elif kind == "error" and outcome["error"] is None:
            outcome["error"] = {"ename": str(output.get("ename", "")), "evalue": str(output.get("evalue", ""))[:500]}
            decided = True
        elif kind == "stream" and output.get("name") == "stderr" and outcome["stderr"] is None:
            text = str(output.get("text", ""))
            if ignore and re.search(ignore, text):
                continue
            first = text.strip().splitlines()[:1]
            outcome["stderr"] = first[0][:200] if first else ""
            decided = True
        elif kind == "execute_result" and reported and not decided:
            outcome["value_first"] = decided = True
        if kind == "execute_result" and reported and outcome["shown"] is None:
            shown = output.get("data", {}).get("text/plain")
            outcome["shown"] = ("".join(shown) if isinstance(shown, list) else str(shown))[:200] \
                if shown is not None else None
    if outcome["report"] is not None and outcome["report"].get("question") != cell.metadata[ROLE].get("question"):
        outcome["report"] = None
    return outcome


def read_run(nb, ignore: str = "", key: str | None = None) -> tuple[dict, list[CellError], dict]:
    """Probe records by question, the errors of the student's own cells, and what each test cell showed.

    ``key``: the run's signing key (default: the one :func:`instrument` put in the set-up cell's metadata).
    A record without its valid signature counts as no record: a probe's becomes one marked ``altered``.
    """
    key = run_key(nb) if key is None else key
    probes: dict = {}
    tests: dict = {}
    errors: list[CellError] = []
    question = ""
    own_index = 0
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get(ROLE)
        if meta and meta.get("role") == "test":
            tests[meta.get("question", "")] = test_outcome(cell, ignore, key)
        elif meta:
            if meta.get("role") == "probe":
                for output in cell.get("outputs", []):
                    if output.get("output_type") == "display_data" and MIME in output.get("data", {}):
                        record = output["data"][MIME]
                        if not isinstance(record, dict) or record.get("question") != meta.get("question"):
                            continue
                        why = verified(record, key, _sent_digest(cell.get("source", ""))) if key else ""
                        if not why:
                            probes[meta["question"]] = record
                            break
                        probes.setdefault(meta["question"], {"question": meta["question"], "values": {},
                                                             "error": None, "altered": why})
            continue
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        if "papermill-error-cell-tag" in cell.get("metadata", {}).get("tags", []):
            continue
        if grade_id(cell):
            question = grade_id(cell)
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "stream" and TRUNCATED in str(output.get("text", "")):
                errors.append(CellError(own_index, OUTPUT_LIMIT, "printed more than the output limit; "
                                        "the rest of its output was dropped", question))
            if output.get("output_type") == "error" and not any(e.cell_index == own_index for e in errors
                                                                  if e.ename != OUTPUT_LIMIT):
                errors.append(CellError(own_index, str(output.get("ename", "")), str(output.get("evalue", ""))[:500],
                                        question))
        own_index += 1
    return probes, errors, tests


def strip(nb):
    """The executed notebook without the cells grading added (and papermill's error banners)."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get(ROLE)
        if meta and meta.get("role") == "test":  # the test cell as the instructor wrote it, with what it showed
            cell.source = meta.get("source", "")
            cell.outputs = [o for o in cell.get("outputs", []) if MIME not in o.get("data", {})]
            del cell.metadata[ROLE]
            cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != "course-test"]
            if not cell.metadata["tags"]:
                del cell.metadata["tags"]
        elif meta or "papermill-error-cell-tag" in cell.get("metadata", {}).get("tags", []):
            continue
        cells.append(cell)
    nb.cells = cells
    return nb
