"""How an assignment's hidden checks are declared (the API of ``graders/``).

A grader module ``graders/<aid>/<notebook>.py`` defines ``QUESTIONS``, a list of
:class:`Question`. Each question names the nbgrader grade cell it scores, a
*probe* that runs inside the student's kernel right after that cell, and the
:class:`Check` s that judge what the probe recorded, in the grader process,
against what the same probe recorded on the instructor's solution.

Probe functions are sent to the kernel as source text: they may use only their
argument (a ``Student`` handle with ``call``, ``value`` and ``record``), what
they import inside their own body, and the question's ``helpers`` (plain
functions sent along with the probe's source).

A :class:`Property` (the input is left unchanged, no gradients are left behind)
is true of a function that does nothing at all, so it pays only when the main
result it ``requires`` is right: a grader that declares a property without a
main check it requires is refused.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import AssignmentError


@dataclass(frozen=True)
class Check:
    """One hidden check worth ``points``.

    Args:
        name: Short id, unique in the notebook (shown in feedback and reports).
        points: Points it is worth; a question's checks add up to its grade cell's points.
        compare: A comparator from :mod:`course_lib.judge.compare` (``Tensor``, ``Number``, ``Equal``,
            ``Sequence``, ``AtLeast``, ``Accuracy``), or any callable ``compare(got, ref)`` of the grader
            process returning ``None`` (pass) or the student's message; ``got`` and ``ref`` are decoded
            values (:mod:`course_lib.judge.values`) of the student's and the solution's record.
        key: The probe value it reads (default: ``name``), as recorded by ``student.call``/``value``/``record``.
        describe: What it checks, in a student's words.
        hint: Added to the message when it fails (the misconception it targets).
        requires: Names of checks declared before it (in its question or an earlier
            one) that must have passed for this one to count.
        needs: Other probe values that must exist and not be errors for this check to
            be judged (its message then says why they could not be computed).
    """

    name: str
    points: float
    compare: Callable
    key: str = ""
    describe: str = ""
    hint: str = ""
    requires: tuple = ()
    needs: tuple = ()

    @property
    def value_key(self) -> str:
        return self.key or self.name


@dataclass(frozen=True)
class Property(Check):
    """A check of a side property that a do-nothing answer also has (its input unchanged, no gradients left).

    It must ``require`` at least one main check (not a :class:`Property`): returning
    ``None`` leaves the input unchanged too, and must not earn these points.
    """


@dataclass(frozen=True)
class Question:
    """The hidden checks of one nbgrader grade cell.

    Args:
        grade_id: The grade id of the autograded test cell it scores (the cell holding the visible tests);
            every autograded grade cell of the notebook needs exactly one question.
        probe: A plain function ``probe(student)`` (no decorators, no names from the grader module) run in the
            student's kernel right after that cell; ``student`` is a
            :class:`~course_lib.judge.kernel_side.Student`. It imports what it needs inside its body.
        checks: The :class:`Check` s (and :class:`Property` s) judged on what the probe recorded; their points
            must add up to the grade cell's points.
        helpers: Plain functions or classes the probe uses (e.g. :class:`JudgedAlone`), sent with its source.
        data: A function of the grader process, ``data() -> {name: NumPy array}``, whose arrays the probe reads
            as ``probe_data()[name]``. They travel as raw bytes: the code and seeds that made them (and whatever
            goes with them, such as the labels of held-out inputs) stay in the grader process, where no code
            of the student's runs.
    """

    grade_id: str
    probe: Callable
    checks: tuple = field(default_factory=tuple)
    helpers: tuple = ()  # plain functions the probe calls, sent to the kernel with its source
    data: Callable | None = None  # grader-side: () -> {name: array}, sent to the kernel as data only

    def __post_init__(self):
        object.__setattr__(self, "checks", tuple(self.checks))
        object.__setattr__(self, "helpers", tuple(self.helpers))

    @property
    def points(self) -> float:
        return sum(c.points for c in self.checks)

    def probe_source(self) -> tuple[str, str]:
        """The probe function's source (after its helpers') and name, ready to send to a kernel."""
        parts = [textwrap.dedent(inspect.getsource(f)) for f in (*self.helpers, self.probe)]
        if self.data is not None:
            parts.insert(0, data_source(self.data()))
        return "\n\n".join(parts), self.probe.__name__


def data_source(arrays: dict) -> str:
    """Source text binding ``probe_data()`` to ``arrays`` (name -> NumPy array), which it carries as raw bytes."""
    import base64

    import numpy as np

    packed = {}
    for name, array in arrays.items():
        a = np.ascontiguousarray(np.asarray(array))
        if a.dtype.kind not in "biuf":
            raise AssignmentError(f"probe data {name!r} is an array of {a.dtype}; only numbers travel as data")
        packed[str(name)] = (a.dtype.str, list(a.shape), base64.b64encode(a.tobytes()).decode("ascii"))
    return ("def probe_data():\n"
            "    import base64\n\n"
            "    import numpy as np\n\n"
            "    return {name: np.frombuffer(base64.b64decode(raw), dtype=np.dtype(wire)).reshape(shape).copy()\n"
            "            for name, (wire, shape, raw) in _PROBE_DATA.items()}\n\n\n"
            f"_PROBE_DATA = {packed!r}\n")


@dataclass(frozen=True)
class Grader:
    """The loaded grader module of one notebook."""

    path: Path
    questions: tuple
    digest: str

    def question(self, grade_id: str) -> Question:
        for q in self.questions:
            if q.grade_id == grade_id:
                return q
        raise KeyError(grade_id)

    def probes(self) -> list[tuple[str, str, str]]:
        """``(grade_id, source, function name)`` for every question."""
        return [(q.grade_id, *q.probe_source()) for q in self.questions]


@dataclass(frozen=True)
class NotebookTests:
    """nbgrader's own format: the notebook's test cells are its checks (no grader module).

    Each autograder-tests cell of the source notebook, hidden tests included, runs in
    the student's kernel in place of the released one (as nbgrader's ``OverwriteCells``
    restores it) and is scored by nbgrader's rule: no points if it raises or writes to
    stderr, the number it outputs as partial credit, else all its points. Each cell is
    one question with one check named after it.
    """

    path: Path  # the source notebook
    questions: tuple
    digest: str
    in_notebook = True

    def question(self, grade_id: str) -> Question:
        return Grader.question(self, grade_id)  # type: ignore[arg-type]

    def probes(self) -> list:
        return []


TESTS_DESCRIBE = "the notebook's tests for this question"


def notebook_tests(source: Path) -> NotebookTests | None:
    """The test cells of an nbgrader-format source notebook (``None`` when it has none)."""
    import nbformat

    from ..notebooks import grade_id, is_grade, is_solution, nbgrader_meta

    nb = nbformat.read(source, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and is_grade(c) and not is_solution(c)]
    if not cells:
        return None
    questions = tuple(Question(grade_id=grade_id(c), probe=None,
                               checks=(Check(name=grade_id(c), points=float(nbgrader_meta(c).get("points", 0)),
                                             compare=None, describe=TESTS_DESCRIBE),))
                      for c in cells)
    digest = hashlib.sha256("\0".join(c.source for c in cells).encode()).hexdigest()
    return NotebookTests(path=source, questions=questions, digest=digest)


def load_grader(path: Path) -> Grader:
    """Import ``graders/<aid>/<notebook>.py`` and check its declarations."""
    if not path.is_file():
        raise AssignmentError(f"no hidden checks at {path}",
                              hint="write the grader module that defines QUESTIONS for this notebook")
    name = "course_graders_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise AssignmentError(f"{path} could not be imported: {exc!r}") from exc
    questions = tuple(getattr(module, "QUESTIONS", ()))
    if not questions or not all(isinstance(q, Question) for q in questions):
        raise AssignmentError(f"{path} must define QUESTIONS, a non-empty list of Question")
    seen: set[str] = set()
    for q in questions:
        if q.grade_id in seen:
            raise AssignmentError(f"{path}: grade cell {q.grade_id!r} has two Question entries")
        seen.add(q.grade_id)
        names = [c.name for c in q.checks]
        if not names or len(set(names)) != len(names):
            raise AssignmentError(f"{path}: question {q.grade_id!r} needs checks with distinct names")
        for f in (q.probe, *q.helpers):
            if inspect.getsource(f).lstrip().startswith("@"):
                raise AssignmentError(f"{path}: probe {f.__name__} must be a plain function (no decorators)")
    problems = declaration_problems(questions)
    if problems:
        raise AssignmentError(f"{path}: " + "; ".join(problems),
                              hint="a property check must require (requires=) a main check of the result it is about")
    return Grader(path=path, questions=questions, digest=hashlib.sha256(path.read_bytes()).hexdigest())


def declaration_problems(questions) -> list[str]:
    """What is wrong with the checks' ``requires`` (each problem names its check)."""
    problems, before = [], {}
    for q in questions:
        for check in q.checks:
            unknown = [r for r in check.requires if r not in before]
            if unknown:
                problems.append(f"check {check.name!r} requires {', '.join(map(repr, unknown))}, which is not a "
                                "check declared before it (requires= names checks; probe values go in needs=)")
            main = [r for r in check.requires if r in before and not isinstance(before[r], Property)]
            if isinstance(check, Property) and not main:
                problems.append(f"property check {check.name!r} requires no main check: it would pay a function "
                                "that does nothing (returns None or its input)")
            before[check.name] = check
    return problems


