"""Hidden checks: declarations, comparisons and verdicts (computed in the grader process)."""

from .compare import AtLeast, Equal, Number, Sequence, Tensor
from .spec import Check, Grader, Question, load_grader
from .verdict import judge

__all__ = ["AtLeast", "Check", "Equal", "Grader", "Number", "Question", "Sequence", "Tensor", "judge", "load_grader"]
