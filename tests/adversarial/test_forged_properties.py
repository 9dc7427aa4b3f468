"""A model whose outputs lie about themselves earns nothing for the properties they would fake.

The checks of 05-gpu-classifier's make_mlp judge properties of the model's outputs (it is not
affine; it outputs logits). The student's model computes those outputs in the kernel, so a
forward pass may return a tensor subclass whose ``abs``, ``max``, ``min`` and ``item`` say
whatever it likes. Only the tensors' data leave the kernel; the properties are decided in
the grader (``Holds``), where the subclass has no say.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from course_lib.assignment import Assignment
from course_lib.execute.runners import LocalRunner
from course_lib.grade import Context
from course_lib.synth import Variant, build

# An affine model (no activation) whose outputs claim a large affine gap and negative logits,
# and a softmax model whose outputs claim to be logits.
LYING_TENSOR = (
    "class Claims(torch.Tensor):\n"
    "    @classmethod\n"
    "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
    "        out = super().__torch_function__(func, types, args, kwargs or {})\n"
    "        name = getattr(func, '__name__', '')\n"
    "        if name == 'item':\n"
    "            return -1.0 if Claims.negative else 1.0\n"
    "        if name in ('allclose', 'equal'):\n"
    "            return False\n"
    "        return out\n"
    "\n"
    "\n"
    "class Lying(nn.Module):\n"
    "    def __init__(self, inner):\n"
    "        super().__init__()\n"
    "        self.inner = inner\n"
    "\n"
    "    def forward(self, x):\n"
    "        return self.inner(x).as_subclass(Claims)\n"
    "\n"
    "\n")

AFFINE = LYING_TENSOR + (
    "def make_mlp(in_features, hidden, classes):\n"
    "    Claims.negative = False\n"
    "    return Lying(nn.Sequential(nn.Linear(in_features, hidden), nn.Linear(hidden, classes)))\n")

SOFTMAX = LYING_TENSOR + (
    "def make_mlp(in_features, hidden, classes):\n"
    "    Claims.negative = True\n"
    "    return Lying(nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(),\n"
    "                               nn.Linear(hidden, classes), nn.Softmax(dim=1)))\n")


def _lies_convince_a_kernel_side_verdict(code: str) -> tuple[bool, bool]:
    """What the two properties would be if computed from the outputs where they are made."""
    ns = {"torch": torch, "nn": nn}
    exec(code, ns)  # noqa: S102 - the test's own synthetic answer
    mlp = ns["make_mlp"](10, 24, 4)
    a, b = torch.randn(64, 10), torch.randn(64, 10)
    with torch.no_grad():
        out = mlp(a)
        gap = mlp(a + b) + mlp(torch.zeros_like(a)) - mlp(a) - mlp(b)
    nonlinear = gap.abs().max().item() > 1e-3
    probabilities = (out.min().item() >= 0 and out.max().item() <= 1
                     and torch.allclose(out.sum(dim=1), torch.ones(out.shape[0]), atol=1e-4))
    return nonlinear, not probabilities and out.min().item() < 0


@pytest.mark.slow
def test_outputs_that_lie_about_themselves_do_not_pay(config):
    # the attack is real: computed in the kernel, both lies would be believed
    assert _lies_convince_a_kernel_side_verdict(AFFINE)[0] is True
    assert _lies_convince_a_kernel_side_verdict(SOFTMAX)[1] is True

    spec = Assignment.load(config, "05-gpu-classifier").notebook("gpu_classifier")
    context = Context.prepare(config, spec, "cpu")
    attacks = {"affine_claims_nonlinear": AFFINE, "softmax_claims_logits": SOFTMAX}
    jobs = [context.job(name, Path(f"{name}.ipynb"),
                        student_nb=build(spec, Variant(name, kind="mutant", answers={"make_mlp": code})))
            for name, code in attacks.items()]
    graded = {job.student: context.judge(result) for job, result in LocalRunner(2).run(jobs)}
    verdicts = {name: {c.name: c for c in g.checks} for name, g in graded.items()}

    affine = verdicts["affine_claims_nonlinear"]
    assert affine["mlp_layer_shapes"].passed  # the honest part still counts
    assert not affine["mlp_is_nonlinear"].passed
    assert "affine" in affine["mlp_is_nonlinear"].message
    softmax = verdicts["softmax_claims_logits"]
    assert softmax["mlp_is_nonlinear"].passed
    assert not softmax["mlp_outputs_logits"].passed
    assert "not logits" in softmax["mlp_outputs_logits"].message


# A plain tensor (no autograd at all) that claims, through properties and __torch_function__, to be a leaf
# that requires gradients and holds f'(x) in .grad. The grader reads these through torch's own getters with
# subclass dispatch off, so the claims are not believed.
CLAIMS_A_GRADIENT = (
    "class ClaimsGrad(torch.Tensor):\n"
    "    @property\n"
    "    def requires_grad(self):\n"
    "        return True\n"
    "    @property\n"
    "    def is_leaf(self):\n"
    "        return True\n"
    "    @property\n"
    "    def grad(self):\n"
    "        v = float(self.detach().as_subclass(torch.Tensor))\n"
    "        return torch.tensor(3 * v ** 2 - 4 * v)\n"
    "    @classmethod\n"
    "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
    "        name = str(getattr(func, '__name__', func))\n"
    "        if 'requires_grad' in name or 'is_leaf' in name:\n"
    "            return True\n"
    "        return super().__torch_function__(func, types, args, kwargs or {})\n"
    "\n"
    "\n"
    "def poly_grad(x_value, device='cpu'):\n"
    "    return torch.tensor(float(x_value), dtype=torch.float32, device=device).as_subclass(ClaimsGrad)\n")


@pytest.mark.slow
def test_a_tensor_that_claims_requires_grad_and_a_grad_does_not_pay(config):
    spec = Assignment.load(config, "02-gradients").notebook("gradients")
    context = Context.prepare(config, spec, "cpu")
    variants = {"claims": Variant("claims", kind="mutant", answers={"poly_grad": CLAIMS_A_GRADIENT}),
                "solution": Variant("solution", kind="solution")}
    jobs = [context.job(name, Path(f"{name}.ipynb"), student_nb=build(spec, v)) for name, v in variants.items()]
    graded = {job.student: context.judge(result) for job, result in LocalRunner(2).run(jobs)}
    claims = {c.name: c for c in graded["claims"].checks}
    solution = {c.name: c for c in graded["solution"].checks}
    assert solution["poly_leaf"].passed and solution["poly_grad_value"].passed
    assert not claims["poly_leaf"].passed and not claims["poly_grad_value"].passed, \
        [(c.name, c.passed, c.message) for c in claims.values()]
