"""nbgrader's own format: test cells graded as ``nbgrader autograde`` grades them, and judged where students can't reach.

Each autograder-tests cell (its source as nbgrader generated it into the gradebook:
hidden tests and AUTOTEST expansions included) is rewritten here, in the grader
process, before it goes to the kernel:

* IPython syntax (magics, ``!``) is turned into Python with IPython's own transformer,
  so the kernel compiles plain code with the compiler captured at set-up, never through
  the student's ``compile``, input or AST transformers, or optimisation flags;
* the common assertion forms (``assert a == b``, ``!=``, ``<``, ``<=``, ``>``, ``>=``,
  ``is None``, ``isinstance``, ``np.allclose``, ``np.array_equal``,
  ``np.testing.assert_allclose`` / ``assert_array_equal`` / ``assert_almost_equal``,
  ``torch.allclose``, ``torch.equal``, ``torch.testing.assert_close``, ``math.isclose``,
  and their ``not`` forms) call a recorder that decides them in the kernel with the
  functions of the set-up and sends both operands out as data; :func:`recheck` decides
  them again here;
* an operand computed from other values (``abs(w - 3) < 0.05``) has those values (the
  names, attributes, subscripts and call results its arithmetic and numeric library calls
  are built from) reported too, each as it is used: one of a class the notebook defines
  (a float subclass whose ``__sub__`` answers 0) fails the comparison, since its own
  methods made the operand the grader sees;
* the names the cell uses for modules, builtins and the instructor's read-only helpers
  are bound to the objects of the set-up while it runs;
* the value of its last expression (nbgrader's partial credit) travels as data and is
  validated here;
* the names its top level binds are read back as it bound them (the runner's ``TestNames``), whatever the
  code it calls does to the notebook's namespace meanwhile;
* the values it makes and keeps to itself (:func:`guarded`) are out of the called code's sight until it ends,
  and checked for changes in place each time it reads them.

Scores follow nbgrader's ``determine_grade``: an error or output on stderr gives 0
(stderr matching ``c.IgnorePattern.pattern`` does not count, as in nbgrader), a number
as the cell's value gives that partial credit, anything else all the points. Where the
course is stricter than nbgrader, :data:`STRICTER` says so.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import math
import re
import tokenize

import numpy as np

from ..models import CheckResult, ExecutionResult, GradedSubmission
from .kernel_side import FUNCTIONS, LEAF, LIFTER, VALUE

#: Where the course grades an nbgrader-format cell more strictly than ``nbgrader autograde`` (and why).
STRICTER = {
    "value-out-of-range": "a partial-credit value below 0 or above the cell's points scores 0 for that cell "
                          "(nbgrader gives full marks for a negative value and aborts the notebook above the "
                          "maximum)",
    "forged-number": "a cell value that only prints like a number (an object whose repr is numeric) scores 0 "
                     "(nbgrader parses the printed text)",
    "no-report": "a test cell that ran but whose result never reached the grader (the grading code in the kernel "
                 "was tampered with), or whose assertion was recorded while that code was replaced, scores 0",
    "lifted-assertion": "an assertion of a protected form that passed in the student's kernel but fails when the "
                        "grader decides it on the operands' data (monkeypatched comparison functions, results "
                        "that claim to equal anything) scores 0, and so does a protected comparison in an `if` "
                        "whose branch the data does not allow",
    "own-object": "an operand of a protected assertion that is an object of a class the notebook defines (also "
                  "an int or float subclass, even one that behaves) fails against plain data (nbgrader lets its own "
                  "__eq__ or isinstance decide); so does a protected comparison whose operand is computed from such "
                  "an object (abs(w - 3) < 0.05 with w a float subclass: nbgrader lets its __sub__ decide)",
    "error-in-reply": "a cell whose execute reply reports an error scores 0 even when the student stopped the "
                      "error from being shown (nbgrader does the same when the error names differ)",
    "test-own-names": "a name a test cell binds at its top level is read back as the test bound it: code the test "
                      "calls cannot rebind it through globals(), the caller's frame or a __del__ (nbgrader reads "
                      "the namespace, so a student's function that rebinds the test's `expected` decides it)",
    "test-own-values": "a value a test cell makes at its top level and never hands to other code (its `expected`, "
                       "`before`; not a name the notebook's functions read or its other cells bind, nor in a cell "
                       "that reads the namespace itself through a magic, eval or globals()) reaches the notebook's "
                       "namespace only when the test ends, cannot be read through the caller's frame, and a read "
                       "of it fails if it was changed in place meanwhile (nbgrader lets a student's function that "
                       "returns `globals()['expected']`, or changes it in place, decide the comparison; a "
                       "student's own function reading a global of that name sees the value from before the "
                       "test)",
    "not-run": "a test cell that never ran (the notebook ran out of time or its kernel died before it) scores 0 "
               "(nbgrader gives full marks to a test cell without output, and fails the whole notebook when its "
               "kernel dies, leaving every cell to a person)",
    "gone-name": "a module or read-only helper the test uses that the notebook no longer has when the test starts "
                 "fails the test on its first use, even when the code the test calls binds that name meanwhile "
                 "(`global np; import numpy as np` inside the student's function: nbgrader's lookup then finds it)",
    "mode-or-hook": "an assertion recorded after the code the test called left a torch mode entered (a "
                    "TorchFunctionMode or TorchDispatchMode of the notebook's) or set a profile or trace function "
                    "fails, so the cell scores 0; the notebook's own modes and hooks are off while the test runs "
                    "(nbgrader runs the test with them, and what they make of its computations decides)",
    "shown-value": "a test cell's value decides its partial credit, not what the cell shows: display turned off "
                   "(ast_node_interactivity), a formatter that prints another number, a hook that clears the "
                   "output, or a result the code the test called displayed itself change nothing (nbgrader reads "
                   "the first result shown, and gives full marks when none is)",
}

ASSERT_CALLS = {"numpy.allclose", "numpy.array_equal", "numpy.isclose", "torch.allclose", "torch.equal",
                "math.isclose"}
STATEMENT_CALLS = {f for f in FUNCTIONS if ".assert_" in f}
COMPARE_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
RUNNER = "__course_probe__"
#: Defined at the top of a test cell whose comparisons have leaves: reports one value the operand is computed
#: from and hands it on. No data travels for a value whose type no Python code of the notebook can have made: a
#: static type (``dict_values``, a generator; Python classes are always heap types, flag 512, read through
#: ``type``'s own descriptor so that a metaclass cannot answer) or one the set-up's rule vouches for (builtins,
#: NumPy, torch, other installed libraries); any other value is sent, and the grader fails the comparison.
LEAF_SOURCE = (f"{LEAF} = lambda index, owner, value, _flags=type.__dict__['__flags__'].__get__, _lift={LIFTER}: "
               f"(_lift(index, 'is not None', (0 if not _flags(type(value)) & 512 or _lift._p.trusted(value) else "
               f"value,), {{'leaf': owner}}, condition=True), value)[1]")
#: Builtins that only look at an object (its length, type or text) without computing a number from it: their
#: arguments are not leaves (``len(dataset) == 100`` for a Dataset class of the student's is no cheat).
INSPECTING = {"len", "isinstance", "issubclass", "type", "id", "hasattr", "getattr", "callable", "repr", "str",
              "format", "print", "vars", "dir", "hash"}


# -- the notebook's names (instructor's imports, helpers and own bindings) ---------------------------
class Names:
    """What the source notebook binds: imports (name -> module path), helpers of read-only cells, all names."""

    def __init__(self, source_nb):
        from ..notebooks import grade_id, is_grade, is_locked, is_solution

        self.imports: dict[str, tuple] = {}
        self.bound: set[str] = set()
        self.helpers: dict[str, list[str]] = {}  # grade id of a read-only cell -> functions and classes it defines
        self.uses: dict[str, set[str]] = {}  # helper -> the names it reads
        self.read_in_functions: set[str] = set()  # names any function, lambda or class of the notebook reads
        self.bound_outside_tests: set[str] = set()  # names any cell but a test cell binds (settings, data)
        self.declared_global: set[str] = set()  # names a function of the notebook rebinds (`global counter`)
        for cell in source_nb.cells:
            if cell.cell_type != "code":
                continue
            tree = _parse(cell.source)
            if tree is None:
                continue
            for node in tree.body:
                self._imports(node)
            self.bound |= _top_level_bindings(tree)
            if not (is_grade(cell) and not is_solution(cell)):
                self.bound_outside_tests |= _top_level_bindings(tree)
            for scope in ast.walk(tree):
                if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                    self.read_in_functions |= {n.id for n in ast.walk(scope) if isinstance(n, ast.Name)
                                               and isinstance(n.ctx, ast.Load)}
                    self.declared_global |= {name for n in ast.walk(scope) if isinstance(n, ast.Global)
                                             for name in n.names}
            tags = cell.get("metadata", {}).get("tags", [])
            if is_locked(cell) and not is_solution(cell) and grade_id(cell) and "parameters" not in tags:
                if not is_grade(cell):
                    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                    ast.ClassDef))]
                    if defs:
                        self.helpers[grade_id(cell)] = [n.name for n in defs]
                    for node in defs:  # what a helper itself uses is bound for it as for the test
                        self.uses[node.name] = {n.id for n in ast.walk(node)
                                                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        self.kept = {name for names in self.helpers.values() for name in names}

    def _imports(self, node) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.imports[alias.asname] = ("module", alias.name)
                else:
                    root = alias.name.split(".")[0]
                    self.imports[root] = ("module", root)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    self.imports[alias.asname or alias.name] = ("attr", node.module, alias.name)

    def canonical(self, node) -> str:
        """The dotted library path a callee expression names (``np.testing.assert_allclose`` ->
        ``numpy.testing.assert_allclose``), or ""."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.imports:
            return ""
        spec = self.imports[node.id]
        base = spec[1] if spec[0] == "module" else f"{spec[1]}.{spec[2]}"
        return ".".join([base, *reversed(parts)])


