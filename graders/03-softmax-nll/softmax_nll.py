"""Hidden checks for 03-softmax-nll (never released, never shown in feedback).

Each probe runs in the student's kernel right after the question's test cell and
calls the student's functions on inputs generated here from fixed seeds, on the
notebook's ``DEVICE``. The verdicts are computed in the grader process against the
solution's outputs, which the same probes record on the instructor's notebook run
the same way (same device, same seed).

One question, one mistake. Later functions are meant to call earlier ones
(``cross_entropy`` calls ``log_softmax`` and ``nll_loss``, ``cross_entropy_grad``
may call ``softmax``, ...). While a probe calls the functions of its own question,
it puts PyTorch's versions of the *earlier* questions' functions (``softmax``,
``log_softmax``, ``nll_loss``, ``cross_entropy``) in their place in the student's
namespace, and restores the student's own (or removes the name again) afterwards; it also
runs with autograd on, float32 as the default dtype, the CPU as the default device and
seeded generators, restoring the student's settings after (``JudgedAlone``), so a global
setting one function changed is not charged again in the questions after it.
A wrong ``log_softmax`` therefore costs points in Question 2 only, not again in
Questions 4-7; the notebook tells students so. The flip side: a student whose later
function only works *because* it compensates an earlier, wrong, function (say an
``nll_loss`` that takes probabilities, fed ``softmax`` by ``cross_entropy``) loses
the later question too.

The notebook's rules forbid PyTorch's ready-made versions inside the student's functions.
While a probe calls the student's functions they are refused, and a refused call raises a
``RuntimeError`` saying so, so a function that calls one loses its question's checks; the probes' own
code (outside those calls) may use them, and the earlier functions swapped in are made of elementary
operations (``earlier_functions``), so nothing the student's calls run is exempt:

* by name (``ready_made``): ``F.softmax``, ``torch.log_softmax``, ... raise with a message naming them;
* by operation (``ready_made_ops``, ``refusing_ops``): the same functions reached under any other name
  (``torch.special.softmax``, ``torch._C._nn.nll_loss``, ``torch.binary_cross_entropy_with_logits``,
  ``torch.ops.aten._softmax``, ``nn.CrossEntropyLoss``) end in the same few ATen operations, refused three
  times over: by a ``TorchDispatchMode`` active only around the student's calls, by torch's kernels of those
  operations on every backend (overridden for the same time, so switching the mode off with
  ``_disable_current_modes()`` reaches nothing), and in the code of torch's Python references and
  decompositions of them (``torch._refs.softmax``, ``torch._decomp``), which compute the same thing from
  elementary operations. Which operations each public function reaches was read off this torch version (the
  composite ones, ``softmax`` or ``cross_entropy_loss``, decompose into ``_softmax``, ``_log_softmax`` and
  ``nll_loss_forward`` before a dispatch mode sees them; their own names are listed too, for builds that
  dispatch them whole).

All of this runs in the student's interpreter, so it makes the simple routes fail (another name, the
mode switched off, the library's Python versions, the probe's frames), not every route: code that digs
the overriding library or the replaced code objects out of the garbage collector can undo them.

Hidden inputs target the misconceptions: logits around +1000 (a softmax or
log-sum-exp without the max subtracted overflows to nan/inf); rows of one batch
about 130 apart, for cross_entropy_grad 120 apart and for log_softmax 400 apart
(subtracting the max of the whole tensor instead of each row makes a whole row
underflow to 0/0, or to log 0);
cross-entropy's large logits spread ~150 wide (a log of its softmax is log 0 for
most targets; a spread of ~30 left every probability above float32's smallest); a
rank-3 tensor normalised along ``dim=1`` (the ``dim`` argument ignored); confident
logits where the wrong classes sit ~150 below the winner (``log(softmax(x))`` is
log 0 = -inf there); batches of 7-9 examples
(a sum instead of a mean, a missing division by the batch size) next to a single
example (so a missing division alone does not fail the other gradient checks);
binary logits of magnitude 50-200 with confidently wrong targets (sigmoid first,
log after: log 0); soft targets in (0, 1) (targets used as class indices).

Tolerances. Two classes of values, each with a tolerance far above the rounding
of correct float32 code and far below any misconception's error (a wrong axis, a
factor of the batch size, a sign, nan or inf: errors of 0.1 or more):

* Probabilities and gradients (entries in [-1, 1]): ``rtol=1e-4, atol=1e-6``.
  Correct solutions differ in how they stabilise: ``exp(x - max) / sum`` is
  accurate to a few ulps, but ``exp(x - logsumexp(x))`` is just as correct and,
  for logits near 1000, subtracts a log-sum-exp rounded to float32 near 1000
  (ulp 6.1e-5): a relative error up to ~3e-5 in every probability. ``rtol=1e-4``
  covers it; ``atol=1e-6`` covers tiny probabilities and the cancellation in
  ``p - 1`` for a confident correct class.
* Log-probabilities and losses (values up to a few hundred): ``rtol=1e-5,
  atol=1e-4``. ``x - logsumexp(x)`` near 1000 carries that same absolute error of
  up to 3e-5 (which ``atol=1e-4`` absorbs); large losses (50-200 nats) are sums of
  terms rounded at their own magnitude, a relative 1e-6 (well under ``rtol``).
  A sigmoid-then-log BCE is *not* wrong on moderate logits (its error there is
  ~1e-6), so only the check with huge logits fails it, as intended.

Why a correct solution also passes on CUDA. The reference is the solution run on
the same device as the submission, so a student's CUDA result is compared with the
solution's CUDA result, not with the CPU. During grading TF32 is off (none of these
functions multiplies matrices anyway), deterministic algorithms are requested and
all seeds are set, so each run is reproducible; the hidden inputs are generated on
the CPU from fixed ``torch.Generator`` seeds and then moved to the device, so both
runs see bit-identical inputs. What remains is the order of the reductions (sums
over at most 15 elements) and the last-ulp differences of ``exp``/``log``/
``log1p`` between CUDA's math library and the CPU's (CUDA documents at most 1-2
ulp for ``expf``/``logf``/``log1pf``): relative errors of order 1e-7, three
orders of magnitude below the tolerances above. Dtype and device are checked too:
results must be float32 tensors on the inputs' device. So is the notebook's "do not
modify your inputs" for softmax and log_softmax, where an in-place shift
(``logits -= logits.max(...)``) is the natural slip: the caller's logits as the call
left them are compared here with the solution's, bit for bit (it earned full marks before).
"""

