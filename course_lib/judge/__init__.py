"""Hidden checks: declarations, comparisons and verdicts (computed in the grader process)."""

from .compare import (Accuracy, AtLeast, Equal, Holds, Number, OutputsOfRebuilt, Sequence, Tensor, Untouched,
                      Untracked)
from .spec import (Check, Grader, JudgedAlone, Property, Question, autograd_routes, load_grader, rebuilt,
                   watch_forward, watch_training)
from .verdict import judge

__all__ = ["Accuracy", "AtLeast", "Check", "Equal", "Grader", "Holds", "JudgedAlone", "Number", "OutputsOfRebuilt", "Property", "Question", "Sequence", "Tensor", "Untouched", "Untracked",
           "autograd_routes", "judge", "load_grader", "rebuilt", "watch_forward", "watch_training"]
