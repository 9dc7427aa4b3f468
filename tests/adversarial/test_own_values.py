"""A test cell's own values are its own: the student's code can neither read nor change them while it runs.

A synthetic nbgrader-format assignment whose test cells use the patterns honest tests use with their own
values (an argument the student's function changes in place by design, a value the test changes itself, a
helper of the test's that reads one, a message that shows one, the values left for later cells), graded with
right, wrong and cheating answers. The cheats find the test's values through ``globals()``, the caller's frame
or the garbage collector's list of objects.
"""

import pytest

from conftest import copy_course, grade_variants

pytestmark = pytest.mark.slow

AID = "98-own-values"

STEP_TESTS = """w = torch.ones(3)
target = torch.zeros(3)
sgd_step_(w, torch.full((3,), 2.0), 0.5)
assert torch.allclose(w, target), f"w should be {target}, got {w}"
"""
OWN_TESTS = """w = torch.ones(3)
sgd_step_(w, torch.full((3,), 2.0), 0.5)
total = torch.zeros(3)
total += w
total.add_(1)
assert torch.equal(total, torch.ones(3)), f"total is {total}"
reference = torch.zeros(3)
def close(v):
    return torch.allclose(v, reference)
assert close(w)
history = [w.clone()]
history.append(w.clone())
assert len(history) == 2
"""
LIST_TESTS = """expected = [0, 2, 4]
got = doubled([0, 1, 2])
assert got == expected, f"doubled([0, 1, 2]) should be {expected}, got {got}"
"""
LATER_TESTS = """assert torch.equal(target, torch.zeros(3)) and expected == [0, 2, 4]
"""
# values of the test that other code reads from the namespace while it runs, as nbgrader lets it
SHARED_TESTS = """x_test = torch.linspace(0, 1, 5)
y_test = x_test * 2
assert check(scaled)
n_steps = 3
assert len(steps()) == n_steps
a = torch.ones(3)
%timeit -n1 -r1 scaled(a)
w = torch.ones(2, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.5)
w.sum().backward()
opt.step()
assert torch.allclose(w, torch.full((2,), 0.5))
rows = [[3, 1, 2], [2, 1]]
assert list(map(in_order, rows)) == [[1, 2, 3], [1, 2]]
assert sorted(rows, key=in_order) == [[1, 2], [1, 2, 3]] and len(rows) == 2
"""
# the classic exercise of a function that rebinds a global: the test reads the function's binding
COUNTER_TESTS = """counter = 0
increment()
increment()
assert counter == 2
"""

RIGHT = {"sgd_step_": "def sgd_step_(w, g, lr):\n    w -= lr * g\n",
         "doubled": "def doubled(xs):\n    return [2 * x for x in xs]\n",
         "scaled": "def scaled(t):\n    return 2 * t\n\ndef steps():\n    return [0.0] * n_steps\n\n"
                   "def in_order(xs):\n    xs.sort()\n    return xs\n",
         "counter": "counter = 0\n\ndef increment():\n    global counter\n    counter += 1\n"}
WRONG = {"sgd_step_": "def sgd_step_(w, g, lr):\n    w = w - lr * g\n",
         "doubled": "def doubled(xs):\n    return list(xs)\n",
         "scaled": "def scaled(t):\n    return t\n\ndef steps():\n    return []\n\n"
                   "def in_order(xs):\n    return xs\n",
         "counter": "counter = 0\n\ndef increment():\n    pass\n"}