from course_lib.judge import Check, JudgedAlone, Property, Question, Tensor, Untouched, autograd_routes

def ready_made(logsumexp=False):
    """The notebook's rules: PyTorch's ready-made versions the student's functions may not call.

    While a probe calls the student's functions they raise, saying so; the swapped-in earlier functions and
    the probe's own code may still use them. Question 2 also asks for the log-sum-exp trick by hand.
    """
    names = tuple(f"torch.nn.functional.{name}" for name in (
        "softmax", "log_softmax", "nll_loss", "cross_entropy", "binary_cross_entropy",
        "binary_cross_entropy_with_logits", "logsigmoid", "softplus"))
    names += ("torch.softmax", "torch.Tensor.softmax", "torch.log_softmax", "torch.Tensor.log_softmax")
    return names + (("torch.logsumexp", "torch.Tensor.logsumexp") if logsumexp else ())


def ready_made_ops(logsumexp=False):
    """ATen operation -> the ready-made function it implements, for the functions of :func:`ready_made`.

    Whatever Python name a student reaches them by, these are the operations they run; elementary operations
    (``exp``, ``log``, ``log1p``, ``amax``, ``sum``, ``gather``, ``one_hot``, ``sigmoid``, ``logsumexp``
    outside Question 2) are not among them.
    """
    ops = {}
    for name in ("_softmax", "softmax", "special_softmax", "_safe_softmax", "_masked_softmax", "_sparse_softmax"):
        ops[name] = "softmax"
    for name in ("_log_softmax", "log_softmax", "special_log_softmax", "_sparse_log_softmax"):
        ops[name] = "log_softmax"
    for name in ("nll_loss", "nll_loss_nd", "nll_loss_forward", "nll_loss2d", "nll_loss2d_forward"):
        ops[name] = "nll_loss"
    ops["cross_entropy_loss"] = "cross_entropy"
    ops["binary_cross_entropy"] = "binary_cross_entropy"
    ops["binary_cross_entropy_with_logits"] = "binary_cross_entropy_with_logits"
    ops["log_sigmoid"] = ops["log_sigmoid_forward"] = "logsigmoid"
    ops["softplus"] = "softplus"
    if logsumexp:  # Question 2 asks for the log-sum-exp trick by hand
        ops["logsumexp"] = ops["special_logsumexp"] = "logsumexp"
        ops["logcumsumexp"] = "logcumsumexp"
    return ops


