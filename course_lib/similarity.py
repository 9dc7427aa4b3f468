"""Similarity of answer code: which submissions of an assignment share their solutions.

Only the answer cells count (nbgrader's solution cells, found by grade id or cell
id as in ``release/``), so the release's own code never makes two students alike.
Each submission's answers are normalised into one token per character (the names
a student chooses, numbers and strings become placeholders; comments, docstrings,
blank lines and layout vanish) and fingerprinted by copydetect, a detector of
the MOSS kind, which also finds the shared passages. The release's code cells are its boilerplate: every
passage of them is subtracted. Passages that a large part of the class shares are
subtracted as well, as MOSS does: what many write the same way is what the
question forces. A pair's score is the share of the smaller answer set that the
other submission holds too. The result is a ranked list for a person to read,
never a verdict.
"""

from __future__ import annotations

import io
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .assignment import Assignment, NotebookSpec
from .config import CourseConfig
from .errors import CourseError, SubmissionError
from .notebooks import grade_id, is_solution, read_notebook

NOISE_TOKENS = 12  # the shortest shared run of tokens that counts (copydetect's noise threshold)
# every shared run at least this long is found (copydetect's guarantee threshold). Equal to the noise
# threshold, every k-gram is a fingerprint: winnowing would pick them by Python's string hash, which
# changes from one run to the next, and so would the scores; answer cells are short enough to keep all
GUARANTEE_TOKENS = NOISE_TOKENS
COMMON_AT_LEAST = 10  # a passage in more submissions than this (or than COMMON_SHARE of them) is the question's
COMMON_SHARE = 0.1
TOP_PAIRS = 20
REVIEW = 0.5  # pairs sharing at least half of the smaller answer set are marked for a closer look


@dataclass(frozen=True)
class AnswerCell:
    """One answer cell of a submission."""

    notebook: str
    grade_id: str
    code: str


@dataclass
class Answers:
    """What one submission wrote in its answer cells."""

    student: str
    cells: list = field(default_factory=list)  # AnswerCell, in the release's order
    timestamp: str = ""  # nbgrader's timestamp.txt, as written
    origin: str = "submitted"  # or the --against folder it came from


@dataclass(frozen=True)
class Passage:
    """A run of code of one cell; ``shared`` when the other submission of the pair has it too."""

    text: str
    shared: bool


@dataclass
class Pair:
    """Two submissions and how much answer code they share beyond the release."""

    a: str
    b: str
    score: float  # the larger of share_a and share_b
    share_a: float  # fraction of a's answer tokens (beyond the release) in passages b has too
    share_b: float
    shared_tokens: int
    against: bool = False  # b comes from the --against folder
    grade_a: tuple | None = None  # (score, max score) from the gradebook
    grade_b: tuple | None = None
    time_a: str = ""
    time_b: str = ""
    cells: list = field(default_factory=list)  # (notebook, grade id, [Passage] of a, [Passage] of b)
    top_cell: tuple = ()  # (notebook, grade id, share): the answer cell most of which the other has too

    @property
    def first(self) -> str:
        """Who submitted first, when both times are known."""
        from nbgrader.utils import parse_utc

        try:
            ta, tb = parse_utc(self.time_a), parse_utc(self.time_b)
        except Exception:
            return ""
        return self.a if ta < tb else self.b if tb < ta else ""


@dataclass
class SimilarityReport:
    """Every pair's score, the top pairs in detail, and what could not be read."""

    assignment: str
    students: int = 0
    references: int = 0  # submissions from the --against folder
    scores: list = field(default_factory=list)  # every compared pair's score
    pairs: list = field(default_factory=list)  # Pair, highest score first (the top ones)
    problems: list = field(default_factory=list)  # (student, notebook, problem): skipped
    notes: list = field(default_factory=list)
    common_limit: int = 0  # passages in more submissions than this were subtracted (0: none)
    common_passages: int = 0


class _Vocabulary:
    """One character per distinct token, shared by every document of a run, so k characters are k tokens."""

    def __init__(self):
        self.chars: dict[str, str] = {}

    def char(self, token: str) -> str:
        found = self.chars.get(token)
        if found is None:
            n = len(self.chars)
            # private-use code points never occur in the placeholders or in each other
            found = chr(0xE000 + n) if n < 6400 else chr(0xF0000 + n - 6400)
            self.chars[token] = found
        return found


