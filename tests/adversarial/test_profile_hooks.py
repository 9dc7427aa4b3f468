"""Code of the student's that runs after its function returned cannot change what the grading code reads.

Set inside the function under test, ``sys.setprofile``'s function is called at every call the grading code
makes after it: it can put an input the function changed in place back as it was just before the probe
records it (01-tensors), or just as a test cell's ``torch.equal(x, before)`` is recorded, taking itself off
at once (06-autograd). Probes switch such functions off after each call, test cells fail an assertion made
after one was set (an audit hook counts them). A ``weakref.finalize`` on a probe's input runs as the probe's
locals go, after its last record: it could rewrite the record of the eval-mode flag 05's probe saw, but what
is sent is each value as it was recorded; a ``gc`` callback could rewrite the runner's copy before it is
signed, but no collection runs while a record is made, copied and signed.
"""

from __future__ import annotations

import pytest

from conftest import copy_course, grade_variants

pytestmark = pytest.mark.slow

CASES = {"01-tensors": ("tensors", "invert_in_place", "invert_in_place_undone_by_a_profile_function"),
         "06-autograd": ("autograd", "leaky_relu_in_place", "leaky_relu_in_place_undone_by_a_profile_function")}
# not among 06's known submissions, which nbgrader must grade as the course does: in nbgrader the hook wins
LEAKY_RELU_UNDONE = """import sys


def leaky_relu(x, slope=0.01):
    before = x.clone()
    x[x < 0] *= slope

    def put_back(frame, event, arg):
        if event == "call" and frame.f_locals.get("form") == "torch.equal":
            sys.setprofile(None)
            x.copy_(before)

    sys.setprofile(put_back)
    return x
"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.synth import Variant, load_variants

    course = copy_course(tmp_path_factory.mktemp("profile-hooks") / "course")
    out = {}
    for aid, (notebook, *names) in CASES.items():
        known = {v.name: v for v in load_variants(Assignment.load(CourseConfig.load(course), aid).notebook(notebook))}
        known.setdefault(names[1], Variant(names[1], answers={"leaky_relu": LEAKY_RELU_UNDONE}))
        out.update(grade_variants(course, aid, notebook, [known[name] for name in names]))
    return out


@pytest.mark.parametrize("aid", sorted(CASES))
def test_an_in_place_change_undone_by_a_profile_function_earns_what_the_honest_one_earns(graded, aid):
    _, honest, hooked = CASES[aid]
    assert graded[hooked].score == graded[honest].score, \
        [(c.name, c.points, c.message) for c in graded[hooked].checks if not c.passed]


def test_a_record_rewritten_after_the_probe_made_it_is_not_sent(tmp_path):
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.synth import load_variants

    course = copy_course(tmp_path / "course")
    spec = Assignment.load(CourseConfig.load(course), "05-gpu-classifier").notebook("gpu_classifier")
    known = {v.name: v for v in load_variants(spec)}
    names = ("evaluate_forgets_eval_mode", "evaluate_forgets_eval_mode_and_rewrites_the_flag",
             "evaluate_forgets_eval_mode_and_rewrites_the_signed_copy")
    graded = grade_variants(course, "05-gpu-classifier", "gpu_classifier", [known[name] for name in names])
    honest, *rewritten = (graded[name] for name in names)
    assert honest.score == 19
    for cheat in rewritten:
        assert cheat.score == 19, (cheat.student, [(c.name, c.message) for c in cheat.checks if not c.passed])
