"""The kernel-side encoder and the grader-side decoder agree, and nothing is executed or unpickled."""

import json

import numpy as np
import torch

from course_lib.judge import kernel_side
from course_lib.judge.values import Missing, Opaque, Raised, TensorValue, TorchDtype, decode


def roundtrip(obj):
    return decode(json.loads(json.dumps(kernel_side.encode(obj))))


def test_tensor_keeps_dtype_device_grad_flag_and_values():
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3).requires_grad_(True)
    (t * 2).sum().backward()
    v = roundtrip(t)
    assert isinstance(v, TensorValue)
    assert (v.library, v.dtype, v.device, v.requires_grad, v.shape) == ("torch", "float32", "cpu", True, (2, 3))
    np.testing.assert_array_equal(v.array, t.detach().numpy())
    np.testing.assert_array_equal(v.grad.array, np.full((2, 3), 2.0, dtype=np.float32))


def test_half_precision_and_integer_tensors():
    assert roundtrip(torch.ones(2, dtype=torch.bfloat16)).dtype == "bfloat16"
    v = roundtrip(torch.tensor([1, 2, 3]))
    assert v.dtype == "int64" and v.array.tolist() == [1, 2, 3]


def test_numpy_scalars_python_values_and_containers():
    assert roundtrip(np.float32(1.5)).array.item() == 1.5
    assert roundtrip((torch.Size([2, 3]), 2, 6)) == ((2, 3), 2, 6)
    assert roundtrip({"a": [1, 2.5, None, "x", True]}) == {"a": [1, 2.5, None, "x", True]}
    assert np.isnan(roundtrip(float("nan")))
    assert roundtrip(torch.float16) == TorchDtype("float16")


def test_objects_that_claim_equality_arrive_as_opaque():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    v = roundtrip(AlwaysEqual())
    assert isinstance(v, Opaque) and v.type_name.endswith("AlwaysEqual")


def test_tensor_subclass_cannot_fake_its_values():
    class Liar(torch.Tensor):
        def numpy(self, *args, **kwargs):
            return np.zeros(1)

    t = torch.arange(3.0).as_subclass(Liar)
    assert roundtrip(t).array.tolist() == [0.0, 1.0, 2.0]


def test_student_handle_records_missing_and_raised():
    ns = {"good": lambda x: x + 1, "bad": lambda x: 1 / 0, "notfn": 3}
    s = kernel_side.Student(ns)
    s.call("a", "good", 1)
    s.call("b", "bad", 1)
    s.call("c", "absent")
    s.call("d", "notfn")
    s.value("e", "notfn")
    got = {k: decode(v) for k, v in s.values.items()}
    assert got["a"] == 2
    assert got["b"] == Raised("ZeroDivisionError", "division by zero")
    assert got["c"] == Missing("absent")
    assert got["d"] == Missing("notfn", not_callable="int")
    assert got["e"] == 3


def test_zero_dim_and_one_element_tensors_stay_distinct():
    assert roundtrip(torch.tensor(2.0)).shape == ()
    assert roundtrip(torch.tensor([2.0])).shape == (1,)
    assert roundtrip(np.float64(2.0)).shape == ()


def test_an_error_says_where_in_the_students_code_it_was_raised():
    from course_lib.judge import kernel_side
    from course_lib.judge.values import decode

    source = "def mse(w):\n    total = 0\n    return total / len(w)\n"
    space = {}
    exec(compile(source, "/tmp/ipykernel_1/cell7.py", "exec"), space)
    try:
        space["mse"]([])
    except ZeroDivisionError as exc:
        value = decode(kernel_side.raised(exc))
    assert value.describe() == "raised ZeroDivisionError: division by zero (at line 3 of `mse`)"
    stub = decode(kernel_side.raised(NotImplementedError()))
    assert stub.describe() == "is not answered yet (it still raises NotImplementedError)"


def test_tensor_subclass_cannot_answer_its_own_export_through_torch_function():
    """``__torch_function__`` is off for the whole export: a subclass cannot hand other data to ``as_subclass``,
    ``detach`` or the copy to the CPU."""
    class Liar(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            if func in (torch.Tensor.as_subclass, torch.Tensor.detach, torch.Tensor.cpu):
                return torch.full((3,), 7.0)
            return super().__torch_function__(func, types, args, kwargs or {})

    t = torch.arange(3.0).as_subclass(Liar)
    assert roundtrip(t).array.tolist() == [0.0, 1.0, 2.0]