def _parse(source: str):
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError, ImportError):
        return None


def _top_level_bindings(tree) -> set[str]:
    out = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                out |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.For, ast.With)):
            out |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return out


# -- the test's own values that no other code may change ----------------------------------------
#: Methods that change their receiver (besides every ``name_`` of torch's in-place convention).
MUTATING_METHODS = {"append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "popitem",
                    "add", "discard", "sort", "reverse", "fill", "resize", "put", "itemset", "setfield",
                    "byteswap", "partition", "setflags", "__setitem__", "__delitem__", "__iadd__", "__isub__",
                    "__imul__", "__itruediv__", "__ior__", "__iand__"}
#: Library functions that write into an argument.
MUTATING_FUNCTIONS = {"numpy.copyto", "numpy.put", "numpy.place", "numpy.putmask", "numpy.fill_diagonal",
                      "numpy.put_along_axis", "numpy.random.shuffle", "random.shuffle", "copy.replace",
                      *(f"operator.{name}" for name in ("setitem", "delitem", "iadd", "isub", "imul", "itruediv",
                                                        "ifloordiv", "imod", "ipow", "imatmul", "iand", "ior",
                                                        "ixor", "ilshift", "irshift", "iconcat"))}
#: Methods and functions whose result is a new object whatever their receiver or arguments.
COPYING = {"clone", "copy", "deepcopy", "item", "tolist", "sum", "mean", "std", "var", "prod", "norm", "abs", "exp",
           "log", "sqrt", "argmax", "argmin", "all", "any", "allclose", "isclose", "equal", "array_equal", "numel",
           "size", "dim", "isfinite", "isnan", "eq", "ne", "lt", "le", "gt", "ge", "dot", "matmul", "mm"}
#: Functions and methods whose result may share the argument's memory (a view, the same array).
ALIASING = {"from_numpy", "as_tensor", "asarray", "asanyarray", "asarray_chkfinite", "frombuffer", "as_strided",
            "ascontiguousarray", "asfortranarray", "view_as_real", "view_as_complex", "broadcast_to", "atleast_1d",
            "atleast_2d", "atleast_3d", "squeeze", "unsqueeze", "reshape", "ravel", "transpose", "moveaxis",
            "swapaxes", "permute", "narrow", "select", "split", "chunk", "unbind", "flatten", "t", "diagonal",
            "real", "imag", "detach", "movedim", "expand", "expand_as", "view", "view_as", "unflatten",
            "tensor_split", "hsplit", "vsplit", "dsplit", "array_split", "unfold", "to", "cpu", "cuda", "numpy",
            "type_as", "contiguous", "requires_grad_", "float", "double", "long", "int", "half", "bool",
            "astype", "values", "indices", "get", "T", "mT", "H", "mH"}
#: Names whose use makes a test cell read the notebook's namespace by itself (IPython's magics become
#: ``get_ipython().run_line_magic(...)``): such a cell keeps no name back from it.
NAMESPACE_READERS = {"get_ipython", "eval", "exec", "globals", "locals", "vars", "dir", "compile", "__import__",
                     "breakpoint", "input"}
#: Library functions that only compare or inspect their arguments and keep none of them.
PURE_CHECKS = {*ASSERT_CALLS, *FUNCTIONS, "torch.isclose", "numpy.array_equiv", "numpy.isfinite",
               "numpy.isnan", "torch.isfinite", "torch.isnan", "numpy.shape", "numpy.ndim", "numpy.size",
               "torch.numel", "math.isfinite", "math.isnan", "math.fabs"}
