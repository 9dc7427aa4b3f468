"""Hidden checks for 07-image-classifier (never released, never shown in feedback).

Each probe runs in the student's kernel right after the question's test cell. It
builds its own inputs from fixed seeds (hidden images, hidden models, a hidden
held-out set), puts them on the grading device (``student.ns["DEVICE"]``) and
calls the student's functions on them; verdicts are computed in the grader
process against the same probes run on the solution notebook on the same device
and with the same injected parameters (``DEVICE``, ``SEED``, ``TRAINING``).

Exact checks (Questions 1-4)
----------------------------
* **make_cnn**: the parameter shapes (for 7 classes, so a model hard-coding the
  notebook's 10 fails), the eval-mode logits of a seeded model on hidden images
  after three training-mode passes (so the batch-norm running statistics are no
  longer 0 and 1 and the order of the layers shows: pooling or ReLU before batch
  norm give other logits), ``rtol=1e-4``: the same kernels on the same device agree
  to the last bits; and dropout (two training-mode passes differ; batch norm alone
  is deterministic) at the question's rate: ``nn.Dropout()``, whose default drops
  half the features, earned the point while the outputs in eval mode, where dropout
  does nothing, cannot tell.
* **train_step** and **fit** (``rtol=1e-5, atol=1e-6``): as in 05-gpu-classifier, the
  probe creates model, optimizer, loss and data, so a correct answer reproduces the
  solution's parameters to rounding; ``fit`` is judged with a correct
  ``train_step`` swapped in. Labels indexed apart from their images change every
  step's gradient by O(1). Both get a cross-entropy with label smoothing as their
  ``loss_fn``, so one that calls ``F.cross_entropy`` in its place computes other
  numbers (with plain ``nn.CrossEntropyLoss`` both earned all their points), and
  whether ``train_step`` clears old gradients is read, as in 05, off the ``.grad``
  it leaves or the step it took: one that also clears them after its step leaves no
  ``.grad`` and lost the point while doing all the question asks.
* **evaluate**: a hidden model with batch norm (running statistics of other data)
  and dropout 0.5, in training mode when it is handed over; the labels agree with
  its eval-mode predictions on 80 % of 203 points. The accuracy must equal the
  eval-mode one (``atol=1e-6``; a ratio k/203): in training mode batch norm uses the
  batch's statistics and dropout drops half the features, so a forgotten
  ``model.eval()`` gives another accuracy. Mode and autograd are also observed with
  a forward hook.

The trained model (Question 5): calibrated floors
-------------------------------------------------
The student's ``model`` is run by the probe (eval mode, no autograd) on 4000
held-out images drawn in the grader process with a copy of the notebook's
``make_glyphs`` (never the student's namespace copy) and a 62-bit seed that exists
only in this module. The images reach the kernel as data, in the probe's cell,
which runs after the training cell, so they do not exist in the kernel, its files
or its namespace while the student's code trains. Their labels, and the code and
seed that drew them, never reach the kernel at all (a model whose forward pass
searches its callers' frames finds nothing to read them from): the logits come
back and the accuracy is counted in the grader process against ``held_out_labels``.
The model must be a CNN ``make_cnn`` builds: the probe also runs a chain of copies of
the model's own layers (``rebuilt``) on the same images, and both checks want the same
logits from it (nearest neighbours over the blurred training images, no CNN at all,
reached 0.752 in the small configuration and earned the 2 learning points).

Which configuration ran is read from the *solution's* record (the ``TRAINING``
parameter the grader injected: ``"small"`` on CPU in this course, ``"full"`` on
CUDA), never from the student's. Two checks:

- ``trained_model_learns`` (2 points): at least 0.70 (small) or 0.90 (full).
- ``trained_model_accuracy`` (4 points): at least the configuration's floor.

The notebook prescribes the training recipe (Adam, ``lr=3e-3``, ``batch_size=50``,
``EPOCHS`` epochs): the floors hold for it, not for any settings a student might
pick (with ``lr=2e-3, batch_size=64`` a correct solution scored 0.849 on one of
five seeds, below the small floor). The graded training is random only through
``SEED`` (initial weights, shuffling); training and held-out images are fixed. A correct submission written differently
(other code, other random draws) behaves like the solution under another seed, so
the floor is a low quantile of the solution's accuracy over seeds
(``benchmarks/calibrate_07.py``, CPU, one thread). Grading random programs by
repeated runs is the approach of the flaky-test literature for ML code (Dutta et
al., ISSTA 2020: estimate a test's failure probability from many runs; FLEX,
FSE 2021: choose an assertion bound from the tail of the observed distribution for
a desired confidence). FLEX fits an extreme-value tail, and a distribution-free
bound (the smallest of N runs covers 99.9 % of runs with 95 % confidence) needs
N >= 2995 runs; with tens of runs we use the one-sided normal tolerance bound
``mean - k * std``, k covering 99.9 % of correct runs with 95 % confidence for the
number of runs made (Natrella's approximation), and check it against the observed
minimum.

Measured (N runs = SEED 0..N-1, accuracy on the 4000 held-out images). The small
floor sits 4.1 observed standard deviations below the mean: a correct run falls
below it with probability under 0.1 % (with 95 % confidence in the estimate):

==============  ====  ======  ======  ======  ======  =====  ==============  =====
configuration   N     mean    std     min     max     k      mean - k*std    floor
==============  ====  ======  ======  ======  ======  =====  ==============  =====
small (CPU)     30    0.9239  0.0182  0.8775  0.9475  4.01   0.8509          0.85
full (CPU)      6     0.9896  0.0015  0.9875  0.9915  6.58   0.9799          0.97
==============  ====  ======  ======  ======  ======  =====  ==============  =====

small: 3000 training images, 2 epochs, 3.0 s per training run on one core here
(7 s with the machine's other work). full: 20,000 images, 6 epochs, 35 s per
training run on an idle core here (205-250 s with the machine's other work). The small
floor is mean - k*std rounded down to two decimals; the observed minimum (0.8775)
is 0.0275 above it (on an earlier draw of the held-out set, the same generator
with another seed, the small floor was 0.86). Six full runs give a valid but loose
bound (k = 6.6 for N = 6); the full floor is set lower still, 0.97 (13 observed
standard deviations below the mean), because these runs are CPU runs while the full
configuration is graded on CUDA, and the spread of six runs says little about the
tail. Thirty seeds on a GPU (seconds each) would tighten it.

The learning floors are per configuration too: the softmax-twice mutant reaches
0.787 in the full configuration (earlier draw), above the small one's 0.70.

Held-out accuracies of the mutants that reach the training, same script
(``--mutants``, seeds 0-2 on small):

- ``cnn_ends_with_softmax``: 0.292, 0.552, 0.489 (best 0.552: 0.15 / 0.30 below the floors)
- ``grad_accumulates_no_zero_grad``: 0.292, 0.259, 0.217 (best 0.292: 0.41 / 0.56 below the floors)
- ``fit_shuffles_labels_apart_from_images``: 0.106, 0.114, 0.108 (best 0.114: 0.59 / 0.74 below the floors)
- ``nll_loss_on_logits``: 0.102, 0.113, 0.094 (best 0.113: 0.59 / 0.74 below the floors)
- ``lr_far_too_high``: 0.100, 0.097, 0.101 (best 0.101: 0.60 / 0.75 below the floors)
- ``lr_far_too_low``: 0.140, 0.109, 0.107 (best 0.140: 0.56 / 0.71 below the floors)

The alternatives score 0.931, 0.926, 0.925 on the same seeds (0.075 above the
small floor).

In the full configuration (SEED=0, one run each, earlier draw):
``cnn_ends_with_softmax`` 0.787, ``lr_far_too_low`` 0.660,
``grad_accumulates_no_zero_grad`` 0.099, ``fit_shuffles_labels_apart_from_images``
0.100, ``nll_loss_on_logits`` 0.092, ``lr_far_too_high`` 0.101: at least 0.11 below
the full learning floor (0.90) and 0.18 below the full accuracy floor (0.97), so a
GPU grading (full) and a CPU grading (small) fail the same mutants on the same
checks.

In the small configuration every mutant's best run is at least 0.14 below the
learning floor and 0.29 below the accuracy floor on every seed tried;
``cnn_ends_with_softmax`` (softmax before the loss's own softmax: tiny gradients)
is the closest, which is why the small learning floor is 0.70 rather than 0.5 (it
reached 0.552 with SEED=1) and the full one 0.90.

Why a correct solution also passes on CUDA
------------------------------------------
The exact checks never compare across devices (references are computed on the
grading device, TF32 off, deterministic algorithms requested, as in
05-gpu-classifier). The floors are absolute per configuration: a CUDA run differs
from a CPU run in the last bits, which perturbs the training trajectory no more
than another seed does, i.e. within the distribution the floors were calibrated on.
"""

