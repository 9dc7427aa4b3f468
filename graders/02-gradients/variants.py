"""Known submissions of 02-gradients that prove the hidden checks.

Alternatives are correct answers written differently: they must keep full marks.
Mutants are plausible wrong answers named after the misconception they encode:
each must fail exactly the checks listed in ``fails``. Keys of ``answers`` are
the solution cells' grade ids; values are the whole cell as a student writes it.
"""

from course_lib.synth import Variant

_LOSSES_OK = (
    "def mse_loss(pred, target):\n"
    "    return ((pred - target) ** 2).mean()\n\n\n"
    "def mae_loss(pred, target):\n"
    "    return (pred - target).abs().mean()\n\n\n")

_AUTOGRAD_OK = (
    "def linreg_grad_autograd(X, y, w, b):\n"
    "    w = w.detach().clone().requires_grad_(True)\n"
    "    b = b.detach().clone().requires_grad_(True)\n"
    "    ((X @ w + b - y) ** 2).mean().backward()\n"
    "    return w.grad, b.grad\n")

_HAND_OK = (
    "def linreg_grad_by_hand(X, y, w, b):\n"
    "    r = X @ w + b - y\n"
    "    return 2 * X.T @ r / len(y), 2 * r.mean()\n\n\n")


def _fit(body):
    """A fit_linear whose loop body is ``body`` (indented 8 spaces), around the usual set-up."""
    return (
        "def fit_linear(X, y, loss_fn, lr=0.1, steps=100):\n"
        "    w = torch.zeros(X.shape[1], device=X.device, requires_grad=True)\n"
        "    b = torch.zeros((), device=X.device, requires_grad=True)\n"
        "    losses = []\n"
        "    for _ in range(steps):\n"
        f"{body}"
        "    return w, b, losses\n")


