"""03-softmax-nll's rule against PyTorch's ready-made functions holds when one of its layers is switched off.

The rule is enforced in the student's kernel while the probes call the student's functions: by name, by a
dispatch mode that refuses the ATen operations behind them, and (since the mode alone was not enough) by
torch's kernels of those operations and the code of torch's Python versions of them. Each known submission
below bypassed one layer and earned its question's points with the ready-made function: the dispatch mode
switched off with ``_disable_current_modes()``, the exception the probe made for its own swapped-in functions
claimed through the probe's frames, or ``torch._refs.softmax`` (elementary operations all the way down).
They must now fail exactly their question, and the correct alternatives must keep full marks.
"""

from __future__ import annotations

import pytest

from conftest import grade_variants

pytestmark = pytest.mark.slow

AID, NOTEBOOK = "03-softmax-nll", "softmax_nll"
BYPASSES = ("softmax_calls_torch_special_softmax_with_the_modes_off",
            "bce_calls_torch_bce_with_logits_with_the_modes_off",
            "log_softmax_claims_trust_through_the_probes_frames",
            "softmax_calls_torch_refs_softmax",
            "log_softmax_calls_torch_refs_log_softmax")


@pytest.fixture(scope="module")
def graded(course_dir):
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig
    from course_lib.synth import load_variants

    spec = Assignment.load(CourseConfig.load(course_dir), AID).notebook(NOTEBOOK)
    variants = {v.name: v for v in load_variants(spec)}
    chosen = [v for v in variants.values() if v.name in BYPASSES or v.kind in ("solution", "alternative")]
    return {name: (variants[name], result) for name, result in grade_variants(course_dir, AID, NOTEBOOK, chosen).items()}


def test_every_bypass_is_a_known_submission(graded):
    assert set(BYPASSES) <= set(graded)


@pytest.mark.parametrize("name", BYPASSES)
def test_a_bypassed_layer_earns_nothing(graded, name):
    variant, result = graded[name]
    failed = {c.name for c in result.checks if not c.passed}
    assert failed == set(variant.fails), {c.name: c.message for c in result.checks}
    # a property (the input left unchanged) is not counted once its main check fails: that one names the rule
    refused = [c for c in result.checks if not c.passed and not c.message.startswith("not counted:")]
    assert refused and all("ready-made" in c.message for c in refused)


def test_correct_answers_keep_full_marks(graded):
    for variant, result in graded.values():
        if variant.kind in ("solution", "alternative"):
            assert result.score == result.max_score, (variant.name, [(c.name, c.message) for c in result.checks
                                                                     if not c.passed])