def normalise(code: str, vocabulary: _Vocabulary, released: frozenset = frozenset()) -> tuple[str, list]:
    """``(tokens, spans)``: one character per kept token and each one's ``(start, end)`` in ``code``.

    Pygments' Python lexer (the one copydetect uses) reads any cell, even one that is not
    valid Python (a magic, a half-written line), where the tokenize module would stop.
    Names the student chooses become one placeholder, numbers another and strings a third;
    attribute and module names stay (renaming ``.sum`` to ``.mean`` changes the code), as do
    keywords, builtins and operators. Comments, docstrings and layout are dropped, and so are
    lines found as they are in ``released`` (the stub's ``def`` line, a line of a visible test):
    a passage that merely starts with the given signature is not shared work.
    """
    import bisect

    from pygments.lexers import PythonLexer
    from pygments.token import Comment, Keyword, Name, Number, String, Text

    lines = code.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    given = [_line_key(line) in released for line in lines]
    out, spans = [], []
    previous = ""
    for start, kind, value in PythonLexer().get_tokens_unprocessed(code):
        end = start + len(value)
        if kind in Text or kind in Comment or kind in String.Doc or not value.strip():
            continue
        if given[bisect.bisect_right(starts, start) - 1]:
            continue
        if kind in String:
            if previous == "S":  # the pieces of one string (quotes, f-string parts) are one literal
                spans[-1] = (spans[-1][0], end)
                continue
            token = "S"
        elif kind in Number:
            token = "N"
        elif kind in Name.Function:
            token = "F"
        elif kind in Name.Class:
            token = "O"
        elif kind in Keyword or kind in Name.Builtin or kind in Name.Namespace or kind in Name.Exception:
            token = value
        elif kind in Name:
            token = value if previous == "." else "V"
        else:
            token = value
        out.append(vocabulary.char(token))
        spans.append((start, end))
        previous = token
    return "".join(out), spans


def _line_key(line: str) -> str:
    """A line without its comment and spaces: a released line with a comment added is still the released line."""
    return "".join(line.split("#")[0].split())


@dataclass
class _Document:
    answers: Answers
    text: str = ""
    cell_of: list = field(default_factory=list)  # per token: index of its cell
    spans: list = field(default_factory=list)  # per token: (start, end) in its cell's code
    fingerprint: object = None
    coverage: float = 0.0  # tokens in its fingerprints beyond the release's


def _document(answers: Answers, vocabulary: _Vocabulary, released: frozenset) -> _Document:
    doc = _Document(answers)
    parts = []
    for index, cell in enumerate(answers.cells):
        text, spans = normalise(cell.code, vocabulary, released)
        parts.append(text)
        doc.cell_of.extend([index] * len(text))
        doc.spans.extend(spans)
    doc.text = "".join(parts)
    return doc


def _fingerprint(text: str, boilerplate: set, *, window: int):
    from copydetect import CodeFingerprint
    from copydetect.utils import get_token_coverage

    # filter=False: the text is already normalised here, one token per character
    fingerprint = CodeFingerprint("answers.py", NOISE_TOKENS, window, filter=False, fp=io.StringIO(text))
    # The boilerplate is taken out here rather than by CodeFingerprint's own argument: copydetect 0.5.0 matches
    # it with numpy's intersect1d(assume_unique=True) on fingerprints that can repeat, which drops every
    # occurrence but one of a passage a submission repeats (two functions alike), boilerplate or not.
    released = fingerprint.hashes & boilerplate
    if released:
        fingerprint.hashes -= released
        for h in released:
            del fingerprint.hash_idx[h]
        fingerprint.token_coverage = get_token_coverage(fingerprint.hash_idx, NOISE_TOKENS, len(text))
    return fingerprint


def _boilerplate(specs: list[NotebookSpec], vocabulary: _Vocabulary):
    """``(fingerprints, lines)`` of the released notebooks' code: stubs, set-up and visible tests."""
    hashes, lines = set(), set()
    for spec in specs:
        for cell in spec.release_nb().cells:
            if cell.cell_type == "code":
                hashes |= _fingerprint(normalise(cell.source, vocabulary)[0], set(), window=1).hashes
                lines |= {_line_key(line) for line in cell.source.split("\n")} - {""}
    return hashes, frozenset(lines)