#: Builtins and library functions that call a function they are given on the objects they are given.
CALLING = {"map", "filter", "reduce", "apply_along_axis", "apply_over_axes", "vectorize", "frompyfunc", "piecewise",
           "starmap", "accumulate", "groupby", "partial", "vmap", "func", "checkpoint", "tree_map", "call"}
#: Builtins whose result is (or holds) one of the objects passed in.
PASSING_BUILTINS = {"list", "tuple", "sorted", "min", "max", "enumerate", "zip", "iter", "reversed", "next",
                    "set", "dict", "frozenset", "getattr", "vars"}
#: Builtins that only read their arguments (any other, ``setattr`` or ``exec``, may change one).
READING_BUILTINS = {"len", "isinstance", "issubclass", "type", "id", "hash", "repr", "str", "format", "print", "abs",
                    "round", "float", "int", "bool", "complex", "sum", "all", "any", "callable", "hasattr", "divmod",
                    "pow", "ascii", "bin", "hex", "oct", "ord", "chr", "range", "slice"}


def _fresh(node, names: Names) -> bool:
    """Whether an expression the test binds a name to makes a new object (not one the test or the student
    already holds: ``before = x.clone()``, ``expected = 2 * x.T @ r``, ``z = torch.randn(3)``)."""
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare, ast.Constant, ast.JoinedStr)):
        return True
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(_fresh(e, names) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(v is not None and _fresh(v, names) for v in node.values)
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in COPYING:
            return True
        path = names.canonical(func)
        return bool(path) and path.rsplit(".", 1)[-1] not in ALIASING
    return False


def _callee(func, names: Names) -> tuple[str, str]:
    """``("library", dotted path)``, ``("builtin", name)`` or ``("other", "")`` for a callee expression."""
    path = names.canonical(func)
    if path:
        return "library", path
    if isinstance(func, ast.Name) and func.id in builtins.__dict__ and func.id not in names.bound:
        return "builtin", func.id
    return "other", ""


def _shares(use, parents: dict, names: Names) -> bool:
    """Whether one read of a name can let other code (or the test itself) change the object it names, or hold
    it under another name: passed to code that is not a library's, changed in place, aliased, stored."""
    node = use
    while True:
        parent = parents.get(node)
        if isinstance(parent, ast.Attribute):
            if not isinstance(parent.ctx, ast.Load):
                return True
            call = parents.get(parent)
            if isinstance(call, ast.Call) and call.func is parent:
                attr = parent.attr
                if (attr.endswith("_") and not attr.endswith("__")) or attr in MUTATING_METHODS or \
                        any(k.arg == "inplace" for k in call.keywords):
                    return True
                if attr in COPYING:
                    return False
                node = call
            else:
                node = parent
        elif isinstance(parent, ast.Subscript):
            if node is parent.slice:
                return False
            if not isinstance(parent.ctx, ast.Load):
                return True
            node = parent
        elif isinstance(parent, (ast.BinOp, ast.UnaryOp, ast.Compare)):
            return False
        elif isinstance(parent, (ast.BoolOp, ast.IfExp, ast.Starred, ast.List, ast.Tuple, ast.Set, ast.Dict,
                                 ast.NamedExpr)):
            if isinstance(parent, ast.IfExp) and node is parent.test:
                return False
            if isinstance(parent, ast.NamedExpr):
                return True
            node = parent
        elif isinstance(parent, (ast.Call, ast.keyword)):
            call = parent if isinstance(parent, ast.Call) else parents.get(parent)
            if not isinstance(call, ast.Call) or call.func is node:
                return True
            if isinstance(parent, ast.keyword) and parent.arg == "out":
                return True
            kind, path = _callee(call.func, names)
            last = path.rsplit(".", 1)[-1]
            if kind == "other" or any(k.arg in ("out", "inplace", "key") for k in call.keywords):
                return True
            if last in CALLING or any(isinstance(a, ast.Lambda) for a in [*call.args, *(k.value for k in
                                                                                        call.keywords)]):
                return True  # hands each element to a function, maybe the student's
            if kind == "library":
                if path in MUTATING_FUNCTIONS or (last.endswith("_") and not last.endswith("__")) or \
                        last in MUTATING_METHODS or (path.startswith("numpy.") and last == "at"):
                    return True
                position = call.args.index(node) if node in call.args else -1
                if position >= _ufunc_inputs(path) or (path.startswith("numpy.") and position >= 2
                                                       and path not in PURE_CHECKS):
                    return True  # a positional `out` (a ufunc's, np.dot's, np.clip's, ...)
                if path in PURE_CHECKS:
                    return False
                # any other library call may keep its argument (an optimizer, a dataset) or change it (heapq):
                # what becomes of its result decides
            elif kind == "builtin":
                if path in READING_BUILTINS:
                    return False
                if path not in PASSING_BUILTINS:
                    return True
            node = call
        elif isinstance(parent, ast.AugAssign):
            return node is parent.target
        elif isinstance(parent, ast.Expr):
            return node is not use and isinstance(node, ast.Call)  # a call made for what it does to its arguments
        elif isinstance(parent, (ast.Assert, ast.If, ast.While, ast.FormattedValue)):
            return False
        else:  # bound to a name, iterated, returned, a `with`, a nested scope: it may be held elsewhere
            return True


def guarded(tree, names: Names) -> list[str]:
    """The names a test cell binds, at its top level only, to objects it makes itself and never shares.

    The runner checks that such a name's object still holds what it held when bound each time the test reads it
    back: a student's function that changes the test's ``expected`` in place (found through ``globals()``)
    cannot decide the comparison. A name the test passes to the student's code, changes itself, aliases or
    uses in a nested scope is not guarded, nor one ever bound to an object it did not make (the student's
    result, another name) or bound anywhere but by a plain assignment at the top level.
    """
    # code that reads the namespace by itself (a magic, eval, globals(), timeit's globals=): nothing is kept back
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in NAMESPACE_READERS and node.id not in names.bound:
            return []
        if isinstance(node, ast.keyword) and node.arg in ("globals", "locals"):
            return []
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    fresh: dict[str, bool] = {}
    targets: set = set()  # the Name nodes of those assignments
    for statement in tree.body:
        if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or statement.value is None:
            continue
        for target in statement.targets if isinstance(statement, ast.Assign) else [statement.target]:
            if isinstance(target, ast.Name):
                pairs = [(target, statement.value)]
            elif isinstance(target, ast.Tuple) and isinstance(statement.value, ast.Tuple) \
                    and len(target.elts) == len(statement.value.elts):
                pairs = list(zip(target.elts, statement.value.elts))
            else:
                continue
            for name, value in pairs:
                if isinstance(name, ast.Name):
                    targets.add(name)
                    fresh[name.id] = fresh.get(name.id, True) and _fresh(value, names)
    top = set(tree.body)
    nested_scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp,
                     ast.DictComp, ast.GeneratorExp)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                fresh[name] = False
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            fresh[node.name] = False
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                fresh[(alias.asname or alias.name).split(".")[0]] = False
            continue
        if not isinstance(node, ast.Name) or not fresh.get(node.id):
            continue
        scope, nested = node, False
        while scope not in top:
            scope = parents[scope]
            nested = nested or isinstance(scope, nested_scopes)
        if nested or (isinstance(node.ctx, ast.Store) and node not in targets) or \
                (isinstance(node.ctx, ast.Load) and _shares(node, parents, names)):
            fresh[node.id] = False
    # a name other code of the notebook may read from the namespace while the test runs (a helper's or a
    # solution's global, a setting a cell binds), or one a string of the cell names (code run from text)
    texts = " ".join(n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str))
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", texts))
    others = names.read_in_functions | names.bound_outside_tests | names.declared_global | words
    return sorted(name for name, ok in fresh.items() if ok and not name.startswith("__") and name not in others)


