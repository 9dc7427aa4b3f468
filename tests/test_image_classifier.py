"""07-image-classifier: its declared configurations reach the kernel, its held-out set stays hidden, its floors.

Fast tests (no kernel). The whole assignment is proven by `course verify` in test_verify.py (the small
configuration, as this course's nbgrader_config.py declares it for CPU runs); the floors' numbers come from
benchmarks/calibrate_07.py.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from conftest import REPO
from course_lib.config import CourseConfig
from course_lib.errors import ConfigError
from course_lib.judge.values import TensorValue

AID = "07-image-classifier"


@pytest.fixture(scope="module")
def spec(config):
    from course_lib.assignment import Assignment

    return Assignment.load(config, AID).notebook("image_classifier")


def test_course_declares_it_a_gpu_lab_with_a_small_configuration_on_cpu(config):
    on_cpu, on_cuda = config.limits_for(AID, "cpu"), config.limits_for(AID, "cuda")
    assert on_cpu.gpu and on_cuda.gpu, "gpu_check and the Dask runner pick GPU assignments by this flag"
    assert on_cpu.parameters == {"TRAINING": "small"} and on_cuda.parameters == {}
    assert on_cpu.cell_timeout > on_cuda.cell_timeout  # a CPU runs the same cells slower
    assert config.limits_for(AID).parameters == {}  # no device given: the assignment's own settings only


def test_declared_parameters_are_injected_next_to_device_and_seed(config, spec):
    from course_lib.execute.jobs import make_job

    nb = spec.release_nb()
    cpu = make_job(config, spec, student="s", notebook_path=spec.release, device="cpu", student_nb=nb)
    cuda = make_job(config, spec, student="s", notebook_path=spec.release, device="cuda", student_nb=nb)
    assert cpu.parameters == {"DEVICE": "cpu", "SEED": config.seed, "TRAINING": "small"}
    assert cuda.parameters == {"DEVICE": "cuda", "SEED": config.seed}
    assert cpu.cell_timeout == config.limits_for(AID, "cpu").cell_timeout


def _config_with(tmp_path, assignments: str) -> CourseConfig:
    (tmp_path / "nbgrader_config.py").write_text(f"c = get_config()\nc.Course.assignments = {assignments}\n")
    return CourseConfig.load(tmp_path)


def test_device_settings_override_and_parameters_merge(tmp_path):
    config = _config_with(tmp_path, '{"a": {"cell_timeout": 20, "parameters": {"X": 1, "Y": "big"}, '
                                    '"on_cpu": {"cell_timeout": 90, "parameters": {"Y": "small"}}}}')
    assert config.limits_for("a", "cpu").cell_timeout == 90
    assert config.limits_for("a", "cpu").parameters == {"X": 1, "Y": "small"}
    assert config.limits_for("a", "cuda:1").cell_timeout == 20
    assert config.limits_for("a", "cuda:1").parameters == {"X": 1, "Y": "big"}


@pytest.mark.parametrize("assignments, says", [
    ('{"a": {"on_cpu": {"gpu": False}}}', "unknown keys ['on_cpu.gpu']"),
    ('{"a": {"on_gpu": {}}}', "unknown keys ['on_gpu']"),
    ('{"a": {"on_cpu": 300}}', "['on_cpu'] = 300"),
    ('{"a": {"on_cpu": {"cell_timeout": "long"}}}', "['on_cpu']['cell_timeout'] = 'long'"),
    ('{"a": {"parameters": {"DEVICE": "cuda"}}}', "DEVICE and SEED are its own"),
    ('{"a": {"on_cpu": {"parameters": {"N": [1, 2]}}}}', "must be text, a number or True/False"),
    ('{"a": {"parameters": "small"}}', "must be a dict"),
])
def test_bad_device_settings_and_parameters_are_refused(tmp_path, assignments, says):
    with pytest.raises(ConfigError) as info:
        _config_with(tmp_path, assignments)
    assert says in info.value.message


def test_held_out_images_come_from_the_notebooks_generator_with_a_seed_it_never_shows(spec):
    from course_lib.notebooks import grade_id

    grader = spec.grader
    module = grader.question("train_model_tests").probe.__globals__  # the grader module's namespace
    cells = {grade_id(c): c.source for c in spec.source_nb().cells if grade_id(c)}
    # the grader draws the held-out set with a copy of the notebook's own make_glyphs (not the student's)
    assert inspect.getsource(module["make_glyphs"]).strip() == cells["make_glyphs"].strip()
    seed = inspect.getsource(module["held_out_set"]).split("make_glyphs(")[1].split(")")[0].split(",")[1].strip()
    assert int(seed) > 2 ** 40  # far too many seeds to try in the kernel with the notebook's make_glyphs
    for path in (spec.source, spec.release):
        assert seed not in path.read_text(), f"the held-out seed is in {path.name}"
    # no probe carries the generator, the seed or the labels into the kernel: only the images, as data
    for question in grader.questions:
        source = question.probe_source()[0]
        assert seed not in source and "make_glyphs" not in source and "held_out_set" not in source, question.grade_id
    data = grader.question("train_model_tests").data()
    assert list(data) == ["x"] and data["x"].shape == (4000, 1, 28, 28)


def test_held_out_accuracy_is_counted_against_labels_the_kernel_never_saw(spec):
    check = next(c for q in spec.grader.questions for c in q.checks if c.name == "trained_model_accuracy")
    labels = spec.grader.question("train_model_tests").probe.__globals__["held_out_labels"]()
    right = np.eye(10, dtype=np.float32)[labels]
    wrong = np.eye(10, dtype=np.float32)[(labels + 1) % 10]
    def as_sent(logits, configuration):  # the model's logits, its rebuilt layers' (the same), the configuration
        value = TensorValue(logits, library="torch", dtype="float32")
        return value, value, configuration

    assert check.compare(as_sent(right, "small"), as_sent(right, "small")) is None
    assert check.compare(as_sent(wrong, "small"), as_sent(right, "small")) is not None


def _held_out(correct: int, configuration: str, n: int = 100):
    logits = np.zeros((n, 10), dtype=np.float32)
    logits[:correct, 0] = 1.0
    logits[correct:, 1] = 1.0
    return TensorValue(logits, library="torch", dtype="float32"), configuration


def test_the_floor_is_the_one_of_the_configuration_the_solution_ran(spec):
    import dataclasses

    check = next(c for q in spec.grader.questions for c in q.checks if c.name == "trained_model_accuracy")
    compare = dataclasses.replace(check.compare.check, labels=lambda: np.zeros(100, dtype=np.int64))
    floors = compare.floors
    assert floors["small"] < floors["full"]
    between = round((floors["small"] + floors["full"]) / 2 * 100)
    # a student who claims the small configuration still meets the floor of the one the grader injected
    assert compare(_held_out(between, "small"), _held_out(99, "full")) is not None
    assert compare(_held_out(between, "small"), _held_out(99, "small")) is None
    assert "'full' training configuration ran" in compare(_held_out(between, "full"), _held_out(99, "full"))


def test_calibration_tolerance_factor_matches_the_tables():
    import importlib.util

    path = REPO / "benchmarks" / "calibrate_07.py"
    module_spec = importlib.util.spec_from_file_location("calibrate_07", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    # one-sided normal tolerance factors (NIST/SEMATECH e-Handbook 7.2.6.3; exact: 4.0 at n=30, p=0.999, 95 %)
    assert module.tolerance_factor(30, 0.999, 0.95) == pytest.approx(4.0, abs=0.08)
    assert module.tolerance_factor(10, 0.90, 0.95) == pytest.approx(2.355, abs=0.05)
    assert 3.09 < module.tolerance_factor(1000, 0.999, 0.95) < 3.3  # towards the plain 3.09 sigma of a known normal


def test_feedback_says_where_and_with_which_configuration_the_notebook_ran(config):
    from course_lib.feedback import ran_on

    cpu = ran_on(config, "07-image-classifier", "cpu")
    assert cpu == "Your notebook ran on the CPU with TRAINING = 'small'."
    assert ran_on(config, "07-image-classifier", "cuda") == "Your notebook ran on a GPU (CUDA)."
    assert ran_on(config, "05-gpu-classifier", "cpu") == "Your notebook ran on the CPU."
    assert ran_on(config, "01-tensors", "cpu") == ""  # nothing to tell for a CPU assignment without parameters
