"""nbgrader-format test cells: how they are rewritten, and how the grader decides them (no kernel)."""

import nbformat
import numpy as np
import pytest

from course_lib.judge import kernel_side
from course_lib.judge.nbtests import Names, prepare, recheck, score_test


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    for source, meta in cells:
        cell = nbformat.v4.new_code_cell(source)
        if meta:
            cell.metadata["nbgrader"] = meta
        nb.cells.append(cell)
    return nb


NB = notebook(("import numpy as np\nimport torch\nfrom numpy.testing import assert_allclose as close\n", None),
              ("def helper(x):\n    return x\n", {"grade_id": "helpers", "locked": True, "grade": False,
                                                "solution": False}),
              ("def sum(values):\n    return 0\n", {"grade_id": "answer", "solution": True, "grade": False}))


def test_protected_forms_become_recorder_calls():
    code, plan = prepare("assert f(1) == 2, 'msg'\nassert not np.allclose(a, b, atol=1e-3)\n"
                         "assert isinstance(x, float) and x > 0\nclose(a, b)\nassert f(x)\n", Names(NB))
    assert plan["lifted"] == 5
    assert "__course_assert__(1, '=='" in code and "message=lambda: 'msg'" in code
    assert "'numpy.allclose'" in code and "negate=True" in code and "'atol': 0.001" in code
    assert "'isinstance'" in code and "'>'" in code  # both parts of `and`
    assert "'numpy.testing.assert_allclose'" in code  # the alias resolved through the notebook's imports
    assert "assert f(x)" in code  # not a protected form: it stays an assert
    assert not plan["value"]


def test_value_of_the_last_expression_unless_quiet():
    assert prepare("score = 1\nscore", Names(NB))[1]["value"]
    assert not prepare("score = 1\nscore;", Names(NB))[1]["value"]
    assert not prepare("x = 1\nassert x == 1", Names(NB))[1]["value"]


def test_names_bound_to_the_set_up_objects():
    _, plan = prepare("assert abs(helper(np.pi)) == sum([1]) + len([])\n", Names(NB))
    assert plan["protect"]["np"] == ["module", "numpy"]
    assert plan["protect"]["helper"] == ["kept", "helper"]  # a read-only cell's function
    assert plan["protect"]["abs"] == ["builtin", "abs"] and plan["protect"]["len"] == ["builtin", "len"]
    assert "sum" not in plan["protect"]  # the notebook itself defines sum: the question asks for it


def test_syntax_error_is_left_for_the_kernel():
    code, plan = prepare("assert (1 ==\n", Names(NB))
    assert code == "assert (1 ==\n" and plan["lifted"] == 0


