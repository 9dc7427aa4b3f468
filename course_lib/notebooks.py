"""Reading notebooks safely and finding nbgrader's cells in them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

from .errors import SubmissionError

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


def read_notebook(path: Path, *, student: str = "", max_bytes: int = MAX_NOTEBOOK_BYTES):
    """Read a notebook as nbformat v4, or raise :class:`SubmissionError` saying why not."""
    path = Path(path)
    name = path.name
    if path.is_dir():
        raise SubmissionError(f"{path} is a folder, not a notebook file", student=student, notebook=name,
                              hint="give the .ipynb file itself")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SubmissionError(f"cannot read {path}: {exc.strerror}", student=student, notebook=name,
                              hint="check the file's name and folder" if isinstance(exc, FileNotFoundError)
                              else "check that you may read it") from None
    if size == 0:
        raise SubmissionError("the file is empty", student=student, notebook=name,
                              hint="ask the student to upload the saved .ipynb again")
    if size > max_bytes:
        raise SubmissionError(f"the file is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit",
                              student=student, notebook=name,
                              hint="ask the student to clear large outputs (Kernel > Restart & Clear Output)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SubmissionError(f"cannot read {path}: {exc.strerror}", student=student, notebook=name,
                              hint="check that you may read it") from None
    if raw[:2] == b"PK":
        raise SubmissionError("this is a zip archive, not a notebook", student=student, notebook=name,
                              hint="unzip it and collect the .ipynb inside")
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise SubmissionError("the file is not text (not a notebook)", student=student, notebook=name,
                              hint="ask the student to upload the .ipynb file") from None
    except json.JSONDecodeError as exc:
        text = raw.strip()
        what = "truncated" if text.startswith(b"{") and not text.endswith(b"}") else "not valid JSON"
        raise SubmissionError(f"the notebook is {what} (line {exc.lineno}, column {exc.colno})",
                              student=student, notebook=name,
                              hint="ask the student to re-download it from Jupyter and upload again") from None
    if re.search(rb"\\u[dD][89a-fA-F]", raw):  # surrogates only come from escapes; a pair is decoded as one
        data = _without_lone_surrogates(data)
    if not isinstance(data, dict) or "nbformat" not in data:
        raise SubmissionError("the file is JSON but not a notebook", student=student, notebook=name,
                              hint="ask the student to upload the .ipynb saved from Jupyter")
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        try:
            nbformat.validate(nb)
        except nbformat.ValidationError:
            # a cell whose type was changed by hand keeps the other type's fields (a markdown cell with
            # outputs): drop or add them, as Jupyter does when it changes a cell's type, and read it again
            _fit_cells_to_their_types(nb)
            nbformat.validate(nb)
    except Exception as exc:
        raise SubmissionError(f"the notebook structure is invalid: {str(exc).splitlines()[0]}",
                              student=student, notebook=name,
                              hint="ask the student to open and save it in Jupyter, then upload again") from None
    return nb


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value):
    """``value`` with every lone surrogate (a ``\\udcff`` escape that JSON allows and UTF-8 cannot encode) turned
    into U+FFFD, so that the notebook, its executed copy and its feedback can be written as UTF-8."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


def _fit_cells_to_their_types(nb) -> None:
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict):
            continue
        if cell.get("cell_type") == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
            cell.pop("attachments", None)
        elif cell.get("cell_type") in ("markdown", "raw"):
            cell.pop("outputs", None)
            cell.pop("execution_count", None)


def nbgrader_meta(cell) -> dict:
    """The ``nbgrader`` metadata of a cell (empty when it has none)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str:
    return str(nbgrader_meta(cell).get("grade_id", ""))


def is_grade(cell) -> bool:
    return bool(nbgrader_meta(cell).get("grade"))


def is_solution(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_locked(cell) -> bool:
    """Cells the student may not change: nbgrader's locked cells and test cells."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("locked")) or (bool(meta.get("grade")) and not meta.get("solution"))


def grade_cells(nb) -> list[tuple[str, float, bool]]:
    """``(grade_id, points, manual)`` for every grade cell, in notebook order.

    ``manual`` marks cells a person grades (nbgrader's "manually graded answer").
    """
    out = []
    for cell in nb.cells:
        if is_grade(cell):
            manual = is_solution(cell) or cell.cell_type == "markdown"
            out.append((grade_id(cell), float(nbgrader_meta(cell).get("points", 0)), manual))
    return out


def question_headings(nb) -> dict[str, str]:
    """``grade_id -> heading`` for every nbgrader cell: the last markdown heading at or above it.

    A trailing points note (``(3 points)``, ``(10 points, graded by hand)``) is left out: pages that
    show a question's score show its points beside it.
    """
    import re

    out, heading = {}, ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    heading = re.sub(r"\s*\([^()]*\bpoints?\b[^()]*\)\s*$", "", line.lstrip("#").strip())
                    break
        gid = grade_id(cell)
        if gid:
            out[gid] = heading or gid
    return out


def question_of_answers(nb) -> dict[str, str]:
    """``solution cell id -> grade cell id``: the question whose points each answer cell earns.

    nbgrader keeps a grader's comments on solution cells and points on grade cells; an answer
    belongs to the first grade cell at or after it (a written answer is both), and answers after
    the last grade cell to that last one.
    """
    out, pending, last = {}, [], ""
    for cell in nb.cells:
        gid = grade_id(cell)
        if is_solution(cell) and gid:
            pending.append(gid)
        if is_grade(cell) and gid:
            out.update((s, gid) for s in pending)
            pending, last = [], gid
    out.update((s, last) for s in pending if last)
    return out