def _ufunc_inputs(path: str) -> int:
    """How many positional inputs a NumPy ufunc takes (the next positional argument is its ``out``); a large
    number for anything else."""
    if not path.startswith("numpy."):
        return 1 << 30
    obj = np
    try:
        for part in path.split(".")[1:]:
            obj = getattr(obj, part)
    except AttributeError:
        return 1 << 30
    return obj.nin if isinstance(obj, np.ufunc) else 1 << 30


# -- rewriting one test cell ---------------------------------------------------------------------
class _Lift(ast.NodeTransformer):
    def __init__(self, names: Names, guard=()):
        self.names = names
        self.guard = set(guard)
        self.count = 0
        self.leaves: dict[int, list[int]] = {}  # comparison -> the leaves it always reports with it
        self.wrapped = 0  # leaves wrapped in all (also those evaluated only on some branch)

    def _call(self, form: str, args: list, kwargs: list | None = None, msg=None, negate=False,
              condition=False):
        self.count += 1
        owner = self.count
        operands = 1 if form in ("is None", "is not None", "isinstance") else 2
        always: list[int] = []
        args = [self._operand(a, owner, always) if i < operands else a for i, a in enumerate(args)]
        if always:
            self.leaves[owner] = always
        keywords = [ast.keyword(arg="kwargs", value=ast.Dict(keys=[ast.Constant(k.arg) for k in kwargs or []],
                                                               values=[k.value for k in kwargs or []]))]
        if msg is not None:
            # a guarded name is in the notebook's namespace only once the test ends, and a lambda reads that
            # namespace: the message gets the test's own values as its parameters
            read = sorted({n.id for n in ast.walk(msg) if isinstance(n, ast.Name) and n.id in self.guard})
            keywords.append(ast.keyword(arg="message", value=ast.Lambda(
                args=ast.arguments(posonlyargs=[], args=[ast.arg(n) for n in read], kwonlyargs=[], kw_defaults=[],
                                   defaults=[ast.Call(func=ast.Attribute(ast.Name(LIFTER, ast.Load()), "name",
                                                                         ast.Load()),
                                                      args=[ast.Constant(n)], keywords=[]) for n in read]),
                body=msg)))
        if negate:
            keywords.append(ast.keyword(arg="negate", value=ast.Constant(True)))
        if condition:  # an `if`'s test: the recorder returns the verdict instead of raising
            keywords.append(ast.keyword(arg="condition", value=ast.Constant(True)))
        return ast.Call(func=ast.Name(LIFTER, ast.Load()),
                        args=[ast.Constant(owner), ast.Constant(form), ast.Tuple(elts=args, ctx=ast.Load())],
                        keywords=keywords)

    # -- the values an operand is computed from ----------------------------------------------------
    def _operand(self, node, owner: int, always: list):
        """An operand with its leaves wrapped: the operand itself is reported as it is; what it is computed from
        (``w`` in ``abs(w - 3)``) is reported by ``__course_leaf__`` as it is used."""
        if isinstance(node, ast.Call):
            return self._inside_call(node, owner, always, False)
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript, ast.Constant)):
            return node
        return self._walk(node, owner, always, False)

    def _library(self, func) -> bool:
        """Whether a callee is a builtin or a library function that computes a value from its arguments."""
        if isinstance(func, ast.Name):
            if func.id in (LIFTER, LEAF) or func.id in INSPECTING:
                return False
            if func.id in builtins.__dict__ and func.id not in self.names.bound:
                return True
        return bool(self.names.canonical(func))

    def _inside_call(self, node, owner, always, conditional):
        """A call's arguments (of a builtin or library function) and a computed receiver (``(a - b).abs()``)."""
        if self._library(node.func):
            node.args = [self._walk(a, owner, always, conditional) for a in node.args]
            for k in node.keywords:
                k.value = self._walk(k.value, owner, always, conditional)
        elif isinstance(node.func, ast.Attribute) and not isinstance(node.func.value, (ast.Name, ast.Attribute,
                                                                                       ast.Constant)):
            node.func.value = self._walk(node.func.value, owner, always, conditional)
        return node

    def _leaf(self, node, owner, always, conditional):
        self.count += 1
        self.wrapped += 1
        if not conditional:
            always.append(self.count)
        return ast.Call(func=ast.Name(LEAF, ast.Load()), args=[ast.Constant(self.count), ast.Constant(owner), node],
                        keywords=[])

    def _walk(self, node, owner, always, conditional):
        """``node`` in a position whose value the operand is computed from: leaves wrapped, structure kept."""
        walk = self._walk
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in (LIFTER, LEAF):
                return node  # a comparison lifted already (an `if` expression inside the operand)
            return self._leaf(self._inside_call(node, owner, always, conditional), owner, always, conditional)
        if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
            if isinstance(node, ast.Name) and (node.id in self.names.imports or node.id.startswith("__")):
                return node
            return self._leaf(node, owner, always, conditional)
        if isinstance(node, ast.BinOp):
            node.left, node.right = walk(node.left, owner, always, conditional), walk(node.right, owner, always,
                                                                                      conditional)
        elif isinstance(node, ast.UnaryOp):
            node.operand = walk(node.operand, owner, always, conditional)
        elif isinstance(node, ast.BoolOp):  # only the first value is always evaluated
            node.values = [walk(v, owner, always, conditional or i > 0) for i, v in enumerate(node.values)]
        elif isinstance(node, ast.Compare):
            node.left = walk(node.left, owner, always, conditional)
            node.comparators = [walk(v, owner, always, conditional or i > 0) for i, v in enumerate(node.comparators)]
        elif isinstance(node, ast.IfExp):
            node.test = walk(node.test, owner, always, conditional)
            node.body = walk(node.body, owner, always, True)
            node.orelse = walk(node.orelse, owner, always, True)
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            node.elts = [walk(e, owner, always, conditional) for e in node.elts]
        elif isinstance(node, ast.Starred):
            node.value = walk(node.value, owner, always, conditional)
        elif isinstance(node, ast.NamedExpr):
            node.value = walk(node.value, owner, always, conditional)
        return node  # constants, lambdas, comprehensions, f-strings: nothing the grader could use

    def _form(self, test, msg, negate=False, condition=False):
        """The recorder call for an assertion's test, or ``None`` when its form is not protected."""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            return self._form(test.operand, msg, not negate, condition)
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            op, right = test.ops[0], test.comparators[0]
            if type(op) in COMPARE_OPS:
                return self._call(COMPARE_OPS[type(op)], [test.left, right], msg=msg, negate=negate,
                                  condition=condition)
            if isinstance(op, (ast.Is, ast.IsNot)) and isinstance(right, ast.Constant) and right.value is None:
                form = "is None" if isinstance(op, ast.Is) else "is not None"
                return self._call(form, [test.left], msg=msg, negate=negate, condition=condition)
        if isinstance(test, ast.Call) and not any(isinstance(a, ast.Starred) for a in test.args) \
                and all(k.arg for k in test.keywords):
            if isinstance(test.func, ast.Name) and test.func.id == "isinstance" and len(test.args) == 2 \
                    and not test.keywords and "isinstance" not in self.names.bound:
                return self._call("isinstance", list(test.args), msg=msg, negate=negate, condition=condition)
            form = self.names.canonical(test.func)
            if form in ASSERT_CALLS and len(test.args) >= 2:
                return self._call(form, list(test.args), test.keywords, msg=msg, negate=negate,
                                  condition=condition)
        return None

    def _condition(self, test):
        """An `if`'s test with its protected comparisons recorded (``and`` / ``or`` keep short-circuiting)."""
        if isinstance(test, ast.BoolOp):
            return ast.BoolOp(op=test.op, values=[self._condition(v) for v in test.values])
        call = self._form(test, None, condition=True)
        return call if call is not None else test

    def visit_If(self, node):
        self.generic_visit(node)
        node.test = self._condition(node.test)
        return node

    visit_While = visit_If
    visit_IfExp = visit_If

    def visit_comprehension(self, node):
        self.generic_visit(node)
        node.ifs = [self._condition(test) for test in node.ifs]
        return node

    def visit_Assert(self, node):
        self.generic_visit(node)
        if isinstance(node.test, ast.BoolOp) and isinstance(node.test.op, ast.And):
            # `assert a and b, m` is `assert a, m` then `assert b, m`: each part in its own protected form
            parts = [ast.copy_location(ast.Assert(test=v, msg=node.msg), node) for v in node.test.values]
            out = []
            for part in parts:
                done = self.visit_Assert(part)
                out.extend(done if isinstance(done, list) else [done])
            return out
        call = self._form(node.test, node.msg)
        return ast.copy_location(ast.Expr(call), node) if call is not None else node

    def visit_Expr(self, node):
        self.generic_visit(node)
        value = node.value
        if isinstance(value, ast.Call) and not any(isinstance(a, ast.Starred) for a in value.args) \
                and all(k.arg for k in value.keywords) and len(value.args) >= 2:
            form = self.names.canonical(value.func)
            if form in STATEMENT_CALLS:
                return ast.copy_location(ast.Expr(self._call(form, list(value.args), value.keywords)), node)
        return node


