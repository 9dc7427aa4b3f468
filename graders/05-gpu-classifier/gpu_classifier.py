"""Hidden checks for 05-gpu-classifier (never released, never shown in feedback).

Each probe runs in the student's kernel right after the question's test cell. It
builds its own inputs from fixed seeds (hidden batches, hidden models, a hidden
held-out split), puts them on the grading device (``student.ns["DEVICE"]``) and
calls the student's functions on them. Verdicts are computed in the grader
process against the same probes run on the solution notebook *on the same
device*. Probes that need random weights draw them inside
``torch.random.fork_rng``, so grading never shifts the global random stream the
student's later cells (and the trained model of Question 6) depend on.

Tolerances and thresholds
-------------------------
* **Loss** (``rtol=1e-5``): one ``log_softmax`` and a mean over at most 37 values
  is exact to ~1e-7 relative in float32. 1e-5 accepts every correct formulation
  (``F.cross_entropy``, ``nn.CrossEntropyLoss``, ``-log_softmax(...).gather(...).mean()``,
  whose reductions sum in other orders) and is far below any misconception:
  softmax applied twice is off by O(0.1-1); ``log(softmax(...))`` on the large
  logits of the second check is ``inf``. The large logits (scale 300) make the
  stable and the naive formulations differ by infinitely much, not by rounding.
  The question fixes no dtype, so the loss's is not compared: one computed in
  float64 (``logits.double()``) is the same mean cross-entropy, more exactly, and
  lost both points when it had to be float32.
* **train_step and fit** (``rtol=1e-5, atol=1e-6``): the probe creates the model,
  the optimizer, the loss and the data, so the only thing left to the student is
  the order of the five operations (and, for ``fit``, the batches). A correct
  answer runs the same kernels in the same order as the solution and reproduces
  its parameters to the last bit on the same device; the tolerance only absorbs
  harmless changes of summation order (e.g. averaging the epoch losses with
  ``torch.tensor(losses).mean()`` instead of ``sum / len``). Every misconception
  moves the parameters by O(lr * gradient) >= 1e-3 (a skipped or doubled
  gradient, a stale gradient of 0.3 per entry, other batches). Whether old gradients are
  cleared, after a call made with a stale ``.grad`` of 0.3, is read off the ``.grad`` the call
  leaves or the step it took (the stale gradient, joined in, moves the parameters by 0.15 more at
  lr 0.5): one that also clears the gradients after its step leaves no ``.grad``, and lost the
  point while doing all the prompt asks when only the ``.grad`` was judged.
  ``train_step`` gets a cross-entropy with label smoothing as its ``loss_fn``, so one that calls the
  notebook's ``classification_loss`` in its place computes other numbers (with plain
  ``nn.CrossEntropyLoss`` it earned all 4 points).
  ``fit`` is judged with a correct ``train_step`` swapped in for the duration of
  the call, and with the probe's own loss, so a mistake in Question 1 or 3 is not
  charged again in Question 5. That loss is a cross-entropy with label smoothing, not the
  notebook's ``classification_loss``: a ``fit`` that ignores its ``loss_fn`` argument
  and calls ``classification_loss`` itself trained on other gradients (with plain
  ``nn.CrossEntropyLoss`` it ran the same numbers and earned all 3 points). Whether ``fit`` trains in training mode is read
  from the forward passes autograd backpropagates through (every layer's mode, noted by a hook on the
  pass's output), so a ``fit`` that also reports its progress with ``evaluate`` (eval mode) between its
  epochs is not taken for one that trains in eval mode.
* **evaluate**: the accuracy of a hidden random model on 203 hidden points is a
  ratio k/203; float32 ``mean`` and exact ``sum / n`` agree to ~1e-7, so
  ``atol=1e-6``. The model's mode and autograd state are observed with a forward
  hook during the student's own forward pass (so ``model.eval()`` +
  ``torch.no_grad()`` and ``torch.inference_mode()`` both pass, and restoring the
  caller's training mode afterwards is allowed).
* **Trained model** (Question 6): the student's ``model`` is run by the probe (eval
  mode, no autograd) on 3000 points drawn in the grader process with a copy of the
  notebook's ``make_data`` generator (never the student's namespace copy, which a
  later cell could redefine) and a 62-bit seed that exists only in this module,
  then shuffled, in the dtype of the model's weights (a model trained in float64 gets them in float64).
  Only the points reach the kernel, as data (``held_out_inputs``):
  their labels, and the code and seed that drew them, never do, so a model whose
  forward pass searches its callers' frames finds nothing to read them from. Only
  the logits leave the kernel; the accuracy (argmax) is counted in the grader
  process against ``held_out_labels``. The model must be the one the question asks for, an MLP ``make_mlp``
  builds: the probe also runs a chain of copies of the model's own layers (``rebuilt``: torch's classes, a
  parameterless layer of the student's own as the ReLU) on the same points, and both checks want the same logits
  from it. The spiral's arms computed from each point's radius and angle reach 0.98 here, and earned all 4 points
  from a module that holds a make_mlp network and never trained it; nearest neighbours over ``x_train``, the same
  rule in the "activation" of a hand-set MLP, or a global forward hook answering for the model earned them too.
  A wrong activation or a softmax at the end of make_mlp stays in the copy, so Question 2's mistake is not
  charged here again. Two thresholds:

  - ``trained_model_beats_linear``: at least 0.70. A linear model cannot follow
    three interleaved spiral arms: the best one (any lr, 50 epochs) scores 0.43
    on the held-out split, chance is 0.33, a diverged model predicts one or two
    classes (0.33-0.52). An MLP that has started to learn the spiral is above
    0.85 after two epochs (0.86), so 0.70 is far from both sides.
  - ``trained_model_accuracy``: at least the solution's accuracy minus 0.05.
    The solution reaches 0.982 with SEED=0 on this split, and measured on an
    earlier draw of the split (same generator, another seed) 0.979 with SEED=0
    and 0.974-0.992 over SEED=0..9 (the angular noise makes the arms touch, so
    the Bayes accuracy is below 1). Measured on that draw, on CPU, over the whole region the notebook suggests (hidden 64/128/256,
    lr 0.05/0.1/0.2, batch 32/64, 30/40 epochs: 36 runs), correct code reaches
    0.955-0.994 (median 0.977); the 3000-point split has a sampling standard
    deviation of about 0.003. Under-trained runs score lower (2 epochs: 0.86,
    5 epochs: 0.94). The floor (about 0.93 with SEED=0) keeps every sensible run
    at least 0.025 above it while an unfinished training run loses these 2 points.
    Mutants whose training still works (softmax applied twice: 0.955) keep them:
    this check is about the outcome, the earlier questions about the mistake.

Why a correct solution also passes on CUDA
------------------------------------------
CUDA and CPU results differ in the last bits (other summation orders, fused
kernels), and after hundreds of SGD steps two trained models differ visibly in
their weights. The checks never compare across devices: the references are
computed by running the solution notebook on the grading device itself (the
device is part of the reference cache key), with the same ``SEED``. During
grading the kernel also turns TF32 off (otherwise CUDA matmuls keep only 10
mantissa bits, ~1e-3 relative, far above the 1e-5 tolerances), requests
deterministic algorithms and sets ``CUBLAS_WORKSPACE_CONFIG``, so the solution and
a correct submission run identical kernels on identical inputs and agree to the
last bit; where an operation has no deterministic CUDA implementation (PyTorch
only warns), the remaining difference is float32 summation order, ~1e-7 per
operation, which stays below 1e-5 over the at most 15 optimisation steps of the
small probe models. The shuffling generator of ``fit`` is a CPU generator on
every device, so the batches are the same on CPU and CUDA. The trained-model
thresholds are relative to the solution's accuracy on the same device; last-bit
differences perturb the training trajectory no more than another seed does, which
moves the solution's accuracy by about +-0.01, well inside the 0.05 margin.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np

from course_lib.judge import (Accuracy, Check, Equal, Holds, JudgedAlone, Number, OutputsOfRebuilt, Question, Sequence,
                              Tensor, Untouched, Untracked, rebuilt, watch_forward, watch_training)

CLOSE = Tensor(rtol=1e-5, atol=1e-6)
FIT_EPOCHS = 3


def probe_classification_loss(student):
    import torch

    with JudgedAlone(student):
        device = student.ns.get("DEVICE", "cpu")
        g = torch.Generator().manual_seed(1101)
        logits = (3 * torch.randn(37, 5, generator=g)).to(device).requires_grad_(True)
        targets = torch.randint(0, 5, (37,), generator=g).to(device)
        student.call("loss", "classification_loss", logits, targets)
        large = (300 * torch.randn(8, 4, generator=g)).to(device)
        large_targets = torch.randint(0, 4, (8,), generator=g).to(device)
        student.call("loss_large", "classification_loss", large, large_targets)


def probe_make_mlp(student):
    import torch

    with JudgedAlone(student):
        device = student.ns.get("DEVICE", "cpu")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(2202)
            mlp = student.call("mlp", "make_mlp", 10, 24, 4)
        if not isinstance(mlp, torch.nn.Module):
            student.record("layer_shapes", mlp)  # e.g. None when make_mlp forgot to return the model
            return
        student.record("layer_shapes", [tuple(p.shape) for p in mlp.parameters()])
        mlp = mlp.to(device)
        g = torch.Generator().manual_seed(2203)
        a = (2 * torch.randn(64, 10, generator=g)).to(device)
        b = (2 * torch.randn(64, 10, generator=g)).to(device)
        with torch.no_grad():
            out = mlp(a)
            # f(a + b) + f(0) - f(a) - f(b) vanishes (up to rounding) for every affine f
            gap = mlp(a + b) + mlp(torch.zeros_like(a)) - mlp(a) - mlp(b)
            # the layer after the first linear one (layers: the modules holding no others), on numbers of both
            # signs: the question asks for a ReLU there
            z = torch.linspace(-3, 3, 24 * 7).reshape(7, 24).to(device)
            layers = [m for m in mlp.modules() if not list(m.children())]
            first = next((i for i, m in enumerate(layers) if isinstance(m, torch.nn.Linear)), len(layers))
            try:
                activation = layers[first + 1](z)
            except Exception:  # no layer after it, or one that takes no such input
                activation = None
        # all are judged in the grader (is_relu_mlp, are_logits): only the tensors leave the kernel
        student.record("output", out)
        student.record("affine_gap", (gap, z, activation) if torch.is_tensor(activation) else (gap,))


def is_nonlinear(gap) -> bool:
    """f(a + b) + f(0) - f(a) - f(b) vanishes (up to rounding) for every affine f."""
    return gap.size > 0 and bool(np.isfinite(gap).all()) and float(np.abs(gap).max()) > 1e-3


def is_relu_mlp(recorded) -> bool:
    """The model is not affine, and the module between its linear layers is the ReLU the question asks for
    (``max(z, 0)`` on inputs of both signs): a tanh, sigmoid or leaky ReLU there is another network."""
    if len(recorded) != 3:
        return False
    gap, z, activation = recorded
    return is_nonlinear(gap) and activation.shape == z.shape and bool(
        np.allclose(activation, np.maximum(z, 0), rtol=1e-5, atol=1e-6))


def are_logits(out) -> bool:
    """Logits of a linear last layer take both signs; after a ReLU, sigmoid or softmax they never go below 0, and
    after a log-softmax every row's log-sum-exp is 0 (log-probabilities, the "no softmax at the end" broken)."""
    if out.ndim != 2 or out.size == 0 or not np.isfinite(out).all():
        return False
    probabilities = out.min() >= 0 and out.max() <= 1 and np.allclose(out.sum(axis=1), 1.0, atol=1e-4)
    top = out.max(axis=1, keepdims=True)
    log_probabilities = np.allclose((top + np.log(np.exp(out - top).sum(axis=1, keepdims=True))).ravel(), 0.0,
                                    atol=1e-4)
    return bool(not probabilities and not log_probabilities and out.min() < 0)