def autograd_routes():
    """Dotted names of the ways into autograd's engine, for ``JudgedAlone(..., forbidden=autograd_routes())``
    around a function the notebook asks for "by the formula", "without autograd".

    The public functions (``torch.autograd.grad``, ``torch.autograd.backward``, ``Tensor.backward``) and the
    one they all end in, under both names it has, so ``torch.func``'s transforms and ``autograd.functional``
    are refused too. Send it with the probe (``helpers=(JudgedAlone, autograd_routes)``).
    """
    return ("torch.autograd.grad", "torch.autograd.backward", "torch.Tensor.backward",
            "torch.autograd._engine_run_backward", "torch.autograd.graph._engine_run_backward")


class JudgedAlone:
    """Probe-side: run a question's calls in the state grading expects, then put the student's state back.

    Inside the block autograd is on, the default dtype is float32, the default device is the CPU and the
    random generators are seeded; ``swaps`` (name -> function) stand in the student's namespace for the
    earlier questions' functions. On leaving, the student's functions, autograd mode, default dtype and
    device, and generator states are restored, so neither a mistake of an earlier question (a function,
    or a global setting it changed) nor the probe's own calls reach another question. Send it with the
    probe (``Question(..., helpers=(JudgedAlone,))``) and use it as ``with JudgedAlone(student, swaps):``.

    ``forbidden`` names library functions (``"torch.softmax"``, ``"torch.Tensor.softmax"``) the question
    asks students not to call: inside the block they raise a ``RuntimeError`` saying so, except when the
    swapped-in functions call them; the probe's own code reaches them through :meth:`original`.

    Args:
        student: The probe's :class:`~course_lib.judge.kernel_side.Student`.
        swaps: ``name -> function`` put in the student's namespace inside the block (correct versions of
            earlier questions' functions, defined in the probe).
        seed: What torch, NumPy and ``random`` are seeded with inside the block.
        forbidden: Dotted names of library functions that raise inside the block.
    """

    def __init__(self, student, swaps=None, seed=0, forbidden=()):
        self.student, self.swaps, self.seed = student, dict(swaps or {}), seed
        self.forbidden = tuple(forbidden)
        self.saved, self.names, self.patched, self.trusted = {}, {}, {}, [0]

    def original(self, name):
        """The library function ``name`` as it was before the block (for the probe's own computations)."""
        return self.patched[name][2] if name in self.patched else self._resolve(name)[1]

    @staticmethod
    def _resolve(name):
        import importlib

        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            try:
                owner = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            for part in parts[cut:-1]:
                owner = getattr(owner, part)
            return owner, getattr(owner, parts[-1])
        raise ImportError(name)

    def _as_trusted(self, fn):
        trusted = self.trusted

        def run(*args, **kwargs):
            trusted[0] += 1
            try:
                return fn(*args, **kwargs)
            finally:
                trusted[0] -= 1
        return run

    def _refusing(self, name, fn):
        trusted = self.trusted

        def refuse(*args, **kwargs):
            if trusted[0]:
                return fn(*args, **kwargs)
            raise RuntimeError(f"{name} is one of the ready-made functions this question asks you to write "
                               "yourself (see the rules at the top of the notebook)")
        return refuse

    def __enter__(self):
        import random

        import numpy as np
        import torch

        self.saved = {"grad": torch.is_grad_enabled(), "dtype": torch.get_default_dtype(),
                      "device": torch.get_default_device(), "torch": torch.get_rng_state(),
                      "numpy": np.random.get_state(), "random": random.getstate()}
        ns = self.student.ns
        self.names = {name: ns[name] for name in self.swaps if name in ns}
        ns.update({name: self._as_trusted(fn) for name, fn in self.swaps.items()})
        for name in self.forbidden:
            owner, fn = self._resolve(name)
            self.patched[name] = (owner, name.rsplit(".", 1)[1], fn)
            setattr(owner, name.rsplit(".", 1)[1], self._refusing(name, fn))
        torch.set_grad_enabled(True)
        torch.set_default_dtype(torch.float32)
        torch.set_default_device(None)
        torch.manual_seed(self.seed)
        np.random.seed(self.seed)
        random.seed(self.seed)
        return self

    def __exit__(self, *exc):
        import random

        import numpy as np
        import torch

        for owner, attribute, fn in self.patched.values():
            setattr(owner, attribute, fn)
        self.patched = {}
        ns = self.student.ns
        for name in self.swaps:
            ns.pop(name, None)
        ns.update(self.names)
        saved = self.saved
        torch.set_grad_enabled(saved["grad"])
        torch.set_default_dtype(saved["dtype"])
        torch.set_default_device(None if saved["device"].type == "cpu" else saved["device"])
        torch.set_rng_state(saved["torch"])
        np.random.set_state(saved["numpy"])
        random.setstate(saved["random"])
        return False