class Anything(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


def entry(form, *args, trusted=None, **kwargs):
    """What the kernel-side recorder sends for an assertion that passed there."""
    data = {"index": 1, "form": form, "negate": False, "ok": True,
            "args": [kernel_side.encode(a) for a in args],
            "kwargs": {k: kernel_side.encode(v) for k, v in kwargs.items()},
            "trusted": trusted or [False] * len(args)}
    if form == "isinstance":
        data["types"] = ["builtins.float"]
        data["args"] = data["args"][:1]
    return data


def test_recheck_decides_on_the_data():
    assert recheck(entry("==", 2, 2)) == ""
    assert recheck(entry("==", 2, 3)) != ""
    assert recheck(entry("<=", 0.001, 1e-2)) == ""
    assert recheck(entry("==", (3, 4), [3, 4])) != ""  # a tuple is not a list, as in Python
    assert recheck(entry("numpy.allclose", np.ones(3), np.ones(3) + 1e-9)) == ""
    assert recheck(entry("numpy.allclose", np.ones(3), np.zeros(3))) != ""
    assert recheck(entry("numpy.testing.assert_allclose", np.ones(2), np.array([1.0, 1.5]))) != ""
    assert recheck(entry("math.isclose", 0.1 + 0.2, 0.3)) == ""


def test_an_object_of_the_notebooks_own_fails_against_data():
    message = recheck(entry("==", Anything(0.0), 5.0))
    assert "Anything" in message and "cannot read as data" in message
    assert recheck(entry("==", [Anything(0.0)], [5.0], trusted=[True, True])) != ""  # hidden in a list
    assert recheck(entry("==", Anything(0.0), Anything(1.0))) == ""  # nothing to read on either side
    assert recheck(entry("==", 0.5, Anything(0.5), trusted=[True, True])) == ""  # a library's object (approx)
    assert recheck(entry("isinstance", Anything(1.0), float)) != ""  # a float subclass is not a float here
    assert recheck(entry("isinstance", np.float64(1.0), float)) == ""  # np.float64 is a float subclass


def test_a_failed_assertion_is_the_kernels_to_report():
    failed = entry("==", 2, 3)
    failed["ok"] = False
    assert recheck(failed) == ""


def report(value=None, sent=False, **extra):
    return {"ran": True, "error": None, "stderr": None, "shown": extra.pop("shown", None),
            "report": {"kind": "test", "done": True, "error": None, "lifted": extra.pop("lifted", []),
                       "value_sent": sent, "value": kernel_side.encode(value) if sent else None,
                       "text": repr(value) if sent else None}, **extra}


@pytest.mark.parametrize("value,shown,points", [
    (1.5, "1.5", 1.5),  # partial credit
    (3, "3", 3.0),
    (5.0, "5.0", 0.0),  # above the cell's points: 0 (nbgrader aborts the notebook)
    (-1.0, "-1.0", 0.0),  # negative: 0 (nbgrader gives full marks)
    ("0.5", "'0.5'", 3.0),  # not a number: all the points, as nbgrader
    (np.float64(0.5), "np.float64(0.5)", 3.0),  # NumPy 2 prints it unparseably: all the points, as nbgrader
    (None, None, 3.0),
])
def test_partial_credit_as_nbgrader_reads_it_and_validated(value, shown, points):
    assert score_test(report(value, sent=True, shown=shown), 3.0)[0] == points


def test_an_object_that_prints_like_a_number_scores_nothing():
    class Forged:
        def __repr__(self):
            return "3.0"

    assert score_test(report(Forged(), sent=True, shown="3.0"), 3.0)[0] == 0.0


def test_errors_stderr_and_missing_reports_score_zero():
    assert score_test(report(error={"ename": "AssertionError", "evalue": "no"}), 2)[0] == 0
    assert score_test(report(stderr="oops"), 2)[0] == 0
    silent = report()
    silent["report"] = None
    assert score_test(silent, 2) == (0.0, "the test cell's result never reached the grader (was the grading "
                                          "set-up changed?)")
    swallowed = report()
    swallowed["report"]["error"] = {"ename": "AssertionError", "evalue": ""}  # display of errors disabled
    assert score_test(swallowed, 2)[0] == 0
    assert score_test(report(lifted=[entry("==", Anything(0.0), 1.0)]), 2)[0] == 0
    assert score_test(report(), 2) == (2, "")


def test_ignore_pattern_drops_only_matching_stderr():
    from course_lib.execute.instrument import ROLE, test_outcome

    cell = nbformat.v4.new_code_cell("x")
    cell.metadata[ROLE] = {"role": "test", "question": "q"}
    cell.execution_count = 3
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr",
                                           text="/lib/x.py:3: UserWarning: deprecated\n  warnings.warn(\n")]
    pattern = r"(?m)^.*:\d+: [A-Za-z]*Warning: "
    assert test_outcome(cell, pattern)["stderr"] is None
    assert test_outcome(cell, "")["stderr"] == "/lib/x.py:3: UserWarning: deprecated"
    cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text="my own message\n"))
    assert test_outcome(cell, pattern)["stderr"] == "my own message"


def test_what_the_cell_shows_after_its_value_does_not_count_as_in_nbgrader():
    """nbgrader's rule takes the first error, stderr or result of the cell's outputs: a post_run_cell hook's
    error after the value leaves its partial credit; a result displayed by the code the test called, before the
    runner's report, is not the cell's value and saves nothing from a later stderr."""
    from course_lib.execute.instrument import ROLE, test_outcome

    def outcome(*outputs):
        cell = nbformat.v4.new_code_cell("x")
        cell.metadata[ROLE] = {"role": "test", "question": "q"}
        cell.execution_count = 1
        cell.outputs = list(outputs)
        record = test_outcome(cell)
        assert record["report"] is not None
        return record

    test = {**report(1.5, sent=True)["report"], "question": "q"}
    shown = nbformat.v4.new_output("display_data", data={kernel_side.MIME: test})
    value = nbformat.v4.new_output("execute_result", data={"text/plain": "1.5"}, execution_count=1)
    stderr = nbformat.v4.new_output("stream", name="stderr", text="hook\n")
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="hook", traceback=[])
    assert score_test(outcome(shown, value, error), 2.0)[0] == 1.5
    assert score_test(outcome(shown, value, stderr), 2.0)[0] == 1.5
    assert score_test(outcome(stderr, shown, value), 2.0)[0] == 0.0
    assert score_test(outcome(value, shown, stderr), 2.0)[0] == 0.0  # a result the student's code displayed
    raised = {**test, "error": {"ename": "AssertionError", "evalue": ""}}
    assert score_test(outcome(nbformat.v4.new_output("display_data", data={kernel_side.MIME: raised}), value),
                      2.0)[0] == 0.0


