"""Known submissions of 03-softmax-nll that prove the hidden checks.

Alternatives are correct answers written differently: they must keep full marks.
Mutants are plausible wrong answers named after the misconception they encode:
each must fail exactly the checks listed in ``fails``. Keys of ``answers`` are
the solution cells' grade ids; values are the whole cell as a student writes it.
Because the probes put correct versions of the earlier questions' functions in
place while they grade a later question, a mutant of one question fails checks of
that question only.
"""

from course_lib.synth import Variant

# every check of softmax and of log_softmax: the input left unchanged counts only once the values are right
SOFTMAX_CHECKS = ("softmax_values", "softmax_large_logits", "softmax_rows_far_apart", "softmax_other_dim",
                  "softmax_keeps_input")
LOG_SOFTMAX_CHECKS = ("log_softmax_values", "log_softmax_large_logits", "log_softmax_confident",
                      "log_softmax_keeps_input")
GRAD_CHECKS = ("ce_grad_batch_mean", "ce_grad_single_example", "ce_grad_large_logits")  # every check of cross_entropy_grad

VARIANTS = [
    Variant("solution", kind="solution"),
    # -- alternative correct solutions ----------------------------------------------------------
    Variant("alternative_logsumexp_and_gather", kind="alternative", answers={
        "softmax": (
            "def softmax(logits, dim=-1):\n"
            "    return torch.exp(logits - torch.logsumexp(logits, dim=dim, keepdim=True))\n"),
        "log_softmax": (
            "def log_softmax(logits, dim=-1):\n"
            "    m = logits.amax(dim=dim, keepdim=True)\n"
            "    lse = m + torch.log(torch.sum(torch.exp(logits - m), dim=dim, keepdim=True))\n"
            "    return logits - lse\n"),
        "nll_loss": (
            "def nll_loss(log_probs, targets, reduction=\"mean\"):\n"
            "    picked = log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)\n"
            "    return {\"mean\": -picked.mean(), \"none\": -picked}[reduction]\n"),
        "cross_entropy": (
            "def cross_entropy(logits, targets, reduction=\"mean\"):\n"
            "    one_hot = F.one_hot(targets, logits.shape[1]).to(logits.dtype)\n"
            "    losses = -(one_hot * log_softmax(logits)).sum(dim=1)\n"
            "    return losses.mean() if reduction == \"mean\" else losses\n"),
        "cross_entropy_grad": (
            "def cross_entropy_grad(logits, targets):\n"
            "    grad = softmax(logits).clone()\n"
            "    grad[torch.arange(len(targets), device=targets.device), targets] -= 1\n"
            "    return grad / len(targets)\n"),
        "bits_and_perplexity": (
            "def cross_entropy_bits(logits, targets):\n"
            "    rows = torch.arange(len(targets), device=logits.device)\n"
            "    return -(log_softmax(logits)[rows, targets] / math.log(2)).mean()\n\n\n"
            "def perplexity(logits, targets):\n"
            "    return 2 ** cross_entropy_bits(logits, targets)\n"),
        "bce_with_logits": (
            "def bce_with_logits(logits, targets):\n"
            "    softplus_neg = torch.relu(-logits) + torch.log1p(torch.exp(-torch.abs(logits)))\n"
            "    return torch.mean((1 - targets) * logits + softplus_neg)\n"),
    }),
    Variant("alternative_movedim_loops_and_where", kind="alternative", answers={
        "softmax": (
            "def softmax(logits, dim=-1):\n"
            "    x = logits.movedim(dim, -1)\n"
            "    e = (x - x.max(-1, keepdim=True).values).exp()\n"
            "    return (e / e.sum(-1, keepdim=True)).movedim(-1, dim)\n"),
        "log_softmax": (
            "def log_softmax(logits, dim=-1):\n"
            "    x = logits.movedim(dim, -1)\n"
            "    z = x - x.max(-1, keepdim=True).values\n"
            "    return (z - z.exp().sum(-1, keepdim=True).log()).movedim(-1, dim)\n"),
        "nll_loss": (
            "def nll_loss(log_probs, targets, reduction=\"mean\"):\n"
            "    losses = torch.stack([-log_probs[i, t] for i, t in enumerate(targets.tolist())])\n"
            "    if reduction == \"none\":\n"
            "        return losses\n"
            "    return losses.sum() / len(losses)\n"),
        "cross_entropy": (
            "def cross_entropy(logits, targets, reduction=\"mean\"):\n"
            "    losses = nll_loss(log_softmax(logits), targets, reduction=\"none\")\n"
            "    return losses if reduction == \"none\" else losses.mean()\n"),
        "cross_entropy_grad": (
            "def cross_entropy_grad(logits, targets):\n"
            "    one_hot = torch.zeros_like(logits)\n"
            "    one_hot[torch.arange(logits.shape[0]), targets] = 1.0\n"
            "    probs = torch.exp(log_softmax(logits))\n"
            "    return (probs - one_hot) / logits.shape[0]\n"),
        "bits_and_perplexity": (
            "def cross_entropy_bits(logits, targets):\n"
            "    return cross_entropy(logits, targets) * math.log2(math.e)\n\n\n"
            "def perplexity(logits, targets):\n"
            "    return torch.exp(cross_entropy_bits(logits, targets) * math.log(2))\n"),
        "bce_with_logits": (
            "def bce_with_logits(logits, targets):\n"
            "    softplus = torch.where(logits > 0, logits + torch.log1p(torch.exp(-logits)),\n"
            "                           torch.log1p(torch.exp(logits)))\n"
            "    return (softplus - targets * logits).mean()\n"),
    }),
    # elementary operations near the refused ones: logaddexp builds softplus, exp of a log-softmax a softmax
    Variant("alternative_logaddexp_softplus", kind="alternative", answers={
        "cross_entropy_grad": (
            "def cross_entropy_grad(logits, targets):\n"
            "    probs = log_softmax(logits).exp()\n"
            "    return (probs - F.one_hot(targets, logits.shape[1]).to(probs.dtype)) / len(targets)\n"),
        "bce_with_logits": (
            "def bce_with_logits(logits, targets):\n"
            "    return (torch.logaddexp(torch.zeros_like(logits), logits) - targets * logits).mean()\n"),
    }),
    # torch.logsumexp where the rules allow it (softmax), take_along_dim, scatter_ one-hot, log2(e), logaddexp
    Variant("alternative_logsumexp_outside_question_2", kind="alternative", answers={
        "softmax": (
            "def softmax(logits, dim=-1):\n"
            "    return torch.exp(logits - torch.logsumexp(logits, dim=dim, keepdim=True))\n"),
        "log_softmax": (
            "def _lse(x, dim):\n"
            "    m = x.max(dim=dim, keepdim=True).values.detach()\n"
            "    return m + torch.log(torch.sum(torch.exp(x - m), dim=dim, keepdim=True))\n"
            "\n"
            "def log_softmax(logits, dim=-1):\n"
            "    return logits - _lse(logits, dim)\n"),
        "nll_loss": (
            "def nll_loss(log_probs, targets, reduction='mean'):\n"
            "    losses = -torch.take_along_dim(log_probs, targets[:, None], dim=1).squeeze(1)\n"
            "    if reduction == 'none':\n"
            "        return losses\n"
            "    elif reduction == 'sum':\n"
            "        return losses.sum()\n"
            "    return losses.mean()\n"),
        "cross_entropy": (
            "def cross_entropy(logits, targets, reduction='mean'):\n"
            "    log_probs = log_softmax(logits, dim=1)\n"
            "    return nll_loss(log_probs, targets, reduction)\n"),
        "cross_entropy_grad": (
            "def cross_entropy_grad(logits, targets):\n"
            "    B, K = logits.shape\n"
            "    p = softmax(logits, dim=1)\n"
            "    onehot = torch.zeros_like(p).scatter_(1, targets.view(-1, 1), 1.0)\n"
            "    return (p - onehot) / B\n"),
        "bits_and_perplexity": (
            "def cross_entropy_bits(logits, targets):\n"
            "    return cross_entropy(logits, targets) * math.log2(math.e)\n"
            "\n"
            "def perplexity(logits, targets):\n"
            "    return 2 ** cross_entropy_bits(logits, targets)\n"),
        "bce_with_logits": (
            "def bce_with_logits(logits, targets):\n"
            "    # log sigmoid(x) = -softplus(-x), and log(1 - sigmoid(x)) = log sigmoid(x) - x\n"
            "    log_sig = -(torch.clamp(-logits, min=0) + torch.log1p(torch.exp(-logits.abs())))\n"
            "    return -(targets * log_sig + (1 - targets) * (log_sig - logits)).mean()\n"),
    }),
    # shifts in place on its own copy, float64 inside; log1p of the sum less one; picks with diagonal()
    Variant("alternative_copies_float64_and_diagonal", kind="alternative", answers={
        "softmax": (
            "def softmax(logits, dim=-1):\n"
            "    z = logits.double().clone()\n"
            "    z -= z.max(dim, keepdim=True)[0]\n"
            "    e = torch.exp(z)\n"
            "    return (e * (1.0 / e.sum(dim, keepdim=True))).to(logits.dtype)\n"),
        "log_softmax": (
            "def log_softmax(logits, dim=-1):\n"
            "    with torch.no_grad():\n"
            "        m = logits.amax(dim, keepdim=True)\n"
            "    s = torch.exp(logits - m).sum(dim, keepdim=True)\n"
            "    return logits - (m + torch.log1p(s - 1))\n"),
        "nll_loss": (
            "def nll_loss(log_probs, targets, reduction=\"mean\"):\n"
            "    losses = -torch.diagonal(log_probs[:, targets])\n"
            "    return losses if reduction == \"none\" else losses.mean()\n"),
        "cross_entropy_grad": (
            "def cross_entropy_grad(logits, targets):\n"
            "    p = softmax(logits, dim=1)\n"
            "    p[torch.arange(len(targets), device=targets.device), targets] -= 1\n"
            "    return p / len(targets)\n"),
        "bits_and_perplexity": (
            "def cross_entropy_bits(logits, targets):\n"
            "    return cross_entropy(logits, targets) * math.log2(math.e)\n\n\n"
            "def perplexity(logits, targets):\n"
            "    return 2 ** cross_entropy_bits(logits, targets)\n"),
        "bce_with_logits": (
            "def bce_with_logits(logits, targets):\n"
            "    sp = torch.where(logits > 0, logits + torch.log1p(torch.exp(-logits)),\n"
            "                     torch.log1p(torch.exp(logits)))\n"
            "    return torch.mean(sp - targets * logits)\n"),
    }),
    # -- misconceptions ---------------------------------------------------------------------------
    Variant("softmax_over_first_axis", fails=SOFTMAX_CHECKS, answers={
        "softmax": (
            "def softmax(logits, dim=-1):\n"
            "    exps = torch.exp(logits - logits.max(dim=0, keepdim=True).values)\n"
            "    return exps / exps.sum(dim=0, keepdim=True)\n")}),
    Variant("log_softmax_forgets_the_log",
            fails=LOG_SOFTMAX_CHECKS, answers={
        "log_softmax": (
            "def log_softmax(logits, dim=-1):\n"
            "    shifted = logits - logits.max(dim=dim, keepdim=True).values\n"
            "    return shifted - torch.exp(shifted).sum(dim=dim, keepdim=True)\n")}),
    # a global setting changed by one function is charged in its own question only (the probes reset it)
    Variant("log_softmax_switches_default_dtype",
            fails=LOG_SOFTMAX_CHECKS, answers={
        "log_softmax": (
            "def log_softmax(logits, dim=-1):\n"
            "    torch.set_default_dtype(torch.float64)  # more precision for the logs\n"
            "    x = logits.to(torch.get_default_dtype())\n"
            "    shifted = x - x.max(dim=dim, keepdim=True).values\n"
            "    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))\n")}),
    # the rules: PyTorch's ready-made versions raise inside the student's functions while they are graded
    Variant("softmax_calls_torch_softmax", fails=SOFTMAX_CHECKS, answers={
        "softmax": (
            "def softmax(logits, dim=-1):\n"
            "    return torch.softmax(logits, dim=dim)\n")}),
    Variant("log_softmax_calls_logsumexp",
            fails=LOG_SOFTMAX_CHECKS, answers={
        "log_softmax": (
            "def log_softmax(logits, dim=-1):\n"
            "    return logits - torch.logsumexp(logits, dim=dim, keepdim=True)\n")}),
    Variant("nll_calls_F_nll_loss", fails=("nll_mean_value", "nll_none_per_sample"), answers={
        "nll_loss": (
            "def nll_loss(log_probs, targets, reduction=\"mean\"):\n"
            "    return F.nll_loss(log_probs, targets, reduction=reduction)\n")}),
    Variant("cross_entropy_calls_nn_loss", fails=("ce_mean_value", "ce_none_per_sample", "ce_large_logits"),
            answers={
        "cross_entropy": (
            "def cross_entropy(logits, targets, reduction=\"mean\"):\n"
            "    return torch.nn.CrossEntropyLoss(reduction=reduction)(logits, targets)\n")}),
    Variant("bce_calls_F_bce_with_logits", fails=("bce_value", "bce_soft_targets", "bce_large_logits"), answers={
        "bce_with_logits": (
            "def bce_with_logits(logits, targets):\n"
            "    return F.binary_cross_entropy_with_logits(logits, targets)\n")}),
    # the same ready-made functions under other names: refused by the operation they run, not by their name
    Variant("softmax_calls_torch_special_softmax", fails=SOFTMAX_CHECKS, answers={
        "softmax": (
            "def softmax(logits, dim=-1):\n"
            "    return torch.special.softmax(logits, dim)\n")}),
    Variant("softmax_calls_aten_op", fails=SOFTMAX_CHECKS, answers={
        "softmax": (
            "def softmax(logits, dim=-1):\n"
            "    return torch.ops.aten._softmax(logits, dim, False)\n")}),
    Variant("log_softmax_calls_torch_special_log_softmax",
            fails=LOG_SOFTMAX_CHECKS, answers={
        "log_softmax": (
            "def log_softmax(logits, dim=-1):\n"
            "    return torch.special.log_softmax(logits, dim)\n")}),
    Variant("log_softmax_calls_torch_special_logsumexp",
            fails=LOG_SOFTMAX_CHECKS, answers={
        "log_softmax": (
            "def log_softmax(logits, dim=-1):\n"
            "    return logits - torch.special.logsumexp(logits, dim, keepdim=True)\n")}),
    Variant("nll_calls_torch_C_nll_loss", fails=("nll_mean_value", "nll_none_per_sample"), answers={
        "nll_loss": (
            "def nll_loss(log_probs, targets, reduction=\"mean\"):\n"
            "    mode = {\"none\": 0, \"mean\": 1}[reduction]\n"
            "    return torch._C._nn.nll_loss(log_probs, targets, None, mode, -100)\n")}),
    Variant("cross_entropy_calls_torch_C_cross_entropy_loss",
            fails=("ce_mean_value", "ce_none_per_sample", "ce_large_logits"), answers={
        "cross_entropy": (
            "def cross_entropy(logits, targets, reduction=\"mean\"):\n"
            "    return torch._C._nn.cross_entropy_loss(logits, targets, None, {\"none\": 0, \"mean\": 1}[reduction],\n"
            "                                          -100, 0.0)\n")}),
    Variant("grad_calls_torch_special_softmax",
            fails=GRAD_CHECKS, answers={
        "cross_entropy_grad": (
            "def cross_entropy_grad(logits, targets):\n"
            "    one_hot = F.one_hot(targets, logits.shape[1]).to(logits.dtype)\n"
            "    return (torch.special.softmax(logits, 1) - one_hot) / logits.shape[0]\n")}),
    Variant("bits_calls_torch_C_cross_entropy_loss", fails=("bits_value", "perplexity_value"), answers={
        "bits_and_perplexity": (
            "def cross_entropy_bits(logits, targets):\n"
            "    return torch._C._nn.cross_entropy_loss(logits, targets, None, 1, -100, 0.0) / math.log(2)\n\n\n"
            "def perplexity(logits, targets):\n"
            "    return 2 ** cross_entropy_bits(logits, targets)\n")}),
    Variant("bce_calls_torch_binary_cross_entropy_with_logits",
            fails=("bce_value", "bce_soft_targets", "bce_large_logits"), answers={
        "bce_with_logits": (
            "def bce_with_logits(logits, targets):\n"
            "    return torch.binary_cross_entropy_with_logits(logits, targets, None, None, 1)\n")}),
    Variant("bce_calls_softplus_module", fails=("bce_value", "bce_soft_targets", "bce_large_logits"), answers={
        "bce_with_logits": (
            "def bce_with_logits(logits, targets):\n"
            "    return (torch.nn.Softplus()(logits) - targets * logits).mean()\n")}),
    # the layers of the rule bypassed: each alone earned the question's points
    Variant("softmax_calls_torch_special_softmax_with_the_modes_off", fails=SOFTMAX_CHECKS, answers={
        "softmax": (
            "from torch.utils._python_dispatch import _disable_current_modes\n\n\n"
            "def softmax(logits, dim=-1):\n"
            "    with _disable_current_modes():\n"
            "        return torch.special.softmax(logits, dim)\n")}),
    Variant("bce_calls_torch_bce_with_logits_with_the_modes_off",
            fails=("bce_value", "bce_soft_targets", "bce_large_logits"), answers={
        "bce_with_logits": (
            "from torch.utils._python_dispatch import _disable_current_modes\n\n\n"
            "def bce_with_logits(logits, targets):\n"
            "    with _disable_current_modes():\n"
            "        return torch.binary_cross_entropy_with_logits(logits, targets, None, None, 1)\n")}),
    Variant("log_softmax_claims_trust_through_the_probes_frames",
            fails=LOG_SOFTMAX_CHECKS, answers={
        "log_softmax": (
            "import sys\n\n\n"
            "def log_softmax(logits, dim=-1):\n"
            "    counters, frame = [], sys._getframe(1)\n"
            "    while frame is not None:\n"
            "        counters += [getattr(v, 'trusted') for v in frame.f_locals.values()\n"
            "                     if isinstance(getattr(v, 'trusted', None), list)]\n"
            "        frame = frame.f_back\n"
            "    for counter in counters:\n"
            "        counter[0] += 1\n"
            "    try:\n"
            "        return torch.log_softmax(logits, dim)\n"
            "    finally:\n"
            "        for counter in counters:\n"
            "            counter[0] -= 1\n")}),
    Variant("softmax_calls_torch_refs_softmax", fails=SOFTMAX_CHECKS, answers={
        "softmax": (
            "from torch._refs import softmax as reference_softmax\n\n\n"
            "def softmax(logits, dim=-1):\n"
            "    return reference_softmax(logits, dim)\n")}),
    Variant("log_softmax_calls_torch_refs_log_softmax",
            fails=LOG_SOFTMAX_CHECKS, answers={
        "log_softmax": (
            "import torch._refs\n\n\n"
            "def log_softmax(logits, dim=-1):\n"
            "    return torch._refs.log_softmax(logits, dim)\n")}),
    Variant("softmax_no_max_subtraction", fails=("softmax_large_logits",), answers={
        "softmax": (
            "def softmax(logits, dim=-1):\n"
            "    exps = torch.exp(logits)\n"
            "    return exps / exps.sum(dim=dim, keepdim=True)\n")}),
    Variant("softmax_global_max", fails=("softmax_rows_far_apart",), answers={
        "softmax": (
            "def softmax(logits, dim=-1):\n"
            "    exps = torch.exp(logits - logits.max())\n"
            "    return exps / exps.sum(dim=dim, keepdim=True)\n")}),
    # the notebook says "do not modify your inputs": a shift in place returns the right numbers and earned 4 + 3
    Variant("softmax_shifts_input_in_place", fails=("softmax_keeps_input",), answers={
        "softmax": (
            "def softmax(logits, dim=-1):\n"
            "    logits -= logits.max(dim=dim, keepdim=True).values\n"
            "    exps = torch.exp(logits)\n"
            "    return exps / exps.sum(dim=dim, keepdim=True)\n")}),
    Variant("log_softmax_shifts_input_in_place", fails=("log_softmax_keeps_input",), answers={
        "log_softmax": (
            "def log_softmax(logits, dim=-1):\n"
            "    logits.sub_(logits.max(dim=dim, keepdim=True).values)\n"
            "    return logits - torch.log(torch.exp(logits).sum(dim=dim, keepdim=True))\n")}),
    # the max of the whole tensor: rows 400 apart leave some rows log 0 (no hidden input had rows far apart)
    Variant("log_softmax_global_max", fails=("log_softmax_large_logits",), answers={
        "log_softmax": (
            "def log_softmax(logits, dim=-1):\n"
            "    m = logits.max()\n"
            "    return logits - m - torch.log(torch.exp(logits - m).sum(dim=dim, keepdim=True))\n")}),
    # stable softmax, then the log: finite while every probability stays above float32's smallest (a logit
    # spread of ~30 kept them there, and it earned all 3 points)
    Variant("cross_entropy_log_of_softmax", fails=("ce_large_logits",), answers={
        "cross_entropy": (
            "def cross_entropy(logits, targets, reduction=\"mean\"):\n"
            "    return nll_loss(torch.log(softmax(logits, dim=1)), targets, reduction=reduction)\n")}),
    Variant("softmax_wrong_dim", fails=("softmax_other_dim",), answers={
        "softmax": (
            "def softmax(logits, dim=-1):\n"
            "    exps = torch.exp(logits - logits.max(dim=-1, keepdim=True).values)\n"
            "    return exps / exps.sum(dim=-1, keepdim=True)\n")}),
    Variant("log_softmax_log_of_softmax", fails=("log_softmax_confident",), answers={
        "log_softmax": (
            "def log_softmax(logits, dim=-1):\n"
            "    return torch.log(softmax(logits, dim=dim))\n")}),
    Variant("logsumexp_without_max", fails=("log_softmax_large_logits",), answers={
        "log_softmax": (
            "def log_softmax(logits, dim=-1):\n"
            "    return logits - torch.log(torch.exp(logits).sum(dim=dim, keepdim=True))\n")}),
    Variant("nll_takes_log_again", fails=("nll_mean_value", "nll_none_per_sample"), answers={
        "nll_loss": (
            "def nll_loss(log_probs, targets, reduction=\"mean\"):\n"
            "    rows = torch.arange(len(targets), device=targets.device)\n"
            "    losses = -torch.log(log_probs[rows, targets])\n"
            "    return losses.mean() if reduction == \"mean\" else losses\n")}),
    Variant("nll_sum_instead_of_mean", fails=("nll_mean_value",), answers={
        "nll_loss": (
            "def nll_loss(log_probs, targets, reduction=\"mean\"):\n"
            "    rows = torch.arange(len(targets), device=targets.device)\n"
            "    losses = -log_probs[rows, targets]\n"
            "    return losses.sum() if reduction == \"mean\" else losses\n")}),
    Variant("cross_entropy_on_probabilities", fails=("ce_mean_value", "ce_none_per_sample", "ce_large_logits"),
            answers={
        "cross_entropy": (
            "def cross_entropy(logits, targets, reduction=\"mean\"):\n"
            "    probs = softmax(logits)\n"
            "    return nll_loss(log_softmax(probs), targets, reduction=reduction)\n")}),
    Variant("cross_entropy_ignores_reduction", fails=("ce_none_per_sample",), answers={
        "cross_entropy": (
            "def cross_entropy(logits, targets, reduction=\"mean\"):\n"
            "    return nll_loss(log_softmax(logits), targets)\n")}),
    Variant("cross_entropy_naive_exp", fails=("ce_large_logits",), answers={
        "cross_entropy": (
            "def cross_entropy(logits, targets, reduction=\"mean\"):\n"
            "    probs = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)\n"
            "    return nll_loss(torch.log(probs), targets, reduction=reduction)\n")}),
    Variant("grad_missing_batch_division", fails=("ce_grad_batch_mean",), answers={
        "cross_entropy_grad": (
            "def cross_entropy_grad(logits, targets):\n"
            "    one_hot = F.one_hot(targets, logits.shape[1]).float()\n"
            "    return softmax(logits) - one_hot\n")}),
    # the rules: "from the formula: no backward() and no torch.autograd in this function"
    Variant("grad_by_autograd_grad", fails=GRAD_CHECKS,
            answers={"cross_entropy_grad": (
                "def cross_entropy_grad(logits, targets):\n"
                "    z = logits.detach().requires_grad_(True)\n"
                "    (grad,) = torch.autograd.grad(cross_entropy(z, targets), z)\n"
                "    return grad\n")}),
    Variant("grad_by_backward", fails=GRAD_CHECKS,
            answers={"cross_entropy_grad": (
                "def cross_entropy_grad(logits, targets):\n"
                "    z = logits.detach().clone().requires_grad_(True)\n"
                "    cross_entropy(z, targets).backward()\n"
                "    return z.grad\n")}),
    Variant("grad_by_torch_func", fails=GRAD_CHECKS,
            answers={"cross_entropy_grad": (
                "def cross_entropy_grad(logits, targets):\n"
                "    return torch.func.grad(lambda z: cross_entropy(z, targets))(logits)\n")}),
    Variant("grad_sign_flipped", fails=GRAD_CHECKS,
            answers={
        "cross_entropy_grad": (
            "def cross_entropy_grad(logits, targets):\n"
            "    one_hot = F.one_hot(targets, logits.shape[1]).float()\n"
            "    return (one_hot - softmax(logits)) / logits.shape[0]\n")}),
    # its own softmax, by the max of the whole batch: right for one example, and for the batch of moderate logits
    # the hidden test had (it earned all 3 points)
    Variant("grad_softmax_by_global_max", fails=("ce_grad_batch_mean",), answers={
        "cross_entropy_grad": (
            "def cross_entropy_grad(logits, targets):\n"
            "    exps = torch.exp(logits - logits.max())\n"
            "    probs = exps / exps.sum(dim=1, keepdim=True)\n"
            "    return (probs - F.one_hot(targets, logits.shape[1]).to(logits.dtype)) / logits.shape[0]\n")}),
    Variant("grad_naive_softmax", fails=("ce_grad_large_logits",), answers={
        "cross_entropy_grad": (
            "def cross_entropy_grad(logits, targets):\n"
            "    exps = torch.exp(logits)\n"
            "    probs = exps / exps.sum(dim=1, keepdim=True)\n"
            "    one_hot = F.one_hot(targets, logits.shape[1]).float()\n"
            "    return (probs - one_hot) / logits.shape[0]\n")}),
    Variant("bits_uses_natural_log", fails=("bits_value",), answers={
        "bits_and_perplexity": (
            "def cross_entropy_bits(logits, targets):\n"
            "    rows = torch.arange(len(targets), device=targets.device)\n"
            "    return -torch.log(softmax(logits)[rows, targets]).mean()\n\n\n"
            "def perplexity(logits, targets):\n"
            "    return torch.exp(cross_entropy(logits, targets))\n")}),
    Variant("perplexity_mixes_units", fails=("perplexity_value",), answers={
        "bits_and_perplexity": (
            "def cross_entropy_bits(logits, targets):\n"
            "    return cross_entropy(logits, targets) / math.log(2)\n\n\n"
            "def perplexity(logits, targets):\n"
            "    return 2 ** cross_entropy(logits, targets)\n")}),
    Variant("bce_without_logits", fails=("bce_large_logits",), answers={
        "bce_with_logits": (
            "def bce_with_logits(logits, targets):\n"
            "    p = torch.sigmoid(logits)\n"
            "    return -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).mean()\n")}),
    Variant("bce_targets_as_class_indices", fails=("bce_soft_targets",), answers={
        "bce_with_logits": (
            "def bce_with_logits(logits, targets):\n"
            "    x = logits.reshape(-1)\n"
            "    two_class = torch.stack([torch.zeros_like(x), x], dim=1)  # sigmoid = softmax over [0, x]\n"
            "    return cross_entropy(two_class, targets.reshape(-1).long())\n")}),
    Variant("bce_forgets_negative_class", fails=("bce_value", "bce_soft_targets", "bce_large_logits"), answers={
        "bce_with_logits": (
            "def bce_with_logits(logits, targets):\n"
            "    softplus_neg = torch.relu(-logits) + torch.log1p(torch.exp(-logits.abs()))\n"
            "    return (targets * softplus_neg).mean()\n")}),
    # -- runs that go wrong part-way: only the affected question is lost -------------------------
    Variant("error_in_one_cell", kind="error", fails=("bits_value", "perplexity_value"), answers={
        "bits_and_perplexity": (
            "LN2 = math.log(two)  # `two` was defined in a cell the student deleted\n\n"
            "def cross_entropy_bits(logits, targets):\n"
            "    return cross_entropy(logits, targets) / LN2\n\n\n"
            "def perplexity(logits, targets):\n"
            "    return torch.exp(cross_entropy(logits, targets))\n")}),
]
