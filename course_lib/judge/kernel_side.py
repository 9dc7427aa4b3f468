"""Code that runs inside the student's kernel during grading.

This file is sent to the kernel as source text (the kernel does not need the
course package installed). It does three things only: seed the random number
generators and request deterministic kernels, run the hidden probes at the
point of each question, and export what they observe as plain data (JSON with
raw array bytes; never pickle). Verdicts are computed in the grader process.
"""

import base64
import os
import random

MIME = "application/vnd.course.probe+json"
MAX_ITEMS = 10_000
MAX_TEXT = 2_000


def install(seed, device):
    """Seed everything and return the probe runner bound to this kernel."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        _ORIGINAL.update(as_subclass=torch.Tensor.as_subclass, detach=torch.Tensor.detach, cpu=torch.Tensor.cpu,
                         numpy=torch.Tensor.numpy, float=torch.Tensor.float)
        torch.manual_seed(seed)
        if str(device).startswith("cuda"):
            torch.cuda.manual_seed_all(seed)
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)
    from IPython import get_ipython

    # Bound now, before any student code runs: rebinding IPython.display later does not reach it.
    return Runner(get_ipython().display_pub.publish)


class Runner:
    """Runs one probe function against the student's namespace."""

    def __init__(self, publish):
        self._publish = publish

    def run(self, question, source, name):
        from IPython import get_ipython

        space = {"__name__": "__course_probe__"}
        student = Student(get_ipython().user_ns)
        record = {"question": question, "values": student.values, "error": None}
        try:
            exec(compile(source, f"<probe {question}>", "exec"), space)
            space[name](student)
        except BaseException as exc:  # a probe must always report
            record["error"] = raised(exc)
        self._publish(data={MIME: record}, metadata={})


class Student:
    """What a probe sees of the student's notebook: call functions, read names."""

    def __init__(self, namespace):
        self.ns = namespace
        self.values = {}

    def call(self, key, name, *args, **kwargs):
        """Call the student's ``name(*args, **kwargs)`` and record the result as ``key``."""
        fn = self.ns.get(name, _MISSING)
        if fn is _MISSING:
            self.values[key] = {"kind": "missing", "name": name}
            return None
        if not callable(fn):
            self.values[key] = {"kind": "not_callable", "name": name, "type": type(fn).__name__}
            return None
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            self.values[key] = raised(exc)
            return None
        self.values[key] = encode(result)
        return result

    def value(self, key, name):
        """Record the student's variable ``name`` as it is at this point of the notebook."""
        obj = self.ns.get(name, _MISSING)
        self.values[key] = {"kind": "missing", "name": name} if obj is _MISSING else encode(obj)
        return None if obj is _MISSING else obj

    def record(self, key, obj):
        """Record any value the probe computed itself."""
        self.values[key] = encode(obj)


_MISSING = object()
# torch's own methods as they were before any student code ran (monkeypatching them later changes nothing here)
_ORIGINAL = {}


def raised(exc):
    text = str(exc) if not isinstance(exc, KeyboardInterrupt) else "interrupted (time limit)"
    return {"kind": "raised", "ename": type(exc).__name__, "evalue": text[:MAX_TEXT]}


def encode(obj, depth=0):
    """Turn a value into JSON-safe data; anything unknown becomes its type name."""
    if depth > 6:
        return {"kind": "object", "type": "deeply nested value"}
    if obj is None:
        return {"kind": "none"}
    if type(obj) is bool:
        return {"kind": "scalar", "type": "bool", "value": obj}
    if type(obj) is int:
        return {"kind": "scalar", "type": "int", "value": obj}
    if type(obj) is float:
        return {"kind": "scalar", "type": "float", "value": float.hex(obj)}
    if type(obj) is str:
        return {"kind": "str", "value": obj[:MAX_TEXT]}
    torch = _module("torch")
    np = _module("numpy")
    if torch is not None and isinstance(obj, torch.Tensor):
        return _tensor(torch, np, obj, depth)
    if torch is not None and isinstance(obj, torch.dtype):
        return {"kind": "dtype", "value": str(obj).replace("torch.", "")}
    if torch is not None and isinstance(obj, torch.device):
        return {"kind": "device", "value": obj.type}
    if np is not None and isinstance(obj, np.ndarray):
        return _ndarray(np, obj, "numpy")
    if np is not None and isinstance(obj, np.generic):
        return _ndarray(np, np.asarray(obj), "numpy-scalar")
    if type(obj) in (list, tuple) or (torch is not None and type(obj) is torch.Size):
        kind = "list" if type(obj) is list else "tuple"
        return {"kind": kind, "items": [encode(x, depth + 1) for x in list(obj)[:MAX_ITEMS]]}
    if type(obj) is dict and all(type(k) is str for k in obj):
        return {"kind": "dict", "items": {k: encode(v, depth + 1) for k, v in list(obj.items())[:MAX_ITEMS]}}
    return {"kind": "object", "type": type(obj).__qualname__[:200]}


def _module(name):
    import sys

    return sys.modules.get(name)


def _ndarray(np, arr, library):
    if arr.dtype.kind not in "biufc":
        return {"kind": "object", "type": f"array of {arr.dtype}"}
    shape = list(arr.shape)  # before ascontiguousarray, which makes a 0-d array 1-d
    arr = np.ascontiguousarray(arr)
    return {"kind": "array", "library": library, "dtype": str(arr.dtype), "wire": arr.dtype.str,
            "shape": shape, "data": base64.b64encode(arr.tobytes()).decode("ascii")}


def _tensor(torch, np, obj, depth):
    f = _ORIGINAL or {"as_subclass": torch.Tensor.as_subclass, "detach": torch.Tensor.detach,
                      "cpu": torch.Tensor.cpu, "numpy": torch.Tensor.numpy, "float": torch.Tensor.float}
    t = f["detach"](f["as_subclass"](obj, torch.Tensor))
    dtype = str(t.dtype).replace("torch.", "")
    if t.is_sparse or np is None:
        return {"kind": "object", "type": f"tensor of {dtype}"}
    data = f["cpu"](t)
    if data.dtype in (torch.bfloat16, torch.float16) or str(data.dtype).startswith("torch.float8"):
        data = f["float"](data)
    out = _ndarray(np, f["numpy"](data), "torch")
    out.update(dtype=dtype, device=obj.device.type, requires_grad=bool(obj.requires_grad))
    grad = obj.grad if obj.is_leaf else None
    out["grad"] = _tensor(torch, np, grad, depth + 1) if grad is not None else None
    return out