@dataclass(frozen=True)
class StaleGradientCleared:
    """``(grads, parameters)`` after a train_step called with a stale ``.grad``: either is the solution's.

    The ``.grad`` left is the batch's own gradient when the step cleared the stale one first; a train_step that
    also clears the gradients after its step leaves none, and then its parameters show that the step it took
    used fresh gradients only. A step that kept the stale gradient has neither.
    """

    def __call__(self, got, ref):
        if not (isinstance(got, (list, tuple)) and len(got) == 2):
            return CLOSE(got, ref[0])
        message = CLOSE(got[0], ref[0])
        return None if message is None or CLOSE(got[1], ref[1]) is None else message


def probe_train_step(student):
    import torch
    from torch import nn

    with JudgedAlone(student):
        device = student.ns.get("DEVICE", "cpu")
        g = torch.Generator().manual_seed(3303)
        x1 = torch.randn(24, 6, generator=g).to(device)
        y1 = torch.randint(0, 4, (24,), generator=g).to(device)
        x2 = torch.randn(24, 6, generator=g).to(device)
        y2 = torch.randint(0, 4, (24,), generator=g).to(device)

        def fresh_model():
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(3304)
                model = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 4))
            return model.to(device)

        def flat(tensors):
            return torch.cat([t.detach().flatten() for t in tensors])

        model = fresh_model()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        # not the notebook's classification_loss: a train_step that calls it instead of loss_fn computes other numbers
        loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
        student.call("first_loss", "train_step", model, x1, y1, optimizer, loss_fn)
        student.call("second_loss", "train_step", model, x2, y2, optimizer, loss_fn)
        student.record("params_two_steps", flat(model.parameters()))

        model = fresh_model()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        for p in model.parameters():
            p.grad = torch.full_like(p, 0.3)  # a gradient left over from elsewhere
        student.call("stale_loss", "train_step", model, x1, y1, optimizer, loss_fn)
        # the .grad left behind and the step the stale gradient would have joined (StaleGradientCleared): a
        # train_step that also clears the gradients after its step leaves no .grad and did what the prompt asks
        student.record("after_stale", (
            flat(p.grad if p.grad is not None else torch.zeros_like(p) for p in model.parameters()),
            flat(model.parameters())))


