"""Known submissions of 06-autograd, an nbgrader-format notebook (its test cells are its checks).

There is no grader module for this assignment: each autograder-tests cell of the
source notebook, hidden tests included, is one check named after the cell. The
variants prove those tests the same way as the other assignments' hidden checks,
and the benchmark grades a class built from them with nbgrader and with the
course's engine, which must agree cell by cell.
"""

from course_lib.synth import Variant

LEAKY = "leaky_relu_tests"
LOG_SOFTMAX = "log_softmax_tests"
GRAD = "mse_and_grad_tests"
FIT = "fit_line_tests"



def fit_line(*, loop: str = "range(steps)", before: str = "", after: str = "") -> str:
    """The solution's gradient-descent fit_line, with its loop bound or its surroundings changed."""
    return (before
            + "def fit_line(x, y, steps=500, lr=0.1):\n"
            "    w = torch.zeros((), requires_grad=True)\n"
            "    b = torch.zeros((), requires_grad=True)\n"
            f"    for _ in {loop}:\n"
            "        loss = ((w * x + b - y) ** 2).mean()\n"
            "        loss.backward()\n"
            "        with torch.no_grad():\n"
            "            w -= lr * w.grad\n"
            "            b -= lr * b.grad\n"
            "            w.grad.zero_()\n"
            "            b.grad.zero_()\n"
            + after
            + "    return w.item(), b.item()\n")


