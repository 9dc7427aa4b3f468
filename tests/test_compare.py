"""Comparators: what passes, what fails, and that messages never reveal reference values."""

import numpy as np
import pytest

from course_lib.judge.compare import Equal, Number, Sequence, Tensor, Untouched, Untracked
from course_lib.judge.values import Missing, Opaque, Raised, TensorValue, TorchDtype


def tv(values, dtype="float32", library="torch", device="cpu", requires_grad=False, grad=None):
    arr = np.asarray(values, dtype=np.float32 if dtype == "float32" else None)
    return TensorValue(arr, library=library, dtype=dtype if library == "torch" else str(arr.dtype),
                       device=device, requires_grad=requires_grad, grad=grad)


REF = tv([[0.125, 1.5], [2.75, 3.0]])


def test_identical_tensor_passes():
    assert Tensor()(tv([[0.125, 1.5], [2.75, 3.0]]), REF) is None


@pytest.mark.parametrize("got, fragment", [
    (tv([0.125, 1.5, 2.75, 3.0]), "wrong shape"),
    (tv([[0.125, 1.5], [2.75, 3.0]], dtype="float64"), "dtype torch.float64; expected torch.float32"),
    (tv([[0.125, 1.5], [2.75, 3.0]], device="cuda"), "is on the cuda device"),
    (tv([[0.125, 1.5], [2.75, 3.5]]), "1 of 4 values are wrong"),
    (tv([[0.125, 1.5], [2.75, 3.0]], library="numpy"), "NumPy array"),
    (Raised("ValueError", "bad input"), "raised ValueError: bad input"),
    (Missing("crop_center"), "`crop_center` is not defined"),
    (Opaque("AlwaysEqual"), "AlwaysEqual"),
    (3.0, "a float"),
])
def test_tensor_failures_say_what_is_wrong(got, fragment):
    message = Tensor()(got, REF)
    assert message and fragment in message
    for secret in ("0.125", "2.75"):  # reference values never appear
        assert secret not in message


def test_tolerance_is_respected():
    near = tv([[0.125 + 1e-7, 1.5], [2.75, 3.0]])
    assert Tensor(rtol=1e-5, atol=1e-6)(near, REF) is None
    assert Tensor(rtol=0, atol=0)(near, REF) is not None


def test_values_off_checks_only_kind_dtype_device():
    assert Tensor(values=False)(tv([[9, 9], [9, 9]]), REF) is None
    assert Tensor(values=False)(tv([[9, 9], [9, 9]], dtype="float64"), REF) is not None


def test_nan_is_called_out():
    message = Tensor()(tv([[np.nan, 1.5], [2.75, 3.0]]), REF)
    assert "NaN" in message


def test_gradient_checked_when_asked():
    ref = tv([1.0, 2.0], requires_grad=True, grad=tv([0.5, 0.5]))
    no_grad = tv([1.0, 2.0], requires_grad=True)
    wrong_grad = tv([1.0, 2.0], requires_grad=True, grad=tv([1.0, 0.5]))
    assert "no gradient" in Tensor(grad=True)(no_grad, ref)
    assert "gradient is wrong" in Tensor(grad=True)(wrong_grad, ref)
    assert Tensor(grad=True, requires_grad=True)(tv([1.0, 2.0], requires_grad=True, grad=tv([0.5, 0.5])), ref) is None
    assert "requires_grad" in Tensor(requires_grad=True)(tv([1.0, 2.0]), ref)


def test_number_accepts_python_and_one_element_tensors():
    assert Number()(2.5, 2.5) is None
    assert Number()(tv(2.5), 2.5) is None
    assert Number(allow_tensor=False)(tv(2.5), 2.5) is not None
    assert "expected a single number" in Number()(tv([1.0, 2.0]), 2.5)
    assert Number()(True, 1) is not None  # a bool is not a number answer


def test_equal_treats_size_and_tuple_alike_but_not_values():
    assert Equal()(((3, 1, 4), 3, 12), ((3, 1, 4), 3, 12)) is None
    assert Equal()([[3, 1, 4], 3, 12], ((3, 1, 4), 3, 12)) is None
    assert Equal(strict_sequences=True)([[3, 1, 4], 3, 12], ((3, 1, 4), 3, 12)) is not None
    assert Equal()(((3, 1, 4), 3, 3), ((3, 1, 4), 3, 12)) == "is not the expected value"
    assert Equal()(True, 1) is not None
    assert Equal()(TorchDtype("float32"), TorchDtype("float32")) is None


def test_equal_takes_a_numpy_scalar_for_the_number_it_holds():
    def scalar(value, dtype):
        return TensorValue(np.asarray(value, dtype=dtype), library="numpy-scalar", dtype=dtype)

    # shape_rank_size written with np.prod(t.shape): np.int64(24), and np.prod(()) is np.float64(1.0)
    assert Equal()(((3, 1, 4, 2), 4, scalar(24, "int64")), ((3, 1, 4, 2), 4, 24)) is None
    assert Equal()(((), 0, scalar(1.0, "float64")), ((), 0, 1)) is None
    assert Equal()(((3, 1, 4, 2), 4, scalar(3, "int64")), ((3, 1, 4, 2), 4, 24)) is not None
    assert Equal()(scalar(True, "bool"), True) is None and Equal()(scalar(True, "bool"), 1) is not None
    assert Equal()(tv([24.0]), 24) is not None  # an array is not a number


