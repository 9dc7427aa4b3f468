"""Hidden checks for 02-gradients (never released, never shown in feedback).

Each probe runs in the student's kernel right after the question's test cell and
calls the student's functions on inputs generated here from fixed seeds, on the
grading device (``DEVICE``). Loss functions and elementwise functions handed to
the student are defined inside the probes, so a question never depends on the
student's answer to another one. Verdicts are computed in the grader process
against the solution notebook run the same way, on the same device.

Tolerances, and why a correct solution passes them on CPU and on CUDA
---------------------------------------------------------------------
The reference is the instructor's solution run on the *same* device with the
same seed, so a correct answer only has to match it up to floating-point
rounding of a different (but equivalent) order of operations. During grading
TF32 is off (matmuls are true float32), deterministic algorithms are requested
and every generator is seeded, so the reference itself is reproducible and a
CUDA matmul differs from another way of writing the same formula by a few float32
ulps (relative 1e-7 to 1e-6), never by TF32's 1e-3.

* ``CLOSE`` (rtol 1e-5, atol 1e-6), float32 gradients and losses of one forward
  and backward pass (sums over at most 64 terms of size O(1)): rounding is below
  1e-6 relative, whether the gradient comes from autograd, a formula,
  ``torch.autograd.grad``, ``F.mse_loss`` or chunked accumulation. Every
  misconception targeted is off by a factor (2, 1/N, the number of chunks), a
  sign, or a stale gradient of size O(1).
* ``F64`` (rtol 1e-7, atol 1e-9), finite differences in float64. The rounding
  error of a central difference is about 1e-16 * |f| / (2 eps) < 1e-12 here, so
  any correct way of writing it agrees to far better than 1e-7, while a forward
  difference is off by eps/2 * f'' (about 3e-3 here), a step of eps instead of
  2 eps by a factor 2, and a hard-coded step by the change in eps**2/6 * f'''
  (about 2e-4 here).
* ``FIT`` (rtol 1e-4, atol 1e-5), 50 or 40 steps of gradient descent in float32.
  Each step adds rounding of order 1e-7 relative, and with these learning rates
  the update is a contraction, so differences do not grow: they stay below
  about 1e-5, even when ``torch.optim.SGD`` (which fuses ``p + (-lr) * g``)
  replaces ``p -= lr * g``. Ascent, un-reset gradients or an ignored ``loss_fn``
  change the result by O(0.1) or more. The MAE run is safe too although
  ``sign`` is discontinuous: along the solution's trajectory every residual
  stays at least 2e-4 away from zero (checked when the data were chosen), two
  orders of magnitude above the rounding differences, so no correct answer
  flips a sign the reference did not.
* ``accumulate_gradients`` is given the MAE as its ``loss_fn`` (a mean loss, so the chunks' shares add
  up exactly): its gradient, sign(r) x / N summed over chunks, is one float32 sum of at most 48 terms per
  entry, inside ``rtol=1e-5``; ignoring ``loss_fn`` for ``mse_loss`` changes every entry by O(0.1).
* Whether the caller's tensors were left alone is decided here (``Untouched``) from the tensors as the
  call left them, bit for bit against the solution's, never from a boolean computed in the kernel (a
  function that changed ``w`` in place and then replaced ``torch.equal`` earned that check).
"""

from dataclasses import dataclass

from course_lib.judge import Check, JudgedAlone, Property, Question, Sequence, Tensor, Untouched, autograd_routes

CLOSE = Tensor(rtol=1e-5, atol=1e-6)


@dataclass(frozen=True)
class LossLog:
    """The losses fit_linear records: Python numbers (the probe names anything else), then their values."""

    values: Tensor

    def __call__(self, got, ref):
        if isinstance(got, str):
            return got
        return self.values(got, ref)


UNTOUCHED = Untouched()
LEAF = Tensor(rtol=1e-6, atol=1e-7, requires_grad=True)
LEAF_GRAD = Tensor(rtol=1e-5, atol=1e-6, requires_grad=True, grad=True)
LOSS = Tensor(rtol=1e-5, atol=1e-6, requires_grad=True)
F64 = Tensor(rtol=1e-7, atol=1e-9)
FIT = Tensor(rtol=1e-4, atol=1e-5)