def prepare(source: str, names: Names) -> tuple[str, dict]:
    """A test cell's code as the kernel runs it, and the plan the kernel-side runner follows."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        python = TransformerManager().transform_cell(source)
        tree = ast.parse(python)
    except (SyntaxError, ValueError):
        return source, {"value": False, "protect": {}, "keep": [], "lifted": 0, "required": [],
                        "guard": [], "shared": []}  # fails as it is
    value = bool(tree.body) and isinstance(tree.body[-1], ast.Expr) and not _quiet(python)
    guard = guarded(tree, names)
    lifter = _Lift(names, guard)
    tree = lifter.visit(tree)
    if value:
        last = tree.body[-1]
        tree.body[-1] = ast.copy_location(ast.Assign(targets=[ast.Name(VALUE, ast.Store())], value=last.value), last)
    if lifter.wrapped:
        tree.body.insert(0, ast.parse(LEAF_SOURCE).body[0])
    ast.fix_missing_locations(tree)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    for name in list(used):
        used |= names.uses.get(name, set())
    protect = {}
    for name in sorted(used):
        if name in names.imports:
            protect[name] = list(names.imports[name])
        elif name in names.kept:
            protect[name] = ["kept", name]
        elif name in builtins.__dict__ and name not in names.bound and not name.startswith("__"):
            protect[name] = ["builtin", name]
    keep = sorted(n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))
    # assertions at the cell's top level run whenever the cell runs to its end: each must report
    required: list = [call.args[0].value for node in tree.body if isinstance(node, (ast.Expr, ast.Assign))
                      for call in [node.value] if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                      and call.func.id == LIFTER]
    # a comparison that reported must come with the leaves it always evaluates
    required += [{"after": owner, "leaves": leaves} for owner, leaves in sorted(lifter.leaves.items())]
    # a name a function of the notebook rebinds through `global` (the classic counter exercise): the test
    # reads it from the namespace, where that function's binding is, as nbgrader does
    shared = sorted(names.declared_global & _top_level_bindings(tree))
    return ast.unparse(tree), {"value": value, "protect": protect, "keep": keep, "lifted": lifter.count,
                               "required": required, "guard": guard, "shared": shared}


def _quiet(source: str) -> bool:
    """IPython shows no value for a cell whose last token is ``;``."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
                  if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                    tokenize.DEDENT, tokenize.ENDMARKER)]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return False
    return bool(tokens) and tokens[-1].string == ";"


def runner_source(grade_id: str, code: str, plan: dict) -> str:
    """The source of the grading cell that runs a test cell through the set-up's runner."""
    return f"{RUNNER}.test({grade_id!r}, {code!r}, {json.loads(json.dumps(plan))!r})"


def keep_source(names: list[str]) -> str:
    return f"{RUNNER}.keep({list(names)!r})\n"


def define_source(names: list[str], cell_source: str) -> str:
    """The grading cell that defines a read-only cell's functions and classes for the tests alone, where the
    submission lacks that cell (the runner's ``define``): only its definitions, none of its other statements."""
    tree = _parse(cell_source)
    defs = [n for n in (tree.body if tree is not None else [])
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name in names]
    return f"{RUNNER}.define({list(names)!r}, {chr(10).join(ast.unparse(n) for n in defs)!r})\n"


# -- judging ---------------------------------------------------------------------------------------
class _Opaque:
    def __init__(self, type_name: str):
        self.type_name = type_name


_TOO_BIG = object()