import functools
from dataclasses import dataclass

import numpy as np

from course_lib.judge import (Accuracy, Check, Equal, Holds, JudgedAlone, Number, OutputsOfRebuilt, Property, Question,
                              Sequence, Tensor, Untouched, Untracked, rebuilt, watch_forward, watch_training)

CLOSE = Tensor(rtol=1e-5, atol=1e-6)
#: evaluate's forward pass left no trace: autograd back on after it, outputs autograd did not record, the parameters
#: (and their .grad) as the solution's evaluate leaves them
NO_TRACE = Sequence((Equal(), Untracked(), Untouched()),
                    names=("autograd mode after the call (it should be back on)", "model outputs", "model parameters"))
FIT_EPOCHS = 3

# Held-out accuracy a correct solution reaches with probability 99.9 % or more, per training configuration
# (see "Calibration" above; benchmarks/calibrate_07.py measures it).
ACCURACY_FLOOR = {"full": 0.97, "small": 0.85}
LEARNS_FLOOR = {"full": 0.90, "small": 0.70}


@dataclass(frozen=True)
class CalibratedAccuracy:
    """``Accuracy(minimum=...)`` with the floor of the training configuration the solution ran in.

    The probe records ``(logits, configuration)``; the configuration is read from the *solution's* record (the
    parameters the grader injected), never from the student's, which the student's code controls. ``labels``
    (grader process) gives the held-out labels the logits are counted against.
    """

    floors: dict
    labels: object

    def __call__(self, got, ref) -> str | None:
        configuration = ref[1] if isinstance(ref, (list, tuple)) and len(ref) == 2 else None
        if configuration not in self.floors:
            raise KeyError(f"no calibrated accuracy floor for the training configuration {configuration!r}")
        if isinstance(got, (list, tuple)) and len(got) == 2:
            got = got[0]
        message = Accuracy(minimum=self.floors[configuration], labels=self.labels)(got, ref[0])
        return f"{message} (the {configuration!r} training configuration ran)" if message else None