VARIANTS = [
    Variant("solution", kind="solution"),
    # -- alternative correct solutions ----------------------------------------------------------
    Variant("alternative_clamp_logsumexp_analytic", kind="alternative", answers={
        "leaky_relu": (
            "def leaky_relu(x, slope=0.01):\n"
            "    return torch.clamp(x, min=0) + slope * torch.clamp(x, max=0)\n"),
        "log_softmax": (
            "def log_softmax(logits):\n"
            "    return logits - torch.logsumexp(logits, dim=-1, keepdim=True)\n"),
        "mse_and_grad": (
            "def mse_and_grad(w, x, y):\n"
            "    residual = x @ w - y\n"
            "    return (residual ** 2).mean(), 2 / len(y) * x.T @ residual\n"),
    }),
    Variant("alternative_autograd_grad_closed_form", kind="alternative", answers={
        "leaky_relu": (
            "import torch.nn.functional as F\n\n"
            "def leaky_relu(x, slope=0.01):\n"
            "    return F.leaky_relu(x, negative_slope=slope)\n"),
        "mse_and_grad": (
            "def mse_and_grad(w, x, y):\n"
            "    w = w.detach().requires_grad_()\n"
            "    loss = torch.mean((x @ w - y) ** 2)\n"
            "    (grad,) = torch.autograd.grad(loss, w)\n"
            "    return loss.detach(), grad\n"),
        "fit_line": (
            "def fit_line(x, y, steps=500, lr=0.1):\n"
            "    # the least-squares line in closed form: what gradient descent converges to\n"
            "    xm, ym = x.mean(), y.mean()\n"
            "    w = ((x - xm) * (y - ym)).sum() / ((x - xm) ** 2).sum()\n"
            "    return float(w), float(ym - w * xm)\n"),
    }),
    # NumPy floats are Python floats too (np.float64 subclasses float)
    Variant("alternative_amax_and_numpy_floats", kind="alternative", answers={
        "log_softmax": (
            "def log_softmax(logits):\n"
            "    shifted = logits - logits.amax(dim=-1, keepdim=True)\n"
            "    return shifted - torch.log(torch.exp(shifted).sum(dim=-1, keepdim=True))\n"),
        # independent work: an optimizer and a parameter vector, the answer as NumPy floats
        "fit_line": (
            "import numpy as np\n\n"
            "def fit_line(x, y, steps=500, lr=0.1):\n"
            "    params = torch.zeros(2, requires_grad=True)\n"
            "    optimizer = torch.optim.SGD([params], lr=lr)\n"
            "    for _ in range(steps):\n"
            "        optimizer.zero_grad()\n"
            "        torch.nn.functional.mse_loss(params[0] * x + params[1], y).backward()\n"
            "        optimizer.step()\n"
            "    slope, intercept = params.tolist()\n"
            "    return np.float64(slope), np.float64(intercept)\n"),
    }),
    # masked in-place on a clone, torch.special.logsumexp, w tagged and then restored, float64 parameters
    Variant("alternative_masks_and_restored_w", kind="alternative", answers={
        "leaky_relu": (
            "def leaky_relu(x, slope=0.01):\n"
            "    out = x.clone()\n"
            "    out[out <= 0] *= slope\n"
            "    return out\n"),
        "log_softmax": (
            "def log_softmax(logits):\n"
            "    return logits - torch.special.logsumexp(logits, -1, keepdim=True)\n"),
        "mse_and_grad": (
            "def mse_and_grad(w, x, y):\n"
            "    w.requires_grad_(True)\n"
            "    loss = ((x @ w - y) ** 2).mean()\n"
            "    loss.backward()\n"
            "    grad = w.grad.clone()\n"
            "    w.grad = None\n"
            "    w.requires_grad_(False)\n"
            "    return loss.detach(), grad\n"),
        "fit_line": (
            "def fit_line(x, y, steps=500, lr=0.1):\n"
            "    x, y = x.double(), y.double()\n"
            "    params = torch.zeros(2, dtype=torch.float64, requires_grad=True)\n"
            "    for _ in range(steps):\n"
            "        w, b = params\n"
            "        loss = ((w * x + b - y) ** 2).mean()\n"
            "        loss.backward()\n"
            "        with torch.no_grad():\n"
            "            params -= lr * params.grad\n"
            "        params.grad = None\n"
            "    return tuple(params.tolist())\n"),
    }),
    # torch.maximum (the slope is below 1), max-plus-log-sum-exp, F.mse_loss on a clone, an optimizer that prints
    Variant("alternative_maximum_mse_loss_and_printing_optimizer", kind="alternative", answers={
        "leaky_relu": (
            "def leaky_relu(x, slope=0.01):\n"
            "    return torch.maximum(x, slope * x)\n"),
        "log_softmax": (
            "def log_softmax(logits):\n"
            "    m = logits.max(-1, keepdim=True)[0]\n"
            "    return logits - (m + torch.log(torch.sum(torch.exp(logits - m), -1, keepdim=True)))\n"),
        "mse_and_grad": (
            "def mse_and_grad(w, x, y):\n"
            "    w2 = w.clone().requires_grad_()\n"
            "    loss = torch.nn.functional.mse_loss(x @ w2, y)\n"
            "    loss.backward()\n"
            "    return loss.detach(), w2.grad.detach().clone()\n"),
        "fit_line": (
            "def fit_line(x, y, steps=500, lr=0.1):\n"
            "    w = torch.tensor(0.0, requires_grad=True)\n"
            "    b = torch.tensor(0.0, requires_grad=True)\n"
            "    opt = torch.optim.SGD([w, b], lr=lr)\n"
            "    for step in range(steps):\n"
            "        opt.zero_grad()\n"
            "        loss = torch.mean((w * x + b - y) ** 2)\n"
            "        loss.backward()\n"
            "        opt.step()\n"
            "        if step % 100 == 0:\n"
            "            print(step, loss.item())\n"
            "    return float(w), float(b)\n"),
    }),
    # -- misconceptions -------------------------------------------------------------------------
    Variant("leaky_relu_in_place", fails=(LEAKY,), answers={
        "leaky_relu": (
            "def leaky_relu(x, slope=0.01):\n"
            "    x[x < 0] *= slope\n"
            "    return x\n")}),
    Variant("leaky_relu_ignores_slope", fails=(LEAKY,), answers={
        "leaky_relu": (
            "def leaky_relu(x, slope=0.01):\n"
            "    return torch.where(x > 0, x, 0.01 * x)\n")}),
    Variant("log_softmax_without_max_shift", fails=(LOG_SOFTMAX,), answers={
        "log_softmax": (
            "def log_softmax(logits):\n"
            "    e = torch.exp(logits)\n"
            "    return torch.log(e / e.sum(dim=-1, keepdim=True))\n")}),
    # right values, but the question rules out torch's own log-softmax
    Variant("log_softmax_calls_torch_log_softmax", fails=(LOG_SOFTMAX,), answers={
        "log_softmax": (
            "def log_softmax(logits):\n"
            "    return torch.nn.functional.log_softmax(logits, dim=-1)\n")}),
    # torch's log-softmax under other names: the hidden test refuses the operation, whatever the name
    Variant("log_softmax_calls_torch_special_log_softmax", fails=(LOG_SOFTMAX,), answers={
        "log_softmax": (
            "def log_softmax(logits):\n"
            "    return torch.special.log_softmax(logits, dim=-1)\n")}),
    Variant("log_softmax_calls_aten_op", fails=(LOG_SOFTMAX,), answers={
        "log_softmax": (
            "def log_softmax(logits):\n"
            "    return torch.ops.aten._log_softmax(logits, -1, False)\n")}),
    # the refusing dispatch mode switched off around the call: the kernels themselves refuse as well
    Variant("log_softmax_calls_it_with_the_modes_off", fails=(LOG_SOFTMAX,), answers={
        "log_softmax": (
            "from torch.utils._python_dispatch import _disable_current_modes\n"
            "def log_softmax(logits):\n"
            "    with _disable_current_modes():\n"
            "        return torch.log_softmax(logits, dim=-1)\n")}),
    # refused, it hands back something else: the test checks what comes back under the rule, not only that
    # nothing raised
    Variant("log_softmax_falls_back_when_refused", fails=(LOG_SOFTMAX,), answers={
        "log_softmax": (
            "def log_softmax(logits):\n"
            "    try:\n"
            "        return torch.log_softmax(logits, dim=-1)\n"
            "    except AssertionError:\n"
            "        return logits\n")}),
    Variant("log_softmax_over_first_dim", fails=(LOG_SOFTMAX,), answers={
        "log_softmax": (
            "def log_softmax(logits):\n"
            "    shifted = logits - logits.max(dim=0, keepdim=True).values\n"
            "    return shifted - shifted.exp().sum(dim=0, keepdim=True).log()\n")}),
    # a loop over the rows of the first dimension: right for one or two dimensions, wrong for three
    Variant("log_softmax_over_all_but_the_first_dim", fails=(LOG_SOFTMAX,), answers={
        "log_softmax": (
            "def log_softmax(logits):\n"
            "    if logits.dim() == 1:\n"
            "        shifted = logits - logits.max()\n"
            "        return shifted - shifted.exp().sum().log()\n"
            "    rows = []\n"
            "    for row in logits.reshape(logits.shape[0], -1):\n"
            "        shifted = row - row.max()\n"
            "        rows.append(shifted - shifted.exp().sum().log())\n"
            "    return torch.stack(rows).reshape(logits.shape)\n")}),
    # a mean that keeps its dimension: a tensor of shape (1,), not the 0-dimensional loss asked for
    Variant("mse_loss_keeps_a_dimension", fails=(GRAD,), answers={
        "mse_and_grad": (
            "def mse_and_grad(w, x, y):\n"
            "    w = w.detach().clone().requires_grad_(True)\n"
            "    loss = ((x @ w - y) ** 2).mean(dim=0, keepdim=True)\n"
            "    loss.backward()\n"
            "    return loss.detach(), w.grad\n")}),
    Variant("grad_of_sum_not_mean", fails=(GRAD,), answers={
        "mse_and_grad": (
            "def mse_and_grad(w, x, y):\n"
            "    w = w.detach().clone().requires_grad_(True)\n"
            "    loss = ((x @ w - y) ** 2).sum()\n"
            "    loss.backward()\n"
            "    return loss.detach() / len(y), w.grad\n")}),
    Variant("grad_accumulates_on_the_input", fails=(GRAD,), answers={
        "mse_and_grad": (
            "def mse_and_grad(w, x, y):\n"
            "    w.requires_grad_(True)\n"
            "    loss = ((x @ w - y) ** 2).mean()\n"
            "    loss.backward()\n"
            "    return loss.detach(), w.grad.clone()\n")}),
    Variant("mse_and_grad_loss_as_python_float", fails=(GRAD,), answers={
        "mse_and_grad": (
            "def mse_and_grad(w, x, y):\n"
            "    w = w.detach().clone().requires_grad_(True)\n"
            "    loss = ((x @ w - y) ** 2).mean()\n"
            "    loss.backward()\n"
            "    return loss.item(), w.grad\n")}),
    Variant("fit_line_returns_tensors", fails=(FIT,), answers={"fit_line": fit_line().replace(
        "    return w.item(), b.item()\n", "    return w.detach(), b.detach()\n")}),
    # partial credit: b converges within 20 steps, w does not (1 of 2 points)
    Variant("fit_line_ignores_steps", fails=(FIT,), answers={"fit_line": fit_line(loop="range(20)")}),
    # correct, but it prints its progress to stderr: nbgrader's rule gives the test cell no points
    Variant("fit_line_logs_to_stderr", fails=(FIT,), answers={"fit_line": fit_line(
        before="import sys\n\n", after="    print(f'final loss {loss.item():.4f}', file=sys.stderr)\n")}),
    # a float subclass whose arithmetic answers every comparison, plain floats for the visible test only
    Variant("fit_line_float_subclass_fakes_arithmetic", fails=(FIT,), answers={
        "fit_line": (
            "class _F(float):\n"
            "    def __sub__(self, other):\n"
            "        return 0.0\n"
            "    def __add__(self, other):\n"
            "        return 0.0\n"
            "    __hash__ = float.__hash__\n\n\n"
            "def fit_line(x, y, steps=500, lr=0.1):\n"
            "    if len(x) == 2:\n"
            "        return 0.0, 0.0\n"
            "    return _F(0.0), _F(0.0)\n")}),
    # an error in one answer costs that question only
    Variant("log_softmax_syntax_error", kind="error", fails=(LOG_SOFTMAX,), answers={
        "log_softmax": (
            "def log_softmax(logits)\n"
            "    return logits\n")}),
]
