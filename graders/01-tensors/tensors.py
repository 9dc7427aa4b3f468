"""Hidden checks for 01-tensors (never released, never shown in feedback).

Each probe runs in the student's kernel right after the question's test cell and
calls the student's functions on inputs generated here from fixed seeds. The
verdicts are computed in the grader process against the solution's outputs.
Each probe runs inside ``JudgedAlone`` (float32 as the default dtype, the CPU as
the default device, autograd on, the student's settings put back after), so its
inputs are the solution's whatever the notebook set: a correct notebook that had
called ``torch.set_default_dtype(torch.float64)`` got float64 inputs from
``torch.rand`` and lost 15 of 20 points to "has dtype torch.float64".

Tolerances: every operation in this assignment is exact in float32 (indexing,
reshapes, arange below 2**24) or a single subtract/divide/mean per element, so
``rtol=1e-5, atol=1e-6`` is well above float32 rounding on CPU and CUDA (TF32 is
off during grading, and none of these ops uses matmul anyway) while far below any
misconception's error (wrong axis, wrong broadcast, off-by-one crop: O(0.1-1)).

Whether an input was left unchanged is decided here, in the grader process, by
comparing the input as it is after the call with the solution's (untouched)
input, so a student who redefines ``torch.equal`` or ``allclose`` gains nothing.
"""

from dataclasses import dataclass

from course_lib.judge import Check, Equal, JudgedAlone, Property, Question, Sequence, Tensor
from course_lib.judge.values import TensorValue

EXACT = Tensor(rtol=0, atol=0)
CLOSE = Tensor(rtol=1e-5, atol=1e-6)
# Question 5 names no dtype (Questions 1 and 7 do): means accumulated in float64 are the same means
MEANS = Tensor(rtol=1e-5, atol=1e-6, dtype=False)
ODD_CROPS = ("crop with an odd margin", "crop of an odd size")
TO_NUMPY = ("array of a float32 tensor", "array of a float64 tensor")


@dataclass(frozen=True)
class ShapeRankSize:
    """shape_rank_size's ``(shape, rank, size)`` as :class:`Equal` compares it, a rank or size given as a 0-d tensor
    counting as the number it holds.

    The prompt asks for the shape as a tuple of ints and for the rank and the size as numbers, of no stated
    type: ``torch.tensor(t.shape).prod()`` is the number of elements (the visible test's ``==`` says so), and lost
    both points to "is not the expected value" while ``np.prod(t.shape)``, a NumPy number, kept them. The
    tuples are the prompt's, as its visible test's ``==`` holds them (a ``torch.Size`` arrives as a tuple):
    ``list(t.shape)`` failed that test and still earned both points.
    """

    def __call__(self, got, ref):
        if isinstance(got, list) or (isinstance(got, tuple) and got and isinstance(got[0], list)):
            return "returned a list where the prompt asks for a tuple"
        if isinstance(got, tuple) and len(got) == 3:
            got = (got[0], *(_held_number(v) for v in got[1:]))
        return Equal()(got, ref)


def _held_number(value):
    """The number a 0-d tensor of numbers holds; any other value as it is."""
    if isinstance(value, TensorValue) and value.library == "torch" and value.shape == () \
            and value.array.dtype.kind in "iuf":
        return value.array.item()
    return value


def probe_make_grid(student):
    import torch

    with JudgedAlone(student):
        device = student.ns.get("DEVICE", "cpu")
        student.call("grid", "make_grid", 7, 5, device=device)
        student.call("grid_wide", "make_grid", 3, 11, device=device)


def probe_shape_rank_size(student):
    import torch

    with JudgedAlone(student):
        student.call("describe_4d", "shape_rank_size", torch.zeros(3, 1, 4, 2))
        student.call("describe_scalar", "shape_rank_size", torch.tensor(2.5))