def probe_poly_grad(student):
    with JudgedAlone(student):
        device = student.ns.get("DEVICE", "cpu")
        student.call("poly_leaf", "poly_grad", 1.5, device=device)
        student.call("poly_grad", "poly_grad", -0.75, device=device)


def probe_elementwise_derivative(student):
    import torch

    with JudgedAlone(student):
        g = torch.Generator().manual_seed(1201)
        device = student.ns.get("DEVICE", "cpu")
        x = torch.randn(3, 4, generator=g).to(device)
        student.call("derivative", "elementwise_derivative", lambda t: torch.sin(t) * t ** 2 + torch.exp(-t), x)
        student.record("input_untouched", x)  # its values, requires_grad and .grad, judged in the grader


def probe_numerical_grad(student):
    import torch

    with JudgedAlone(student):
        def f(t):
            flat = t.reshape(-1)
            return (torch.sin(2 * t) * t).sum() + (flat[:-1] * flat[1:] ** 2).sum()

        g = torch.Generator().manual_seed(1301)
        device = student.ns.get("DEVICE", "cpu")
        x = torch.randn(2, 3, generator=g, dtype=torch.float64).to(device)
        student.call("numgrad_default", "numerical_grad", f, x)
        student.record("numgrad_x_after", x)  # compared with the solution's untouched x, bit for bit
        student.call("numgrad_step", "numerical_grad", f, x.clone(), eps=1e-2)


def probe_losses(student):
    import torch

    with JudgedAlone(student):
        g = torch.Generator().manual_seed(1401)
        device = student.ns.get("DEVICE", "cpu")
        pred = torch.randn(5, 4, generator=g).to(device).requires_grad_(True)
        target = torch.randn(5, 4, generator=g).to(device)
        student.call("mse", "mse_loss", pred, target)
        student.call("mae", "mae_loss", pred, target)
        # ties, where the prompt's gradient is sign(0) / N = 0: (pred - target) / |pred - target| is nan there
        tied = target.clone()
        tied[0, :2] = pred[0, :2].detach()
        with JudgedAlone(student, forbidden=autograd_routes()):  # "by the formula (no autograd)"
            student.call("mae_grad", "mae_grad", pred.detach().clone(), tied)


def probe_linreg_grads(student):
    import torch

    with JudgedAlone(student):
        g = torch.Generator().manual_seed(1501)
        device = student.ns.get("DEVICE", "cpu")
        X = torch.randn(32, 4, generator=g).to(device)
        y = torch.randn(32, generator=g).to(device)
        w = torch.randn(4, generator=g).to(device)
        b = torch.randn((), generator=g).to(device)
        with JudgedAlone(student, forbidden=autograd_routes()):  # "with these formulas, without autograd"
            hand = student.call("hand", "linreg_grad_by_hand", X, y, w, b)
        pair = isinstance(hand, (tuple, list)) and len(hand) == 2
        student.record("hand_dw", hand[0] if pair else hand)
        student.record("hand_db", hand[1] if pair else hand)
        student.call("autograd", "linreg_grad_autograd", X, y, w, b)
        student.record("w_b_untouched", (w, b))  # compared with the solution's untouched w and b in the grader


def probe_fit_linear(student):
    import torch

    with JudgedAlone(student):
        def data(seed, n):
            g = torch.Generator().manual_seed(seed)
            X = torch.randn(n, 3, generator=g)
            y = X @ torch.tensor([1.5, -2.0, 0.5]) + 0.7 + 0.1 * torch.randn(n, generator=g)
            return X.to(device), y.to(device)

        def params_and_losses(key, result):
            if isinstance(result, (tuple, list)) and len(result) == 3:
                w, b, losses = result
                student.record(key + "_params", (w, b))
                try:
                    kinds = {type(v).__name__ for v in losses if not isinstance(v, (int, float))}
                    # the prompt asks for Python numbers: anything else is named, not converted
                    losses = (torch.tensor([float(v) for v in losses], dtype=torch.float64) if not kinds
                              else f"losses recorded as {' and '.join(sorted(kinds))}, not Python numbers")
                except Exception:
                    pass
                student.record(key + "_losses", losses)
            else:
                student.record(key + "_params", result)
                student.record(key + "_losses", result)

        device = student.ns.get("DEVICE", "cpu")
        X, y = data(1601, 64)
        result = student.call("fit_mse", "fit_linear", X, y, lambda p, t: ((p - t) ** 2).mean(), lr=0.1, steps=50)
        params_and_losses("fit_mse", result)
        X, y = data(1602, 48)
        result = student.call("fit_mae", "fit_linear", X, y, lambda p, t: (p - t).abs().mean(), lr=0.05, steps=40)
        params_and_losses("fit_mae", result)