RECORDER_REPLACED = """import sys
def doubled(xs):
    names = sys._getframe(1).f_locals
    kind = type(names)
    for f in [getattr(names, a, None) for a in [*dir(kind), *getattr(kind, '__slots__', ())]]:
        for cell in getattr(f, '__closure__', None) or ():
            for c in getattr(cell.cell_contents, '__closure__', None) or ():
                own = c.cell_contents
                if type(own) is dict and '__course_assert__' in own and not hasattr(own['__course_assert__'], 'fake'):
                    real = own['__course_assert__']
                    def fake(index, form, args, kwargs=None, **kw):
                        return True if kw.get('condition') else real(index, 'is not None', (1,), {})
                    fake.name, fake.fake = real.name, True
                    own['__course_assert__'] = fake
    return list(xs)
"""
CHEATS = {
    "reads_globals": {"sgd_step_": "def sgd_step_(w, g, lr):\n    t = globals().get('target')\n"
                                   "    if t is not None:\n        w.copy_(t)\n",
                      "doubled": "def doubled(xs):\n    return list(globals().get('expected', xs))\n"},
    "reads_the_callers_frame": {
        "sgd_step_": "import sys\ndef sgd_step_(w, g, lr):\n    f = sys._getframe(1).f_locals\n"
                     "    t = f.get('target')\n    if t is None and 'target' in f.keys():\n        t = f['target']\n"
                     "    if t is not None:\n        w.copy_(t)\n",
        "doubled": "import sys\ndef doubled(xs):\n    try:\n        return list(sys._getframe(1).f_locals['expected'])\n"
                   "    except KeyError:\n        return list(xs)\n"},
    "reads_the_store_of_the_callers_frame": {
        "sgd_step_": "import sys\ndef sgd_step_(w, g, lr):\n    f = sys._getframe(1).f_locals\n"
                     "    for name in ('own', '_names', 'guard'):\n        store = getattr(f, name, None)\n"
                     "        if isinstance(store, dict) and 'target' in store:\n            w.copy_(store['target'])\n"
                     "    lift = sys._getframe(1).f_globals.get('__course_assert__')\n"
                     "    if lift is not None:\n        w.copy_(lift._names.own['target'])\n",
        "doubled": "def doubled(xs):\n    return list(xs)\n"},
    # the recorder in the test's own names replaced by one that reports every assertion clean, reached
    # through the closures of the caller's f_locals
    "replaces_the_recorder": {
        "sgd_step_": "def sgd_step_(w, g, lr):\n    pass\n",
        "doubled": RECORDER_REPLACED},
    "changes_them_in_place": {
        "sgd_step_": "import gc\ndef sgd_step_(w, g, lr):\n    for o in gc.get_objects():\n"
                     "        if type(o) is torch.Tensor and o is not w and o.shape == w.shape:\n"
                     "            o.copy_(w)\n",
        "doubled": "import gc\ndef doubled(xs):\n    for o in gc.get_objects():\n"
                   "        if type(o) is list and o == [0, 2, 4] and o is not xs:\n            o[:] = list(xs)\n"
                   "    return list(xs)\n"},
}


def own_values_assignment(course):
    import nbformat

    def cell(source, gid, **meta):
        new = nbformat.v4.new_code_cell(source)
        new.metadata["nbgrader"] = {"grade_id": gid, "schema_version": 3, "task": False, "grade": False,
                                    "solution": False, "locked": False, **meta}
        return new

    def answer(name):
        return f"### BEGIN SOLUTION\n{RIGHT[name]}### END SOLUTION"

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [
        cell("import torch\nn_steps = 100", "imports", locked=True),
        cell("def check(f):\n    return torch.allclose(f(x_test), y_test)", "helpers", locked=True),
        cell(answer("sgd_step_"), "sgd_step_", solution=True),
        cell(STEP_TESTS, "step_tests", grade=True, locked=True, points=2),
        cell(OWN_TESTS, "own_tests", grade=True, locked=True, points=1),
        cell(answer("doubled"), "doubled", solution=True),
        cell(LIST_TESTS, "list_tests", grade=True, locked=True, points=1),
        cell(LATER_TESTS, "later_tests", grade=True, locked=True, points=1),
        cell(answer("scaled"), "scaled", solution=True),
        cell(SHARED_TESTS, "shared_tests", grade=True, locked=True, points=1),
        cell(answer("counter"), "counter", solution=True),
        cell(COUNTER_TESTS, "counter_tests", grade=True, locked=True, points=1),
    ]
    (course / "source" / AID).mkdir(parents=True)
    nbformat.write(nb, course / "source" / AID / "own.ipynb")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from course_lib.synth import Variant

    course = copy_course(tmp_path_factory.mktemp("own-values") / "course")
    own_values_assignment(course)
    variants = [Variant("right", answers=RIGHT), Variant("wrong", answers=WRONG)]
    variants += [Variant(name, answers={**RIGHT, **answers}) for name, answers in CHEATS.items()]
    return grade_variants(course, AID, "own", variants)


def _points(graded_submission) -> dict:
    return {c.grade_id: c.points for c in graded_submission.checks}


def test_honest_tests_of_their_own_values_grade_as_nbgrader_would(graded):
    assert _points(graded["right"]) == {"step_tests": 2, "own_tests": 1, "list_tests": 1, "later_tests": 1,
                                        "shared_tests": 1, "counter_tests": 1}, \
        [(c.grade_id, c.message) for c in graded["right"].checks]
    assert _points(graded["wrong"]) == {"step_tests": 0, "own_tests": 0, "list_tests": 0, "later_tests": 1,
                                        "shared_tests": 0, "counter_tests": 0}


def test_a_message_shows_the_tests_own_value(graded):
    messages = {c.grade_id: c.message for c in graded["wrong"].checks}
    assert "w should be tensor([0., 0., 0.]), got tensor([1., 1., 1.])" in messages["step_tests"], messages
    assert "doubled([0, 1, 2]) should be [0, 2, 4], got [0, 1, 2]" in messages["list_tests"], messages


@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_the_students_code_cannot_reach_the_tests_own_values(graded, cheat):
    points = _points(graded[cheat])
    assert points["step_tests"] == 0 and points["list_tests"] == 0, \
        [(c.grade_id, c.points, c.message) for c in graded[cheat].checks]