def make_glyphs(n, seed):
    """n noisy 28x28 images of seven-segment digits, shape (n, 1, 28, 28) float32, and their labels 0-9 (int64)."""
    g = torch.Generator().manual_seed(seed)
    # the seven segments (top, top right, bottom right, bottom, bottom left, top left, middle) as two end points
    # (x right, y up), and which segments each digit 0-9 lights
    ends = torch.tensor([[[-1, 1], [1, 1]], [[1, 1], [1, 0]], [[1, 0], [1, -1]], [[-1, -1], [1, -1]],
                         [[-1, -1], [-1, 0]], [[-1, 0], [-1, 1]], [[-1, 0], [1, 0]]], dtype=torch.float32)
    lit = torch.tensor([[1, 1, 1, 1, 1, 1, 0], [0, 1, 1, 0, 0, 0, 0], [1, 1, 0, 1, 1, 0, 1], [1, 1, 1, 1, 0, 0, 1],
                        [0, 1, 1, 0, 0, 1, 1], [1, 0, 1, 1, 0, 1, 1], [1, 0, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0],
                        [1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 1, 1]], dtype=torch.float32)
    labels = torch.randint(0, 10, (n,), generator=g)
    height = 7 + 3 * torch.rand(n, 1, 1, generator=g)             # half the glyph's height, in pixels
    shear = 0.3 * (2 * torch.rand(n, 1, 1, generator=g) - 1)      # slanted writing
    angle = 0.25 * (2 * torch.rand(n, 1, 1, generator=g) - 1)     # a small rotation
    centre = 13.5 + 3 * (2 * torch.rand(n, 1, 1, 2, generator=g) - 1)
    x = 0.55 * ends[..., 0] + shear * ends[..., 1]                 # (n, 7, 2): both end points of every segment
    y = ends[..., 1].expand_as(x)
    cos, sin = angle.cos(), angle.sin()
    points = centre + height[..., None] * torch.stack([cos * x - sin * y, -(sin * x + cos * y)], dim=-1)
    thickness = 0.8 + torch.rand(n, 1, 1, generator=g)            # stroke half-width, in pixels
    brightness = (0.6 + 0.4 * torch.rand(n, 7, generator=g)) * lit[labels]   # unlit segments: 0
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    pixels = torch.stack([cols.flatten(), rows.flatten()], dim=1)  # (784, 2) as (column, row)
    images = []
    for lo in range(0, n, 500):                                    # in chunks: (500, 7, 784) distances at a time
        p, q = points[lo:lo + 500, :, 0, None], points[lo:lo + 500, :, 1, None]
        t = (((pixels - p) * (q - p)).sum(-1) / ((q - p) ** 2).sum(-1)).clamp(0, 1)
        distance = (pixels - (p + t[..., None] * (q - p))).norm(dim=-1)
        ink = (thickness[lo:lo + 500] + 0.5 - distance).clamp(0, 1) * brightness[lo:lo + 500, :, None]
        images.append(ink.amax(dim=1))
    images = torch.cat(images).reshape(n, 1, 28, 28)
    return images + 0.3 * torch.randn(images.shape, generator=g), labels