def probe_crop_center(student):
    import torch

    with JudgedAlone(student):
        g = torch.Generator().manual_seed(101)
        device = student.ns.get("DEVICE", "cpu")
        even = torch.rand(3, 2, 8, 10, generator=g).to(device)
        odd = torch.rand(2, 3, 9, 7, generator=g).to(device)
        # an odd size on an even height: H // 2 - size // 2 starts a row too low, (H - size) // 2 does not
        odd_size = torch.rand(2, 2, 8, 9, generator=g).to(device)
        student.call("crop_even", "crop_center", even, 4)
        odd_margin = student.call("crop_odd_margin", "crop_center", odd, 4)
        odd_crop = student.call("crop_odd_size", "crop_center", odd_size, 3)
        student.record("crop_odd", (odd_margin, odd_crop))


def probe_normalize_channels(student):
    import torch

    with JudgedAlone(student):
        g = torch.Generator().manual_seed(202)
        device = student.ns.get("DEVICE", "cpu")
        images = torch.rand(2, 3, 4, 5, generator=g).to(device)
        square = torch.rand(4, 3, 3, 3, generator=g).to(device)
        mean = torch.tensor([0.4, 0.5, 0.6], device=device)
        std = torch.tensor([0.2, 0.25, 0.3], device=device)
        student.call("normalized", "normalize_channels", images, mean, std)
        student.call("normalized_square", "normalize_channels", square, mean, std)
        student.record("input_after", images)  # compared with the untouched input in the grader, not here


def probe_channel_means(student):
    import torch

    with JudgedAlone(student):
        g = torch.Generator().manual_seed(303)
        device = student.ns.get("DEVICE", "cpu")
        student.call("means", "channel_means", torch.rand(4, 3, 6, 5, generator=g).to(device))
        student.call("means_single", "channel_means", torch.rand(1, 2, 5, 5, generator=g).to(device))


def probe_invert(student):
    import torch

    with JudgedAlone(student):
        g = torch.Generator().manual_seed(404)
        device = student.ns.get("DEVICE", "cpu")
        images = torch.rand(2, 3, 5, 4, generator=g).to(device)
        student.call("inverted", "invert", images)
        student.record("input_after", images)


def probe_numpy_interop(student):
    import numpy as np
    import torch

    with JudgedAlone(student):
        g = torch.Generator().manual_seed(505)
        device = student.ns.get("DEVICE", "cpu")
        weights = torch.randn(3, 4, generator=g).to(device).requires_grad_(True)
        # "the same dtype": a float64 tensor too, which .astype(np.float32) or dtype=np.float32 changes
        precise = torch.randn(2, 3, generator=g, dtype=torch.float64).to(device).requires_grad_(True)
        as_float32 = student.call("as_numpy_float32", "to_numpy", weights)
        as_float64 = student.call("as_numpy_float64", "to_numpy", precise)
        student.record("as_numpy", (as_float32, as_float64))
        doubles = np.random.default_rng(505).normal(size=(2, 5))
        student.call("as_tensor", "from_numpy", doubles, device=device)


