"""`course verify`: every check pays only for correct work, on every shipped assignment.

The slow test grades, through the kernel pool, the solution, the blank, every known variant
(graders/<aid>/variants.py) and the generated do-nothing stubs of all six assignments, strictly:
a stub that earns a point, a variant that does not score as declared, a check no mutant fails or a
message that gives the expected value away fails it. New assignments are picked up automatically; how many
alternatives and mutants a notebook has is only a recommendation of `course verify` (RECOMMENDED), which the
course's own assignments (SHIPPED) must meet here.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import REPO
from course_lib.judge.values import TensorValue
from course_lib.verify import RECOMMENDED, shown_secret, stub_cell

SHIPPED = ("01-tensors", "02-gradients", "03-softmax-nll", "04-ethics", "05-gpu-classifier", "06-autograd",
           "07-image-classifier")


def test_stubs_replace_every_function_body_and_keep_the_rest():
    code = ("import torch\n\nSCALE = 2\n\n"
            "def double(x, factor=2):\n    return x * factor\n\n"
            "class Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n\n"
            "    def forward(self, inputs):\n        return inputs + 1\n")
    none = stub_cell(code, "return None")
    assert "SCALE = 2" in none and "super().__init__()" in none and none.count("return None") == 2
    first = stub_cell(code, "return {first}")
    assert "return x" in first and "return inputs" in first
    namespace = {}
    exec(stub_cell(code, __import__("course_lib.verify").verify.STUB_BODIES["stub_returns_zeros"]), namespace)
    import torch

    assert torch.equal(namespace["double"](torch.ones(2)), torch.zeros(2)) and namespace["double"](3.0) == 0
    assert stub_cell("x = 1\n", "return None") is None  # no function: nothing to stub


def test_expected_numbers_error_sizes_and_shapes_are_caught_in_messages():
    ref = 0.7315
    assert shown_secret("the loss should be 0.73", ref)
    assert shown_secret("largest error 0.200", ref, got=0.9315)  # the exact error gives the answer too
    assert not shown_secret("is wrong: too large by more than 10 %", ref, got=0.9315)
    arr = TensorValue(np.zeros((3, 7)), library="torch", dtype="float32")
    assert shown_secret("has the wrong shape: got (3, 7)", ref=arr, got=arr)
    assert not shown_secret("it has 3 dimensions where 2 were expected", ref=arr)


def test_few_variants_are_a_recommendation_and_no_alternative_a_warning():
    from course_lib.verify import NotebookVerification, _recommend

    few = NotebookVerification("07-new", "new")
    _recommend(few, ["blank", "solution", "alternative", "mutant", "error"])
    assert few.warnings == [] and few.recommendations == [
        "only 1 alternative: recommended at least 2 (correct answers written differently from the solution) in "
        "variants.py",
        "only 1 mutant: recommended at least 6 (plausible mistakes, each named after its misconception) in variants.py"]
    none = NotebookVerification("07-new", "new")
    _recommend(none, ["blank", "solution", *["mutant"] * 6, *["alternative"] * 0])
    assert len(none.warnings) == 1 and none.warnings[0].startswith("no alternative: ")
    assert none.recommendations == ["no alternatives: recommended at least 2 (correct answers written differently "
                                    "from the solution) in variants.py"]
    enough = NotebookVerification("07-new", "new")
    _recommend(enough, ["solution", "alternative", "alternative", *["mutant"] * 6])
    assert enough.warnings == enough.recommendations == []


@pytest.mark.slow
def test_verify_refuses_a_property_without_a_main_check_and_a_telling_message(own_course, capsys):
    from course_lib.cli import main

    grader = own_course / "graders" / "01-tensors" / "tensors.py"
    shipped = grader.read_text()
    lonely = shipped.replace('describe="invert leaves its input unchanged", requires=("invert_values",),',
                             'describe="invert leaves its input unchanged",')
    assert lonely != shipped
    grader.write_text(lonely)
    assert main(["--course", str(own_course), "verify", "01-tensors"]) == 1
    out = capsys.readouterr().out
    assert "property check 'invert_leaves_input' requires no main check" in out

    telling = shipped.replace('Check("describe_4d", 1, ShapeRankSize(),',
                              'Check("describe_4d", 1, lambda got, ref: None if got == tuple(ref) '
                              'else f"the size should be {ref[2]}",')
    assert telling != shipped
    grader.write_text(telling)
    assert main(["--course", str(own_course), "verify", "01-tensors"]) == 1
    out = capsys.readouterr().out
    assert "check 'describe_4d' gives the expected value (24) away in its message" in out


@pytest.mark.slow
def test_every_assignment_verifies_strictly(course_dir, capsys):
    """Replaces the per-variant test: all of it runs through `course verify --all --strict`."""
    from course_lib.config import CourseConfig
    from course_lib.verify import verify

    config = CourseConfig.load(course_dir).with_overrides(device="cpu")
    aids = sorted(p.name for p in (REPO / "source").iterdir() if p.is_dir())
    report = verify(config=config, assignment_ids=aids)
    assert {nb.assignment for nb in report.notebooks} == set(aids)
    assert report.ok(strict=True), "\n".join(report.problems(strict=True))
    for nb in report.notebooks:
        kinds = [v.kind for v, _ in nb.graded.values()]
        assert kinds.count("solution") == 1 and kinds.count("blank") == 1, nb.notebook
        if nb.assignment in SHIPPED:  # an instructor's new assignment only gets the recommendation printed
            assert kinds.count("stub") == 3, nb.notebook
            assert all(kinds.count(kind) >= n for kind, n in RECOMMENDED.items()), nb.notebook
            assert not nb.recommendations, nb.recommendations
        _, solution = nb.graded["solution"]
        assert solution.score == solution.max_score > 0
        assert all(graded.score == 0 for v, graded in nb.graded.values() if v.kind in ("blank", "stub"))