def probe_evaluate(student):
    import torch
    from torch import nn

    with JudgedAlone(student):
        device = student.ns.get("DEVICE", "cpu")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(4404)
            model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 4))
        model = model.to(device).train()
        g = torch.Generator().manual_seed(4405)
        x = torch.randn(203, 5, generator=g).to(device)
        y = torch.randint(0, 4, (203,), generator=g).to(device)
        seen = []
        # a pass the code under test staged (the hook wrapped, handed another module or a detached output) counts as
        # one in training mode whose output says so (watch_forward)
        handle = watch_forward(model, lambda output, modes: seen.append(
            (True, "the probe's model was not called as it is (its forward hook was rewrapped or bypassed)")
            if modes is None else (any(modes), output)))
        grad_mode = torch.is_grad_enabled()
        torch.set_grad_enabled(True)
        try:
            student.call("accuracy", "evaluate", model, x, y)
            grad_on_after = torch.is_grad_enabled()
        finally:
            handle.remove()
            torch.set_grad_enabled(grad_mode)  # leave the student's kernel as it was
        student.record("eval_mode", bool(seen) and not any(training for training, _ in seen))
        # whether autograd recorded the outputs is read off them in the grader (Untracked), not asked in the kernel
        student.record("no_autograd", [output for _, output in seen])
        # a forward pass that left no trace (an evaluate that does nothing earns nothing here): autograd back on,
        # and the parameters as the call left them, compared with the solution's in the grader (Untouched)
        student.record("autograd_clean", (bool(seen and grad_on_after), *model.parameters()))