@functools.lru_cache(maxsize=1)
def held_out_set():
    """The hidden held-out images and their labels, drawn here in the grader process (never in the kernel).

    The seed exists only in this module and is far too large to find by trying seeds with the notebook's
    make_glyphs in the kernel. The probe gets the images as data (``held_out_images``); the labels stay here.
    """
    import torch

    globals()["torch"] = torch  # the copied make_glyphs reads the global torch, as the notebook's does
    return make_glyphs(4000, 1100684776311390690)


def held_out_images():
    """What the trained-model probe receives: the held-out images, without their labels."""
    return {"x": held_out_set()[0].numpy()}


def held_out_labels():
    """The held-out labels, for the checks (grader process only)."""
    return held_out_set()[1].numpy()


def probe_make_cnn(student):
    import torch

    with JudgedAlone(student):
        device = student.ns.get("DEVICE", "cpu")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(7101)
            cnn = student.call("cnn", "make_cnn", 7)  # not the notebook's 10 classes: `classes` must be used
        if not isinstance(cnn, torch.nn.Module):
            student.record("layer_shapes", cnn)  # e.g. None when make_cnn forgot to return the model
            return
        student.record("layer_shapes", [tuple(p.shape) for p in cnn.parameters()])
        cnn = cnn.to(device)
        g = torch.Generator().manual_seed(7102)
        x = torch.randn(24, 1, 28, 28, generator=g).to(device)
        with torch.no_grad():
            cnn.train()
            for _ in range(3):  # running statistics away from their initial 0 and 1: the order of layers shows
                cnn(x)
            cnn.eval()
            student.record("eval_output", cnn(x))
            cnn.train()
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(7103)
                first, second = cnn(x), cnn(x)
        # batch norm alone is deterministic in training mode too: two passes differ only where dropout is; the
        # rates of its dropout layers travel as data (DropoutAsAsked)
        rates = [float(m.p) for m in cnn.modules() if isinstance(m, torch.nn.Dropout)]
        student.record("training_passes", ((first, second), rates))