def test_a_result_the_code_the_test_called_displayed_is_not_the_cells_value():
    """Partial credit read off what the cell shows (a NumPy scalar's value, printed as a number): the result the
    code the test called displayed itself (``get_ipython().displayhook``), before the runner's report, or after a
    report the notebook forged, is not the cell's value and saves nothing from a stderr (nbgrader's rule reads
    the first result, so it pays the student's own)."""
    import hashlib
    import hmac
    import json

    from course_lib.execute.instrument import ROLE, test_outcome

    key = "k" * 64

    def signed(record):
        body = json.dumps(record, sort_keys=True, separators=(",", ":"))
        return {**record, "mac": hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()}

    def outcome(*outputs):
        cell = nbformat.v4.new_code_cell("x")
        cell.metadata[ROLE] = {"role": "test", "question": "q"}
        cell.execution_count = 1
        cell.outputs = list(outputs)
        return test_outcome(cell, key=key)

    def shown(report):
        return nbformat.v4.new_output("display_data", data={kernel_side.MIME: report})

    def result(text):
        return nbformat.v4.new_output("execute_result", data={"text/plain": text}, execution_count=1)

    genuine = signed({**report(np.float64(0.5), sent=True)["report"], "question": "q", "digest": ""})
    forged = {**genuine, "mac": "0" * 64}
    stderr = nbformat.v4.new_output("stream", name="stderr", text="the student's\n")
    assert score_test(outcome(shown(genuine), result("0.5")), 2.0)[0] == 0.5
    assert score_test(outcome(result("'mine'"), shown(genuine), result("0.5")), 2.0)[0] == 0.5
    assert score_test(outcome(shown(forged), result("'mine'"), stderr, shown(genuine), result("0.5")), 2.0)[0] == 0.0


def test_comparisons_in_conditions_are_recorded_and_still_decide_the_branch():
    code, plan = prepare("score = 0\nif f(1) == 2 and not np.allclose(a, b):\n    score += 1\n"
                         "bonus = 1 if g() < 3 else 0\nok = [x for x in xs if x > 0]\nscore", Names(NB))
    assert code.count("condition=True") == 4 and plan["value"]
    assert plan["required"] == []  # a branch's comparison need not run


def condition(form, *args, ok, **kw):
    data = entry(form, *args, **kw)
    data.update(condition=True, ok=ok)
    return data


def test_a_condition_the_grader_decides_otherwise_is_reported():
    assert recheck(condition("==", 2, 2, ok=True)) == ""
    assert recheck(condition("==", 2, 3, ok=False)) == ""
    assert recheck(condition("==", 2, 3, ok=True)) != ""  # the kernel took a branch the values do not allow
    assert recheck(condition("!=", 2, 3, ok=False)) != ""
    assert recheck(condition("==", Anything(0.0), 4.0, ok=True)) != ""
    assert recheck(condition("==", Anything(0.0), Anything(1.0), ok=True)) == ""


GUARD_NB = notebook(("import numpy as np\nimport torch\nimport torch.nn.functional as F\n", None),
                    ("def f(x):\n    return x\n", {"grade_id": "answer", "solution": True, "grade": False}))