def probe_fit(student):
    import torch
    from torch import nn

    with JudgedAlone(student):
        device = student.ns.get("DEVICE", "cpu")

        def correct_train_step(model, xb, yb, optimizer, loss_fn):
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            return loss.item()

        g = torch.Generator().manual_seed(5505)
        x = torch.randn(150, 3, generator=g).to(device)
        y = torch.randint(0, 2, (150,), generator=g).to(device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(5506)
            model = nn.Sequential(nn.Linear(3, 10), nn.ReLU(), nn.Linear(10, 2))
        model = model.to(device)
        model.eval()  # as the student's evaluate() leaves it
        modes = []
        handle = watch_training(model, modes)
        missing = object()
        saved = student.ns.get("train_step", missing)
        student.ns["train_step"] = correct_train_step  # Question 3 is graded on its own
        try:
            # not the notebook's loss: a fit that calls classification_loss instead of loss_fn computes other numbers
            student.call("history", "fit", model, x, y, nn.CrossEntropyLoss(label_smoothing=0.1), 3, 0.05, 32, 5507)
        finally:
            handle.remove()
            if saved is missing:
                student.ns.pop("train_step", None)
            else:
                student.ns["train_step"] = saved
        student.record("params_after_fit", torch.cat([p.detach().flatten() for p in model.parameters()]))
        student.record("train_mode", bool(modes) and all(modes))


#: The held-out split's seed: it exists only here, in the grader process (never in a probe's source), and is far
#: too large to find by trying seeds with the notebook's make_data in the kernel.
HELD_OUT_SEED = 314081234532614572


@functools.lru_cache(maxsize=1)
def held_out_split():
    """The held-out split, drawn here with the notebook's make_data (copied), and shuffled: ``(x, y)`` as arrays.

    Its labels never reach the kernel: the probe gets ``x`` as data, the model's logits come back, and the
    checks count them against ``y`` here. Shuffled, so the order of the points (make_data draws one class after
    the other) says nothing about their classes either.
    """
    import torch

    g = torch.Generator().manual_seed(HELD_OUT_SEED)
    n, classes, xs, ys = 3000, 3, [], []
    for c in range(classes):
        m = n // classes + (1 if c < n % classes else 0)
        r = torch.rand(m, generator=g)
        angle = 1.75 * math.pi * r + 2 * math.pi * c / classes + 0.2 * torch.randn(m, generator=g)
        xs.append(2 * r[:, None] * torch.stack([angle.cos(), angle.sin()], dim=1))
        ys.append(torch.full((m,), c, dtype=torch.int64))
    order = torch.randperm(n, generator=g)
    return torch.cat(xs)[order].numpy(), torch.cat(ys)[order].numpy()


def held_out_inputs():
    """What the trained-model probe receives: the held-out points, without their labels."""
    return {"x": held_out_split()[0]}


def held_out_labels():
    """The held-out labels, for the checks (grader process only)."""
    return held_out_split()[1]


def probe_trained_model(student):
    import torch

    # not JudgedAlone: the student's trained model is run as the notebook left it (its dtype, its device)
    device = student.ns.get("DEVICE", "cpu")
    model = student.value("model", "model")
    if not isinstance(model, torch.nn.Module):
        raise TypeError("`model` is not a trained torch.nn.Module at this point of the notebook")
    # the held-out points arrive as data (probe_data, from Question(data=...)); their labels, and the code and
    # seed that drew them, stay in the grader process, so nothing the model's forward can reach holds them
    # in the dtype of the model's weights: a model trained in float64 on x_train.double() refused float32 points
    # ("mat1 and mat2 must have the same dtype") and lost both checks
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    x = torch.from_numpy(probe_data()["x"]).to(device=device, dtype=dtype)
    # the question asks for a model make_mlp builds: its layers, chained anew by the probe, must answer alike
    shapes = [tuple(p.shape) for p in model.parameters()]
    hidden = shapes[0][0] if shapes and len(shapes[0]) == 2 else 1
    copy = rebuilt(model, lambda: student.ns["make_mlp"](2, hidden, 3))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(x)
            copy_logits = copy(x) if copy is not None else None
    finally:
        model.train(was_training)
    # accuracy is counted in the grader process, from the exported outputs, against the labels made there
    student.record("held_out", (logits, copy_logits))


QUESTIONS = [
    Question("classification_loss_tests", probe_classification_loss, helpers=(JudgedAlone,), checks=[
        Check("loss_matches_cross_entropy", 1, Tensor(rtol=1e-5, atol=1e-6, dtype=False, requires_grad=True),
              key="loss",
              describe="classification_loss returns the mean cross-entropy of the logits, as a 0-d tensor "
                       "that stays in the autograd graph",
              hint="pass the raw logits to F.cross_entropy: it applies log_softmax itself, so a softmax before "
                   "it is applied twice; keep the tensor (no .item()) and the default mean over the batch"),
        Check("loss_stable_for_large_logits", 1, Tensor(rtol=1e-5, atol=1e-4, dtype=False), key="loss_large",
              describe="classification_loss is finite and exact for logits in the hundreds",
              hint="log(softmax(x)) underflows to log(0) = -inf for large logits; log_softmax (inside "
                   "F.cross_entropy) subtracts the maximum first and stays exact"),
    ]),
    Question("make_mlp_tests", probe_make_mlp, helpers=(JudgedAlone,), checks=[
        Check("mlp_layer_shapes", 1, Equal(), key="layer_shapes", needs=("mlp",),
              describe="make_mlp has two linear layers: in_features -> hidden and hidden -> classes",
              hint="nn.Linear(in_features, hidden) then nn.Linear(hidden, classes), each with a bias, "
                   "returned in an nn.Sequential"),
        Check("mlp_is_nonlinear", 1,
              Holds(is_relu_mlp, "the model is affine, or the module between its linear layers is not a ReLU"),
              key="affine_gap", needs=("mlp",),
              describe="make_mlp puts a ReLU between its linear layers",
              hint="two linear layers in a row are just one linear layer: put nn.ReLU() between them (the "
                   "question asks for a ReLU, not another activation)"),
        Check("mlp_outputs_logits", 1,
              Holds(are_logits, "the model's outputs are not logits: they never go below 0 or are probabilities"),
              key="output", needs=("mlp",),
              describe="make_mlp's model outputs logits (its last layer is the linear one), not probabilities",
              hint="end the model with the second nn.Linear: no softmax or log-softmax (the cross-entropy loss "
                   "applies it) and no ReLU after it (logits must be able to be negative)"),
    ]),
    Question("train_step_tests", probe_train_step, helpers=(JudgedAlone,), checks=[
        Check("step_returns_float", 1, Number(rtol=1e-5, atol=1e-6, allow_tensor=False), key="first_loss",
              describe="train_step returns the batch loss (before the update) as a Python float",
              hint="return loss.item(), not the loss tensor, of the loss_fn train_step is given"),
        Check("step_updates_parameters", 2, CLOSE, key="params_two_steps", needs=("first_loss",),
              describe="two calls of train_step update the parameters like SGD with fresh gradients each step",
              hint="the order is zero_grad, forward, loss, backward, step: the optimizer's step can only use "
                   "gradients that backward() has already computed, and each step must use its own batch's "
                   "gradient only, of the loss_fn train_step is given"),
        Check("step_clears_old_gradients", 1, StaleGradientCleared(), key="after_stale", needs=("stale_loss",),
              describe="train_step clears gradients left in .grad before computing new ones",
              hint="backward() adds to .grad: call the optimizer's zero_grad() before loss.backward()"),
    ]),
    Question("evaluate_tests", probe_evaluate, helpers=(JudgedAlone, watch_forward), checks=[
        Check("eval_accuracy_value", 1, Number(rtol=1e-6, atol=1e-6, allow_tensor=False), key="accuracy",
              describe="evaluate returns the fraction of correct predictions as a Python float in [0, 1]",
              hint="predictions are the argmax of the logits over dim=1; compare with y, average, and return "
                   "a Python float with .item()"),
        Check("eval_in_eval_mode", 1, Equal(), key="eval_mode", needs=("accuracy",),
              describe="evaluate runs the model in eval mode",
              hint="call model.eval() before the forward pass: dropout and batch norm behave differently "
                   "in training mode"),
        Check("eval_without_autograd", 1, Untracked(), key="no_autograd", needs=("accuracy",),
              describe="evaluate runs the forward pass without recording gradients",
              hint="put the forward pass inside a `with torch.no_grad():` block"),
        Check("eval_leaves_no_gradients", 1, Untouched(), key="autograd_clean", needs=("accuracy",),
              describe="evaluate leaves the parameters and their .grad untouched and autograd switched on",
              hint="evaluating needs no loss and no backward(); use a with block rather than switching "
                   "autograd off for the rest of the notebook"),
    ]),
    Question("fit_tests", probe_fit, helpers=(JudgedAlone, watch_forward, watch_training), checks=[
        Check("fit_loss_history", 1, Sequence((Number(rtol=1e-5, atol=1e-6, allow_tensor=False),) * FIT_EPOCHS,
                                              names=tuple(f"loss of epoch {i + 1}" for i in range(FIT_EPOCHS))),
              key="history",
              describe="fit returns the mean batch loss of every epoch",
              hint="one entry per epoch: the plain average of the losses train_step returned in that epoch; "
                   "every batch counts, including the last smaller one"),
        Check("fit_trained_parameters", 1, CLOSE, key="params_after_fit", needs=("history",),
              describe="fit trains on shuffled mini-batches exactly as described",
              hint="create the optimizer (SGD, momentum=0.9) and the seeded generator once; draw a new "
                   "torch.randperm order every epoch; slice it into consecutive batches and keep the last "
                   "smaller one; train with the loss_fn fit is given"),
        Check("fit_trains_in_train_mode", 1, Equal(), key="train_mode", needs=("history",),
              describe="fit trains the model in training mode",
              hint="evaluate() leaves the model in eval mode: call model.train() at the start of every epoch"),
    ]),
    Question("train_model_tests", probe_trained_model, helpers=(rebuilt,), data=held_out_inputs, checks=[
        Check("trained_model_beats_linear", 2,
              OutputsOfRebuilt(Accuracy(minimum=0.70, labels=held_out_labels), "make_mlp"), key="held_out",
              describe="the trained model clearly beats any linear model on held-out data",
              hint="a model without a hidden layer and ReLU cannot follow the spiral; if there is one, check "
                   "that the training loss goes down (a learning rate much too high makes it blow up)"),
        Check("trained_model_accuracy", 2,
              OutputsOfRebuilt(Accuracy(below_reference=0.05, labels=held_out_labels), "make_mlp"), key="held_out",
              describe="the trained model's held-out accuracy is close to the solution's",
              hint="train longer or tune the learning rate, and watch the validation accuracy"),
    ]),
]