QUESTIONS = [
    Question("make_grid_tests", probe_make_grid, helpers=(JudgedAlone,), checks=[
        Check("grid_values", 1, Tensor(rtol=0, atol=0, dtype=False, device=False), key="grid",
              describe="make_grid(rows, cols) has shape (rows, cols) and counts 0, 1, 2, ... row by row",
              hint="count along each row first: arange(rows * cols) reshaped to (rows, cols)"),
        Check("grid_dtype_device", 1, Tensor(values=False), key="grid_wide",
              describe="make_grid returns float32 values on the requested device",
              hint="torch.arange gives integers unless you ask for dtype=torch.float32; pass device= too"),
    ]),
    Question("shape_rank_size_tests", probe_shape_rank_size, helpers=(JudgedAlone,), checks=[
        Check("describe_4d", 1, ShapeRankSize(),
              describe="shape_rank_size of a rank-4 tensor", hint="rank is t.dim(); size is t.numel()"),
        Check("describe_scalar", 1, ShapeRankSize(),
              describe="shape_rank_size of a scalar (rank-0) tensor",
              hint="a scalar tensor has shape (), rank 0 and exactly one element"),
    ]),
    Question("crop_center_tests", probe_crop_center, helpers=(JudgedAlone,), checks=[
        Check("crop_shape", 1, Tensor(values=False), key="crop_even",
              describe="crop_center returns shape (batch, channels, size, size)",
              hint="slice only the last two axes and keep batch and channel axes whole"),
        Check("crop_values_even", 1, EXACT, key="crop_even",
              describe="crop_center picks the central window of non-square images",
              hint="height and width have their own margins: (H - size) // 2 and (W - size) // 2"),
        Check("crop_values_odd", 1, Sequence((EXACT, EXACT), names=ODD_CROPS), key="crop_odd",
              needs=("crop_odd_margin", "crop_odd_size"),
              describe="crop_center with an odd margin starts at (H - size) // 2",
              hint="with an odd margin the extra row goes to the bottom: start at (H - size) // 2, which is not "
                   "H // 2 - size // 2 when the size is odd"),
    ]),
    Question("normalize_channels_tests", probe_normalize_channels, helpers=(JudgedAlone,), checks=[
        Check("normalize_values", 1, CLOSE, key="normalized",
              describe="normalize_channels subtracts each channel's mean and divides by its std",
              hint="reshape mean and std to (C, 1, 1) so they line up with the channel axis"),
        Check("normalize_square_images", 1, CLOSE, key="normalized_square",
              describe="normalize_channels on images whose width equals the number of channels",
              hint="images - mean broadcasts mean along the width axis; that only runs when W == C, "
                   "and is wrong even then"),
        Property("normalize_keeps_input", 1, EXACT, key="input_after",
              describe="normalize_channels leaves its input unchanged", requires=("normalize_values",),
              hint="in-place operations (sub_, div_, -=) change the caller's tensor; compute a new one"),
    ]),
    Question("channel_means_tests", probe_channel_means, helpers=(JudgedAlone,), checks=[
        Check("means_shape", 1, Tensor(values=False, dtype=False), key="means",
              describe="channel_means returns shape (batch, channels)",
              hint="reduce over the last two axes only (height and width), without keepdim"),
        Check("means_values", 2, MEANS, key="means",
              describe="channel_means averages over height and width",
              hint="the mean goes over dim=(-2, -1); other axes give other numbers"),
        Check("means_batch_of_one", 1, MEANS, key="means_single",
              describe="channel_means keeps the batch axis for a batch of one image",
              hint="squeeze() drops every axis of size 1, including a batch of one"),
    ]),
    Question("invert_tests", probe_invert, helpers=(JudgedAlone,), checks=[
        Check("invert_values", 2, CLOSE, key="inverted",
              describe="invert returns 1 - images", hint="the negative of x in [0, 1] is 1 - x"),
        Property("invert_leaves_input", 1, EXACT, key="input_after",
              describe="invert leaves its input unchanged", requires=("invert_values",),
              hint="in-place operations (mul_, add_, sub_) change the caller's images; return a new tensor"),
    ]),
    Question("numpy_interop_tests", probe_numpy_interop, helpers=(JudgedAlone,), checks=[
        Check("to_numpy_any_tensor", 2, Sequence((EXACT, EXACT), names=TO_NUMPY), key="as_numpy",
              needs=("as_numpy_float32", "as_numpy_float64"),
              describe="to_numpy works for any tensor: one that requires grad, of any dtype, on any device",
              hint="detach() it from autograd and move it to the CPU with .cpu() before .numpy(), and keep its "
                   "dtype (no astype, no dtype=)"),
        Check("from_numpy_float32", 1, Tensor(rtol=1e-6, atol=1e-7), key="as_tensor",
              describe="from_numpy returns a float32 tensor on the requested device",
              hint="NumPy arrays are float64 by default; convert with dtype=torch.float32 and device="),
    ]),
]
