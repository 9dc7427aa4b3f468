"""The trained-model checks of 05 and 07: held-out labels, and what draws them, never reach the student's kernel.

The student's model runs in the kernel, where its forward pass can search its callers' frames (locals and
globals) for anything that holds or makes the labels. The probes get the held-out inputs as data only, the
labels are made in the grader process, and a cheat variant of each assignment (`course verify`, in
test_verify.py) shows a model doing that search loses the trained-model checks.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from course_lib.judge.values import TensorValue

CASES = {"05-gpu-classifier": ("gpu_classifier", "cheat_model_calls_callers_held_out_generator", 3, 3000),
         "07-image-classifier": ("image_classifier", "cheat_model_calls_callers_held_out_set", 10, 4000)}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request, config):
    from course_lib.assignment import Assignment

    aid = request.param
    notebook, cheat, classes, n = CASES[aid]
    return aid, Assignment.load(config, aid).notebook(notebook), cheat, classes, n


def test_no_probe_carries_the_labels_or_what_draws_them(case):
    aid, spec, _, _, n = case
    question = spec.grader.question("train_model_tests")
    module = question.probe.__globals__
    sources = [q.probe_source()[0] for q in spec.grader.questions]
    drawing = inspect.getsource(module["held_out_split" if "held_out_split" in module else "held_out_set"])
    seed = [t for t in drawing.replace("(", " ").replace(")", " ").replace(",", " ").split() if t.isdigit()]
    seed = seed or [str(module["HELD_OUT_SEED"])]
    for source in sources:
        assert "held_out_labels" not in source and "held_out_set" not in source and "held_out_split" not in source
        assert not any(s in source for s in seed if len(s) > 8), aid
    data = question.data()
    assert list(data) == ["x"] and len(data["x"]) == n
    labels = module["held_out_labels"]()
    assert labels.shape == (n,) and labels.dtype == np.int64
    # the inputs alone, in an order that says nothing about the classes
    assert not np.array_equal(labels, np.sort(labels))


def test_accuracy_is_counted_against_the_graders_labels_not_the_kernels(case):
    aid, spec, _, classes, n = case
    question = spec.grader.question("train_model_tests")
    labels = question.probe.__globals__["held_out_labels"]()
    right = TensorValue(np.eye(classes, dtype=np.float32)[labels], library="torch", dtype="float32")
    wrong = TensorValue(np.eye(classes, dtype=np.float32)[(labels + 1) % classes], library="torch",
                        dtype="float32")
    extra = ("small",) if aid.startswith("07") else ()
    as_sent = (lambda v: (v, *extra)) if extra else (lambda v: v)
    for check in question.checks:
        assert check.compare(as_sent(right), as_sent(right)) is None, check.name
        assert check.compare(as_sent(wrong), as_sent(right)) is not None, check.name


def test_a_model_reading_its_callers_frames_is_a_declared_cheat(case):
    import runpy

    aid, spec, cheat, _, _ = case
    variants = {v.name: v for v in runpy.run_path(str(spec.grader.path.parent / "variants.py"))["VARIANTS"]}
    assert set(variants[cheat].fails) == {c.name for c in spec.grader.question("train_model_tests").checks}
    assert "sys._getframe" in variants[cheat].answers["train_model"]