VARIANTS = [
    Variant("solution", kind="solution"),
    # -- alternative correct solutions ----------------------------------------------------------
    Variant("alternative_library_helpers", kind="alternative", answers={
        "poly_grad": (
            "def poly_grad(x_value, device=\"cpu\"):\n"
            "    x = torch.tensor(x_value, device=device, dtype=torch.float32, requires_grad=True)\n"
            "    y = x.pow(3) - 2 * x.pow(2) + 5\n"
            "    y.backward(torch.ones_like(y))\n"
            "    return x\n"),
        "elementwise_derivative": (
            "def elementwise_derivative(f, x):\n"
            "    x = x.detach().clone().requires_grad_(True)\n"
            "    y = f(x)\n"
            "    y.backward(torch.ones_like(y))\n"
            "    return x.grad\n"),
        "numerical_grad": (
            "def numerical_grad(f, x, eps=1e-3):\n"
            "    n = x.numel()\n"
            "    basis = torch.eye(n, dtype=x.dtype, device=x.device).reshape(n, *x.shape)\n"
            "    values = [(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in basis]\n"
            "    return torch.stack(values).reshape(x.shape)\n"),
        "losses": (
            "import torch.nn.functional as F\n\n"
            "def mse_loss(pred, target):\n"
            "    return F.mse_loss(pred, target)\n\n\n"
            "def mae_loss(pred, target):\n"
            "    return F.l1_loss(pred, target)\n\n\n"
            "def mae_grad(pred, target):\n"
            "    n = pred.numel()\n"
            "    return torch.where(pred > target, 1.0 / n, torch.where(pred < target, -1.0 / n, 0.0))\n"),
        "linreg_grads": (
            "def linreg_grad_by_hand(X, y, w, b):\n"
            "    r = X @ w + b - y\n"
            "    dw = 2 * torch.einsum('nd,n->d', X, r) / X.shape[0]\n"
            "    db = 2 * r.mean()\n"
            "    return dw, db\n\n\n"
            "def linreg_grad_autograd(X, y, w, b):\n"
            "    params = [w.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()]\n"
            "    loss = torch.nn.functional.mse_loss(X @ params[0] + params[1], y)\n"
            "    dw, db = torch.autograd.grad(loss, params)\n"
            "    return dw, db\n"),
        "fit_linear": (
            "def fit_linear(X, y, loss_fn, lr=0.1, steps=100):\n"
            "    w = torch.zeros(X.shape[1], device=X.device).requires_grad_()\n"
            "    b = torch.zeros((), device=X.device).requires_grad_()\n"
            "    opt = torch.optim.SGD([w, b], lr=lr)\n"
            "    losses = []\n"
            "    for step in range(steps):\n"
            "        opt.zero_grad()\n"
            "        loss = loss_fn(X @ w + b, y)\n"
            "        loss.backward()\n"
            "        opt.step()\n"
            "        losses.append(float(loss))\n"
            "    return w, b, losses\n"),
        "accumulate_gradients": (
            "def accumulate_gradients(w, b, chunks, loss_fn):\n"
            "    for p in (w, b):\n"
            "        if p.grad is not None:\n"
            "            p.grad.zero_()\n"
            "    for Xc, yc in chunks:\n"
            "        (loss_fn(Xc @ w + b, yc) / len(chunks)).backward()\n"),
    }),
    Variant("alternative_manual_updates", kind="alternative", answers={
        "poly_grad": (
            "def poly_grad(x_value, device=\"cpu\"):\n"
            "    x = torch.full((), x_value, dtype=torch.float32, device=device)\n"
            "    x.requires_grad = True\n"
            "    (x * x * x - 2 * x * x + 5).backward()\n"
            "    return x\n"),
        "elementwise_derivative": (
            "def elementwise_derivative(f, x):\n"
            "    x2 = x.clone().detach()\n"
            "    x2.requires_grad_()\n"
            "    (grad,) = torch.autograd.grad(f(x2).sum(), x2)\n"
            "    return grad\n"),
        "numerical_grad": (
            "def numerical_grad(f, x, eps=1e-3):\n"
            "    flat = x.detach().clone().reshape(-1)\n"
            "    out = torch.empty_like(flat)\n"
            "    for i in range(flat.numel()):\n"
            "        plus, minus = flat.clone(), flat.clone()\n"
            "        plus[i] += eps\n"
            "        minus[i] -= eps\n"
            "        out[i] = f(plus.reshape(x.shape)) - f(minus.reshape(x.shape))\n"
            "    return (out / (2 * eps)).reshape(x.shape)\n"),
        "losses": (
            "def mse_loss(pred, target):\n"
            "    diff = pred - target\n"
            "    return (diff * diff).sum() / diff.numel()\n\n\n"
            "def mae_loss(pred, target):\n"
            "    return torch.mean(torch.abs(pred - target))\n\n\n"
            "def mae_grad(pred, target):\n"
            "    return (pred - target).sign() / len(pred.flatten())\n"),
        "linreg_grads": (
            "def linreg_grad_by_hand(X, y, w, b):\n"
            "    r = (X @ w + b - y)[:, None]\n"
            "    return 2 * (X * r).mean(dim=0), 2 * r.mean()\n\n\n"
            "def linreg_grad_autograd(X, y, w, b):\n"
            "    w_, b_ = w.clone().requires_grad_(), b.clone().requires_grad_()\n"
            "    pred = X @ w_ + b_\n"
            "    loss = ((pred - y) ** 2).mean()\n"
            "    loss.backward()\n"
            "    return w_.grad, b_.grad\n"),
        "fit_linear": _fit(
            "        loss = loss_fn(X @ w + b, y)\n"
            "        loss.backward()\n"
            "        losses.append(loss.item())\n"
            "        w.data -= lr * w.grad.data\n"
            "        b.data -= lr * b.grad.data\n"
            "        w.grad = None\n"
            "        b.grad = None\n"),
        "accumulate_gradients": (
            "def accumulate_gradients(w, b, chunks, loss_fn):\n"
            "    w.grad, b.grad = None, None\n"
            "    for Xc, yc in chunks:\n"
            "        loss_fn(Xc @ w + b, yc).backward()\n"
            "    with torch.no_grad():\n"
            "        w.grad /= len(chunks)\n"
            "        b.grad /= len(chunks)\n"),
    }),
    # float64 NumPy finite differences, copies through tolist(), torch.autograd.grad in the loop
    Variant("alternative_numpy_loops_and_autograd_grad", kind="alternative", answers={
        "poly_grad": (
            "def poly_grad(x_value, device='cpu'):\n"
            "    x = torch.tensor(float(x_value), requires_grad=True, device=device)\n"
            "    f = torch.pow(x, 3) - 2 * torch.pow(x, 2) + 5\n"
            "    f.backward(retain_graph=True)\n"
            "    return x\n"),
        "elementwise_derivative": (
            "def elementwise_derivative(f, x):\n"
            "    with torch.enable_grad():\n"
            "        x64 = x.detach().to(torch.float64).requires_grad_()\n"
            "        f(x64).sum().backward()\n"
            "    return x64.grad.to(x.dtype)\n"),
        "numerical_grad": (
            "import numpy as np\n"
            "\n"
            "def numerical_grad(f, x, eps=1e-3):\n"
            "    base = x.detach().cpu().numpy().astype(np.float64)\n"
            "    g = np.zeros_like(base)\n"
            "    for idx in np.ndindex(base.shape):\n"
            "        p = base.copy(); m = base.copy()\n"
            "        p[idx] += eps; m[idx] -= eps\n"
            "        fp = f(torch.as_tensor(p, device=x.device)).item()\n"
            "        fm = f(torch.as_tensor(m, device=x.device)).item()\n"
            "        g[idx] = (fp - fm) / (2 * eps)\n"
            "    return torch.as_tensor(g, dtype=x.dtype, device=x.device)\n"),
        "losses": (
            "def mse_loss(pred, target):\n"
            "    return torch.square(torch.sub(pred, target)).mean()\n"
            "\n"
            "def mae_loss(pred, target):\n"
            "    return torch.abs(pred - target).sum() / torch.numel(pred)\n"
            "\n"
            "def mae_grad(pred, target):\n"
            "    diff = pred - target\n"
            "    return torch.where(diff == 0, torch.zeros_like(diff), diff / diff.abs()) / diff.numel()\n"),
        "linreg_grads": (
            "def linreg_grad_by_hand(X, y, w, b):\n"
            "    N = len(y)\n"
            "    r = X @ w + b - y\n"
            "    dw = torch.zeros_like(w)\n"
            "    for j in range(w.shape[0]):\n"
            "        dw[j] = 2 * (X[:, j] * r).sum() / N\n"
            "    return dw, 2 * r.sum() / N\n"
            "\n"
            "\n"
            "def linreg_grad_autograd(X, y, w, b):\n"
            "    wc = torch.tensor(w.tolist(), device=w.device, requires_grad=True)\n"
            "    bc = torch.tensor(b.item(), device=b.device, requires_grad=True)\n"
            "    loss = ((X @ wc + bc - y) ** 2).sum() / len(y)\n"
            "    loss.backward()\n"
            "    return wc.grad, bc.grad\n"),
        "fit_linear": (
            "def fit_linear(X, y, loss_fn, lr=0.1, steps=100):\n"
            "    w = torch.zeros(X.shape[1], device=X.device, requires_grad=True)\n"
            "    b = torch.zeros([], device=X.device, requires_grad=True)\n"
            "    losses = []\n"
            "    for _ in range(steps):\n"
            "        loss = loss_fn(X @ w + b, y)\n"
            "        losses.append(float(loss))\n"
            "        gw, gb = torch.autograd.grad(loss, [w, b])\n"
            "        with torch.no_grad():\n"
            "            w -= lr * gw\n"
            "            b -= lr * gb\n"
            "    return w, b, losses\n"),
        "accumulate_gradients": (
            "def accumulate_gradients(w, b, chunks, loss_fn):\n"
            "    w.grad = None\n"
            "    b.grad = None\n"
            "    for i, (Xc, yc) in enumerate(chunks):\n"
            "        loss = loss_fn(Xc @ w + b, yc) / len(chunks)\n"
            "        loss.backward()\n"),
    }),
    # torch.func and torch.autograd.functional, comparisons for the sign, torch.dist, weights by chunk size
    Variant("alternative_functional_autograd", kind="alternative", answers={
        "elementwise_derivative": (
            "def elementwise_derivative(f, x):\n"
            "    from torch.func import grad, vmap\n"
            "    return vmap(grad(f))(x.detach().reshape(-1)).reshape(x.shape)\n"),
        "numerical_grad": (
            "def numerical_grad(f, x, eps=1e-3):\n"
            "    n = x.numel()\n"
            "    out = []\n"
            "    with torch.no_grad():\n"
            "        for i in range(n):\n"
            "            e = torch.nn.functional.one_hot(torch.tensor(i), n).to(x.device, x.dtype).reshape(x.shape)\n"
            "            out.append((f(x + eps * e) - f(x - eps * e)) / (2 * eps))\n"
            "    return torch.stack(out).reshape(x.shape)\n"),
        "losses": (
            "def mse_loss(pred, target):\n"
            "    return torch.dist(pred, target) ** 2 / pred.numel()\n\n\n"
            "def mae_loss(pred, target):\n"
            "    return torch.dist(pred, target, p=1) / pred.numel()\n\n\n"
            "def mae_grad(pred, target):\n"
            "    return ((pred > target).to(pred.dtype) - (pred < target).to(pred.dtype)) / torch.numel(pred)\n"),
        "linreg_grads": _HAND_OK + (
            "def linreg_grad_autograd(X, y, w, b):\n"
            "    from torch.func import grad\n\n"
            "    def loss(w_, b_):\n"
            "        return ((X @ w_ + b_ - y) ** 2).mean()\n"
            "    return grad(loss, argnums=(0, 1))(w, b)\n"),
        "accumulate_gradients": (
            "def accumulate_gradients(w, b, chunks, loss_fn):\n"
            "    total = sum(len(Xc) for Xc, _ in chunks)\n"
            "    for p in (w, b):\n"
            "        p.grad = torch.zeros_like(p)\n"
            "    for Xc, yc in chunks:\n"
            "        (loss_fn(Xc @ w + b, yc) * (len(Xc) / total)).backward()\n"),
    }),
    # -- misconceptions ---------------------------------------------------------------------------
    Variant("poly_forgets_backward", fails=("poly_grad_value",), answers={
        "poly_grad": (
            "def poly_grad(x_value, device=\"cpu\"):\n"
            "    x = torch.tensor(x_value, device=device, requires_grad=True)\n"
            "    y = x ** 3 - 2 * x ** 2 + 5\n"
            "    return x\n")}),
    Variant("poly_tagged_before_move", fails=("poly_grad_value",), answers={
        "poly_grad": (
            "def poly_grad(x_value, device=\"cpu\"):\n"
            "    x = torch.tensor(x_value, dtype=torch.float64, requires_grad=True).to(device, torch.float32)\n"
            "    (x ** 3 - 2 * x ** 2 + 5).backward()\n"
            "    return x\n")}),
    Variant("backward_on_non_scalar", fails=("derivative_values", "derivative_leaves_input"), answers={
        "elementwise_derivative": (
            "def elementwise_derivative(f, x):\n"
            "    x = x.detach().clone().requires_grad_(True)\n"
            "    f(x).backward()\n"
            "    return x.grad\n")}),
    Variant("mean_instead_of_sum_before_backward", fails=("derivative_values", "derivative_leaves_input"), answers={
        "elementwise_derivative": (
            "def elementwise_derivative(f, x):\n"
            "    x = x.detach().clone().requires_grad_(True)\n"
            "    f(x).mean().backward()\n"
            "    return x.grad\n")}),
    Variant("poly_grad_returns_f_not_the_leaf", fails=("poly_leaf", "poly_grad_value"), answers={
        "poly_grad": (
            "def poly_grad(x_value, device=\"cpu\"):\n"
            "    x = torch.tensor(float(x_value), dtype=torch.float32, device=device, requires_grad=True)\n"
            "    y = x ** 3 - 2 * x ** 2 + 5\n"
            "    y.backward()\n"
            "    return y\n")}),
    Variant("requires_grad_on_callers_tensor", fails=("derivative_leaves_input",), answers={
        "elementwise_derivative": (
            "def elementwise_derivative(f, x):\n"
            "    x.requires_grad_(True)\n"
            "    f(x).sum().backward()\n"
            "    return x.grad\n")}),
    Variant("numgrad_nudges_x_in_place", fails=("numgrad_leaves_x",), answers={
        "numerical_grad": (
            "def numerical_grad(f, x, eps=1e-3):\n"
            "    estimate = torch.zeros_like(x)\n"
            "    flat = x.view(-1)\n"
            "    for i in range(x.numel()):\n"
            "        flat[i] += eps\n"
            "        up = f(x)\n"
            "        flat[i] -= 2 * eps\n"
            "        down = f(x)\n"
            "        flat[i] += eps  # back where it was, up to rounding\n"
            "        estimate.view(-1)[i] = (up - down) / (2 * eps)\n"
            "    return estimate\n")}),
    Variant("forward_difference_instead_of_central",
            fails=("numgrad_values", "numgrad_custom_step", "numgrad_leaves_x"), answers={
        "numerical_grad": (
            "def numerical_grad(f, x, eps=1e-3):\n"
            "    grad = torch.zeros_like(x)\n"
            "    for i in range(x.numel()):\n"
            "        step = torch.zeros_like(x)\n"
            "        step.view(-1)[i] = eps\n"
            "        grad.view(-1)[i] = (f(x + step) - f(x)) / eps\n"
            "    return grad\n")}),
    Variant("central_difference_divides_by_eps",
            fails=("numgrad_values", "numgrad_custom_step", "numgrad_leaves_x"), answers={
        "numerical_grad": (
            "def numerical_grad(f, x, eps=1e-3):\n"
            "    grad = torch.zeros_like(x)\n"
            "    for i in range(x.numel()):\n"
            "        step = torch.zeros_like(x)\n"
            "        step.view(-1)[i] = eps\n"
            "        grad.view(-1)[i] = (f(x + step) - f(x - step)) / eps\n"
            "    return grad\n")}),
    Variant("numgrad_ignores_eps", fails=("numgrad_custom_step",), answers={
        "numerical_grad": (
            "def numerical_grad(f, x, eps=1e-3):\n"
            "    h = 1e-3\n"
            "    grad = torch.zeros_like(x)\n"
            "    for i in range(x.numel()):\n"
            "        step = torch.zeros_like(x)\n"
            "        step.view(-1)[i] = h\n"
            "        grad.view(-1)[i] = (f(x + step) - f(x - step)) / (2 * h)\n"
            "    return grad\n")}),
    Variant("mse_missing_mean", fails=("mse_value",), answers={
        "losses": (
            "def mse_loss(pred, target):\n"
            "    return ((pred - target) ** 2).sum()\n\n\n"
            "def mae_loss(pred, target):\n"
            "    return (pred - target).abs().mean()\n\n\n"
            "def mae_grad(pred, target):\n"
            "    return torch.sign(pred - target) / pred.numel()\n")}),
    Variant("loss_returns_python_number", fails=("mse_value", "mae_value"), answers={
        "losses": (
            "def mse_loss(pred, target):\n"
            "    return ((pred - target) ** 2).mean().item()\n\n\n"
            "def mae_loss(pred, target):\n"
            "    return (pred - target).abs().mean().item()\n\n\n"
            "def mae_grad(pred, target):\n"
            "    return torch.sign(pred - target) / pred.numel()\n")}),
    Variant("mae_gradient_sign", fails=("mae_grad_by_hand",), answers={
        "losses": _LOSSES_OK + (
            "def mae_grad(pred, target):\n"
            "    return torch.sign(target - pred) / pred.numel()\n")}),
    # sign(u) as u / |u|: nan at a tie, where the prompt's sign(0) = 0 (the visible test has one; no hidden input
    # had, and it earned the point)
    Variant("mae_grad_nan_at_ties", fails=("mae_grad_by_hand",), answers={
        "losses": _LOSSES_OK + (
            "def mae_grad(pred, target):\n"
            "    diff = pred - target\n"
            "    return diff / diff.abs() / diff.numel()\n")}),
    Variant("hand_grad_missing_factor_two", fails=("hand_grad_w", "hand_grad_b"), answers={
        "linreg_grads": (
            "def linreg_grad_by_hand(X, y, w, b):\n"
            "    r = X @ w + b - y\n"
            "    return X.T @ r / len(y), r.mean()\n\n\n") + _AUTOGRAD_OK}),
    Variant("autograd_tags_callers_w_and_b", fails=("linreg_leaves_w_and_b",), answers={
        "linreg_grads": _HAND_OK + (
            "def linreg_grad_autograd(X, y, w, b):\n"
            "    w.requires_grad_(True)\n"
            "    b.requires_grad_(True)\n"
            "    loss = ((X @ w + b - y) ** 2).mean()\n"
            "    return torch.autograd.grad(loss, (w, b))\n")}),
    # w changed in place, then the comparison the probe used to make in the kernel replaced: decided in the grader
    Variant("autograd_steps_callers_w_and_redefines_equal", fails=("linreg_leaves_w_and_b",), answers={
        "linreg_grads": _HAND_OK + (
            "def linreg_grad_autograd(X, y, w, b):\n"
            "    w.requires_grad_(True)\n"
            "    b.requires_grad_(True)\n"
            "    ((X @ w + b - y) ** 2).mean().backward()\n"
            "    dw, db = w.grad.clone(), b.grad.clone()\n"
            "    with torch.no_grad():\n"
            "        w -= 0.1 * w.grad\n"
            "    w.grad, b.grad = None, None\n"
            "    w.requires_grad_(False)\n"
            "    b.requires_grad_(False)\n"
            "    torch.equal = lambda *args, **kwargs: True\n"
            "    return dw, db\n")}),
    # the rules: mae_grad "by the formula (no autograd)", linreg_grad_by_hand "with these formulas, without autograd"
    Variant("mae_grad_by_autograd", fails=("mae_grad_by_hand",), answers={
        "losses": (
            "def mse_loss(pred, target):\n"
            "    return ((pred - target) ** 2).mean()\n\n\n"
            "def mae_loss(pred, target):\n"
            "    return (pred - target).abs().mean()\n\n\n"
            "def mae_grad(pred, target):\n"
            "    leaf = pred.detach().clone().requires_grad_(True)\n"
            "    return torch.autograd.grad(mae_loss(leaf, target), leaf)[0]\n")}),
    Variant("grad_by_hand_is_autograd", fails=("hand_grad_w", "hand_grad_b"), answers={
        "linreg_grads": (
            "def linreg_grad_by_hand(X, y, w, b):\n"
            "    return linreg_grad_autograd(X, y, w, b)\n\n\n"
            "def linreg_grad_autograd(X, y, w, b):\n"
            "    w_leaf = w.detach().clone().requires_grad_(True)\n"
            "    b_leaf = b.detach().clone().requires_grad_(True)\n"
            "    (((X @ w_leaf + b_leaf) - y) ** 2).mean().backward()\n"
            "    return w_leaf.grad, b_leaf.grad\n")}),
    Variant("autograd_through_data", fails=("autograd_grad", "linreg_leaves_w_and_b"), answers={
        "linreg_grads": _HAND_OK + (
            "def linreg_grad_autograd(X, y, w, b):\n"
            "    w = w.detach().clone().requires_grad_(True)\n"
            "    b = b.detach().clone().requires_grad_(True)\n"
            "    ((X @ w.data + b - y) ** 2).mean().backward()\n"
            "    return w.grad, b.grad\n")}),
    Variant("grad_accumulates_no_zero_grad", fails=("fit_mse_params", "fit_mse_losses", "fit_mae_params"),
            answers={"fit_linear": _fit(
                "        loss = loss_fn(X @ w + b, y)\n"
                "        losses.append(loss.item())\n"
                "        loss.backward()\n"
                "        with torch.no_grad():\n"
                "            w -= lr * w.grad\n"
                "            b -= lr * b.grad\n")}),
    Variant("update_adds_gradient", fails=("fit_mse_params", "fit_mse_losses", "fit_mae_params"),
            answers={"fit_linear": _fit(
                "        loss = loss_fn(X @ w + b, y)\n"
                "        losses.append(loss.item())\n"
                "        loss.backward()\n"
                "        with torch.no_grad():\n"
                "            w += lr * w.grad\n"
                "            b += lr * b.grad\n"
                "        w.grad.zero_()\n"
                "        b.grad.zero_()\n")}),
    Variant("update_rebinds_parameters", fails=("fit_mse_params", "fit_mse_losses", "fit_mae_params"),
            answers={"fit_linear": _fit(
                "        loss = loss_fn(X @ w + b, y)\n"
                "        losses.append(loss.item())\n"
                "        loss.backward()\n"
                "        w = w - lr * w.grad\n"
                "        b = b - lr * b.grad\n")}),
    Variant("fit_records_loss_tensors", fails=("fit_mse_losses",), answers={"fit_linear": _fit(
        "        loss = loss_fn(X @ w + b, y)\n"
        "        losses.append(loss.detach())\n"
        "        loss.backward()\n"
        "        with torch.no_grad():\n"
        "            w -= lr * w.grad\n"
        "            b -= lr * b.grad\n"
        "            w.grad.zero_()\n"
        "            b.grad.zero_()\n")}),
    Variant("fit_ignores_loss_fn", fails=("fit_mae_params",), answers={"fit_linear": _fit(
        "        loss = ((X @ w + b - y) ** 2).mean()\n"
        "        losses.append(loss.item())\n"
        "        loss.backward()\n"
        "        with torch.no_grad():\n"
        "            w -= lr * w.grad\n"
        "            b -= lr * b.grad\n"
        "            w.grad.zero_()\n"
        "            b.grad.zero_()\n")}),
    Variant("loss_logged_after_update", fails=("fit_mse_losses",), answers={"fit_linear": _fit(
        "        loss = loss_fn(X @ w + b, y)\n"
        "        loss.backward()\n"
        "        with torch.no_grad():\n"
        "            w -= lr * w.grad\n"
        "            b -= lr * b.grad\n"
        "            w.grad.zero_()\n"
        "            b.grad.zero_()\n"
        "            losses.append(loss_fn(X @ w + b, y).item())\n")}),
    Variant("stale_grad_not_cleared", fails=("accum_stale",), answers={
        "accumulate_gradients": (
            "def accumulate_gradients(w, b, chunks, loss_fn):\n"
            "    for Xc, yc in chunks:\n"
            "        (loss_fn(Xc @ w + b, yc) / len(chunks)).backward()\n")}),
    Variant("zero_grad_between_chunks", fails=("accum_fresh", "accum_stale"), answers={
        "accumulate_gradients": (
            "def accumulate_gradients(w, b, chunks, loss_fn):\n"
            "    for Xc, yc in chunks:\n"
            "        w.grad, b.grad = None, None\n"
            "        (loss_fn(Xc @ w + b, yc) / len(chunks)).backward()\n")}),
    Variant("chunk_losses_not_scaled", fails=("accum_fresh", "accum_stale"), answers={
        "accumulate_gradients": (
            "def accumulate_gradients(w, b, chunks, loss_fn):\n"
            "    w.grad, b.grad = None, None\n"
            "    for Xc, yc in chunks:\n"
            "        loss_fn(Xc @ w + b, yc).backward()\n")}),
    # the loss_fn argument ignored: the notebook's mse_loss is called in its place
    Variant("chunks_ignore_the_loss_fn", fails=("accum_fresh", "accum_stale"), answers={
        "accumulate_gradients": (
            "def accumulate_gradients(w, b, chunks, loss_fn):\n"
            "    w.grad = None\n"
            "    b.grad = None\n"
            "    for X_chunk, y_chunk in chunks:\n"
            "        share = mse_loss(X_chunk @ w + b, y_chunk) / len(chunks)\n"
            "        share.backward()\n")}),
]
