"""Decoding what the kernel exported into values the grader can compare.

The wire format is written by :mod:`course_lib.judge.kernel_side`: JSON with raw
array bytes. Decoding never runs student code and never unpickles anything.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class TensorValue:
    """An array the student's code produced (a torch tensor or a NumPy array)."""

    array: np.ndarray
    library: str  # "torch", "numpy" or "numpy-scalar"
    dtype: str  # e.g. "float32" (torch names for tensors)
    device: str = "cpu"
    requires_grad: bool = False
    grad: "TensorValue | None" = None

    @property
    def shape(self) -> tuple:
        return tuple(self.array.shape)

    def describe(self) -> str:
        # never the shape: a function that hands its input back would show the hidden input's shape
        rank = f"{self.array.ndim}-dimensional" if self.array.ndim else "0-dimensional (a single number)"
        if self.library == "torch":
            return f"a {rank} torch tensor (torch.{self.dtype}, on {self.device})"
        return f"a {rank} NumPy array ({self.dtype})"


@dataclass(frozen=True)
class Raised:
    """The student's code raised an exception when called."""

    ename: str
    evalue: str
    line: int | None = field(default=None, compare=False)  # where in the student's own code it was raised
    function: str = field(default="", compare=False)

    def describe(self) -> str:
        if self.ename == "NotImplementedError" and not self.evalue:
            return "is not answered yet (it still raises NotImplementedError)"
        text = f"{self.ename}: {self.evalue}" if self.evalue else self.ename
        if isinstance(self.line, int) and not isinstance(self.line, bool):
            where = f"`{self.function}`" if self.function and not self.function.startswith("<") else "its cell"
            text += f" (at line {self.line} of {where})"
        return f"raised {text}"


@dataclass(frozen=True)
class Missing:
    """A name the probe looked for does not exist in the student's notebook."""

    name: str
    not_callable: str = ""

    def describe(self) -> str:
        if self.not_callable:
            return f"`{self.name}` is a {self.not_callable}, not a function"
        return (f"`{self.name}` is not defined at this point of the notebook "
                "(was it renamed, or is its cell missing?)")


@dataclass(frozen=True)
class Opaque:
    """A value of a type the wire format does not carry (only its type name is known)."""

    type_name: str

    def describe(self) -> str:
        name = self.type_name
        if name.startswith("array of "):
            dtype = name[len("array of "):]
            kind = {"U": "strings", "S": "bytes", "O": "Python objects", "M": "dates", "m": "time spans"}
            return f"a NumPy array of {kind.get(dtype.lstrip('<>|=')[:1], dtype)} (not numbers)"
        if name.startswith("tensor of "):
            return f"a sparse torch tensor of {name[len('tensor of '):]} (expected a dense one)"
        return f"an object of type {name}"


@dataclass(frozen=True)
class TorchDtype:
    """A ``torch.dtype`` value, kept distinct from a plain string."""

    name: str


def decode(data: dict):
    """Turn one wire value into Python data, :class:`TensorValue`, :class:`Raised`, ..."""
    kind = data.get("kind")
    if kind == "none":
        return None
    if kind == "scalar":
        value = data["value"]
        return float.fromhex(value) if data["type"] == "float" else value
    if kind == "str":
        return data["value"]
    if kind == "array":
        raw = base64.b64decode(data["data"])
        arr = np.frombuffer(raw, dtype=np.dtype(data["wire"])).reshape(data["shape"]).copy()
        grad = decode(data["grad"]) if data.get("grad") else None
        return TensorValue(array=arr, library=data["library"], dtype=data["dtype"],
                           device=data.get("device", "cpu"), requires_grad=data.get("requires_grad", False),
                           grad=grad)
    if kind == "list":
        return [decode(x) for x in data["items"]]
    if kind == "tuple":
        return tuple(decode(x) for x in data["items"])
    if kind == "dict":
        return {k: decode(v) for k, v in data["items"].items()}
    if kind == "dtype":
        return TorchDtype(data["value"])
    if kind == "device":
        return data["value"]
    if kind == "raised":
        return Raised(data["ename"], data["evalue"], line=data.get("line"), function=str(data.get("function", "")))
    if kind == "missing":
        return Missing(data["name"])
    if kind == "not_callable":
        return Missing(data["name"], not_callable=data.get("type", "value"))
    return Opaque(data.get("type", "unknown"))


def describe(value) -> str:
    """A short description of a value's kind for messages (never its contents)."""
    if hasattr(value, "describe"):
        return value.describe()
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} item{'s' if len(value) != 1 else ''}"
    names = {bool: "a bool (True or False)", int: "an int", float: "a float", str: "a string",
             dict: "a dict (one value per key)"}
    return names.get(type(value)) or article(type(value).__name__)


def article(noun: str) -> str:
    """``noun`` with "a" or "an" in front ("an int", "a float")."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
