"""Known submissions of 01-tensors that prove the hidden checks.

Alternatives are correct answers written differently: they must keep full marks.
Mutants are plausible wrong answers named after the misconception they encode:
each must fail exactly the checks listed in ``fails``. Keys of ``answers`` are
the solution cells' grade ids; values are the whole cell as a student writes it.
"""

from course_lib.synth import Variant

VARIANTS = [
    Variant("solution", kind="solution"),
    # -- alternative correct solutions ----------------------------------------------------------
    Variant("alternative_builtin_helpers", kind="alternative", answers={
        "make_grid": (
            "def make_grid(rows, cols, device=\"cpu\"):\n"
            "    flat = torch.arange(0, rows * cols, device=device).float()\n"
            "    return flat.view(rows, cols)\n"),
        "shape_rank_size": (
            "import math\n\n"
            "def shape_rank_size(t):\n"
            "    shape = tuple(int(n) for n in t.size())\n"
            "    return shape, len(shape), math.prod(shape)\n"),
        "crop_center": (
            "def crop_center(images, size):\n"
            "    h, w = images.shape[2], images.shape[3]\n"
            "    return images.narrow(2, (h - size) // 2, size).narrow(3, (w - size) // 2, size)\n"),
        "normalize_channels": (
            "def normalize_channels(images, mean, std):\n"
            "    c = images.shape[1]\n"
            "    return (images - mean.view(1, c, 1, 1)) / std.view(1, c, 1, 1)\n"),
        "channel_means": (
            "def channel_means(images):\n"
            "    b, c, h, w = images.shape\n"
            "    return images.sum(dim=(2, 3)) / (h * w)\n"),
        "invert": (
            "def invert(images):\n"
            "    return torch.ones_like(images) - images\n"),
        "numpy_interop": (
            "def to_numpy(t):\n"
            "    with torch.no_grad():\n"
            "        return t.to(\"cpu\").clone().numpy()\n\n\n"
            "def from_numpy(arr, device=\"cpu\"):\n"
            "    return torch.tensor(arr, dtype=torch.float32, device=device)\n"),
    }),
    Variant("alternative_loops_and_reshapes", kind="alternative", answers={
        "make_grid": (
            "def make_grid(rows, cols, device=\"cpu\"):\n"
            "    out = torch.empty(rows, cols, device=device)\n"
            "    for r in range(rows):\n"
            "        out[r] = torch.arange(r * cols, (r + 1) * cols, device=device)\n"
            "    return out\n"),
        "channel_means": (
            "def channel_means(images):\n"
            "    b, c = images.shape[:2]\n"
            "    return images.reshape(b, c, -1).mean(dim=-1)\n"),
        "normalize_channels": (
            "def normalize_channels(images, mean, std):\n"
            "    out = images.clone()\n"
            "    for ch in range(images.shape[1]):\n"
            "        out[:, ch] = (images[:, ch] - mean[ch]) / std[ch]\n"
            "    return out\n"),
        "invert": (
            "def invert(images):\n"
            "    return images.neg().add(1.0)\n"),
    }),
    # np.prod(t.shape) is a NumPy int (and np.prod(()) the float 1.0): the number of elements all the same
    Variant("alternative_numpy_prod_size", kind="alternative", answers={
        "shape_rank_size": (
            "def shape_rank_size(t):\n"
            "    return tuple(t.shape), t.ndim, np.prod(t.shape)\n"),
    }),
    # NumPy round trips, index_select, a permute for broadcasting, einsum, numpy(force=True)
    Variant("alternative_numpy_and_index_ops", kind="alternative", answers={
        "make_grid": (
            "import numpy as np\n"
            "def make_grid(rows, cols, device='cpu'):\n"
            "    return torch.from_numpy(np.arange(rows*cols, dtype=np.float32).reshape(rows, cols)).to(device)\n"),
        "crop_center": (
            "def crop_center(images, size):\n"
            "    H, W = images.shape[-2:]\n"
            "    rows = torch.arange((H-size)//2, (H-size)//2+size, device=images.device)\n"
            "    cols = torch.arange((W-size)//2, (W-size)//2+size, device=images.device)\n"
            "    return images.index_select(2, rows).index_select(3, cols)\n"),
        "normalize_channels": (
            "def normalize_channels(images, mean, std):\n"
            "    x = images.permute(0, 2, 3, 1)\n"
            "    return ((x - mean) / std).permute(0, 3, 1, 2)\n"),
        "channel_means": (
            "def channel_means(images):\n"
            "    h, w = images.shape[-2:]\n"
            "    return torch.einsum('bchw->bc', images) / (h * w)\n"),
        "invert": (
            "def invert(images):\n"
            "    return torch.from_numpy(1.0 - images.cpu().numpy()).to(images.device)\n"),
        "numpy_interop": (
            "def to_numpy(t):\n"
            "    return t.numpy(force=True)\n"
            "\n"
            "def from_numpy(arr, device='cpu'):\n"
            "    return torch.from_numpy(arr.astype('float32')).to(device)\n"),
    }),
    # the number of elements as a 0-d tensor: the prompt asks for a number, and this one counts the elements
    Variant("alternative_size_as_0d_tensor", kind="alternative", answers={
        "shape_rank_size": (
            "def shape_rank_size(t):\n"
            "    return tuple(t.shape), len(t.shape), torch.tensor(t.shape).prod()\n"),
    }),
    # a notebook that asks for float64 by default: its functions are the solution's, and the probes' own inputs
    # stay float32 (they lost 15 points to "has dtype torch.float64" when torch.rand followed the notebook's default)
    Variant("alternative_float64_default_dtype", kind="alternative", answers={
        "make_grid": (
            "torch.set_default_dtype(torch.float64)  # more precision for everything that follows\n\n"
            "def make_grid(rows, cols, device=\"cpu\"):\n"
            "    return torch.arange(rows * cols, dtype=torch.float32, device=device).reshape(rows, cols)\n"),
    }),
    # Python loops and comprehensions, a torch.Size for the shape, means accumulated in float64 (Question 5
    # names no dtype: those means lost all 4 points to "has dtype torch.float64"), an absolute value for 1 - x
    Variant("alternative_loops_size_and_float64_means", kind="alternative", answers={
        "make_grid": (
            "def make_grid(rows, cols, device=\"cpu\"):\n"
            "    values = [[r * cols + c for c in range(cols)] for r in range(rows)]\n"
            "    return torch.tensor(values, dtype=torch.float32, device=device)\n"),
        "shape_rank_size": (
            "import functools, operator\n\n"
            "def shape_rank_size(t):\n"
            "    return t.shape, t.ndimension(), functools.reduce(operator.mul, t.shape, 1)\n"),
        "crop_center": (
            "def crop_center(images, size):\n"
            "    B, C, H, W = images.shape\n"
            "    top, left = (H - size) // 2, (W - size) // 2\n"
            "    out = torch.empty(B, C, size, size, dtype=images.dtype, device=images.device)\n"
            "    for i in range(size):\n"
            "        for j in range(size):\n"
            "            out[:, :, i, j] = images[:, :, top + i, left + j]\n"
            "    return out\n"),
        "normalize_channels": (
            "def normalize_channels(images, mean, std):\n"
            "    out = images.clone()\n"
            "    out -= mean.view(-1, 1, 1)\n"
            "    out /= std.view(-1, 1, 1)\n"
            "    return out\n"),
        "channel_means": (
            "def channel_means(images):\n"
            "    return images.double().mean(dim=(2, 3))  # more precise accumulation\n"),
        "invert": (
            "def invert(images):\n"
            "    return (images - 1).abs()  # pixels lie in [0, 1]\n"),
    }),
    # -- misconceptions ---------------------------------------------------------------------------
    Variant("grid_integer_dtype", fails=("grid_dtype_device",), answers={
        "make_grid": (
            "def make_grid(rows, cols, device=\"cpu\"):\n"
            "    return torch.arange(rows * cols, device=device).reshape(rows, cols)\n")}),
    Variant("grid_column_major", fails=("grid_values",), answers={
        "make_grid": (
            "def make_grid(rows, cols, device=\"cpu\"):\n"
            "    return torch.arange(rows * cols, dtype=torch.float32, device=device).reshape(cols, rows).T\n")}),
    Variant("size_is_len", fails=("describe_4d", "describe_scalar"), answers={
        "shape_rank_size": (
            "def shape_rank_size(t):\n"
            "    return tuple(t.shape), t.dim(), len(t)\n")}),
    # a 0-d tensor counts as its number, and a wrong one still fails: the axes' lengths added, not multiplied
    Variant("size_sums_axes", fails=("describe_4d", "describe_scalar"), answers={
        "shape_rank_size": (
            "def shape_rank_size(t):\n"
            "    return tuple(t.shape), t.dim(), torch.tensor(t.shape).sum()\n")}),
    # "its shape as a tuple of ints": a list fails the visible test's ==, and it earned both points
    Variant("shape_as_list", fails=("describe_4d", "describe_scalar"), answers={
        "shape_rank_size": (
            "def shape_rank_size(t):\n"
            "    return list(t.shape), t.dim(), t.numel()\n")}),
    Variant("crop_same_margin_both_axes", fails=("crop_values_even", "crop_values_odd"), answers={
        "crop_center": (
            "def crop_center(images, size):\n"
            "    m = (images.shape[-2] - size) // 2\n"
            "    return images[:, :, m:m + size, m:m + size]\n")}),
    Variant("crop_slices_batch_and_channel_axes", fails=("crop_shape", "crop_values_even", "crop_values_odd"),
            answers={
        "crop_center": (
            "def crop_center(images, size):\n"
            "    top = (images.shape[-2] - size) // 2\n"
            "    left = (images.shape[-1] - size) // 2\n"
            "    return images[top:top + size, left:left + size]\n")}),
    # right whenever the size is even (every hidden crop was 4 wide, and it earned all 3 points): with an even
    # height and an odd size it starts a row too low
    Variant("crop_half_height_minus_half_size", fails=("crop_values_odd",), answers={
        "crop_center": (
            "def crop_center(images, size):\n"
            "    H, W = images.shape[-2:]\n"
            "    top, left = H // 2 - size // 2, W // 2 - size // 2\n"
            "    return images[..., top:top + size, left:left + size]\n")}),
    Variant("crop_margin_rounded_up", fails=("crop_values_odd",), answers={
        "crop_center": (
            "def crop_center(images, size):\n"
            "    top = (images.shape[-2] - size + 1) // 2\n"
            "    left = (images.shape[-1] - size + 1) // 2\n"
            "    return images[..., top:top + size, left:left + size]\n")}),
    Variant("normalize_broadcasts_over_width",
            fails=("normalize_values", "normalize_square_images", "normalize_keeps_input"), answers={
        "normalize_channels": (
            "def normalize_channels(images, mean, std):\n"
            "    return (images - mean) / std\n")}),
    Variant("normalize_in_place", fails=("normalize_keeps_input",), answers={
        "normalize_channels": (
            "def normalize_channels(images, mean, std):\n"
            "    images -= mean[:, None, None]\n"
            "    images /= std[:, None, None]\n"
            "    return images\n")}),
    Variant("mean_over_wrong_axis", fails=("means_shape", "means_values", "means_batch_of_one"), answers={
        "channel_means": (
            "def channel_means(images):\n"
            "    return images.mean(dim=(1, 2))\n")}),
    Variant("means_squeeze_drops_batch", fails=("means_batch_of_one",), answers={
        "channel_means": (
            "def channel_means(images):\n"
            "    return images.mean(dim=(2, 3), keepdim=True).squeeze()\n")}),
    Variant("invert_in_place", fails=("invert_leaves_input",), answers={
        "invert": (
            "def invert(images):\n"
            "    images.mul_(-1).add_(1.0)\n"
            "    return images\n")}),
    # the same, and a torch mode it leaves entered hands the probe's later reads of the input the values it had
    Variant("invert_in_place_behind_a_torch_mode", fails=("invert_leaves_input",), answers={
        "invert": (
            "from torch.overrides import TorchFunctionMode\n\n\n"
            "class _ShowsTheOldValues(TorchFunctionMode):\n"
            "    def __init__(self, images):\n"
            "        super().__init__()\n"
            "        self.address, self.before, self.reads = images.data_ptr(), images.clone(), 0\n\n"
            "    def __torch_function__(self, func, types, args=(), kwargs=None):\n"
            "        if getattr(func, '__name__', '') == 'detach' and args[0].data_ptr() == self.address:\n"
            "            self.reads += 1\n"
            "            if self.reads > 1:\n"
            "                return self.before\n"
            "        return func(*args, **(kwargs or {}))\n\n\n"
            "def invert(images):\n"
            "    _ShowsTheOldValues(images).__enter__()\n"
            "    images.mul_(-1).add_(1.0)\n"
            "    return images\n")}),
    # the same, and a profile function it sets puts the input back just before the probe records it
    Variant("invert_in_place_undone_by_a_profile_function", fails=("invert_leaves_input",), answers={
        "invert": (
            "import sys\n\n\n"
            "def invert(images):\n"
            "    before = images.clone()\n"
            "    images.mul_(-1).add_(1.0)\n\n"
            "    def put_back(frame, event, arg):\n"
            "        if event == 'call' and frame.f_code.co_name == 'record':\n"
            "            sys.setprofile(None)\n"
            "            images.copy_(before)\n\n"
            "    sys.setprofile(put_back)\n"
            "    return images\n")}),
    # a wrong result earns no "leaves its input unchanged" point: returning None leaves it unchanged too
    Variant("invert_negates", fails=("invert_values", "invert_leaves_input"), answers={
        "invert": (
            "def invert(images):\n"
            "    return -images\n")}),
    Variant("numpy_without_detach", fails=("to_numpy_any_tensor",), answers={
        "numpy_interop": (
            "def to_numpy(t):\n"
            "    return t.numpy()\n\n\n"
            "def from_numpy(arr, device=\"cpu\"):\n"
            "    return torch.from_numpy(arr).to(device=device, dtype=torch.float32)\n")}),
    # right for the float32 tensors of the visible test (the only ones the hidden test had: it earned both points)
    Variant("to_numpy_casts_to_float32", fails=("to_numpy_any_tensor",), answers={
        "numpy_interop": (
            "def to_numpy(t):\n"
            "    return t.detach().cpu().numpy().astype(np.float32)\n\n\n"
            "def from_numpy(arr, device=\"cpu\"):\n"
            "    return torch.from_numpy(arr).to(device=device, dtype=torch.float32)\n")}),
    Variant("from_numpy_keeps_float64", fails=("from_numpy_float32",), answers={
        "numpy_interop": (
            "def to_numpy(t):\n"
            "    return t.detach().cpu().numpy()\n\n\n"
            "def from_numpy(arr, device=\"cpu\"):\n"
            "    return torch.from_numpy(arr).to(device)\n")}),
    # -- runs that go wrong part-way: only the affected question is lost -------------------------
    Variant("error_in_one_cell", kind="error", fails=("crop_shape", "crop_values_even", "crop_values_odd"),
            answers={
        "crop_center": (
            "sample = load_sample_images()  # a helper that exists only on the student's laptop\n\n"
            "def crop_center(images, size):\n"
            "    top = (images.shape[-2] - size) // 2\n"
            "    left = (images.shape[-1] - size) // 2\n"
            "    return images[..., top:top + size, left:left + size]\n")}),
    Variant("slow_cell", kind="slow", fails=("means_shape", "means_values", "means_batch_of_one"), answers={
        "channel_means": (
            "import time\n"
            "time.sleep(3600)  # waits for a download that never comes\n\n"
            "def channel_means(images):\n"
            "    return images.mean(dim=(-2, -1))\n")}),
]