def watch_forward(model, observe):
    """Probe-side: a forward hook on the probe's own ``model`` whose passes the code under test cannot stage.

    The hook is reachable from the model (``model._forward_hooks``), so a function under test can wrap it and
    hand it another module (whose ``modules()`` are all in eval mode) or a detached output, or put its own
    hook or ``forward`` in front to replace the output, while the real pass ran in training mode with autograd.
    A pass counts as the model's own only when torch's module call machinery itself calls this hook, for the
    probe's model, with no instance ``forward``, no other forward hook (on the model, its layers or global) and
    every layer's ``forward`` from torch. ``observe(output, modes)`` gets the output and every layer's
    ``training`` flag, or ``modes=None`` for a staged pass. Send it with the probe
    (``helpers=(watch_forward,)``); returns the hook's handle.
    """
    import os
    import sys

    import torch

    home = sys.modules[torch.nn.Module.__module__]
    torch_dir = os.path.dirname(os.path.realpath(torch.__file__)) + os.sep
    call = torch.nn.Module.__dict__.get("_call_impl")
    code, callers, todo = getattr(call, "__code__", None), set(), []
    if code is not None and os.path.realpath(code.co_filename) == os.path.realpath(home.__file__):
        todo.append(code)
    while todo:  # _call_impl and the functions nested in it (torch runs the hooks in an inner one)
        c = todo.pop()
        callers.add(c)
        todo.extend(k for k in c.co_consts if type(k) is type(c))
    own_hooks = []

    def layers():
        out, todo = [], [model]
        while todo:
            m = todo.pop()
            out.append(m)
            todo.extend(c for c in (vars(m).get("_modules") or {}).values() if c is not None)
        return out

    def staged(module, caller):
        if module is not model or caller not in callers:
            return True
        if any(getattr(home, name, None) for name in ("_global_forward_hooks", "_global_forward_hooks_with_kwargs")):
            return True
        for m in layers():
            state = vars(m)
            if "forward" in state or "_call_impl" in state or "__call__" in state:
                return True
            forward = getattr(getattr(type(m), "forward", None), "__code__", None)
            if forward is None or not os.path.realpath(forward.co_filename).startswith(torch_dir):
                return True
            hooks = state.get("_forward_hooks") or {}
            if list(hooks.values()) != (own_hooks if m is model else []):
                return True
        return False

    def hook(module, inputs, output):
        if staged(module, sys._getframe(1).f_code):
            observe(output, None)
        else:
            observe(output, [bool(m.training) for m in layers()])

    own_hooks.append(hook)
    return model.register_forward_hook(hook)


