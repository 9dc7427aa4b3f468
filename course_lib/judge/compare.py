"""Torch-aware comparisons between a student's value and the reference value.

A comparator is called as ``compare(got, ref)`` in the grader process and
returns ``None`` when the value is acceptable, else a message for the student.
Messages say what is wrong (type, shape, dtype, device, gradient, values) but
never reveal the hidden inputs or the expected values. ``got`` and ``ref`` are
decoded values (:mod:`course_lib.judge.values`): arrays and tensors arrive as
:class:`~course_lib.judge.values.TensorValue`, a student's exception or a missing
name as ``Raised`` / ``Missing`` (every comparator here reports those itself).

Which one: :class:`Tensor` for arrays and tensors, :class:`Number` for a single
number, :class:`Equal` for exact plain data (shapes, ints, strings, dtypes,
booleans), :class:`Sequence` for a tuple of results each with its own comparator,
:class:`AtLeast` for a number that must reach a threshold, :class:`Accuracy` for
a classifier's ``(logits, labels)``, :class:`Holds` for a property of exported
arrays that the instructor states as a function run here, :class:`Untouched` for the caller's tensors as a
student's function left them, :class:`Untracked` for tensors autograd must not have recorded,
:class:`OutputsOfRebuilt` for a trained model that must be one the notebook's builder makes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .values import Missing, Opaque, Raised, TensorValue, TorchDtype, describe

_PROBLEMS = (Raised, Missing, Opaque)


def _problem(got) -> str | None:
    if isinstance(got, (Raised, Missing)):
        return got.describe()
    return None


@dataclass(frozen=True)
class Tensor:
    """Compare arrays: kind, shape, dtype, device, ``requires_grad``, values and gradient.

    Args:
        rtol, atol: Value tolerance as in ``torch.allclose``.
        dtype: Require the reference's dtype.
        device: Require the reference's device type (a result left on the CPU while
            the inputs were on CUDA fails here).
        library: Require the same library (torch tensor vs NumPy array).
        requires_grad: Require the reference's ``requires_grad`` flag.
        grad: Also compare the ``.grad`` the value carries.
        equal_nan: Treat NaN as equal to NaN.
        values: Compare the values (off: check only kind, shape, dtype, device).
        shape: Compare the shape (off only together with ``values``).
    """

    rtol: float = 1e-5
    atol: float = 1e-8
    dtype: bool = True
    device: bool = True
    library: bool = True
    requires_grad: bool = False
    grad: bool = False
    equal_nan: bool = False
    values: bool = True
    shape: bool = True

    def __call__(self, got, ref) -> str | None:
        if (problem := _problem(got)) is not None:
            return problem
        want = "a torch tensor" if ref.library == "torch" else "a NumPy array"
        if not isinstance(got, TensorValue):
            return f"returned {describe(got)}; expected {want}"
        if self.library and got.library != ref.library and not {got.library, ref.library} <= {"numpy", "numpy-scalar"}:
            return f"returned {'a torch tensor' if got.library == 'torch' else 'a NumPy array'}; expected {want}"
        if (self.shape or self.values) and got.shape != ref.shape:
            return "has the wrong shape: " + shape_difference(got.shape, ref.shape)
        if self.dtype and got.dtype != ref.dtype:
            prefix = "torch." if ref.library == "torch" else ""
            return f"has dtype {prefix}{got.dtype}; expected {prefix}{ref.dtype}"
        if self.device and ref.library == "torch" and got.device != ref.device:
            return f"is on the {got.device} device; it should be on {ref.device} like its inputs"
        if self.requires_grad and got.requires_grad != ref.requires_grad:
            return ("should be part of the autograd graph (requires_grad=True)" if ref.requires_grad
                    else "should not require gradients (detach it or use torch.no_grad())")
        message = values_differ(got.array, ref.array, self.rtol, self.atol, self.equal_nan) if self.values else None
        if message:
            return message
        if self.grad:
            if ref.grad is not None and got.grad is None:
                return "has no gradient (.grad is None): was backward() called on the right value?"
            if ref.grad is not None:
                if got.grad.shape != ref.grad.shape:
                    return "its .grad has the wrong shape: " + shape_difference(got.grad.shape, ref.grad.shape)
                message = values_differ(got.grad.array, ref.grad.array, self.rtol, self.atol, self.equal_nan)
                if message:
                    return f"has the right values, but its gradient is wrong: {message}"
        return None


def shape_difference(got: tuple, ref: tuple) -> str:
    """How two shapes differ, without either shape (the hidden input's shape stays hidden)."""
    if len(got) != len(ref):
        return f"it has {len(got)} dimension{'s' if len(got) != 1 else ''} where {len(ref)} were expected"
    wrong = [str(i) for i, (a, b) in enumerate(zip(got, ref)) if a != b]
    return f"the length of dimension {', '.join(wrong)} is wrong"


def values_differ(got: np.ndarray, ref: np.ndarray, rtol: float, atol: float, equal_nan: bool = False) -> str | None:
    """A message when the arrays differ beyond ``atol + rtol * |ref|``, else ``None``."""
    if got.size == 0:
        return None
    if got.dtype.kind == "b" or ref.dtype.kind == "b":
        wrong = int(np.count_nonzero(got != ref))
        return None if wrong == 0 else f"{wrong} of {got.size} values are wrong"
    a = got.astype(np.complex128 if got.dtype.kind == "c" else np.float64)
    b = ref.astype(np.complex128 if ref.dtype.kind == "c" else np.float64)
    ok = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if ok.all():
        return None
    wrong = int((~ok).sum())
    if np.isnan(a[~ok]).any() and not np.isnan(b[~ok]).any():
        return f"{wrong} of {got.size} values are wrong, some are NaN (a division by zero or log of 0?)"
    if np.isinf(a[~ok]).any():
        return f"{wrong} of {got.size} values are wrong, some are infinite (an overflow?)"
    if got.size == 1:  # an error size would give the expected number away: say only roughly how wrong
        return how_far(complex(a.reshape(-1)[0]), complex(b.reshape(-1)[0]))
    err = float(np.nanmax(np.abs(a - b)[~ok]))
    return (f"{wrong} of {got.size} values are wrong (largest error {err:.3g}; "
            f"tolerance rtol={rtol:g}, atol={atol:g})")


def how_far(got: complex, ref: complex) -> str:
    """Roughly how far a single number is off, in words (never the expected value or the exact error)."""
    if np.isnan(got):
        return "is NaN (a division by zero or log of 0?)"
    if got.imag == 0 and ref.imag == 0 and got.real * ref.real < 0:
        return "has the wrong sign"
    if ref == 0:
        return "is wrong: it should be zero"
    if got == 0:
        return "is zero, which is wrong"
    ratio = abs(got) / abs(ref)
    direction = "large" if ratio > 1 else "small"
    if ratio >= 2 or ratio <= 0.5:
        return f"is wrong: about {max(ratio, 1 / ratio):.0f} times too {direction}"
    relative = abs(got - ref) / abs(ref)
    if relative >= 0.1:
        return f"is wrong: too {direction} by more than 10 %"
    if relative >= 0.01:
        return f"is wrong: too {direction} by 1-10 %"
    return f"is slightly wrong: too {direction} by less than 1 % (beyond the tolerance)"


@dataclass(frozen=True)
class Number:
    """Compare a single number (a Python ``int`` or ``float``).

    Args:
        rtol, atol: Tolerance: passes when ``|got - ref| <= atol + rtol * |ref|``.
        allow_tensor: Accept a 0-d or one-element tensor/array too (off: ask for ``.item()``; a NumPy
            ``float64`` scalar is accepted all the same, being an instance of Python's ``float``).
        integer: Require a whole number.
        equal_nan: NaN equals NaN (when NaN is the right answer, e.g. an undefined rate).
    """

    rtol: float = 1e-6
    atol: float = 1e-9
    allow_tensor: bool = True
    integer: bool = False
    equal_nan: bool = False  # when NaN is the right answer (e.g. an undefined rate)

    def __call__(self, got, ref) -> str | None:
        if (problem := _problem(got)) is not None:
            return problem
        ref_value = _as_number(ref, True)
        value = _as_number(got, self.allow_tensor)
        if value is None:
            if not self.allow_tensor and isinstance(got, TensorValue) and got.array.size == 1:
                return f"returned {describe(got)}; expected a Python number (convert it with .item() or float())"
            return f"returned {describe(got)}; expected a single number"
        if self.integer and not float(value).is_integer():
            return f"returned {value!r}; expected a whole number"
        return values_differ(np.asarray([value]), np.asarray([ref_value]), self.rtol, self.atol, self.equal_nan)


def _as_number(value, allow_tensor: bool):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if allow_tensor and isinstance(value, TensorValue) and value.array.size == 1:
        return value.array.reshape(()).item()
    if isinstance(value, TensorValue) and value.library == "numpy-scalar" and value.array.dtype == np.float64:
        return value.array.reshape(()).item()  # a NumPy float64 is a Python float (a subclass): it is one
    return None


@dataclass(frozen=True)
class Equal:
    """Exact equality of plain data (numbers, strings, booleans, tuples, shapes, dtypes, dicts).

    ``True`` does not equal ``1``; arrays are equal only with the same library, dtype, shape and values. A
    NumPy scalar is the number it holds (``np.int64(24)`` equals ``24``, ``np.float64(1.0)`` equals ``1``).

    Args:
        strict_sequences: Lists and tuples differ (default: they compare alike; a ``torch.Size``
            arrives as a tuple, so ``t.shape`` and ``tuple(t.shape)`` both pass).
    """

    strict_sequences: bool = False

    def __call__(self, got, ref) -> str | None:
        if (problem := _problem(got)) is not None:
            return problem
        if self._norm(got) == self._norm(ref):
            return None
        if type(self._norm(got)) is not type(self._norm(ref)):
            return f"returned {describe(got)}; expected {describe(ref)}"
        return "is not the expected value"

    def _norm(self, value):
        if isinstance(value, TensorValue) and value.library == "numpy-scalar" and value.array.dtype.kind in "biuf":
            # a NumPy scalar is a number, as in Python (np.prod(t.shape) == 24): np.True_ counts as True only
            number = value.array.reshape(()).item()
            return ("bool", number) if isinstance(number, bool) else number
        if isinstance(value, TensorValue):
            return ("array", value.library, value.dtype, value.shape, value.array.tobytes())
        if isinstance(value, TorchDtype):
            return ("dtype", value.name)
        if isinstance(value, (list, tuple)):
            items = tuple(self._norm(v) for v in value)
            return (type(value).__name__, items) if self.strict_sequences else items
        if isinstance(value, dict):
            return {k: self._norm(v) for k, v in value.items()}
        if isinstance(value, bool):
            return ("bool", value)
        return value


@dataclass(frozen=True)
class Sequence:
    """Compare a tuple or list item by item, each with its own comparator.

    Args:
        items: One comparator per item, e.g. ``(Number(), Tensor())`` for ``(loss, grad)``.
        names: What each item is, for messages (``("loss", "gradient")``); default "value 1 of 2".
    """

    items: tuple
    names: tuple = ()

    def __call__(self, got, ref) -> str | None:
        if (problem := _problem(got)) is not None:
            return problem
        if not isinstance(got, (list, tuple)):
            return f"returned {describe(got)}; expected a tuple of {len(self.items)} values"
        if len(got) != len(ref):
            return f"returned {len(got)} values; expected {len(ref)}"
        for index, (compare, g, r) in enumerate(zip(self.items, got, ref)):
            message = compare(g, r)
            if message:
                name = self.names[index] if index < len(self.names) else f"value {index + 1} of {len(ref)}"
                return f"the returned {name}: {message}"
        return None


@dataclass(frozen=True)
class Accuracy:
    """Classification accuracy computed here from ``(logits, labels)``, then held to a threshold.

    The kernel only exports the model's outputs; counting correct predictions in the
    grader means no comparison the student's code could redefine is involved. The labels
    are the *solution's* record's: a probe records ``(logits, labels)`` on both, but what
    the student's kernel sent as labels is never believed (its code ran in that kernel).

    With ``labels``, the probe records the logits alone and the labels are made here: the held-out inputs
    reach the kernel as data (``Question(data=...)``) and neither their labels nor the code and seed that
    drew them ever exist where the student's model runs (which could otherwise look them up in its callers'
    frames while it is being evaluated).

    Args:
        minimum: Absolute threshold, e.g. ``0.85``.
        below_reference: Alternatively, how far below the solution's accuracy is still enough.
        labels: A function of the grader process returning the true labels (a 1-d integer array) of the
            inputs the probe ran the model on.
    """

    minimum: float | None = None
    below_reference: float | None = None
    labels: object = None

    def __call__(self, got, ref) -> str | None:
        if (problem := _problem(got)) is not None:
            return problem
        if self.labels is not None:
            labels = TensorValue(np.asarray(self.labels()), library="numpy", dtype="int64")
            logits = got[0] if isinstance(got, (list, tuple)) and len(got) == 1 else got
            reference = (ref[0] if isinstance(ref, (list, tuple)) and len(ref) == 1 else ref, labels)
        else:
            logits = got[0] if isinstance(got, (list, tuple)) and len(got) == 2 else got
            labels = ref[1] if isinstance(ref, (list, tuple)) and len(ref) == 2 else None
            reference = ref
        accuracy = self.accuracy((logits, labels))
        if accuracy is None:
            return f"produced {describe(logits)}; expected class scores for every example"
        return AtLeast(self.minimum, self.below_reference, "accuracy on held-out data")(accuracy,
                                                                                       self.accuracy(reference))

    @staticmethod
    def accuracy(value) -> float | None:
        if not (isinstance(value, (list, tuple)) and len(value) == 2
                and all(isinstance(v, TensorValue) for v in value)):
            return None
        logits, labels = value[0].array, value[1].array
        if logits.ndim != 2 or labels.shape != (logits.shape[0],):
            return None
        return float((logits.argmax(axis=1) == labels).mean()) if len(labels) else 0.0


@dataclass(frozen=True)
class AtLeast:
    """A number that must reach a threshold rather than match the solution (e.g. test accuracy).

    Args:
        minimum: Absolute threshold, e.g. ``0.85``.
        below_reference: Alternatively, how far below the solution's value is still enough.
        what: How to name the value in the message, e.g. ``"accuracy on held-out data"``.
    """

    minimum: float | None = None
    below_reference: float | None = None
    what: str = "the value"

    def __call__(self, got, ref) -> str | None:
        if (problem := _problem(got)) is not None:
            return problem
        value = _as_number(got, True)
        if value is None:
            return f"returned {describe(got)}; expected a single number"
        floor = self.minimum if self.minimum is not None else _as_number(ref, True) - (self.below_reference or 0.0)
        if not np.isfinite(value) or value < floor:
            if self.minimum is not None:
                return f"{self.what} is {value:.3g}, below the required {floor:.3g}"
            # the floor comes from the solution's own value: saying it would give that away
            return (f"{self.what} is {value:.3g}, more than {self.below_reference or 0:g} below what a "
                    "well-trained solution reaches")
        return None


@dataclass(frozen=True)
class Holds:
    """A property of the student's exported data, decided here by a function of the instructor's.

    Use it instead of computing a verdict (a boolean) in the kernel: a value computed
    there from the student's objects can be forged, the exported arrays cannot.
    ``test`` receives the value with every tensor or array turned into a float64 NumPy
    array (tuples and lists item by item) and returns ``True`` when the property holds;
    the solution's value plays no part.

    Args:
        test: A module-level function ``test(value) -> bool`` of the grader module.
        message: What the student reads when the property does not hold.
    """

    test: object
    message: str

    def __call__(self, got, ref) -> str | None:
        if (problem := _problem(got)) is not None:
            return problem
        value = self._arrays(got)
        if value is None:
            return f"produced {describe(got)}; expected tensors"
        try:
            holds = bool(np.all(np.asarray(self.test(value), dtype=bool)))
        except (ArithmeticError, ValueError, TypeError, IndexError):
            holds = False
        return None if holds else self.message

    def _arrays(self, value):
        if isinstance(value, TensorValue):
            if value.array.dtype.kind not in "biuf":
                return None
            return np.asarray(value.array, dtype=np.float64)
        if isinstance(value, (list, tuple)):
            items = [self._arrays(v) for v in value]
            return None if any(i is None for i in items) else tuple(items)
        return None


@dataclass(frozen=True)
class Untouched:
    """The caller's tensors as the student's function left them: bit for bit the reference's.

    Each tensor must have the reference's values exactly, its ``requires_grad`` flag, and a ``.grad`` only
    where the reference has one (the exporter reads both with torch's own getters); tuples and lists item
    by item, other plain data (a flag the probe recorded with them) as :class:`Equal` compares it. Use it
    instead of a boolean the probe computes in the kernel after the call (``torch.equal(w, w0)``): the
    function just called may have replaced ``torch.equal`` or the tensor's properties.
    """

    def __call__(self, got, ref) -> str | None:
        if (problem := _problem(got)) is not None:
            return problem
        if isinstance(ref, (list, tuple)):
            if not isinstance(got, (list, tuple)) or len(got) != len(ref):
                return f"is {describe(got)}; expected {len(ref)} values"
            return next((m for m in map(self, got, ref) if m), None)
        if not isinstance(ref, TensorValue):
            return Equal()(got, ref)
        message = Tensor(rtol=0, atol=0, requires_grad=True)(got, ref)
        if message:
            return message
        if ref.grad is None and got.grad is not None:
            return "was given a .grad: work on a detached copy"
        return None


@dataclass(frozen=True)
class Untracked:
    """Tensors made without autograd: at least one, none with ``requires_grad`` (read with torch's own getter).

    For what a forward hook saw (``seen.append(output)``), instead of ``torch.is_grad_enabled()`` asked in the
    kernel, which the student's code may have replaced. The solution's value plays no part.
    """

    def __call__(self, got, ref) -> str | None:
        if (problem := _problem(got)) is not None:
            return problem
        if not isinstance(got, (list, tuple)) or not got:
            return "the model was never called"
        notes = [t for t in got if isinstance(t, str)]  # the probe's word on a pass it could not watch
        if notes:
            return notes[0]
        if not all(isinstance(t, TensorValue) for t in got):
            return "the model's outputs were not tensors"
        if any(t.requires_grad for t in got):
            return "autograd recorded the forward pass (its outputs require gradients)"
        return None


@dataclass(frozen=True)
class OutputsOfRebuilt:
    """``(outputs, rebuilt, *rest)``: a model's outputs are those of its copy by the notebook's builder, then ``check``.

    For a question that asks for a model made with the notebook's builder and then trained: the probe runs the
    student's model and a copy the builder made and :func:`~course_lib.judge.spec.rebuilt` gave the model's
    parameters and buffers, on the same inputs. A model that is something else (a rule written by hand,
    nearest neighbours over the training set, a module whose forward does not compute what its layers hold)
    has no such copy or answers otherwise than its copy, whatever accuracy it reaches. ``check`` then judges
    ``(outputs, *rest)`` against the solution's record read the same way.

    Args:
        check: The comparator of the outputs (e.g. :class:`Accuracy`).
        builder: How the question names the builder, e.g. ``"make_mlp"``.
    """

    check: object
    builder: str

    def __call__(self, got, ref) -> str | None:
        if (problem := _problem(got)) is not None:
            return problem
        if not (isinstance(got, (list, tuple)) and len(got) >= 2):
            return f"produced {describe(got)}; expected class scores for every example"
        outputs, copy, *rest = got
        if not isinstance(copy, TensorValue):
            return (f"`model` is not a model {self.builder} builds: its parameters and buffers do not fit one "
                    f"(or {self.builder} raised)")
        if not (isinstance(outputs, TensorValue) and outputs.shape == copy.shape
                and np.allclose(np.asarray(outputs.array, dtype=np.float64), np.asarray(copy.array, dtype=np.float64),
                                rtol=1e-4, atol=1e-4, equal_nan=True)):
            return (f"`model` does not compute what a model {self.builder} builds computes with its parameters: "
                    f"train the model {self.builder} returns and keep it as it is")
        return self.check((outputs, *rest), (ref[0], *ref[2:]) if isinstance(ref, (list, tuple)) else ref)