@pytest.mark.parametrize("source, guarded", [
    # made by the test and only compared: guarded
    ("expected = 2 * x.T @ r\nassert torch.allclose(f(x), expected)", ["expected"]),
    ("before = x.clone()\nout = f(x)\nassert torch.equal(x, before), f'changed: {before}'", ["before"]),
    ("ref = np.arange(3.0) * 2\nassert np.allclose(f(1), ref)\nref", ["ref"]),
    ("a, b = torch.zeros(3), torch.ones(3)\nassert torch.equal(a + b, f(b))", ["a"]),
    ("want = [0, 2, 4]\nassert f([0, 1, 2]) == want\nprint(len(want), want[0])", ["want"]),
    ("e = F.softmax(z, dim=-1)\nassert torch.allclose(f(z), e)", ["e"]),
    # handed to the student's code, changed by the test itself, aliased, in a nested scope: not guarded
    ("w = torch.ones(3)\nf(w)\nassert torch.equal(w, torch.zeros(3))", []),
    ("t = torch.zeros(3)\nt.add_(1)\nassert torch.equal(t, f(1))", []),
    ("t = torch.zeros(3)\nt += 1\nassert torch.equal(t, f(1))", []),
    ("t = torch.zeros(3)\nt[0] = 1\nassert torch.equal(t, f(1))", []),
    ("t = torch.zeros(3)\nv = t.view(3)\nassert torch.equal(v, f(1))", []),
    ("t = torch.zeros(3)\ntorch.add(t, 1, out=t)", []),
    ("a = np.zeros(3)\nnp.exp(a, a)", []),
    ("a = np.zeros(3)\nnp.copyto(a, f(1))", []),
    ("xs = [1]\nxs.append(2)", []),
    ("xs = [1]\nys = [xs]\nf(ys)", []),
    ("e = torch.zeros(3)\ncheck = lambda v: torch.equal(v, e)\nassert check(f(1))", []),
    ("e = torch.zeros(3)\nassert all(torch.equal(v, e) for v in f(1))", []),
    ("e = torch.zeros(3)\nsetattr(e, 'data', f(1))", []),
    ("out = f(x)\nassert torch.equal(out, x)", []),  # the student's own result
    ("e = x\nassert torch.equal(f(x), e)", []),  # another name's object
    ("e = torch.as_tensor(a)\nassert torch.equal(f(x), e)", []),  # may share a's memory
    ("for e in [torch.zeros(1)]:\n    pass\ne = torch.zeros(1)", []),
    # library code that keeps or changes its argument
    ("w = torch.ones(2)\nopt = torch.optim.SGD([w], lr=0.1)\nassert torch.equal(w, f(1))", ["opt"]),
    ("import heapq\nh = []\nheapq.heappush(h, 3)\nassert h[0] == f(3)", []),
    ("import bisect\nref = [1, 3]\nbisect.insort(ref, 2)\nassert f(ref) == ref", []),
    ("ref = np.zeros(3)\nnp.ndarray.sort(ref)\nassert np.allclose(f(1), ref)", []),
    ("c = np.zeros((2, 2))\nassert np.allclose(np.dot(np.eye(2), np.eye(2), c), f(1))", []),
    ("t = torch.zeros(3)\nds = torch.utils.data.TensorDataset(t)\nassert torch.equal(f(ds), t)", []),
    ("e = torch.zeros(3)\nassert torch.allclose(F.relu(e), f(1))", ["e"]),  # computed from, inside a check
    # the namespace read by other code: a magic, eval, globals(), timeit's globals=, a name in a string
    ("a = torch.zeros(3)\nget_ipython().run_line_magic('timeit', 'f(a)')", []),
    ("e = [0, 2]\nassert eval('f(1) == e')", []),
    ("e = [0, 2]\nassert globals()['e'] == f(1)", []),
    ("import timeit\nd = [1]\nt = timeit.timeit('f(d)', globals=None, number=1)", []),
    ("d = [1]\nt = run('f(d)')", []),
    # handed element by element to a function, maybe the student's
    ("rows = [[2, 1]]\nassert list(map(f, rows)) == [[1, 2]]", []),
    ("rows = [[2, 1]]\nassert sorted(rows, key=f) == [[1, 2]]", []),
    ("rows = [[2, 1]]\nassert list(filter(lambda r: f(r), rows)) == rows", []),
])
def test_guarded_names_are_the_tests_own_values_never_shared(source, guarded):
    assert prepare(source, Names(GUARD_NB))[1]["guard"] == guarded


def test_a_name_other_code_of_the_notebook_reads_is_not_guarded():
    nb = notebook(("import torch\nn_epochs = 100\n", None),
                  ("def check(f):\n    return torch.equal(f(x_test), y_test)\n",
                   {"grade_id": "helpers", "locked": True, "grade": False, "solution": False}),
                  ("def train():\n    return [0.0] * n_epochs\n", {"grade_id": "answer", "solution": True,
                                                                    "grade": False}))
    source = ("x_test = torch.zeros(3)\ny_test = torch.zeros(3)\nn_epochs = 3\nlimit = torch.zeros(1)\n"
              "assert check(train) and len(train()) == n_epochs and torch.equal(limit, torch.zeros(1))")
    assert prepare(source, Names(nb))[1]["guard"] == ["limit"]