def _value(data):
    """Wire data as plain Python and NumPy values (never running anything the kernel sent)."""
    import base64

    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "none":
        return None
    if kind == "scalar":
        return float.fromhex(data["value"]) if data["type"] == "float" else data["value"]
    if kind == "str":
        return data["value"]
    if kind == "array":
        raw = base64.b64decode(data["data"])
        arr = np.frombuffer(raw, dtype=np.dtype(data["wire"])).reshape(data["shape"]).copy()
        return arr
    if kind in ("list", "tuple"):
        items = [_value(x) for x in data["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {k: _value(v) for k, v in data["items"].items()}
    if kind == "dtype":
        return ("torch.dtype", data["value"])
    if kind == "device":
        return ("torch.device", data["value"])
    if kind == "too-big":
        return _TOO_BIG
    return _Opaque(str(data.get("type", "unknown")) if isinstance(data, dict) else "unknown")


def _holds(value, found) -> bool:
    """Whether ``value`` is, or holds somewhere inside its lists and dicts, an item for which ``found`` is true."""
    if found(value):
        return True
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return any(_holds(v, found) for v in items)


def _opaque(value) -> bool:
    return _holds(value, lambda v: isinstance(v, _Opaque))


def _has_big(value) -> bool:
    return _holds(value, lambda v: v is _TOO_BIG)


def _what(data) -> str:
    from .values import article

    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "object":
        return f"an object of type {data.get('type')}"
    return article(kind or "value")


def _isinstance(data, names: list[str]) -> bool:
    kind = data.get("kind")
    typ, library = data.get("type"), data.get("library")
    dtype = str(data.get("dtype", ""))
    numpy_scalar = kind == "array" and library == "numpy-scalar"
    np_kind = np.dtype(data["wire"]).kind if numpy_scalar and data.get("wire") else ""
    for name in names:
        if name == "builtins.int" and kind == "scalar" and typ in ("int", "bool"):
            return True
        if name == "builtins.float" and ((kind == "scalar" and typ == "float") or (numpy_scalar and dtype == "float64")):
            return True
        if name == "builtins.bool" and kind == "scalar" and typ == "bool":
            return True
        if name == "builtins.str" and kind == "str":
            return True
        if name in ("builtins.list", "builtins.dict") and kind == name.split(".")[1]:
            return True
        if name == "builtins.tuple" and kind == "tuple":
            return True
        if name == "types.NoneType" and kind == "none":
            return True
        if name == "numpy.ndarray" and kind == "array" and library == "numpy":
            return True
        if name == "torch.Tensor" and kind == "array" and library == "torch":
            return True
        if name == "torch.dtype" and kind == "dtype":
            return True
        if name == "torch.device" and kind == "device":
            return True
        if name in ("numpy.generic", "numpy.number") and numpy_scalar:
            return name == "numpy.generic" or np_kind in "iufc"
        if name == "numpy.floating" and numpy_scalar and np_kind == "f":
            return True
        if name == "numpy.integer" and numpy_scalar and np_kind in "iu":
            return True
        if name == "numpy.bool_" and numpy_scalar and np_kind == "b":
            return True
        if name in ("numbers.Number", "numbers.Real", "numbers.Integral"):
            if kind == "scalar" and (name != "numbers.Integral" or typ in ("int", "bool")):
                return True
            if numpy_scalar and (np_kind in ("iu" if name == "numbers.Integral" else "iuf" if name ==
                                             "numbers.Real" else "iufc")):
                return True
        if name == "builtins.complex" and numpy_scalar and dtype == "complex128":
            return True
    return False


def _truth(result) -> bool:
    arr = np.asarray(result)
    if arr.size != 1:
        raise ValueError("the truth value of an array with more than one element is ambiguous")
    return bool(arr.reshape(()))


def _compare(form: str, a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        left = np.asarray(a, dtype=float) if isinstance(a, (list, tuple)) else a
        right = np.asarray(b, dtype=float) if isinstance(b, (list, tuple)) else b
        ops = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater,
               ">=": np.greater_equal}
        return _truth(ops[form](left, right))
    ops = {"==": lambda x, y: x == y, "!=": lambda x, y: x != y, "<": lambda x, y: x < y,
           "<=": lambda x, y: x <= y, ">": lambda x, y: x > y, ">=": lambda x, y: x >= y}
    return bool(ops[form](a, b))


def _kw(entry, name, default):
    data = entry.get("kwargs", {}).get(name)
    return default if data is None else _value(data)


def recheck(entry: dict) -> str:
    """Why an assertion that passed in the kernel fails on its operands' data ("" when it holds).

    For the test of an ``if`` (``condition``): why the grader's verdict differs from the kernel's. For a value
    an operand was computed from (``leaf``): why it cannot count (an object of the notebook's own making).
    """
    if isinstance(entry.get("kwargs"), dict) and "leaf" in entry["kwargs"]:
        return _leaf_problem(entry)
    if entry.get("condition"):
        if not isinstance(entry.get("ok"), bool):
            return "a comparison of the test cell never finished in the kernel"
        holds, why = _verdict(entry)
        if holds is None or holds == entry["ok"]:
            return ""
        return f"a comparison the test cell made comes out the other way on the values the code returned " \
               f"({why or 'the values say otherwise'})"
    if entry.get("ok") is not True:
        return ""  # it failed (or raised) in the kernel already: the cell has lost its points there
    holds, why = _verdict(entry)
    return (why or "the assertion does not hold") if holds is False else ""


def _leaf_problem(entry: dict) -> str:
    """A value an operand was computed from is sent only when the set-up's rule does not vouch for its type."""
    if "encode_error" in entry:
        return "a value a comparison of the test cell was computed from could not be sent to the grader"
    trusted = entry.get("trusted")
    if isinstance(trusted, list) and trusted == [True]:
        return ""
    raw = (entry.get("args") or [{}])[0]
    what = f"an object of type {raw.get('type')}" if isinstance(raw, dict) and raw.get("kind") == "object" else \
        f"{_what(raw) if isinstance(raw, dict) else 'a value'} of a type the notebook defines"
    return (f"a comparison of the test cell was computed from {what}, whose own methods (not the grader) made the "
            "value compared (return plain numbers, arrays or tensors)")


def _verdict(entry: dict) -> tuple[bool | None, str]:
    """The grader's own verdict on a recorded comparison and why it is false (``None``: the kernel's stands)."""
    if entry.get("tampered"):
        return False, "the grading code in the kernel was changed while the test ran"
    if "encode_error" in entry:
        return False, "its operands could not be sent to the grader"
    form, raw = entry.get("form"), entry.get("args", [])
    values = [_value(a) for a in raw]
    trusted = entry.get("trusted") or [False] * len(values)
    if any(_has_big(v) for v in values):
        return None, ""  # too big to send: the kernel's verdict (with the set-up's functions) stands
    if form == "isinstance":
        names = entry.get("types")
        if names is None:
            return None, ""  # a type the grader does not know: the kernel's verdict stands
        holds = _isinstance(raw[0], names)
        if entry.get("negate"):
            holds = not holds
        return holds, "" if holds else f"the value is {_what(raw[0])}, not an instance of {', '.join(names)}"
    checked = values[:2] if form not in ("is None", "is not None", "truth") else values[:1]
    # each operand is plain data, an object of an installed library, or an object of the notebook's own
    # making (also inside a list or dict: only the outer type is vouched for)
    sides = ["data" if not _opaque(v) else
             "lib" if isinstance(v, _Opaque) and i < len(trusted) and trusted[i] else "own"
             for i, v in enumerate(checked)]
    if "own" in sides:
        if all(side == "own" for side in sides):
            return None, ""  # the notebook's objects on every side: nothing the grader can read
        what = _what(raw[sides.index("own")])
        return False, (f"the test compared {what}, which the grader cannot read as data (return plain numbers, "
                       "arrays or tensors)")
    if "lib" in sides:
        return None, ""  # an object of an installed library (pytest.approx, ...): the kernel's verdict stands
    try:
        holds = _decide(form, entry, values)
    except AssertionError as exc:
        return False, _short(str(exc)) or "the assertion does not hold"
    except Exception as exc:  # the comparison itself is impossible on these values
        return False, f"the values cannot be compared ({type(exc).__name__}: {_short(str(exc))})"
    if entry.get("negate"):
        holds = not holds
    return holds, "" if holds else "the assertion does not hold on the values the code returned"


def _short(text: str) -> str:
    text = text.strip().splitlines()[0] if text.strip() else ""
    return text[:200]


def _decide(form: str, entry: dict, values: list) -> bool:
    if form in ("==", "!=", "<", "<=", ">", ">="):
        return _compare(form, values[0], values[1])
    if form == "is None":
        return values[0] is None
    if form == "is not None":
        return values[0] is not None
    if form == "truth":
        return _truth(values[0]) if isinstance(values[0], np.ndarray) else bool(values[0])
    a, b = (np.asarray(v) if not isinstance(v, tuple) or not v or not isinstance(v[0], str) else v
            for v in values[:2])
    if form in ("numpy.allclose", "torch.allclose", "numpy.isclose"):
        rtol, atol = _kw(entry, "rtol", 1e-05), _kw(entry, "atol", 1e-08)
        equal_nan = bool(_kw(entry, "equal_nan", False))
        if form == "torch.allclose" and np.broadcast_shapes(np.shape(a), np.shape(b)) is None:
            return False
        return bool(np.all(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)))
    if form in ("numpy.array_equal", "torch.equal"):
        return bool(np.array_equal(a, b, equal_nan=bool(_kw(entry, "equal_nan", False))))
    if form == "math.isclose":
        rel, absolute = _kw(entry, "rel_tol", 1e-09), _kw(entry, "abs_tol", 0.0)
        return math.isclose(float(np.asarray(a).reshape(())), float(np.asarray(b).reshape(())),
                            rel_tol=rel, abs_tol=absolute)
    if form == "numpy.testing.assert_allclose":
        np.testing.assert_allclose(a, b, rtol=_kw(entry, "rtol", 1e-07), atol=_kw(entry, "atol", 0),
                                   equal_nan=bool(_kw(entry, "equal_nan", True)))
        return True
    if form == "numpy.testing.assert_array_equal":
        np.testing.assert_array_equal(a, b)
        return True
    if form in ("numpy.testing.assert_almost_equal", "numpy.testing.assert_array_almost_equal"):
        decimal = _kw(entry, "decimal", 7 if form.endswith("assert_almost_equal") else 6)
        getattr(np.testing, form.rsplit(".", 1)[1])(a, b, decimal=decimal)
        return True
    if form == "numpy.testing.assert_equal":
        np.testing.assert_equal(values[0], values[1])
        return True
    if form == "torch.testing.assert_close":
        return _assert_close(entry, raw, a, b)
    return True  # a form the grader does not re-decide


_CLOSE = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
          "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}


def _assert_close(entry, raw, a, b) -> bool:
    dtypes = [str(r.get("dtype", "")) if r.get("kind") == "array" else
              ("float64" if r.get("type") == "float" else "int64") for r in raw[:2]]
    if bool(_kw(entry, "check_dtype", True)) and dtypes[0] != dtypes[1]:
        return False
    if np.shape(a) != np.shape(b):
        return False
    defaults = [_CLOSE.get(d, (0.0, 0.0)) for d in dtypes]
    rtol = _kw(entry, "rtol", None)
    atol = _kw(entry, "atol", None)
    rtol = max(d[0] for d in defaults) if rtol is None else rtol
    atol = max(d[1] for d in defaults) if atol is None else atol
    return bool(np.all(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=bool(_kw(entry, "equal_nan", False)))))