def probe_accumulate_gradients(student):
    import torch

    with JudgedAlone(student):
        g = torch.Generator().manual_seed(1701)
        device = student.ns.get("DEVICE", "cpu")
        X = torch.randn(48, 3, generator=g).to(device)
        y = torch.randn(48, generator=g).to(device)
        chunks = [(X[i:i + 12], y[i:i + 12]) for i in range(0, 48, 12)]

        # a mean loss, but not the MSE: an accumulate_gradients that calls mse_loss instead of loss_fn gets other
        # gradients (with the MSE it earned both points)
        def mae(p, t):
            return (p - t).abs().mean()

        w = torch.randn(3, generator=g).to(device).requires_grad_(True)
        b = torch.randn((), generator=g).to(device).requires_grad_(True)
        student.call("accum_fresh_call", "accumulate_gradients", w, b, chunks, mae)
        student.record("accum_fresh", (w, b))

        w = torch.randn(3, generator=g).to(device).requires_grad_(True)
        b = torch.randn((), generator=g).to(device).requires_grad_(True)
        w.grad = torch.randn(3, generator=g).to(device)  # left over from an earlier step
        b.grad = torch.randn((), generator=g).to(device)
        student.call("accum_stale_call", "accumulate_gradients", w, b, chunks, mae)
        student.record("accum_stale", (w, b))


