"""Known submissions of 05-gpu-classifier that prove the hidden checks.

Alternatives are correct answers written differently: they must keep full marks.
Mutants are plausible wrong answers named after the misconception they encode:
each must fail exactly the checks listed in ``fails``. Keys of ``answers`` are
the solution cells' grade ids; values are the whole cell as a student writes it.

A mistake in an early function also shows in Question 6 when the student's own
training run inherits it (a train_step that never updates, a model without a
hidden layer, batches never shuffled on data grouped by class): those mutants
list the trained-model checks too. Everything here is deterministic: the
notebook seeds torch before building its models and the shuffling uses a seeded
generator, so each mutant's held-out accuracy is the same on every run (on CPU).
"""

from course_lib.synth import Variant

TRAINED = ("trained_model_beats_linear", "trained_model_accuracy")

def _train_model(hidden=128, epochs=30, lr=0.2, batch_size=64):
    return ("torch.manual_seed(SEED)\n"
            f"model = make_mlp(2, {hidden}, 3).to(DEVICE)\n"
            f"history = fit(model, x_train, y_train, classification_loss, epochs={epochs}, lr={lr}, "
            f"batch_size={batch_size}, seed=SEED)\n")


VARIANTS = [
    Variant("solution", kind="solution"),
    # -- alternative correct solutions ----------------------------------------------------------
    Variant("alternative_modules_and_inference_mode", kind="alternative", answers={
        "classification_loss": (
            "criterion = nn.CrossEntropyLoss()\n\n"
            "def classification_loss(logits, targets):\n"
            "    return criterion(logits, targets)\n"),
        "make_mlp": (
            "from collections import OrderedDict\n\n"
            "def make_mlp(in_features, hidden, classes):\n"
            "    return nn.Sequential(OrderedDict([\n"
            "        (\"hidden\", nn.Linear(in_features, hidden)),\n"
            "        (\"relu\", nn.ReLU()),\n"
            "        (\"out\", nn.Linear(hidden, classes)),\n"
            "    ]))\n"),
        "train_step": (
            "def train_step(model, xb, yb, optimizer, loss_fn):\n"
            "    preds = model(xb)\n"
            "    loss = loss_fn(preds, yb)\n"
            "    optimizer.zero_grad(set_to_none=False)  # zeros instead of None: same effect\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    return float(loss)\n"),
        "evaluate": (
            "def evaluate(model, x, y):\n"
            "    was_training = model.training\n"
            "    model.eval()\n"
            "    with torch.inference_mode():\n"
            "        correct = (model(x).argmax(-1) == y).sum().item()\n"
            "    model.train(was_training)  # give the model back as we found it\n"
            "    return correct / len(y)\n"),
        "fit": (
            "def fit(model, x, y, loss_fn, epochs, lr, batch_size, seed):\n"
            "    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)\n"
            "    gen = torch.Generator()\n"
            "    gen.manual_seed(seed)\n"
            "    losses_per_epoch = []\n"
            "    for _ in range(epochs):\n"
            "        model.train()\n"
            "        perm = torch.randperm(x.shape[0], generator=gen).to(x.device)\n"
            "        losses = [train_step(model, x[idx], y[idx], opt, loss_fn) for idx in perm.split(batch_size)]\n"
            "        losses_per_epoch.append(torch.tensor(losses).mean().item())\n"
            "    return losses_per_epoch\n"),
        "train_model": _train_model(hidden=64, epochs=40, lr=0.1, batch_size=32),
    }),
    Variant("alternative_by_hand", kind="alternative", answers={
        "classification_loss": (
            "def classification_loss(logits, targets):\n"
            "    log_probs = F.log_softmax(logits, dim=1)\n"
            "    return -log_probs.gather(1, targets[:, None]).mean()\n"),
        "make_mlp": (
            "def make_mlp(in_features, hidden, classes):\n"
            "    model = nn.Sequential()\n"
            "    model.append(nn.Linear(in_features, hidden))\n"
            "    model.append(nn.ReLU())\n"
            "    model.append(nn.Linear(hidden, classes))\n"
            "    return model\n"),
        "train_step": (
            "def train_step(model, xb, yb, optimizer, loss_fn):\n"
            "    for p in model.parameters():\n"
            "        p.grad = None\n"
            "    out = model(xb)\n"
            "    loss = loss_fn(out, yb)\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    return loss.detach().cpu().item()\n"),
        "evaluate": (
            "def evaluate(model, x, y, chunk=256):\n"
            "    model.train(False)\n"
            "    correct = 0\n"
            "    with torch.no_grad():\n"
            "        for start in range(0, len(x), chunk):\n"
            "            logits = model(x[start:start + chunk])\n"
            "            correct += int((logits.argmax(dim=1) == y[start:start + chunk]).sum())\n"
            "    return correct / len(x)\n"),
        "fit": (
            "def fit(model, x, y, loss_fn, epochs, lr, batch_size, seed):\n"
            "    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)\n"
            "    rng = torch.Generator().manual_seed(seed)\n"
            "    n = len(x)\n"
            "    history = []\n"
            "    for epoch in range(epochs):\n"
            "        model.train()\n"
            "        order = torch.randperm(n, generator=rng)\n"
            "        total, batches = 0.0, 0\n"
            "        start = 0\n"
            "        while start < n:\n"
            "            idx = order[start:min(start + batch_size, n)].to(x.device)\n"
            "            total += train_step(model, x[idx], y[idx], optimizer, loss_fn)\n"
            "            batches += 1\n"
            "            start += batch_size\n"
            "        history.append(total / batches)\n"
            "    return history\n"),
        "train_model": _train_model(hidden=256, epochs=30, lr=0.1, batch_size=32),
    }),
    # trained in float64 (the data converted, the model made double): the held-out points reach it in its dtype,
    # where float32 points made its forward pass raise and lost both trained-model checks
    Variant("alternative_trained_in_float64", kind="alternative", answers={
        "train_model": (
            "torch.manual_seed(SEED)\n"
            "x_train, x_valid = x_train.double(), x_valid.double()  # train in double precision\n"
            "model = make_mlp(2, 128, 3).double().to(DEVICE)\n"
            "history = fit(model, x_train, y_train, classification_loss, epochs=30, lr=0.2, batch_size=64, seed=SEED)\n"),
    }),
    # the five steps, and the gradients cleared once more after the step: the update used fresh gradients only,
    # which is what is judged (judging the .grad left behind cost it step_clears_old_gradients)
    Variant("alternative_train_step_also_clears_after_the_step", kind="alternative", answers={
        "train_step": (
            "def train_step(model, xb, yb, optimizer, loss_fn):\n"
            "    optimizer.zero_grad(set_to_none=False)   # forget the old gradients\n"
            "    loss = loss_fn(model(xb), yb)\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    optimizer.zero_grad(set_to_none=False)   # and leave none behind for the next caller\n"
            "    return loss.item()\n"),
    }),
    # the loss by hand in float64: logsumexp minus the target's logit (the question fixes no dtype); evaluate
    # counts with NumPy and prints
    Variant("alternative_float64_loss_by_hand", kind="alternative", answers={
        "classification_loss": (
            "def classification_loss(logits, targets):\n"
            "    logits = logits.double()\n"
            "    picked = logits.gather(1, targets[:, None]).squeeze(1)\n"
            "    return (torch.logsumexp(logits, dim=1) - picked).mean()\n"),
        "evaluate": (
            "def evaluate(model, x, y):\n"
            "    import numpy as np\n"
            "    model.eval()\n"
            "    with torch.no_grad():\n"
            "        predicted = torch.argmax(torch.softmax(model(x), dim=-1), dim=-1)\n"
            "    accuracy = float(np.mean((predicted == y).cpu().numpy()))\n"
            "    print(f\"accuracy {accuracy:.3f}\")\n"
            "    return accuracy\n"),
    }),
    # -- misconceptions ---------------------------------------------------------------------------
    # fit reports the training accuracy with evaluate() (eval mode, no_grad) after each epoch, and switches the
    # model back with model.train() at the start of the next, as the recipe says: it trains in training mode
    Variant("alternative_fit_reports_accuracy_each_epoch", kind="alternative", answers={
        "fit": (
            "def fit(model, x, y, loss_fn, epochs, lr, batch_size, seed):\n"
            "    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)\n"
            "    gen = torch.Generator().manual_seed(seed)\n"
            "    history = []\n"
            "    for epoch in range(epochs):\n"
            "        model.train()\n"
            "        perm = torch.randperm(len(x), generator=gen)\n"
            "        losses = []\n"
            "        for start in range(0, len(x), batch_size):\n"
            "            idx = perm[start:start + batch_size].to(x.device)\n"
            "            losses.append(train_step(model, x[idx], y[idx], optimizer, loss_fn))\n"
            "        history.append(sum(losses) / len(losses))\n"
            "        print(f\"epoch {epoch + 1}: loss {history[-1]:.4f}, train accuracy {evaluate(model, x, y):.3f}\")\n"
            "    return history\n"),
    }),
    Variant("softmax_before_cross_entropy",
            fails=("loss_matches_cross_entropy", "loss_stable_for_large_logits"), answers={
        "classification_loss": (
            "def classification_loss(logits, targets):\n"
            "    probs = F.softmax(logits, dim=1)\n"
            "    return F.cross_entropy(probs, targets)\n")}),
    Variant("log_of_softmax_unstable", fails=("loss_stable_for_large_logits",), answers={
        "classification_loss": (
            "def classification_loss(logits, targets):\n"
            "    probs = torch.softmax(logits, dim=1)\n"
            "    return -torch.log(probs[torch.arange(len(targets)), targets]).mean()\n")}),
    # stable on every row alone, but shifted by the largest logit of the whole batch: rows far below it underflow
    Variant("log_softmax_shifted_by_batch_max", fails=("loss_stable_for_large_logits",), answers={
        "classification_loss": (
            "def classification_loss(logits, targets):\n"
            "    shifted = logits - logits.max()\n"
            "    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))\n"
            "    return -log_probs[torch.arange(len(targets)), targets].mean()\n")}),
    Variant("linear_model_only", fails=("mlp_layer_shapes", "mlp_is_nonlinear", *TRAINED), answers={
        "make_mlp": (
            "def make_mlp(in_features, hidden, classes):\n"
            "    return nn.Sequential(nn.Linear(in_features, classes))\n")}),
    Variant("mlp_without_activation", fails=("mlp_is_nonlinear", *TRAINED), answers={
        "make_mlp": (
            "def make_mlp(in_features, hidden, classes):\n"
            "    return nn.Sequential(nn.Linear(in_features, hidden), nn.Linear(hidden, classes))\n")}),
    Variant("mlp_ends_with_softmax", fails=("mlp_outputs_logits",), answers={
        "make_mlp": (
            "def make_mlp(in_features, hidden, classes):\n"
            "    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, classes),\n"
            "                         nn.Softmax(dim=1))\n")}),
    # the ReLU as a module of the student's own (clamp), and torch's in place
    Variant("alternative_own_relu_module", kind="alternative", answers={
        "make_mlp": (
            "class Rectifier(nn.Module):\n"
            "    def forward(self, x):\n"
            "        return x.clamp(min=0)\n\n"
            "def make_mlp(in_features, hidden, classes):\n"
            "    return nn.Sequential(nn.Linear(in_features, hidden), Rectifier(), nn.Linear(hidden, classes))\n")}),
    Variant("alternative_relu_in_place", kind="alternative", answers={
        "make_mlp": (
            "def make_mlp(in_features, hidden, classes):\n"
            "    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(inplace=True),\n"
            "                         nn.Linear(hidden, classes))\n")}),
    # another network than the one asked for, which any non-linearity used to pass: tanh between the layers
    Variant("mlp_with_tanh_for_relu", fails=("mlp_is_nonlinear",), answers={
        "make_mlp": (
            "def make_mlp(in_features, hidden, classes):\n"
            "    return nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh(), nn.Linear(hidden, classes))\n")}),
    # log-probabilities at the end, where the question says no softmax: they are all negative, as logits can be
    Variant("mlp_ends_with_log_softmax", fails=("mlp_outputs_logits",), answers={
        "make_mlp": (
            "def make_mlp(in_features, hidden, classes):\n"
            "    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, classes),\n"
            "                         nn.LogSoftmax(dim=1))\n")}),
    # a wrong structure the parameter shapes cannot see: a ReLU after the last linear layer
    Variant("mlp_ends_with_relu", fails=("mlp_outputs_logits", *TRAINED), answers={
        "make_mlp": (
            "def make_mlp(in_features, hidden, classes):\n"
            "    return nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, classes),\n"
            "                         nn.ReLU())\n")}),
    Variant("grad_accumulates_no_zero_grad",
            fails=("step_updates_parameters", "step_clears_old_gradients", *TRAINED), answers={
        "train_step": (
            "def train_step(model, xb, yb, optimizer, loss_fn):\n"
            "    loss = loss_fn(model(xb), yb)\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    return loss.item()\n")}),
    Variant("step_before_backward", fails=("step_updates_parameters", *TRAINED), answers={
        "train_step": (
            "def train_step(model, xb, yb, optimizer, loss_fn):\n"
            "    optimizer.zero_grad()\n"
            "    loss = loss_fn(model(xb), yb)\n"
            "    optimizer.step()\n"
            "    loss.backward()\n"
            "    return loss.item()\n")}),
    # the gradients cleared after the step only (as after every step of a loop): the first step of a call made
    # with a gradient left over from elsewhere still adds it in
    Variant("zero_grad_only_after_the_step", fails=("step_clears_old_gradients",), answers={
        "train_step": (
            "def train_step(model, xb, yb, optimizer, loss_fn):\n"
            "    loss = loss_fn(model(xb), yb)\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    optimizer.zero_grad()\n"
            "    return loss.item()\n")}),
    # the loss_fn argument ignored: the notebook's classification_loss is called in its place
    Variant("step_ignores_its_loss_fn",
            fails=("step_returns_float", "step_updates_parameters", "step_clears_old_gradients"), answers={
        "train_step": (
            "def train_step(model, xb, yb, optimizer, loss_fn):\n"
            "    optimizer.zero_grad()\n"
            "    loss = classification_loss(model(xb), yb)\n"
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
    Variant("evaluate_forgets_eval_mode", fails=("eval_in_eval_mode",), answers={
        "evaluate": (
            "def evaluate(model, x, y):\n"
            "    with torch.no_grad():\n"
            "        predictions = model(x).argmax(dim=1)\n"
            "    return (predictions == y).float().mean().item()\n")}),
    # the same, and a finalizer on the probe's input (run as the probe's locals go, after its last record)
    # rewrites the probe's record of the eval-mode flag it saw: what is sent is each value as it was recorded
    Variant("evaluate_forgets_eval_mode_and_rewrites_the_flag", fails=("eval_in_eval_mode",), answers={
        "evaluate": (
            "import sys\n"
            "import weakref\n\n\n"
            "def evaluate(model, x, y):\n"
            "    student, frame = None, sys._getframe(1)\n"
            "    while frame is not None and student is None:\n"
            "        candidate = frame.f_locals.get('self')\n"
            "        if hasattr(candidate, 'values') and hasattr(candidate, 'ns'):\n"
            "            student = candidate\n"
            "        frame = frame.f_back\n"
            "    with torch.no_grad():\n"
            "        predictions = model(x).argmax(dim=1)\n"
            "    if student is not None:\n"
            "        values = student.values\n"
            "        weakref.finalize(x, values.update, eval_mode={'kind': 'scalar', 'type': 'bool', 'value': True})\n"
            "    return (predictions == y).float().mean().item()\n")}),
    # the same, and a gc callback (collections made frequent) rewrites the flag in the record the runner copies
    # and signs, found through the frames: no collection runs while a record is made, copied and signed
    Variant("evaluate_forgets_eval_mode_and_rewrites_the_signed_copy", fails=("eval_in_eval_mode",), answers={
        "evaluate": (
            "import gc\n"
            "import sys\n\n\n"
            "def _rewrite(phase, info):\n"
            "    frame = sys._getframe(1)\n"
            "    while frame is not None:\n"
            "        record = frame.f_locals.get('record') if frame.f_code.co_name == 'emit' else None\n"
            "        if isinstance(record, dict) and 'eval_mode' in record.get('values', {}):\n"
            "            record['values']['eval_mode'] = {'kind': 'scalar', 'type': 'bool', 'value': True}\n"
            "        frame = frame.f_back\n\n\n"
            "def evaluate(model, x, y):\n"
            "    if _rewrite not in gc.callbacks:\n"
            "        gc.callbacks.append(_rewrite)\n"
            "        gc.set_threshold(1, 1, 1)\n"
            "    with torch.no_grad():\n"
            "        predictions = model(x).argmax(dim=1)\n"
            "    return (predictions == y).float().mean().item()\n")}),
    # the parameters changed in place, then the comparison the probe used to make in the kernel replaced: the
    # parameters are compared with the solution's in the grader
    Variant("evaluate_shrinks_parameters_and_redefines_equal", fails=("eval_leaves_no_gradients",), answers={
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
    Variant("evaluate_sets_only_the_containers_training_flag", fails=("eval_in_eval_mode",), answers={
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
    Variant("evaluate_backpropagates_loss", fails=("eval_without_autograd", "eval_leaves_no_gradients"), answers={
        "evaluate": (
            "def evaluate(model, x, y):\n"
            "    model.eval()\n"
            "    logits = model(x)\n"
            "    loss = F.cross_entropy(logits, y)\n"
            "    loss.backward()  # 'to see the validation loss', copied from train_step\n"
            "    return (logits.argmax(dim=1) == y).float().mean().item()\n")}),
    Variant("evaluate_returns_tensor", fails=("eval_accuracy_value",), answers={
        "evaluate": (
            "def evaluate(model, x, y):\n"
            "    model.eval()\n"
            "    with torch.no_grad():\n"
            "        predictions = model(x).argmax(dim=1)\n"
            "    return (predictions == y).float().mean()\n")}),
    # switched off for the rest of the notebook: charged here, and fit's probe still judges fit on its own
    # (its checks pass); the notebook's own training cell then cannot backpropagate, so the model is untrained
    Variant("evaluate_switches_autograd_off", fails=("eval_leaves_no_gradients", *TRAINED), answers={
        "evaluate": (
            "def evaluate(model, x, y):\n"
            "    model.eval()\n"
            "    torch.set_grad_enabled(False)  # no autograd while evaluating\n"
            "    predictions = model(x).argmax(dim=1)\n"
            "    return (predictions == y).float().mean().item()\n")}),
    Variant("fit_history_of_tensors", fails=("fit_loss_history",), answers={
        "fit": (
            "def fit(model, x, y, loss_fn, epochs, lr, batch_size, seed):\n"
            "    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)\n"
            "    generator = torch.Generator().manual_seed(seed)\n"
            "    history = []\n"
            "    for epoch in range(epochs):\n"
            "        model.train()\n"
            "        order = torch.randperm(len(x), generator=generator).to(x.device)\n"
            "        losses = []\n"
            "        for start in range(0, len(x), batch_size):\n"
            "            idx = order[start:start + batch_size]\n"
            "            losses.append(train_step(model, x[idx], y[idx], optimizer, loss_fn))\n"
            "        history.append(torch.tensor(losses).mean())\n"
            "    return history\n")}),
    # the loss_fn argument ignored: the notebook's classification_loss is called in its place
    Variant("fit_ignores_its_loss_fn", fails=("fit_loss_history", "fit_trained_parameters"), answers={
        "fit": (
            "def fit(model, x, y, loss_fn, epochs, lr, batch_size, seed):\n"
            "    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)\n"
            "    generator = torch.Generator().manual_seed(seed)\n"
            "    history = []\n"
            "    for epoch in range(epochs):\n"
            "        model.train()\n"
            "        order = torch.randperm(len(x), generator=generator).to(x.device)\n"
            "        losses = []\n"
            "        for start in range(0, len(x), batch_size):\n"
            "            idx = order[start:start + batch_size]\n"
            "            losses.append(train_step(model, x[idx], y[idx], optimizer, classification_loss))\n"
            "        history.append(sum(losses) / len(losses))\n"
            "    return history\n")}),
    Variant("no_shuffle", fails=("fit_loss_history", "fit_trained_parameters", *TRAINED), answers={
        "fit": (
            "def fit(model, x, y, loss_fn, epochs, lr, batch_size, seed):\n"
            "    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)\n"
            "    history = []\n"
            "    for epoch in range(epochs):\n"
            "        model.train()\n"
            "        losses = []\n"
            "        for start in range(0, len(x), batch_size):\n"
            "            xb, yb = x[start:start + batch_size], y[start:start + batch_size]\n"
            "            losses.append(train_step(model, xb, yb, optimizer, loss_fn))\n"
            "        history.append(sum(losses) / len(losses))\n"
            "    return history\n")}),
    Variant("fit_forgets_train_mode", fails=("fit_trains_in_train_mode",), answers={
        "fit": (
            "def fit(model, x, y, loss_fn, epochs, lr, batch_size, seed):\n"
            "    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)\n"
            "    generator = torch.Generator().manual_seed(seed)\n"
            "    history = []\n"
            "    for epoch in range(epochs):\n"
            "        order = torch.randperm(len(x), generator=generator).to(x.device)\n"
            "        losses = []\n"
            "        for start in range(0, len(x), batch_size):\n"
            "            idx = order[start:start + batch_size]\n"
            "            losses.append(train_step(model, x[idx], y[idx], optimizer, loss_fn))\n"
            "        history.append(sum(losses) / len(losses))\n"
            "    return history\n")}),
    # the probe's forward hook (reachable from the model) rewrapped: it is handed a module whose layers are all in
    # eval mode and a detached output, while the real pass ran in training mode with autograd (watch_forward)
    Variant("cheat_evaluate_rewraps_the_probes_hook", fails=("eval_in_eval_mode", "eval_without_autograd"), answers={
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
            + ("def fit(model, x, y, loss_fn, epochs, lr, batch_size, seed):\n"
            "    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)\n"
            "    generator = torch.Generator().manual_seed(seed)\n"
            "    history = []\n"
            "    for epoch in range(epochs):\n"
            "        order = torch.randperm(len(x), generator=generator).to(x.device)\n"
            "        losses = []\n"
            "        for start in range(0, len(x), batch_size):\n"
            "            idx = order[start:start + batch_size]\n"
            "            losses.append(train_step(model, x[idx], y[idx], optimizer, loss_fn))\n"
            "        history.append(sum(losses) / len(losses))\n"
            "    return history\n").replace("    optimizer = ", "    _rewrap(model)\n    optimizer = ", 1))}),
    Variant("lr_too_high", fails=TRAINED, answers={"train_model": _train_model(lr=2.0)}),
    Variant("stops_training_too_early", fails=("trained_model_accuracy",),
            answers={"train_model": _train_model(epochs=2)}),
    # -- a cheat: what the student's code can reach while the probes run earns nothing --------------------
    # a model that never trained, reading the held-out labels from the frames of whoever calls it
    Variant("cheat_model_reads_callers_labels", fails=TRAINED, answers={
        "train_model": (
            "import sys\n"
            "\n"
            "class Oracle(nn.Module):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            "        self.bias = nn.Parameter(torch.zeros(3))\n"
            "\n"
            "    def forward(self, inp):\n"
            "        f = sys._getframe(1)\n"
            "        while f is not None:\n"
            "            for value in list(f.f_locals.values()):\n"
            "                if isinstance(value, torch.Tensor) and value.dtype == torch.int64 and value.shape == (len(inp),):\n"
            "                    return F.one_hot(value, 3).float() + self.bias\n"
            "            f = f.f_back\n"
            "        return self.bias.expand(len(inp), 3)\n"
            "\n"
            "\n"
            "model = Oracle().to(DEVICE)\n"
            "history = [0.0]\n")}),
    # a model that never trained, calling whatever draws the held-out split that it finds in its callers' frames
    # (a function named held_out, among their locals or globals) and answering with those labels
    Variant("cheat_model_calls_callers_held_out_generator", fails=TRAINED, answers={
        "train_model": (
            "import sys\n"
            "\n"
            "class Oracle(nn.Module):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            "        self.bias = nn.Parameter(torch.zeros(3))\n"
            "\n"
            "    def forward(self, inp):\n"
            "        f = sys._getframe(1)\n"
            "        while f is not None:\n"
            "            for space in (f.f_locals, f.f_globals):\n"
            "                for name, fn in list(space.items()):\n"
            "                    if 'held_out' in name and callable(fn):\n"
            "                        try:\n"
            "                            got = fn()\n"
            "                        except Exception:\n"
            "                            continue\n"
            "                        if isinstance(got, tuple) and len(got) == 2 and len(got[1]) == len(inp):\n"
            "                            return F.one_hot(torch.as_tensor(got[1]), 3).float().to(inp.device) * 10 + self.bias\n"
            "            f = f.f_back\n"
            "        return self.bias.expand(len(inp), 3)\n"
            "\n"
            "\n"
            "model = Oracle().to(DEVICE)\n"
            "history = [0.0]\n")}),
    # not the model the question asks for: a make_mlp network that never trained, held by a module whose forward
    # answers with the arms' own geometry (radius and angle), which reaches the solution's accuracy
    Variant("cheat_model_computes_spiral_rule", fails=TRAINED, answers={
        "train_model": (
            "class SpiralRule(nn.Module):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            "        self.net = make_mlp(2, 128, 3)\n"
            "\n"
            "    def forward(self, x):\n"
            "        r = x.norm(dim=1) / 2\n"
            "        theta = torch.atan2(x[:, 1], x[:, 0]) - 1.75 * math.pi * r\n"
            "        centres = 2 * math.pi * torch.arange(3, device=x.device, dtype=x.dtype) / 3\n"
            "        return 5 * torch.cos(theta[:, None] - centres) + 0 * self.net(x)\n"
            "\n"
            "\n"
            "torch.manual_seed(SEED)\n"
            "model = SpiralRule().to(DEVICE)\n"
            "history = [0.0]\n")}),
    # the same rule hidden in the "activation" of an MLP of make_mlp's shapes whose linear layers are set by hand
    Variant("cheat_spiral_rule_as_activation", fails=TRAINED, answers={
        "train_model": (
            "class Unwind(nn.Module):\n"
            "    def forward(self, h):\n"
            "        theta = torch.atan2(h[:, 1], h[:, 0]) - 1.75 * math.pi * h.norm(dim=1) / 2\n"
            "        return torch.stack([theta.cos(), theta.sin()], dim=1)\n"
            "\n"
            "\n"
            "torch.manual_seed(SEED)\n"
            "model = make_mlp(2, 2, 3)\n"
            "model[1] = Unwind()\n"
            "with torch.no_grad():\n"
            "    model[0].weight.copy_(torch.eye(2))\n"
            "    model[0].bias.zero_()\n"
            "    centres = 2 * math.pi * torch.arange(3) / 3\n"
            "    model[2].weight.copy_(5 * torch.stack([centres.cos(), centres.sin()], dim=1))\n"
            "    model[2].bias.zero_()\n"
            "model = model.to(DEVICE)\n"
            "history = [0.0]\n")}),
    # the spiral rule again, from a global forward hook that answers for any module given the points: the probe's
    # copy of the model's layers would answer the same, so the hook's presence is what costs the points
    Variant("cheat_global_forward_hook_answers_for_the_model", fails=TRAINED, answers={
        "train_model": (
            "def unwind(module, inputs, output):\n"
            "    x = inputs[0]\n"
            "    if x.ndim != 2 or x.shape[1] != 2 or output.shape[-1] != 3:\n"
            "        return None\n"
            "    theta = torch.atan2(x[:, 1], x[:, 0]) - 1.75 * math.pi * x.norm(dim=1) / 2\n"
            "    centres = 2 * math.pi * torch.arange(3, device=x.device, dtype=x.dtype) / 3\n"
            "    return 5 * torch.cos(theta[:, None] - centres)\n"
            "\n"
            "\n"
            "torch.manual_seed(SEED)\n"
            "model = make_mlp(2, 128, 3).to(DEVICE)\n"
            "history = [0.0]\n"
            "torch.nn.modules.module.register_module_forward_hook(unwind)\n")}),
    # nearest neighbours over the training set: no network, no training
    Variant("cheat_model_is_nearest_neighbours", fails=TRAINED, answers={
        "train_model": (
            "class Neighbours(nn.Module):\n"
            "    def __init__(self, x, y):\n"
            "        super().__init__()\n"
            "        self.register_buffer(\"x\", x.clone())\n"
            "        self.register_buffer(\"y\", y.clone())\n"
            "        self.scale = nn.Parameter(torch.ones(1))\n"
            "\n"
            "    def forward(self, q):\n"
            "        nearest = torch.cdist(q, self.x).topk(15, largest=False).indices\n"
            "        return self.scale * F.one_hot(self.y[nearest], 3).sum(1).to(q.dtype)\n"
            "\n"
            "\n"
            "torch.manual_seed(SEED)\n"
            "model = Neighbours(x_train, y_train).to(DEVICE)\n"
            "history = [0.0]\n")}),
    # an MLP wrapped once more (nn.Sequential around make_mlp's): the same layers, the same outputs
    Variant("alternative_model_wrapped_in_sequential", kind="alternative", answers={
        "train_model": (
            "torch.manual_seed(SEED)\n"
            "model = nn.Sequential(make_mlp(2, 96, 3)).to(DEVICE)\n"
            "history = fit(model, x_train, y_train, classification_loss, epochs=35, lr=0.15, batch_size=48, seed=SEED)\n")}),
]