def passes_differ(passes) -> bool:
    """Two training-mode passes over the same images differ somewhere: the model has dropout."""
    first, second = passes
    return first.shape == second.shape and first.size > 0 and not np.array_equal(first, second)


NO_DROPOUT = Holds(passes_differ, "two training-mode passes over the same images are identical: the model has no "
                                  "dropout")


@dataclass(frozen=True)
class DropoutAsAsked:
    """``(training passes, dropout rates)``: the passes differ, and the model's ``nn.Dropout`` layers are the solution's.

    Eval-mode outputs cannot show the rate (dropout does nothing there), and two training-mode passes differ at
    any rate, so the rate of each ``nn.Dropout`` layer is compared as data.
    """

    def __call__(self, got, ref):
        if not (isinstance(got, (list, tuple)) and len(got) == 2):
            return NO_DROPOUT(got, ref)
        passes, rates = got
        message = NO_DROPOUT(passes, ref[0])
        if message is None and Equal()(rates, ref[1]) is not None:
            return "its dropout does not drop the share of the features the question's nn.Dropout layer drops"
        return message


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
        g = torch.Generator().manual_seed(7201)
        x1 = torch.randn(24, 1, 4, 4, generator=g).to(device)
        y1 = torch.randint(0, 4, (24,), generator=g).to(device)
        x2 = torch.randn(24, 1, 4, 4, generator=g).to(device)
        y2 = torch.randint(0, 4, (24,), generator=g).to(device)

        def fresh_model():
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(7202)
                model = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 4))
            return model.to(device)

        def flat(tensors):
            return torch.cat([t.detach().flatten() for t in tensors])

        model = fresh_model()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        # not plain cross-entropy: a train_step that calls F.cross_entropy instead of loss_fn computes other numbers
        loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
        student.call("first_loss", "train_step", model, x1, y1, optimizer, loss_fn)
        student.call("second_loss", "train_step", model, x2, y2, optimizer, loss_fn)
        student.record("params_two_steps", flat(model.parameters()))

        model = fresh_model()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        for p in model.parameters():
            p.grad = torch.full_like(p, 0.3)  # a gradient left over from elsewhere
        student.call("stale_loss", "train_step", model, x1, y1, optimizer, loss_fn)
        # the .grad left behind and the step the stale gradient would have joined (StaleGradientCleared)
        student.record("after_stale", (
            flat(p.grad if p.grad is not None else torch.zeros_like(p) for p in model.parameters()),
            flat(model.parameters())))