def answer_ids(spec: NotebookSpec) -> tuple[list, dict]:
    """The release's answer cells: grade ids in order, and cell id -> grade id (for copies that lost metadata)."""
    order, by_cell_id = [], {}
    for cell in spec.release_nb().cells:
        if cell.cell_type == "code" and is_solution(cell) and grade_id(cell):
            order.append(grade_id(cell))
            if cell.get("id"):
                by_cell_id[cell["id"]] = grade_id(cell)
    return order, by_cell_id


def read_answers(spec: NotebookSpec, nb, student: str) -> list[AnswerCell]:
    """The answer cells of a student's notebook, matched to the release's by grade id, else by cell id."""
    order, by_cell_id = answer_ids(spec)
    wanted = set(order)
    found = {}
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        gid = grade_id(cell)
        if gid not in wanted:
            gid = by_cell_id.get(cell.get("id", ""), "")
        if gid and gid not in found:
            found[gid] = cell.source if isinstance(cell.source, str) else "".join(cell.source)
    if not found:
        raise SubmissionError(f"none of the answer cells of {spec.assignment}/{spec.name}.ipynb are in it",
                              student=student, notebook=f"{spec.name}.ipynb",
                              hint="it is left out of the comparison; check that it is a copy of the release")
    return [AnswerCell(spec.name, gid, found[gid]) for gid in order if gid in found]