def watch_training(model, modes):
    """Probe-side: note in ``modes`` whether each training pass of the probe's ``model`` ran in training mode.

    A training pass is one autograd backpropagates through: its mode (every layer's) is appended when its
    backward runs, so an ``evaluate()`` the code under test calls between epochs to report its progress is no
    training in eval mode; a pass it staged (:func:`watch_forward`) counts as one not in training mode. Send it
    with the probe, after ``watch_forward`` (``helpers=(watch_forward, watch_training)``); returns the handle.
    """
    def observe(output, layer_modes):
        if layer_modes is None:
            modes.append(False)
        elif output.requires_grad:
            training = all(layer_modes)
            output.register_hook(lambda grad: modes.append(training))

    return watch_forward(model, observe)



def rebuilt(model, build):
    """Probe-side: ``model``'s layers chained anew (an ``nn.Sequential`` in eval mode), or ``None``.

    For a question that asks for a model the notebook's builder makes: ``None`` unless ``model`` holds
    parameters and buffers of the shapes ``build()`` gives (``build`` runs under a forked random state, so the
    student's random stream stays as it was). The chain holds a copy of each of ``model``'s layers (the modules
    holding no others, in their order), each torch's own class with torch's own ``forward``; a parameterless
    layer of the student's own stands for the torch layer it computes (a ReLU, a flatten, an identity). Run ``model`` and the chain on the
    same inputs and compare the outputs in the grader (:class:`~course_lib.judge.OutputsOfRebuilt`): a model
    whose forward computes something else than its layers (a rule written by hand, nearest neighbours over the
    training set, another answer when the probe calls) differs from its chain. Send it with the probe
    (``helpers=(rebuilt,)``).
    """
    import copy
    import os
    import sys

    import torch

    def shapes(m):
        return [tuple(t.shape) for t in (*m.parameters(), *m.buffers())]

    try:
        with torch.random.fork_rng(devices=[]):
            expected = shapes(build())
    except Exception:
        return None
    if shapes(model) != expected:
        return None
    torch_dir = os.path.dirname(os.path.realpath(torch.__file__)) + os.sep
    home = sys.modules[torch.nn.Module.__module__]
    calls = [getattr(torch.nn.Module.__dict__.get(name), "__code__", None) for name in ("__call__", "_call_impl")]
    if any(c is None or not os.path.realpath(c.co_filename).startswith(torch_dir) for c in calls):
        return None  # the module call machinery itself replaced: it would answer for the chain too
    if any(getattr(home, name) for name in dir(home) if name.startswith("_global_forward")):
        return None  # a global hook would answer for every module, the chain's too
    functional = sys.modules["torch.nn.functional"]  # as the set-up found it, while a probe runs

    def torchs_own(kind):
        """torch's class with torch's forward, calling the functions torch.nn.functional holds."""
        forward = getattr(getattr(kind, "forward", None), "__code__", None)
        return (kind is getattr(torch.nn, kind.__name__, None) and forward is not None
                and os.path.realpath(forward.co_filename).startswith(torch_dir)
                and vars(sys.modules.get(kind.__module__, torch)).get("F", functional) is functional)

    if not torchs_own(torch.nn.ReLU) or not torchs_own(torch.nn.Flatten):
        return None

    class StandIn(torch.nn.Module):
        """A parameterless layer of the student's own, as the torch layer it computes: a ReLU, a flatten or
        nothing (an identity), whichever gives what the student's layer gives on the same input; else the ReLU,
        so that a layer computing anything else (a rule written by hand) makes the chain differ from the
        model. The chain's output is torch's computation either way; the student's layer only picks which."""

        def __init__(self, layer):
            super().__init__()
            object.__setattr__(self, "layer", layer)  # not a submodule: the chain holds no module of the student's

        def forward(self, h):
            theirs = self.layer(h)
            for candidate in (functional.relu, torch.nn.Flatten(), lambda t: t):
                mine = candidate(h)
                if (type(theirs) is torch.Tensor and theirs.shape == mine.shape
                        and bool(torch.Tensor.eq(theirs, mine).all())):
                    return mine
            return functional.relu(h)
    layers, todo = [], [model]
    while todo:
        m = todo.pop(0)
        children = [c for c in (vars(m).get("_modules") or {}).values() if c is not None]
        if children:
            todo[:0] = children
            continue
        state = vars(m)
        if (torchs_own(type(m))
                and not any(name in state for name in ("forward", "__call__", "_call_impl", "__deepcopy__"))
                and not any(state.get(h) for h in ("_forward_hooks", "_forward_pre_hooks"))):
            layers.append(copy.deepcopy(m))
        elif not (state.get("_parameters") or state.get("_buffers")):
            layers.append(StandIn(m))
        else:
            return None
    return torch.nn.Sequential(*layers).eval()