def refused_library_code(*args, **kwargs):
    """What torch's Python versions of the ready-made functions run while they are refused (their code object)."""
    raise RuntimeError("this calls a Python version of one of PyTorch's ready-made functions (torch._refs, "
                       "torch._decomp), one of the functions this question asks you to write yourself (see the rules "
                       "at the top of the notebook)")


def refusing_ops(ops):
    """A context under which the ATen operations ``ops`` (and torch's Python versions of them) raise.

    Use it around the student's calls only (``with refusing_ops(ready_made_ops()): student.call(...)``), never
    around the probe's own computations. Each operation is refused three times over, so that switching one
    layer off reaches nothing: a ``TorchDispatchMode`` (where Python sees every operation), torch's own kernels
    of the operation on every backend it has (a student's ``_disable_current_modes()`` does not reach those),
    and the code of the Python references and decompositions of ``torch._refs`` and ``torch._decomp`` (which
    compute the same thing out of elementary operations). Nothing in it is trusted: the earlier questions'
    functions swapped in (:func:`earlier_functions`) are made of elementary operations, so a student's code
    that claims to be one of them gains nothing.
    """
    import inspect
    import warnings

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    def message(op):
        return (f"this calls PyTorch's ready-made {ops[op]} (the operation aten::{op}), one of the functions this "
                "question asks you to write yourself (see the rules at the top of the notebook)")

    def refuse_kernel(op):
        def kernel(*args, **kwargs):
            raise RuntimeError(message(op))
        return kernel

    backends = ("CPU", "CUDA", "MPS", "XPU", "HIP", "Mkldnn", "Sparse", "NestedTensor", "Quantized")

    def overloads():
        for op in ops:
            packet = getattr(torch.ops.aten, op, None)
            for overload in (packet.overloads() if packet is not None else ()):
                yield op, getattr(packet, overload), op if overload == "default" else f"{op}.{overload}"

    def kernel_keys(qualified):
        dump = torch._C._dispatch_dump(f"aten::{qualified}")
        keys = {line.split(":")[0].strip() for line in dump.splitlines()[4:] if ":" in line}
        return {"CPU", "CUDA"} | {k for k in keys if k.startswith(backends) and " " not in k and "[" not in k}

    def library_code():
        import torch._decomp
        import torch._refs
        import torch._refs.nn.functional
        import torch._refs.special

        found = [torch._decomp.decomposition_table.get(overload) for _, overload, _ in overloads()]
        names = set(ops) | set(ops.values())
        for module in (torch._refs, torch._refs.nn.functional, torch._refs.special):
            found += [getattr(module, name, None) for name in names]
        functions = {}
        for fn in found:
            if callable(fn):
                inner = inspect.unwrap(fn)
                if type(inner).__name__ == "function" and not inner.__code__.co_freevars:
                    functions[id(inner)] = inner
        return list(functions.values())

    class Refusing(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            namespace, _, op = str(func._schema.name).partition("::")
            if namespace == "aten" and op in ops:
                raise RuntimeError(message(op))
            return func(*args, **(kwargs or {}))

    class Refused:
        def __enter__(self):
            self.kernels, self.mode, self.codes = torch.library.Library("aten", "IMPL"), Refusing(), []
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # torch warns that a kernel is overridden
                    for op, _, qualified in overloads():
                        for key in kernel_keys(qualified):
                            try:
                                self.kernels.impl(qualified, refuse_kernel(op), key)
                            except Exception:  # a key this build cannot take a kernel for
                                pass
                for fn in library_code():
                    self.codes.append((fn, fn.__code__))
                    fn.__code__ = refused_library_code.__code__
                self.mode.__enter__()
            except BaseException:
                self.undo()
                raise
            return self

        def __exit__(self, *exc):
            try:
                self.mode.__exit__(*exc)
            finally:
                self.undo()
            return False

        def undo(self):
            for fn, code in reversed(self.codes):
                fn.__code__ = code
            self.codes = []
            self.kernels._destroy()

    return Refused()


def earlier_functions(*names):
    """Correct versions of the earlier questions' functions ``names``, made of elementary operations only.

    They stand in for the student's own while a probe calls a later question's functions
    (``JudgedAlone(student, earlier_functions("softmax"))``); calling none of the ready-made functions, they
    need no exception to the rules, which :func:`refusing_ops` enforces for everything the student's calls run.
    """
    def softmax(logits, dim=-1):
        shifted = logits - logits.amax(dim=dim, keepdim=True)
        exps = shifted.exp()
        return exps / exps.sum(dim=dim, keepdim=True)

    def log_softmax(logits, dim=-1):
        shifted = logits - logits.amax(dim=dim, keepdim=True)
        return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()

    def nll_loss(log_probs, targets, reduction="mean"):
        losses = -log_probs.gather(1, targets.reshape(-1, 1)).reshape(-1)
        if reduction == "none":
            return losses
        if reduction == "sum":
            return losses.sum()
        if reduction == "mean":
            return losses.mean()
        raise ValueError(f"{reduction} is not a valid value for reduction")

    def cross_entropy(logits, targets, reduction="mean"):
        return nll_loss(log_softmax(logits, dim=1), targets, reduction=reduction)

    functions = {"softmax": softmax, "log_softmax": log_softmax, "nll_loss": nll_loss, "cross_entropy": cross_entropy}
    return {name: functions[name] for name in names}


HELPERS = (JudgedAlone, ready_made, autograd_routes, ready_made_ops, refused_library_code, refusing_ops, earlier_functions)
PROBS = Tensor(rtol=1e-4, atol=1e-6)
UNTOUCHED = Untouched()
LOGS = Tensor(rtol=1e-5, atol=1e-4)


def probe_softmax(student):
    import torch

    with JudgedAlone(student, forbidden=ready_made()):
        g = torch.Generator().manual_seed(3101)
        device = student.ns.get("DEVICE", "cpu")
        moderate = (torch.randn(6, 5, generator=g) * 2).to(device)
        large = (torch.randn(5, 7, generator=g) * 4 + 1000).to(device)
        apart = torch.randn(4, 6, generator=g)
        apart[:2] += 70
        apart[2:] -= 60
        segmentation = (torch.randn(3, 4, 5, generator=g) * 2).to(device)
        apart = apart.to(device)
        with refusing_ops(ready_made_ops()):
            student.call("probs", "softmax", moderate)
            student.call("probs_large", "softmax", large)
            student.call("probs_apart", "softmax", apart)
            student.call("probs_dim1", "softmax", segmentation, 1)
        student.record("softmax_input_after", moderate)  # judged against the solution's untouched input


def probe_log_softmax(student):
    import torch

    earlier = earlier_functions("softmax")
    with JudgedAlone(student, earlier, forbidden=ready_made(logsumexp=True)):
        g = torch.Generator().manual_seed(3202)
        device = student.ns.get("DEVICE", "cpu")
        moderate = (torch.randn(6, 5, generator=g) * 2).to(device)
        large = torch.randn(4, 6, generator=g) * 3 + 1000
        large[2:] -= 400  # rows far apart: the max of the whole tensor leaves these rows log 0
        large = large.to(device)
        confident = torch.randn(5, 6, generator=g) * 2 - 150
        winners = torch.randint(0, 6, (5,), generator=g)
        confident[torch.arange(5), winners] += 150
        confident = confident.to(device)
        with refusing_ops(ready_made_ops(logsumexp=True)):
            student.call("log_probs", "log_softmax", moderate)
            student.call("log_probs_large", "log_softmax", large)
            student.call("log_probs_confident", "log_softmax", confident)
        student.record("log_softmax_input_after", moderate)


def probe_nll_loss(student):
    import torch

    earlier = earlier_functions("softmax", "log_softmax")
    with JudgedAlone(student, earlier, forbidden=ready_made()) as alone:
        g = torch.Generator().manual_seed(3303)
        device = student.ns.get("DEVICE", "cpu")
        log_probs = alone.original("torch.log_softmax")(torch.randn(7, 4, generator=g) * 2, dim=1).to(device)
        targets = torch.randint(0, 4, (7,), generator=g).to(device)
        with refusing_ops(ready_made_ops()):
            student.call("nll_mean", "nll_loss", log_probs, targets)
            student.call("nll_none", "nll_loss", log_probs, targets, reduction="none")


def probe_cross_entropy(student):
    import torch

    earlier = earlier_functions("softmax", "log_softmax", "nll_loss")
    with JudgedAlone(student, earlier, forbidden=ready_made()):
        g = torch.Generator().manual_seed(3404)
        device = student.ns.get("DEVICE", "cpu")
        logits = (torch.randn(9, 5, generator=g) * 2).to(device)
        targets = torch.randint(0, 5, (9,), generator=g).to(device)
        large = (torch.randn(6, 5, generator=g) * 150 + 1000).to(device)  # log(softmax) is log 0 for most
        large_targets = torch.randint(0, 5, (6,), generator=g).to(device)
        with refusing_ops(ready_made_ops()):
            student.call("ce_mean", "cross_entropy", logits, targets)
            student.call("ce_none", "cross_entropy", logits, targets, reduction="none")
            student.call("ce_large", "cross_entropy", large, large_targets)


def probe_cross_entropy_grad(student):
    import torch

    earlier = earlier_functions("softmax", "log_softmax", "nll_loss", "cross_entropy")
    with JudgedAlone(student, earlier, forbidden=ready_made() + autograd_routes()):
        g = torch.Generator().manual_seed(3505)
        device = student.ns.get("DEVICE", "cpu")
        batch = torch.randn(8, 5, generator=g) * 2
        batch[:4] += 60  # rows 120 apart: a softmax by the max of the whole batch is 0/0 in the lower rows,
        batch[4:] -= 60  # and exp of these logits stays finite, so only that mistake fails here
        batch = batch.to(device)
        batch_targets = torch.randint(0, 5, (8,), generator=g).to(device)
        single = (torch.randn(1, 6, generator=g) * 2).to(device)
        single_target = torch.randint(0, 6, (1,), generator=g).to(device)
        large = (torch.randn(1, 6, generator=g) * 3 + 1000).to(device)
        large_target = torch.randint(0, 6, (1,), generator=g).to(device)
        with refusing_ops(ready_made_ops()):
            student.call("grad_batch", "cross_entropy_grad", batch, batch_targets)
            student.call("grad_single", "cross_entropy_grad", single, single_target)
            student.call("grad_large", "cross_entropy_grad", large, large_target)


def probe_bits_and_perplexity(student):
    import torch

    earlier = earlier_functions("softmax", "log_softmax", "nll_loss", "cross_entropy")
    with JudgedAlone(student, earlier, forbidden=ready_made()):
        g = torch.Generator().manual_seed(3606)
        device = student.ns.get("DEVICE", "cpu")
        logits = (torch.randn(10, 8, generator=g) * 1.5).to(device)
        targets = torch.randint(0, 8, (10,), generator=g).to(device)
        with refusing_ops(ready_made_ops()):
            student.call("bits", "cross_entropy_bits", logits, targets)
            student.call("ppl", "perplexity", logits, targets)


def probe_bce_with_logits(student):
    import torch

    earlier = earlier_functions("softmax", "log_softmax", "nll_loss", "cross_entropy")
    with JudgedAlone(student, earlier, forbidden=ready_made()):
        g = torch.Generator().manual_seed(3707)
        device = student.ns.get("DEVICE", "cpu")
        logits = (torch.randn(12, generator=g) * 2).to(device)
        hard = torch.randint(0, 2, (12,), generator=g).float().to(device)
        soft_logits = (torch.randn(3, 5, generator=g) * 2).to(device)
        soft = (torch.rand(3, 5, generator=g) * 0.8 + 0.1).to(device)
        magnitude = torch.rand(10, generator=g) * 150 + 50
        far = torch.where(torch.arange(10) % 2 == 0, magnitude, -magnitude)
        far_targets = torch.randint(0, 2, (10,), generator=g).float()
        far_targets[:2] = torch.tensor([0.0, 1.0])  # at least two confidently wrong predictions
        far, far_targets = far.to(device), far_targets.to(device)
        with refusing_ops(ready_made_ops()):
            student.call("bce", "bce_with_logits", logits, hard)
            student.call("bce_soft", "bce_with_logits", soft_logits, soft)
            student.call("bce_far", "bce_with_logits", far, far_targets)


QUESTIONS = [
    Question("softmax_tests", probe_softmax, helpers=HELPERS, checks=[
        Check("softmax_values", 0.5, PROBS, key="probs",
              describe="softmax of a batch of logits along the last axis",
              hint="exponentiate, then divide by the sum along dim (keepdim=True so that it broadcasts)"),
        Check("softmax_large_logits", 1, PROBS, key="probs_large",
              describe="softmax stays finite and correct for very large logits",
              hint="exp overflows float32 above about 88: subtract the largest logit of each slice first"),
        Check("softmax_rows_far_apart", 1, PROBS, key="probs_apart",
              describe="softmax of a batch whose examples have logits hundreds apart",
              hint="subtract the max of each slice along dim (keepdim=True), not the max of the whole tensor: "
                   "otherwise every exponent of a whole row can underflow to 0, and 0/0 is nan"),
        Check("softmax_other_dim", 1, PROBS, key="probs_dim1",
              describe="softmax(x, dim=1) on a rank-3 tensor",
              hint="use the dim argument for both the max and the sum; the classes are not always on the last axis"),
        Property("softmax_keeps_input", 0.5, UNTOUCHED, key="softmax_input_after", requires=("softmax_values",),
                 describe="softmax leaves the caller's logits unchanged (\"do not modify your inputs\")",
                 hint="logits -= ... or sub_() changes the caller's tensor: compute shifted = logits - m instead"),
    ]),
    Question("log_softmax_tests", probe_log_softmax, helpers=HELPERS, checks=[
        Check("log_softmax_values", 0.5, LOGS, key="log_probs",
              describe="log_softmax of a batch of logits",
              hint="log softmax(z)_i = z_i - m - log(sum_j exp(z_j - m)), with m the max along dim"),
        Check("log_softmax_large_logits", 1, LOGS, key="log_probs_large",
              describe="log_softmax stays finite and correct for very large logits",
              hint="the sum of exp(z) overflows unless you subtract the max m first and add it back outside "
                   "the log; m is the max of each slice along dim, not of the whole tensor"),
        Check("log_softmax_confident", 1, LOGS, key="log_probs_confident",
              describe="log_softmax of a confident model (some classes extremely unlikely)",
              hint="log(softmax(z)) is log 0 = -inf when a probability underflows; subtract the log-sum-exp "
                   "from the logits instead of taking the log of probabilities"),
        Property("log_softmax_keeps_input", 0.5, UNTOUCHED, key="log_softmax_input_after",
                 requires=("log_softmax_values",),
                 describe="log_softmax leaves the caller's logits unchanged (\"do not modify your inputs\")",
                 hint="logits -= ... or sub_() changes the caller's tensor: compute shifted = logits - m instead"),
    ]),
    Question("nll_loss_tests", probe_nll_loss, helpers=HELPERS, checks=[
        Check("nll_mean_value", 1, LOGS, key="nll_mean",
              describe="nll_loss with the default reduction='mean'",
              hint="average -log_probs[i, targets[i]] over the batch (a sum is batch-size times too big); "
                   "log_probs are logarithms already, so take no further log"),
        Check("nll_none_per_sample", 1, LOGS, key="nll_none",
              describe="nll_loss with reduction='none' gives one loss per example",
              hint="the loss of example i is -log_probs[i, targets[i]]: pick and negate, no log"),
    ]),
    Question("cross_entropy_tests", probe_cross_entropy, helpers=HELPERS, checks=[
        Check("ce_mean_value", 1, LOGS, key="ce_mean",
              describe="cross_entropy of logits with the default reduction='mean'",
              hint="cross_entropy is nll_loss(log_softmax(logits), targets): give it the logits themselves, "
                   "the softmax is already inside log_softmax"),
        Check("ce_none_per_sample", 1, LOGS, key="ce_none",
              describe="cross_entropy with reduction='none' gives one loss per example",
              hint="pass the reduction argument on to nll_loss"),
        Check("ce_large_logits", 1, LOGS, key="ce_large",
              describe="cross_entropy stays finite and correct for very large logits",
              hint="never exponentiate the raw logits, nor take the log of probabilities: go through your "
                   "stable log_softmax"),
    ]),
    Question("cross_entropy_grad_tests", probe_cross_entropy_grad, helpers=HELPERS, checks=[
        Check("ce_grad_batch_mean", 1, PROBS, key="grad_batch",
              describe="cross_entropy_grad of the mean loss over a batch",
              hint="the mean over the batch divides each example's gradient by the batch size; the softmax "
                   "inside subtracts the max of each row, not of the whole batch"),
        Check("ce_grad_single_example", 1, PROBS, key="grad_single",
              describe="cross_entropy_grad for a single example",
              hint="for one example the gradient is softmax(logits) minus the one-hot vector of the target: "
                   "raising the target's logit lowers the loss, so its entry is negative"),
        Check("ce_grad_large_logits", 1, PROBS, key="grad_large",
              describe="cross_entropy_grad stays finite and correct for very large logits",
              hint="compute the softmax inside it stably (subtract the max, or call your softmax)"),
    ]),
    Question("bits_and_perplexity_tests", probe_bits_and_perplexity, helpers=HELPERS, checks=[
        Check("bits_value", 1, LOGS, key="bits",
              describe="cross_entropy_bits is the mean cross-entropy in bits",
              hint="torch.log is the natural log and gives nats; bits use log base 2: divide nats by ln 2"),
        Check("perplexity_value", 1, LOGS, key="ppl",
              describe="perplexity is exp of the mean cross-entropy in nats",
              hint="perplexity = exp(loss in nats) = 2 ** (loss in bits); 2 ** (loss in nats) mixes the units"),
    ]),
    Question("bce_with_logits_tests", probe_bce_with_logits, helpers=HELPERS, checks=[
        Check("bce_value", 1, LOGS, key="bce",
              describe="bce_with_logits with targets 0 and 1",
              hint="the mean over all elements of softplus(x) - y * x, with softplus(x) = log(1 + exp(x)); "
                   "both classes count: y and 1 - y"),
        Check("bce_soft_targets", 1, LOGS, key="bce_soft",
              describe="bce_with_logits with soft targets between 0 and 1",
              hint="targets are probabilities, not class indices: keep them as floats in the formula"),
        Check("bce_large_logits", 1, LOGS, key="bce_far",
              describe="bce_with_logits stays finite and correct for very large logits",
              hint="sigmoid(x) underflows to 0 or rounds to 1 for large |x|, and log 0 = -inf: compute "
                   "softplus(x) as max(x, 0) + log1p(exp(-|x|)) and never take the log of a sigmoid"),
    ]),
]