def probe_evaluate(student):
    import torch
    from torch import nn

    with JudgedAlone(student):
        device = student.ns.get("DEVICE", "cpu")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(7301)
            model = nn.Sequential(nn.Flatten(), nn.Linear(36, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5),
                                  nn.Linear(32, 5))
        model = model.to(device)
        g = torch.Generator().manual_seed(7302)
        x = torch.randn(203, 1, 6, 6, generator=g).to(device)
        with torch.no_grad():
            for _ in range(5):  # running statistics of other data than x: training mode would use x's own
                model.train()(1.5 + 2 * torch.randn(64, 1, 6, 6, generator=g).to(device))
            labels = model.eval()(x).argmax(dim=1)
        guess = torch.randint(0, 5, (203,), generator=g).to(device)
        y = torch.where(torch.rand(203, generator=g).to(device) < 0.8, labels, guess)
        model.train()  # as a training loop leaves it
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
        # a forward pass that left no trace, decided in the grader: autograd back on, outputs autograd did not record
        # (Untracked), the parameters as the call left them, without gradients (Untouched, against the solution's)
        student.record("no_autograd", (grad_on_after, [output for _, output in seen], tuple(model.parameters())))


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

        g = torch.Generator().manual_seed(7401)
        x = torch.randn(150, 1, 3, 3, generator=g).to(device)
        y = torch.randint(0, 3, (150,), generator=g).to(device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(7402)
            model = nn.Sequential(nn.Flatten(), nn.Linear(9, 10), nn.ReLU(), nn.Linear(10, 3))
        model = model.to(device)
        model.eval()  # as the student's evaluate() leaves it
        modes = []
        handle = watch_training(model, modes)
        missing = object()
        saved = student.ns.get("train_step", missing)
        student.ns["train_step"] = correct_train_step  # Question 2 is graded on its own
        try:
            # not plain cross-entropy: a fit that calls F.cross_entropy instead of loss_fn computes other numbers
            student.call("history", "fit", model, x, y, nn.CrossEntropyLoss(label_smoothing=0.1), 3, 0.01, 32, 7403)
        finally:
            handle.remove()
            if saved is missing:
                student.ns.pop("train_step", None)
            else:
                student.ns["train_step"] = saved
        student.record("params_after_fit", torch.cat([p.detach().flatten() for p in model.parameters()]))
        student.record("train_mode", bool(modes) and all(modes))


def probe_trained_model(student):
    import torch

    # not JudgedAlone: the student's trained model is run as the notebook left it (its dtype, its device)
    device = student.ns.get("DEVICE", "cpu")
    configuration = student.ns.get("TRAINING")  # on the solution: the injected parameter (see CalibratedAccuracy)
    model = student.value("model", "model")
    if not isinstance(model, torch.nn.Module):
        raise TypeError("`model` is not a trained torch.nn.Module at this point of the notebook")
    # The held-out images arrive only now that the student's training has finished, as data (probe_data, from
    # Question(data=...)); their labels, and the code and seed that drew them, stay in the grader process, so
    # nothing the model's forward can reach holds them.
    # in the dtype of the model's weights: a model trained in float64 (x_train.double()) refuses float32 images
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    x = torch.from_numpy(probe_data()["x"])
    # the question asks for a CNN make_cnn builds: its layers, chained anew by the probe, must answer alike
    copy = rebuilt(model, lambda: student.ns["make_cnn"](10))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            chunks = [x[i:i + 500].to(device=device, dtype=dtype) for i in range(0, len(x), 500)]
            logits = torch.cat([model(chunk) for chunk in chunks])
            copy_logits = torch.cat([copy(chunk) for chunk in chunks]) if copy is not None else None
    finally:
        model.train(was_training)
    # accuracy is counted in the grader process, from the exported outputs, against the labels made there
    student.record("held_out", (logits, copy_logits, configuration))


QUESTIONS = [
    Question("make_cnn_tests", probe_make_cnn, helpers=(JudgedAlone,), checks=[
        Check("cnn_layer_shapes", 1, Equal(), key="layer_shapes", needs=("cnn",),
              describe="make_cnn's layers have the parameters asked for (two conv blocks with batch norm, a linear "
                       "layer to the classes)",
              hint="build exactly the modules the question lists, with the channel numbers it gives, and a last "
                   "linear layer with `classes` outputs (the argument, not the notebook's ten digits)"),
        Check("cnn_eval_output", 1, Tensor(rtol=1e-4, atol=1e-5), key="eval_output", needs=("cnn",),
              describe="make_cnn's model computes the logits of the architecture asked for, in the order asked for",
              hint="the modules in exactly the order given (batch norm right after each convolution, ReLU after it, "
                   "pooling last), and nothing after the linear layer (no softmax)"),
        Property("cnn_dropout", 1, DropoutAsAsked(), key="training_passes", requires=("cnn_layer_shapes",),
                 describe="make_cnn's model has the dropout asked for: in training mode two passes over the same "
                          "images differ",
                 hint="put nn.Dropout(0.3) between nn.Flatten() and the last nn.Linear (nn.Dropout() drops half)"),
    ]),
    Question("train_step_tests", probe_train_step, helpers=(JudgedAlone,), checks=[
        Check("step_returns_float", 1, Number(rtol=1e-5, atol=1e-6, allow_tensor=False), key="first_loss",
              describe="train_step returns the batch loss (before the update) as a Python float",
              hint="return loss.item(), not the loss tensor, of the loss_fn train_step is given"),
        Check("step_updates_parameters", 2, CLOSE, key="params_two_steps", needs=("first_loss",),
              describe="two calls of train_step update the parameters like SGD with fresh gradients each step",
              hint="the order is zero_grad, forward, loss, backward, step, and each step must use its own batch's "
                   "gradient only, of the loss_fn train_step is given"),
        Check("step_clears_old_gradients", 1, StaleGradientCleared(), key="after_stale", needs=("stale_loss",),
              describe="train_step clears gradients left in .grad before computing new ones",
              hint="backward() adds to .grad: call the optimizer's zero_grad() before loss.backward()"),
    ]),
    Question("evaluate_tests", probe_evaluate, helpers=(JudgedAlone, watch_forward), checks=[
        Check("eval_accuracy_value", 2, Number(rtol=1e-6, atol=1e-6, allow_tensor=False), key="accuracy",
              describe="evaluate returns the model's accuracy in eval mode, as a Python float in [0, 1]",
              hint="in training mode batch norm uses the batch's statistics and dropout drops features, so the "
                   "predictions are other ones: call model.eval() first; the predictions are the argmax of the "
                   "logits over dim=1, and .item() makes the mean a Python float"),
        Check("eval_in_eval_mode", 1, Equal(), key="eval_mode", needs=("accuracy",),
              describe="evaluate runs the model in eval mode",
              hint="call model.eval() before the forward pass"),
        Check("eval_without_autograd", 1, NO_TRACE, key="no_autograd", needs=("accuracy",),
              describe="evaluate runs the forward pass without autograd and leaves no trace (no gradients, "
                       "autograd back on afterwards)",
              hint="put the forward pass inside a `with torch.no_grad():` block; no loss, no backward()"),
    ]),
    Question("fit_tests", probe_fit, helpers=(JudgedAlone, watch_forward, watch_training), checks=[
        Check("fit_loss_history", 1, Sequence((Number(rtol=1e-5, atol=1e-6, allow_tensor=False),) * FIT_EPOCHS,
                                              names=tuple(f"loss of epoch {i + 1}" for i in range(FIT_EPOCHS))),
              key="history",
              describe="fit returns the mean batch loss of every epoch",
              hint="one entry per epoch: the plain average of the losses train_step returned in that epoch"),
        Check("fit_trained_parameters", 1, CLOSE, key="params_after_fit", needs=("history",),
              describe="fit trains on shuffled mini-batches exactly as described",
              hint="create Adam and the seeded generator once; draw one torch.randperm order per epoch and index "
                   "the images and the labels with the same slice of it; keep the last smaller batch; train with the "
                   "loss_fn fit is given"),
        Check("fit_trains_in_train_mode", 1, Equal(), key="train_mode", needs=("history",),
              describe="fit trains the model in training mode",
              hint="evaluate() leaves the model in eval mode: call model.train() at the start of every epoch"),
    ]),
    Question("train_model_tests", probe_trained_model, helpers=(rebuilt,), data=held_out_images, checks=[
        Check("trained_model_learns", 2,
              OutputsOfRebuilt(CalibratedAccuracy(LEARNS_FLOOR, held_out_labels), "make_cnn"), key="held_out",
              describe="the trained CNN has clearly learned the digits (held-out accuracy far above guessing)",
              hint="check that the training loss goes down: the loss must be the cross-entropy of the logits, the "
                   "labels must stay with their images, and the learning rate must be neither far too high nor "
                   "far too low"),
        Check("trained_model_accuracy", 4, OutputsOfRebuilt(CalibratedAccuracy(ACCURACY_FLOOR, held_out_labels),
                                                             "make_cnn"), key="held_out",
              describe="the trained CNN's held-out accuracy is what a correct solution reaches in the configuration "
                       "that ran",
              hint="train on all of x_train for EPOCHS epochs with the recipe the question gives (lr=3e-3, "
                   "batch_size=50) and the cross-entropy loss"),
    ]),
]