def test_a_name_a_function_rebinds_through_global_is_read_from_the_namespace():
    nb = notebook(("counter = 0\ndef increment():\n    global counter\n    counter += 1\n",
                   {"grade_id": "answer", "solution": True, "grade": False}))
    plan = prepare("counter = 0\nincrement()\nassert counter == 1", Names(nb))[1]
    assert plan["shared"] == ["counter"] and plan["guard"] == []
    space = {}
    code = compile("counter = 0\nbump()\nseen = counter\n", "<test>", "exec")
    space["bump"] = lambda: space.update(counter=space["counter"] + 1)
    exec(code, space, kernel_side.TestNames(space, code, {}, [], ["counter"]))
    assert space["seen"] == 1


def test_an_assertion_message_gets_the_guarded_values_from_the_test():
    code, plan = prepare("e = torch.zeros(3)\nassert torch.allclose(f(1), e), f'want {e}'", Names(GUARD_NB))
    assert plan["guard"] == ["e"]
    assert "message=lambda e=__course_assert__.name('e'): f'want {e}'" in code


def test_a_guarded_value_is_read_only_by_the_test_and_only_as_it_was_bound():
    import torch

    space = {}
    code = compile("e = torch.zeros(3)\nseen = e\nassert 'e' in locals() and len(locals()) == 3\n", "<test>", "exec")
    names = kernel_side.TestNames(space, code, {"torch": torch}, ["e"])
    exec(code, space, names)
    assert "e" not in space and space["seen"] is names["seen"]  # kept from the namespace while the test runs
    with pytest.raises(KeyError):
        names["e"]  # read from another frame (a student's function reading its caller's f_locals)
    assert names.get("e") is None and "e" not in names.keys() and "seen" in names.keys() and "e" not in names
    assert names.value("e") is None and [k for k, _ in names.items()] == ["torch", "seen"]
    names.flush()  # only the runner's own call puts the test's names into the namespace
    assert "e" not in space
    with pytest.raises(NameError):
        names.peek("e")

    space = {"bump": lambda: space["seen"].add_(1)}  # someone else's code, changing the test's value in place
    code = compile("e = torch.zeros(3)\nseen = e\nbump()\ne\n", "<test>", "exec")
    with pytest.raises(AssertionError, match="'e' was changed in place"):
        exec(code, space, kernel_side.TestNames(space, code, {"torch": torch}, ["e"]))
    code = compile("e = [0, 2]\nseen = e\nbump = lambda: seen.append(4)\nbump()\ne\n", "<test>", "exec")
    with pytest.raises(AssertionError, match="'e' was changed in place"):
        exec(code, space, kernel_side.TestNames(space, code, {}, ["e"]))
    code = compile("e = torch.zeros(3)\ne.add_(1)\ne\n", "<test>", "exec")
    exec(code, space, kernel_side.TestNames(space, code, {"torch": torch}, []))  # not guarded: its own change


def test_a_fingerprint_never_fails_the_test_itself():
    import torch

    sparse = torch.sparse_coo_tensor(torch.tensor([[0, 2]]), torch.tensor([1.0, 2.0]), (3,))
    with torch.inference_mode():
        big = torch.zeros(300, 300)
    for value in (sparse, big, torch.zeros(3)[1:], np.zeros((3, 3)).T, [[0.0] * 300] * 300, object()):
        assert kernel_side.fingerprint(value) is None
    nan = torch.tensor([float("nan"), -0.0])
    assert kernel_side.fingerprint(nan) == kernel_side.fingerprint(nan) is not None
    assert kernel_side.fingerprint(torch.zeros(3)) != kernel_side.fingerprint(torch.ones(3))


def test_a_name_the_kernel_has_as_a_builtin_is_not_missing_for_the_test():
    """``display`` and ``get_ipython`` are builtins in IPython's kernel: a test using one that the instructor's
    solution imported finds it in a notebook that never imported it, as nbgrader's lookup does; a module the
    notebook lacks still fails."""
    class Set_up:
        builtin_names = {"display": "the kernel's display", "print": print}

        def resolve(self, spec):
            return f"{spec[1]}.{spec[2]}" if spec[0] == "attr" else spec[1]

    plan = {"protect": {"display": ["attr", "IPython.display", "display"], "np": ["module", "numpy"]}}
    overlay = kernel_side.Runner._overlay(None, Set_up(), {}, plan, {})
    assert overlay["display"] == "IPython.display.display"
    assert isinstance(overlay["np"], kernel_side._Gone)
