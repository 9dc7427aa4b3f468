"""Known submissions of 07-image-classifier that prove the hidden checks.

Alternatives are correct answers written differently: they must keep full marks.
Mutants are plausible wrong answers named after the misconception they encode:
each must fail exactly the checks listed in ``fails``. Keys of ``answers`` are
the solution cells' grade ids; values are the whole cell as a student writes it.

A mistake that reaches the notebook's own training run (no zero_grad, labels
shuffled apart from their images, the wrong loss, a learning rate far off) also
costs the trained-model checks; the held-out accuracies of these mutants, and
the margins by which they miss the floors, are in the grader module's
docstring (benchmarks/calibrate_07.py measures them over several seeds).
"""

from course_lib.synth import Variant

TRAINED = ("trained_model_learns", "trained_model_accuracy")


def _train_model(lr="3e-3", batch_size=50, loss="F.cross_entropy"):
    return ("torch.manual_seed(SEED)\n"
            "model = make_cnn(10).to(DEVICE)\n"
            f"history = fit(model, x_train, y_train, {loss}, epochs=EPOCHS, lr={lr}, batch_size={batch_size}, "
            "seed=SEED)\n")


_FIT = (
    "def fit(model, x, y, loss_fn, epochs, lr, batch_size, seed):\n"
    "    optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n"
    "    generator = torch.Generator().manual_seed(seed)\n"
    "    history = []\n"
    "    for epoch in range(epochs):\n"
    "{train}"
    "        order = torch.randperm(len(x), generator=generator).to(x.device)\n"
    "{labels}"
    "        losses = []\n"
    "        for start in range(0, len(x), batch_size):\n"
    "            idx = order[start:start + batch_size]\n"
    "            losses.append(train_step(model, x[idx], y[{label_idx}], optimizer, loss_fn))\n"
    "        history.append(sum(losses) / len(losses))\n"
    "    return history\n")