def score_test(record: dict | None, points: float) -> tuple[float | None, str]:
    """The points of one executed test cell and, when it lost any, why (``None``: flagged for a person).

    ``record`` is what the worker read off the cell (:func:`course_lib.execute.instrument.test_outcome`).
    """
    if record is None:
        return None, "not graded: the notebook has no test cell for this question (was it deleted?)"
    if not record.get("ran"):
        return 0.0, "not graded: the notebook stopped before this test cell ran"
    report = record.get("report")
    # what the cell showed after its value (a hook's error or stderr) does not count, as in nbgrader; what the
    # test code raised always does
    after_value = bool(record.get("value_first") and report and report.get("value_sent"))
    error = (report or {}).get("error") or (None if after_value else record.get("error"))
    if error:
        ename, evalue = error.get("ename") or "an error", str(error.get("evalue", "")).strip()
        return 0.0, (f"the test cell raised {ename}: {evalue}"[:500] if evalue else f"the test cell raised {ename}")
    if report is None or not report.get("done"):
        return 0.0, "the test cell's result never reached the grader (was the grading set-up changed?)"
    if record.get("stderr") is not None and not after_value:
        first = record["stderr"]
        return 0.0, ("the test cell wrote to stderr, which nbgrader's rule counts as failing"
                     + (f" ({first})" if first else ""))
    reported = {entry.get("index") for entry in report.get("lifted", []) if isinstance(entry, dict)
                and isinstance(entry.get("index"), int)}
    for need in record.get("required", []):
        if isinstance(need, dict):  # a comparison that reported, without the values it was computed from
            missing = need.get("after") in reported and any(leaf not in reported for leaf in need.get("leaves", []))
        else:
            missing = need not in reported
        if missing:
            return 0.0, "an assertion of the test cell never reported to the grader (was the grading set-up changed?)"
    for entry in report.get("lifted", []):
        why = recheck(entry)
        if why:
            return 0.0, f"an assertion of the test cell fails when the grader checks it: {why}"
    if not report.get("value_sent"):
        return points, ""
    return _partial(report.get("value"), record.get("shown"), report.get("text"), points)


