"""A torch mode the student's code leaves entered sees the grading code's torch calls and cannot answer for them.

A ``TorchFunctionMode`` entered and never left is called for every torch function run after it, the probe's
and the test cell's too: it can hand the record of a probe's own tensor the values it had before the
student's function changed it in place, or make ``torch.allclose`` hold and the record of an assertion's
operand show the other side's values. Tensors are read with every ``__torch_function__`` and
``__torch_dispatch__`` off, the notebook's modes are set aside while a probe or a test runs, and those the
code under test enters are set aside after its call (a test's assertion made after one was entered fails).
"""

from __future__ import annotations

import pytest

from conftest import copy_course, grade_variants

pytestmark = pytest.mark.slow

AGREES = '''import sys

import torch
from torch.overrides import TorchFunctionMode

mine = set()


class Agrees(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal"):
            return True
        if name == "detach" and args[0].data_ptr() in mine:
            frame = sys._getframe(1)
            while frame is not None and "form" not in frame.f_locals:
                frame = frame.f_back
            if frame is not None and len(frame.f_locals.get("args", ())) > 1:
                return func(frame.f_locals["args"][1])
        return func(*args, **(kwargs or {}))

'''
IDENTITY = '''
def leaky_relu(x, slope=0.01):
    out = x * 1.0
    mine.add(out.data_ptr())
    return out
'''
ENTERED_IN_A_CELL = AGREES + "\nAgrees().__enter__()\n" + IDENTITY
ENTERED_BY_THE_FUNCTION = AGREES + IDENTITY.replace("    return out", "    Agrees().__enter__()\n    return out")
# honest code with the library's own mode of torch.set_default_device, left in place while the tests run
DEFAULT_DEVICE = '''torch.set_default_device("cpu")


def leaky_relu(x, slope=0.01):
    return torch.where(x > 0, x, slope * torch.ones(()) * x)
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from course_lib.synth import Variant

    course = copy_course(tmp_path_factory.mktemp("torch-modes") / "course")
    variants = [Variant("entered_in_a_cell", answers={"leaky_relu": ENTERED_IN_A_CELL}),
                Variant("entered_by_the_function", answers={"leaky_relu": ENTERED_BY_THE_FUNCTION}),
                Variant("default_device", answers={"leaky_relu": DEFAULT_DEVICE})]
    graded = grade_variants(course, "06-autograd", "autograd", variants)
    from course_lib.synth import load_variants
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig

    spec = Assignment.load(CourseConfig.load(course), "01-tensors").notebook("tensors")
    known = {v.name: v for v in load_variants(spec)}
    graded.update(grade_variants(course, "01-tensors", "tensors",
                                 [known["invert_in_place"], known["invert_in_place_behind_a_torch_mode"]]))
    return graded


@pytest.mark.parametrize("cheat", ["entered_in_a_cell", "entered_by_the_function"])
def test_a_mode_that_agrees_with_every_comparison_earns_nothing(graded, cheat):
    points = {c.grade_id: c.points for c in graded[cheat].checks}
    assert points["leaky_relu_tests"] == 0, [(c.grade_id, c.message) for c in graded[cheat].checks]
    assert sum(points.values()) == 8  # the solution's other answers keep their points


def test_the_librarys_own_mode_is_left_to_honest_code(graded):
    assert graded["default_device"].score == 10, [(c.grade_id, c.message) for c in graded["default_device"].checks]


def test_a_mode_cannot_show_a_probe_its_input_as_it_was(graded):
    honest, hidden = graded["invert_in_place"], graded["invert_in_place_behind_a_torch_mode"]
    assert hidden.score == honest.score == 19
    assert not {c.name: c for c in hidden.checks}["invert_leaves_input"].passed