def _load(assignment: Assignment, folder: Path, origin: str, problems: list, *, flat: bool = False) -> list[Answers]:
    """Every submission in ``folder``: nbgrader's ``<student>/<aid>/<nb>.ipynb``, or (flat) any notebooks."""
    out = []
    if flat:
        names = {spec.name for spec in assignment.notebooks}
        # one notebook, one submission; a file named after one of the assignment's notebooks is that one
        entries = [(str(p.relative_to(folder).with_suffix("")),
                    {p.stem if p.stem in names else assignment.notebooks[0].name: p})
                   for p in sorted(folder.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts]
    else:
        entries = [(d.name, {spec.name: d / assignment.id / f"{spec.name}.ipynb" for spec in assignment.notebooks})
                   for d in sorted(folder.iterdir()) if (d / assignment.id).is_dir()]
    for student, paths in entries:
        answers = Answers(student, origin=origin)
        stamp = folder / student / assignment.id / "timestamp.txt"
        if not flat and stamp.is_file():
            try:
                answers.timestamp = stamp.read_text(errors="replace").strip()
            except OSError as exc:  # the time is shown, not needed: the answers are still compared
                problems.append((student, stamp.name, f"cannot read the submission time: {exc.strerror}"))
        for spec in assignment.notebooks:
            path = paths.get(spec.name)
            if path is None:
                continue
            if not path.is_file():
                problems.append((student, f"{spec.name}.ipynb", "the submission has no such notebook; left out "
                                 "(collect it again if the student did upload it)"))
                continue
            try:
                answers.cells.extend(read_answers(spec, read_notebook(path, student=student), student))
            except SubmissionError as exc:
                problems.append((student, path.name, f"{exc.message}; skipped"
                                 + (f" ({exc.hint})" if exc.hint else "")))
        if answers.cells:
            out.append(answers)
    return out


def _grades(config: CourseConfig, assignment_id: str, notes: list) -> dict:
    """student -> (total after late penalty, max score), when the gradebook has the assignment."""
    from .errors import GradebookError
    from .gradebook import open_gradebook
    from .late import refresh_totals

    try:
        refresh_totals(config, assignment_id)  # the due date and hand grades as they are now
        with open_gradebook(config) as gb:
            try:
                ga = gb.find_assignment(assignment_id)
            except Exception:
                notes.append(f"the gradebook has no grades of {assignment_id} yet: grades are not shown")
                return {}
            return {sub.student.id: (max(0.0, sub.score - (sub.late_submission_penalty or 0.0)), ga.max_score)
                    for sub in ga.submissions}
    except GradebookError as exc:
        notes.append(f"grades are not shown: {exc.message}")
        return {}


def _passages(doc: _Document, slices) -> dict[int, list]:
    """cell index -> the [Passage] of its code, shared runs (token slices of ``doc``) marked."""
    marked: dict[int, list] = defaultdict(list)
    for start, end in zip(*slices):
        for i in range(int(start), int(end)):
            cell, (s, e) = doc.cell_of[i], doc.spans[i]
            ranges = marked[cell]
            # tokens are joined across spaces only: a comment or a released line between them stays unmarked
            if ranges and ranges[-1][1] <= s and not doc.answers.cells[cell].code[ranges[-1][1]:s].strip():
                ranges[-1] = (ranges[-1][0], e)
            else:
                ranges.append((s, e))
    out = {}
    for index, cell in enumerate(doc.answers.cells):
        pieces, at = [], 0
        for s, e in sorted(marked.get(index, [])):
            s = max(s, at)
            if e <= s:
                continue
            if s > at:
                pieces.append(Passage(cell.code[at:s], False))
            pieces.append(Passage(cell.code[s:e], True))
            at = e
        if at < len(cell.code):
            pieces.append(Passage(cell.code[at:], False))
        out[index] = pieces
    return out


def _cell_shares(doc: _Document, slices) -> list[tuple]:
    """``(notebook, grade id, share)``: how much of each answer cell (of a run's length at least) is shared."""
    shared, size = Counter(), Counter(doc.cell_of)
    for start, end in zip(*slices):
        shared.update(doc.cell_of[int(start):int(end)])
    return [(doc.answers.cells[k].notebook, doc.answers.cells[k].grade_id, n / size[k])
            for k, n in shared.items() if size[k] >= NOISE_TOKENS]


def compare(answers: list[Answers], references: list[Answers], specs: list[NotebookSpec], *,
            common: int | None = None, top: int = TOP_PAIRS) -> tuple[list, list, int, int]:
    """Score every pair of ``answers`` and every (answer, reference) pair.

    Returns ``(scores, top pairs, common limit, common passages subtracted)``; pairs that share
    no fingerprint score 0 without being compared further.
    """
    from copydetect import compare_files
    import numpy as np

    vocabulary = _Vocabulary()
    boilerplate, released = _boilerplate(specs, vocabulary)
    docs = [_document(a, vocabulary, released) for a in answers + references]
    window = GUARANTEE_TOKENS - NOISE_TOKENS + 1
    for doc in docs:
        doc.fingerprint = _fingerprint(doc.text, boilerplate, window=window)
        doc.coverage = float(doc.fingerprint.token_coverage)
    limit = max(COMMON_AT_LEAST, math.ceil(COMMON_SHARE * len(docs))) if common is None else common
    counts = Counter(h for doc in docs for h in doc.fingerprint.hashes)
    frequent = [h for h, n in counts.items() if n > limit] if limit > 0 else []
    if frequent:
        boilerplate = boilerplate | set(frequent)
        for doc in docs:
            doc.fingerprint = _fingerprint(doc.text, boilerplate, window=window)
    holders = defaultdict(list)  # an inverted index: only documents that share a fingerprint are compared
    for index, doc in enumerate(docs):
        for h in doc.fingerprint.hashes:
            holders[h].append(index)
    candidates = set()
    n_answers = len(answers)
    for indices in holders.values():
        for x in range(len(indices)):
            for y in range(x + 1, len(indices)):
                if indices[x] < n_answers:  # two references are never compared with each other
                    candidates.add((indices[x], indices[y]))
    results = []
    for i, j in candidates:
        overlap, _, slices = compare_files(docs[i].fingerprint, docs[j].fingerprint)
        if not overlap:
            continue
        # shares of the tokens compared before common passages were subtracted, not after (copydetect's
        # own figure): a submission whose answers are all common is not 100 % like whoever shares its rest
        share_i, share_j = (float(np.sum(s[1] - s[0])) / max(1.0, d.coverage)
                            for s, d in zip(slices, (docs[i], docs[j])))
        results.append((max(share_i, share_j), i, j, share_i, share_j, int(overlap), slices))
    compared = n_answers * (n_answers - 1) // 2 + n_answers * len(references)
    scores = [float(r[0]) for r in results] + [0.0] * (compared - len(results))
    results.sort(key=lambda r: (-r[0], -r[5], docs[r[1]].answers.student, docs[r[2]].answers.student))
    pairs = []
    for score, i, j, share_i, share_j, overlap, slices in results[:top]:
        if score <= 0:
            break
        a, b = docs[i], docs[j]
        pair = Pair(a.answers.student, b.answers.student, float(score), share_i, share_j, overlap,
                    against=j >= n_answers, time_a=a.answers.timestamp, time_b=b.answers.timestamp)
        left, right = _passages(a, slices[0]), _passages(b, slices[1])
        pair.top_cell = max(_cell_shares(a, slices[0]) + _cell_shares(b, slices[1]), key=lambda c: c[2],
                            default=())
        right_of = {(c.notebook, c.grade_id): k for k, c in enumerate(b.answers.cells)}
        for k, cell in enumerate(a.answers.cells):
            other = right_of.get((cell.notebook, cell.grade_id))
            mine, theirs = left.get(k, []), right.get(other, []) if other is not None else []
            if any(p.shared for p in mine) or any(p.shared for p in theirs):
                pair.cells.append((cell.notebook, cell.grade_id, mine, theirs))
        # a passage moved to another question's cell is shared too: show that cell of b as well
        shown = {(nb, gid) for nb, gid, _, _ in pair.cells}
        for k, cell in enumerate(b.answers.cells):
            if (cell.notebook, cell.grade_id) not in shown and any(p.shared for p in right.get(k, [])):
                pair.cells.append((cell.notebook, cell.grade_id, [], right[k]))
        pairs.append(pair)
    return scores, pairs, limit, len(frequent)


def similarity(*, config: CourseConfig, assignment_id: str, against: Path | None = None,
               common: int | None = None, top: int = TOP_PAIRS) -> SimilarityReport:
    """Compare the answer cells of every pair of submissions of an assignment (and with ``against``).

    Args:
        against: Another class's submissions (nbgrader's ``<student>/<aid>/<nb>.ipynb``) or a folder of
            notebooks, compared with this class's (never with each other).
        common: A passage found in more submissions than this counts as forced by the question and is
            subtracted (default: 10 or a tenth of the submissions, whichever is more; 0: none).
        top: How many of the highest pairs the report shows in detail.
    """
    assignment = Assignment.load(config, assignment_id)
    report = SimilarityReport(assignment_id)
    submitted = config.path("submitted")
    if not submitted.is_dir():
        raise CourseError(f"no submissions: {submitted} does not exist",
                          hint=f"collect them first: course collect {assignment_id} --from DIR")
    answers = _load(assignment, submitted, "submitted", report.problems)
    references = []
    if against is not None:
        against = Path(against)
        if not against.is_dir():
            raise CourseError(f"--against {against} is not a folder",
                              hint="give a folder of <student>/<aid>/<notebook>.ipynb, or of notebooks")
        nested = any((d / assignment_id).is_dir() for d in against.iterdir())
        references = _load(assignment, against, str(against), report.problems, flat=not nested)
        for ref in references:
            ref.student = f"{against.name}/{ref.student}"
    if len(answers) < 2 and not references:
        raise CourseError(f"{len(answers)} readable submission(s) of {assignment_id}: nothing to compare",
                          hint="collect the class's submissions first, or compare with --against DIR")
    report.students, report.references = len(answers), len(references)
    report.scores, report.pairs, report.common_limit, report.common_passages = compare(
        answers, references, list(assignment.notebooks), common=common, top=top)
    grades = _grades(config, assignment_id, report.notes)
    for pair in report.pairs:
        pair.grade_a = grades.get(pair.a)
        pair.grade_b = None if pair.against else grades.get(pair.b)
    return report


def _plot(report: SimilarityReport, out: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist([100 * s for s in report.scores], bins=50, range=(0, 100), color="#4c72b0", edgecolor="white")
    ax.set_yscale("log")  # most pairs share nothing; the few that do must stay visible
    ax.set_xlabel("pair score: % of the smaller answer set shared beyond the release")
    ax.set_ylabel("pairs")
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=100)
    plt.close(fig)
    return "scores.png"


def write_similarity(*, config: CourseConfig, assignment_id: str, out: Path, against: Path | None = None,
                     common: int | None = None, top: int = TOP_PAIRS) -> tuple[Path, SimilarityReport]:
    """Write ``out/index.html`` and its plot; returns the HTML file and the report."""
    import jinja2

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CourseError(f"{out} is a file; the report is a folder (index.html and its plot)",
                          hint=f"give a folder with -o, e.g. -o similarity/{assignment_id}")
    report = similarity(config=config, assignment_id=assignment_id, against=against, common=common, top=top)
    out.mkdir(parents=True, exist_ok=True)
    plot = _plot(report, out)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    page = env.get_template("similarity.html").render(report=report, plot=plot, noise=NOISE_TOKENS)
    target = out / "index.html"
    target.write_text(page, encoding="utf-8")
    return target, report