def _partial(data, shown, text, points: float) -> tuple[float, str]:
    """nbgrader's partial credit (a number as the cell's value), validated in the grader."""
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "none":
        return points, ""
    if kind == "scalar" and data.get("type") in ("int", "float"):
        value = _value(data)
        if not math.isfinite(value) or value < 0 or value > points:
            return 0.0, (f"the test cell's result {value:g} is not a score between 0 and {points:g}, so the "
                         "cell scores 0")
        return float(value), (f"partial credit: the tests gave {value:g} of {points:g} points" if value < points
                              else "")
    printed = shown if shown is not None else text
    try:
        float(printed) if printed is not None else None
        numeric = printed is not None
    except (TypeError, ValueError):
        numeric = False
    if numeric and kind == "object":
        return 0.0, (f"the test cell's result is an object of type {data.get('type')} that only prints like a "
                     "number, so the cell scores 0")
    if numeric:
        value = float(printed)
        if not math.isfinite(value) or value < 0 or value > points:
            return 0.0, (f"the test cell's result {value:g} is not a score between 0 and {points:g}, so the "
                         "cell scores 0")
        return value, (f"partial credit: the tests gave {value:g} of {points:g} points" if value < points else "")
    return points, ""  # nbgrader: a value that is not a number means all the points


def judge_tests(grader, result: ExecutionResult) -> GradedSubmission:
    """An nbgrader-format notebook: every test cell scored from what its run reported."""
    from .verdict import _graded, _not_reached

    checks = []
    for question in grader.questions:
        check, = question.checks
        record = result.tests.get(question.grade_id)
        review = False
        if record is None and result.status == "completed" and not result.problem:
            points, message, review = 0.0, ("not graded: the notebook has no test cell for this question (was it "
                                            "deleted?); flagged for a person to review"), True
        elif record is None or not record.get("ran") or (record.get("report") is None and not record.get("error")
                                                         and result.status != "completed"):
            points, message = 0.0, _not_reached(result, question.grade_id)
        else:
            score, message = score_test(record, check.points)
            points = float(score or 0.0)
        checks.append(CheckResult(name=check.name, grade_id=question.grade_id, points=points,
                                  max_points=check.points, passed=points >= check.points and not review,
                                  message=message, describe=check.describe, needs_review=review))
    return _graded(result, checks)


# -- the test cells of an assignment ---------------------------------------------------------------
def generated_sources(config, spec) -> dict[str, str]:
    """``grade_id -> source`` of the test cells as nbgrader generated them into the gradebook.

    ``nbgrader generate_assignment`` (``course release``) stores every cell's source before it strips
    hidden tests, with its AUTOTEST directives expanded: the tests nbgrader itself grades with.
    """
    from nbgrader.api import MissingEntry

    from ..errors import GradebookError
    from ..gradebook import open_gradebook, require_gradebook

    try:
        require_gradebook(config)
    except GradebookError:  # no gradebook yet (grading one file): the source notebook's own tests
        return {}
    try:
        with open_gradebook(config) as gb:
            notebook = gb.find_notebook(spec.name, spec.assignment)
            stored = {cell.name: cell.source for cell in notebook.source_cells}
    except MissingEntry:
        return {}
    from ..notebooks import grade_id

    # a gradebook filled from the released notebook holds the tests without their hidden part: not those
    hidden = {grade_id(c) for c in spec.source_nb().cells if "BEGIN HIDDEN TESTS" in c.source}
    return {gid: text for gid, text in stored.items() if gid not in hidden or "BEGIN HIDDEN TESTS" in text}


def prepared_cells(source_nb, sources: dict[str, str], *, where: str = "") -> tuple[dict, dict]:
    """The test cells ready to run through the set-up's runner, and the read-only helpers to keep.

    ``sources`` (from :func:`generated_sources`) win over the source notebook's own text.
    """
    import copy

    from ..errors import AssignmentError
    from ..execute.instrument import ROLE
    from ..notebooks import grade_id, is_grade, is_solution

    names = Names(source_nb)
    cells = {}
    for cell in source_nb.cells:
        if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell) or not grade_id(cell):
            continue
        gid = grade_id(cell)
        source = sources.get(gid, cell.source)
        if gid not in sources and "AUTOTEST" in source:
            raise AssignmentError(f"{where or 'the notebook'}: test cell {gid!r} uses AUTOTEST, and the gradebook "
                                  "holds no tests nbgrader generated from it",
                                  hint="run `course release` for this assignment with this gradebook (--db-url) "
                                       "first, so nbgrader generates its tests")
        code, plan = prepare(source, names)
        ready = copy.deepcopy(cell)
        ready.source = runner_source(gid, code, plan)
        ready.outputs, ready.execution_count = [], None
        # what the grader expects to hear back travels in the notebook's metadata, which the kernel never sees
        ready.metadata[ROLE] = {"role": "test", "question": gid, "source": source, "required": plan["required"]}
        ready.metadata["tags"] = [*ready.metadata.get("tags", []), "course-test"]
        cells[gid] = ready
    return cells, names.helpers


def _nbgrader_setting(root, section: str, name: str, default):
    """One setting of ``nbgrader_config.py`` as nbgrader reads it (``default`` when unset or unreadable)."""
    from traitlets.config.loader import PyFileConfigLoader

    from ..config import CONFIG_FILE

    try:
        cfg = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    except Exception:  # the course's own loader reports a broken file
        return default
    return cfg.get(section, {}).get(name, default)


def ignore_pattern(root) -> str:
    """nbgrader's ``c.IgnorePattern.pattern`` when ``c.IgnorePattern.enabled`` (as nbgrader applies it), else ""."""
    pattern = _nbgrader_setting(root, "IgnorePattern", "pattern", "")
    enabled = _nbgrader_setting(root, "IgnorePattern", "enabled", False)
    return str(pattern) if enabled and isinstance(pattern, str) else ""


def limit_lines(root) -> int:
    """nbgrader's ``c.LimitOutput.max_lines`` (1000 unless set; -1: no limit): the lines of stream output a test
    cell keeps, after which its autograde drops the cell's later streams, stderr included."""
    value = _nbgrader_setting(root, "LimitOutput", "max_lines", 1000)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= -1 else 1000


def solution_failures(grader, result: ExecutionResult) -> dict[str, str]:
    """``grade_id -> why`` for each test cell the instructor's solution does not pass in full."""
    graded = judge_tests(grader, result)
    return {c.grade_id: c.message or f"scored {c.points:g} of {c.max_points:g}" for c in graded.checks
            if c.points < c.max_points or c.needs_review}
