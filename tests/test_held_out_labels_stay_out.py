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

    def as_sent(v):  # the model's logits, its rebuilt layers' (the same), and 07's configuration
        return (v, v, *extra)

    for check in question.checks:
        assert check.compare(as_sent(right), as_sent(right)) is None, check.name
        assert check.compare(as_sent(wrong), as_sent(right)) is not None, check.name


def test_a_model_reading_its_callers_frames_is_a_declared_cheat(case):
    import runpy

    aid, spec, cheat, _, _ = case
    variants = {v.name: v for v in runpy.run_path(str(spec.grader.path.parent / "variants.py"))["VARIANTS"]}
    assert set(variants[cheat].fails) == {c.name for c in spec.grader.question("train_model_tests").checks}
    assert "sys._getframe" in variants[cheat].answers["train_model"]


def test_rebuilt_chains_the_models_own_layers_anew():
    import torch
    from torch import nn

    from course_lib.judge import rebuilt

    def make_mlp():
        return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))

    class Rule(nn.Module):  # make_mlp's parameters, and an answer of its own
        def __init__(self):
            super().__init__()
            self.net = make_mlp()

        def forward(self, x):
            return self.net(x) + x.norm(dim=1, keepdim=True)

    class Rectifier(nn.Module):
        def forward(self, x):
            return x.clamp(min=0)

    x = torch.randn(50, 2)
    honest = nn.Sequential(nn.Linear(2, 8), Rectifier(), nn.Linear(8, 3)).double()
    with torch.no_grad():
        assert torch.equal(rebuilt(honest, make_mlp)(x.double()), honest(x.double()))
        cheat = Rule()
        assert not torch.allclose(rebuilt(cheat, make_mlp)(x), cheat(x))
    assert rebuilt(nn.Linear(2, 3), make_mlp) is None
    state = torch.random.get_rng_state()
    rebuilt(honest, make_mlp)
    assert torch.equal(torch.random.get_rng_state(), state)
    # what torch's layers call, replaced so that the copies would answer as the model does
    hook = torch.nn.modules.module.register_module_forward_hook(lambda module, inputs, output: output)
    try:
        assert rebuilt(honest, make_mlp) is None
    finally:
        hook.remove()
    activation = torch.nn.modules.activation
    activation.F = type(activation)("F")
    try:
        assert rebuilt(nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3)), make_mlp) is None
    finally:
        activation.F = torch.nn.functional