QUESTIONS = [
    Question("poly_grad_tests", probe_poly_grad, helpers=(JudgedAlone,), checks=[
        Check("poly_leaf", 1, LEAF,
              describe="poly_grad returns a float32 scalar on the requested device that requires gradients",
              hint="make the tensor with torch.tensor(x_value, dtype=torch.float32, device=device), tag it "
                   "with requires_grad_() and return that same tensor"),
        Check("poly_grad_value", 1, LEAF_GRAD, key="poly_grad",
              describe="after poly_grad, x.grad holds f'(x)",
              hint="call backward() on f(x) itself (a scalar) and return the leaf x, whose .grad it fills"),
    ]),
    Question("elementwise_derivative_tests", probe_elementwise_derivative, helpers=(JudgedAlone,), checks=[
        Check("derivative_values", 2, CLOSE, key="derivative",
              describe="elementwise_derivative gives f'(x) at every element",
              hint="backward() on a tensor with several elements needs a gradient argument; "
                   "y.sum().backward() (or y.backward(torch.ones_like(y))) weighs every element by 1, "
                   "a mean would weigh each by 1/N"),
        Property("derivative_leaves_input", 1, UNTOUCHED, key="input_untouched", requires=("derivative_values",),
              describe="elementwise_derivative leaves the caller's tensor without requires_grad and .grad",
              hint="tag a copy, x.detach().clone().requires_grad_(), not the caller's x"),
    ]),
    Question("numerical_grad_tests", probe_numerical_grad, helpers=(JudgedAlone,), checks=[
        Check("numgrad_values", 1.5, F64, key="numgrad_default",
              describe="numerical_grad is the central-difference estimate with the default step",
              hint="use (f(x + h e_i) - f(x - h e_i)) / (2 h) for every element i: the step is h on each "
                   "side, 2 h in total"),
        Check("numgrad_custom_step", 1, F64, key="numgrad_step",
              describe="numerical_grad uses the step eps it is given",
              hint="use the eps argument, not a fixed number; the same central formula"),
        Property("numgrad_leaves_x", 0.5, Tensor(rtol=0, atol=0, requires_grad=True), key="numgrad_x_after",
                 requires=("numgrad_values",), describe="numerical_grad leaves x as it was (\"Do not change x\")",
                 hint="nudge a copy (x + h e_i), not x itself: adding and subtracting h in place does not give "
                      "back the same bits"),
    ]),
    Question("losses_tests", probe_losses, helpers=(JudgedAlone, autograd_routes), checks=[
        Check("mse_value", 1, LOSS, key="mse",
              describe="mse_loss returns the mean squared error as a scalar tensor in the graph",
              hint="a loss stays a tensor (no .item(), no float()) and averages over all N elements"),
        Check("mae_value", 1, LOSS, key="mae",
              describe="mae_loss returns the mean absolute error as a scalar tensor in the graph",
              hint="a loss stays a tensor (no .item(), no float()) and averages over all N elements"),
        Check("mae_grad_by_hand", 1, CLOSE, key="mae_grad",
              describe="mae_grad is the gradient of the MAE with respect to pred",
              hint="the derivative of |u| is sign(u); here u = pred - target, and the mean divides by N"),
    ]),
    Question("linreg_grads_tests", probe_linreg_grads, helpers=(JudgedAlone, autograd_routes), checks=[
        Check("hand_grad_w", 1, CLOSE, key="hand_dw", needs=("hand",),
              describe="linreg_grad_by_hand gives dL/dw",
              hint="dL/dw = (2 / N) X^T (X w + b - y): the 2 comes from the square, the 1/N from the mean"),
        Check("hand_grad_b", 1, CLOSE, key="hand_db", needs=("hand",),
              describe="linreg_grad_by_hand gives dL/db",
              hint="dL/db = (2 / N) times the sum of the residuals X w + b - y"),
        Check("autograd_grad", 0.5, Sequence((CLOSE, CLOSE), names=("dL/dw", "dL/db")), key="autograd",
              describe="linreg_grad_autograd returns the gradients autograd computes",
              hint="gradients only flow through operations autograd records: .data, .detach(), .item() or "
                   "torch.no_grad() on the way from w and b to the loss cut the graph"),
        Property("linreg_leaves_w_and_b", 0.5, UNTOUCHED, key="w_b_untouched", requires=("autograd_grad",),
                 describe="the gradient functions leave the caller's w and b as they were",
                 hint="tag copies, w.detach().clone().requires_grad_(), not the caller's w and b"),
    ]),
    Question("fit_linear_tests", probe_fit_linear, helpers=(JudgedAlone,), checks=[
        Check("fit_mse_params", 2, Sequence((FIT, FIT)), needs=("fit_mse",),
              describe="fit_linear with the MSE loss ends at the right (w, b)",
              hint="each step: loss, backward, then w -= lr * w.grad (downhill) in place under "
                   "torch.no_grad(), then reset the gradients, since backward() adds to .grad"),
        Check("fit_mse_losses", 1, LossLog(Tensor(rtol=1e-4, atol=1e-6)), needs=("fit_mse",),
              describe="fit_linear records the loss of every step, before that step's update",
              hint="the losses follow the steps: if the (w, b) check fails too, fix the update first; "
                   "otherwise append loss.item() right after computing the loss, before the update"),
        Check("fit_mae_params", 1, Sequence((FIT, FIT)), needs=("fit_mae",),
              describe="fit_linear with another loss (MAE) ends at the right (w, b)",
              hint="the loop must work for any loss: compute the loss with the loss_fn you are given "
                   "(and if the MSE run fails too, fix the update and the gradient reset first)"),
    ]),
    Question("accumulate_gradients_tests", probe_accumulate_gradients, helpers=(JudgedAlone,), checks=[
        Check("accum_fresh", 1, Sequence((LEAF_GRAD, LEAF_GRAD)), needs=("accum_fresh_call",),
              describe="accumulate_gradients leaves the gradient of the whole batch in w.grad and b.grad",
              hint="do not reset between chunks (accumulating is the point), and divide each chunk's mean "
                   "loss (of the loss_fn you are given) by the number of chunks"),
        Check("accum_stale", 1, Sequence((LEAF_GRAD, LEAF_GRAD)), needs=("accum_stale_call",),
              describe="accumulate_gradients discards gradients left over from an earlier step",
              hint="backward() adds to whatever .grad already holds: reset it (to None or zero) before "
                   "the first chunk"),
    ]),
]