VARIANTS = [
    Variant("solution", kind="solution"),
    # -- alternative correct solutions ----------------------------------------------------------
    Variant("alternative_named_blocks_and_inference_mode", kind="alternative", answers={
        "make_cnn": (
            "from collections import OrderedDict\n\n"
            "def block(channels_in, channels_out):\n"
            "    return [nn.Conv2d(channels_in, channels_out, 3, padding=1), nn.BatchNorm2d(channels_out),\n"
            "            nn.ReLU(), nn.MaxPool2d(kernel_size=2)]\n\n"
            "def make_cnn(classes):\n"
            "    layers = block(1, 16) + block(16, 32) + [nn.Flatten(), nn.Dropout(p=0.3), nn.Linear(1568, classes)]\n"
            "    return nn.Sequential(OrderedDict((f'layer{i}', m) for i, m in enumerate(layers)))\n"),
        "train_step": (
            "def train_step(model, xb, yb, optimizer, loss_fn):\n"
            "    preds = model(xb)\n"
            "    loss = loss_fn(preds, yb)\n"
            "    optimizer.zero_grad(set_to_none=False)  # zeros instead of None: same effect\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    return float(loss)\n"),
        "evaluate": (
            "def evaluate(model, x, y, chunk=512):\n"
            "    was_training = model.training\n"
            "    model.eval()\n"
            "    correct = 0\n"
            "    with torch.inference_mode():\n"
            "        for start in range(0, len(x), chunk):\n"
            "            correct += (model(x[start:start + chunk]).argmax(-1) == y[start:start + chunk]).sum().item()\n"
            "    model.train(was_training)  # give the model back as we found it\n"
            "    return correct / len(y)\n"),
        "fit": (
            "def fit(model, x, y, loss_fn, epochs, lr, batch_size, seed):\n"
            "    opt = torch.optim.Adam(model.parameters(), lr=lr)\n"
            "    gen = torch.Generator()\n"
            "    gen.manual_seed(seed)\n"
            "    losses_per_epoch = []\n"
            "    for _ in range(epochs):\n"
            "        model.train()\n"
            "        perm = torch.randperm(x.shape[0], generator=gen).to(x.device)\n"
            "        losses = [train_step(model, x[idx], y[idx], opt, loss_fn) for idx in perm.split(batch_size)]\n"
            "        losses_per_epoch.append(torch.tensor(losses).mean().item())\n"
            "    return losses_per_epoch\n"),
        "train_model": ("torch.manual_seed(SEED)\n"
                        "model = make_cnn(classes=10)\n"
                        "model = model.to(DEVICE)\n"
                        "criterion = nn.CrossEntropyLoss()\n"
                        "history = fit(model, x_train, y_train, criterion, EPOCHS, 0.003, 50, SEED)\n"),
    }),
    # flatten and ReLU as layers of the student's own: the trained model is still the chain of its layers
    Variant("alternative_own_flatten_and_relu_layers", kind="alternative", answers={
        "make_cnn": (
            "class Flat(nn.Module):\n"
            "    def forward(self, x):\n"
            "        return x.view(x.size(0), -1)\n\n\n"
            "class Rectify(nn.Module):\n"
            "    def forward(self, x):\n"
            "        return x.clamp(min=0)\n\n\n"
            "def make_cnn(classes):\n"
            "    return nn.Sequential(\n"
            "        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), Rectify(), nn.MaxPool2d(2),\n"
            "        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), Rectify(), nn.MaxPool2d(2),\n"
            "        Flat(), nn.Dropout(0.3), nn.Linear(32 * 7 * 7, classes))\n"),
    }),
    Variant("alternative_module_class_and_by_hand", kind="alternative", answers={
        "make_cnn": (
            "def make_cnn(classes):\n"
            "    model = nn.Sequential()\n"
            "    for c_in, c_out in [(1, 16), (16, 32)]:\n"
            "        model.append(nn.Conv2d(c_in, c_out, kernel_size=(3, 3), padding='same'))\n"
            "        model.append(nn.BatchNorm2d(c_out))\n"
            "        model.append(nn.ReLU(inplace=True))\n"
            "        model.append(nn.MaxPool2d(2, 2))\n"
            "    model.append(nn.Flatten())\n"
            "    model.append(nn.Dropout(0.3))\n"
            "    model.append(nn.Linear(32 * 7 * 7, classes))\n"
            "    return model\n"),
        "train_step": (
            "def train_step(model, xb, yb, optimizer, loss_fn):\n"
            "    for p in model.parameters():\n"
            "        p.grad = None\n"
            "    loss = loss_fn(model(xb), yb)\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    return loss.detach().cpu().item()\n"),
        "evaluate": (
            "def evaluate(model, x, y):\n"
            "    model.train(False)\n"
            "    with torch.no_grad():\n"
            "        logits = model(x)\n"
            "    # a NumPy float64 (an instance of Python's float, as the question asks)\n"
            "    return (logits.argmax(dim=1) == y).cpu().numpy().mean()\n"),
        "fit": (
            "def fit(model, x, y, loss_fn, epochs, lr, batch_size, seed):\n"
            "    optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n"
            "    rng = torch.Generator().manual_seed(seed)\n"
            "    n, history = len(x), []\n"
            "    for epoch in range(epochs):\n"
            "        model.train()\n"
            "        order = torch.randperm(n, generator=rng)\n"
            "        total, batches, start = 0.0, 0, 0\n"
            "        while start < n:\n"
            "            idx = order[start:min(start + batch_size, n)].to(x.device)\n"
            "            total += train_step(model, x[idx], y[idx], optimizer, loss_fn)\n"
            "            batches += 1\n"
            "            start += batch_size\n"
            "        history.append(total / batches)\n"
            "    return history\n"),
        "train_model": _train_model(lr="0.003"),
    }),
    # a model trained in float64 throughout: the held-out images reach it in its weights' dtype
    Variant("alternative_trained_in_float64", kind="alternative", answers={
        "train_model": ("torch.manual_seed(SEED)\n"
                        "model = make_cnn(10).double().to(DEVICE)\n"
                        "history = fit(model, x_train.double(), y_train, F.cross_entropy, epochs=EPOCHS, lr=3e-3, "
                        "batch_size=50, seed=SEED)\n"),
    }),
    # the five steps, and the gradients cleared once more after the step: the update used fresh gradients only
    # (judging the .grad left behind cost it step_clears_old_gradients)
    Variant("alternative_train_step_also_clears_after_the_step", kind="alternative", answers={
        "train_step": (
            "def train_step(model, xb, yb, optimizer, loss_fn):\n"
            "    optimizer.zero_grad()\n"
            "    loss = loss_fn(model(xb), yb)\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    optimizer.zero_grad()   # leave no gradient behind for the next caller\n"
            "    return loss.item()\n"),
    }),
    # blocks from a helper, the batches from torch.split, the epoch mean from statistics.fmean
    Variant("alternative_block_helper_and_split_batches", kind="alternative", answers={
        "make_cnn": (
            "def block(cin, cout):\n"
            "    return [nn.Conv2d(cin, cout, kernel_size=3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),\n"
            "            nn.MaxPool2d(2)]\n\n\n"
            "def make_cnn(classes):\n"
            "    return nn.Sequential(*block(1, 16), *block(16, 32), nn.Flatten(), nn.Dropout(p=0.3),\n"
            "                         nn.Linear(1568, classes))\n"),
        "fit": (
            "def fit(model, x, y, loss_fn, epochs, lr, batch_size, seed):\n"
            "    import statistics\n"
            "    optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n"
            "    generator = torch.Generator()\n"
            "    generator.manual_seed(seed)\n"
            "    history = []\n"
            "    for _ in range(epochs):\n"
            "        model.train()\n"
            "        order = torch.randperm(len(x), generator=generator).to(x.device)\n"
            "        losses = [train_step(model, x[idx], y[idx], optimizer, loss_fn)\n"
            "                  for idx in torch.split(order, batch_size)]\n"
            "        history.append(float(statistics.fmean(losses)))\n"
            "    return history\n"),
    }),
    # -- misconceptions ---------------------------------------------------------------------------
    # nn.Dropout()'s default drops half the features, not the 30 % asked for: eval-mode outputs cannot tell
    Variant("cnn_dropout_at_its_default_rate", fails=("cnn_dropout",), answers={
        "make_cnn": (
            "def make_cnn(classes):\n"
            "    return nn.Sequential(\n"
            "        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),\n"
            "        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),\n"
            "        nn.Flatten(), nn.Dropout(), nn.Linear(32 * 7 * 7, classes))\n")}),
    # the gradients cleared after the step only: the first step adds the stale gradient to its own
    Variant("zero_grad_only_after_the_step", fails=("step_clears_old_gradients",), answers={
        "train_step": (
            "def train_step(model, xb, yb, optimizer, loss_fn):\n"
            "    loss = loss_fn(model(xb), yb)\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    optimizer.zero_grad()\n"
            "    return loss.item()\n")}),
    # the loss_fn argument ignored: F.cross_entropy is called in its place
    Variant("step_ignores_its_loss_fn",
            fails=("step_returns_float", "step_updates_parameters", "step_clears_old_gradients"), answers={
        "train_step": (
            "def train_step(model, xb, yb, optimizer, loss_fn):\n"
            "    optimizer.zero_grad()\n"
            "    loss = F.cross_entropy(model(xb), yb)\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    return loss.item()\n")}),
    Variant("fit_ignores_its_loss_fn", fails=("fit_loss_history", "fit_trained_parameters"),
            answers={"fit": _FIT.format(train="        model.train()\n", labels="", label_idx="idx").replace(
                "optimizer, loss_fn))", "optimizer, F.cross_entropy))")}),
    Variant("cnn_without_dropout", fails=("cnn_dropout",), answers={
        "make_cnn": (
            "def make_cnn(classes):\n"
            "    return nn.Sequential(\n"
            "        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),\n"
            "        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),\n"
            "        nn.Flatten(), nn.Linear(32 * 7 * 7, classes))\n")}),
    # right for the notebook's ten digits, wrong for any other number of classes
    Variant("cnn_hardcodes_ten_classes", fails=("cnn_layer_shapes", "cnn_eval_output", "cnn_dropout"), answers={
        "make_cnn": (
            "def make_cnn(classes):\n"
            "    return nn.Sequential(\n"
            "        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),\n"
            "        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),\n"
            "        nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 7 * 7, 10))\n")}),
    # the same parameters in another order: only the outputs tell
    Variant("cnn_pools_before_batchnorm", fails=("cnn_eval_output",), answers={
        "make_cnn": (
            "def make_cnn(classes):\n"
            "    return nn.Sequential(\n"
            "        nn.Conv2d(1, 16, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(), nn.BatchNorm2d(16),\n"
            "        nn.Conv2d(16, 32, 3, padding=1), nn.MaxPool2d(2), nn.ReLU(), nn.BatchNorm2d(32),\n"
            "        nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 7 * 7, classes))\n")}),
    # softmax, then the cross-entropy's own softmax: gradients become tiny and the training crawls
    Variant("cnn_ends_with_softmax", fails=("cnn_eval_output", *TRAINED), answers={
        "make_cnn": (
            "def make_cnn(classes):\n"
            "    return nn.Sequential(\n"
            "        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),\n"
            "        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),\n"
            "        nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 7 * 7, classes), nn.Softmax(dim=1))\n")}),
    Variant("grad_accumulates_no_zero_grad",
            fails=("step_updates_parameters", "step_clears_old_gradients", *TRAINED), answers={
        "train_step": (
            "def train_step(model, xb, yb, optimizer, loss_fn):\n"
            "    loss = loss_fn(model(xb), yb)\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    return loss.item()\n")}),
    Variant("returns_loss_tensor_not_float", fails=("step_returns_float",), answers={
        "train_step": (
            "def train_step(model, xb, yb, optimizer, loss_fn):\n"
            "    optimizer.zero_grad()\n"
            "    loss = loss_fn(model(xb), yb)\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    return loss\n")}),
    Variant("evaluate_forgets_eval_mode", fails=("eval_accuracy_value", "eval_in_eval_mode"), answers={
        "evaluate": (
            "def evaluate(model, x, y):\n"
            "    with torch.no_grad():\n"
            "        predictions = model(x).argmax(dim=1)\n"
            "    return (predictions == y).float().mean().item()\n")}),
    # the parameters changed in place, then the comparison the probe used to make in the kernel replaced: the
    # parameters are compared with the solution's in the grader
    Variant("evaluate_shrinks_parameters_and_redefines_equal", fails=("eval_without_autograd",), answers={
        "evaluate": (
            "def evaluate(model, x, y):\n"
            "    model.eval()\n"
            "    with torch.no_grad():\n"
            "        predictions = model(x).argmax(dim=1)\n"
            "        for p in model.parameters():\n"
            "            p.mul_(0.999)  # 'a little weight decay while we are here'\n"
            "    torch.equal = lambda *args, **kwargs: True\n"
            "    return (predictions == y).float().mean().item()\n")}),
    # autograd on, the question the probe used to ask in the kernel answered falsely while the model runs: the
    # outputs themselves say autograd recorded them
    Variant("evaluate_without_no_grad_redefines_is_grad_enabled", fails=("eval_without_autograd",), answers={
        "evaluate": (
            "def evaluate(model, x, y):\n"
            "    model.eval()\n"
            "    real = torch.is_grad_enabled\n"
            "    torch.is_grad_enabled = lambda: False\n"
            "    try:\n"
            "        predictions = model(x).argmax(dim=1)\n"
            "    finally:\n"
            "        torch.is_grad_enabled = real\n"
            "    return (predictions == y).float().mean().item()\n")}),
    # only the container's flag set: its layers (batch norm, dropout) still run in training mode
    Variant("evaluate_sets_only_the_containers_training_flag", fails=("eval_accuracy_value", "eval_in_eval_mode"), answers={
        "evaluate": (
            "def evaluate(model, x, y):\n"
            "    model.training = False\n"
            "    with torch.no_grad():\n"
            "        predictions = model(x).argmax(dim=1)\n"
            "    return (predictions == y).float().mean().item()\n")}),
    Variant("evaluate_without_no_grad", fails=("eval_without_autograd",), answers={
        "evaluate": (
            "def evaluate(model, x, y):\n"
            "    model.eval()\n"
            "    predictions = model(x).argmax(dim=1)\n"
            "    return (predictions == y).float().mean().item()\n")}),
    Variant("fit_shuffles_labels_apart_from_images", fails=("fit_loss_history", "fit_trained_parameters", *TRAINED),
            answers={"fit": _FIT.format(
                train="        model.train()\n",
                labels="        label_order = torch.randperm(len(y), generator=generator).to(y.device)\n",
                label_idx="label_order[start:start + batch_size]")}),
    # reports the training accuracy with evaluate() (eval mode, no_grad) after each epoch; model.train() starts the
    # next one, as the recipe says: it trains in training mode
    Variant("alternative_fit_reports_accuracy_each_epoch", kind="alternative", answers={"fit": _FIT.format(
        train="        model.train()\n", labels="", label_idx="idx").replace(
        "        history.append(sum(losses) / len(losses))\n",
        "        history.append(sum(losses) / len(losses))\n"
        "        print(f\"epoch {epoch + 1}: loss {history[-1]:.4f}, accuracy {evaluate(model, x, y):.3f}\")\n")}),
    Variant("fit_forgets_train_mode", fails=("fit_trains_in_train_mode",),
            answers={"fit": _FIT.format(train="", labels="", label_idx="idx")}),
    # the probe's forward hook (reachable from the model) rewrapped: it is handed a module whose layers are all in
    # eval mode and a detached output, while the real pass ran in training mode with autograd (watch_forward)
    Variant("cheat_evaluate_rewraps_the_probes_hook", fails=("eval_accuracy_value", "eval_in_eval_mode", "eval_without_autograd"), answers={
        "evaluate": (
            "def evaluate(model, x, y):\n"
            "    class Quiet:\n"
            "        training = False\n"
            "        def modules(self):\n"
            "            return iter((self,))\n"
            "    for key, hook in list(model._forward_hooks.items()):\n"
            "        model._forward_hooks[key] = (lambda h: lambda module, inputs, output: h(Quiet(), inputs, output.detach()))(hook)\n"
            "    predictions = model(x).argmax(dim=1)\n"
            "    return (predictions == y).float().mean().item()\n")}),
    # a hook of its own in front of the probe's replaces the output with a detached one: autograd still recorded;
    # a pass the probe could not watch as it is earns neither of the checks read off it
    Variant("cheat_evaluate_detaches_the_output_in_its_own_hook", fails=("eval_in_eval_mode", "eval_without_autograd"),
            answers={
        "evaluate": (
            "def evaluate(model, x, y):\n"
            "    model.eval()\n"
            "    model.register_forward_hook(lambda module, inputs, output: output.detach(), prepend=True)\n"
            "    predictions = model(x).argmax(dim=1)\n"
            "    return (predictions == y).float().mean().item()\n")}),
    # fit trains in eval mode and hands the probe's forward hook a module that says it is training (watch_forward)
    Variant("cheat_fit_in_eval_mode_rewraps_the_probes_hook", fails=("fit_trains_in_train_mode",), answers={
        "fit": (
            "class _Busy:\n"
            "    training = True\n"
            "    def modules(self):\n"
            "        return iter((self,))\n\n"
            "def _rewrap(model):\n"
            "    for key, hook in list(model._forward_hooks.items()):\n"
            "        model._forward_hooks[key] = (lambda h: lambda module, inputs, output: h(_Busy(), inputs, output))(hook)\n\n"
            + _FIT.format(train="", labels="", label_idx="idx").replace("    optimizer = ", "    _rewrap(model)\n    optimizer = ", 1))}),
    # nll_loss expects log-probabilities: on raw logits it only pushes the right logit up, without bound
    Variant("nll_loss_on_logits", fails=TRAINED, answers={"train_model": _train_model(loss="F.nll_loss")}),
    Variant("lr_far_too_high", fails=TRAINED, answers={"train_model": _train_model(lr="1.0")}),
    Variant("lr_far_too_low", fails=TRAINED, answers={"train_model": _train_model(lr="1e-5")}),
    # -- cheats: what the student's code can reach while the probes run earns nothing ---------------------
    # a model that never trained, reading the held-out labels from the frames of whoever calls it
    Variant("cheat_model_reads_callers_labels", fails=TRAINED, answers={
        "train_model": (
            'import sys\n'
            'class Oracle(nn.Module):\n'
            '    """No training at all: reads the labels from whoever calls it."""\n'
            '    def __init__(self):\n'
            '        super().__init__()\n'
            '        self.bias = nn.Parameter(torch.zeros(10))\n'
            '    def forward(self, inp):\n'
            '        f = sys._getframe(1)\n'
            '        while f is not None:\n'
            '            loc = f.f_locals\n'
            "            X, Y = loc.get('x'), loc.get('y')\n"
            '            if (isinstance(X, torch.Tensor) and isinstance(Y, torch.Tensor) and Y.ndim == 1 and len(Y) == len(X)\n'
            '                    and X.untyped_storage().data_ptr() == inp.untyped_storage().data_ptr()):\n'
            '                start = (inp.data_ptr() - X.data_ptr()) // (X.stride(0) * X.element_size())\n'
            '                return F.one_hot(Y[start:start + len(inp)], 10).float() + self.bias\n'
            '            f = f.f_back\n'
            '        return self.bias.expand(len(inp), 10)\n'
            'model = Oracle().to(DEVICE)\n'
            'history = [0.0]\n'
        )}),
    # a constant model, with torch.randint bent so the held-out labels all become its one class
    Variant("cheat_bends_randint_for_held_out_labels", fails=TRAINED, answers={
        "train_model": (
            '_randint = torch.randint\n'
            'def _patched(*a, **k):\n'
            '    if len(a) >= 3 and tuple(a[2]) == (4000,):\n'
            '        return torch.zeros(4000, dtype=torch.int64)\n'
            '    return _randint(*a, **k)\n'
            'torch.randint = _patched\n'
            'class Constant(nn.Module):\n'
            '    def __init__(self):\n'
            '        super().__init__()\n'
            '        self.bias = nn.Parameter(torch.tensor([1.0] + [0.0] * 9))\n'
            '    def forward(self, inp):\n'
            '        return self.bias.expand(len(inp), 10)\n'
            'model = Constant().to(DEVICE)\n'
            'history = [0.0]\n'
        )}),
    # no dropout, and torch.equal redefined to say two identical passes differ
    Variant("cheat_no_dropout_redefines_equal", fails=("cnn_dropout",), answers={
        "make_cnn": (
            '_equal = torch.equal\n'
            'torch.equal = lambda a, b: False if a.ndim == 2 and a.shape[0] == 24 else _equal(a, b)\n'
            '\n'
            'def make_cnn(classes):\n'
            '    """No dropout at all."""\n'
            '    return nn.Sequential(nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),\n'
            '                         nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),\n'
            '                         nn.Flatten(), nn.Linear(32 * 7 * 7, classes))\n'
        )}),
    # no dropout, and outputs of a tensor subclass that answer torch.equal themselves
    Variant("cheat_no_dropout_outputs_answer_equal", fails=("cnn_dropout",), answers={
        "make_cnn": (
            'class _Liar(torch.Tensor):\n'
            '    @classmethod\n'
            '    def __torch_function__(cls, func, types, args=(), kwargs=None):\n'
            '        if func is torch.equal:\n'
            '            return False\n'
            '        return super().__torch_function__(func, types, args, kwargs or {})\n'
            '\n'
            'class _Net(nn.Sequential):\n'
            '    def forward(self, x):\n'
            '        return super().forward(x).as_subclass(_Liar)\n'
            '\n'
            'def make_cnn(classes):\n'
            '    """No dropout at all."""\n'
            '    return _Net(nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),\n'
            '                nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),\n'
            '                nn.Flatten(), nn.Linear(32 * 7 * 7, classes))\n'
        )}),
    # a model that never trained, calling the function that draws the held-out set wherever its callers' frames
    # (their globals) hold one, and answering with the labels of the chunk it was given
    Variant("cheat_model_calls_callers_held_out_set", fails=TRAINED, answers={
        "train_model": (
            'import sys\n'
            'class Oracle(nn.Module):\n'
            '    """No training at all: finds the held-out set among its callers\' globals."""\n'
            '    def __init__(self):\n'
            '        super().__init__()\n'
            '        self.bias = nn.Parameter(torch.zeros(10))\n'
            '    def forward(self, inp):\n'
            '        f = sys._getframe(1)\n'
            '        while f is not None:\n'
            '            for name, fn in list(f.f_globals.items()):\n'
            "                if 'held_out' not in name or not callable(fn):\n"
            '                    continue\n'
            '                try:\n'
            '                    got = fn()\n'
            '                except Exception:\n'
            '                    continue\n'
            '                if not (isinstance(got, tuple) and len(got) == 2):\n'
            '                    continue\n'
            '                x, y = (torch.as_tensor(v) for v in got)\n'
            '                x = x.to(inp.device)\n'
            '                for start in range(0, len(x), len(inp)):\n'
            '                    if torch.equal(x[start:start + len(inp)], inp):\n'
            '                        return F.one_hot(y[start:start + len(inp)].to(inp.device), 10).float() * 10 + self.bias\n'
            '            f = f.f_back\n'
            '        return self.bias.expand(len(inp), 10)\n'
            'model = Oracle().to(DEVICE)\n'
            'history = [0.0]\n'
        )}),
    # no CNN and no training: nearest neighbours over the (blurred) training images clear the learning floor
    Variant("cheat_model_is_nearest_neighbours", fails=TRAINED, answers={
        "train_model": (
            "class Neighbours(nn.Module):\n"
            "    def __init__(self, x, y):\n"
            "        super().__init__()\n"
            "        self.register_buffer('x', F.avg_pool2d(x, 4).flatten(1))\n"
            "        self.register_buffer('y', y.clone())\n"
            "        self.scale = nn.Parameter(torch.ones(1))\n"
            "\n"
            "    def forward(self, q):\n"
            "        nearest = torch.cdist(F.avg_pool2d(q, 4).flatten(1), self.x).topk(5, largest=False).indices\n"
            "        return self.scale * F.one_hot(self.y[nearest], 10).sum(1).to(q.dtype)\n"
            "\n"
            "\n"
            "torch.manual_seed(SEED)\n"
            "model = Neighbours(x_train, y_train).to(DEVICE)\n"
            "history = [0.0]\n")}),
]