def test_sequence_points_at_the_wrong_item():
    compare = Sequence((Equal(), Tensor()))
    assert compare((1, REF), (1, REF)) is None
    assert compare((2, REF), (1, REF)).startswith("the returned value 1 of 2: ")
    assert Sequence((Equal(), Tensor()), names=("count", "w"))((1, 2.0), (1, REF)).startswith("the returned w: ")
    assert "returned 1 values" in compare((1,), (1, REF))


def test_messages_never_give_a_single_expected_number_or_a_hidden_shape_away():
    assert Number()(3.9, 3.25) == "is wrong: too large by more than 10 %"
    assert "3.25" not in Number()(3.2501, 3.25) and "0.65" not in Number()(3.9, 3.25)
    message = Tensor()(tv([[[1.0]] * 7] * 3), REF)  # a (3, 7, 1) input handed back
    assert "dimension" in message and "7" not in message and "(2, 2)" not in message
    assert Number()(3, 3.5) == "is wrong: too small by more than 10 %"
    assert "an int" in Tensor()(3, REF) and "a NumPy array of strings" in Opaque("array of <U5").describe()


def test_at_least_threshold_and_relative_to_reference():
    from course_lib.judge.compare import AtLeast

    assert AtLeast(minimum=0.8)(0.85, 0.97) is None
    assert "below the required 0.8" in AtLeast(minimum=0.8, what="accuracy")(0.5, 0.97)
    assert AtLeast(below_reference=0.05)(0.93, 0.97) is None
    assert AtLeast(below_reference=0.05)(0.90, 0.97) is not None
    assert "0.92" not in AtLeast(below_reference=0.05)(0.90, 0.97)  # the solution's own value stays hidden
    assert AtLeast(minimum=0.8)(float("nan"), 0.97) is not None


def test_number_can_expect_nan():
    assert Number(equal_nan=True)(float("nan"), float("nan")) is None
    assert Number()(float("nan"), float("nan")) is not None
    assert Number(equal_nan=True)(0.0, float("nan")) is not None


def test_accuracy_is_counted_in_the_grader():
    from course_lib.judge.compare import Accuracy

    labels = TensorValue(np.array([0, 1, 2, 1]), library="torch", dtype="int64")
    good = (tv([[5, 0, 0], [0, 5, 0], [0, 0, 5], [0, 5, 0]]), labels)
    half = (tv([[5, 0, 0], [5, 0, 0], [0, 0, 5], [5, 0, 0]]), labels)
    assert Accuracy(minimum=0.7)(good, good) is None
    assert "0.5, below the required 0.7" in Accuracy(minimum=0.7)(half, good)
    assert Accuracy(below_reference=0.05)(half, good) is not None
    assert "class scores" in Accuracy(minimum=0.7)(tv([1.0]), good)


PARAMS = (True, tv([0.5, -1.25], requires_grad=True), tv([[2.0]], requires_grad=True))


@pytest.mark.parametrize("got, fragment", [
    ((True, tv([0.5, -1.25], requires_grad=True), tv([[2.0000002]], requires_grad=True)), "beyond the tolerance"),
    ((True, tv([0.5, -1.25], requires_grad=True, grad=tv([1.0, 1.0])), tv([[2.0]], requires_grad=True)),
     "was given a .grad"),
    ((True, tv([0.5, -1.25]), tv([[2.0]], requires_grad=True)), "should be part of the autograd graph"),
    ((False, tv([0.5, -1.25], requires_grad=True), tv([[2.0]], requires_grad=True)), "not the expected value"),
    ((True, tv([0.5, -1.25], requires_grad=True)), "expected 3 values"),
])
def test_untouched_wants_the_callers_tensors_bit_for_bit(got, fragment):
    assert Untouched()(PARAMS, PARAMS) is None
    message = Untouched()(got, PARAMS)
    assert message and fragment in message, message


def test_untracked_reads_requires_grad_off_the_exported_outputs():
    assert Untracked()([tv([1.0]), tv([2.0])], None) is None
    assert "recorded the forward pass" in Untracked()([tv([1.0]), tv([2.0], requires_grad=True)], None)
    assert "never called" in Untracked()([], None)
    assert "not tensors" in Untracked()([3.0], None)



def test_outputs_of_rebuilt_wants_the_model_to_answer_as_its_own_layers():
    from course_lib.judge.compare import Accuracy, OutputsOfRebuilt

    labels = tv([0, 1, 2, 1], dtype="int64", library="numpy")
    logits = tv([[5, 0, 0], [0, 5, 0], [0, 0, 5], [0, 5, 0]])
    check, ref = OutputsOfRebuilt(Accuracy(minimum=0.7), "make_mlp"), (logits, logits, labels)
    assert check((logits, logits, labels), ref) is None
    assert "below the required 0.7" in check((tv([[5, 0, 0]] * 4),) * 2 + (labels,), ref)
    # right answers from a rule of its own, not from what its layers compute
    layers = tv([[0, 5, 0], [5, 0, 0], [0, 0, 5], [0, 5, 0]])
    assert "does not compute what a model make_mlp builds" in check((logits, layers, labels), ref)
    # no layers of make_mlp's shapes to rebuild at all (nearest neighbours over the training set)
    assert "is not a model make_mlp builds" in check((logits, None, labels), ref)
